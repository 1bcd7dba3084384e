"""DepMap-layout outputs of a gene × cell-line posterior: gene effect, probability of dependency, calls.

DepMap rescales each cell line's Chronos scores so that the median common-essential gene sits
at −1 and the median non-essential gene at 0 (``CRISPRGeneEffect``), and reports a probability
of dependency per gene × line (``CRISPRGeneDependency``). screenfit does the same rescaling
**per posterior draw** — each draw's own essential and non-essential medians per line — so the
scale's uncertainty is carried into every number, and defines the probability of dependency
from the posterior itself:

    P(dependency)_gc = P(scaled effect_gc < −½ | data),

the posterior probability that the gene's effect in the line is closer to the common-essential
median (−1) than to the non-essential median (0). Draws are processed in blocks of at most
``BLOCK_VALUES`` values, so memory does not grow with the number of draws.

Gene calls (``gene_calls`` table), stated rules:

- **common essential**: P(dependency) > ½ in at least 90% of the lines;
- **strongly selective**: not common essential, P(dependency) ≥ 0.9 in at least one line, and
  P(dependency) ≤ 0.1 in at least a quarter of the lines (confidently dependent somewhere and
  confidently not dependent in many others).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from screenfit.data.design import GENE, LINE
from screenfit.data.genes import match_symbols
from screenfit.errors import ScreenfitInputError
from screenfit.inference.diagnostics import BLOCK_VALUES
from screenfit.reference import essential_sets
from screenfit.results.tables import depmap_wide, with_entrez

#: Scaled effect below which a gene × line counts as a dependency (halfway from 0 to −1).
DEPENDENCY_CUTOFF = -0.5
#: Fewest reference genes of each set in the screen for the per-line medians to mean anything.
MIN_REFERENCE_GENES = 5
COMMON_ESSENTIAL_FRACTION = 0.9
SELECTIVE_CONFIDENT = 0.9
SELECTIVE_ABSENT_FRACTION = 0.25


@dataclass(frozen=True)
class DepmapOutputs:
    """Wide tables in DepMap's layout (first column unnamed, cell lines as rows) and per-gene calls."""

    gene_effect: pd.DataFrame
    gene_dependency: pd.DataFrame
    calls: pd.DataFrame
    reference_counts: tuple[int, int]


def reference_genes(
    genes: Sequence[str], essential: Sequence[str] | None = None, nonessential: Sequence[str] | None = None
) -> tuple[list[str], list[str]]:
    """The screen's genes in the essential and non-essential sets (bundled CEGv2/NEGv1 by default).

    Matched through the alias table; too few of either set is an error that says what to pass.
    """
    default_ess, default_non = essential_sets()
    symbols = pd.Series(list(genes), dtype=str)
    ess = sorted(match_symbols(list(essential or default_ess), symbols).matched)
    non = sorted(match_symbols(list(nonessential or default_non), symbols).matched)
    if len(ess) < MIN_REFERENCE_GENES or len(non) < MIN_REFERENCE_GENES:
        raise ScreenfitInputError(
            f"DepMap scaling needs ≥ {MIN_REFERENCE_GENES} common-essential and non-essential genes in the screen; "
            f"found {len(ess)} and {len(non)}.",
            fix="fit more genes (include CEGv2/NEGv1 genes), or pass your own reference lists.",
        )
    return ess, non


def scaled_draws(theta: xr.DataArray, essential: Sequence[str], nonessential: Sequence[str]) -> xr.DataArray:
    """Each draw rescaled per line: its non-essential median to 0, its common-essential median to −1."""
    med_ess = theta.sel({GENE: list(essential)}).median(GENE)
    med_non = theta.sel({GENE: list(nonessential)}).median(GENE)
    return (theta - med_non) / (med_non - med_ess)


def gene_calls(mean: pd.DataFrame, prob: pd.DataFrame) -> pd.DataFrame:
    """Per gene: how many lines depend on it, and the common-essential / strongly-selective calls."""
    n_lines = prob.shape[1]
    dependent = (prob > 0.5).sum(axis=1)
    confident = (prob >= SELECTIVE_CONFIDENT).sum(axis=1)
    absent = (prob <= 1 - SELECTIVE_CONFIDENT).sum(axis=1)
    common = dependent >= COMMON_ESSENTIAL_FRACTION * n_lines
    selective = ~common & (confident >= 1) & (absent >= SELECTIVE_ABSENT_FRACTION * n_lines)
    return pd.DataFrame(
        {GENE: mean.index, "n_lines": n_lines, "n_dependent_lines": dependent.to_numpy(),
         "fraction_dependent": (dependent / n_lines).to_numpy(), "min_effect": mean.min(axis=1).to_numpy(),
         "median_effect": mean.median(axis=1).to_numpy(), "common_essential": common.to_numpy(),
         "strongly_selective": selective.to_numpy()}
    )  # fmt: skip


def depmap_outputs(
    theta: xr.DataArray,
    entrez: dict[str, int],
    essential: Sequence[str] | None = None,
    nonessential: Sequence[str] | None = None,
) -> DepmapOutputs:
    """``CRISPRGeneEffect``- and ``CRISPRGeneDependency``-layout tables and gene calls from gene × line draws.

    ``theta`` has dims ``(chain, draw, hugo_symbol, depmap_id)``.
    """
    genes = [str(g) for g in theta[GENE].values]
    ess, non = reference_genes(genes, essential, nonessential)
    total = np.zeros((theta.sizes[GENE], theta.sizes[LINE]))
    below = np.zeros_like(total)
    n = 0
    step = max(1, BLOCK_VALUES // max(total.size, 1))
    for chain in theta["chain"].values:
        for start in range(0, theta.sizes["draw"], step):
            part = theta.sel(chain=chain).isel(draw=slice(start, start + step)).transpose("draw", GENE, LINE)
            block = scaled_draws(part, ess, non).values
            total += block.sum(axis=0)
            below += (block < DEPENDENCY_CUTOFF).sum(axis=0)
            n += block.shape[0]
    index, columns = pd.Index(genes, name=GENE), pd.Index([str(c) for c in theta[LINE].values], name=LINE)
    mean = pd.DataFrame(total / n, index=index, columns=columns)
    prob = pd.DataFrame(below / n, index=index, columns=columns)
    calls = with_entrez(gene_calls(mean, prob), entrez)
    # DepMap's files have an unnamed first column (``pd.read_csv(path, index_col=0)``).
    return DepmapOutputs(depmap_wide(mean.T, entrez, ""), depmap_wide(prob.T, entrez, ""), calls, (len(ess), len(non)))


def depmap_tables(theta: xr.DataArray, entrez: dict[str, int]) -> dict[str, pd.DataFrame]:
    """The DepMap-layout tables of a fit (stems ``CRISPRGeneEffect``, ``CRISPRGeneDependency``, ``gene_calls``).

    No tables (and a warning saying why) when the screen has too few reference genes for the scaling.
    """
    try:
        out = depmap_outputs(theta, entrez)
    except ScreenfitInputError as err:
        warnings.warn(f"DepMap-layout outputs skipped: {err.problem}", UserWarning, stacklevel=2)
        return {}
    return {"CRISPRGeneEffect": out.gene_effect, "CRISPRGeneDependency": out.gene_dependency, "gene_calls": out.calls}
