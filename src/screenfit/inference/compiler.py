"""XLA compiler options for screenfit's own compiled JAX functions (SVI steps, draws, pointwise terms).

On CPU, XLA's newer fusion emitters (on by default in recent jaxlib) compile screenfit's SVI
steps more slowly and run them no faster than its older emitters (about a third longer to
compile a 300-gene × 60-line step), so the older ones are asked for. The
option is passed per function (``jax.jit(..., compiler_options=...)``), never set globally, and
only where this jaxlib knows it: an unknown option is an error at compile time, so it is probed
once on a trivial function first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

#: Options tried on CPU (kept only if this jaxlib accepts them).
CPU_OPTIONS: dict[str, Any] = {"xla_cpu_use_fusion_emitters": False}


@functools.cache
def compiler_options() -> dict[str, Any]:
    """The options for ``jax.jit(compiler_options=...)`` on this machine's default backend:
    :data:`CPU_OPTIONS` on CPU where jaxlib accepts them, else none."""
    import jax

    if jax.default_backend() != "cpu":
        return {}
    try:
        jax.jit(lambda x: x + 1, compiler_options=CPU_OPTIONS)(np.zeros(1, np.float32)).block_until_ready()
    except Exception:  # an option this jaxlib does not know (INVALID_ARGUMENT at compile), or no such argument
        return {}
    return dict(CPU_OPTIONS)


def jit(fn: Callable[..., Any]) -> Any:
    """``jax.jit(fn)`` with :func:`compiler_options` (plain ``jax.jit`` where there are none)."""
    import jax

    options = compiler_options()
    return jax.jit(fn, compiler_options=options) if options else jax.jit(fn)
