"""An observed Gaussian's mean and SD at every posterior draw, in JAX: unit log-likelihoods and replicates.

LFC models observe each unit's mean LFC as ``ȳ ~ N(μ, s)`` with ``s = σ/√n`` (``σ`` the
noise SD of one row). Its pointwise log-likelihood and posterior predictive draws need only
``μ`` and ``s`` at each draw, so both are computed from one compiled graph of the model's
own ``μ`` and ``s`` (PyMC's, transforms removed as :func:`pymc.compute_log_likelihood` does),
vectorised over blocks of draws. PyMC's ``compute_log_likelihood`` and
``sample_posterior_predictive`` evaluate a C-compiled function draw by draw instead, which costs
most of its time in compiling and in the Python loop over draws (about 4× this module's time on
a 300-gene × 60-line screen); no C compiler is needed either. Used
when JAX is installed and the observed variable is a Normal; otherwise the caller falls back to
PyMC's functions (count models, installs without JAX).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from screenfit.inference.compiler import jit

#: Most draws × units values computed in one compiled call (the block of draws is sized from it):
#: its means, SDs and noise are the predictive check's largest arrays besides the replicates
#: (four times more raised a time course's peak by a tenth).
BLOCK_VALUES = 1_000_000


@functools.cache
def _rows_loglik() -> Callable[..., Any]:
    """The compiled unit log-likelihood of :meth:`NormalUnits.unit_loglik`, made once per process
    (a function jitted inside the method was a new function, compiled again, at every call)."""
    import jax.numpy as jnp

    @jit
    def loglik(mu: Any, sd: Any, n: Any, y: Any, ss: Any) -> Any:
        var = sd**2
        row_var = var * n
        normal = -0.5 * jnp.log(2 * jnp.pi * var) - (y - mu) ** 2 / (2 * var)
        within = -(n - 1) * 0.5 * jnp.log(2 * jnp.pi * row_var) - ss / (2 * row_var) - 0.5 * jnp.log(n)
        return normal + within

    return loglik


@dataclass(frozen=True)
class NormalUnits:
    """``(μ, s)`` of an observed Normal ``var`` as a function of the posterior's variables.

    ``inputs`` names the posterior variables the graph reads (the free variables); ``shape`` is the observed shape.
    One instance compiles once: the log-likelihood and the replicates reuse its blocks' function.
    """

    var: str
    inputs: list[str]
    shape: tuple[int, ...]
    _evaluate: Callable[..., Any]

    @classmethod
    def of(cls, model: pm.Model, var: str) -> NormalUnits | None:
        """The evaluator of ``model[var]``, or ``None`` when JAX is missing or ``var`` is not a Normal."""
        if importlib.util.find_spec("jax") is None:
            return None
        import jax
        import jax.numpy as jnp
        from pymc.model.transform.conditioning import remove_value_transforms
        from pymc.sampling.jax import get_jaxified_graph
        from pytensor.tensor.random.basic import NormalRV

        umodel = remove_value_transforms(model)
        rv = umodel[var]
        if not isinstance(rv.owner.op, NormalRV):
            return None
        mu, sd = umodel.replace_rvs_by_values(list(rv.owner.op.dist_params(rv.owner)))
        inputs = umodel.value_vars  # every free variable's draws, as PyMC's log-likelihood reads them
        fn = get_jaxified_graph(inputs=inputs, outputs=[mu, sd])
        observed = umodel.rvs_to_values[rv]
        shape = tuple(np.shape(observed.data)) if hasattr(observed, "data") else tuple(rv.shape.eval())

        def one(*point: Any) -> tuple[Any, Any]:
            mu, sd = fn(*point)
            return jnp.broadcast_to(mu, shape), jnp.broadcast_to(sd, shape)

        return cls(var, [v.name for v in inputs], shape, jit(jax.vmap(one)))

    def _blocks(self, posterior: xr.Dataset) -> Iterator[tuple[slice, Any, Any]]:
        """``(draws, μ, s)`` per block of the flattened chain × draw axis."""
        n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
        values = [np.asarray(posterior[name].values, dtype=np.float32).reshape(n_draws, *posterior[name].shape[2:])
                  for name in self.inputs]  # fmt: skip
        # A fixed block (the last one padded): one compiled shape for every block and call.
        block = int(max(1, BLOCK_VALUES // max(int(np.prod(self.shape)), 1)))
        for start in range(0, n_draws, block):
            stop = min(start + block, n_draws)
            args = [np.concatenate([v[start:stop], np.repeat(v[stop - 1 : stop], block - (stop - start), axis=0)])
                    if stop - start < block else v[start:stop] for v in values]  # fmt: skip
            mu, sd = self._evaluate(*args)
            yield slice(start, stop), np.asarray(mu)[: stop - start], np.asarray(sd)[: stop - start]

    def unit_loglik(self, posterior: xr.Dataset, n: np.ndarray, y_mean: np.ndarray, y_ss: np.ndarray) -> np.ndarray:
        """Full log-likelihood of each unit's ``n`` rows (chain × draw × unit, float32).

        ``N(ȳ | μ, s)`` times the within-unit term of the rows, ``σ = s√n``:
        ``−(n−1) log σ − S/(2σ²) − ((n−1)/2) log 2π − ½ log n`` (``S`` the unit's sum of squares about ȳ).
        """
        import jax.numpy as jnp

        loglik = _rows_loglik()
        chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
        out = np.empty((chains * draws, *self.shape), np.float32)
        data = [jnp.asarray(a, jnp.float32) for a in (n, y_mean, y_ss)]
        for where, mu, sd in self._blocks(posterior):
            out[where] = np.asarray(loglik(mu, sd, *data))
        return out.reshape(chains, draws, *self.shape)

    def replicate_blocks(self, posterior: xr.Dataset, seed: int) -> Iterator[np.ndarray]:
        """One replicated ``var`` per draw, ``μ + s·ε``, a block of draws at a time (draws × unit,
        float32; the flattened chain × draw axis in order)."""
        rng = np.random.default_rng(seed)
        for where, mu, sd in self._blocks(posterior):
            eps = rng.standard_normal((where.stop - where.start, *self.shape), dtype=np.float32)
            yield mu + sd * eps
