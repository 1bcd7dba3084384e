"""The likelihood's data layout, chosen once per build from the design and the model's terms.

Four layouts carry the same Gaussian density: rows or groups of rows (the design's sufficient
statistics, :meth:`ScreenModel.likelihood`), a complete gene × line grid (:func:`gene_line_grid`),
the dense guide grid of guide-level terms (:func:`guide_grid_density`), and a time course's sums
over each guide's time points (:func:`time_sums_density`). :func:`build_model` picks one; the
model's structure and terms never branch on it. The evaluation form (pointwise log-likelihood,
predictive checks) always uses the model's own per-group ``likelihood``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from screenfit.data.design import DAYS, GENE, GUIDE, LINE, Design
from screenfit.models.blocks import on_grid, per_group
from screenfit.models.collapsed import columns_to_lines
from screenfit.models.guide_grid import GuideGrid, guide_grid
from screenfit.models.terms.guide_noise import GuideNoise
from screenfit.models.terms.time_course import SCREEN_DELAY
from screenfit.models.time_sums import TimeSums, time_sums

if TYPE_CHECKING:
    from screenfit.models.base import ScreenModel


def gene_line_grid(model: ScreenModel, design: Design, mean: pt.TensorVariable) -> None:
    """The same Gaussian density on a complete gene × line grid, summed over genes first.

    ``Σ_gc [−n_gc log σ_c − (S_gc + n_gc (ȳ_gc − m_gc)²) / (2σ_c²)]`` (+ const): the log and the
    division by ``σ_c²`` happen once per line instead of once per gene × line. On 18,000 genes
    × 1,000 lines that is 18 M transcendental operations fewer per gradient.
    """
    assert design.grid_shape is not None
    grid = design.grid_shape
    n = design.n.reshape(grid)
    resid = design.y_mean.reshape(grid) - (on_grid(mean, grid) if model.grid_broadcast else mean.reshape(grid))
    sigma = model.noise_scale(design)
    if model._collapsed is not None:
        resid, coef = model._collapsed.split(resid)
        model._collapsed.integrate(resid, coef, n / sigma**2, lambda v: v)
    if model.noise_by is None:
        total = pt.sum(n * resid**2) + design.y_ss.sum()
        logp = -n.sum() * pt.log(sigma) - total / (2.0 * sigma**2)
    else:
        per_line = pt.sum(n * resid**2, axis=0) + design.y_ss.reshape(grid).sum(axis=0)
        logp = pt.sum(-n.sum(axis=0) * pt.log(sigma) - per_line / (2.0 * sigma**2))
    pm.Potential("lfc_grid", logp)


def rows_or_grid(model: ScreenModel, design: Design, mean: pt.TensorVariable) -> None:
    """The likelihood the sampler sees on the design's groups: :func:`gene_line_grid` on a complete
    gene × line grid with one noise SD (or one per line), else ``model.likelihood``. Same posterior."""
    grid_fits = design.grid_shape is not None and model.noise_by in (None, LINE)
    if model.observed == "lfc" and not model.keeps_own_noise and grid_fits:
        gene_line_grid(model, design, mean)
    else:
        model.likelihood(design, mean)


def guide_grid_density(
    model: ScreenModel,
    grid: GuideGrid,
    mean: pt.TensorVariable,
    offset: pt.TensorVariable | None,
    scaled: tuple[pt.TensorVariable, pt.TensorVariable] | None = None,
) -> None:
    """The Gaussian density of guide-level data on the dense layout of :mod:`screenfit.models.guide_grid`.

    ``mean`` is the model's mean on ``grid.design`` (gene × line), ``offset`` the guide (×
    batch) offsets or ``None``, ``scaled`` an optional ``(part, efficacy)``: a gene × line
    part of the mean that each guide's efficacy multiplies. The same density as
    ``model.likelihood`` on the guide-level design.
    """
    genes, slots, lines = grid.shape  # lines: columns, (line, time point) pairs in a time course
    broadcast = model.grid_broadcast and not grid.by_time_point

    def gene_line(values: pt.TensorVariable) -> pt.TensorVariable:
        return on_grid(values, (genes, lines)) if broadcast else values.reshape((genes, lines))

    level = gene_line(mean)
    slot_efficacy = part = None
    if scaled is not None:
        part, efficacy = gene_line(scaled[0]), scaled[1]
        slot_efficacy = efficacy[pt.constant(grid.slot_guide)].reshape((genes, slots))[:, :, None]
    coef = None
    if model._collapsed is not None:
        # The collapsed effects enter through the gene × line mean only: their coefficients are
        # read off there (18 M values at genome scale) and spread over the guides, instead of
        # evaluating the whole guide-level residual twice (72 M values each, and their gradients).
        level, level_coef = model._collapsed.coefficients(level)
        coef = level_coef[:, None, :]
        if part is not None:
            part, part_coef = model._collapsed.coefficients(part)
            coef = coef + slot_efficacy * part_coef[:, None, :]
    resid = grid.y_mean - level[:, None, :]
    if offset is not None:
        per_slot = (offset if offset.ndim == 2 else offset[:, None])[pt.constant(grid.slot_guide)]
        resid = resid - pt.dot(per_slot, grid.batch_indicator).reshape((genes, slots, lines))
    if part is not None:
        resid = resid - slot_efficacy * part[:, None, :]
    sigma = model.noise_scale(grid.design)
    if model.noise_by is not None and grid.by_time_point:
        sigma = sigma[pt.constant(grid.column_line)]
    n, y_ss_line, log_guide_noise = grid.n, grid.y_ss_line, 0.0
    if model.options.guide_noise:
        # σ_sc = σ_c λ_s: each guide's rows weigh 1/λ_s², and λ_s's log enters once per row.
        assert grid.y_ss is not None
        lam = GuideNoise().declare()[pt.constant(grid.slot_guide)].reshape((genes, slots))
        precision = (1.0 / lam**2)[:, :, None]
        n = grid.n * precision
        y_ss_line = pt.sum(grid.y_ss * precision, axis=(0, 1))
        log_guide_noise = pt.sum(grid.n.sum(axis=2) * pt.log(lam))
    if coef is not None:
        assert model._collapsed is not None
        weight = n / sigma**2

        def per_gene_line(values: pt.TensorVariable) -> pt.TensorVariable:
            summed = pt.sum(values, axis=1)  # genes × columns
            if not grid.by_time_point:
                return summed
            return columns_to_lines(summed, genes, grid.column_line, len(grid.design.coords[LINE]))

        model._collapsed.integrate(resid, coef, weight, per_gene_line)
    per_line = pt.sum(n * resid**2, axis=(0, 1)) + y_ss_line
    if model.noise_by is None:
        logp = -grid.n_line.sum() * pt.log(sigma) - pt.sum(per_line) / (2.0 * sigma**2)
    else:
        logp = pt.sum(-grid.n_line * pt.log(sigma) - per_line / (2.0 * sigma**2))
    pm.Potential("lfc_guide_grid", logp - log_guide_noise)


def time_sums_density(
    model: ScreenModel,
    sums: TimeSums,
    mean: pt.TensorVariable,
    offset: pt.TensorVariable | None,
    scaled: tuple[pt.TensorVariable, pt.TensorVariable] | None,
    delay: pt.TensorVariable | float,
) -> None:
    """The density of :func:`guide_grid_density` on a time course, from each guide × line's
    sums over its time points (:mod:`screenfit.models.time_sums`).

    ``mean`` (and ``scaled``'s part) is the model's untimed mean on ``sums.design`` (gene ×
    line); ``delay`` the screen delay ``δ``. Each guide × line's mean is ``d·s + i`` in the
    days from the reference day, ``s = M/k``, ``i = M + o``, ``k = t_ref − δ``.
    """
    genes, slots, lines = sums.shape
    slot = pt.constant(sums.slot_guide)

    def gene_line(values: pt.TensorVariable) -> pt.TensorVariable:
        return on_grid(values, (genes, lines)) if model.grid_broadcast else values.reshape((genes, lines))

    level = gene_line(mean)[:, None, :]
    if scaled is not None:
        part, efficacy = scaled
        level = level + efficacy[slot].reshape((genes, slots))[:, :, None] * gene_line(part)[:, None, :]
    coef = None
    if model._collapsed is not None:
        level, coef = model._collapsed.coefficients(level)
    intercept = level
    if offset is not None:
        per_slot = (offset if offset.ndim == 2 else offset[:, None])[slot]
        intercept = level + pt.dot(per_slot, sums.batch_indicator).reshape((genes, slots, lines))
    k = model.options.reference_days - delay
    slope = level / k
    g1 = sums.ndy - sums.ndd * slope - sums.nd * intercept
    g0 = sums.ny - sums.nd * slope - sums.n * intercept
    quad = -slope * (sums.ndy + g1) - intercept * (sums.ny + g0)  # Σ_t n(ȳ − mean)² − Σ_t nȳ²
    sigma = model.noise_scale(sums.columns)
    yy_line, log_guide_noise, precision = sums.yy_line, 0.0, None
    if model.options.guide_noise:
        assert sums.yy is not None
        lam = GuideNoise().declare()[slot].reshape((genes, slots))
        precision = (1.0 / lam**2)[:, :, None]
        quad = quad * precision
        yy_line = pt.sum(sums.yy * precision, axis=(0, 1))
        log_guide_noise = pt.sum(sums.n.sum(axis=2) * pt.log(lam))
    if coef is not None:
        assert model._collapsed is not None
        b = coef * (g1 / k + g0)
        p = coef**2 * (sums.ndd / k**2 + 2.0 * sums.nd / k + sums.n)
        if precision is not None:
            b, p = b * precision, p * precision
        model._collapsed.marginalise(pt.sum(b, axis=1) / sigma**2, 1.0 + pt.sum(p, axis=1) / sigma**2)
    per_line = pt.sum(quad, axis=(0, 1)) + yy_line
    if model.noise_by is None:
        logp = -sums.n_line.sum() * pt.log(sigma) - pt.sum(per_line) / (2.0 * sigma**2)
    else:
        logp = pt.sum(-sums.n_line * pt.log(sigma) - per_line / (2.0 * sigma**2))
    pm.Potential("lfc_time_sums", logp - log_guide_noise)


def choose_time_sums(model: ScreenModel, grid: GuideGrid) -> TimeSums | None:
    """The time-summed layout of a time course's guide grid (with :func:`time_sums_density`),
    or ``None`` where the grid is not a time course or the sums do not apply. A learnt delay is
    guessed, for the layout's reference-day statistics only, as Chronos' 3 days (half the
    first day where that is earlier)."""
    if not (model.options.time_course and grid.by_time_point):
        return None
    first_day = float(grid.design.covariates[DAYS].min())
    delay = model.options.screen_delay
    guess = min(SCREEN_DELAY, first_day / 2) if delay is None else delay
    return time_sums(grid, model.options.reference_days, guess)


def guide_grid_fits(model: ScreenModel) -> bool:
    """Whether the model's density runs on the guide grid: guide-level terms on an LFC model whose
    mean depends on gene and line only, with the default noise (one SD or one per line)."""
    return bool(
        (model.options.guide_offsets or model.options.guide_efficacy or model.options.guide_noise)
        and model.observed == "lfc" and not model.keeps_own_noise
        and tuple(model.mean_level) == (GENE, LINE) and model.noise_by in (None, LINE)
    )  # fmt: skip


def choose_guide_grid(model: ScreenModel, design: Design) -> GuideGrid | None:
    """The dense guide-level layout the sampler uses for models with guide offsets, if the design fits one
    (:func:`guide_grid_fits`): the mean is built once per gene × line and broadcast over its guides.
    """
    if not guide_grid_fits(model):
        return None
    by_batch = model.options.guide_offsets and model.guide_offsets_by_batch(design)
    return guide_grid(design, by_batch, per_guide_ss=model.options.guide_noise)


def timed(
    model: ScreenModel,
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
    factor = model.time_factor(design)
    if factor is None:
        return mean, scaled
    if scaled is not None:
        part, efficacy = scaled
        scaled = (factor * part, efficacy)
    return factor * mean, scaled


def build_model(
    model: ScreenModel, design: Design, evaluation: bool = False, grid: GuideGrid | None = None
) -> pm.Model:
    """The PyMC model on ``design``, every parameter labelled by its dims.

    ``grid``: a guide grid built elsewhere (a streamed screen's), whose gene × line ``design``
    is then ``design``; otherwise the grid is laid out from ``design`` where the model fits one.

    ``evaluation=True`` declares the likelihood as an observed variable per group (for
    pointwise log-likelihood and posterior predictive draws) even where sampling uses a
    faster form of the same density: the guide grid (guide-level terms on an LFC model whose mean
    is per gene × line), its time sums (a time course), or the model's ``sampling_likelihood``
    on the design's groups (:func:`rows_or_grid` by default).
    """
    coords = {**design.coords, "obs": np.arange(design.n_groups)}
    with pm.Model(coords=coords) as pm_model:
        if grid is None and not evaluation:
            grid = choose_guide_grid(model, design)
        sums = None if grid is None else choose_time_sums(model, grid)
        if sums is not None:
            rest, scaled = model.efficacy_split(sums.design)
            mean = rest + model.covariate_term(sums.design)
            delay = model.screen_delay(float(sums.columns.covariates[DAYS].min()))
            offset = model.guide_offsets(design) if model.options.guide_offsets else None
            time_sums_density(model, sums, mean, offset, scaled, delay)
            return pm_model
        if grid is not None:
            rest, scaled = model.efficacy_split(grid.design)
            mean, scaled = timed(model, grid.design, rest + model.covariate_term(grid.design), scaled)
            offset = model.guide_offsets(design) if model.options.guide_offsets else None
            guide_grid_density(model, grid, mean, offset, scaled)
            return pm_model
        mean, scaled = model.efficacy_split(design)
        mean, scaled = timed(model, design, mean + model.covariate_term(design), scaled)
        if scaled is not None:
            part, efficacy = scaled
            mean = mean + per_group(efficacy, design, GUIDE) * part
        mean = mean + model.guide_offset_term(design)
        if evaluation:
            model.likelihood(design, mean)
        else:
            model.sampling_likelihood(design, mean)
    return pm_model
