"""Essential-gene calls of a gene-level fit, in the terms BAGEL2 and MAGeCK users read.

For models with one effect per gene (the ``single-screen`` preset), each gene's posterior gives

- ``prob_essential`` = P(effect < threshold | data), the model's ``dependency_threshold``
  (default −0.5 LFC): the probability that knocking the gene out costs at least that much;
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

from screenfit.results.conditions import qvalues

CALL_Q = 0.05
ODDS_CLIP = 1e-6


def essential_calls(gene_effects: pd.DataFrame) -> pd.DataFrame:
    """The calls table from a fit's ``gene_effects`` (which carries ``prob_lt_threshold``)."""
    prob = gene_effects["prob_lt_threshold"].to_numpy(dtype=float)
    clipped = np.clip(prob, ODDS_CLIP, 1.0 - ODDS_CLIP)
    keep = [c for c in ("hugo_symbol", "entrez_id", "mean", "sd", "hdi_lower", "hdi_upper") if c in gene_effects]
    table = gene_effects[keep].copy()
    table["prob_essential"] = prob
    table["log10_odds"] = np.log10(clipped / (1.0 - clipped))
    table["lfdr"] = 1.0 - prob
    table["qvalue"] = qvalues(table["lfdr"]).to_numpy()
    table["essential"] = table["qvalue"] <= CALL_Q
    table = table.sort_values(["prob_essential", "mean"], ascending=[False, True]).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table
