"""counts: the copy-number model's structure on raw read counts (negative binomial)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import gammaln

from screenfit.data.design import Design
from screenfit.models.copy_number import CopyNumber


def _log_mean(design: Design, mean: pt.TensorVariable) -> pt.TensorVariable:
    """``η_i = log μ_i``: the depth and reference-abundance offset plus the log2-scale mean in natural log."""
    if design.counts is None:
        raise ValueError("counts model needs a design with count columns")
    c = design.counts
    offset = np.log(c["library_size_final"]) + np.log((c["counts_initial"] + 0.5) / c["library_size_initial"])
    return offset + np.log(2.0) * mean


class Counts(CopyNumber):
    """Negative-binomial final counts with the reference abundance and library size as offset.

    ``final_i ~ NegBin(μ_i, φ)``,
    ``log μ_i = log N_final + log((initial_i + ½) / N_initial) + ln 2 · (α_g + β_c + κ_c cn_gc)``;
    ``φ ~ HalfNormal(0.5)`` (overdispersion); the mean is copy-number's, on the log2 scale. The
    reference counts are treated as known (no noise model for the pDNA).

    Sampling uses the same density in a cheaper exact form (:meth:`sampling_likelihood`); the
    per-row ``NegativeBinomial`` is declared for log-likelihood and predictive draws.
    """

    name = "counts"
    title = "copy-number structure on read counts: negative binomial with pDNA and depth offsets"
    observed = "counts"

    def likelihood(self, design: Design, mean: pt.TensorVariable) -> None:
        assert design.counts is not None
        overdispersion = pm.HalfNormal("overdispersion", 0.5)
        mu = pt.exp(_log_mean(design, mean))
        observed = design.counts["counts_final"]
        pm.NegativeBinomial("counts_final", mu=mu, alpha=1.0 / overdispersion, observed=observed, dims="obs")

    def sampling_likelihood(self, design: Design, mean: pt.TensorVariable) -> None:
        """The negative-binomial log-density summed over rows, with its α-only terms tabulated.

        With ``α = 1/φ`` and ``η_i = log μ_i``, each row contributes
        ``lgamma(y_i + α) − lgamma(α) − lgamma(y_i + 1) − y_i log α + y_i η_i − (y_i + α) softplus(η_i − log α)``.
        ``Σ_i lgamma(y_i + α)`` is a sum over the distinct counts ``v`` weighted by how often
        each occurs, so the only per-row work is one softplus (a few thousand distinct counts
        against hundreds of thousands of rows); ``Σ lgamma(y + 1)`` is a constant computed once.
        The density equals PyMC's ``NegativeBinomial`` summed over rows (``tests/test_models.py``).
        """
        assert design.counts is not None
        overdispersion = pm.HalfNormal("overdispersion", 0.5)
        y = design.counts["counts_final"]
        values, multiplicity = np.unique(y, return_counts=True)
        alpha = 1.0 / overdispersion
        log_alpha = -pt.log(overdispersion)
        eta = _log_mean(design, mean)
        logp = (
            pt.sum(multiplicity * pt.gammaln(values + alpha))
            - float(gammaln(y + 1.0).sum())
            - y.size * pt.gammaln(alpha)
            - y.sum() * log_alpha
            + pt.sum(y * eta)
            - pt.sum((y + alpha) * pt.softplus(eta - log_alpha))
        )
        pm.Potential("counts_final_loglik", logp)
