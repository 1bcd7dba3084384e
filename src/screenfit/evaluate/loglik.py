"""The pointwise log-likelihood of a fit: per unit (one guide in one cell line, split by pDNA batch or
time point where the screen has them), thinned to a budget of stored values.

Gaussian models are evaluated on the unit-level design, exactly (PyMC's density of the unit means
plus the within-unit term, :func:`within_unit_loglik`); count models sum their replicate rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy import sparse

from screenfit.data.design import CONDITION, GENE, GUIDE, LINE, Design, build_design
from screenfit.data.screen import Screen
from screenfit.io import fit_folder
from screenfit.models.base import ScreenModel
from screenfit.results.pointwise import NormalUnits
from screenfit.results.predictive import thinned_posterior

LOGLIK_BUDGET = 50_000_000
"""Most pointwise log-likelihood values stored (units × draws); above it draws are thinned."""


LOGLIK_LARGE_BUDGET = 20_000_000
"""Most values of the log-likelihood stored by default beside a posterior too large for
``posterior.nc``: thinned further, so that every fit can be compared (PSIS-LOO then warns where
its fewer draws leave Pareto k high) without doubling the fit folder's size."""


def loglik_stored(idata: az.InferenceData, n_units: int) -> bool:
    """Whether the posterior with the pointwise log-likelihood of ``n_units`` units stays under
    :data:`POSTERIOR_VALUES_NETCDF` values, so that it is stored in ``posterior.nc`` by default.

    Above it the posterior is stored as parameters only (CONVENTIONS.md); the log-likelihood
    was computed and then left out, ~1 s of a 300-gene × 60-line SVI fit for nothing.
    """
    n_params = sum(int(v.size) for v in idata.posterior.data_vars.values())
    n_draws = thin_to_budget(idata, n_units).posterior.sizes["draw"] * idata.posterior.sizes["chain"]
    return n_params + n_units * n_draws <= fit_folder.POSTERIOR_VALUES_NETCDF


def thin_to_budget(idata: az.InferenceData, n_points: int, budget: int = LOGLIK_BUDGET) -> az.InferenceData:
    """``idata`` thinned so that ``n_points`` values per draw stay within ``budget`` values."""
    draws = idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"]
    step = max(1, int(np.ceil(n_points * draws / budget)))
    return thinned_posterior(idata, step)


def _label_columns(design: Design) -> tuple[str, ...]:
    return (GUIDE, GENE, LINE, CONDITION) if CONDITION in design.index else (GUIDE, GENE, LINE)


def _unit_labels(design: Design) -> dict[str, np.ndarray]:
    return {col: np.asarray(design.coords[col])[design.index[col]] for col in _label_columns(design)}


def _unit_categories(design: Design) -> dict[str, pd.Categorical]:
    """The units' labels as categoricals of the design's codes: the predictive-check table's
    label columns without a string per unit (216,000 units of a 300 × 60 time course: 77 MB of
    text arrays and Python strings at the fit's peak; measured)."""
    return {col: pd.Categorical.from_codes(design.index[col], categories=design.coords[col])
            for col in _label_columns(design)}  # fmt: skip


@dataclass(frozen=True)
class EvaluationUnits:
    """The model and design on which a fit is evaluated: per unit (guide × line) or, for counts, per row."""

    unit: Design
    model: pm.Model
    design: Design
    var: str
    observed: np.ndarray
    labels: dict[str, pd.Categorical]
    normal: NormalUnits | None
    """``var``'s mean and SD in JAX, for a Gaussian model where JAX is installed (else ``None``)."""


def evaluation_units(spec: ScreenModel, screen: Screen, design: Design) -> EvaluationUnits:
    """Gaussian models are rebuilt on the unit-level design; count models on their row-level one.

    ``unit`` is always the guide × line design of the LFC (the observed data stored with the fit).
    """
    unit = build_design(screen, spec.evaluation_level, spec.covariate_columns)
    if spec.observed == "counts":
        assert design.counts is not None
        evaluation = spec.build(design, evaluation=True)
        return EvaluationUnits(
            unit, evaluation, design, "counts_final", design.counts["counts_final"], _unit_categories(design), None
        )
    model = spec.build(unit, evaluation=True)
    return EvaluationUnits(unit, model, unit, "lfc", unit.y_mean, _unit_categories(unit), NormalUnits.of(model, "lfc"))


def gaussian_unit_loglik(
    spec: ScreenModel, unit: Design, model: pm.Model, idata: az.InferenceData, normal: NormalUnits | None = None
) -> np.ndarray:
    """Full log-likelihood (chain × draw × unit) of each unit of an LFC model built on ``unit``.

    PyMC's log-likelihood of the unit means plus the within-unit term
    (:func:`within_unit_loglik`) with each draw's noise SD; in one compiled JAX
    graph over blocks of draws where JAX is installed (:mod:`screenfit.results.pointwise`;
    ``normal``: that graph, already made for ``model``).
    """
    if unit.level == spec.evaluation_level:
        normal = normal or NormalUnits.of(model, "lfc")
        if normal is not None:
            return normal.unit_loglik(idata.posterior, unit.n, unit.y_mean, unit.y_ss)
    ll = pm.compute_log_likelihood(idata, model=model, var_names=["lfc"], extend_inferencedata=False, progressbar=False)
    values = ll["lfc"].values
    chains, draws = values.shape[:2]
    names = ["sigma" if spec.noise_by is None else "sigma_line"] + (["guide_noise"] if spec.options.guide_noise else [])
    post = idata.posterior
    per_draw = {name: post[name].values.reshape(chains * draws, *post[name].shape[2:]) for name in names}
    correction = within_unit_loglik(spec, unit, per_draw)
    if correction is None:
        return values
    correction = correction.reshape(chains, draws, -1)
    correction += values  # in place (float32, as stored): one draws × units array fewer
    return correction


def unit_log_likelihood(
    spec: ScreenModel, idata: az.InferenceData, ev: EvaluationUnits, budget: int = LOGLIK_BUDGET
) -> tuple[xr.Dataset, xr.Dataset]:
    """Pointwise log-likelihood per unit (one guide in one cell line) and the unit-level observed data.

    Gaussian models are evaluated on the unit-level design (exact, with the within-unit term);
    count models sum their replicate rows per unit. Draws are thinned to stay within
    ``budget`` values.
    """
    unit = ev.unit
    labels = _unit_labels(unit)
    if spec.observed == "counts":
        unit_index = pd.MultiIndex.from_arrays([labels[GUIDE], labels[LINE]])
        codes = unit_index.get_indexer(pd.MultiIndex.from_arrays([ev.labels[GUIDE], ev.labels[LINE]]))
        n_units = unit.n_groups
        thinned = thin_to_budget(idata, ev.design.n_groups, budget)
        rows = pm.compute_log_likelihood(thinned, model=ev.model, extend_inferencedata=False, progressbar=False)
        values = rows[ev.var].values  # chain, draw, row
        # Sum each unit's replicate rows with a sparse (units × rows) indicator.
        n_rows = values.shape[2]
        indicator = sparse.csr_matrix((np.ones(n_rows), (codes, np.arange(n_rows))), shape=(n_units, n_rows))
        flat = values.reshape(-1, n_rows)
        ll = np.asarray(indicator @ flat.T).T.reshape(*values.shape[:2], n_units)
    else:
        thinned = thin_to_budget(idata, unit.n_groups, budget)
        ll = gaussian_unit_loglik(spec, unit, ev.model, thinned, ev.normal)
    coords = {"obs": np.arange(unit.n_groups)}
    observed = xr.Dataset(
        {"lfc_mean": ("obs", unit.y_mean), "n": ("obs", unit.n), "lfc_ss": ("obs", unit.y_ss),
         **{col: ("obs", values) for col, values in labels.items()}},
        coords=coords,
    )  # fmt: skip
    sample_coords = {d: thinned.posterior[d].values for d in ("chain", "draw")}
    pointwise = ll.astype(np.float32, copy=False)
    loglik = xr.Dataset({"lfc": (("chain", "draw", "obs"), pointwise)}, coords={**sample_coords, **coords})
    return loglik, observed


def within_unit_loglik(spec: ScreenModel, design: Design, posterior: dict[str, np.ndarray]) -> np.ndarray | None:
    """Term to add to PyMC's log-likelihood of the group means to get each unit's full log-likelihood.

    For Gaussian models evaluated at their ``evaluation_level``:
    ``−(n−1) log σ − S/(2σ²) − ((n−1)/2) log 2π − ½ log n`` with σ from ``posterior`` (draws ×
    groups), as float32. Count models return ``None`` (aggregated instead).
    """
    if spec.observed != "lfc" or design.level != spec.evaluation_level:
        return None
    # log σ and 1/(2σ²) per draw × noise group first, then spread to the units (one gather each
    # instead of a log and a square over every draw × unit); float32, as the stored log-likelihood.
    if spec.noise_by is None:
        sigma, by = np.asarray(posterior["sigma"], dtype=np.float64)[:, None], np.zeros(design.n_groups, int)
    else:
        sigma, by = np.asarray(posterior["sigma_line"], dtype=np.float64), design.index[spec.noise_by]
    n = design.n.astype(np.float64)
    out = np.take(np.log(sigma).astype(np.float32), by, axis=1)
    within = np.take((0.5 / sigma**2).astype(np.float32), by, axis=1)
    if spec.options.guide_noise:  # σ per unit is σ_c λ_s
        lam = np.asarray(posterior["guide_noise"], dtype=np.float64)
        out += np.take(np.log(lam).astype(np.float32), design.index[GUIDE], axis=1)
        within *= np.take((1.0 / lam**2).astype(np.float32), design.index[GUIDE], axis=1)
    out *= (1 - n).astype(np.float32)
    within *= design.y_ss.astype(np.float32)
    out -= within
    out -= ((n - 1) / 2 * np.log(2 * np.pi) + 0.5 * np.log(n)).astype(np.float32)
    return out
