"""Stochastic variational inference in JAX: mean-field ADVI on a PyMC model's own log density.

The PyMC model is compiled to a JAX log density over its unconstrained parameters
(as ``pymc.sampling.jax.get_jaxified_logp`` builds it, Jacobians included) and fitted with a mean-field
Gaussian by Adam (optax) on the evidence lower bound: one reparametrised draw per step, the
Gaussian's entropy in closed form. It is the approximation of PyMC's ADVI and the estimator of
numpyro's ``Trace_ELBO`` with an ``AutoNormal`` guide, but the whole step is one compiled XLA
function: on CPU steps run in compiled blocks of :data:`BLOCK_STEPS` with no Python per step,
and on a GPU it runs there unchanged. Written out here rather than through numpyro's ``SVI``
because numpyro also evaluates ``log q(z)`` at every step, which has no gradient beyond the
entropy's: the step took 2.1× as long on a 300-gene × 100-line gene-by-line screen (measured).
The parameters are one flat vector, and the standard-normal draws of several steps are made in
one call before those steps run (at most :data:`EPS_BYTES`): drawn inside the differentiated
step, XLA recomputed the generator in every fusion that read it and the step took 2–3.5× as
long (300 genes × 60 lines, guide offsets and efficacy; docs/benchmarks.md).

Stopping rule: Adam runs at ``learning_rate`` until the mean loss of the last ``window`` steps
changes by less than ``tolerance`` (relative) from the window before; the learning rate is then
divided by ten and the rule applied again (``decays`` times), which removes most of the jitter a
large step size leaves in the means. With ``average`` (default) the fit is the mean of the last
phase's final ``window`` iterates (Polyak–Ruppert averaging) rather than its last iterate: one
decay with averaging gave the gene × line effects of two decays without it (r with the truth and
90% coverage within ±0.001 on 3 seeds of both simulated 300 × 60 regimes of docs/validation.md)
in 300–400 fewer steps. The fit is ``converged`` when the last phase plateaued within ``max_steps``.

Free ``N(0, 1)`` variables that no other term reads (:func:`standalone_normals`) are held at
their exact factor instead of fitted.

Data arrays of :data:`DATA_ARGUMENT_BYTES` or more (the genome-scale guide grid) reach the
compiled functions as float32 device arrays made once and shared by the optimiser and the
draws' transform (:func:`jax_graph`): embedded as float64, XLA's compiler copied them to 19 GiB,
and hoisted by JAX they were float64 copies passed at every call (16.5 GiB while optimising 144 M
rows, 14.8 as float32 arguments). Smaller ones stay embedded, where the same step runs faster
(0.255 against 0.43 s at 6,000 × 500, its 48 MB arrays passed as arguments; one process).

The optimisation runs in single precision, the data's constants included: PyMC's JAX backend
turns JAX's 64-bit mode on, which makes every fused loop of the step float64 and the step about
a quarter slower, for a loss that agrees to 10⁻⁷ relative. Draws are transformed in single
precision too (float32, as the streamed draws are stored).

Draws come from the fitted Gaussian, transformed to the constrained parameters and every
deterministic by the model's own compiled graph, in blocks of draws, so a posterior of
millions of parameters never has to be in memory whole (:meth:`MeanField.draw_blocks`).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pymc as pm

from screenfit.inference.compiler import jit
from screenfit.inference.memory import EMBEDDED_CONSTANT_BYTES

#: Optimisation steps compiled into one call (one progress-bar update).
BLOCK_STEPS = 25
#: Initial SD of every factor of the Gaussian (numpyro's ``AutoNormal`` default).
INIT_SCALE = 0.1
#: Memory for the standard-normal draws of several steps, made in one call before they run.
EPS_BYTES = 512 * 2**20
#: Seconds between progress lines when there is no terminal to draw a bar on.
LOG_EVERY_S = 60.0
#: Float constants of a graph from this size on are passed to its compiled function as arguments
#: (the size from which JAX would pass them itself, as float64 copies made at every call).
DATA_ARGUMENT_BYTES = EMBEDDED_CONSTANT_BYTES


@dataclass
class DataArguments:
    """The large constants of a model's JAX graphs as float32 device arrays, one for each content,
    shared by every graph that reads it (the log density and the draws' transform read the same
    guide grid).

    Matched by content, not identity: each graph's rewrite folds the float32 grid's cast into a
    float64 constant of its own, which is neither kept (576 MB an array at 144 M rows) nor the
    same object in the next graph.
    """

    arrays: dict[tuple[tuple[int, ...], bytes], Any] = field(default_factory=dict)

    def of(self, value: np.ndarray) -> Any:
        """The device array of the constant ``value``'s float32 values."""
        import hashlib

        import jax.numpy as jnp

        single = np.ascontiguousarray(value, dtype=np.float32)
        key = (single.shape, hashlib.blake2b(single.reshape(-1).view(np.uint8), digest_size=16).digest())
        if key not in self.arrays:
            with single_precision():
                self.arrays[key] = jnp.asarray(single)
        return self.arrays[key]


@dataclass(frozen=True)
class JaxGraph:
    """A PyTensor graph as a JAX function whose large constants are arguments: ``fn(*inputs, *data)``."""

    fn: Callable[..., list[Any]]
    data: tuple[Any, ...]


def jax_graph(inputs: Sequence[Any], outputs: Sequence[Any], arguments: DataArguments | None = None) -> JaxGraph:
    """``pymc.sampling.jax.get_jaxified_graph`` with the rewritten graph's float constants of at least
    :data:`DATA_ARGUMENT_BYTES` taken out as float32 inputs (module docstring); ``arguments`` shares
    their device arrays between graphs."""
    import pytensor.tensor as pt
    from pymc.sampling.jax import _replace_shared_variables
    from pytensor.compile import mode
    from pytensor.graph import FunctionGraph
    from pytensor.graph.replace import clone_replace
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.variable import TensorConstant

    fgraph = FunctionGraph(inputs=list(inputs), outputs=_replace_shared_variables(list(outputs)), clone=True)
    mode.JAX.optimizer.rewrite(fgraph)
    large = [v for v in fgraph.variables if isinstance(v, TensorConstant) and v.dtype.startswith("float")
             and v.data.nbytes >= DATA_ARGUMENT_BYTES]  # fmt: skip
    if large:
        placeholders = [pt.tensor(dtype="float32", shape=v.type.shape) for v in large]
        replaced = clone_replace(
            fgraph.outputs, replace={v: pt.cast(p, v.dtype) for v, p in zip(large, placeholders, strict=True)}
        )
        fgraph = FunctionGraph(inputs=[*fgraph.inputs, *placeholders], outputs=replaced, clone=False)
    arguments = arguments or DataArguments()
    return JaxGraph(jax_funcify(fgraph), tuple(arguments.of(v.data) for v in large))


@dataclass(frozen=True)
class FlatLayout:
    """Named arrays laid end to end in one float32 vector, and back.

    Both directions are slices and reshapes on the host (numpy) or inside a traced function
    (JAX): ``jax.flatten_util.ravel_pytree`` and ``jnp.asarray`` called outside a compiled
    function compile one small XLA program per shape and dtype, ~45 of them per fit, ~1 s of a
    300-gene × 60-line fit whenever JAX's compilation cache does not hold them (new data; measured).
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, values: dict[str, Any], names: Sequence[str]) -> FlatLayout:
        """The layout of ``values[n]`` for ``n`` in ``names``, in that order."""
        return cls(tuple(names), tuple(tuple(np.shape(values[n])) for n in names))

    @property
    def size(self) -> int:
        """Elements of the flat vector."""
        return int(sum(int(np.prod(shape)) for shape in self.shapes))

    def ravel(self, values: dict[str, Any]) -> np.ndarray:
        """The flat float32 vector of ``values`` (host arrays)."""
        parts = [np.asarray(values[n], np.float32).ravel() for n in self.names]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def unravel(self, flat: Any) -> dict[str, Any]:
        """Name → array of a flat vector (numpy, or JAX inside a traced function)."""
        if not self.names:
            return {}
        # Split, not sliced: the gradient of each slice of a traced vector is a zero-padded copy of
        # the whole vector, summed over the slices; a split's is one concatenation. Slicing made
        # the SVI step of a 6,000 × 500 screen 0.060 → 0.093 s (measured).
        offsets = np.cumsum([int(np.prod(shape)) for shape in self.shapes])[:-1]
        if isinstance(flat, np.ndarray):
            parts = np.split(flat, offsets)
        else:
            import jax.numpy as jnp

            parts = jnp.split(flat, offsets)
        return {n: p.reshape(shape) for n, p, shape in zip(self.names, parts, self.shapes, strict=True)}


@dataclass(frozen=True)
class SviSettings:
    """Adam learning rate, the plateau window and tolerance, learning-rate decays, the step budget,
    and whether the fit is the average of the last window's iterates (module docstring)."""

    learning_rate: float = 0.05
    window: int = 100
    tolerance: float = 2e-4
    decays: int = 1
    max_steps: int = 20_000
    average: bool = True

    def __post_init__(self) -> None:
        if self.window <= 0 or self.window % BLOCK_STEPS:
            raise ValueError(f"window must be a positive multiple of {BLOCK_STEPS}")


@dataclass
class MeanField:
    """A fitted mean-field Gaussian over a PyMC model's unconstrained parameters.

    ``loc`` and ``scale`` are keyed by the model's value variables (e.g. ``sigma_log__``);
    ``info`` says how the optimiser ended (steps, phases, final loss, converged).
    """

    model: pm.Model
    loc: dict[str, np.ndarray]
    scale: dict[str, np.ndarray]
    info: dict[str, object] = field(default_factory=dict)

    def output_names(self) -> list[str]:
        """Names of the variables :meth:`draw_blocks` returns (free variables and deterministics)."""
        return output_names(self.model)

    def draw_blocks(
        self, n_draws: int, block: int, seed: int, names: list[str] | None = None, program: DrawProgram | None = None
    ) -> Iterator[dict[str, np.ndarray]]:
        """``n_draws`` draws in blocks of at most ``block``: name → array (draws in block, *shape).

        ``names``: the variables to compute (default :meth:`output_names`); the rest are not.
        ``program``: those functions already made (and compiled) for this model, ``names`` and ``block``.
        """
        program = program or DrawProgram.of(self.model, self.output_names() if names is None else names, block)
        return program.blocks(self.loc, self.scale, n_draws, seed)


@dataclass
class DrawProgram:
    """The two compiled functions that draw from a fitted mean-field Gaussian over ``model``'s value
    variables and transform the draws to the variables ``names``, ``block`` draws per call.

    Drawn and transformed by two functions: with the generator inside the transform's, XLA
    recomputes it in every fusion that reads it (see the module docstring); compiling took 4.2 s
    instead of 0.6 s on a 300-gene × 60-line lineage model (measured). Block ``i``'s draws come
    from the seed's key folded with ``i``. Neither function depends on the fitted values (they
    are arguments), so both can be compiled while the optimiser is (:meth:`compile`, in another
    thread: XLA compiles without holding Python's lock).
    """

    names: list[str]
    layout: FlatLayout
    block: int
    raw_block: Any
    transformed: Any
    data: tuple[Any, ...] = ()

    @classmethod
    def of(
        cls, model: pm.Model, names: Sequence[str], block: int, arguments: DataArguments | None = None
    ) -> DrawProgram:
        """The functions for ``model`` (its PyTensor graph turned into JAX here, in the caller's thread);
        ``arguments``: the data's device arrays, shared with the fit's log density."""
        import jax
        import jax.numpy as jnp

        outputs = [v for v in model.unobserved_value_vars if v.name in names]
        transform = jax_graph(model.value_vars, outputs, arguments)
        free = [v.name for v in model.value_vars]
        layout = FlatLayout.of(model.initial_point(random_seed=None), free)

        def raw_block(key: jax.Array, index: jax.Array, loc: jax.Array, scale: jax.Array) -> jax.Array:
            return loc + scale * jax.random.normal(jax.random.fold_in(key, index), (block, layout.size), jnp.float32)

        def transformed(raw: jax.Array, data: tuple[jax.Array, ...]) -> list[jax.Array]:
            return jax.vmap(lambda z: transform.fn(*(layout.unravel(z)[n] for n in free), *data))(raw)

        return cls([v.name for v in outputs], layout, block, jit(raw_block), jit(transformed), transform.data)

    def compile(self) -> DrawProgram:
        """The same functions compiled ahead of time (single precision, as they run)."""
        import jax
        import jax.numpy as jnp

        vector = jax.ShapeDtypeStruct((self.layout.size,), jnp.float32)
        with single_precision():
            key = jax.ShapeDtypeStruct(jax.random.PRNGKey(0).shape, jnp.uint32)
            raw = self.raw_block.lower(key, jax.ShapeDtypeStruct((), jnp.int32), vector, vector).compile()
            matrix = jax.ShapeDtypeStruct((self.block, self.layout.size), jnp.float32)
            transformed = self.transformed.lower(matrix, self.data).compile()
        return DrawProgram(self.names, self.layout, self.block, raw, transformed, self.data)

    def blocks(
        self, loc: dict[str, np.ndarray], scale: dict[str, np.ndarray], n_draws: int, seed: int
    ) -> Iterator[dict[str, np.ndarray]]:
        """``n_draws`` draws from ``N(loc, scale)`` (per value variable), transformed, in blocks."""
        import jax

        flat_loc, flat_scale = self.layout.ravel(loc), self.layout.ravel(scale)
        done = 0
        with single_precision():
            key = jax.random.PRNGKey(seed)
        for index in range(-(-n_draws // self.block)):
            size = min(self.block, n_draws - done)
            with single_precision():  # as the fit ran (module docstring); stored as float32 anyway
                raw = self.raw_block(key, np.int32(index), flat_loc, flat_scale)
                values = [np.asarray(v)[:size] for v in self.transformed(raw, self.data)]
            yield dict(zip(self.names, values, strict=True))
            done += size


def output_names(model: pm.Model) -> list[str]:
    """Names of the variables a mean-field fit of ``model`` can draw: its free variables (constrained)
    and deterministics, in the model's order."""
    return [v.name for v in model.unobserved_value_vars]


def window_change(losses: Sequence[float] | np.ndarray, window: int) -> float:
    """Relative change of the mean loss of the last ``window`` steps from the window before."""
    last = float(np.mean(losses[-window:]))
    before = float(np.mean(losses[-2 * window : -window]))
    return abs(last - before) / max(abs(before), 1e-12)


def _jax_logp(model: pm.Model, arguments: DataArguments | None = None) -> tuple[JaxGraph, dict[str, np.ndarray]]:
    """The model's log density over its unconstrained value variables in JAX (Jacobians included, as
    ``pymc.sampling.jax.get_jaxified_logp`` has it; its data as arguments), and the start point."""
    logp = jax_graph(model.value_vars, [model.logp()], arguments)
    start = model.initial_point(random_seed=None)
    return logp, {v.name: np.asarray(start[v.name]) for v in model.value_vars}


@contextlib.contextmanager
def single_precision() -> Iterator[None]:
    """JAX's 64-bit mode off within (the float64 constants of PyMC's graph traced as float32),
    without the warning JAX gives for each float64 or int64 value it truncates."""
    import jax

    with warnings.catch_warnings(), jax.enable_x64(False):
        warnings.filterwarnings("ignore", message="Explicitly requested dtype", category=UserWarning)
        yield


def _with_learning_rate(opt_state: Any, lr: float) -> Any:
    """Adam's state with its learning rate set to ``lr`` (``optax.inject_hyperparams``), moments kept."""
    return opt_state._replace(hyperparams={**opt_state.hyperparams, "learning_rate": np.float32(lr)})


def _negative_elbo(logp: JaxGraph, unravel: Callable[[Any], dict[str, Any]],
                   names: list[str], held: dict[str, Any] | None = None) -> Callable[[Any, Any, Any], Any]:  # fmt: skip
    """``−ELBO(params)`` at one reparametrised draw ``loc + scale · eps``, the Gaussian's entropy in closed form
    (``data``: the log density's data arguments, :func:`jax_graph`).

    ``params`` holds ``loc`` and ``raw_scale`` (scale = softplus(raw_scale)) as flat vectors over
    every unconstrained parameter; ``unravel`` splits a flat vector into the value variables, and
    ``held`` gives the values of those not fitted (exact factors, :func:`standalone_normals`).
    The same estimator as numpyro's ``Trace_ELBO`` with ``AutoNormal`` (its ``log q(z)`` term
    is the entropy plus ``Σ ε²/2``, which has no gradient), without evaluating ``log q``.
    ``eps`` is an argument, not drawn inside: XLA copies a random-number generator into every
    fusion that reads its output (62 copies in a gene-by-line model with guide terms), which
    cost more than the log density itself.
    """
    import jax
    import jax.numpy as jnp

    def loss(params: Any, eps: Any, data: tuple[Any, ...]) -> Any:
        scale = jax.nn.softplus(params["raw_scale"])
        values = {**(held or {}), **unravel(params["loc"] + scale * eps)}
        entropy = jnp.sum(jnp.log(scale)) + 0.5 * scale.size * (1.0 + np.log(2 * np.pi))
        return -(logp.fn(*(values[n] for n in names), *data)[0] + entropy)

    return loss


def steps_per_draw(n_params: int) -> int:
    """Steps whose standard-normal draws are made at once: the largest divisor of :data:`BLOCK_STEPS`
    whose ``steps × n_params`` float32 values fit :data:`EPS_BYTES`."""
    fits = [d for d in range(1, BLOCK_STEPS + 1) if BLOCK_STEPS % d == 0 and d * n_params * 4 <= EPS_BYTES]
    return max(fits, default=1)


def fit_mean_field(
    model: pm.Model, settings: SviSettings, seed: int = 0, progress: bool = True, describe: str = "SVI",
    arguments: DataArguments | None = None,
) -> MeanField:  # fmt: skip
    """Fit a mean-field Gaussian to ``model``'s posterior by SVI (see the module docstring); ``arguments``:
    the data's device arrays, shared with a :class:`DrawProgram` of the same model."""
    logp, start = _jax_logp(model, arguments)
    exact = standalone_normals(model)
    with single_precision():
        return _optimise(model, logp, start, settings, seed, progress, describe, exact)


def standalone_normals(model: pm.Model) -> list[str]:
    """Value variables of free ``N(0, 1)`` variables that no other term of the log density reads.

    Their posterior is their prior, independent of everything else, so the mean-field factor
    ``N(0, 1)`` is exact: SVI holds it there instead of fitting it. Such variables arise from
    exact reparametrisations (the collapsed gene × line effects' ``ε``,
    :mod:`screenfit.models.collapsed`). Fitted, they only added parameters and noise: 18,000 of
    25,700 parameters of a 300-gene × 60-line fit, whose ``Σ ε²/2`` put a standard deviation of
    ~95 nats into every step's loss, which the stopping rule then had to average away.
    """
    from pytensor.tensor.basic import NotScalarConstantError, get_underlying_scalar_constant_value
    from pytensor.tensor.random.basic import NormalRV

    from screenfit.inference.graphs import ancestors

    def standard(rv: Any) -> bool:
        if not isinstance(rv.owner.op, NormalRV) or model.rvs_to_transforms.get(rv) is not None:
            return False
        try:
            mu, sigma = (float(get_underlying_scalar_constant_value(p)) for p in rv.owner.op.dist_params(rv.owner))
        except NotScalarConstantError:
            return False
        return mu == 0.0 and sigma == 1.0

    candidates = [rv for rv in model.free_RVs if standard(rv)]
    if not candidates:
        return []
    others = [rv for rv in (*model.basic_RVs, *model.potentials) if all(rv is not c for c in candidates)]
    read = set(ancestors(others))
    return [model.rvs_to_values[rv].name for rv in candidates if rv not in read]


def _block_runner(optimizer: Any, negative_elbo: Callable[..., Any], n_params: int) -> Callable[[Any], Any]:
    """The compiled function that runs :data:`BLOCK_STEPS` Adam steps from ``(params, state, key)`` on
    the log density's ``data``; it returns the new carry, the steps' losses and the sum of the parameters
    over the steps."""
    import jax
    import jax.numpy as jnp
    import optax

    value_and_grad = jax.value_and_grad(negative_elbo)
    per_draw = steps_per_draw(n_params)

    def one_step(carry: Any, eps: Any, data: tuple[Any, ...]) -> tuple[Any, Any]:
        params, opt_state, total = carry
        loss, grads = value_and_grad(params, eps, data)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state, jax.tree.map(jnp.add, total, params)), loss

    @jit
    def run_block(carry: Any, data: tuple[Any, ...]) -> tuple[Any, Any, Any]:
        def some_steps(inner: Any, key: Any) -> tuple[Any, Any]:
            # The draws of ``per_draw`` steps made at once and scanned over, so each step reads them.
            eps = jax.random.normal(key, (per_draw, n_params), jnp.float32)
            return jax.lax.scan(lambda c, e: one_step(c, e, data), inner, eps)

        params, opt_state, key = carry
        key, sub = jax.random.split(key)
        zero = jax.tree.map(jnp.zeros_like, params)
        (params, opt_state, total), losses = jax.lax.scan(
            some_steps, (params, opt_state, zero), jax.random.split(sub, BLOCK_STEPS // per_draw)
        )
        return (params, opt_state, key), losses.reshape(-1), total

    return run_block


def _factors(
    final: dict[str, Any], sums: list[Any], layout: FlatLayout, start: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each variable's mean-field location and scale: the final parameters, or their average over
    the steps summed in ``sums`` (the last window's); held variables get their exact ``N(0, 1)``."""
    params = {k: np.asarray(v) for k, v in final.items()}
    if sums:
        n_sum = len(sums) * BLOCK_STEPS
        params = {k: (np.sum([np.asarray(s[k], np.float64) for s in sums], axis=0) / n_sum).astype(np.float32)
                  for k in params}  # fmt: skip
    softplus = np.logaddexp(np.float32(0.0), params["raw_scale"])
    loc_tree, scale_tree = layout.unravel(params["loc"]), layout.unravel(softplus)
    loc = {n: np.asarray(loc_tree[n]) if n in loc_tree else np.zeros(np.shape(start[n]), np.float32) for n in start}
    scale = {n: np.asarray(scale_tree[n]) if n in scale_tree else np.ones(np.shape(start[n]), np.float32)
             for n in start}  # fmt: skip
    return loc, scale


def _optimise(
    model: pm.Model,
    logp: JaxGraph,
    start: dict[str, np.ndarray],
    settings: SviSettings,
    seed: int,
    progress: bool,
    describe: str,
    exact: Sequence[str] = (),
) -> MeanField:
    """Adam on the negative ELBO by the stopping rule of the module docstring (traced and run in
    the caller's JAX precision). ``exact``: value variables held at their exact factor ``N(0, 1)``
    (:func:`standalone_normals`), evaluated at 0 in the loss, whose other terms never read them."""
    import jax
    import optax
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    names = list(start)
    fitted = [n for n in names if n not in exact]
    # One flat vector of every unconstrained parameter: one Adam update and one draw per step
    # instead of one per variable, and XLA compiles the step in about half the time (measured).
    # Laid out on the host (FlatLayout), the optimiser's state made by one compiled call.
    layout = FlatLayout.of(start, fitted)
    n_params = layout.size
    raw_init = float(np.log(np.expm1(INIT_SCALE)))
    params = {"loc": layout.ravel(start), "raw_scale": np.full(n_params, raw_init, np.float32)}
    optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=settings.learning_rate)
    opt_state = jax.jit(optimizer.init)(params)
    held = {n: np.zeros(np.shape(start[n]), np.float32) for n in exact}
    run_block = _block_runner(optimizer, _negative_elbo(logp, layout.unravel, names, held), n_params)

    carry = (params, opt_state, jax.random.PRNGKey(seed))
    lr = settings.learning_rate
    losses: list[float] = []
    phases: list[dict[str, object]] = []
    converged = False
    t0 = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
               TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task(describe, total=settings.max_steps, loss="–")
        # Batch jobs (logs to a file, no terminal) get a plain line a minute instead of a bar.
        log_lines, last_line = progress and not bar.console.is_terminal, time.perf_counter()
        for phase in range(settings.decays + 1):
            carry = (carry[0], _with_learning_rate(carry[1], lr), carry[2])
            start_step, plateau, rel = len(losses), False, float("nan")
            sums: list[Any] = []
            while len(losses) < settings.max_steps:
                carry, block_losses, block_sum = run_block(carry, logp.data)
                sums = [*sums, block_sum][-(settings.window // BLOCK_STEPS) :]  # the last window's blocks
                losses.extend(np.asarray(block_losses, dtype=float).tolist())
                bar.update(task, completed=len(losses), loss=f"{np.mean(losses[-BLOCK_STEPS:]):.6g}")
                if log_lines and time.perf_counter() - last_line > LOG_EVERY_S:
                    last_line = time.perf_counter()
                    bar.console.print(f"{describe}: step {len(losses)}, learning rate {lr:g}, "
                                      f"loss {np.mean(losses[-BLOCK_STEPS:]):.6g}, {last_line - t0:.0f} s")  # fmt: skip
                done = len(losses) - start_step
                if done >= 2 * settings.window and done % settings.window == 0:
                    rel = window_change(losses, settings.window)
                    if rel < settings.tolerance:
                        plateau = True
                        break
            phases.append({"learning_rate": lr, "steps": len(losses) - start_step, "plateau": plateau,
                           "relative_change": rel})  # fmt: skip
            if not plateau or not np.isfinite(losses[-1]):
                break
            converged = phase == settings.decays
            lr /= 10.0
    loc, scale = _factors(carry[0], sums if settings.average else [], layout, start)
    window = settings.window
    info: dict[str, object] = {
        "converged": converged, "steps": len(losses), "phases": phases, "tolerance": settings.tolerance,
        "window": window, "final_loss": float(np.mean(losses[-window:])), "optimise_s": time.perf_counter() - t0,
        "exact_factors": list(exact),
    }  # fmt: skip
    return MeanField(model, loc, scale, info)
