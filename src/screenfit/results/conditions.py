"""Per-gene differences between conditions: posterior summaries, local false discovery rates, q-values.

For each gene ``g`` and non-reference condition ``k`` the ``condition`` model's posterior of the
difference ``δ_gk`` (effect in ``k`` minus effect in the reference) gives

- ``direction``: ``sensitising`` where the posterior mean of ``δ`` is negative, else ``rescuing``;
- ``prob_lower`` = P(δ < 0 | data): the knockout hurts more in condition ``k`` (sensitisation);
  ``prob_higher`` = P(δ > 0 | data): it hurts less (resistance);
- ``lfsr`` = min(``prob_lower``, ``prob_higher``), the local false sign rate (Stephens 2017);
- ``prob_difference`` = P(|δ| > ε | data), the posterior probability of a difference of at
  least ``ε`` (``min_difference``, default 0.1 LFC), and ``lfdr`` = 1 − ``prob_difference``;
- ``expected_fdr``: the Bayesian FDR of calling every gene of that condition whose ``lfdr`` is at
  most this gene's — the mean ``lfdr`` of those genes, i.e. the posterior expected share of them
  whose true difference is below ``ε``;
- ``qvalue``: the smallest ``α`` at which this gene is called with the false discovery
  *proportion* of the calls at most ``α`` with posterior probability :data:`FDX_LEVEL`
  (false discovery exceedance control, :func:`fdx_qvalues`).

Why the proportion and not its expectation: an expected FDR of 0.1 is met on average over
screens, and the calls it admits last are genes with lfdr 0.6–0.9, so one screen's realised
proportion scatters around it (0.10–0.14 on three simulated drug screens at q ≤ 0.1). Bounding
the proportion with probability 0.9 kept it ≤ 0.094 on the same screens for 4–5 fewer calls.

Per full knockout (:func:`per_knockout`, where the screen has guide efficacies from another fit):
``δ`` is the guides' difference on the LFC scale, which a guide that knocks out a share ``e`` of
its cells shows at about ``e`` times a full knockout's; divided by the gene's mean guide
efficacy it reads as the difference a full knockout would make.

Why ``ε`` and not the sign alone: the continuous prior puts no mass on "no difference", so a
gene the drug leaves untouched still has a confident-looking sign (lfsr 0.07–0.10 on a
simulation), and q-values built from the lfsr called 9 untouched genes next to 10 true ones.
Asking for a difference of at least ``ε`` makes untouched genes score ``lfdr`` ≈ 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from screenfit.data.design import GENE
from screenfit.results.tables import summarize

MIN_DIFFERENCE = 0.1
#: Posterior probability with which the called set's false discovery proportion is at most its q-value.
FDX_LEVEL = 0.9
#: Draws of the null indicators behind :func:`fdx_qvalues` (at most; a fixed-seed subset).
FDX_DRAWS = 1000


def qvalues(lfdr: pd.Series) -> pd.Series:
    """Cumulative mean of the sorted local false discovery rates, in the input's order."""
    values = lfdr.to_numpy(dtype=float)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(values[order]) / np.arange(1, len(values) + 1)
    out = np.empty_like(cumulative)
    out[order] = cumulative
    return pd.Series(out, index=lfdr.index)


def fdx_qvalues(null_prob: np.ndarray, level: float = FDX_LEVEL, seed: int = 0) -> np.ndarray:
    """Per gene, the smallest ``α`` such that calling every gene ranked at or above it (by mean
    null probability) has ``P(FDP ≤ α | data) ≥ level``.

    ``null_prob``: (draws, genes), each draw's probability that the gene is null (0/1 where the
    draws are indicators). Per draw the genes' null indicators are drawn from it (fixed seed, at
    most :data:`FDX_DRAWS` draws), so the FDP's posterior includes the hyperparameters' uncertainty.
    """
    rng = np.random.default_rng(seed)
    if null_prob.shape[0] > FDX_DRAWS:
        null_prob = null_prob[np.sort(rng.choice(null_prob.shape[0], FDX_DRAWS, replace=False))]
    order = np.argsort(null_prob.mean(axis=0), kind="stable")
    nulls = rng.random(null_prob.shape, dtype=np.float32) < null_prob[:, order]
    proportion = np.cumsum(nulls, axis=1, dtype=np.int32) / np.arange(1, nulls.shape[1] + 1, dtype=np.float32)
    bound = np.quantile(proportion, level, axis=0)
    bound = np.minimum.accumulate(bound[::-1])[::-1]  # a gene's q: the best set that includes it
    out = np.empty_like(bound)
    out[order] = bound
    return out


def condition_table(
    difference: xr.DataArray,
    reference: str,
    ci_prob: float,
    min_difference: float = MIN_DIFFERENCE,
    prob_difference: xr.DataArray | None = None,
) -> pd.DataFrame:
    """One row per gene × non-reference condition, strongest evidence first within each condition.

    ``prob_difference``: per draw, P(|δ| > ε) given the draw (a model that has it exactly); else
    the share of draws with ``|δ| > ε``.
    """
    table = summarize(difference, ci_prob, threshold=0.0, column="prob_lower")
    table = table.rename(columns={"contrast": "condition"})
    table.insert(table.columns.get_loc("condition") + 1, "reference", reference)
    higher = (difference > 0).mean(("chain", "draw")).to_series().rename("prob_higher").reset_index()
    table = _merge(table, higher)
    # Negative: the knockout hurts more under the condition than in the reference.
    table.insert(table.columns.get_loc("reference") + 1, "direction",
                 np.where(table["mean"] < 0, "sensitising", "rescuing"))  # fmt: skip
    # A draw of exactly 0 (a two-group prior's null) has neither sign.
    table["lfsr"] = 1.0 - np.maximum(table["prob_lower"], table["prob_higher"])
    large = prob_difference if prob_difference is not None else abs(difference) > min_difference
    table = _merge(table, large.mean(("chain", "draw")).to_series().rename("prob_difference").reset_index())
    table["lfdr"] = (1.0 - table["prob_difference"]).clip(lower=0.0)
    table["expected_fdr"] = table.groupby("condition")["lfdr"].transform(qvalues)
    table = _merge(table, _fdx_table(large))
    table.attrs["min_difference"] = min_difference
    return table.sort_values(["condition", "lfdr", "mean"]).reset_index(drop=True)


def per_knockout(table: pd.DataFrame, guides: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``guide_efficacy`` (the gene's mean over its guides) and ``mean``,
    ``hdi_lower`` and ``hdi_upper`` divided by it (``…_per_knockout``), from ``guides``' columns
    ``hugo_symbol`` and ``guide_efficacy`` (one row per guide; genes without one get missing values)."""
    efficacy = guides.dropna(subset=["guide_efficacy"]).groupby("hugo_symbol", observed=True)["guide_efficacy"].mean()
    out = table.copy()
    out["guide_efficacy"] = out["hugo_symbol"].astype(str).map(efficacy.rename(index=str)).astype(float)
    for column in ("mean", "hdi_lower", "hdi_upper"):
        out[f"{column}_per_knockout"] = out[column] / out["guide_efficacy"]
    return out


def _fdx_table(large: xr.DataArray) -> pd.DataFrame:
    """``qvalue`` per gene and condition from per-draw probabilities (or indicators) of a difference."""
    stacked = large.stack(sample=("chain", "draw"))
    rows = []
    for contrast in stacked["contrast"].values:
        per_draw = stacked.sel(contrast=contrast).transpose("sample", GENE)
        q = fdx_qvalues(1.0 - per_draw.values.astype(np.float64))
        rows.append(pd.DataFrame({GENE: per_draw[GENE].values, "contrast": contrast, "qvalue": q}))
    return pd.concat(rows, ignore_index=True)


def _merge(table: pd.DataFrame, per_gene: pd.DataFrame) -> pd.DataFrame:
    per_gene = per_gene.rename(columns={"contrast": "condition"})
    per_gene[per_gene.columns[:2]] = per_gene[per_gene.columns[:2]].astype(str)
    return table.merge(per_gene, on=["hugo_symbol", "condition"], how="left", validate="one_to_one")
