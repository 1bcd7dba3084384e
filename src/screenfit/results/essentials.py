"""Essential-gene calls of a gene-level fit, in the terms BAGEL2 and MAGeCK users read.

For models with one effect per gene (the ``single-screen`` preset), each gene's posterior gives

- ``scaled_mean``: the effect on DepMap's scale, each draw moved so that the screen's median
  non-essential gene (NEGv1) sits at 0 and its median common-essential gene (CEGv2) at −1;
- ``prob_essential`` = P(scaled effect < −½ | data): the probability that the gene's effect is
  closer to the essential genes' than to the non-essential genes' — DepMap's probability of
  dependency, per draw as in :mod:`screenfit.results.depmap`. A screen's LFC is rarely centred
  on its null (HAP1's non-essential genes sit at −0.33 LFC), so a fixed LFC threshold called
  4,592 genes there, 11% of the called reference genes non-essential. Where the screen has
  fewer than 5 genes of either reference set, P(effect < ``dependency_threshold``) (default
  −0.5 LFC) instead, and ``scaled_mean`` is missing;
- ``log10_odds`` = log10 of its posterior odds — a Bayes-factor-like score (BAGEL2 reports a log
  Bayes factor against reference genes; these odds come from the model's own posterior, with no
  reference set needed, so they are not the same number);
- ``lfdr`` = 1 − ``prob_essential`` and ``qvalue``, the Bayesian FDR of calling every gene whose
  ``lfdr`` is at most this one's (the running mean of the sorted lfdr, as for condition effects);
- ``essential``: ``qvalue`` ≤ :data:`CALL_Q`.

Rows are ranked by ``prob_essential`` (then by effect), strongest first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from screenfit.data.design import GENE, LINE
from screenfit.errors import ScreenfitInputError
from screenfit.inference.diagnostics import blocks
from screenfit.results.conditions import qvalues

CALL_Q = 0.05
ODDS_CLIP = 1e-6


def scaled_dependency(effect: xr.DataArray) -> pd.DataFrame | None:
    """Per gene, the mean DepMap-scaled effect and P(scaled effect < −½), each draw scaled by its
    own reference medians; ``None`` where the screen has too few reference genes."""
    from screenfit.results.depmap import line_medians, reference_genes, rescaled

    try:
        essential, nonessential = reference_genes([str(g) for g in effect[GENE].values])
    except ScreenfitInputError:
        return None
    theta = effect.expand_dims({LINE: ["screen"]}, axis=-1)
    med_ess, med_non = line_medians(theta, essential, nonessential)
    parts = []
    for part in blocks(theta):
        scaled = rescaled(part, med_ess, med_non).isel({LINE: 0})
        mean, below = scaled.mean(("chain", "draw")), (scaled < -0.5).mean(("chain", "draw"))
        parts.append(pd.DataFrame({"scaled_mean": mean.to_series(), "prob": below.to_series()}))
    return pd.concat(parts)


def essential_calls(gene_effects: pd.DataFrame, scaled: pd.DataFrame | None = None) -> pd.DataFrame:
    """The calls table from a fit's ``gene_effects`` (which carries ``prob_lt_threshold``), on
    DepMap's scale where ``scaled`` (:func:`scaled_dependency`) is given."""
    keep = [c for c in ("hugo_symbol", "entrez_id", "mean", "sd", "hdi_lower", "hdi_upper") if c in gene_effects]
    table = gene_effects[keep].copy()
    if scaled is not None:
        aligned = scaled.reindex(table["hugo_symbol"].astype(str))
        table["scaled_mean"] = aligned["scaled_mean"].to_numpy()
        prob = aligned["prob"].to_numpy(dtype=float)
    else:
        table["scaled_mean"] = np.nan
        prob = gene_effects["prob_lt_threshold"].to_numpy(dtype=float)
    clipped = np.clip(prob, ODDS_CLIP, 1.0 - ODDS_CLIP)
    table["prob_essential"] = prob
    table["log10_odds"] = np.log10(clipped / (1.0 - clipped))
    table["lfdr"] = 1.0 - prob
    table["qvalue"] = qvalues(table["lfdr"]).to_numpy()
    table["essential"] = table["qvalue"] <= CALL_Q
    table = table.sort_values(["prob_essential", "mean"], ascending=[False, True]).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table
