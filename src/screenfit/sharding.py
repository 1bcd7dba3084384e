"""Two-stage sharded fits: cell-line parameters from a gene subset, then genes in parallel chunks.

Given every parameter that is not indexed by gene (cell-line offsets, screen quality,
copy-number slopes, noise scales, and the hyper-parameters of the gene-level priors), genes
are conditionally independent. So:

1. **Stage 1** fits the full model to a representative gene subset (the reference essential
   and non-essential genes present, plus a deterministic random pick of the rest).
2. **Stage 2** fixes those parameters at their stage-1 posterior means (``pm.do``) and fits
   the gene-level parameters of each chunk of genes as an independent task on a Dask cluster.
   Finished chunks are checkpointed, so a restarted run resumes.
3. The chunks' draws are concatenated along their gene dimensions, stage 1's draws of the
   fixed parameters are added, and the result is written like any fit (tables, posterior,
   diagnostics with the gate applied to every chunk by name).

A screen streamed from Parquet (:func:`~screenfit.data.stream.stream_design`) is sharded without
being loaded: the full model's facts come from its streamed statistics, and stage 1 and every
chunk read their genes' rows from the file.

Fixing the stage-1 parameters at their means ignores their uncertainty: the gene-level
intervals are conditional on them (``docs/distributed.md`` measures how much that matters).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pymc as pm
import xarray as xr
from distributed import Client

from screenfit.cluster import ClusterSpec, connect, map_tasks, worker_memory
from screenfit.data.design import GENE, GUIDE, Design, build_design
from screenfit.data.preprocess import stable_pick
from screenfit.data.screen import Screen
from screenfit.data.stream import StreamedScreen
from screenfit.errors import ScreenfitInputError
from screenfit.fitting import check_streamed, drawn_variables, fit, fit_config, provenance, result_tables
from screenfit.inference.cache import CONFIG, cache_state, fit_hash
from screenfit.inference.diagnostics import Diagnostics, GateThresholds, check_mcmc, check_optimiser
from screenfit.inference.samplers import SamplerConfig, run_sampler
from screenfit.io.atomic import atomic_path
from screenfit.io.fit_folder import FitResult, load_fit, write_fit
from screenfit.io.posterior import write_posterior
from screenfit.io.tables import write_table
from screenfit.models.base import ModelOptions, ScreenModel
from screenfit.models.registry import get_model
from screenfit.presets import Configuration
from screenfit.reference import essential_sets
from screenfit.results.tables import CI_PROB

#: Genes in stage 1 unless told otherwise: enough for every line's parameters to be pinned by
#: hundreds of genes, few enough for one NUTS fit.
STAGE1_GENES = 200
#: Smallest automatic chunk: each chunk pays a model compile (~5 s), so tiny chunks waste it.
MIN_CHUNK_GENES = 25
#: Bytes per stored draw value, times the copies held while a chunk's draws are summarised.
_BYTES_PER_VALUE = 8 * 4


def chunk_name(index: int) -> str:
    """A chunk's name in progress, errors, its checkpoint folder and the ``shards`` table."""
    return f"chunk-{index:04d}"


@dataclass(frozen=True)
class ChunkTask:
    """One stage-2 task: fit the gene-level parameters of ``genes`` with ``fixed`` held.

    The task carries no data: the worker reads the chunk's rows from ``data`` (the screen,
    written once as Parquet next to the checkpoints) with a row filter on ``hugo_symbol``, so
    the task graph stays small and a rescheduled task needs nothing from a lost worker.
    """

    index: int
    data: Path
    genes: tuple[str, ...]
    spec: ScreenModel
    fixed: dict[str, xr.DataArray]
    sampler: SamplerConfig
    thresholds: GateThresholds
    folder: Path
    key: str


@dataclass(frozen=True)
class ChunkOutcome:
    """What a finished chunk reports back (its draws stay in its checkpoint folder)."""

    index: int
    folder: Path
    genes: tuple[str, ...]
    diagnostics: Diagnostics
    wall_s: float
    reused: bool


def stage1_genes(labels: Sequence[str], n: int, seed: int) -> list[str]:
    """Reference essential and non-essential genes among the screen's gene ``labels``, topped up to
    ``n`` by a stable random pick."""
    genes = sorted({str(g) for g in labels})
    if n >= len(genes):
        return genes
    essential, nonessential = essential_sets()
    controls = [g for g in genes if g in set(essential) | set(nonessential)]
    controls = stable_pick(controls, min(len(controls), n // 2), seed)
    rest = [g for g in genes if g not in set(controls)]
    return sorted(controls + stable_pick(rest, n - len(controls), seed))


def gene_level_dims(model: pm.Model, design: Design) -> set[str]:
    """Dimensions indexed by gene or guide: the model's gene and guide coordinates and any subset of them."""
    labels = set(design.coords[GENE]) | set(design.coords.get(GUIDE, []))
    dims = {GENE, GUIDE}
    for name, values in model.coords.items():
        if values is not None and len(values) and {str(v) for v in values} <= labels:
            dims.add(name)
    return dims


def shared_variables(model: pm.Model, design: Design) -> list[str]:
    """Free variables and deterministics not indexed by gene: the ones stage 2 holds fixed."""
    gene_dims = gene_level_dims(model, design)
    names = [v.name for v in (*model.free_RVs, *model.deterministics)]
    return [n for n in names if not set(model.named_vars_to_dims.get(n) or ()) & gene_dims]


def fixed_values(idata: az.InferenceData, names: Sequence[str]) -> dict[str, xr.DataArray]:
    """Posterior means of ``names`` (labelled, so each chunk can pick its own cell lines)."""
    missing = [n for n in names if n not in idata.posterior]
    if missing:
        raise ScreenfitInputError(f"stage 1 has no draws of {', '.join(missing)}.", fix="refit stage 1 (--force).")
    return {n: idata.posterior[n].mean(("chain", "draw")) for n in names}


def _fixed_for(design: Design, model: pm.Model, fixed: dict[str, xr.DataArray]) -> dict[str, np.ndarray]:
    """The fixed values restricted to the labels of ``design`` (a chunk may miss some cell lines)."""
    out = {}
    for name, value in fixed.items():
        if name not in model.named_vars:
            continue
        dims = model.named_vars_to_dims.get(name) or ()
        sel = {d: list(model.coords[d]) for d in dims}
        try:
            out[name] = value.sel(sel).transpose(*dims).values
        except KeyError as err:
            raise ScreenfitInputError(
                f"the chunk has labels of '{name}' that stage 1 never saw ({err}).",
                fix="make sure every cell line has rows among the stage-1 genes (raise --stage1-genes).",
            ) from err
    return out


def _worker_cores(sampler: SamplerConfig) -> int:
    """Chains run in parallel inside one task: one core on a Dask worker (its threads run other chunks)."""
    try:
        from distributed import get_worker

        get_worker()
        return 1
    except ValueError:
        return sampler.cores or min(sampler.chains, 2)


def read_chunk(data: Path, genes: Sequence[str], note: str | None = None) -> Screen:
    """The rows of ``genes`` from a screen written by :func:`write_screen_data` or streamed from
    Parquet (already validated)."""
    table = pq.read_table(data, filters=[(GENE, "in", list(genes))]).to_pandas()
    return Screen(table.reset_index(drop=True), str(data), (note or f"stage-2 chunk of {len(genes)} genes",))


def write_screen_data(screen: Screen, folder: Path) -> Path:
    """Write the screen once for the workers (reused when the stored content hash matches)."""
    path = folder / "screen.parquet"
    wanted = screen.content_hash()
    if path.is_file():
        meta = (pq.read_schema(path).metadata or {}).get(b"screenfit")
        if meta and json.loads(meta).get("content_hash") == wanted:
            return path
    write_table(screen.table, path, metadata={"content_hash": wanted}, force=True, csv_twin=False)
    return path


def fit_chunk(task: ChunkTask) -> ChunkOutcome:
    """Fit one chunk (runs on a worker) and checkpoint it atomically; a finished checkpoint is reused."""
    genes = task.genes
    done = task.folder / "chunk.json"
    meta = json.loads(done.read_text()) if done.is_file() else {}
    if meta.get("key") == task.key:
        diag = Diagnostics.from_dict(meta["diagnostics"])
        return ChunkOutcome(task.index, task.folder, genes, diag, float(meta["wall_s"]), True)
    t0 = time.perf_counter()
    spec = task.spec
    screen = read_chunk(task.data, genes)
    design = build_design(screen, spec.level(True), spec.covariate_columns, count_columns=spec.observed == "counts")
    model = spec.build(design)
    conditioned = pm.do(model, _fixed_for(design, model, task.fixed))
    sampler = replace(task.sampler, cores=_worker_cores(task.sampler), seed=task.sampler.seed + 1 + task.index)
    names = drawn_variables(conditioned, spec) if sampler.method == "svi" else None
    with run_sampler(conditioned, sampler, progress=False, var_names=names) as run:
        posterior = run.idata.posterior[[v for v in run.idata.posterior.data_vars if not str(v).endswith("__")]]
        if sampler.is_mcmc:
            idata = az.InferenceData(posterior=posterior, sample_stats=run.idata.sample_stats)
            diagnostics = check_mcmc(idata, sampler.method, (), task.thresholds)
        else:
            idata = az.InferenceData(posterior=posterior.load())
            diagnostics = check_optimiser(sampler.method, run.optimiser, task.thresholds)
        wall = time.perf_counter() - t0
        with atomic_path(task.folder, force=True) as tmp:
            tmp.mkdir()
            write_posterior(idata, tmp / "posterior.nc")
            meta = {"key": task.key, "genes": list(genes), "diagnostics": diagnostics.to_dict(), "wall_s": wall}
            (tmp / "chunk.json").write_text(json.dumps(meta, default=str) + "\n")
    return ChunkOutcome(task.index, task.folder, genes, diagnostics, wall, False)


def chunk_size(
    n_genes: int, values_per_gene: float, draws: int, workers: int, memory_limit: int, requested: int | None = None
) -> int:
    """Genes per chunk: ``requested``, else ≥ 2 chunks per worker, capped by memory.

    The cap keeps one chunk's draws within half the smallest worker's memory limit.
    """
    if requested is not None:
        if requested < 1:
            raise ScreenfitInputError("--chunk-genes must be ≥ 1.", fix="pass a positive number of genes.")
        return requested
    size = max(MIN_CHUNK_GENES, math.ceil(n_genes / (2 * max(workers, 1))))
    if memory_limit > 0:
        per_gene = values_per_gene * draws * _BYTES_PER_VALUE
        size = min(size, max(1, int(0.5 * memory_limit / max(per_gene, 1.0))))
    return max(1, min(size, n_genes))


def _concat_by_gene(datasets: list[xr.Dataset], gene_dims: set[str]) -> xr.Dataset:
    """Concatenate each variable of the chunks along its gene-indexed dimension."""
    merged: dict[str, xr.DataArray] = {}
    names = dict.fromkeys(v for ds in datasets for v in ds.data_vars)
    for name in names:
        parts = [ds[name] for ds in datasets if name in ds]
        dims = [d for d in parts[0].dims if d in gene_dims]
        if len(dims) != 1:
            raise ValueError(f"stage-2 variable {name} has gene dimensions {dims}; expected exactly one")
        merged[str(name)] = xr.concat(parts, dim=dims[0])
    return xr.Dataset(merged)


def merge_chunks(
    stage1: az.InferenceData, shared: Sequence[str], chunks: Sequence[az.InferenceData], gene_dims: set[str]
) -> az.InferenceData:
    """One posterior: stage 1's draws of the shared parameters and every chunk's gene-level draws."""
    genes = _concat_by_gene([c.posterior for c in chunks], gene_dims)
    posterior = xr.merge([stage1.posterior[list(shared)], genes], join="exact", compat="override")
    return az.InferenceData(posterior=posterior)


def combine_diagnostics(
    method: str, parts: Sequence[tuple[str, Diagnostics]], th: GateThresholds, mcmc: bool = True
) -> Diagnostics:
    """The gate over stage 1 and every chunk: worst values, and each failure named by its part;
    a variational fit whose parts all met their stopping rule is ``approximate``."""

    def extreme(
        pick: Callable[..., tuple[float, str]],
        value: Callable[[Diagnostics], float | None],
        at: Callable[[Diagnostics], str | None],
    ) -> tuple[float | None, str | None]:
        """The worst finite value over the parts, and where it is (``part: parameter``)."""
        found = [(v, f"{name}: {at(d)}") for name, d in parts if (v := value(d)) is not None and np.isfinite(v)]
        return pick(found, key=lambda t: t[0]) if found else (None, None)

    max_rhat, rhat_at = extreme(max, lambda d: d.max_rhat, lambda d: d.max_rhat_parameter)
    min_bulk, bulk_at = extreme(min, lambda d: d.min_ess_bulk, lambda d: d.min_ess_bulk_parameter)
    min_tail, _ = extreme(min, lambda d: d.min_ess_tail, lambda d: None)
    min_bfmi, _ = extreme(min, lambda d: d.min_bfmi, lambda d: None)
    problems = tuple(f"{name}: {p}" for name, d in parts for p in d.problems)
    optimiser = {} if mcmc else {"steps": {name: d.optimiser.get("steps") for name, d in parts},
                                 "converged": all(bool(d.optimiser.get("converged")) for _, d in parts)}  # fmt: skip
    return Diagnostics(
        status="failed" if problems else ("converged" if mcmc else "approximate"),
        method=f"{method} (two-stage, {len(parts) - 1} chunks)", optimiser=optimiser,
        max_rhat=max_rhat, max_rhat_parameter=rhat_at, min_ess_bulk=min_bulk, min_ess_bulk_parameter=bulk_at,
        min_ess_tail=min_tail, divergences=sum(d.divergences or 0 for _, d in parts), min_bfmi=min_bfmi,
        problems=problems, thresholds=th,
    )  # fmt: skip


def _shards_table(outcomes: Sequence[ChunkOutcome]) -> pd.DataFrame:
    rows = [
        {"chunk": chunk_name(o.index), "n_genes": len(o.genes), "first_gene": o.genes[0], "last_gene": o.genes[-1],
         "status": o.diagnostics.status, "max_rhat": o.diagnostics.max_rhat, "min_ess_bulk": o.diagnostics.min_ess_bulk,
         "divergences": o.diagnostics.divergences, "wall_s": o.wall_s, "resumed": o.reused,
         "problems": "; ".join(o.diagnostics.problems)}
        for o in outcomes
    ]  # fmt: skip
    return pd.DataFrame(rows)


def checkpoint_folder(out: Path) -> Path:
    """Where a sharded fit keeps stage 1 and finished chunks until the merged result is written."""
    return out.parent / f".{out.name}.shards"


@dataclass(frozen=True)
class _ModelFacts:
    """What the two stages need to know of the model built on all genes."""

    gene_dims: set[str]
    shared: list[str]
    genes: list[str]
    values_per_gene: float


def _full_model_facts(screen: Screen | StreamedScreen, spec: ScreenModel, level: tuple[str, ...]) -> _ModelFacts:
    """Build the model on all genes once: data-driven parametrisations are decided there, so every
    stage builds the same model; its gene-level dimensions, shared variables and size per gene.
    A streamed screen's model is built on its streamed statistics (no row is read)."""
    if isinstance(screen, StreamedScreen):
        full_design = screen.design
        full_model = spec.build(full_design, grid=screen.grid)
    else:
        full_design = build_design(screen, level, spec.covariate_columns, count_columns=spec.observed == "counts")
        full_model = spec.build(full_design)
    shared = shared_variables(full_model, full_design)
    genes = list(full_design.coords[GENE])
    gene_values = sum(
        math.prod(len(full_model.coords[d]) for d in full_model.named_vars_to_dims.get(v.name) or ())
        for v in (*full_model.free_RVs, *full_model.deterministics)
        if v.name not in shared
    )  # fmt: skip
    return _ModelFacts(gene_level_dims(full_model, full_design), shared, genes, gene_values / max(len(genes), 1))


def _stage1(
    screen: Screen | StreamedScreen, spec: ScreenModel, sampler: SamplerConfig, genes1: list[str],
    level: tuple[str, ...], ci_prob: float, th: GateThresholds, folder: Path, progress: bool,
) -> FitResult:  # fmt: skip
    """Stage 1: the whole model on a subset of genes (reused from its checkpoint when current); a
    streamed screen's stage-1 rows are read from its file."""
    note = f"stage 1 of a sharded fit: {len(genes1)} genes"
    if isinstance(screen, StreamedScreen):
        screen1 = read_chunk(Path(screen.source), genes1, note)
    else:
        screen1 = screen.with_table(screen.table[screen.table[GENE].astype(str).isin(genes1)], note)
    wanted = fit_config(screen1, spec, sampler, level, ci_prob, log_likelihood=False, predictive=False)["hash"]
    return fit(
        screen1, spec, sampler=sampler, out=folder, ci_prob=ci_prob, thresholds=th, log_likelihood=False,
        predictive=False, progress=progress, force=_stale(folder, str(wanted)),
    )  # fmt: skip


def _run_chunks(
    cluster: ClusterSpec | Client, screen: Screen | StreamedScreen, shards: Path, spec: ScreenModel,
    fixed: dict[str, xr.DataArray], sampler: SamplerConfig, th: GateThresholds, facts: _ModelFacts,
    chunk_genes: int | None, key_base: dict[str, object], progress: bool,
) -> tuple[list[ChunkOutcome], int, int]:  # fmt: skip
    """Stage 2: the genes in chunks sized to the workers' memory, one task each; the outcomes,
    the chunk size and the number of workers."""
    n_genes, genes = len(facts.genes), facts.genes
    with connect(cluster) as client:
        workers, memory = worker_memory(client)
        size = chunk_size(n_genes, facts.values_per_gene, sampler.chains * int(sampler.draws or 0), workers, memory,
                          chunk_genes)  # fmt: skip
        groups = [tuple(genes[i : i + size]) for i in range(0, n_genes, size)]
        # Workers read their genes' rows: from the streamed file itself, or from the screen written once.
        data = Path(screen.source) if isinstance(screen, StreamedScreen) else write_screen_data(screen, shards)
        tasks = [
            ChunkTask(
                i, data, g, spec, fixed, sampler, th,
                shards / chunk_name(i), fit_hash({**key_base, "size": size, "index": i, "genes": g}),
            )
            for i, g in enumerate(groups)
        ]  # fmt: skip
        outcomes = map_tasks(client, fit_chunk, tasks, [f"{chunk_name(t.index)}-{t.key[:8]}" for t in tasks], progress)
    return outcomes, size, workers


def fit_sharded(
    screen: Screen | StreamedScreen,
    model: str | ScreenModel | Configuration = "gene-cellline",
    *,
    cluster: ClusterSpec | Client,
    out: str | Path,
    options: ModelOptions | None = None,
    sampler: SamplerConfig | None = None,
    n_stage1_genes: int = STAGE1_GENES,
    chunk_genes: int | None = None,
    force: bool = False,
    ci_prob: float = CI_PROB,
    thresholds: GateThresholds | None = None,
    keep_checkpoints: bool = False,
    progress: bool = True,
) -> FitResult:
    """Fit ``model`` (a name with ``options``, a model, or a preset's configuration, recorded in
    config.json as a one-machine fit records it) in two stages: shared parameters on a gene
    subset, then gene chunks on a Dask cluster, by MCMC or SVI. ``screen`` is loaded, or
    streamed from Parquet at the model's level (then never loaded: the module docstring).

    The result has the same tables and posterior layout as :func:`~screenfit.fitting.fit`
    (without pointwise log-likelihood or predictive checks), a ``shards`` table with one row
    per chunk, and ``status: failed`` naming every chunk (or stage 1) that missed the gate.
    Finished chunks are checkpointed in :func:`checkpoint_folder`; a rerun with the same
    settings resumes from them, and they are removed once the result is written (unless
    ``keep_checkpoints``).
    """
    described = model.to_dict() if isinstance(model, Configuration) else {}
    if isinstance(model, Configuration):
        sampler = sampler or SamplerConfig(method=model.sampler)  # type: ignore[arg-type]
        model = model.spec.build()
    spec = get_model(model, options) if isinstance(model, str) else model
    if isinstance(screen, StreamedScreen):
        check_streamed(spec, screen, collapse=True, evaluate=False)
    else:
        spec.check_screen(screen)
    sampler = spec.sampler_for(screen, sampler)
    if not (sampler.is_mcmc or sampler.method == "svi"):
        raise ScreenfitInputError(
            f"sharded fits run MCMC or SVI stage by stage, not {sampler.method}.",
            fix="use --sampler svi, nutpie (or numpyro).",
        )
    spec = spec.settled(sampler)  # before the hash, as in a single-machine fit
    th = thresholds or GateThresholds()
    out = Path(out)
    level = spec.level(True)
    t0 = time.perf_counter()
    # Data-driven parametrisations are decided once, on all genes, so every stage builds the same model.
    facts = _full_model_facts(screen, spec, level)
    shared = facts.shared
    genes1 = stage1_genes(facts.genes, n_stage1_genes, sampler.seed)
    config = fit_config(
        screen, spec, sampler, level, ci_prob, log_likelihood=False, predictive=False,
        sharded={"stage1_genes": len(genes1), "chunk_genes": chunk_genes, "fixed": "stage-1 posterior mean",
                 "shared_parameters": shared}, **described,
    )  # fmt: skip
    if cache_state(out, str(config["hash"]), force) == "hit":
        return load_fit(out)
    shards = checkpoint_folder(out)
    shards.mkdir(parents=True, exist_ok=True)
    stage1 = _stage1(screen, spec, sampler, genes1, level, ci_prob, th, shards / "stage1", progress)
    # Stage 1's draws in the likelihood's coordinates, which stage 2 is built in (models/efficacy.py).
    drawn1 = az.InferenceData(posterior=spec.likelihood_posterior(stage1.idata.posterior))
    fixed = fixed_values(drawn1, shared)
    timings = {"load": time.perf_counter() - t0, "stage1": float(stage1.provenance["timings_s"]["sample"])}  # type: ignore[index]
    t1 = time.perf_counter()
    key_base = {"fit": config["hash"], "stage1": stage1.config["hash"]}
    outcomes, size, workers = _run_chunks(cluster, screen, shards, spec, fixed, sampler, th, facts, chunk_genes,
                                          key_base, progress)  # fmt: skip
    timings["stage2"] = time.perf_counter() - t1
    chunk_data = [az.from_netcdf(str(o.folder / "posterior.nc")) for o in outcomes]
    merged = merge_chunks(drawn1, shared, chunk_data, facts.gene_dims)
    idata = az.InferenceData(posterior=spec.reported_posterior(merged.posterior))
    parts = [("stage 1", stage1.diagnostics)]
    parts += [(f"{chunk_name(o.index)} ({o.genes[0]}–{o.genes[-1]})", o.diagnostics) for o in outcomes]
    diagnostics = combine_diagnostics(sampler.method, parts, th, mcmc=sampler.is_mcmc)
    where = str(cluster) if isinstance(cluster, ClusterSpec) else "client"
    config["sharded"] = {
        **config["sharded"],  # type: ignore[dict-item]
        "chunk_genes": size, "chunks": len(outcomes), "workers": workers, "stage1_gene_list": genes1, "cluster": where,
    }  # fmt: skip
    config["parametrisation"] = stage1.config.get("parametrisation", {})
    tables = result_tables(idata, spec, screen, ci_prob)
    tables["shards"] = _shards_table(outcomes)
    prov = provenance({**timings, "compile": 0.0, "sample": timings["stage1"] + timings["stage2"]}, sampler)
    result = FitResult(spec.name, diagnostics, tables, config, prov, out, False, idata)
    write_fit(result, idata, out, force)
    if not keep_checkpoints:
        shutil.rmtree(shards, ignore_errors=True)
    return result


def _stale(folder: Path, wanted: str) -> bool:
    """Whether a checkpoint folder exists but holds something else than the fit wanted (then it is replaced)."""
    if not folder.exists():
        return False
    config = folder / CONFIG
    return not config.is_file() or json.loads(config.read_text()).get("hash") != wanted
