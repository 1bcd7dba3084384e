"""Stochastic variational inference in JAX: numpyro's SVI on a PyMC model's own log density.

The PyMC model is compiled to a JAX log density over its unconstrained parameters
(``pymc.sampling.jax.get_jaxified_logp``, Jacobians included), wrapped as one numpyro factor,
and fitted with a mean-field Gaussian (``AutoNormal``) by Adam on the evidence lower bound
(``Trace_ELBO``, one Monte-Carlo draw per step). It is the same approximation as PyMC's ADVI,
but the whole optimisation step is one compiled XLA function: on CPU it runs steps in compiled
blocks of :data:`BLOCK_STEPS` with no Python per step, and on a GPU it runs there unchanged.

Stopping rule: Adam runs at ``learning_rate`` until the mean loss of the last ``window`` steps
changes by less than ``tolerance`` (relative) from the window before; the learning rate is then
divided by ten and the rule applied again (``decays`` times), which removes most of the jitter a
large step size leaves in the means. The fit is ``converged`` when the last phase plateaued
within ``max_steps``.

Draws come from the fitted Gaussian, transformed to the constrained parameters and every
deterministic by the model's own compiled graph, in blocks of draws, so a posterior of
millions of parameters never has to be in memory whole (:meth:`MeanField.draw_blocks`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pymc as pm

#: Optimisation steps compiled into one call (one progress-bar update).
BLOCK_STEPS = 25
#: Seconds between progress lines when there is no terminal to draw a bar on.
LOG_EVERY_S = 60.0


@dataclass(frozen=True)
class SviSettings:
    """Adam learning rate, the plateau window and tolerance, learning-rate decays and the step budget."""

    learning_rate: float = 0.02
    window: int = 200
    tolerance: float = 1e-4
    decays: int = 2
    max_steps: int = 20_000

    def __post_init__(self) -> None:
        if self.window % BLOCK_STEPS:
            raise ValueError(f"window must be a multiple of {BLOCK_STEPS}")


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
        return [v.name for v in self.model.unobserved_value_vars]

    def draw_blocks(self, n_draws: int, block: int, seed: int) -> Iterator[dict[str, np.ndarray]]:
        """``n_draws`` draws in blocks of at most ``block``: name → array (draws in block, *shape)."""
        import jax
        import jax.numpy as jnp
        from pymc.sampling.jax import get_jaxified_graph

        names = [v.name for v in self.model.value_vars]
        transform = get_jaxified_graph(inputs=self.model.value_vars, outputs=self.model.unobserved_value_vars)
        loc = [jnp.asarray(self.loc[n]) for n in names]
        scale = [jnp.asarray(self.scale[n]) for n in names]

        @jax.jit
        def one_block(key: jax.Array) -> list[jax.Array]:
            keys = jax.random.split(key, len(names))
            raw = [
                m + s * jax.random.normal(k, (block, *m.shape), m.dtype)
                for k, m, s in zip(keys, loc, scale, strict=True)
            ]
            return jax.vmap(lambda *x: transform(*x))(*raw)

        key = jax.random.PRNGKey(seed)
        out_names = self.output_names()
        done = 0
        while done < n_draws:
            key, sub = jax.random.split(key)
            values = one_block(sub)
            size = min(block, n_draws - done)
            yield {n: np.asarray(v)[:size] for n, v in zip(out_names, values, strict=True)}
            done += size


def _numpyro_model(model: pm.Model) -> tuple[Callable[[], None], dict[str, np.ndarray]]:
    """A numpyro model with one improper flat site per PyMC value variable and the PyMC log density as a factor."""
    import jax
    import numpyro
    import numpyro.distributions as dist
    from pymc.sampling.jax import get_jaxified_logp

    # PyMC's flag names the potential it would hand numpyro: ``negative_logp=False`` returns
    # −log p, the default ``True`` returns log p itself.
    # Compiled once: numpyro's initialisation traces the model outside jit, where an uncompiled
    # PyTensor graph runs op by op (5.5 s of a 7 s fit of a seed-sized screen, measured).
    logp = jax.jit(get_jaxified_logp(model))
    start = model.initial_point(random_seed=None)
    names = [v.name for v in model.value_vars]
    shapes = {n: np.shape(start[n]) for n in names}

    def np_model() -> None:
        values = [
            numpyro.sample(n, dist.ImproperUniform(dist.constraints.real, (), event_shape=shapes[n])) for n in names
        ]
        numpyro.factor("pymc_logp", logp(values))

    return np_model, {n: np.asarray(start[n]) for n in names}


def _with_learning_rate(state: Any, lr: float) -> Any:
    """The SVI state with Adam's learning rate set to ``lr`` (``optax.inject_hyperparams``), moments kept."""
    import jax.numpy as jnp

    step, (params, opt) = state.optim_state
    opt = opt._replace(hyperparams={**opt.hyperparams, "learning_rate": jnp.asarray(lr, dtype=jnp.float32)})
    return state._replace(optim_state=(step, (params, opt)))


def fit_mean_field(
    model: pm.Model, settings: SviSettings, seed: int = 0, progress: bool = True, describe: str = "SVI"
) -> MeanField:
    """Fit a mean-field Gaussian to ``model``'s posterior by SVI (see the module docstring)."""
    import jax
    import optax
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal
    from numpyro.infer.initialization import init_to_value
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    np_model, start = _numpyro_model(model)
    guide = AutoNormal(np_model, init_loc_fn=init_to_value(values=start))
    key = jax.random.PRNGKey(seed)
    lr = settings.learning_rate
    losses: list[float] = []
    phases: list[dict[str, object]] = []
    converged = False
    t0 = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
               TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    svi = SVI(np_model, guide, optax.inject_hyperparams(optax.adam)(learning_rate=lr), Trace_ELBO())
    key, init_key = jax.random.split(key)
    state = svi.init(init_key)
    run_block = jax.jit(lambda s: jax.lax.scan(lambda st, _: svi.update(st), s, None, length=BLOCK_STEPS))
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task(describe, total=settings.max_steps, loss="–")
        # Batch jobs (logs to a file, no terminal) get a plain line a minute instead of a bar.
        log_lines, last_line = progress and not bar.console.is_terminal, time.perf_counter()
        for phase in range(settings.decays + 1):
            state = _with_learning_rate(state, lr)
            start_step, plateau, rel = len(losses), False, float("nan")
            while len(losses) < settings.max_steps:
                state, block_losses = run_block(state)
                losses.extend(np.asarray(block_losses, dtype=float).tolist())
                bar.update(task, completed=len(losses), loss=f"{np.mean(losses[-BLOCK_STEPS:]):.6g}")
                if log_lines and time.perf_counter() - last_line > LOG_EVERY_S:
                    last_line = time.perf_counter()
                    bar.console.print(f"{describe}: step {len(losses)}, learning rate {lr:g}, "
                                      f"loss {np.mean(losses[-BLOCK_STEPS:]):.6g}, {last_line - t0:.0f} s")  # fmt: skip
                done = len(losses) - start_step
                if done >= 2 * settings.window and done % settings.window == 0:
                    last = float(np.mean(losses[-settings.window :]))
                    before = float(np.mean(losses[-2 * settings.window : -settings.window]))
                    rel = abs(last - before) / max(abs(before), 1e-12)
                    if rel < settings.tolerance:
                        plateau = True
                        break
            phases.append({"learning_rate": lr, "steps": len(losses) - start_step, "plateau": plateau,
                           "relative_change": rel})  # fmt: skip
            if not plateau or not np.isfinite(losses[-1]):
                break
            converged = phase == settings.decays
            lr /= 10.0
    params = svi.get_params(state)
    names = [v.name for v in model.value_vars]
    loc = {n: np.asarray(params[f"{n}_auto_loc"]) for n in names}
    scale = {n: np.asarray(params[f"{n}_auto_scale"]) for n in names}
    window = settings.window
    info: dict[str, object] = {
        "converged": converged, "steps": len(losses), "phases": phases, "tolerance": settings.tolerance,
        "window": window, "final_loss": float(np.mean(losses[-window:])), "optimise_s": time.perf_counter() - t0,
    }  # fmt: skip
    return MeanField(model, loc, scale, info)
