"""Shared figure plumbing: a pyplot-free Figure factory and atomic PNG saving."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from screenfit.io.atomic import atomic_path

if TYPE_CHECKING:
    from screenfit.io.fit_folder import FitResult

DPI = 130


def new_figure(width: float, height: float) -> Figure:
    """A matplotlib Figure that does not touch pyplot's global state."""
    return Figure(figsize=(width, height), layout="constrained")


def save_png(fig: Figure, path: Path, force: bool = False) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically."""
    with atomic_path(path, force=force) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png", bbox_inches="tight")
    return path


def stamp(fig: Figure, result: FitResult) -> None:
    """Title a fit's figure "NOT CONVERGED" (failed gate) or "approximate" (VI/MAP)."""
    if result.status == "failed":
        fig.suptitle(f"NOT CONVERGED — {'; '.join(result.diagnostics.problems)[:160]}", color="crimson", fontsize=11)
    elif result.status == "approximate":
        fig.suptitle(f"approximate fit ({result.diagnostics.method})", color="darkorange", fontsize=11)
