"""The seed notebook's two models, reproduced exactly (priors from its code cells).

The notebook's equation for m2 says ``μ_α, μ_β ~ N(0, 2)`` and ``σ ~ HalfNormal(5)``; its
code uses ``μ_α ~ N(−0.5, 1)``, ``μ_β ~ N(0, 1)``, ``σ_α, σ_β, σ ~ HalfNormal(2)``. We follow
the code (docs/models.md says so).
"""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt

from screenfit.data.design import GENE, LINE, Design
from screenfit.models.base import ScreenModel


class SeedM1(ScreenModel):
    """Seed m1: a varying intercept per gene.

    ``y ~ N(α_g, σ)``, ``α_g ~ N(μ_α, σ_α)``, ``μ_α ~ N(0, 5)``, ``σ_α ~ HalfNormal(5)``,
    ``σ ~ HalfNormal(5)``.
    """

    name = "seed-m1"
    title = "seed notebook m1: varying intercept per gene"
    mean_level = (GENE,)
    gene_effect = "alpha_g"

    def mean(self, design: Design) -> pt.TensorVariable:
        sigma_alpha = pm.HalfNormal("sigma_alpha", 5.0)
        mu_alpha = pm.Normal("mu_alpha", 0.0, 5.0)
        alpha = pm.Normal("alpha_g", mu_alpha, sigma_alpha, dims=GENE)
        return alpha[pt.constant(design.index[GENE])]

    def noise(self, design: Design) -> pt.TensorVariable:
        return pm.HalfNormal("sigma", 5.0)


class SeedM2(ScreenModel):
    """Seed m2: varying intercepts per gene and per cell line — not identified.

    ``y ~ N(α_g + β_c, σ)``, ``α_g ~ N(μ_α, σ_α)``, ``β_c ~ N(μ_β, σ_β)``,
    ``μ_α ~ N(−0.5, 1)``, ``μ_β ~ N(0, 1)``, ``σ_α, σ_β, σ ~ HalfNormal(2)``.
    Only ``μ_α + μ_β`` is identified; the diagnostics name this.
    """

    name = "seed-m2"
    title = "seed notebook m2: gene + cell-line intercepts (not identified; for reproduction)"
    gene_effect = "alpha_g"
    location_pairs = (("mu_alpha", "mu_beta"),)

    def mean(self, design: Design) -> pt.TensorVariable:
        mu_alpha = pm.Normal("mu_alpha", -0.5, 1.0)
        sigma_alpha = pm.HalfNormal("sigma_alpha", 2.0)
        mu_beta = pm.Normal("mu_beta", 0.0, 1.0)
        sigma_beta = pm.HalfNormal("sigma_beta", 2.0)
        alpha = pm.Normal("alpha_g", mu_alpha, sigma_alpha, dims=GENE)
        beta = pm.Normal("beta_c", mu_beta, sigma_beta, dims=LINE)
        return alpha[pt.constant(design.index[GENE])] + beta[pt.constant(design.index[LINE])]

    def noise(self, design: Design) -> pt.TensorVariable:
        return pm.HalfNormal("sigma", 2.0)
