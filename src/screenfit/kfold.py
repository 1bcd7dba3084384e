"""K-fold cross-validation held out by cell line: for models where PSIS-LOO is unreliable.

Each fold refits the model on the training cell lines only; the held-out lines' parameters
(offsets, slopes, gene × line effects, noise) are then drawn from their hierarchical prior given
each training draw of the hyperparameters — exactly what predicting a new cell line means.
(Keeping the held-out lines in the training fit without data is not the same: their zero-sum
offsets would be tied to the training lines' and mix slowly.) The held-out units' log
predictive density is averaged over the posterior draws (log-mean-exp) and summed over folds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr
from scipy.special import logsumexp

from screenfit.data.design import LINE, Design, build_design
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError
from screenfit.evaluate.loglik import gaussian_unit_loglik
from screenfit.inference.diagnostics import GateThresholds, check_mcmc
from screenfit.inference.samplers import SamplerConfig, run_sampler
from screenfit.models.base import ModelOptions, ScreenModel
from screenfit.models.registry import get_model
from screenfit.results.comparison import Comparison, rank_pointwise


def line_folds(n_lines: int, k: int, seed: int) -> np.ndarray:
    """Fold number (0 … k−1) of each cell line: a seeded shuffle dealt out round-robin."""
    if not 2 <= k <= n_lines:
        raise ScreenfitInputError(
            f"K-fold needs 2 ≤ k ≤ number of cell lines ({n_lines}), got k={k}.", fix="pass e.g. --kfold 5."
        )
    order = np.random.default_rng(seed).permutation(n_lines)
    folds = np.empty(n_lines, dtype=int)
    folds[order] = np.arange(n_lines) % k
    return folds


def _new_line_loglik(spec: ScreenModel, held: Design, train: az.InferenceData, seed: int) -> np.ndarray:
    """Log-likelihood (draws × units) of held-out lines' units, their line parameters drawn anew.

    Every cell-line–level variable (free or derived) is removed from the training posterior and
    forward-sampled from its prior given the training draws of the hyperparameters, so held-out
    lines are predicted as new lines from the population.
    """
    model = spec.build(held, evaluation=True)  # collapsed gene × line effects as free variables, to redraw
    dims = model.named_vars_to_dims
    by_line = [v.name for v in (*model.free_RVs, *model.deterministics) if LINE in dims.get(v.name, ())]
    post = train.posterior
    shared = post[[v for v in post.data_vars if LINE not in post[v].dims]]
    drawn = pm.sample_posterior_predictive(
        az.InferenceData(posterior=shared), model=model, var_names=by_line, random_seed=seed,
        progressbar=False, extend_inferencedata=False,
    ).posterior_predictive  # fmt: skip
    merged = az.InferenceData(posterior=xr.merge([shared, drawn[by_line]], compat="override"))
    ll = gaussian_unit_loglik(spec, held, model, merged)
    return ll.reshape(-1, ll.shape[-1])


def heldout_elpd(
    screen: Screen,
    model: str,
    k: int = 5,
    options: ModelOptions | None = None,
    sampler: SamplerConfig | None = None,
    thresholds: GateThresholds | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, list[str]]:
    """Pointwise held-out ELPD of each guide × cell-line unit, and the folds that failed the gate."""
    spec = get_model(model, options)
    spec.check_screen(screen)
    if spec.observed != "lfc":
        raise ScreenfitInputError(
            f"K-fold by cell line is implemented for LFC models; '{spec.name}' models read counts.",
            fix="compare count models with PSIS-LOO (leave out --kfold).",
        )
    sampler = spec.sampler_for(screen, sampler)
    if not sampler.is_mcmc:
        raise ScreenfitInputError("K-fold needs posterior draws from NUTS.", fix="use an MCMC sampler for --kfold.")
    design = build_design(screen, spec.level(True), spec.covariate_columns)
    unit = build_design(screen, spec.evaluation_level, spec.covariate_columns)
    spec.build(design)  # fixes data-driven parametrisations on the full design, as a plain fit does
    lines = np.asarray(design.coords[LINE])
    folds = line_folds(len(lines), k, sampler.seed)
    line_of_row = screen.table[LINE].astype(str).to_numpy()
    pointwise = np.full(unit.n_groups, np.nan)
    failed = []
    for fold in range(k):
        train_screen = screen.with_table(screen.table[~np.isin(line_of_row, lines[folds == fold])])
        train = spec.build(build_design(train_screen, spec.level(True), spec.covariate_columns))
        with run_sampler(train, replace(sampler, seed=sampler.seed + fold), progress=progress) as run:
            gate = check_mcmc(run.idata, sampler.method, spec.location_pairs, thresholds)
            if gate.status == "failed":
                failed.append(f"fold {fold + 1}: {'; '.join(gate.problems)}")
            held = folds[unit.index[LINE]] == fold
            held_unit = unit.subset(held)
            ll = _new_line_loglik(spec, held_unit, run.idata, sampler.seed + fold)
        pointwise[held] = logsumexp(ll, axis=0) - np.log(ll.shape[0])
    return pointwise, failed


def compare_kfold(
    screen: Screen,
    models: Sequence[str],
    k: int = 5,
    options: Mapping[str, ModelOptions] | None = None,
    samplers: Mapping[str, SamplerConfig] | None = None,
    progress: bool = False,
) -> Comparison:
    """K-fold (by cell line) ELPD of each model on ``screen``, ranked like :func:`compare_fits`.

    ``options`` and ``samplers`` map model names to their settings (defaults where absent).
    """
    if len(models) < 2:
        raise ScreenfitInputError("compare needs at least two models.", fix="pass two or more model names.")
    pointwise: dict[str, np.ndarray] = {}
    extra: dict[str, dict[str, object]] = {}
    messages: list[str] = []
    for name in models:
        values, failed = heldout_elpd(
            screen, name, k, (options or {}).get(name), (samplers or {}).get(name), progress=progress
        )
        pointwise[name] = values
        extra[name] = {"status": "failed" if failed else "converged"}
        messages.extend(f"{name}, {msg} — its held-out ELPD is not from a converged posterior." for msg in failed)
    return Comparison(rank_pointwise(pointwise, extra), "kfold", pointwise, messages)
