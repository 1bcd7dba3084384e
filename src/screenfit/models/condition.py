"""condition: per-gene differences in effect between a treatment and its reference arm (drug vs vehicle).

The model reads each guide in each cell line as a pair of cells — its replicates in the
reference arm and in the treated arm — and integrates out in closed form what is nuisance:

- **Guides paired across arms.** A guide's mean ``μ_s`` (its gene's effect, its efficacy, its
  reference count's error — everything both arms share) is free, so its two arms give
  ``x₁ − x₀ − ζ ~ N(δ_g, v₁ + v₀ + ω²)`` (``x`` the arms' mean LFC, ``v`` their variance, ``ζ``
  the treatment's shift of every guide, ``ω`` a guide × arm deviation): each guide is compared
  with itself, as MAGeCK-MLE's design or DrugZ's paired fold changes do, and a guide's
  efficacy cannot read as a difference. The reference arm alone gives the gene effect,
  ``x₀ ~ N(α_g + β_c, τ² + v₀)``: ``p(x₀) p(x₁ | x₀)``, each cell used once.
- **Noise that grows where reads are few.** A replicate's LFC has variance
  ``σ² + κ / (reads + 1)`` (the cell's mean final reads, depth-scaled): Poisson sampling of
  reads and a flask's bottleneck drift both scale with ``1 / abundance``, so depleted genes —
  few reads, dropout, drift — are not read as drug effects. Without read counts in the screen
  the noise is one ``σ``.
- **A two-group prior on the differences.** ``δ_g = 0`` with probability ``1 − π``, else
  ``δ_g ~ N(0, s²)`` (``π ~ Beta(1, 9)``, ``s ~ HalfNormal(1)``): the null is shrunk to 0 while a
  real difference keeps its size (a continuous heavy-tailed prior shrank a true −1.04 to −0.21
  and let essential genes' noise through). Given the other parameters ``δ_g`` has a
  closed-form two-component posterior, so it is integrated out of the likelihood and drawn
  afterwards from that posterior (:meth:`Condition.reported_posterior`) — no spike-and-slab
  geometry — and ``lfdr`` is exact per draw.
- **Gene effects integrated out too.** The reference arm's gene effects are Gaussian given the
  scales, so they are integrated out in closed form and drawn afterwards from their conditional:
  NUTS samples a dozen scales (and the lines' offsets), which mixes in seconds where thousands
  of gene effects took most of the fit and sometimes failed the gate by chance (R-hat 1.011 at
  one of 2,000).

Reported: ``condition_difference`` with ``lfsr``, ``lfdr`` = 1 − P(|δ| > ε) and q-values
(:mod:`screenfit.results.conditions`); ``gene_effect`` is the reference arm's effect. One
treatment is compared with its reference per fit. The pairing couples a guide's cells, so
the model has no per-unit log-likelihood (no LOO or predictive checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from scipy import special, stats

from screenfit.data.design import CELL_READS, CONDITION, GENE, GUIDE, LINE, Design
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError
from screenfit.models.base import ScreenModel
from screenfit.models.blocks import line_offsets
from screenfit.models.collapsed import segment_sum
from screenfit.models.guide_grid import GuideGrid

#: Names taken as the reference condition when none is given (case-insensitive).
REFERENCE_NAMES = ("vehicle", "control", "dmso", "untreated", "mock", "ctrl")
DIFFERENCE = "condition_difference"
PROB_DIFFERENCE = "condition_prob_difference"
SCORE, INFORMATION = "condition_score", "condition_information"
"""Per gene and draw, ``h`` and ``H`` of the guides' log-likelihood in the difference, ``h δ − H δ²/2``."""
GENE_SCORE, GENE_INFORMATION = "gene_score", "gene_information"
"""Per gene and draw, ``S`` and ``P`` of the reference arm's log-likelihood in the gene effect, ``S α − P α²/2``."""
GENE_EFFECT, GENE_MU, GENE_SD = "gene_effect", "gene_effect_mu", "gene_effect_sd"
HIT_SHARE, SLAB_SD = "condition_hit_share", "condition_difference_sd"
#: What :func:`~screenfit.data.design.cell_reads` needs for the noise to grow with fewer reads.
READ_COLUMNS = ("counts_final", "library_size_final")
CONTRAST = "contrast"
"""Dimension of the non-reference condition compared with the reference."""


@dataclass(frozen=True)
class PairedCells:
    """Each guide × line's cells as a dense (units × 2) layout: column 0 the reference arm, 1 the treated.

    ``n`` replicates (0 where a guide was not read in an arm), ``mean`` and ``ss`` their LFC's
    mean and within-cell sum of squares, ``reads`` the cell's mean final reads (or ``None``);
    ``gene`` and ``line`` each unit's codes.
    """

    n: np.ndarray
    mean: np.ndarray
    ss: np.ndarray
    reads: np.ndarray | None
    gene: np.ndarray
    line: np.ndarray

    @classmethod
    def of(cls, design: Design, treated: int) -> PairedCells:
        """The layout of a (guide, line, condition) design; ``treated`` is the treated arm's condition code."""
        guide, line, cond = (design.index[k] for k in (GUIDE, LINE, CONDITION))
        unit_key = guide.astype(np.int64) * len(design.coords[LINE]) + line
        keys, first, unit = np.unique(unit_key, return_index=True, return_inverse=True)
        column = (cond == treated).astype(int)
        shape = (len(keys), 2)

        def dense(values: np.ndarray) -> np.ndarray:
            out = np.zeros(shape)
            out[unit, column] = values
            return out

        reads = design.covariates.get(CELL_READS)
        return cls(dense(design.n), dense(design.y_mean), dense(design.y_ss),
                   None if reads is None else dense(reads), design.index[GENE][first], line[first])  # fmt: skip


class Condition(ScreenModel):
    """A treatment's per-gene difference from its reference arm, guides paired across arms (module docstring).

    ``y_r ~ N(μ_s, σ_r)`` in the reference arm and ``N(μ_s + ζ + δ_g + η_s, σ_r)`` in the treated one,
    ``σ_r² = σ² + κ / (reads + 1)``, ``η_s ~ N(0, ω)``, ``μ_s`` free, the reference arm's guide means
    ``~ N(α_g + β_c, τ)``, ``δ_g ~ (1 − π) δ₀ + π N(0, s²)``; ``α_g`` and ``δ_g`` integrated out and
    drawn from their conditionals.
    """

    name = "condition"
    title = "gene effects + per-gene differences between a treatment and its reference (drug vs vehicle), with FDR"
    mean_level = (GENE, LINE, CONDITION)
    unit_level: ClassVar[tuple[str, ...]] = (GUIDE, LINE, CONDITION)
    #: Draws per chain: NUTS samples scales only; gene effects and differences are drawn exactly given them.
    #: 1,000 rather than 500: where ``ω`` or ``σ`` nears 0 its lower tail mixes slowly, and 2,000 draws
    #: left the gate to chance (R-hat 1.012 at ``ω`` on one simulated screen; 1.005 with 4,000).
    recommended_draws: ClassVar[int] = 1000
    #: The guide intercepts couple a guide's cells: no per-unit log-likelihood or predictive checks.
    pointwise: ClassVar[bool] = False
    #: Each gene's score and information are functions of the few noise scales and the shift.
    derived_variables: ClassVar[tuple[str, ...]] = (SCORE, INFORMATION, GENE_SCORE, GENE_INFORMATION)
    conditional_draws: ClassVar[tuple[str, ...]] = (GENE_EFFECT, DIFFERENCE)
    revision: ClassVar[int] = 4
    #: ``guide_condition_sd`` sits near 0 on screens without guide × arm deviations: one divergence
    #: in 4,000 transitions at 0.9.
    target_accept: ClassVar[float | None] = 0.95

    def reference(self, levels: list[str], source: str = "<memory>") -> str:
        """The reference condition among ``levels``: the option, else the one with a control-like name."""
        wanted = self.options.reference_condition
        if wanted is not None:
            if wanted not in levels:
                raise ScreenfitInputError(
                    f"the reference condition '{wanted}' is not in the screen (conditions: {', '.join(levels)}).",
                    file=source,
                    column=CONDITION,
                    fix="pass one of those to --reference-condition.",
                )
            return wanted
        named = [lvl for lvl in levels if lvl.lower() in REFERENCE_NAMES]
        if len(named) != 1:
            raise ScreenfitInputError(
                f"cannot tell which condition is the reference (conditions: {', '.join(levels)}).",
                file=source,
                column=CONDITION,
                fix="pass --reference-condition NAME (the untreated arm, e.g. vehicle).",
            )
        return named[0]

    def check_screen(self, screen: Screen) -> None:
        super().check_screen(screen)
        t = screen.table
        if CONDITION not in t.columns or t[CONDITION].isna().all():
            raise ScreenfitInputError(
                f"model '{self.name}' compares conditions but the screen has no 'condition' column.",
                file=screen.source,
                column=CONDITION,
                fix="give each final sample a treatment in the sample sheet (column 'treatment'), or a "
                "'condition' column in the long table.",
            )
        missing = t[CONDITION].isna()
        if missing.any():
            raise ScreenfitInputError(
                "some replicates have no condition",
                file=screen.source,
                column=CONDITION,
                rows=sorted(t.loc[missing, "replicate_id"].astype(str).unique()),
                fix="fill in every replicate's condition.",
            )
        levels = sorted(t[CONDITION].astype(str).unique())
        if len(levels) < 2:
            raise ScreenfitInputError(
                f"model '{self.name}' needs at least two conditions; the screen has only '{levels[0]}'.",
                file=screen.source,
                column=CONDITION,
                fix="fit a model without conditions (e.g. gene-cellline).",
            )
        reference = self.reference(levels, screen.source)
        if len(levels) > 2:
            others = [lvl for lvl in levels if lvl != reference]
            raise ScreenfitInputError(
                f"model '{self.name}' compares one treatment with its reference; the screen has "
                f"{len(others)} besides '{reference}' ({', '.join(others)}).",
                file=screen.source,
                column=CONDITION,
                fix=f"fit each treatment with its reference: ingest a screen per treatment from a sample sheet "
                f"that lists only the '{reference}' samples and that treatment's.",
            )
        if self.options.guide_offsets or self.options.guide_efficacy or self.options.covariate:
            raise ScreenfitInputError(
                f"model '{self.name}' pairs each guide's arms through its own intercept; guide offsets, "
                "efficacy and covariates do not apply to it.",
                file=screen.source,
                fix="fit the condition model without guide-level terms or covariates.",
            )
        self.plan.reads_noise = all(c in t.columns and bool(t[c].notna().all()) for c in READ_COLUMNS)

    @property
    def covariate_columns(self) -> tuple[str, ...]:
        """The cells' mean final reads where the screen has read counts (decided when it is checked)."""
        return (CELL_READS,) if self.plan.reads_noise else ()

    def level(self, collapse: bool) -> tuple[str, ...]:
        """Guide × line × condition cells: the guide intercepts are per guide × line."""
        return (GUIDE, LINE, CONDITION)

    def mean(self, design: Design) -> pt.TensorVariable:
        raise NotImplementedError("the condition model builds its own marginal likelihood (Condition.build)")

    def build(self, design: Design, evaluation: bool = False, grid: GuideGrid | None = None) -> pm.Model:
        """The PyMC model on a (guide, line, condition) design (see the class docstring); ``grid`` is
        the base signature's streamed guide grid, which a condition design never has."""
        if evaluation:
            raise ValueError(f"model '{self.name}' has no per-unit likelihood to evaluate")
        if grid is not None:
            raise ValueError(f"model '{self.name}' is not fitted on a guide grid")
        levels = list(design.coords[CONDITION])
        reference = self.plan.reference(lambda: self.reference(levels))
        treated = next(lvl for lvl in levels if lvl != reference)
        cells = PairedCells.of(design, levels.index(treated))
        coords = {GENE: design.coords[GENE], LINE: design.coords[LINE], CONTRAST: [treated]}
        n_genes = len(design.coords[GENE])
        with pm.Model(coords=coords) as model:
            line = line_offsets()[cells.line] if len(design.coords[LINE]) > 1 else pt.zeros(len(cells.gene))
            h, precision = _paired_guides(cells, line, n_genes)
            _two_group_difference(h, precision, cells.gene, n_genes)
        return model

    def reported_posterior(self, posterior: xr.Dataset, in_place: bool = False) -> xr.Dataset:
        """The draws with ``gene_effect``, ``condition_difference`` and ``condition_prob_difference`` in
        place of the per-gene statistics they are drawn from (:func:`gene_effect_draws`,
        :func:`difference_draws`)."""
        if SCORE not in posterior:
            return posterior
        out = posterior if in_place else posterior.copy()
        out[GENE_EFFECT] = gene_effect_draws(out)
        for name, values in difference_draws(out, self.options.min_difference).items():
            out[name] = values
        for name in (SCORE, INFORMATION, GENE_SCORE, GENE_INFORMATION):
            del out[name]
        return out

    def extra_tables(self, idata: az.InferenceData, ci_prob: float) -> dict[str, pd.DataFrame]:
        """``condition_effects``: per gene, the difference with lfsr, lfdr and q-value."""
        from screenfit.results.conditions import condition_table

        assert self.plan.reference_level is not None, "the model was not built"
        post = idata.posterior
        table = condition_table(post[DIFFERENCE], self.plan.reference_level, ci_prob, self.options.min_difference,
                                post.get(PROB_DIFFERENCE))  # fmt: skip
        return {"condition_effects": table}


def _paired_guides(
    cells: PairedCells, line: pt.TensorVariable, n_genes: int
) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """Add each guide × line's likelihood at ``δ = 0``, the gene effects integrated out, and return
    per unit ``(h, H)`` of its log-likelihood in ``δ``, ``h δ − H δ² / 2``.

    With the guide's intercept ``μ_s`` free, its two arms ``x₀ ~ N(μ_s, v₀)``, ``x₁ ~ N(μ_s + ζ + δ, v₁ + ω²)``
    give ``x₁ − x₀ − ζ ~ N(δ, w)``, ``w = v₁ + ω² + v₀`` (the pair), and the reference arm alone gives
    the gene effect, ``x₀ ~ N(α_g + β_c, τ² + v₀)``: ``p(x₀) p(x₁ | x₀)``, each cell used once.
    ``α_g ~ N(μ_α, σ_α)`` is Gaussian given the rest, so it is integrated out here and drawn
    afterwards (:func:`gene_effect_draws`): NUTS samples a dozen scales, not thousands of genes.

    (A shared scaling of every effect under the treatment, ``x₁ ~ (1 + λ) μ_s + …``, is not
    identified this way: with ``μ_s`` free, ``log w`` pulls ``λ`` below 0 — −0.12 on a screen
    simulated without one — which read essential genes as sensitised.)
    """
    # Gamma(2, 10) (mode 0.1) rather than a half-normal, as for ω below: where the reads explain the
    # noise the posterior of σ reaches down to 0 (on fitseq's grown screens: 0.5% quantile 0.005)
    # and its log-transformed lower tail mixed slowly (tail ESS 298 of 2,000).
    sigma = pm.Gamma("sigma", alpha=2.0, beta=10.0)
    variance = pt.broadcast_to(sigma**2, cells.n.shape)
    if cells.reads is not None:
        kappa = pm.HalfNormal("read_noise", 5.0)
        variance = variance + kappa / (pt.constant(cells.reads) + 1.0)
    # Gamma(2, 40) (mode 0.025) rather than a half-normal: on screens without guide × arm deviations
    # the posterior hugs 0 and, log-transformed, its lower tail mixed slowly (tail ESS 199 of 2,000).
    omega = pm.Gamma("guide_condition_sd", alpha=2.0, beta=40.0)
    shift = pm.Normal("condition_shift", 0.0, 0.5, dims=CONTRAST)[0]
    tau = pm.HalfNormal("guide_sd", 1.0)
    n, seen = pt.constant(cells.n), cells.n > 0
    v = variance / pt.maximum(n, 1.0)
    x = pt.constant(cells.mean)
    ref, pair = pt.constant(seen[:, 0].astype(float)), pt.constant((seen[:, 0] & seen[:, 1]).astype(float))
    v_ref = tau**2 + v[:, 0]
    _gene_marginal(x[:, 0] - line, ref / v_ref, ref * pt.log(v_ref), cells.gene, n_genes)
    w = v[:, 1] + omega**2 + v[:, 0]
    d = x[:, 1] - x[:, 0] - shift
    paired = pair * (-0.5 * pt.log(w) - d**2 / (2.0 * w))
    within = pt.constant(seen.astype(float)) * (
        -(n - 1.0) * 0.5 * pt.log(variance) - pt.constant(cells.ss) / (2.0 * variance)
    )
    pm.Potential("lfc_guides", pt.sum(paired) + pt.sum(within))
    return pair * d / w, pair / w


def _gene_marginal(
    y: pt.TensorVariable, precision: pt.TensorVariable, log_variance: pt.TensorVariable, gene: np.ndarray, n_genes: int
) -> None:
    """The reference arm's ``y_u ~ N(α_g, 1 / p_u)`` with ``α_g ~ N(μ_α, σ_α)`` integrated out per gene.

    With ``P = Σ p_u``, ``S = Σ p_u y_u``, ``A = P + 1/σ_α²`` and ``B = S + μ_α/σ_α²``, the gene's
    marginal log-likelihood is ``−½ Σ log(1/p_u) − ½ log(σ_α² A) − ½ (Σ p_u y_u² + μ_α²/σ_α²) + B²/(2A)``.
    ``S`` and ``P`` are kept per draw (:data:`GENE_SCORE`, :data:`GENE_INFORMATION`).
    """
    mu = pm.Normal(GENE_MU, 0.0, 1.0)
    sd = pm.HalfNormal(GENE_SD, 1.0)
    index = pt.constant(gene)
    big_p = segment_sum(precision, index, (n_genes,))
    score = segment_sum(precision * y, index, (n_genes,))
    prior = 1.0 / sd**2
    b = score + mu * prior
    marginal = (
        -0.5 * pt.sum(log_variance)
        - 0.5 * pt.sum(pt.log1p(sd**2 * big_p))
        - 0.5 * (pt.sum(precision * y**2) + n_genes * mu**2 * prior)
        + 0.5 * pt.sum(b**2 / (big_p + prior))
    )
    pm.Potential("gene_effect_marginal", marginal)
    pm.Deterministic(GENE_SCORE, score, dims=GENE)
    pm.Deterministic(GENE_INFORMATION, big_p, dims=GENE)


def _two_group_difference(h: pt.TensorVariable, precision: pt.TensorVariable, gene: np.ndarray, n_genes: int) -> None:
    """Integrate each gene's difference out under the two-group prior; keep its sufficient statistics.

    Per gene the guides' log-likelihood in ``δ`` is ``h δ − H δ²/2``; under ``N(0, s²)`` its
    integral is ``exp(h² s² / (2(1 + s² H))) / √(1 + s² H)``, under the point null 1. ``h`` and
    ``H`` are kept per draw (:data:`SCORE`, :data:`INFORMATION`); :func:`difference_draws` turns
    them into draws of ``δ``.
    """
    share = pm.Beta(HIT_SHARE, 1.0, 9.0, dims=CONTRAST)
    slab = pm.HalfNormal(SLAB_SD, 1.0, dims=CONTRAST)
    index = pt.constant(gene)
    h_g = segment_sum(h, index, (n_genes, 1))  # genes × the one contrast
    big_h = segment_sum(precision, index, (n_genes, 1))
    log_hit, log_null = _log_evidence(h_g, big_h, share[None, :], slab[None, :], pt)
    pm.Potential("condition_difference_marginal", pt.sum(pt.logaddexp(log_hit, log_null)))
    pm.Deterministic(SCORE, h_g, dims=(GENE, CONTRAST))
    pm.Deterministic(INFORMATION, big_h, dims=(GENE, CONTRAST))


def _log_evidence(h, big_h, share, slab, xp):  # type: ignore[no-untyped-def]
    """Log of ``π ×`` the slab's marginal likelihood and of ``(1 − π) ×`` the null's (PyTensor or NumPy)."""
    s2 = slab**2
    log_hit = xp.log(share) - 0.5 * xp.log1p(s2 * big_h) + 0.5 * h**2 * s2 / (1.0 + s2 * big_h)
    return log_hit, xp.log1p(-share)


def gene_effect_draws(posterior: xr.Dataset, seed: int = 1) -> xr.DataArray:
    """Draws of ``α_g`` from its Gaussian conditional given each draw of the rest,
    ``N(B / A, 1 / A)`` (:func:`_gene_marginal`), with a fixed seed."""
    score = posterior[GENE_SCORE]
    prior = 1.0 / posterior[GENE_SD] ** 2
    precision = posterior[GENE_INFORMATION] + prior
    mean = (score + posterior[GENE_MU] * prior) / precision
    noise = np.random.default_rng(seed).standard_normal(mean.shape)
    return (mean + noise / np.sqrt(precision)).transpose(*score.dims).rename(GENE_EFFECT)


def difference_draws(posterior: xr.Dataset, min_difference: float, seed: int = 0) -> dict[str, xr.DataArray]:
    """Draws of ``δ`` from its conditional given each draw of the rest, and per draw the probability
    that ``|δ| > ε`` (Rao-Blackwellised: exact given the draw, so q-values carry no Monte Carlo noise).

    Given a draw, ``δ = 0`` with the null's posterior odds, else ``δ ~ N(h/A, 1/A)``, ``A = H + 1/s²``.
    The draws use a fixed seed: the same posterior gives the same table.
    """
    h = posterior[SCORE]
    dims = h.dims
    big_h = posterior[INFORMATION].transpose(*dims).values
    share = posterior[HIT_SHARE].broadcast_like(h).transpose(*dims).values
    slab = posterior[SLAB_SD].broadcast_like(h).transpose(*dims).values
    log_hit, log_null = _log_evidence(h.values, big_h, share, slab, np)
    hit = special.expit(log_hit - log_null)
    precision = big_h + 1.0 / slab**2
    mean, sd = h.values / precision, 1.0 / np.sqrt(precision)
    rng = np.random.default_rng(seed)
    drawn = np.where(rng.random(hit.shape) < hit, mean + sd * rng.standard_normal(hit.shape), 0.0)
    beyond = stats.norm.sf((min_difference - mean) / sd) + stats.norm.cdf((-min_difference - mean) / sd)
    return {DIFFERENCE: h.copy(data=drawn), PROB_DIFFERENCE: h.copy(data=hit * beyond)}
