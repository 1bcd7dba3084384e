"""Building blocks shared by the models: gene intercepts, cell-line offsets, copy-number slopes.

Parametrisations were chosen by measurement on seed-sized screens: gene intercepts see
thousands of rows each, so they are centred; cell-line offsets have a fixed-scale zero-sum
prior (see :func:`line_offsets`).
"""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt

from screenfit.data.design import GENE, LINE, Design


def gene_intercepts(name: str = "gene_effect", mu_sd: float = 1.0, sd_scale: float = 1.0) -> pt.TensorVariable:
    """``α_g ~ N(μ_α, σ_α)``, ``μ_α ~ N(0, mu_sd)``, ``σ_α ~ HalfNormal(sd_scale)`` (centred)."""
    mu = pm.Normal("gene_effect_mu", 0.0, mu_sd)
    sd = pm.HalfNormal("gene_effect_sd", sd_scale)
    return pm.Normal(name, mu, sd, dims=GENE)


def line_offsets(name: str = "cell_line_effect", scale: float = 0.5) -> pt.TensorVariable:
    """``β ~ ZeroSumNormal(scale)`` over cell lines: fixed-scale, zero-sum offsets.

    The zero-sum constraint is what identifies gene and cell-line intercepts (the seed's m2
    left only their sum identified). The scale is fixed rather than learnt: each line has
    hundreds of rows, so a hyper-scale adds nothing, and it had no good parametrisation —
    centred, it sat in a funnel when per-replicate normalisation leaves the offsets tiny
    (R-hat 1.39); non-centred, it mixed slowly when offsets are large and well measured
    (bulk ESS 298) — both measured on seed-sized simulations.
    """
    return pm.ZeroSumNormal(name, sigma=scale, dims=LINE)


def cn_slopes(design: Design, column: str, centred: bool = False) -> pt.TensorVariable:
    """Copy-number term per group: ``κ_c · cn``, ``κ_c ~ N(μ_κ, σ_κ)`` (non-centred unless ``centred``)."""
    mu = pm.Normal("cn_slope_mu", 0.0, 0.5)
    sd = pm.HalfNormal("cn_slope_sd", 0.2)
    if centred:
        slope = pm.Normal("cn_slope", mu, sd, dims=LINE)
    else:
        z = pm.Normal("cn_slope_z", 0.0, 1.0, dims=LINE)
        slope = pm.Deterministic("cn_slope", mu + sd * z, dims=LINE)
    return slope[design.index[LINE]] * design.covariates[column]
