"""copy-number: a per-line copy-number slope, so amplified regions stop looking essential."""

from __future__ import annotations

import pytensor.tensor as pt

from screenfit.data.design import GENE, LINE, Design
from screenfit.models.base import ScreenModel
from screenfit.models.blocks import gene_intercepts, line_offsets, per_group


class CopyNumber(ScreenModel):
    """gene-cellline plus a hierarchical copy-number slope per cell line.

    ``y ~ N(α_g + β_c + κ_c · cn_gc, σ)``; ``κ_c ~ N(μ_κ, σ_κ)``, ``μ_κ ~ N(0, 0.5)``,
    ``σ_κ ~ HalfNormal(0.2)``; ``cn`` is the capped copy number z-scaled within gene
    (``gene_cn_z``); the rest as in gene-cellline.
    """

    name = "copy-number"
    title = "gene-cellline + hierarchical copy-number slope per cell line"
    uses_cn = True

    def mean(self, design: Design) -> pt.TensorVariable:
        alpha = gene_intercepts()
        beta = line_offsets()
        return per_group(alpha, design, GENE) + per_group(beta, design, LINE) + self.cn_term(design)
