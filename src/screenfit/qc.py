"""Screen quality control: NNMD and AUROC of essential vs non-essential genes, replicate agreement, depth.

- **NNMD** (null-normalised mean difference, Hart et al. 2017):
  ``(mean LFC of essentials − mean LFC of non-essentials) / SD of non-essentials``, on gene-level
  LFC (mean over a gene's guides); more negative is better.
- **AUROC**: the probability that a random essential gene has a lower LFC than a random
  non-essential one (Mann–Whitney U / n₁n₂); 1 is perfect separation, 0.5 chance.
- **Replicate correlation**: Pearson r of guide LFC between a replicate and each other
  replicate of its cell line, averaged, over the guides of the reference essential and
  non-essential genes — where a screen's signal is (as Project Score and BAGEL measure it).
  Over all guides (``replicate_correlation_all``, reported, not gated) it is dominated by the
  many guides with no effect, whose LFC is noise, and a good genome-wide screen can score low.
- **Read depth**: total final reads and median reads per guide, when counts are known.

A replicate fails when NNMD > ``max_nnmd``, AUROC < ``min_auroc`` or its replicate
correlation < ``min_replicate_correlation``; a cell line fails when its replicate-averaged
metrics do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from screenfit.data.genes import SymbolMatch, match_symbols
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError
from screenfit.reference import essential_sets

MIN_REFERENCE_GENES = 5


@dataclass(frozen=True)
class QCThresholds:
    """Pass/fail thresholds of the QC metrics."""

    max_nnmd: float = -1.0
    min_auroc: float = 0.85
    min_replicate_correlation: float = 0.4


@dataclass(frozen=True)
class QCResult:
    """QC tables per replicate and per cell line, and how the reference sets matched."""

    replicates: pd.DataFrame
    cell_lines: pd.DataFrame
    essential_match: SymbolMatch
    nonessential_match: SymbolMatch
    thresholds: QCThresholds

    def summary(self) -> dict[str, object]:
        """Medians and counts of failures, for printing and for docs/validation.md."""
        lines = self.cell_lines
        return {
            "cell_lines": int(lines.shape[0]),
            "replicates": int(self.replicates.shape[0]),
            "median_auroc": float(lines["auroc"].median()),
            "median_nnmd": float(lines["nnmd"].median()),
            "failed_replicates": int((~self.replicates["passes"]).sum()),
            "failed_cell_lines": int((~lines["passes"]).sum()),
            "essential_genes": self.essential_match.summary,
            "nonessential_genes": self.nonessential_match.summary,
        }


def separation(gene_lfc: pd.DataFrame, ess: set[str], non: set[str]) -> pd.DataFrame:
    """NNMD and AUROC for every column (a replicate or a cell line) of a genes × samples frame."""
    e = gene_lfc.loc[gene_lfc.index.isin(ess)]
    n = gene_lfc.loc[gene_lfc.index.isin(non)]
    rows = {}
    for col in gene_lfc.columns:
        x, y = e[col].dropna().to_numpy(), n[col].dropna().to_numpy()
        if len(x) < MIN_REFERENCE_GENES or len(y) < MIN_REFERENCE_GENES:
            rows[col] = (np.nan, np.nan, len(x), len(y))
            continue
        nnmd = (x.mean() - y.mean()) / y.std(ddof=1)
        from scipy.stats import mannwhitneyu  # half a second to import: only when QC runs

        auroc = mannwhitneyu(-x, -y, alternative="greater").statistic / (len(x) * len(y))
        rows[col] = (nnmd, auroc, len(x), len(y))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["nnmd", "auroc", "n_essential", "n_nonessential"])


def _replicate_correlations(table: pd.DataFrame, signal: set[str]) -> tuple[pd.Series, pd.Series]:
    """Per replicate, the mean Pearson r of its guide LFC with its line's other replicates: over the
    ``signal`` guides, and over all guides (one pivot of the table serves both)."""
    wide = table.pivot_table(index="sgrna", columns="replicate_id", values="lfc", observed=True)
    line_of = table.drop_duplicates("replicate_id").set_index("replicate_id")["depmap_id"].astype(str)
    on_signal = wide.loc[wide.index.astype(str).isin(signal)]
    return _mean_correlation(on_signal, line_of), _mean_correlation(wide, line_of)


def _mean_correlation(wide: pd.DataFrame, line_of: pd.Series) -> pd.Series:
    """Per replicate (a column of ``wide``), its mean r with the other replicates of its line."""
    out = {}
    for _line, reps in line_of.groupby(line_of):
        ids = list(reps.index)
        if len(ids) < 2:
            out.update({r: np.nan for r in ids})
            continue
        corr = wide[ids].corr(min_periods=10).to_numpy()
        np.fill_diagonal(corr, np.nan)
        out.update(dict(zip(ids, np.nanmean(corr, axis=1), strict=True)))
    return pd.Series(out, name="replicate_correlation", dtype=float)


def _passes(df: pd.DataFrame, th: QCThresholds) -> pd.Series:
    ok = pd.Series(True, index=df.index)
    ok &= ~(df["nnmd"] > th.max_nnmd)
    ok &= ~(df["auroc"] < th.min_auroc)
    ok &= ~(df["replicate_correlation"] < th.min_replicate_correlation)
    return ok


def run_qc(
    screen: Screen,
    essential: list[str] | None = None,
    nonessential: list[str] | None = None,
    thresholds: QCThresholds | None = None,
) -> QCResult:
    """Compute QC metrics per replicate and per cell line.

    Parameters
    ----------
    screen
        The screen.
    essential, nonessential
        Reference gene symbols; default Hart CEGv2 and NEGv1 (matched through the alias table).
    thresholds
        Pass/fail thresholds.
    """
    th = thresholds or QCThresholds()
    default_ess, default_non = essential_sets()
    genes = screen.table["hugo_symbol"].astype(str).unique()
    ess_match = match_symbols(essential or default_ess, genes)
    non_match = match_symbols(nonessential or default_non, genes)
    overlap = ess_match.matched & non_match.matched
    ess, non = set(ess_match.matched - overlap), set(non_match.matched - overlap)
    if len(ess) < MIN_REFERENCE_GENES or len(non) < MIN_REFERENCE_GENES:
        raise ScreenfitInputError(
            f"too few reference genes in the screen to compute QC: essential {ess_match.summary}; "
            f"non-essential {non_match.summary} (need ≥ {MIN_REFERENCE_GENES} of each).",
            file=screen.source,
            column="hugo_symbol",
            fix="pass --essential and --nonessential gene lists that match this library's genes.",
        )
    t = screen.table
    gene_rep = t.pivot_table(index="hugo_symbol", columns="replicate_id", values="lfc", aggfunc="mean", observed=True)
    reps = separation(gene_rep, ess, non)
    reps.index.name = "replicate_id"
    meta = t.drop_duplicates("replicate_id").set_index("replicate_id")
    reps["depmap_id"] = meta.loc[reps.index, "depmap_id"].astype(str)
    reps["n_guides"] = t.groupby("replicate_id", observed=True)["sgrna"].nunique().reindex(reps.index)
    if "counts_final" in t.columns:
        depth = t.groupby("replicate_id", observed=True)["counts_final"]
        reps["total_reads"] = depth.sum().reindex(reps.index)
        reps["median_reads_per_guide"] = depth.median().reindex(reps.index)
    signal = set(t.loc[t["hugo_symbol"].astype(str).isin(ess | non), "sgrna"].astype(str))
    on_signal, every = _replicate_correlations(t, signal)
    reps["replicate_correlation"] = on_signal.reindex(reps.index)
    reps["replicate_correlation_all"] = every.reindex(reps.index)
    reps["passes"] = _passes(reps, th)

    line_lfc = t.pivot_table(index="hugo_symbol", columns="depmap_id", values="lfc", aggfunc="mean", observed=True)
    lines = separation(line_lfc, ess, non)
    lines.index.name = "depmap_id"
    grouped = reps.groupby("depmap_id")
    lines["n_replicates"] = grouped.size().reindex(lines.index)
    lines["replicate_correlation"] = grouped["replicate_correlation"].mean().reindex(lines.index)
    lines["replicate_correlation_all"] = grouped["replicate_correlation_all"].mean().reindex(lines.index)
    lines["failed_replicates"] = grouped["passes"].apply(lambda p: int((~p).sum())).reindex(lines.index)
    lines["passes"] = _passes(lines, th)
    cols = ["depmap_id", *[c for c in reps.columns if c != "depmap_id"]]
    return QCResult(
        reps.reset_index()[["replicate_id", *cols]],
        lines.reset_index(),
        ess_match,
        non_match,
        th,
    )
