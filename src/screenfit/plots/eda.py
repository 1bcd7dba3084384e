"""The seed notebook's exploratory figures, readable for 30 genes and aggregated for 1,000.

1. LFC per gene (boxes up to ``MAX_LABELLED`` genes; sorted medians with IQR band above);
2. copy number vs LFC with a LOWESS smooth;
3. lineage × gene mean-LFC heatmap (the most variable genes when there are many);
4. LFC distribution per replicate, and 5. read-count distribution per replicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from statsmodels.nonparametric.smoothers_lowess import lowess

from screenfit.data.preprocess import zscale_cna_by_group
from screenfit.data.screen import Screen
from screenfit.io.atomic import atomic_path
from screenfit.plots.figures import new_figure, save_png

MAX_LABELLED = 60
MAX_POINTS = 20_000
MAX_SMOOTH_POINTS = 4_000


def _gene_stats(t: pd.DataFrame) -> pd.DataFrame:
    g = t.groupby("hugo_symbol", observed=True)["lfc"]
    return pd.DataFrame({"median": g.median(), "q25": g.quantile(0.25), "q75": g.quantile(0.75)}).sort_values("median")


def lfc_by_gene(screen: Screen) -> Figure:
    """Box plot of LFC per gene; for many genes, sorted medians with an IQR band."""
    t = screen.table
    stats = _gene_stats(t)
    n = len(stats)
    if n <= MAX_LABELLED:
        fig = new_figure(max(6.0, 0.22 * n + 2), 4.5)
        ax = fig.add_subplot()
        data = [t.loc[t["hugo_symbol"] == g, "lfc"].to_numpy() for g in stats.index]
        ax.boxplot(data, tick_labels=list(stats.index), flierprops={"alpha": 0.3, "markersize": 2})
        ax.tick_params(axis="x", rotation=90)
    else:
        fig = new_figure(8.0, 4.5)
        ax = fig.add_subplot()
        x = np.arange(n)
        ax.fill_between(x, stats["q25"], stats["q75"], alpha=0.3, label="interquartile range")
        ax.plot(x, stats["median"], lw=1, label="median")
        lowest = ", ".join(map(str, stats.index[:6]))
        highest = ", ".join(map(str, stats.index[-4:]))
        ax.text(0.01, 0.98, f"lowest: {lowest}\nhighest: {highest}", transform=ax.transAxes, va="top", fontsize=7)
        ax.set_xlabel(f"{n} genes, sorted by median LFC")
        ax.legend(loc="lower right")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylabel("log fold change")
    ax.set_title("LFC per gene")
    return fig


def cn_vs_lfc(screen: Screen, seed: int = 0) -> Figure | None:
    """Scatter of z-scaled copy number vs LFC with a LOWESS smooth; None without copy number."""
    t = screen.table
    if "gene_cn_z" not in t.columns:
        if "gene_cn" not in t.columns or t["gene_cn"].isna().all():
            return None
        t = zscale_cna_by_group(t[["hugo_symbol", "gene_cn", "lfc"]])
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(t))[:MAX_POINTS]
    pts = t.iloc[idx]
    fig = new_figure(6.5, 4.5)
    ax = fig.add_subplot()
    genes = pts["hugo_symbol"].astype(str)
    if genes.nunique() <= 30:
        codes = pd.Categorical(genes).codes
        ax.scatter(pts["gene_cn_z"], pts["lfc"], c=codes, cmap="tab20", s=2, alpha=0.15)
    else:
        ax.scatter(pts["gene_cn_z"], pts["lfc"], s=2, alpha=0.1, color="tab:blue")
    sm = pts.iloc[:MAX_SMOOTH_POINTS]
    fit = lowess(sm["lfc"], sm["gene_cn_z"], frac=0.3, return_sorted=True)
    ax.plot(fit[:, 0], fit[:, 1], color="black", lw=2, label="LOWESS")
    ax.set_xlabel("gene copy number (z-scaled within gene)")
    ax.set_ylabel("log fold change")
    ax.set_title("Copy number vs LFC")
    ax.legend()
    return fig


def lineage_heatmap(screen: Screen) -> Figure | None:
    """Mean LFC per lineage × gene (the ``MAX_LABELLED`` most variable genes); None without lineage."""
    t = screen.table
    if "lineage" not in t.columns or t["lineage"].isna().all():
        return None
    wide = t.pivot_table(index="hugo_symbol", columns="lineage", values="lfc", aggfunc="mean", observed=True)
    title = "Mean LFC per lineage and gene"
    if len(wide) > MAX_LABELLED:
        wide = wide.loc[wide.var(axis=1).sort_values(ascending=False).index[:MAX_LABELLED]]
        title += f" ({MAX_LABELLED} most variable genes)"
    wide = wide.sort_index()
    fig = new_figure(max(5.0, 0.5 * wide.shape[1] + 3), max(4.0, 0.16 * len(wide) + 1.5))
    ax = fig.add_subplot()
    lim = float(np.nanmax(np.abs(wide.to_numpy())))
    im = ax.imshow(wide.to_numpy(), aspect="auto", cmap="RdBu", vmin=-lim, vmax=lim)
    ax.set_yticks(range(len(wide)), list(wide.index), fontsize=7)
    ax.set_xticks(range(wide.shape[1]), [str(c).replace("_", " ") for c in wide.columns], rotation=60, ha="right")
    fig.colorbar(im, ax=ax, label="mean LFC")
    ax.set_title(title)
    return fig


def _per_replicate(t: pd.DataFrame, values: pd.Series, ylabel: str, title: str) -> Figure:
    grouped = values.groupby(t["replicate_id"].astype(str))
    n = grouped.ngroups
    if n <= 40:
        fig = new_figure(max(6.0, 0.25 * n + 2), 4.5)
        ax = fig.add_subplot()
        names = sorted(grouped.groups)
        ax.boxplot([grouped.get_group(k).to_numpy() for k in names], tick_labels=names, showfliers=False)
        ax.tick_params(axis="x", rotation=90, labelsize=6)
    else:
        q = grouped.quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack().sort_values(0.5)
        fig = new_figure(8.0, 4.5)
        ax = fig.add_subplot()
        x = np.arange(n)
        ax.fill_between(x, q[0.05], q[0.95], alpha=0.2, label="5–95%")
        ax.fill_between(x, q[0.25], q[0.75], alpha=0.4, label="25–75%")
        ax.plot(x, q[0.5], lw=1, label="median")
        ax.set_xlabel(f"{n} replicates, sorted by median")
        ax.legend()
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def lfc_by_replicate(screen: Screen) -> Figure:
    """LFC distribution per replicate."""
    t = screen.table
    return _per_replicate(t, t["lfc"], "log fold change", "LFC per replicate")


def counts_by_replicate(screen: Screen) -> Figure | None:
    """Final read-count distribution per replicate (log10(count + 1)); None without counts."""
    t = screen.table
    if "counts_final" not in t.columns:
        return None
    return _per_replicate(t, np.log10(t["counts_final"] + 1.0), "log10(reads + 1)", "Read counts per replicate")


@dataclass(frozen=True)
class EDAFigures:
    """Paths of the EDA figures written, and the ones skipped with the reason."""

    written: dict[str, Path]
    skipped: dict[str, str]


def write_eda(screen: Screen, out: Path, force: bool = False) -> EDAFigures:
    """Write every EDA figure as PNG into the folder ``out`` (atomically, as one folder)."""
    makers: dict[str, tuple[Callable[[Screen], Figure | None], str]] = {
        "lfc_by_gene": (lfc_by_gene, ""),
        "cn_vs_lfc": (cn_vs_lfc, "no copy-number column"),
        "lineage_gene_heatmap": (lineage_heatmap, "no lineage column"),
        "lfc_by_replicate": (lfc_by_replicate, ""),
        "counts_by_replicate": (counts_by_replicate, "no read counts"),
    }
    written: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    with atomic_path(out, force=force) as tmp:
        tmp.mkdir()
        for name, (make, why) in makers.items():
            fig = make(screen)
            if fig is None:
                skipped[name] = why
                continue
            save_png(fig, tmp / f"{name}.png")
            written[name] = out / f"{name}.png"
    return EDAFigures(written, skipped)
