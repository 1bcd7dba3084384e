"""counts: the copy-number model's structure on raw read counts (negative binomial)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from screenfit.data.design import Design
from screenfit.models.copy_number import CopyNumber


class Counts(CopyNumber):
    """Negative-binomial final counts with the reference abundance and library size as offset.

    ``final_i ~ NegBin(μ_i, φ)``,
    ``log μ_i = log N_final + log((initial_i + ½) / N_initial) + ln 2 · (α_g + β_c + κ_c cn_gc)``;
    ``φ ~ HalfNormal(0.5)`` (overdispersion); the mean is copy-number's, on the log2 scale. The
    reference counts are treated as known (no noise model for the pDNA).
    """

    name = "counts"
    title = "copy-number structure on read counts: negative binomial with pDNA and depth offsets"
    observed = "counts"

    def likelihood(self, design: Design, mean: pt.TensorVariable) -> None:
        if design.counts is None:
            raise ValueError("counts model needs a design with count columns")
        c = design.counts
        offset = np.log(c["library_size_final"]) + np.log((c["counts_initial"] + 0.5) / c["library_size_initial"])
        overdispersion = pm.HalfNormal("overdispersion", 0.5)
        mu = pt.exp(offset + np.log(2.0) * mean)
        pm.NegativeBinomial("counts_final", mu=mu, alpha=1.0 / overdispersion, observed=c["counts_final"], dims="obs")
