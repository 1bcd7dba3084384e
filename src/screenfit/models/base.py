"""What every screenfit model shares: options, the Gaussian likelihood on sufficient statistics,
covariate slopes, and the declaration a model makes of its parameters.

A model is one class: it states its parameters, priors and mean in :meth:`ScreenModel.mean`
and its equation in the docstring; :mod:`screenfit.models.registry` exposes it by name.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import ClassVar, Literal

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from screenfit.data.design import DAYS, GENE, GUIDE, LINE, PDNA_BATCH, UNIT_LEVEL, Design
from screenfit.data.screen import Screen
from screenfit.data.stream import StreamedScreen
from screenfit.errors import ScreenfitInputError
from screenfit.inference.samplers import SamplerConfig
from screenfit.models.blocks import cn_slopes, noise_is_data_rich, on_grid, per_group, slopes_are_data_rich
from screenfit.models.collapsed import CollapsedEffects, columns_to_lines, segment_sum
from screenfit.models.efficacy import EffectUnits, declare_efficacy, full_knockout
from screenfit.models.guide_grid import GuideGrid, guide_grid
from screenfit.models.terms.guide_offsets import LEARN
from screenfit.models.terms.time_course import REFERENCE_DAYS, SCREEN_DELAY
from screenfit.models.time_sums import TimeSums, time_sums

Observed = Literal["lfc", "counts"]


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
        decided by :meth:`ScreenModel.settle_options` — on for SVI fits.
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
    #: Whether :meth:`grid_likelihood` broadcasts the gene and line terms of the mean on the grid
    #: (:func:`~screenfit.models.blocks.on_grid`) instead of materialising each as a full grid.
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
    #: Raised when the model's density or reported draws change within a release, so cached fits
    #: and compiled models of the old form are not reused (it is part of the fit's hash).
    revision: ClassVar[int] = 1

    def __init__(self, options: ModelOptions | None = None) -> None:
        self.options = options or ModelOptions()
        self.parametrisation: dict[str, bool] = {}
        self.centred_groups: dict[str, frozenset[str]] = {}
        self._guide_offsets_by_batch: bool | None = None
        #: Whether some line has several time points (set by :meth:`check_screen` with ``time_course``).
        self._days_within_line = False
        #: Whether some line was screened against several pDNA batches (set by :meth:`check_screen`).
        self._batches_within_line = False
        #: During :meth:`build`: whether it builds the evaluation form, and the effects it integrates out.
        self.evaluating = False
        self._collapsed: CollapsedEffects | None = None

    #: Genes above which the default draws double: the gate takes the largest R-hat over every
    #: gene effect, and the largest of many noisy R-hats crosses 1.01 by chance. On the HAP1 screen
    #: (18,047 genes, gene-cellline, 4 × 1,000 draws) it was 1.012, with bulk ESS ≥ 4,000.
    MANY_GENES: ClassVar[int] = 10_000

    def draws_for(self, screen: Screen | StreamedScreen) -> int:
        """Draws per chain to use on ``screen`` when none are given: ``recommended_draws``, twice
        that on screens of more than :data:`MANY_GENES` genes."""
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

    #: Samplers for which ``options.collapse_gene_line`` left open means on: mean-field SVI, whose
    #: 90% intervals covered 0.82 of the true effects without and 0.86 with it (realistic
    #: simulation, 300 genes × 60 lines, guide offsets and efficacy; docs/validation.md).
    COLLAPSING_SAMPLERS: ClassVar[frozenset[str]] = frozenset({"svi"})

    def settle_options(self, sampler: SamplerConfig) -> None:
        """Fix the options left open for the sampler (``collapse_gene_line=None``), before the fit's
        hash is taken, so config.json records what was fitted."""
        if self.options.collapse_gene_line is None:
            on = self.collapsible and sampler.method in self.COLLAPSING_SAMPLERS
            self.options = replace(self.options, collapse_gene_line=on)

    def centred(self, term: str, decide: Callable[[], bool]) -> bool:
        """Whether ``term`` is centred: decided once (on the first design built) and then reused.

        Every later build — e.g. the unit-level model for the pointwise log-likelihood — must
        have the same parameters as the sampled one. The choices go into config.json.
        """
        if term not in self.parametrisation:
            self.parametrisation[term] = bool(decide())
        return self.parametrisation[term]

    def centred_subset(self, term: str, decide: Callable[[], Sequence[str]]) -> frozenset[str]:
        """Labels of the groups whose ``term`` is centred (the rest non-centred), decided once.

        For terms where groups differ in how well the data pin them down (e.g. a selective
        gene's effects across lines vs a gene that barely varies). Kept by label, so a design
        over a subset of lines (K-fold) gets the same split. The choices go into config.json.
        """
        if term not in self.centred_groups:
            self.centred_groups[term] = frozenset(decide())
        return self.centred_groups[term]

    def cn_term(self, design: Design) -> pt.TensorVariable:
        """The copy-number slopes term, parametrised by the data (see ``blocks.cn_slopes``); zeros
        when the model leaves copy number out (``options.cn_column=None``)."""
        column = self.options.cn_column
        if column is None:
            return pt.constant(np.zeros(design.n_groups))
        centred = self.centred("cn_slope", lambda: slopes_are_data_rich(design, column))
        return cn_slopes(design, column, centred)

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
        level = (*self.unit_level, PDNA_BATCH) if self._batches_within_line else self.unit_level
        return (*level, DAYS) if self._days_within_line else level

    def check_screen(self, screen: Screen) -> None:
        """Raise a clear error when the screen lacks what the model needs (or the options do not apply)."""
        t = screen.table
        self._batches_within_line = PDNA_BATCH in t.columns and bool(
            (t.groupby(LINE, observed=True)[PDNA_BATCH].nunique() > 1).any()
        )
        if self.uses_cn and self.options.cn_column is None and not self.cn_optional:
            raise ScreenfitInputError(
                f"model '{self.name}' is built around its copy-number term; it needs a copy-number column.",
                file=screen.source,
                fix="give a copy-number column (gene_cn_z, cn_excess), or fit gene-cellline instead.",
            )
        if self.options.cn_efficacy and not (self.options.guide_efficacy and self.has_cn):
            raise ScreenfitInputError(
                "--cn-efficacy scales the copy-number term by each guide's efficacy: it needs --guide-efficacy "
                f"and a model with a copy-number term ('{self.name}' {'has' if self.has_cn else 'has none'}).",
                file=screen.source,
                fix="add --guide-efficacy (gene-by-line, gene-by-line-lineage), or drop --cn-efficacy.",
            )
        if self.options.guide_efficacy and not self.efficacy_scaled:
            raise ScreenfitInputError(
                f"model '{self.name}' has no effect term a guide's efficacy could scale.",
                file=screen.source,
                fix="fit gene-by-line with --guide-efficacy, or fit this model without it.",
            )
        if self.options.collapse_gene_line and not self.collapsible:
            raise ScreenfitInputError(
                f"model '{self.name}' has no gene × line effects to integrate out.",
                file=screen.source,
                fix="fit gene-by-line or gene-by-line-lineage with --collapse-gene-line, or this model without it.",
            )
        if self.options.guide_noise and (self.observed != "lfc" or self.keeps_own_noise):
            raise ScreenfitInputError(
                f"model '{self.name}' keeps its own noise model (read counts' negative binomial, or the "
                "seed notebook's priors); --guide-noise scales the noise of the other LFC models.",
                file=screen.source,
                fix="fit an LFC model (e.g. gene-by-line) with --guide-noise, or this model without it.",
            )
        nu = self.options.guide_offset_nu
        if nu is not None and (not self.options.guide_offsets or not (nu == LEARN or float(nu) > 0)):
            raise ScreenfitInputError(
                f"--guide-offset-nu {nu} needs --guide-offsets and a positive number of degrees of freedom.",
                file=screen.source,
                fix="add --guide-offsets and give --guide-offset-nu a value above 0 (e.g. 3) or 'learn', "
                "or leave it out.",
            )
        self.check_time_points(screen)
        if self.observed == "counts" and not screen.has("counts_initial", "counts_final"):
            raise ScreenfitInputError(
                f"model '{self.name}' models read counts but the screen has no counts_initial/counts_final.",
                file=screen.source,
                column="counts_final",
                fix="ingest the screen from counts (`screenfit ingest depmap` or `ingest counts`), or pick an "
                "LFC model such as gene-cellline.",
            )
        if self.observed == "counts" and "lfc_uncorrected" in screen.table.columns:
            raise ScreenfitInputError(
                f"model '{self.name}' models read counts, but this screen's LFC was corrected for proximity bias "
                "(`screenfit correct`), which the counts do not carry.",
                file=screen.source,
                column="lfc_uncorrected",
                fix="fit an LFC model (e.g. gene-cellline) on the corrected screen, or this model on the "
                "uncorrected one.",
            )
        if self.needs_lineage and not screen.has("lineage"):
            raise ScreenfitInputError(
                f"model '{self.name}' pools gene effects within lineage but the screen has no 'lineage' column.",
                file=screen.source,
                column="lineage",
                fix="ingest with cell-line annotations (`--annotations Model.csv`) or pick another model.",
            )
        if self.needs_lineage:
            t = screen.table
            missing = sorted(t.loc[t["lineage"].isna(), "depmap_id"].astype(str).unique())
            if missing:
                warnings.warn(
                    f"{screen.source}: {len(missing)} cell line(s) without a lineage, each pooled in a lineage of "
                    f"its own: {', '.join(missing)}. To leave them out instead: --annotated-lines-only.",
                    stacklevel=3,
                )

    def check_time_points(self, screen: Screen) -> None:
        """Check the ``days`` column for ``options.time_course`` (and note whether lines have
        several time points); without it, warn when time points would be pooled as replicates."""
        t = screen.table
        several = DAYS in t.columns and bool((t.groupby(LINE, observed=True)[DAYS].nunique() > 1).any())
        if not self.options.time_course:
            if several:
                warnings.warn(
                    f"{screen.source}: some cell lines were read at several time points (column 'days'); "
                    "without --time-course they are fitted as replicates of one effect.",
                    stacklevel=3,
                )
            return
        opts = self.options
        if not self.efficacy_scaled:
            raise ScreenfitInputError(
                f"model '{self.name}' has no effect term a time course could scale.",
                file=screen.source,
                fix="fit gene-by-line or gene-by-line-lineage with --time-course, or this model without it.",
            )
        if DAYS not in t.columns:
            raise ScreenfitInputError(
                "--time-course needs the days each sample was grown, but the screen has no 'days' column.",
                file=screen.source,
                column=DAYS,
                fix="ingest with a sequence map or sample sheet that has days, or fit without --time-course.",
            )
        days = pd.to_numeric(t[DAYS], errors="coerce")
        delay = 0.0 if opts.screen_delay is None else opts.screen_delay
        bad = days.isna() | (days <= delay)
        if bad.any():
            raise ScreenfitInputError(
                f"--time-course needs every sample read after the screen delay ({delay:g} days); "
                f"{int(bad.sum())} rows have days missing or ≤ {delay:g}.",
                file=screen.source,
                column=DAYS,
                rows=[int(i) + 1 for i in np.flatnonzero(bad.to_numpy())],
                fix="fill in the days, drop those samples, or lower --screen-delay.",
            )
        if opts.reference_days <= delay:
            raise ScreenfitInputError(
                f"--reference-days ({opts.reference_days:g}) must be after the screen delay ({delay:g}).",
                fix="pass a longer --reference-days (DepMap's Avana screens: 21).",
            )
        self._days_within_line = several
        if opts.screen_delay is None and not self._days_within_line:
            raise ScreenfitInputError(
                "learning the screen delay needs a cell line read at two or more time points; every line here has one.",
                file=screen.source,
                column=DAYS,
                fix=f"fix the delay (--screen-delay {SCREEN_DELAY:g}, Chronos' default).",
            )

    def time_factor(self, design: Design) -> pt.TensorVariable | None:
        """Per group, the share of a ``t_ref``-day screen's effect reached at day ``t``:
        ``f(t) = (t − δ) / (t_ref − δ)`` (``options.time_course``; else ``None``).

        A knockout acts ``δ`` days after infection and then slows growth at a constant rate, so
        the LFC of a gene effect grows linearly with the days after the delay — the growth model
        of Chronos, whose gene effect is that rate. ``δ`` is ``options.screen_delay`` or learnt,
        ``δ ~ Uniform(0, t_min)`` with ``t_min`` the earliest time point, which the data pin when
        a line is read at several times (the effects' ratio between two time points is
        ``(t₁ − δ)/(t₂ − δ)``).
        """
        if not self.options.time_course:
            return None
        days = design.covariates[DAYS]
        t_ref = self.options.reference_days
        delay = self.screen_delay(float(days.min()))
        if isinstance(delay, float):
            return pt.constant((days - delay) / (t_ref - delay))
        return (pt.constant(days) - delay) / (t_ref - delay)

    def screen_delay(self, first_day: float) -> pt.TensorVariable | float:
        """``δ`` of :meth:`time_factor`: ``options.screen_delay``, or learnt, ``δ ~ Uniform(0, first_day)``."""
        if self.options.screen_delay is None:
            return pm.Uniform("screen_delay", 0.0, first_day)
        return float(self.options.screen_delay)

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
        if self._days_within_line:
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

    def guide_efficacy(self) -> pt.TensorVariable:
        """Knockout efficacy per guide (``options.guide_efficacy``), in the likelihood's coordinates,
        and the median guide's absolute efficacy (:func:`~screenfit.models.efficacy.declare_efficacy`)."""
        return declare_efficacy()

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
        return rest, (scaled, self.guide_efficacy())

    def guide_offset_term(self, design: Design) -> pt.TensorVariable | float:
        """Offsets per guide and pDNA batch (``options.guide_offsets``): ``γ_sb ~ N(0, σ_γ)``.

        A guide's reference count is measured once per pDNA batch, so its measurement error
        enters the LFC of every line screened against that batch. Without this term the model
        takes that shared error for independent noise: on count-derived LFC with one batch
        (40 genes × 30 lines, additive regime) gene-cellline's 94% HDIs covered 49% of the true
        gene effects, with it 95% (the shared error had SD 0.16 per guide × batch against 0.04
        expected from independent noise). Per guide only when the design has no batch index
        (no ``pdna_batch`` column, or a unit spanning batches).

        Sampled as guide levels centred on the gene effect, ``ω_sb ~ N(α_g(s), σ_γ)``,
        ``γ_sb = ω_sb − α_g(s)`` (the same prior): the data pin each guide's level ``α_g + γ_sb``,
        while ``α_g`` and the mean of its guides' ``γ`` are told apart only by the prior. Drawn
        as independent offsets, that made a ridge along which the two moved together —
        ``gene_effect`` R-hat 1.023 under NUTS, and mean-field SVI, which cannot represent the
        correlation, dropped it and narrowed the gene effects' intervals (docs/validation.md).
        Models without a per-gene ``gene_effect`` draw the offsets directly. With
        ``options.guide_efficacy`` the level is centred on the guide's own expected level,
        ``ω_sb ~ N(e_s α_g(s), σ_γ)``: a dud's flat LFC is then explained by its
        efficacy instead of a large offset.
        """
        if not self.options.guide_offsets:
            return 0.0
        offset = self.guide_offsets(design)
        if self.guide_offsets_by_batch(design):
            return per_group(offset, design, GUIDE, PDNA_BATCH)
        return per_group(offset, design, GUIDE)

    def guide_offsets_by_batch(self, design: Design) -> bool:
        """Whether the guide offsets are per guide × pDNA batch (decided on the first design, kept)."""
        if self._guide_offsets_by_batch is None:
            self._guide_offsets_by_batch = PDNA_BATCH in design.index
        return self._guide_offsets_by_batch

    def guide_offsets(self, design: Design) -> pt.TensorVariable:
        """The offsets of :meth:`guide_offset_term`, declared in the model (dims ``sgrna`` [× ``pdna_batch``])."""
        by_batch = self.guide_offsets_by_batch(design)
        if by_batch and PDNA_BATCH not in design.index:
            raise ScreenfitInputError(
                "guide offsets per pDNA batch need each guide × line in one batch.",
                column=PDNA_BATCH,
                fix="give each cell line's replicates one pDNA batch, or fit without --guide-offsets.",
            )
        sd = pm.HalfNormal("guide_offset_sd", 0.2)
        dims = (GUIDE, PDNA_BATCH) if by_batch else (GUIDE,)
        model = pm.modelcontext(None)
        if self.gene_effect in model.named_vars and model.named_vars_to_dims.get(self.gene_effect) == (GENE,):
            gene = model[self.gene_effect][design.guide_gene]
            if "guide_efficacy" in model.named_vars:
                gene = model["guide_efficacy"] * gene  # centred on the guide's own level, e_s α_g
            anchor = gene[:, None] if by_batch else gene
            level = self._offset_prior("guide_level", anchor, sd, dims)
            offset = pm.Deterministic("guide_offset", level - anchor, dims=dims)
        else:
            offset = self._offset_prior("guide_offset", 0.0, sd, dims)
        return offset

    def _offset_prior(
        self, name: str, mu: pt.TensorVariable | float, sd: pt.TensorVariable, dims: tuple[str, ...]
    ) -> pt.TensorVariable:
        """``N(μ, σ_γ)``, or Student-t with :meth:`guide_offset_nu` degrees of freedom."""
        nu = self.guide_offset_nu()
        if nu is None:
            return pm.Normal(name, mu, sd, dims=dims)
        return pm.StudentT(name, nu=nu, mu=mu, sigma=sd, dims=dims)

    def guide_offset_nu(self) -> pt.TensorVariable | float | None:
        """Degrees of freedom of Student-t guide offsets: ``options.guide_offset_nu``, or learnt,
        ``ν ~ Gamma(2, 0.1)`` (prior mean 20: Juárez and Steel's prior for a Student-t's degrees of
        freedom, which puts most of its mass between heavy tails and near-Gaussian ones), or ``None``
        for Gaussian offsets.

        A fixed ν trades the two ways the offsets fail. Gaussian offsets make one guide that
        depletes in every line cheaper to explain as its gene's effect (KY's KRTAP4 family); heavy
        tails give the offsets' shared error less weight in the gene's level, so where every
        guide's offset is a Gaussian measurement error (the pDNA count) the gene means' intervals
        were too narrow (additive regime, 300 × 60: 90% coverage of the gene means 0.84 with ν = 3).
        Learnt, ν follows the offsets the screen has: thousands of guides pin it.
        """
        nu = self.options.guide_offset_nu
        if nu is None:
            return None
        if nu == LEARN:
            return pm.Gamma("guide_offset_nu", alpha=2.0, beta=0.1)
        return float(nu)

    def covariate_term(self, design: Design) -> pt.TensorVariable | float:
        """Per-gene slopes on the optional covariate: ``b_g · x``, ``b_g ~ N(0, 0.5)`` independently.

        No pooled scale: a few genes depend strongly on, e.g., a mutation while most have one or
        two mutant lines, and a hierarchical slope had no good parametrisation for that mix
        (non-centred: R-hat 1.05, bulk ESS 108 on a simulation with 30% mutation-dependent genes).
        A gene with few informative lines simply gets a wide interval.
        """
        col = self.options.covariate
        if col is None:
            return 0.0
        slope = pm.Normal("covariate_slope", 0.0, 0.5, dims=GENE)
        return per_group(slope, design, GENE) * design.covariates[col]

    def noise_scale(self, design: Design) -> pt.TensorVariable:
        """Noise SD: one ``σ ~ HalfNormal(1)``, or one per ``noise_by`` level, ``log σ_c ~ N(μ, τ)``.

        Per-line noise is centred when each line's residual spread is measured more precisely
        than the lines differ (:func:`~screenfit.models.blocks.noise_is_data_rich`), non-centred
        otherwise. On the Avana sample (883 genes per line) the non-centred form left ``μ`` at
        R-hat 1.14 / bulk ESS 22 in gene-by-line: each ``σ_c`` is pinned by thousands of rows, so
        ``μ`` and every ``z_c`` had to move together.
        """
        if self.noise_by is None:
            return pm.HalfNormal("sigma", 1.0)
        by = self.noise_by
        mu = pm.Normal("log_sigma_mu", np.log(0.3), 1.0)
        tau = pm.HalfNormal("log_sigma_sd", 0.5)
        if self.centred("log_sigma", lambda: noise_is_data_rich(design, by)):
            log_sigma = pm.Normal("log_sigma_line", mu, tau, dims=by)
        else:
            log_sigma = mu + tau * pm.Normal("log_sigma_z", 0.0, 1.0, dims=by)
        return pm.Deterministic("sigma_line", pt.exp(log_sigma), dims=by)

    def noise(self, design: Design) -> pt.TensorVariable:
        """Noise SD per group (:meth:`noise_scale` at each group's level, times :meth:`guide_noise`)."""
        scale = self.noise_scale(design)
        sigma = scale if self.noise_by is None else per_group(scale, design, self.noise_by)
        if self.options.guide_noise:
            sigma = sigma * per_group(self.guide_noise(), design, GUIDE)
        return sigma

    @property
    def keeps_own_noise(self) -> bool:
        """Whether the model overrides :meth:`noise` (the seed's models keep their priors): the
        faster likelihood layouts and ``--guide-noise`` assume the default noise."""
        return type(self).noise is not ScreenModel.noise

    def guide_noise(self) -> pt.TensorVariable:
        """Each guide's noise scale ``λ_s`` (``options.guide_noise``; dims ``sgrna``).

        ``log λ_s = τ_λ z_s``, ``z_s ~ N(0, 1)``, ``τ_λ ~ HalfNormal(0.5)``: the scales multiply
        the line's noise SD, and their geometric mean, which trades against the lines' SDs, is
        pinned by the thousands of guides' prior (its prior SD is ``τ_λ/√guides``).
        """
        spread = pm.HalfNormal("guide_noise_sd", 0.5)
        z = pm.Normal("guide_noise_z", 0.0, 1.0, dims=GUIDE)
        return pm.Deterministic("guide_noise", pt.exp(spread * z), dims=GUIDE)

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

    def grid_likelihood(self, design: Design, mean: pt.TensorVariable) -> None:
        """The same Gaussian density on a complete gene × line grid, summed over genes first.

        ``Σ_gc [−n_gc log σ_c − (S_gc + n_gc (ȳ_gc − m_gc)²) / (2σ_c²)]`` (+ const): the log and the
        division by ``σ_c²`` happen once per line instead of once per gene × line. On 18,000 genes
        × 1,000 lines that is 18 M transcendental operations fewer per gradient.
        """
        assert design.grid_shape is not None
        grid = design.grid_shape
        n = design.n.reshape(grid)
        resid = design.y_mean.reshape(grid) - (on_grid(mean, grid) if self.grid_broadcast else mean.reshape(grid))
        sigma = self.noise_scale(design)
        if self._collapsed is not None:
            resid, coef = self._collapsed.split(resid)
            self._collapsed.integrate(resid, coef, n / sigma**2, lambda v: v)
        if self.noise_by is None:
            total = pt.sum(n * resid**2) + design.y_ss.sum()
            logp = -n.sum() * pt.log(sigma) - total / (2.0 * sigma**2)
        else:
            per_line = pt.sum(n * resid**2, axis=0) + design.y_ss.reshape(grid).sum(axis=0)
            logp = pt.sum(-n.sum(axis=0) * pt.log(sigma) - per_line / (2.0 * sigma**2))
        pm.Potential("lfc_grid", logp)

    def sampling_likelihood(self, design: Design, mean: pt.TensorVariable) -> None:
        """The likelihood the sampler sees: :meth:`grid_likelihood` on a complete gene × line grid
        with one noise SD (or one per line), else :meth:`likelihood`. Same posterior either way."""
        grid_fits = design.grid_shape is not None and self.noise_by in (None, LINE)
        if self.observed == "lfc" and not self.keeps_own_noise and grid_fits:
            self.grid_likelihood(design, mean)
        else:
            self.likelihood(design, mean)

    def guide_grid_likelihood(
        self,
        grid: GuideGrid,
        mean: pt.TensorVariable,
        offset: pt.TensorVariable | None,
        scaled: tuple[pt.TensorVariable, pt.TensorVariable] | None = None,
    ) -> None:
        """The Gaussian density of guide-level data on the dense layout of :mod:`screenfit.models.guide_grid`.

        ``mean`` is the model's mean on ``grid.design`` (gene × line), ``offset`` the guide (×
        batch) offsets or ``None``, ``scaled`` an optional ``(part, efficacy)``: a gene × line
        part of the mean that each guide's efficacy multiplies. The same density as
        :meth:`likelihood` on the guide-level design.
        """
        genes, slots, lines = grid.shape  # lines: columns, (line, time point) pairs in a time course
        broadcast = self.grid_broadcast and not grid.by_time_point

        def gene_line(values: pt.TensorVariable) -> pt.TensorVariable:
            return on_grid(values, (genes, lines)) if broadcast else values.reshape((genes, lines))

        resid = grid.y_mean - gene_line(mean)[:, None, :]
        if offset is not None:
            per_slot = (offset if offset.ndim == 2 else offset[:, None])[pt.constant(grid.slot_guide)]
            resid = resid - pt.dot(per_slot, grid.batch_indicator).reshape((genes, slots, lines))
        if scaled is not None:
            part, efficacy = scaled
            slot_efficacy = efficacy[pt.constant(grid.slot_guide)].reshape((genes, slots))
            resid = resid - slot_efficacy[:, :, None] * gene_line(part)[:, None, :]
        sigma = self.noise_scale(grid.design)
        if self.noise_by is not None and grid.by_time_point:
            sigma = sigma[pt.constant(grid.column_line)]
        n, y_ss_line, log_guide_noise = grid.n, grid.y_ss_line, 0.0
        if self.options.guide_noise:
            # σ_sc = σ_c λ_s: each guide's rows weigh 1/λ_s², and λ_s's log enters once per row.
            assert grid.y_ss is not None
            lam = self.guide_noise()[pt.constant(grid.slot_guide)].reshape((genes, slots))
            precision = (1.0 / lam**2)[:, :, None]
            n = grid.n * precision
            y_ss_line = pt.sum(grid.y_ss * precision, axis=(0, 1))
            log_guide_noise = pt.sum(grid.n.sum(axis=2) * pt.log(lam))
        if self._collapsed is not None:
            resid, coef = self._collapsed.split(resid)
            weight = n / sigma**2

            def per_gene_line(values: pt.TensorVariable) -> pt.TensorVariable:
                summed = pt.sum(values, axis=1)  # genes × columns
                if not grid.by_time_point:
                    return summed
                return columns_to_lines(summed, genes, grid.column_line, len(grid.design.coords[LINE]))

            self._collapsed.integrate(resid, coef, weight, per_gene_line)
        per_line = pt.sum(n * resid**2, axis=(0, 1)) + y_ss_line
        if self.noise_by is None:
            logp = -grid.n_line.sum() * pt.log(sigma) - pt.sum(per_line) / (2.0 * sigma**2)
        else:
            logp = pt.sum(-grid.n_line * pt.log(sigma) - per_line / (2.0 * sigma**2))
        pm.Potential("lfc_guide_grid", logp - log_guide_noise)

    def time_sums_likelihood(
        self,
        sums: TimeSums,
        mean: pt.TensorVariable,
        offset: pt.TensorVariable | None,
        scaled: tuple[pt.TensorVariable, pt.TensorVariable] | None,
        delay: pt.TensorVariable | float,
    ) -> None:
        """The density of :meth:`guide_grid_likelihood` on a time course, from each guide × line's
        sums over its time points (:mod:`screenfit.models.time_sums`).

        ``mean`` (and ``scaled``'s part) is the model's untimed mean on ``sums.design`` (gene ×
        line); ``delay`` the screen delay ``δ``. Each guide × line's mean is ``d·s + i`` in the
        days from the reference day, ``s = M/k``, ``i = M + o``, ``k = t_ref − δ``.
        """
        genes, slots, lines = sums.shape
        slot = pt.constant(sums.slot_guide)

        def gene_line(values: pt.TensorVariable) -> pt.TensorVariable:
            return on_grid(values, (genes, lines)) if self.grid_broadcast else values.reshape((genes, lines))

        level = gene_line(mean)[:, None, :]
        if scaled is not None:
            part, efficacy = scaled
            level = level + efficacy[slot].reshape((genes, slots))[:, :, None] * gene_line(part)[:, None, :]
        coef = None
        if self._collapsed is not None:
            level, coef = self._collapsed.coefficients(level)
        intercept = level
        if offset is not None:
            per_slot = (offset if offset.ndim == 2 else offset[:, None])[slot]
            intercept = level + pt.dot(per_slot, sums.batch_indicator).reshape((genes, slots, lines))
        k = self.options.reference_days - delay
        slope = level / k
        g1 = sums.ndy - sums.ndd * slope - sums.nd * intercept
        g0 = sums.ny - sums.nd * slope - sums.n * intercept
        quad = -slope * (sums.ndy + g1) - intercept * (sums.ny + g0)  # Σ_t n(ȳ − mean)² − Σ_t nȳ²
        sigma = self.noise_scale(sums.columns)
        yy_line, log_guide_noise, precision = sums.yy_line, 0.0, None
        if self.options.guide_noise:
            assert sums.yy is not None
            lam = self.guide_noise()[slot].reshape((genes, slots))
            precision = (1.0 / lam**2)[:, :, None]
            quad = quad * precision
            yy_line = pt.sum(sums.yy * precision, axis=(0, 1))
            log_guide_noise = pt.sum(sums.n.sum(axis=2) * pt.log(lam))
        if coef is not None:
            assert self._collapsed is not None
            b = coef * (g1 / k + g0)
            p = coef**2 * (sums.ndd / k**2 + 2.0 * sums.nd / k + sums.n)
            if precision is not None:
                b, p = b * precision, p * precision
            self._collapsed.marginalise(pt.sum(b, axis=1) / sigma**2, 1.0 + pt.sum(p, axis=1) / sigma**2)
        per_line = pt.sum(quad, axis=(0, 1)) + yy_line
        if self.noise_by is None:
            logp = -sums.n_line.sum() * pt.log(sigma) - pt.sum(per_line) / (2.0 * sigma**2)
        else:
            logp = pt.sum(-sums.n_line * pt.log(sigma) - per_line / (2.0 * sigma**2))
        pm.Potential("lfc_time_sums", logp - log_guide_noise)

    def sampling_time_sums(self, grid: GuideGrid) -> TimeSums | None:
        """The time-summed layout of a time course's guide grid (with :meth:`time_sums_likelihood`),
        or ``None`` where the grid is not a time course or the sums do not apply. A learnt delay is
        guessed, for the layout's reference-day statistics only, as Chronos' 3 days (half the
        first day where that is earlier)."""
        if not (self.options.time_course and grid.by_time_point):
            return None
        first_day = float(grid.design.covariates[DAYS].min())
        delay = self.options.screen_delay
        guess = min(SCREEN_DELAY, first_day / 2) if delay is None else delay
        return time_sums(grid, self.options.reference_days, guess)

    def sampling_guide_grid(self, design: Design) -> GuideGrid | None:
        """The dense guide-level layout the sampler uses for models with guide offsets, if the design fits one.

        For LFC models whose mean depends on gene and line only, with the default noise (one SD
        or one per line): the mean is built once per gene × line and broadcast over its guides.
        """
        eligible = (
            (self.options.guide_offsets or self.options.guide_efficacy or self.options.guide_noise)
            and self.observed == "lfc" and not self.keeps_own_noise
            and tuple(self.mean_level) == (GENE, LINE) and self.noise_by in (None, LINE)
        )  # fmt: skip
        if not eligible:
            return None
        by_batch = self.options.guide_offsets and self.guide_offsets_by_batch(design)
        return guide_grid(design, by_batch, per_guide_ss=self.options.guide_noise)

    def timed(
        self,
        design: Design,
        mean: pt.TensorVariable,
        scaled: tuple[pt.TensorVariable, pt.TensorVariable] | None,
    ) -> tuple[pt.TensorVariable, tuple[pt.TensorVariable, pt.TensorVariable] | None]:
        """``mean`` and the efficacy-scaled part, each multiplied by :meth:`time_factor` (when set).

        The whole mean scales, its level included: at the delay no guide has changed in
        abundance, and the shift each sample's normalisation adds grows with the effects it
        normalises (on a simulated time course the mean LFC of inert genes was 0.013, 0.069,
        0.119 at days 7, 14, 21 — ``0.12 · f(t)`` within 0.013). Only the guide offsets (the
        reference count's error, added after) do not grow with time.
        """
        factor = self.time_factor(design)
        if factor is None:
            return mean, scaled
        if scaled is not None:
            part, efficacy = scaled
            scaled = (factor * part, efficacy)
        return factor * mean, scaled

    def build(self, design: Design, evaluation: bool = False) -> pm.Model:
        """The PyMC model on ``design``, every parameter labelled by its dims.

        ``evaluation=True`` declares the likelihood as an observed variable per group (for
        pointwise log-likelihood and posterior predictive draws) even where sampling uses a
        faster form of the same density (:meth:`sampling_likelihood`, :meth:`guide_grid_likelihood`).
        """
        coords = {**design.coords, "obs": np.arange(design.n_groups)}
        self.evaluating, self._collapsed = evaluation, None
        with pm.Model(coords=coords) as model:
            grid = None if evaluation else self.sampling_guide_grid(design)
            sums = None if grid is None else self.sampling_time_sums(grid)
            if sums is not None:
                rest, scaled = self.efficacy_split(sums.design)
                mean = rest + self.covariate_term(sums.design)
                delay = self.screen_delay(float(sums.columns.covariates[DAYS].min()))
                offset = self.guide_offsets(design) if self.options.guide_offsets else None
                self.time_sums_likelihood(sums, mean, offset, scaled, delay)
                return model
            if grid is not None:
                rest, scaled = self.efficacy_split(grid.design)
                mean, scaled = self.timed(grid.design, rest + self.covariate_term(grid.design), scaled)
                offset = self.guide_offsets(design) if self.options.guide_offsets else None
                self.guide_grid_likelihood(grid, mean, offset, scaled)
                return model
            mean, scaled = self.efficacy_split(design)
            mean, scaled = self.timed(design, mean + self.covariate_term(design), scaled)
            if scaled is not None:
                part, efficacy = scaled
                mean = mean + per_group(efficacy, design, GUIDE) * part
            mean = mean + self.guide_offset_term(design)
            if evaluation:
                self.likelihood(design, mean)
            else:
                self.sampling_likelihood(design, mean)
        return model

    def extra_tables(self, idata: az.InferenceData, ci_prob: float) -> dict[str, pd.DataFrame]:
        """Tables only this model has (file stem → table); none by default."""
        return {}

    def unit_loglik_correction(self, design: Design, posterior: dict[str, np.ndarray]) -> np.ndarray | None:
        """Term to add to PyMC's log-likelihood of the group means to get each unit's full log-likelihood.

        For Gaussian models evaluated at their ``unit_level``: ``−(n−1) log σ − S/(2σ²) − ((n−1)/2) log 2π − ½ log n``
        with σ from ``posterior`` (draws × groups), as float32. Count models return ``None`` (aggregated instead).
        """
        if self.observed != "lfc" or design.level != self.evaluation_level:
            return None
        # log σ and 1/(2σ²) per draw × noise group first, then spread to the units (one
        # gather each instead of a log and a square over every draw × unit). The draws × units
        # arrays are float32, as the stored log-likelihood is: half the memory traffic of float64.
        if self.noise_by is None:
            sigma, by = np.asarray(posterior["sigma"], dtype=np.float64)[:, None], np.zeros(design.n_groups, int)
        else:
            sigma, by = np.asarray(posterior["sigma_line"], dtype=np.float64), design.index[self.noise_by]
        n = design.n.astype(np.float64)
        out = np.take(np.log(sigma).astype(np.float32), by, axis=1)
        within = np.take((0.5 / sigma**2).astype(np.float32), by, axis=1)
        if self.options.guide_noise:  # σ per unit is σ_c λ_s
            lam = np.asarray(posterior["guide_noise"], dtype=np.float64)
            out += np.take(np.log(lam).astype(np.float32), design.index[GUIDE], axis=1)
            within *= np.take((1.0 / lam**2).astype(np.float32), design.index[GUIDE], axis=1)
        out *= (1 - n).astype(np.float32)
        within *= design.y_ss.astype(np.float32)
        out -= within
        out -= ((n - 1) / 2 * np.log(2 * np.pi) + 0.5 * np.log(n)).astype(np.float32)
        return out
