"""Figures of a drug-vs-vehicle (``condition``) fit: a volcano plot and a rank plot per condition.

Both read the fit's ``condition_effects`` table: the difference of each gene's effect between
the condition and the reference (negative: the knockout hurts more under the drug), its
interval, and the q-value of calling it (``screenfit.results.conditions``). A gene is *called*
at ``qvalue`` ≤ :data:`CALL_Q`; the strongest calls are named.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from screenfit.io.fit_folder import FitResult
from screenfit.plots.figures import new_figure, stamp

CALL_Q = 0.1
N_LABELLED = 10
SENSITISING, RESCUING, NOT_CALLED = "#b2182b", "#2166ac", "#bbbbbb"


def _effects(result: FitResult) -> pd.DataFrame | None:
    table = result.tables.get("condition_effects")
    return None if table is None or table.empty else table


def _colours(table: pd.DataFrame) -> np.ndarray:
    called = (table["qvalue"] <= CALL_Q).to_numpy()
    lower = (table["mean"] < 0).to_numpy()
    return np.where(called & lower, SENSITISING, np.where(called, RESCUING, NOT_CALLED))


def _panels(table: pd.DataFrame, width: float, height: float) -> tuple[Figure, list[tuple[Axes, str, pd.DataFrame]]]:
    """A figure with one panel per non-reference condition, and each panel's rows of ``table``."""
    conditions = list(dict.fromkeys(table["condition"].astype(str)))
    fig = new_figure(width * len(conditions), height)
    axes = np.atleast_1d(fig.subplots(1, len(conditions)))
    rows = [table[table["condition"].astype(str) == c] for c in conditions]
    return fig, list(zip(axes, conditions, rows, strict=True))


def volcano_figure(result: FitResult) -> Figure | None:
    """Difference against the evidence for it (−log10 of the local false discovery rate), one
    panel per condition; called genes coloured by direction, the strongest named."""
    table = _effects(result)
    if table is None:
        return None
    fig, panels = _panels(table, 5.0, 4.2)
    for ax, condition, sub in panels:
        evidence = -np.log10(np.clip(sub["lfdr"].to_numpy(dtype=float), 1e-4, 1.0))
        ax.scatter(sub["mean"], evidence, s=8, c=_colours(sub), linewidths=0)
        for _, row in sub.nsmallest(N_LABELLED, ["lfdr", "qvalue"]).iterrows():
            if row["qvalue"] <= CALL_Q:
                ax.annotate(str(row["hugo_symbol"]), (row["mean"], -np.log10(max(row["lfdr"], 1e-4))), fontsize=7,
                            xytext=(3, 2), textcoords="offset points")  # fmt: skip
        ax.axvline(0.0, color="black", linewidth=0.5)
        n_called = int((sub["qvalue"] <= CALL_Q).sum())
        ax.set_title(f"{condition} vs {sub['reference'].iloc[0]}: {n_called} genes at q ≤ {CALL_Q:g}", fontsize=10)
        ax.set_xlabel("difference in gene effect (negative: sensitising)")
        ax.set_ylabel("−log10 local FDR")
    stamp(fig, result)
    return fig


def rank_figure(result: FitResult) -> Figure | None:
    """Genes ranked by their difference with its interval, one panel per condition; called genes coloured."""
    table = _effects(result)
    if table is None:
        return None
    fig, panels = _panels(table, 5.5, 4.0)
    for ax, condition, rows in panels:
        sub = rows.sort_values("mean").reset_index(drop=True)
        x = np.arange(len(sub))
        colours = _colours(sub)
        ax.vlines(x, sub["hdi_lower"], sub["hdi_upper"], colors=list(colours), linewidth=0.6, alpha=0.6)
        ax.scatter(x, sub["mean"], s=5, c=colours, linewidths=0)
        ax.axhline(0.0, color="black", linewidth=0.5)
        ax.set_title(f"{condition}: genes by difference ({float(result.config['ci_prob']):.0%} HDI)",  # type: ignore[arg-type]
                     fontsize=10)  # fmt: skip
        ax.set_xlabel("rank")
        ax.set_ylabel("difference in gene effect")
    stamp(fig, result)
    return fig
