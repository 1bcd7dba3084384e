"""gene-by-line-lineage: gene × line effects pooled toward their gene's mean in the line's lineage
(and, with a covariate, its mutation status), so selective dependencies borrow from similar lines."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from screenfit.data.design import GENE, LINE, LINEAGE, Design
from screenfit.models.efficacy import EffectUnits
from screenfit.models.gene_by_line import GeneByLine


class GeneByLineLineage(GeneByLine):
    """gene-by-line whose gene × line effects are pooled toward a lineage- (and mutation-) specific centre.

    ``θ_gc ~ N(α_g + λ_g,l(c) [+ b_g · x_gc], τ_g)``, the rest as in gene-by-line;
    ``λ_g· = s_g · w_g·``, ``w_g· ~ ZeroSumNormal(1)`` over lineages, ``log s_g ~ N(μ_s, σ_s)``,
    ``μ_s ~ N(log 0.05, 1)``, ``σ_s ~ HalfNormal(1)``; with ``--covariate`` (e.g. ``is_mutated``)
    the per-gene slope ``b_g ~ N(0, 0.5)`` moves the centre too, instead of adding to the mean
    outside ``θ``, so the reported gene × line effects carry it.

    A lineage- or mutation-selective gene then has its dependent lines pooled with each other
    and not with the gene's unaffected lines: in gene-by-line a dependent line's effect is
    shrunk toward the gene mean, which the unaffected majority sets. Most genes have no lineage
    effect, so ``s_g`` is per gene with a pooled log scale, not one scale for all. The lineage
    comes from the cell-line annotations (``--annotations Model.csv`` at ingest).
    """

    name = "gene-by-line-lineage"
    title = "gene-by-line pooled toward each gene's lineage (and mutation) mean"
    needs_lineage = True
    effect_units = GeneByLine.effect_units + EffectUnits(
        ("gene_lineage_deviation", "covariate_slope"), ("gene_lineage_sd_log", "gene_lineage_sd_mu")
    )

    def gene_line_centre(self, design: Design, alpha: pt.TensorVariable) -> pt.TensorVariable:
        """``α_g + λ_g,l(c) [+ b_g x_gc]`` per gene × line."""
        if design.line_lineage is None:
            raise ValueError("gene-by-line-lineage needs a design with lineages")
        mu = pm.Normal("gene_lineage_sd_mu", np.log(0.05), 1.0)
        sd = pm.HalfNormal("gene_lineage_sd_sd", 1.0)
        log_s = pm.Normal("gene_lineage_sd_log", mu, sd, dims=GENE)
        w = pm.ZeroSumNormal("gene_lineage_z", sigma=1.0, dims=(GENE, LINEAGE), n_zerosum_axes=1)
        deviation = pm.Deterministic("gene_lineage_deviation", pt.exp(log_s)[:, None] * w, dims=(GENE, LINEAGE))
        centre = alpha[:, None] + deviation[:, pt.constant(design.line_lineage)]
        column = self.options.covariate
        if column is not None:
            slope = pm.Normal("covariate_slope", 0.0, 0.5, dims=GENE)
            centre = centre + slope[:, None] * pt.constant(self._gene_line_matrix(design, column))
        return centre

    @staticmethod
    def _gene_line_matrix(design: Design, column: str) -> np.ndarray:
        """A per-group covariate as a genes × lines matrix (0 where a gene × line has no data)."""
        matrix = np.zeros((len(design.coords[GENE]), len(design.coords[LINE])))
        matrix[design.index[GENE], design.index[LINE]] = design.covariates[column]
        return matrix

    def covariate_term(self, design: Design) -> pt.TensorVariable | float:
        """None outside ``θ``: the covariate's slope moves the effects' centre (:meth:`gene_line_centre`)."""
        return 0.0
