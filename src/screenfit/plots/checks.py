"""Figures of model checking: posterior predictive checks and model comparison."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from screenfit.io.fit_folder import FitResult
from screenfit.plots.figures import new_figure, stamp
from screenfit.results.comparison import Comparison
from screenfit.results.predictive import calibration


def ppc_figure(result: FitResult) -> Figure | None:
    """Observed vs replicated data (overall density) and the calibration of predictive intervals."""
    ppc = result.tables.get("ppc_units")
    if ppc is None:
        return None
    fig = new_figure(10, 4)
    ax1, ax2 = fig.subplots(1, 2)
    observed = ppc["observed"].to_numpy(dtype=float)
    counts = result.config.get("observed") == "counts"
    transform = (lambda v: np.log2(np.asarray(v, dtype=float) + 0.5)) if counts else (lambda v: np.asarray(v, float))
    lo, hi = np.quantile(transform(observed), [0.001, 0.999])
    bins = np.linspace(lo, hi, 80)
    if "posterior_predictive" in result.idata.groups():
        rep = result.idata.posterior_predictive
        var = next(iter(rep.data_vars))
        for i, draw in enumerate(rep[var].values.reshape(-1, rep[var].shape[-1])):
            ax1.hist(transform(draw), bins=bins, histtype="step", color="tab:blue", alpha=0.35, density=True,
                     label="replicated" if i == 0 else None)  # fmt: skip
    ax1.hist(transform(observed), bins=bins, histtype="step", color="black", lw=1.6, density=True, label="observed")
    ax1.set_xlabel("log2 final count" if counts else "mean LFC of a guide in a cell line")
    ax1.set_ylabel("density")
    ax1.set_title("posterior predictive check")
    ax1.legend(frameon=False)
    cal = calibration(ppc)
    ax2.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
    ax2.fill_between(
        cal["nominal"], cal["nominal"] - 2 * cal["se"], cal["nominal"] + 2 * cal["se"], color="grey", alpha=0.2
    )
    ax2.plot(cal["nominal"], cal["observed"], marker="o", color="tab:red")
    ax2.set_xlabel("nominal probability of central predictive interval")
    ax2.set_ylabel("share of observations inside")
    ax2.set_title("calibration (band: ±2 binomial SE)")
    stamp(fig, result)
    return fig


def ppc_groups_figure(result: FitResult) -> Figure | None:
    """Per cell line and per gene: share of observations inside the 94% predictive interval."""
    lines, genes = result.tables.get("ppc_cell_lines"), result.tables.get("ppc_genes")
    if lines is None or genes is None:
        return None
    fig = new_figure(10, 4.5)
    ax1, ax2 = fig.subplots(1, 2)
    for ax, table, label in ((ax1, lines, "cell line"), (ax2, genes, "gene")):
        cov = np.sort(table["coverage_94"].to_numpy(dtype=float))
        ax.plot(np.arange(1, cov.size + 1), cov, marker="." if cov.size < 200 else None, color="tab:blue")
        ax.axhline(0.94, color="grey", ls="--", lw=1)
        ax.set_xlabel(f"{label}s, sorted")
        ax.set_ylabel("coverage of 94% predictive interval")
        worst = table.iloc[0]
        ax.set_title(f"per {label}: worst {worst.iloc[0]} ({worst['coverage_94']:.0%})", fontsize=10)
        ax.set_ylim(0, 1.02)
    stamp(fig, result)
    return fig


def compare_figure(comparison: Comparison) -> Figure:
    """Each model's ELPD difference to the best, with the SE of the difference (paired over units)."""
    table = comparison.table
    n = len(table)
    fig = new_figure(7, 1.2 + 0.5 * n)
    ax = fig.subplots()
    y = np.arange(n)[::-1]
    ax.errorbar(-table["elpd_diff"], y, xerr=2 * table["dse"], fmt="o", color="black", mfc="white", capsize=3)
    ax.axvline(0, color="grey", ls="--", lw=1)
    rows = zip(table["model"], table["elpd"], table["se"], table["status"], strict=True)
    labels = [f"{m}\nELPD {e:,.0f} ± {s:,.0f}" + ("" if st == "converged" else f" ({st})") for m, e, s, st in rows]
    ax.set_yticks(y, labels, fontsize=8)
    method = "PSIS-LOO" if comparison.method == "loo" else "K-fold by cell line"
    ax.set_xlabel(f"ELPD difference to the best model ({method}); bars: ±2 SE of the difference")
    ax.set_title("model comparison: 0 is the best; clearly below 0 is clearly worse", fontsize=10)
    return fig
