"""gene-by-line: gene × cell-line effects pooled toward the gene mean (a DepMap-style matrix)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from screenfit.data.design import GENE, LINE, Design
from screenfit.data.screen import Screen
from screenfit.data.stream import StreamedScreen
from screenfit.models.base import ScreenModel
from screenfit.models.blocks import gene_intercepts, genes_varying_across_lines, per_group, quality_is_data_rich
from screenfit.models.collapsed import CollapsedEffects
from screenfit.models.efficacy import EffectUnits


class GeneByLine(ScreenModel):
    """Gene effects per gene × line, screen quality and copy number per line, noise per line.

    ``y ~ N(μ_α + q_c · (θ_gc − μ_α) + κ_c · cn_gc, σ_c)``;
    ``θ_gc ~ N(α_g, τ_g)`` (partial pooling toward the gene mean ``α_g``; centred for genes that
    vary strongly across lines, non-centred ``θ_gc = α_g + τ_g z_gc`` for the rest),
    ``log τ_g ~ N(μ_τ, s_τ)``, ``μ_τ ~ N(log 0.1, 1)``, ``s_τ ~ HalfNormal(1)``;
    ``log q ~ ZeroSumNormal(σ_q)`` over lines, ``σ_q ~ HalfNormal(0.3)`` (screen quality, mean 1
    on the log scale; centred when each line's quality is measured more precisely than lines
    differ — :func:`~screenfit.models.blocks.quality_is_data_rich` — as on the Avana sample, where
    the non-centred ``log q_c = σ_q w_c`` left ``σ_q`` at bulk ESS 85; non-centred otherwise);
    ``log σ_c ~ N(μ_σ, τ_σ)``; ``α_g``, ``κ_c`` as in copy-number.

    Quality scales effects around the mean gene effect ``μ_α``, which sets the level of every
    line. There is no separate cell-line offset: per-replicate normalisation keeps each line's
    mean LFC near zero, so a zero-sum offset next to ``q_c θ_gc`` had to track
    ``−(q_c − 1) μ_α`` — a ridge that left its scale at bulk ESS 131–168 of 2,000 draws
    (measured on a seed-sized simulation).
    """

    name = "gene-by-line"
    title = "gene × cell-line effects pooled to the gene mean, screen quality, copy number, line noise"
    uses_cn = True
    cn_optional = True
    noise_by = LINE
    efficacy_scaled = True
    collapsible = True
    gene_line_effect = "gene_line_effect"
    # 2: a guide's efficacy scales the whole effect (around 0, not the mean gene effect), and the
    # effects are reported per full knockout (models/efficacy.py).
    revision = 2
    effect_units = EffectUnits(
        ("gene_effect", "gene_effect_mu", "gene_effect_sd", "gene_line_effect", "gene_line_c"),
        ("gene_line_sd_log", "gene_line_sd_mu"),
    )
    # Broadcast on the grid, PyTensor's exp(x)·exp(y) → exp(x + y) rewrite fuses the per-line
    # quality and noise and the per-gene scale into one exp per gene × line in the gradient,
    # which made this model's gradient slower where the other grid models gain.
    grid_broadcast = False
    # With ~8,000 gene × line parameters the largest of 8,000 R-hats crossed 1.01 (1.012) at
    # 1,000 draws per chain on a seed-sized simulation; 2,000 draws halve its noise.
    recommended_draws = 2000
    #: Gene × line effects above which 4,000 draws per chain are used: on the Avana sample
    #: (36,203 effects) 2,000 draws left one R-hat at 1.016 and a tail ESS at 292; 4,000
    #: converged (max R-hat 1.007, min bulk ESS 1,116, tail ESS 689).
    MANY_EFFECTS = 20_000

    def draws_for(self, screen: Screen | StreamedScreen) -> int:
        """2,000 draws per chain, 4,000 when the screen has more than :data:`MANY_EFFECTS` gene × line effects."""
        n_effects = screen.count(GENE) * screen.count(LINE)
        return 2 * self.recommended_draws if n_effects > self.MANY_EFFECTS else self.recommended_draws

    def gene_line_centre(self, design: Design, alpha: pt.TensorVariable) -> pt.TensorVariable:
        """What each gene × line effect is pooled toward (genes × 1, or genes × lines): the gene mean ``α_g``."""
        return alpha[:, None]

    def _gene_line(self, design: Design, centre: pt.TensorVariable, tau: pt.TensorVariable) -> pt.TensorVariable:
        """``θ_gc ~ N(centre_gc, τ_g)``: centred for genes that vary strongly across lines, non-centred for the rest.

        One parametrisation does not suit both: with all genes non-centred, the strongly
        selective MDM2 and CCND1 stayed at R-hat 1.014 / tail ESS 271 on the Avana sample
        (their gene × line effects are pinned by the data, so α_g and every z_gc had to move
        together), while centring genes that barely vary makes funnels.
        """
        genes = np.asarray(design.coords[GENE])
        if self.options.collapse_gene_line:
            if self.evaluating:
                # Evaluated at the fit's draws of the effects themselves (collapsed.py).
                return pm.Normal("gene_line_effect", centre, tau[:, None], dims=(GENE, LINE))
            return self.collapse(CollapsedEffects.declare(
                centre, tau, (len(genes), len(design.coords[LINE])), "gene_line_effect"))  # fmt: skip
        centred = self.plan.centred_subset("gene_line_effect", lambda: genes_varying_across_lines(design))
        is_c = np.isin(genes, sorted(centred))
        model = pm.modelcontext(None)
        if not is_c.any():
            # Every gene non-centred (as in genome-wide screens, where few genes vary strongly):
            # no scatter into a zeros matrix, whose gradient was a gather over all effects.
            model.add_coord("gene_noncentred", genes)
            z = pm.Normal("gene_line_z", 0.0, 1.0, dims=("gene_noncentred", LINE))
            return centre + tau[:, None] * z
        theta = pt.zeros((len(genes), len(design.coords[LINE])))
        if (~is_c).any():
            idx = np.flatnonzero(~is_c)
            model.add_coord("gene_noncentred", genes[idx])
            z = pm.Normal("gene_line_z", 0.0, 1.0, dims=("gene_noncentred", LINE))
            theta = pt.set_subtensor(theta[idx], centre[idx] + tau[idx, None] * z)
        if is_c.any():
            idx = np.flatnonzero(is_c)
            model.add_coord("gene_centred", genes[idx])
            centred_theta = pm.Normal("gene_line_c", centre[idx], tau[idx, None], dims=("gene_centred", LINE))
            theta = pt.set_subtensor(theta[idx], centred_theta)
        return theta

    def mean(self, design: Design) -> pt.TensorVariable:
        rest, scaled = self.mean_parts(design)
        return rest + scaled

    def mean_parts(self, design: Design) -> tuple[pt.TensorVariable, pt.TensorVariable]:
        """``(κ_c · cn_gc, μ_α + q_c · (θ_gc − μ_α))``: a guide's efficacy scales the whole quality-scaled
        effect, so a guide that does not knock its gene out reads 0, as a negative control does.

        Scaled around ``μ_α`` instead (the mean gene effect, which is not 0), a dud read ``μ_α``
        and, where every guide is efficient, ``μ_α`` was pinned by nothing but the pooling prior
        and drifted: 0.43 on a simulation whose mean effect is −0.19 (2,000 genes × 200 lines,
        additive regime), moving every inert gene's effect by −0.06 and its 90% coverage to 0.78.
        """
        alpha = gene_intercepts()
        mu_tau = pm.Normal("gene_line_sd_mu", np.log(0.1), 1.0)
        s_tau = pm.HalfNormal("gene_line_sd_sd", 1.0)
        log_tau = pm.Normal("gene_line_sd_log", mu_tau, s_tau, dims=GENE)
        centre = self.gene_line_centre(design, alpha)
        theta = self._gene_line(design, centre, pt.exp(log_tau))
        if not self.options.collapse_gene_line:
            theta = pm.Deterministic("gene_line_effect", theta, dims=(GENE, LINE))
        sd_q = pm.HalfNormal("screen_quality_sd", 0.3)
        if self.plan.centred("screen_quality", lambda: quality_is_data_rich(design)):
            log_q = pm.ZeroSumNormal("screen_quality_log", sigma=sd_q, dims=LINE)
        else:
            log_q = sd_q * pm.ZeroSumNormal("screen_quality_z", sigma=1.0, dims=LINE)
        quality = pm.Deterministic("screen_quality", pt.exp(log_q), dims=LINE)
        mu_alpha = pm.modelcontext(None)["gene_effect_mu"]
        scaled = mu_alpha + per_group(quality, design, LINE) * (per_group(theta, design, GENE, LINE) - mu_alpha)
        if self.options.cn_efficacy:  # cutting toxicity scaled by the guide's efficacy too (ModelOptions)
            return pt.zeros_like(scaled), scaled + self.cn_term(design)
        return self.cn_term(design), scaled
