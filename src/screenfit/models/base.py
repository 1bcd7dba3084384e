"""What every screenfit model shares: options, the Gaussian likelihood on sufficient statistics,
covariate slopes, and the declaration a model makes of its parameters.

A model is one class: it states its parameters, priors and mean in :meth:`ScreenModel.mean`
and its equation in the docstring; :mod:`screenfit.models.registry` exposes it by name.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, replace
from typing import ClassVar, Literal, Self, TypeVar

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from screenfit.data.design import DAYS, GENE, GUIDE, LINE, PDNA_BATCH, UNIT_LEVEL, Design
from screenfit.data.screen import Screen
from screenfit.data.stream import StreamedScreen
from screenfit.inference.samplers import SamplerConfig
from screenfit.models.blocks import noise_is_data_rich, per_group, slopes_are_data_rich
from screenfit.models.checks import check_screen
from screenfit.models.collapsed import CollapsedEffects, segment_sum
from screenfit.models.efficacy import EffectUnits, full_knockout
from screenfit.models.guide_grid import GuideGrid
from screenfit.models.likelihood import build_model, rows_or_grid
from screenfit.models.plan import ModelPlan
from screenfit.models.terms import (
    CopyNumber,
    Covariate,
    GuideEfficacy,
    GuideNoise,
    GuideOffsets,
    Term,
    TimeCourse,
    terms_from_options,
)
from screenfit.models.terms.time_course import REFERENCE_DAYS, SCREEN_DELAY

Observed = Literal["lfc", "counts"]
T = TypeVar("T", bound=Term)


@dataclass(frozen=True)
class ModelOptions:
    """Options every model accepts.

    Attributes
    ----------
    covariate
        A cell-line feature column (per gene × line, e.g. ``is_mutated``, ``rna_expr``): adds a
        per-gene slope ``b_g · x_gc``, ``b_g ~ N(0, 0.5)``, reported as ``covariate_slope``.
    cn_column
        Copy-number covariate of models with a copy-number term: the seed's ``gene_cn_z``
        (default) or ``cn_excess = min(gene_cn, 10) − 1`` (both computed from ``gene_cn`` when
        absent), or any numeric column. ``None`` leaves the term out of models whose copy number
        is optional (``cn_optional``: gene-by-line and its lineage form), for screens without it.
    dependency_threshold
        Effects below this count as a dependency in ``prob_lt_threshold`` / probability of
        dependency columns.
    reference_condition
        Models that compare conditions: the ``condition`` level the others are compared with
        (default: the one named vehicle, control, DMSO, untreated, mock or ctrl).
    guide_offsets
        Add an offset per guide and pDNA batch, ``γ_sb ~ N(0, σ_γ)``, ``σ_γ ~ HalfNormal(0.2)``
        (:meth:`ScreenModel.guide_offset_term`): the reference count of a guide is measured once
        per batch, so its error is shared by every line screened against that batch.
    guide_efficacy
        Models whose mean has a part a guide's knockout efficacy scales (``efficacy_scaled``,
        e.g. gene-by-line): multiply that part by a per-guide efficacy ``e_s`` in (0, 1)
        (:meth:`ScreenModel.guide_efficacy`), as Chronos does, so a dud guide neither drags its
        gene's effect nor smears its variation across lines.
    guide_noise
        LFC models: give each guide its own noise scale, ``σ_sc = σ_c λ_s``, ``log λ_s = τ_λ z_s``,
        ``z_s ~ N(0, 1)``, ``τ_λ ~ HalfNormal(0.5)`` (:meth:`ScreenModel.guide_noise`). Guides
        with few reference reads are noisy: they entered few cells, and one dropout to zero reads
        in a line reads as a deep depletion (KY sample: residual variance of non-essential
        guides ≈ 0.82 / relative reference abundance, 16% below −3 LFC in the lowest tenth).
    cn_efficacy
        With ``guide_efficacy``: the copy-number term scales with each guide's efficacy too,
        ``mean = rest + e_s · (scaled + κ_c · cn)``: cutting toxicity needs the cut, so a guide
        that knocks its gene out less also cuts less. With the copy-number term outside the
        efficacy, the effects of well-cutting guides kept part of their toxicity: CN r among
        NEGv1 genes −0.053 on the Avana sample and −0.049 on KY, with it −0.041 and −0.019, the
        per-line AUROC unchanged (gene-by-line by SVI, robust configuration; docs/validation.md).
    guide_offset_nu
        With ``guide_offsets``: Student-t offsets with this many degrees of freedom instead of
        Gaussian ones, so a guide that depletes on its own in every line (off-target or
        multi-locus cutting) takes an offset rather than making its gene look essential.
        ``"learn"`` learns them from the screen, ``ν ~ Gamma(2, 0.1)`` (:meth:`ScreenModel.guide_offset_nu`):
        heavy tails where a few guides stray, near-Gaussian offsets where none do.
    min_difference
        Models that compare conditions: the smallest difference in effect (LFC) that counts as
        one in ``prob_difference``, ``lfdr`` and ``qvalue``.
    time_course
        Models with an efficacy-scaled part: scale the mean by the days the knockouts had to act,
        ``f(t) = (t − δ) / (t_ref − δ)`` (:meth:`ScreenModel.time_factor`), as Chronos models
        growth after a screen delay. Time points of a replicate (``days``) are then fitted as
        such instead of as replicates, and screens of different lengths (KY at day 14, Avana at
        day 21) share one scale: the effect of a ``reference_days``-day screen.
    screen_delay
        With ``time_course``: days after infection before a knockout acts (``δ``; Chronos: 3).
        ``None`` learns it, ``δ ~ Uniform(0, earliest time point)``, which needs a line
        screened at two or more time points.
    reference_days
        With ``time_course``: the screen length whose effect is reported (``t_ref``, default 21,
        DepMap's Avana screens).
    collapse_gene_line
        Models with ``collapsible`` gene × line effects (gene-by-line, gene-by-line-lineage):
        integrate each effect out of the likelihood, where it is conditionally Gaussian, and draw
        it from its conditional given the other parameters (:mod:`screenfit.models.collapsed`).
        The same posterior; the effects' spread ``τ_g`` then meets the data through its marginal
        likelihood, which mean-field SVI needs to keep it from shrinking. ``None`` (default):
        decided by :meth:`ScreenModel.settled` — on for SVI fits.
    """

    covariate: str | None = None
    cn_column: str | None = "gene_cn_z"
    dependency_threshold: float = -0.5
    reference_condition: str | None = None
    min_difference: float = 0.1
    guide_offsets: bool = False
    guide_efficacy: bool = False
    guide_noise: bool = False
    guide_offset_nu: float | Literal["learn"] | None = None
    cn_efficacy: bool = False
    time_course: bool = False
    screen_delay: float | None = SCREEN_DELAY
    reference_days: float = REFERENCE_DAYS
    collapse_gene_line: bool | None = None

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for config.json."""
        return asdict(self)


class ScreenModel(ABC):
    """Base class of the model zoo.

    Class attributes a model sets:

    - ``name``, ``title``: registry name and one-line description;
    - ``observed``: ``"lfc"`` (Gaussian) or ``"counts"`` (negative binomial on read counts);
    - ``mean_level``: the finest columns its mean depends on, which is how far rows collapse;
    - ``noise_by``: ``None`` for one noise SD, ``"depmap_id"`` for one per cell line;
    - ``uses_cn``: whether it has a copy-number term;
    - ``gene_effect``, ``gene_line_effect``: names of the variables reported as gene effects
      (dims ``hugo_symbol``) and gene × cell-line effects (dims ``hugo_symbol, depmap_id``);
    - ``location_pairs``: pairs of location parameters that are identified only through their
      sum if the model is mis-specified; the diagnostics check their posterior correlation.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    observed: ClassVar[Observed] = "lfc"
    mean_level: ClassVar[tuple[str, ...]] = (GENE, LINE)
    noise_by: ClassVar[str | None] = None
    uses_cn: ClassVar[bool] = False
    #: Whether the copy-number term may be left out (``options.cn_column=None``).
    cn_optional: ClassVar[bool] = False
    needs_lineage: ClassVar[bool] = False
    gene_effect: ClassVar[str] = "gene_effect"
    gene_line_effect: ClassVar[str | None] = None
    location_pairs: ClassVar[tuple[tuple[str, str], ...]] = ()
    recommended_draws: ClassVar[int] = 1000
    #: Whether grid layouts broadcast the mean's gene and line terms (:func:`~screenfit.models.blocks.on_grid`).
    grid_broadcast: ClassVar[bool] = True
    #: The unit of the pointwise log-likelihood and predictive checks (one guide in one line;
    #: models with more structure per line, e.g. conditions, split it further).
    unit_level: ClassVar[tuple[str, ...]] = UNIT_LEVEL
    #: nutpie mass matrix when the sampler config says ``auto``.
    mass_matrix: ClassVar[Literal["diag", "low_rank"]] = "diag"
    #: NUTS target acceptance where the sampler config keeps its default (``None``: the default).
    target_accept: ClassVar[float | None] = None
    #: Whether the model splits its mean into a rest and a part a guide's efficacy scales
    #: (:meth:`mean_parts`), so ``options.guide_efficacy`` applies to it.
    efficacy_scaled: ClassVar[bool] = False
    #: Whether the model's gene × line effects can be integrated out (``options.collapse_gene_line``).
    collapsible: ClassVar[bool] = False
    #: Deterministics of a few gated scalars only: drawn, not gated (their R-hat adds nothing).
    derived_variables: ClassVar[tuple[str, ...]] = ()
    #: Reported variables drawn after sampling from their exact conditional given the gated
    #: scalars (:meth:`reported_posterior`): no per-element R-hat/ESS columns in the tables.
    conditional_draws: ClassVar[tuple[str, ...]] = ()
    #: Whether the likelihood sums over units (pointwise log-likelihood, predictive checks).
    pointwise: ClassVar[bool] = True
    #: Raised when the model's density or reported draws change within a release, so cached fits
    #: and compiled models of the old form are not reused (it is part of the fit's hash).
    revision: ClassVar[int] = 1

    def __init__(self, options: ModelOptions | None = None) -> None:
        self.options = options or ModelOptions()
        #: Decisions made from the data once and kept for every later build (:mod:`screenfit.models.plan`).
        self.plan = ModelPlan()
        #: Set on the copy :meth:`build` builds on: whether it builds the evaluation form, and the
        #: effects it integrates out; never on the model itself.
        self.evaluating = False
        self._collapsed: CollapsedEffects | None = None

    @property
    def terms(self) -> tuple[Term, ...]:
        """The model's terms, from its options (:func:`~screenfit.models.terms.terms_from_options`)."""
        return terms_from_options(self.options, self.uses_cn)

    def term(self, kind: type[T]) -> T | None:
        """The model's term of this kind, or ``None``."""
        return next((t for t in self.terms if isinstance(t, kind)), None)

    #: Genes above which the default draws double: the largest of many noisy R-hats crosses 1.01 by chance.
    MANY_GENES: ClassVar[int] = 10_000

    def draws_for(self, screen: Screen | StreamedScreen) -> int:
        """Draws per chain when none are given: twice ``recommended_draws`` above :data:`MANY_GENES` genes."""
        return 2 * self.recommended_draws if screen.count(GENE) > self.MANY_GENES else self.recommended_draws

    def sampler_for(self, screen: Screen | StreamedScreen, sampler: SamplerConfig | None) -> SamplerConfig:
        """``sampler`` (default config if ``None``) with the model's draws, mass matrix, target
        acceptance and the sampler's tuning steps where left open."""
        sampler = sampler or SamplerConfig()
        if sampler.draws is None:
            sampler = replace(sampler, draws=self.draws_for(screen))
        if sampler.mass_matrix == "auto":
            sampler = replace(sampler, mass_matrix=self.mass_matrix)
        if self.target_accept is not None and sampler.target_accept == SamplerConfig.target_accept:
            sampler = replace(sampler, target_accept=self.target_accept)
        if sampler.tune is None and sampler.is_mcmc:
            sampler = replace(sampler, tune=sampler.tuning_steps)  # recorded in config.json
        return sampler

    #: Samplers for which ``collapse_gene_line`` left open means on: mean-field SVI's intervals cover better.
    COLLAPSING_SAMPLERS: ClassVar[frozenset[str]] = frozenset({"svi"})

    def settled(self, sampler: SamplerConfig) -> Self:
        """A copy with the options left open (``collapse_gene_line=None``) fixed for ``sampler``, before the
        fit's hash is taken, so config.json records what was fitted; the plan is shared."""
        if self.options.collapse_gene_line is not None:
            return self
        on = self.collapsible and sampler.method in self.COLLAPSING_SAMPLERS
        settled = copy.copy(self)
        settled.options = replace(self.options, collapse_gene_line=on)
        return settled

    def cn_term(self, design: Design) -> pt.TensorVariable:
        """The copy-number term (:class:`~screenfit.models.terms.CopyNumber`), its slopes centred where the
        data pin each line's (decided once); zeros when the model leaves copy number out."""
        term = self.term(CopyNumber)
        if term is None:
            return pt.constant(np.zeros(design.n_groups))
        centred = self.plan.centred("cn_slope", lambda: slopes_are_data_rich(design, term.column))
        return term.declare(design, centred)

    @property
    def covariate_columns(self) -> tuple[str, ...]:
        """Per-group covariates the design must carry for this model."""
        cols = [self.options.cn_column] if self.has_cn and self.options.cn_column else []
        if self.options.covariate:
            cols.append(self.options.covariate)
        if self.options.time_course:
            cols.append(DAYS)
        return tuple(cols)

    @property
    def has_cn(self) -> bool:
        """Whether this model's mean has a copy-number term (``uses_cn``, not left out by ``cn_column=None``)."""
        return self.uses_cn and self.options.cn_column is not None

    @property
    def evaluation_level(self) -> tuple[str, ...]:
        """The unit of the pointwise log-likelihood: ``unit_level``, split by pDNA batch where a line
        was screened against several (each batch's reference count is its own measurement, and guide
        offsets per batch need it) and by time point in a time course. Screen-derived, so every model
        of one screen has the same units."""
        level = (*self.unit_level, PDNA_BATCH) if self.plan.batches_within_line else self.unit_level
        return (*level, DAYS) if self.plan.days_within_line else level

    def check_screen(self, screen: Screen) -> None:
        """Raise a clear error when the screen lacks what the model needs or the options do not
        apply (:func:`~screenfit.models.checks.check_screen`); notes whether lines span pDNA
        batches or time points, which sets the evaluation units."""
        check_screen(self, screen)

    def time_factor(self, design: Design) -> pt.TensorVariable | None:
        """Per group, the share of a ``t_ref``-day screen's effect reached by its day
        (:meth:`~screenfit.models.terms.TimeCourse.factor`), or ``None`` without a time course."""
        term = self.term(TimeCourse)
        return None if term is None else term.factor(design)

    def screen_delay(self, first_day: float) -> pt.TensorVariable | float:
        """``δ`` of the time course: fixed, or learnt (:meth:`~screenfit.models.terms.TimeCourse.delay_variable`)."""
        term = self.term(TimeCourse)
        assert term is not None, "screen_delay needs a time_course term"
        return term.delay_variable(first_day)

    def level(self, collapse: bool) -> tuple[str, ...]:
        """The design level to sample at: collapsed to ``mean_level`` or one group per row."""
        if self.observed == "counts" or not collapse:
            return ("sgrna", "replicate_id")
        level = list(self.mean_level)
        if self.covariate_columns and LINE not in level:
            level.append(LINE)  # covariates vary per gene × line
        if self.options.guide_offsets:
            level += [c for c in (GUIDE, LINE, PDNA_BATCH) if c not in level]
        if self.options.guide_efficacy or self.options.guide_noise:
            level += [c for c in (GUIDE, LINE) if c not in level]
        if self.plan.days_within_line:
            level.append(DAYS)
        return tuple(level)

    @abstractmethod
    def mean(self, design: Design) -> pt.TensorVariable:
        """Declare the parameters (inside the model context) and return the mean per group."""

    def mean_parts(self, design: Design) -> tuple[pt.TensorVariable, pt.TensorVariable]:
        """``(rest, scaled)`` with ``mean = rest + scaled``, ``scaled`` the part a guide's efficacy
        multiplies; only models with ``efficacy_scaled`` implement it."""
        raise NotImplementedError(f"model '{self.name}' has no efficacy-scaled part")

    def collapse(self, effects: CollapsedEffects) -> pt.TensorVariable:
        """Hand gene × line effects to the likelihood to integrate out; returns their symbolic ``θ``
        for the mean (:mod:`screenfit.models.collapsed`)."""
        if self._collapsed is not None:
            raise ValueError(f"model '{self.name}' collapses one set of gene × line effects, not two")
        self._collapsed = effects
        return effects.theta

    #: Variables in units of effect, which the efficacy scale multiplies (:meth:`reported_posterior`).
    effect_units: ClassVar[EffectUnits] = EffectUnits(())

    def reported_posterior(self, posterior: xr.Dataset, in_place: bool = False) -> xr.Dataset:
        """The draws as reported: with guide efficacy, effects per full knockout and absolute
        efficacies (:func:`~screenfit.models.efficacy.full_knockout`); else ``posterior`` itself."""
        return full_knockout(posterior, self.effect_units, in_place=in_place)

    def likelihood_posterior(self, posterior: xr.Dataset) -> xr.Dataset:
        """Reported draws back in the likelihood's coordinates (the inverse of :meth:`reported_posterior`)."""
        return full_knockout(posterior, self.effect_units, inverse=True)

    def efficacy_split(
        self, design: Design
    ) -> tuple[pt.TensorVariable, tuple[pt.TensorVariable, pt.TensorVariable] | None]:
        """``(rest, (scaled, efficacy))`` with ``options.guide_efficacy`` (mean = ``rest + e_s · scaled``),
        else ``(mean, None)``; declares the model's parameters, then the efficacies."""
        if not self.options.guide_efficacy:
            return self.mean(design), None
        rest, scaled = self.mean_parts(design)
        return rest, (scaled, GuideEfficacy().declare())

    def guide_offset_term(self, design: Design) -> pt.TensorVariable | float:
        """Each group's guide offset (:class:`~screenfit.models.terms.GuideOffsets`), or 0 without the term."""
        if self.term(GuideOffsets) is None:
            return 0.0
        by_batch = self.guide_offsets_by_batch(design)
        return GuideOffsets.at_groups(self.guide_offsets(design), design, by_batch)

    def guide_offsets_by_batch(self, design: Design) -> bool:
        """Whether the guide offsets are per guide × pDNA batch (decided on the first design, kept)."""
        if self.plan.guide_offsets_by_batch is None:
            self.plan.guide_offsets_by_batch = PDNA_BATCH in design.index
        return self.plan.guide_offsets_by_batch

    def guide_offsets(self, design: Design) -> pt.TensorVariable:
        """The guide offsets declared in the model (dims ``sgrna`` [× ``pdna_batch``]; ``GuideOffsets.declare``)."""
        term = self.term(GuideOffsets)
        assert term is not None, "guide_offsets needs a guide_offsets term"
        return term.declare(design, self.gene_effect, self.guide_offsets_by_batch(design))

    def covariate_term(self, design: Design) -> pt.TensorVariable | float:
        """The covariate's per-gene slopes times its values (:class:`~screenfit.models.terms.Covariate`), or 0."""
        term = self.term(Covariate)
        return 0.0 if term is None else term.declare(design)

    def noise_scale(self, design: Design) -> pt.TensorVariable:
        """Noise SD: one ``σ ~ HalfNormal(1)``, or one per ``noise_by`` level, ``log σ_c ~ N(μ, τ)``.

        Per-line noise is centred when each line's residual spread is measured more precisely
        than the lines differ (:func:`~screenfit.models.blocks.noise_is_data_rich`): each ``σ_c``
        is then pinned by thousands of rows, and non-centred ``μ`` and ``z_c`` must move together.
        """
        if self.noise_by is None:
            return pm.HalfNormal("sigma", 1.0)
        by = self.noise_by
        mu = pm.Normal("log_sigma_mu", np.log(0.3), 1.0)
        tau = pm.HalfNormal("log_sigma_sd", 0.5)
        if self.plan.centred("log_sigma", lambda: noise_is_data_rich(design, by)):
            log_sigma = pm.Normal("log_sigma_line", mu, tau, dims=by)
        else:
            log_sigma = mu + tau * pm.Normal("log_sigma_z", 0.0, 1.0, dims=by)
        return pm.Deterministic("sigma_line", pt.exp(log_sigma), dims=by)

    def noise(self, design: Design) -> pt.TensorVariable:
        """Noise SD per group (:meth:`noise_scale` at each group's level, times :meth:`guide_noise`)."""
        scale = self.noise_scale(design)
        sigma = scale if self.noise_by is None else per_group(scale, design, self.noise_by)
        if self.options.guide_noise:
            sigma = sigma * per_group(GuideNoise().declare(), design, GUIDE)
        return sigma

    @property
    def keeps_own_noise(self) -> bool:
        """Whether the model overrides :meth:`noise` (the seed's models keep their priors): the
        faster likelihood layouts and ``--guide-noise`` assume the default noise."""
        return type(self).noise is not ScreenModel.noise

    def likelihood(self, design: Design, mean: pt.TensorVariable) -> None:
        """Gaussian likelihood on sufficient statistics (exact; see :mod:`screenfit.data.design`)."""
        sigma = self.noise(design)
        n = design.n
        collapsed = self._collapsed
        if collapsed is not None:
            resid, coef = collapsed.split(design.y_mean - mean)
            mean = design.y_mean - resid
            shape = (len(design.coords[GENE]), len(design.coords[LINE]))
            codes = pt.constant(design.index[GENE] * shape[1] + design.index[LINE])
            collapsed.integrate(resid, coef, n / sigma**2, lambda v: segment_sum(v, codes, shape))
        pm.Normal("lfc", mu=mean, sigma=sigma / np.sqrt(n), observed=design.y_mean, dims="obs")
        extra = n - 1.0
        if np.any(extra > 0):
            pm.Potential("lfc_within", pt.sum(-extra * pt.log(sigma) - design.y_ss / (2.0 * sigma**2)))

    def sampling_likelihood(self, design: Design, mean: pt.TensorVariable) -> None:
        """The likelihood the sampler sees on the design's groups: the same density as :meth:`likelihood`
        in the fastest layout (:func:`~screenfit.models.likelihood.rows_or_grid`)."""
        rows_or_grid(self, design, mean)

    def build(self, design: Design, evaluation: bool = False, grid: GuideGrid | None = None) -> pm.Model:
        """The PyMC model on ``design``, every parameter labelled by its dims; ``evaluation=True``
        declares the likelihood per group for the pointwise log-likelihood and predictive draws;
        ``grid`` a streamed screen's guide grid (layouts: :mod:`screenfit.models.likelihood`)."""
        # Built on a shallow copy that shares the options and the plan: what a build tracks (the
        # form it builds, the effects it integrates out) lives and dies with it, so the model a
        # fit holds does not change while it samples and evaluates.
        scope = copy.copy(self)
        scope.evaluating, scope._collapsed = evaluation, None
        return build_model(scope, design, evaluation, grid)

    def extra_tables(self, idata: az.InferenceData, ci_prob: float) -> dict[str, pd.DataFrame]:
        """Tables only this model has (file stem → table); none by default."""
        return {}
