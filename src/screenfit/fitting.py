"""``screenfit.fit``: screen → design → model → sampler → gate → labelled tables, cached on disk.

Output folder (CONVENTIONS.md): ``posterior.nc`` (posterior, sample stats, unit-level observed
data and pointwise log-likelihood), ``config.json``, ``provenance.json``, ``diagnostics.json``
and the tables (Parquet + CSV twin). The folder is written atomically and reused when its
hash matches.
"""

from __future__ import annotations

import os
import platform
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor

import screenfit
from screenfit.data.design import GENE, GUIDE, LINE, LINEAGE, Design, build_design
from screenfit.data.screen import Screen
from screenfit.data.stream import GUIDE_LEVELS, STREAM_LEVEL, StreamedScreen
from screenfit.errors import ScreenfitInputError
from screenfit.evaluate import loglik as evaluate
from screenfit.evaluate.loglik import evaluation_units, unit_log_likelihood
from screenfit.inference.cache import cache_state, fit_hash
from screenfit.inference.diagnostics import (
    GateThresholds,
    check_mcmc,
    check_optimiser,
    gated_variables,
    per_parameter,
    reported_variables,
)
from screenfit.inference.memory import release_free_memory
from screenfit.inference.samplers import JAX_METHODS, SamplerConfig, SampleRun, n_elements, run_sampler
from screenfit.io.fit_folder import FitResult, load_fit, write_fit
from screenfit.io.guide_efficacy import GUIDE_EFFICACY
from screenfit.models.base import ModelOptions, ScreenModel
from screenfit.models.collapsed import EPSILON
from screenfit.models.likelihood import guide_grid_fits
from screenfit.models.registry import get_model
from screenfit.models.spec import ModelSpec
from screenfit.presets import Configuration, configure
from screenfit.results.depmap import depmap_tables
from screenfit.results.predictive import calibration, ppc_by, predictive_check
from screenfit.results.tables import CI_PROB, build_tables


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "screenfit": screenfit.__version__}
    for pkg in ("pymc", "pytensor", "nutpie", "arviz", "numpy", "pandas", "xarray", "jax", "numpyro", "blackjax"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def provenance(timings: dict[str, float], sampler: SamplerConfig) -> dict[str, object]:
    gpu = "none"
    if sampler.method in JAX_METHODS or sampler.nutpie_backend == "jax":
        import jax

        gpu = ", ".join(str(d) for d in jax.devices() if d.platform != "cpu") or "none"
    return {
        "versions": _versions(), "host": socket.gethostname(), "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(), "gpu": gpu,
        "timings_s": timings, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }  # fmt: skip


def _entrez(screen: Screen | StreamedScreen) -> dict[str, int]:
    if isinstance(screen, StreamedScreen):
        return screen.entrez
    t = screen.table
    if "entrez_id" not in t.columns:
        return {}
    pairs = t[["hugo_symbol", "entrez_id"]].dropna().drop_duplicates("hugo_symbol")
    return dict(zip(pairs["hugo_symbol"].astype(str), pairs["entrez_id"].astype(int), strict=True))


def fit_config(
    screen: Screen | StreamedScreen,
    spec: ScreenModel,
    sampler: SamplerConfig,
    level: tuple[str, ...],
    ci_prob: float,
    **extra: object,
) -> dict[str, object]:
    """``config.json`` of a fit, with ``hash`` over everything that changes the result (not the source path)."""
    config = {
        "model": spec.name, "options": spec.options.to_dict(), "sampler": sampler.to_dict(), "observed": spec.observed,
        "likelihood_level": list(level), "ci_prob": ci_prob, "data_hash": screen.content_hash(),
        "data_source": screen.source, "data_notes": list(screen.notes), "data_summary": screen.summary(),
        "screenfit_version": screenfit.__version__, "model_revision": spec.revision, **extra,
    }  # fmt: skip
    unhashed = ("data_source", "data_notes", "preset_reason", "preset_notes")
    config["hash"] = fit_hash({k: v for k, v in config.items() if k not in unhashed})
    return config


def compile_key(config: dict[str, object], spec: ScreenModel, var_names: Sequence[str]) -> str:
    """Content key of the compiled model of a fit: what its density and stored variables depend
    on (data hash, model, options, likelihood level, parametrisation), not the sampler settings."""
    fields = ("model", "options", "observed", "likelihood_level", "data_hash", "screenfit_version", "model_revision")
    payload: dict[str, object] = {k: config[k] for k in fields}
    payload["class"] = f"{type(spec).__module__}.{type(spec).__qualname__}"
    payload["plan"] = spec.plan.to_dict()
    # Anything else set on the instance (a user's override of a class attribute) changes the graph too.
    skip = {"options", "plan"}
    payload["instance"] = {k: repr(v) for k, v in sorted(vars(spec).items()) if k not in skip}
    payload["variables"] = list(var_names)
    return fit_hash(payload)


def result_tables(
    idata: az.InferenceData,
    spec: ScreenModel,
    screen: Screen | StreamedScreen,
    ci_prob: float,
    convergence: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The tidy tables of a posterior (:func:`~screenfit.results.tables.build_tables`), guides labelled by gene.

    Models with a gene × cell-line effect also get the DepMap-layout tables
    (:func:`~screenfit.results.depmap.depmap_tables`) when the screen has enough reference genes.
    """
    entrez = _entrez(screen)
    tables = build_tables(idata, spec, entrez, ci_prob, convergence)
    if "condition_effects" in tables and isinstance(screen, Screen) and screen.has(GUIDE_EFFICACY):
        from screenfit.results.conditions import per_knockout

        guides = screen.table[[GUIDE, GENE, GUIDE_EFFICACY]].drop_duplicates(GUIDE)
        tables["condition_effects"] = per_knockout(tables["condition_effects"], guides)
    if spec.gene_line_effect:
        tables.update(depmap_tables(idata.posterior[spec.gene_line_effect], entrez, ci_prob))
    if "guide_parameters" in tables:
        if isinstance(screen, Screen):
            guide_gene = screen.table.drop_duplicates(GUIDE).set_index(GUIDE)[GENE].astype(str)
        else:
            coords = screen.design.coords
            guide_gene = pd.Series(np.asarray(coords[GENE])[screen.design.guide_gene], index=coords[GUIDE])
        guides = tables["guide_parameters"]
        guides.insert(guides.columns.get_loc(GUIDE) + 1, GENE, guides[GUIDE].map(guide_gene))
    return tables


#: Elements above which an auxiliary variable (one that is not a reported effect) is not drawn.
LARGE_AUXILIARY = 1_000_000


def drawn_variables(model: pm.Model, spec: ScreenModel) -> list[str]:
    """Variables whose draws a fit keeps: every parameter and deterministic except PyMC's
    transformed copies and large auxiliaries (e.g. the ``z`` of a non-centred gene × line term,
    which duplicates the reported effect element for element, or the ``ε`` of collapsed ones)."""
    reported = {spec.gene_effect, spec.gene_line_effect}
    names = []
    for var in (*model.free_RVs, *model.deterministics):
        if var.name == EPSILON:
            continue  # the standard-normal draws behind collapsed gene × line effects
        if var.name in reported or n_elements(model, var.name) <= LARGE_AUXILIARY:
            names.append(var.name)
    return names


def streamable_level(spec: ScreenModel) -> tuple[str, ...] | None:
    """The level ``spec`` is fitted at from a streamed screen: gene × line statistics, or guide × line
    ones for guide-level terms on the guide grid; ``None`` when it needs the rows."""
    if spec.observed != "lfc" or spec.options.time_course:
        return None
    level = spec.level(True)
    if level == STREAM_LEVEL or (level in GUIDE_LEVELS and guide_grid_fits(spec)):
        return level
    return None


def stream_level(spec: ScreenModel, source: str | Path, collapse: bool = True) -> tuple[str, ...]:
    """:func:`streamable_level`, or a clear error naming the model and the file when it has none."""
    if spec.options.time_course:
        raise ScreenfitInputError(
            "a time course is fitted per time point, which a streamed screen (gene × line statistics) does not keep.",
            file=source,
            fix="load the screen in memory (without --stream), or fit without --time-course.",
        )
    level = streamable_level(spec) if collapse else None
    if level is None:
        raise ScreenfitInputError(
            f"model '{spec.name}' needs replicate-level rows, but a streamed screen is read as gene × cell-line "
            "(or guide × cell-line) sufficient statistics.",
            file=source,
            fix="stream an LFC model whose mean is per gene × cell line (gene-by-line, gene-by-line-lineage, the "
            "depmap preset), or load the screen in memory (without --stream).",
        )
    return level


def check_streamed(spec: ScreenModel, screen: StreamedScreen, collapse: bool, evaluate: bool) -> None:
    """Raise a clear error when a model cannot be fitted from a streamed design."""
    stream_level(spec, screen.source, collapse)
    if spec.level(collapse) != screen.level:
        raise ScreenfitInputError(
            f"the screen was streamed at {' × '.join(screen.level)} but model '{spec.name}' is fitted at "
            f"{' × '.join(spec.level(collapse))}.",
            file=screen.source,
            fix="stream it with the model's level: stream_design(path, covariates, level=streamable_level(model)).",
        )
    if spec.needs_lineage and LINEAGE not in screen.design.index:
        raise ScreenfitInputError(
            f"model '{spec.name}' pools gene effects within lineage but the screen has no 'lineage' column.",
            file=screen.source, column=LINEAGE, fix="ingest with cell-line annotations (`--annotations Model.csv`).",
        )  # fmt: skip
    if evaluate:
        raise ScreenfitInputError(
            "the pointwise log-likelihood and predictive checks are per guide × line, which a streamed screen "
            "does not read.",
            file=screen.source,
            fix="fit without them (leave log_likelihood and predictive unset, or False), or load the screen in memory.",
        )


def _evaluate(
    spec: ScreenModel, screen: Screen, design: Design, idata: az.InferenceData, loglik_request: bool | str,
    predictive: bool, ci_prob: float, seed: int, timings: dict[str, float],
) -> dict[str, pd.DataFrame]:  # fmt: skip
    """Add the pointwise log-likelihood (thinned to its budget) and the posterior predictive draws to
    ``idata``; return the predictive-check tables. The evaluation model is dropped on return."""
    ev = evaluation_units(spec, screen, design)
    if loglik_request:
        t1 = time.perf_counter()
        large = loglik_request == "auto" and not evaluate.loglik_stored(idata, ev.unit.n_groups)
        budget = evaluate.LOGLIK_LARGE_BUDGET if large else evaluate.LOGLIK_BUDGET
        loglik, observed = unit_log_likelihood(spec, idata, ev, budget)
        idata.add_groups({"log_likelihood": loglik, "observed_data": observed})
        timings["log_likelihood"] = time.perf_counter() - t1
    if not predictive:
        return {}
    t1 = time.perf_counter()
    ppc, replicated = predictive_check(ev.model, idata, ev.var, ev.observed, ev.labels, ci_prob, seed, ev.normal)
    idata.add_groups({"posterior_predictive": replicated})
    timings["predictive"] = time.perf_counter() - t1
    return {"ppc_units": ppc, "ppc_calibration": calibration(ppc), "ppc_cell_lines": ppc_by(ppc, LINE),
            "ppc_genes": ppc_by(ppc, GENE)}  # fmt: skip


def resolve_model(
    screen: Screen | StreamedScreen,
    model: str | ModelSpec | ScreenModel | Configuration | None,
    preset: str | None,
    config: dict[str, object] | None,
    options: ModelOptions | None,
    sampler: SamplerConfig | None,
) -> tuple[Screen | StreamedScreen, ScreenModel, SamplerConfig | None, Configuration | None]:
    """The screen, model and sampler a fit runs, and the preset configuration they came from (or ``None``).

    With ``model=None`` the preset is resolved on the screen (:func:`~screenfit.presets.configure`),
    or ``model`` is such a resolved configuration (whose screen is fitted, ``screen`` where it has
    none: a streamed screen's configuration is chosen from its facts, before it is read); a streamed
    screen with ``model=None`` fits gene-by-line.
    """
    if isinstance(model, Configuration):
        fitted = screen if model.screen is None else model.screen
        return fitted, model.spec.build(), sampler or SamplerConfig(method=model.sampler), model  # type: ignore[arg-type]
    if model is None and options is None and isinstance(screen, Screen):
        chosen = configure(screen, preset, config, sampler=sampler.method if sampler is not None else None)
        sampler = sampler or SamplerConfig(method=chosen.sampler)  # type: ignore[arg-type]
        return chosen.screen, chosen.spec.build(), sampler, chosen
    if preset is not None or config is not None:
        raise ScreenfitInputError(
            "a preset or configuration sets the model; it cannot be combined with a model named by hand.",
            fix="pass either model/options or preset/config.",
        )
    if isinstance(model, ScreenModel):
        return screen, model, sampler, None
    if isinstance(model, ModelSpec):
        return screen, model.build(), sampler, None
    return screen, get_model(model or ("gene-by-line" if isinstance(screen, StreamedScreen) else "gene-cellline"),
                             options), sampler, None  # fmt: skip


# PyTensor records, on every graph node it creates, the stack of the code that created it (for
# error messages); screenfit's models and PyMC's rewrites create tens of thousands, and reading
# the stack cost 0.5–1 s of a 17 s fit at 300 genes × 60 lines (measured). Off within a fit.
@pytensor.config.change_flags(traceback__limit=0)
def fit(
    screen: Screen | StreamedScreen,
    model: str | ModelSpec | ScreenModel | Configuration | None = None,
    *,
    preset: str | None = None,
    config: dict[str, object] | None = None,
    options: ModelOptions | None = None,
    sampler: SamplerConfig | None = None,
    out: str | Path | None = None,
    force: bool = False,
    collapse: bool = True,
    ci_prob: float = CI_PROB,
    thresholds: GateThresholds | None = None,
    log_likelihood: bool | None = None,
    predictive: bool | None = None,
    progress: bool = True,
) -> FitResult:
    """Fit a registered model to a screen.

    Parameters
    ----------
    screen
        The validated screen, or a screen streamed from Parquet
        (:func:`~screenfit.data.stream.stream_design`, at :func:`stream_level` of the model) for
        models whose mean is per gene × cell line, guide terms included.
    model
        ``None`` (default): the preset chosen for the screen (:func:`~screenfit.presets.choose_preset`),
        or ``preset``, with ``config``'s overrides; config.json records which and why. Else a
        :class:`~screenfit.presets.Configuration`, a :class:`~screenfit.models.spec.ModelSpec`,
        a registry name (``screenfit models``) with
        ``options``, or a model instance (whose parametrisation decisions, if made, are kept).
    preset, config
        A preset's name (``screenfit presets``), and overrides in a configuration file's form
        (:func:`~screenfit.presets.read_config_file`); only with ``model=None``.
    options
        Model options of a model named by registry name; ignored when ``model`` is an instance.
    sampler
        Method and settings; default the preset's method (nutpie NUTS for a named model), 4
        chains, seed 0, the model's recommended draws.
    out
        Output folder; reused when it holds a fit with the same hash, an error when it holds
        another fit (unless ``force``), and written atomically otherwise.
    collapse
        Use the exact sufficient-statistics likelihood (default); ``False`` evaluates every row.
    ci_prob
        Probability of the HDI columns (stated in the tables and config).
    thresholds
        Convergence-gate thresholds.
    log_likelihood
        Compute and store the pointwise (per guide × cell line) log-likelihood for model
        comparison. Default (``None``): yes, thinned to :data:`LOGLIK_BUDGET` values, or to
        :data:`LOGLIK_LARGE_BUDGET` beside a posterior too large for ``posterior.nc`` (then in
        ``posterior.zarr``), so that every fit can be compared; never for streamed screens,
        whose guide-level rows are not read. ``True`` stores it at :data:`LOGLIK_BUDGET`
        whatever the size; ``False`` leaves it out.
    predictive
        Run posterior predictive checks (tables ``ppc_*``, a few replicated data sets in the
        posterior); default: yes, except for streamed screens.
    progress
        Show the sampler's progress bar.
    """
    screen, spec, sampler, chosen = resolve_model(screen, model, preset, config, options, sampler)
    settled = _settle(screen, spec, sampler, chosen, collapse, ci_prob, log_likelihood, predictive)
    out_path = Path(out) if out is not None else None
    if out_path is not None and cache_state(out_path, str(settled.config["hash"]), force) == "hit":
        return load_fit(out_path)
    sampled = _sample(screen, settled, progress)
    try:
        return _results(sampled, screen, settled, ci_prob, thresholds, out_path, force)
    finally:
        sampled.run.release()


def _results(
    sampled: _Sampled, screen: Screen | StreamedScreen, settled: _Settled, ci_prob: float,
    thresholds: GateThresholds | None, out_path: Path | None, force: bool,
) -> FitResult:  # fmt: skip
    """Gate, evaluate, summarise and write a finished run."""
    spec, sampler, config, run = settled.model, settled.sampler, settled.config, sampled.run
    convergence = None  # the gate's per-parameter R-hat/ESS, reused by the tables
    if sampler.is_mcmc:
        gated = [v for v in gated_variables(run.idata) if v not in spec.derived_variables]
        convergence = per_parameter(run.idata, gated)
        diagnostics = check_mcmc(run.idata, sampler.method, spec.location_pairs, thresholds, convergence)
    else:
        diagnostics = check_optimiser(sampler.method, run.optimiser, thresholds)
    config["parametrisation"] = _parametrisation(spec)
    # Keep the draws and the sampler's statistics only: screenfit adds its own unit-level
    # observed data, log-likelihood and predictive groups (VI's idata already has row-level ones).
    kept = {g: getattr(run.idata, g) for g in ("sample_stats",) if g in run.idata.groups()}
    idata = az.InferenceData(posterior=run.idata.posterior[reported_variables(run.idata)], **kept)
    checks: dict[str, pd.DataFrame] = {}
    if settled.loglik or settled.predictive:
        assert isinstance(screen, Screen)
        assert sampled.design is not None
        checks = _evaluate(spec, screen, sampled.design, idata, settled.loglik, settled.predictive, ci_prob,
                           sampler.seed, sampled.timings)  # fmt: skip
    sampled.design = None  # not needed past here
    release_free_memory()  # the evaluation's and predictive checks' arrays (inference/memory.py)
    # Evaluated at the likelihood's draws above; summarised and stored as reported from here
    # on (effects per full knockout where they differ: models/efficacy.py).
    spec.reported_posterior(idata.posterior, in_place=True)
    tables = {**result_tables(idata, spec, screen, ci_prob, convergence), **checks}
    result = FitResult(
        spec.name, diagnostics, tables, config, provenance(sampled.timings, sampler), out_path, False, idata
    )
    if out_path is not None:
        write_fit(result, idata, out_path, force)
    if run.draws_dir is not None:
        # The draws were streamed to a temporary Zarr store that is removed below: reread
        # them from posterior.nc on use, or hold them in memory when nothing was written.
        result._idata = idata.map(lambda ds: ds.load()) if out_path is None else None
    return result


@dataclass(frozen=True)
class _Settled:
    """What a fit was settled to before it runs: the model with its options fixed, sampler,
    likelihood level, config.json's content (with its hash), and whether to evaluate the
    log-likelihood (``"auto"``: thinned) and predictive checks."""

    model: ScreenModel
    sampler: SamplerConfig
    level: tuple[str, ...]
    config: dict[str, object]
    loglik: bool | str
    predictive: bool


def _settle(
    screen: Screen | StreamedScreen, spec: ScreenModel, sampler: SamplerConfig | None, chosen: Configuration | None,
    collapse: bool, ci_prob: float, log_likelihood: bool | None, predictive: bool | None,
) -> _Settled:  # fmt: skip
    """Check the screen and settings against the model and settle what the fit will run."""
    streamed = isinstance(screen, StreamedScreen)
    if isinstance(screen, StreamedScreen):
        check_streamed(spec, screen, collapse, bool(log_likelihood or predictive))
    else:
        spec.check_screen(screen)
    if not spec.pointwise and (log_likelihood or predictive):
        raise ScreenfitInputError(
            f"model '{spec.name}' has no per-unit likelihood: it cannot store the pointwise log-likelihood "
            "or run predictive checks.",
            fix="fit it without --log-likelihood / --predictive (they are off for it by default).",
        )
    evaluable = spec.pointwise and not streamed
    loglik: bool | str = ("auto" if evaluable else False) if log_likelihood is None else log_likelihood
    predictive = evaluable if predictive is None else predictive
    sampler = spec.sampler_for(screen, sampler)
    sampler.validate()
    spec = spec.settled(sampler)
    predictive = predictive and sampler.method != "map"  # one point has no predictive spread
    if not 0 < ci_prob < 1:
        raise ScreenfitInputError(f"ci_prob must be between 0 and 1, got {ci_prob}.", fix="pass e.g. --ci-prob 0.94.")
    level = spec.level(collapse)
    described = (
        chosen.to_dict()
        if chosen is not None
        else {"model_spec": ModelSpec.from_options(spec.name, spec.options).to_dict()}
    )
    config = fit_config(
        screen, spec, sampler, level, ci_prob, log_likelihood=loglik, predictive=predictive, **described
    )
    return _Settled(spec, sampler, level, config, loglik, predictive)


@dataclass
class _Sampled:
    """A finished run with the design it read (dropped once evaluated) and the timings so far."""

    run: SampleRun
    design: Design | None
    timings: dict[str, float]


def _sample(screen: Screen | StreamedScreen, settled: _Settled, progress: bool) -> _Sampled:
    """Build the design and the PyMC model and run the sampler; the model is dropped on return."""
    spec = settled.model
    t0 = time.perf_counter()
    grid = None
    if isinstance(screen, StreamedScreen):
        design, grid = screen.design, screen.grid
    else:
        design = build_design(screen, settled.level, spec.covariate_columns, count_columns=spec.observed == "counts")
    pm_model = spec.build(design, grid=grid)
    timings = {"load": time.perf_counter() - t0}
    var_names = drawn_variables(pm_model, spec)
    key = compile_key(settled.config, spec, var_names)
    run = run_sampler(pm_model, settled.sampler, progress=progress, var_names=var_names, compile_key=key)
    timings.update(compile=run.compile_s, sample=run.sample_s)
    return _Sampled(run, design, timings)


def _parametrisation(spec: ScreenModel) -> dict[str, object]:
    """config.json's record of which hierarchies were centred (whole, or by group)."""
    recorded: dict[str, object] = {k: ("centred" if v else "non-centred") for k, v in spec.plan.parametrisation.items()}
    recorded.update({k: {"centred": sorted(v)} for k, v in spec.plan.centred_groups.items()})
    return recorded
