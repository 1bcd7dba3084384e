"""Every figure of a fit by name, and writing them all as PNGs (what ``screenfit plot`` and the report use)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from screenfit.io.atomic import atomic_path
from screenfit.io.fit_folder import FitResult
from screenfit.plots.checks import ppc_figure, ppc_groups_figure
from screenfit.plots.conditions import rank_figure, volcano_figure
from screenfit.plots.figures import save_png
from screenfit.plots.posterior import forest_figure, trace_figure
from screenfit.plots.readouts import (
    copy_number_figure,
    dependencies_figure,
    guide_efficacy_figure,
    screen_quality_figure,
)

FIT_FIGURES: dict[str, Callable[[FitResult], Figure | None]] = {
    "trace": trace_figure,
    "forest": forest_figure,
    "ppc": ppc_figure,
    "ppc_groups": ppc_groups_figure,
    "copy_number": copy_number_figure,
    "guide_efficacy": guide_efficacy_figure,
    "screen_quality": screen_quality_figure,
    "dependencies": dependencies_figure,
    "volcano": volcano_figure,
    "condition_rank": rank_figure,
}
"""Figure makers by PNG stem; a maker returns ``None`` when the fit's model has nothing to show."""


def fit_figures(result: FitResult) -> dict[str, Figure]:
    """Every figure the fit has something to show for, by name."""
    figures = {}
    for name, make in FIT_FIGURES.items():
        fig = make(result)
        if fig is not None:
            figures[name] = fig
    return figures


def write_fit_plots(result: FitResult, out: Path, force: bool = False) -> list[Path]:
    """Write every figure of a fit as ``<name>.png`` into the folder ``out`` (atomically)."""
    written = []
    with atomic_path(out, force=force) as tmp:
        tmp.mkdir()
        for name, fig in fit_figures(result).items():
            save_png(fig, tmp / f"{name}.png")
            plt.close(fig)  # ArviZ's figures live in pyplot's registry
            written.append(out / f"{name}.png")
    return written
