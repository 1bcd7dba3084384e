"""Figures of the biological readouts: copy-number effect, guide efficacy, screen quality, dependencies."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from screenfit.io.fit_folder import FitResult
from screenfit.plots.figures import new_figure, stamp
from screenfit.results.readouts import copy_number_curve, guide_efficacy, screen_quality, selective_dependencies

N_LABELLED_GUIDES = 8


def copy_number_figure(result: FitResult) -> Figure | None:
    """The expected LFC shift along copy number (population slope) with its HDI band."""
    curve = copy_number_curve(result)
    if curve is None:
        return None
    fig = new_figure(5.5, 4)
    ax = fig.subplots()
    ax.fill_between(curve["copy_number"], curve["hdi_lower"], curve["hdi_upper"], color="tab:orange", alpha=0.3,
                    label=f"{float(result.config['ci_prob']):.0%} HDI")  # type: ignore[arg-type]  # fmt: skip
    ax.plot(curve["copy_number"], curve["mean"], color="tab:orange", label="posterior mean")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel(f"copy number ({curve.attrs['cn_column']})")
    ax.set_ylabel("LFC shift from copy number")
    sd = float(curve["line_slope_sd"].iloc[0])
    ax.set_title(f"copy-number effect (population slope; lines vary with SD {sd:.3f})", fontsize=10)
    ax.legend(frameon=False)
    stamp(fig, result)
    return fig


def guide_efficacy_figure(result: FitResult) -> Figure | None:
    """Distribution of guide offsets from their gene's effect, the largest labelled."""
    table = guide_efficacy(result)
    if table is None:
        return None
    fig = new_figure(6, 4)
    ax = fig.subplots()
    ax.hist(table["mean"], bins=60, color="tab:green", alpha=0.7)
    ax.set_xlabel("guide offset from gene effect (posterior mean)")
    ax.set_ylabel("guides")
    labels = [f"{r.sgrna} ({r.hugo_symbol}): {r.mean:+.2f}" for r in table.head(N_LABELLED_GUIDES).itertuples()]
    ax.text(0.98, 0.98, "largest offsets\n" + "\n".join(labels), transform=ax.transAxes, ha="right", va="top",
            fontsize=7, family="monospace")  # fmt: skip
    ax.set_title("guide efficacy: positive offsets on essential genes are weak guides", fontsize=10)
    stamp(fig, result)
    return fig


def screen_quality_figure(result: FitResult) -> Figure | None:
    """Per cell line, each line-level parameter (mean ± SD), lines sorted by the first one."""
    table = screen_quality(result)
    if table is None:
        return None
    params = [c[: -len("_mean")] for c in table.columns if c.endswith("_mean")]
    fig = new_figure(4.0 * len(params), 0.5 + 0.16 * min(len(table), 120))
    axes = np.atleast_1d(fig.subplots(1, len(params), sharey=True))
    table = table.sort_values(f"{params[0]}_mean").head(120)
    y = np.arange(len(table))
    for ax, p in zip(axes, params, strict=True):
        ax.errorbar(table[f"{p}_mean"], y, xerr=table[f"{p}_sd"], fmt="o", ms=3, color="tab:purple")
        ax.set_xlabel(p)
    axes[0].set_yticks(y, table["depmap_id"], fontsize=6)
    fig.suptitle("cell-line parameters (screen quality, noise, offsets)", fontsize=10)
    stamp(fig, result)
    return fig


def dependencies_figure(result: FitResult, n_genes: int = 30, n_lines: int = 40) -> Figure | None:
    """Heatmap of the strongest gene × cell-line effects (models with gene × line effects)."""
    long = result.tables.get("gene_cell_line_effects")
    if long is None:
        return None
    wide = long.pivot(index="hugo_symbol", columns="depmap_id", values="mean")
    genes = wide.min(axis=1).sort_values().index[:n_genes]
    lines = wide.columns[:n_lines]
    sub = wide.loc[genes, lines]
    fig = new_figure(0.18 * len(lines) + 3, 0.2 * len(genes) + 1.5)
    ax = fig.subplots()
    lim = float(np.nanmax(np.abs(sub.to_numpy())))
    im = ax.imshow(sub.to_numpy(), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_yticks(np.arange(len(genes)), genes, fontsize=7)
    ax.set_xticks(np.arange(len(lines)), lines, fontsize=6, rotation=90)
    fig.colorbar(im, ax=ax, label="gene effect (posterior mean)")
    ax.set_title(f"strongest dependencies ({len(genes)} genes × {len(lines)} lines)", fontsize=10)
    stamp(fig, result)
    return fig


def selective_heatmap(result: FitResult, top: int = 20) -> Figure | None:
    """Gene × line effects of the strongest selective dependencies: colour is the posterior mean, a
    dot marks a line whose interval lies wholly below the dependency threshold (confidently
    dependent), a ring one whose interval still reaches above it; ``None`` without selective genes."""
    table = selective_dependencies(result, top=top)
    effects = result.tables.get("gene_cell_line_effects")
    if table is None or effects is None or table.empty:
        return None
    genes = table["hugo_symbol"].astype(str).tolist()
    sub = effects[effects["hugo_symbol"].astype(str).isin(genes)]
    mean = sub.pivot(index="hugo_symbol", columns="depmap_id", values="mean").reindex(genes)
    upper = sub.pivot(index="hugo_symbol", columns="depmap_id", values="hdi_upper").reindex(genes)
    lower = sub.pivot(index="hugo_symbol", columns="depmap_id", values="hdi_lower").reindex(genes)
    threshold = float(result.options.get("dependency_threshold", -0.5))  # type: ignore[arg-type]
    fig = new_figure(max(6.0, 0.22 * mean.shape[1] + 2.5), 0.32 * len(genes) + 1.8)
    ax = fig.subplots()
    limit = float(np.nanmax(np.abs(mean.to_numpy())))
    image = ax.imshow(mean.to_numpy(), cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    rows, cols = np.nonzero((upper < threshold).to_numpy())
    ax.scatter(cols, rows, s=9, color="black", label=f"interval below {threshold:g}")
    rows, cols = np.nonzero(((lower < threshold) & (upper >= threshold)).to_numpy())
    ax.scatter(cols, rows, s=9, facecolors="none", edgecolors="black", linewidths=0.6, label="interval spans it")
    ax.set_yticks(range(len(genes)), genes, fontsize=8)
    ax.set_xticks(range(mean.shape[1]), [str(c) for c in mean.columns], rotation=90, fontsize=6)
    ax.set_title(f"selective dependencies: effect per line ({float(result.config['ci_prob']):.0%} HDI marks)",  # type: ignore[arg-type]
                 fontsize=10)  # fmt: skip
    fig.colorbar(image, ax=ax, label="gene effect (posterior mean)", shrink=0.8)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False, fontsize=8)
    fig.set_layout_engine("constrained")
    stamp(fig, result)
    return fig
