"""Run a PyMC model with the chosen method and time compile and sampling separately.

- ``nutpie`` (default): NUTS compiled by nutpie (numba backend; ``jax`` selectable).
- ``pymc``: PyMC's own NUTS. ``numpyro`` / ``blackjax``: NUTS in JAX (the GPU path; needs
  ``pip install 'screenfit[jax]'``).
- ``svi``: mean-field variational inference in JAX (ADVI by optax's Adam on the PyMC model's
  log density; :mod:`screenfit.inference.svi`) — the fast and the genome-scale path, CPU or GPU.
- ``advi`` / ``fullrank_advi``: PyMC variational inference, stopped when the mean loss of the
  last ``vi_window`` steps changes by less than ``vi_tolerance`` (relative) from the window
  before; ``map``: the posterior mode (no uncertainty: SDs are missing in the tables).

VI uses Adam at learning rate 0.001: at 0.01 the optimiser's jitter leaves mean-field means up
to a posterior SD from NUTS on small screens (``tests/test_inference.py`` holds them within 0.5).
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from screenfit.errors import ScreenfitInputError
from screenfit.inference.cache import NUTPIE_MODELS, use_jax_compilation_cache
from screenfit.inference.memory import release_free_memory
from screenfit.inference.scratch import draws_folder
from screenfit.inference.svi import DataArguments, DrawProgram, SviSettings, fit_mean_field, output_names, window_change

Method = Literal["nutpie", "pymc", "numpyro", "blackjax", "svi", "advi", "fullrank_advi", "map"]
MCMC_METHODS = ("nutpie", "pymc", "numpyro", "blackjax")
METHODS = (*MCMC_METHODS, "svi", "advi", "fullrank_advi", "map")
JAX_METHODS = ("numpyro", "blackjax", "svi")


@dataclass(frozen=True)
class SamplerConfig:
    """How to fit: method, draws, chains, seed and the VI stopping rule.

    ``mass_matrix`` (nutpie): ``diag``, or ``low_rank`` (nutpie's low-rank modified mass matrix,
    for posteriors with a few strongly correlated directions); ``auto`` takes the model's choice.
    ``draws=None`` takes the model's ``recommended_draws`` (1000; more for models with thousands
    of parameters, where the largest R-hat of many crosses 1.01 by chance at lower ESS).
    ``tune=None`` takes the sampler's own default (:attr:`tuning_steps`).
    """

    method: Method = "nutpie"
    draws: int | None = None
    tune: int | None = None
    chains: int = 4
    cores: int | None = None
    seed: int = 0
    target_accept: float = 0.8
    nutpie_backend: Literal["numba", "jax"] = "numba"
    mass_matrix: Literal["auto", "diag", "low_rank"] = "auto"
    vi_max_steps: int = 100_000
    vi_window: int = 2_000
    vi_tolerance: float = 1e-3
    vi_learning_rate: float = 0.001
    vi_draws: int = 1000
    svi: SviSettings = field(default_factory=SviSettings)

    def validate(self) -> None:
        """Raise a clear error for an unknown method or impossible sizes."""
        if self.method not in METHODS:
            raise ScreenfitInputError(
                f"unknown sampler '{self.method}'. Known: {', '.join(METHODS)}.", fix="pick one of those."
            )
        if (self.draws is not None and self.draws < 1) or self.chains < 1 or self.tuning_steps < 0:
            raise ScreenfitInputError("draws and chains must be ≥ 1 and tune ≥ 0.", fix="fix --draws/--chains/--tune.")
        needs = {"svi": "optax"}.get(self.method, self.method)
        if self.method in JAX_METHODS and importlib.util.find_spec(needs) is None:
            raise ScreenfitInputError(
                f"sampler '{self.method}' needs JAX and {needs}, which are not installed.",
                fix="pip install 'screenfit[jax]' (or use --sampler nutpie).",
            )

    @property
    def tuning_steps(self) -> int:
        """Tuning steps per chain: ``tune``, else the sampler's own default — nutpie's 400 (800
        with the low-rank mass matrix), whose adaptation needs fewer than Stan-style windows,
        and PyMC's 1,000 for the other NUTS samplers (nutpie's 400 cut sampling by a quarter at
        nearly the same ESS).
        """
        if self.tune is not None:
            return self.tune
        if self.method == "nutpie":
            return 800 if self.mass_matrix == "low_rank" else 400
        return 1000

    @property
    def is_mcmc(self) -> bool:
        """True for the NUTS samplers."""
        return self.method in MCMC_METHODS

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for config.json."""
        return asdict(self)


@dataclass
class SampleRun:
    """What a sampler run produced: draws, timings and (for VI/MAP) how the optimiser ended."""

    idata: az.InferenceData
    compile_s: float
    sample_s: float
    optimiser: dict[str, object] = field(default_factory=dict)
    #: Folder (:func:`~screenfit.inference.scratch.draws_folder`) of draws streamed to disk, a Zarr
    #: store in its :data:`STORE` subfolder that ``idata`` reads lazily; see :meth:`release`.
    draws_dir: Path | None = None

    def release(self) -> None:
        """Delete draws streamed to disk (call once they are written or no longer needed)."""
        if self.draws_dir is not None:
            shutil.rmtree(self.draws_dir, ignore_errors=True)

    def __enter__(self) -> SampleRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


#: Draws bigger than this (chains × draws × stored values × 8 bytes) stream to disk during
#: sampling. A gene-by-line fit of the Avana sample (≈ 75,000 values per draw) held 13 GB in
#: memory after 13 of its ~25 minutes at 3,000 draws per chain.
STREAM_BYTES = 2_000_000_000
#: Subfolder of a draws folder holding the Zarr store (the folder itself also holds its owner).
STORE = "draws.zarr"


class _LossPlateau:
    """PyMC VI callback: stop when the windowed mean loss stops changing (relative)."""

    def __init__(self, window: int, tolerance: float) -> None:
        self.window = window
        self.tolerance = tolerance
        self.converged = False
        self.rel_change = float("nan")

    def __call__(self, approx: object, losses: np.ndarray, i: int) -> None:
        if i < 2 * self.window or i % self.window:
            return
        self.rel_change = window_change(losses, self.window)
        if self.rel_change < self.tolerance:
            self.converged = True
            raise StopIteration(f"loss plateau: relative change {self.rel_change:.2e}")


def _nutpie(model: pm.Model, cfg: SamplerConfig, progress: bool, compile_key: str | None) -> SampleRun:
    """nutpie NUTS; draws over :data:`STREAM_BYTES` go to a Zarr store on disk instead of memory.

    With a ``compile_key``, a model compiled earlier in the process under the same key is reused
    (:data:`~screenfit.inference.cache.NUTPIE_MODELS`).
    """
    import nutpie

    t0 = time.perf_counter()
    key = None if compile_key is None else f"{compile_key}:{cfg.nutpie_backend}"
    compiled: Any = None if key is None else NUTPIE_MODELS.get(key)
    if compiled is None:
        compiled = nutpie.compile_pymc_model(model, backend=cfg.nutpie_backend)
        if key is not None:
            NUTPIE_MODELS.put(key, compiled)
    t1 = time.perf_counter()
    draws_dir = None
    kwargs: dict[str, object] = {}
    # numba models know their stored values; nutpie's JAX models (PyFuncModel) only their shapes.
    n_values = getattr(compiled, "n_expanded", None) or sum(int(v.num_elements) for v in compiled._variables)
    if cfg.chains * int(cfg.draws or 0) * n_values * 8 > STREAM_BYTES:
        draws_dir = draws_folder()
        (draws_dir / STORE).mkdir()  # nutpie's store needs the folder to exist
        kwargs["zarr_store"] = nutpie.zarr_store.LocalStore(str(draws_dir / STORE))
    idata = nutpie.sample(
        compiled, draws=cfg.draws, tune=cfg.tuning_steps, chains=cfg.chains, cores=cfg.cores or min(cfg.chains, 2),
        seed=cfg.seed, progress_bar=progress, save_warmup=False, target_accept=cfg.target_accept,
        low_rank_modified_mass_matrix=cfg.mass_matrix == "low_rank", **kwargs,
    )  # fmt: skip
    if draws_dir is not None:
        # Draws read lazily from disk; label chains and draws as the in-memory path does. The
        # Zarr store also holds per-draw vectors over the unconstrained parameters (gradient,
        # mass matrix, divergence points; nutpie 0.16 writes them whatever its store_* settings)
        # that the in-memory path drops: kept, they made posterior.nc of a 4,000-draw
        # gene-by-line Avana fit several times larger than its draws. Keep scalars per draw only.
        post, stats = idata.posterior, idata.sample_stats
        stats = stats[[v for v in stats.data_vars if set(stats[v].dims) <= {"chain", "draw"}]]
        label = {"chain": np.arange(post.sizes["chain"]), "draw": np.arange(post.sizes["draw"])}
        idata = az.InferenceData(posterior=post.assign_coords(label), sample_stats=stats.assign_coords(label))
    return SampleRun(idata, t1 - t0, time.perf_counter() - t1, draws_dir=draws_dir)


def _pymc_nuts(model: pm.Model, cfg: SamplerConfig, progress: bool) -> SampleRun:
    t0 = time.perf_counter()
    with model:
        idata = pm.sample(
            draws=cfg.draws, tune=cfg.tuning_steps, chains=cfg.chains, cores=cfg.cores or min(cfg.chains, 2),
            random_seed=cfg.seed, target_accept=cfg.target_accept, progressbar=progress,
            nuts_sampler="pymc" if cfg.method == "pymc" else cfg.method, compute_convergence_checks=False,
        )  # fmt: skip
    # PyMC compiles inside pm.sample; the split is not observable, so all time counts as sampling.
    return SampleRun(idata, 0.0, time.perf_counter() - t0)


def _vi(model: pm.Model, cfg: SamplerConfig, progress: bool) -> SampleRun:
    plateau = _LossPlateau(cfg.vi_window, cfg.vi_tolerance)
    method = "advi" if cfg.method == "advi" else "fullrank_advi"
    t0 = time.perf_counter()
    with model:
        approx = pm.fit(
            n=cfg.vi_max_steps, method=method, random_seed=cfg.seed, progressbar=progress, callbacks=[plateau],
            obj_optimizer=pm.adam(learning_rate=cfg.vi_learning_rate),
        )  # fmt: skip
    t1 = time.perf_counter()
    idata = approx.sample(draws=cfg.vi_draws, random_seed=cfg.seed)
    info: dict[str, object] = {
        "converged": plateau.converged,
        "steps": len(approx.hist),
        "relative_change": plateau.rel_change,
        "tolerance": cfg.vi_tolerance,
        "window": cfg.vi_window,
        "final_loss": float(np.mean(approx.hist[-cfg.vi_window :])),
    }
    return SampleRun(idata, 0.0, t1 - t0, info)


#: Values per block of SVI draws made at once (and appended to the Zarr store when streaming),
#: counting :data:`TRANSFORM_INTERMEDIATES`: five times more made the draws a fit's memory peak,
#: and smaller blocks are no faster.
SVI_DRAW_BLOCK_VALUES = 10_000_000
#: Most draw values an SVI fit keeps: ``vi_draws`` is lowered (to no fewer than
#: :data:`SVI_MIN_DRAWS`) for posteriors with millions of values per draw — 107 draws of a
#: genome-wide gene × line posterior instead of 1,000 (8 GB instead of 75 GB of float32 Zarr).
SVI_DRAW_BUDGET = 2_000_000_000
SVI_MIN_DRAWS = 100
#: Intermediates the size of the model's largest data array that computing one draw's
#: deterministics can hold: a collapsed gene × line effect is drawn from the residuals of every
#: guide-level group (a 300-gene × 60-line time course drawn 1,000 at a time peaked at 11.4 GB).
TRANSFORM_INTERMEDIATES = 8
#: Genes per Zarr chunk of streamed draws (at least), so tables read them block by block of genes.
ZARR_CHUNK_ROWS = 100
#: Values a Zarr chunk of a narrow variable's draws is grown to (:func:`_chunk_rows`); no more,
#: so that a chunk of gene × line effects stays one block of the tables (``diagnostics.blocks``).
ZARR_CHUNK_VALUES = 100_000
#: Bytes of float32 draws an SVI fit whose draws go to disk keeps in memory instead: its small
#: variables (:func:`_svi_draw_places`).
SVI_HELD_DRAW_BYTES = 500_000_000


def n_elements(model: pm.Model, name: str) -> int:
    """Elements of a model variable, from its labelled dims (variables without dims count as one)."""
    return int(np.prod([len(model.coords[d]) for d in model.named_vars_to_dims.get(name, ())]))


def _draws_dataset(model: pm.Model, values: dict[str, np.ndarray], names: Sequence[str], first: int) -> xr.Dataset:
    """One chain of draws (numbered from ``first``) as a posterior Dataset, labelled by the model's dims.

    Built directly rather than by ``az.from_dict``, which deep-copies every coordinate of the
    model for every variable — the per-group ``obs`` labels included: 18 M of them at genome
    scale, half a minute per block of draws (measured).
    """
    data_vars, coords = {}, {}
    for name in names:
        dims = list(model.named_vars_to_dims.get(name, ()))
        extra = [f"{name}_dim_{i}" for i in range(values[name].ndim - 1 - len(dims))]
        data_vars[name] = (("chain", "draw", *dims, *extra), values[name][None])
        coords.update({d: np.asarray(model.coords[d]) for d in dims})
    size = next(iter(values.values())).shape[0]
    coords.update(chain=np.arange(1), draw=np.arange(first, first + size))
    return xr.Dataset(data_vars, coords=coords, attrs={"inference_library": "screenfit svi"})


def _data_values(model: pm.Model, names: Sequence[str]) -> int:
    """Elements of the largest constant (data) array that the variables ``names`` are computed from."""
    from pytensor.tensor.variable import TensorConstant

    from screenfit.inference.graphs import ancestors

    graphs = [model[n] for n in names]
    return max((int(np.size(v.data)) for v in ancestors(graphs) if isinstance(v, TensorConstant)), default=0)


def _svi(model: pm.Model, cfg: SamplerConfig, progress: bool, var_names: Sequence[str] | None) -> SampleRun:
    """JAX SVI, then ``vi_draws`` draws from the fitted Gaussian as one chain.

    Draws over :data:`STREAM_BYTES` (float32) are made in blocks and appended to a Zarr store on
    disk, read back lazily — a genome-wide gene × line posterior never sits in memory whole.
    """
    t0 = time.perf_counter()
    names = [n for n in output_names(model) if var_names is None or n in var_names]
    per_draw = sum(n_elements(model, n) for n in names)
    n_draws = max(min(cfg.vi_draws, SVI_DRAW_BUDGET // max(per_draw, 1)), min(cfg.vi_draws, SVI_MIN_DRAWS))
    work = per_draw + TRANSFORM_INTERMEDIATES * _data_values(model, names)
    block = max(1, min(n_draws, SVI_DRAW_BLOCK_VALUES // max(work, 1)))
    # The draws' functions compile in another thread while the optimiser's compiles and runs
    # (XLA compiles without Python's lock; the fit's own compile leaves the second core idle):
    # 0.5–0.7 s less of a 300-gene × 60-line fit of new data (measured).
    arguments = DataArguments()  # the data's device arrays, one copy for both functions
    with ThreadPoolExecutor(max_workers=1) as pool:
        compiling = pool.submit(DrawProgram.of(model, names, block, arguments).compile)
        approx = fit_mean_field(model, cfg.svi, seed=cfg.seed, progress=progress, arguments=arguments)
        program = compiling.result()
    info = dict(approx.info)
    info["draws"] = n_draws
    done = 0
    if n_draws * per_draw * 4 <= STREAM_BYTES:
        values: dict[str, np.ndarray] = {}
        for values_block in approx.draw_blocks(n_draws, block, cfg.seed, names, program):
            done += _fill_draws(values, values_block, values_block, done, n_draws)
        release_free_memory()  # the draws' XLA buffers (inference/memory.py)
        idata = az.InferenceData(posterior=_draws_dataset(model, values, names, 0))
        # Compiling happens inside the first optimisation block; all of it counts as sampling.
        return SampleRun(idata, 0.0, time.perf_counter() - t0, info)
    draws_dir = draws_folder()
    store = draws_dir / STORE
    held, disk = _svi_draw_places(model, names, n_draws)
    memory: dict[str, np.ndarray] = {}
    per_disk = sum(n_elements(model, n) for n in disk)
    # Written in chunks of several compute blocks: where a block is one draw (the transform of a
    # large design), one-draw Zarr chunks made every later read thousands of tiny chunks.
    per_chunk = min(n_draws, block * max(1, SVI_DRAW_BLOCK_VALUES // max(per_disk, 1) // block))
    pending: list[dict[str, np.ndarray]] = []
    written = 0
    for values in approx.draw_blocks(n_draws, block, cfg.seed, names, program):
        done += _fill_draws(memory, values, held, done, n_draws, np.float32)
        # Stored as float32 (7 significant digits; half the disk and the reading of float64).
        pending.append({k: values[k].astype(np.float32, copy=False) for k in disk})
        if done - written < per_chunk and done < n_draws:
            continue
        joined = {k: np.concatenate([p[k] for p in pending]) for k in disk} if len(pending) > 1 else pending[0]
        pending = []
        part = _draws_dataset(model, joined, disk, written)
        if written:
            part.to_zarr(store, mode="a", append_dim="draw")
        else:
            # Uncompressed: a temporary store of float draws, which compress poorly (~10%).
            chunks = {k: {"chunks": (1, per_chunk, *_chunk_rows(part[k].shape[2:], per_chunk)), "compressors": None}
                      for k in disk}  # fmt: skip
            part.to_zarr(store, mode="w", encoding=chunks)
        written = done
    posterior_ds = xr.open_zarr(store)
    if held:
        posterior_ds = posterior_ds.assign(_draws_dataset(model, memory, held, 0).data_vars)[list(names)]
    return SampleRun(az.InferenceData(posterior=posterior_ds), 0.0, time.perf_counter() - t0, info, draws_dir)


def _fill_draws(
    into: dict[str, np.ndarray],
    block: dict[str, np.ndarray],
    names: Iterable[str],
    start: int,
    n_draws: int,
    dtype: type | None = None,
) -> int:
    """Copy a block of draws of ``names`` into ``into`` (arrays of ``n_draws``, made on first use,
    in ``dtype`` or the block's) from draw ``start``, in place: no second copy of the draws.
    Returns the block's number of draws."""
    size = next(iter(block.values())).shape[0]
    for n in names:
        v = block[n]
        into.setdefault(n, np.empty((n_draws, *v.shape[1:]), dtype or v.dtype))[start : start + size] = v
    return size


def _chunk_rows(shape: tuple[int, ...], draws: int) -> tuple[int, ...]:
    """Zarr chunk of one variable's draws past (chain, draw): blocks of :data:`ZARR_CHUNK_ROWS` rows
    or more, so that a chunk of a narrow variable (a guide × batch vector) holds about
    :data:`ZARR_CHUNK_VALUES` values rather than a few hundred."""
    if not shape:
        return ()
    width = math.prod(shape[1:])
    rows = max(ZARR_CHUNK_ROWS, ZARR_CHUNK_VALUES // max(draws * width, 1))
    return (min(shape[0], rows), *shape[1:])


def _svi_draw_places(model: pm.Model, names: Sequence[str], n_draws: int) -> tuple[list[str], list[str]]:
    """Which variables' draws stay in memory and which go to the Zarr store: the smallest stay,
    up to :data:`SVI_HELD_DRAW_BYTES` in all; the largest always goes to disk. In Zarr chunks of
    a few draws, a small variable (a gene or guide vector) was thousands of tiny files: reading
    607 draws of 24,000 guide efficacies took 43 s, of a 100-gene block of the 6,000 × 500
    gene × line effects 0.5 s."""
    held: list[str] = []
    total = 0
    for n in sorted(names, key=lambda n: n_elements(model, n))[:-1]:
        size = n_elements(model, n) * n_draws * 4
        if total + size > SVI_HELD_DRAW_BYTES:
            break
        held.append(n)
        total += size
    return held, [n for n in names if n not in held]


def _map(model: pm.Model, cfg: SamplerConfig, progress: bool) -> SampleRun:
    t0 = time.perf_counter()
    with model:
        point, raw = pm.find_MAP(progressbar=progress, return_raw=True, seed=cfg.seed)
    t1 = time.perf_counter()
    dims = {k: list(v) for k, v in model.named_vars_to_dims.items()}
    keep = [v.name for v in (*model.free_RVs, *model.deterministics)]
    posterior = {k: np.asarray(point[k])[None, None, ...] for k in keep if k in point}
    coords = {k: list(v) for k, v in model.coords.items()}
    idata = az.from_dict(posterior=posterior, coords=coords, dims={k: dims[k] for k in posterior if k in dims})
    info = {"converged": bool(getattr(raw, "success", False)), "message": str(getattr(raw, "message", ""))}
    return SampleRun(idata, 0.0, t1 - t0, info)


def run_sampler(
    model: pm.Model,
    cfg: SamplerConfig,
    progress: bool = True,
    var_names: Sequence[str] | None = None,
    compile_key: str | None = None,
) -> SampleRun:
    """Fit ``model`` with ``cfg`` and return the draws with timings.

    ``var_names`` (SVI only): the variables to draw; default every free variable and deterministic.
    ``compile_key`` (nutpie): a content key of the model (data, model, options, parametrisation)
    under which its compiled form is kept for later fits in the process; ``None`` compiles afresh.
    """
    cfg.validate()
    if cfg.method in JAX_METHODS or (cfg.method == "nutpie" and cfg.nutpie_backend == "jax"):
        use_jax_compilation_cache()
    if cfg.method == "nutpie":
        return _nutpie(model, cfg, progress, compile_key)
    if cfg.method in ("pymc", "numpyro", "blackjax"):
        return _pymc_nuts(model, cfg, progress)
    if cfg.method == "svi":
        return _svi(model, cfg, progress, var_names)
    if cfg.method in ("advi", "fullrank_advi"):
        return _vi(model, cfg, progress)
    return _map(model, cfg, progress)
