"""gene-cellline: the seed's m2 made identified."""

from __future__ import annotations

import pytensor.tensor as pt

from screenfit.data.design import GENE, LINE, Design
from screenfit.models.base import ScreenModel
from screenfit.models.blocks import gene_intercepts, line_offsets, per_group


class GeneCellLine(ScreenModel):
    """Gene intercepts plus zero-sum cell-line offsets.

    ``y ~ N(α_g + β_c, σ)``; ``α_g ~ N(μ_α, σ_α)``, ``μ_α ~ N(0, 1)``, ``σ_α ~ HalfNormal(1)``;
    ``β ~ ZeroSumNormal(0.5)`` over lines; ``σ ~ HalfNormal(1)``.
    """

    name = "gene-cellline"
    title = "gene intercepts + zero-sum cell-line offsets (seed m2, identified)"

    def mean(self, design: Design) -> pt.TensorVariable:
        alpha = gene_intercepts()
        beta = line_offsets()
        return per_group(alpha, design, GENE) + per_group(beta, design, LINE)
