"""Handing the memory a fit's phases freed back to the operating system.

The draws' XLA buffers and the predictive checks' arrays are freed when a phase ends, but
glibc keeps freed blocks in its heaps for reuse, and its mmap threshold rises with every large
block freed, so ever larger blocks stay in the heap. A fit's resident memory then stays at each
phase's peak and the next phase's arrays come on top: on the realistic 300-gene × 60-line
simulation the fit peaked at 1.86 GB, and at 1.63 GB with the heap trimmed after each phase
(2 cores, glibc 2.36; each trim took 1–8 ms). A fixed threshold (``MALLOC_MMAP_THRESHOLD_``)
saves as much but made every large allocation a fresh mapping: 2,000 × 200 took 126 s, not 106 s.

Two process-wide settings, made by the command line (:func:`configure_process_memory`) and
left to Python callers (they change how the whole process allocates):

- **glibc arenas.** Every thread that allocates gets a heap of its own (up to 8 per core), and
  what XLA's worker threads free in theirs is kept, trims or not, so a fit grows with every
  block of draws by more than the draws. Two arenas lower the peak by about a tenth in the same
  wall time (one arena is slower).
- **Arrow's allocator.** pyarrow allocates with mimalloc, which kept the ~1 GB it used to read
  a 3.2 M-row screen after the table was converted; the system allocator returns it (and
  reading took 2.0 s instead of 4.1 s). :func:`release_arrow_memory` returns mimalloc's cache
  where the pool stays as it is.
- **JAX's large constants** (:func:`hoist_large_jax_constants`): PyMC's JAX graph closes over the
  data, which XLA embeds in the compiled program; arrays over :data:`EMBEDDED_CONSTANT_BYTES`
  are passed to it as arguments instead. JAX reads the switch when it is imported.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

#: ``mallopt``'s parameter number for the arena limit (``M_ARENA_MAX`` in glibc's malloc.h).
M_ARENA_MAX = -8
#: Arenas the command line lets glibc make (the main one and one for every other thread).
MALLOC_ARENAS = 2
#: The two settings as the environment variables that make them (and let a user choose otherwise).
ARENA_VARIABLE, ARROW_POOL_VARIABLE = "MALLOC_ARENA_MAX", "ARROW_DEFAULT_MEMORY_POOL"
#: Closed-over arrays above this size are passed to XLA programs as arguments, not embedded in them.
EMBEDDED_CONSTANT_BYTES = 64 * 2**20
#: JAX's switches for that (read when JAX is imported).
JAX_CONSTANTS_ENVIRONMENT = {"JAX_USE_SIMPLIFIED_JAXPR_CONSTANTS": "1",
                             "JAX_EMBEDDED_CONSTANTS_MAX_BYTES": str(EMBEDDED_CONSTANT_BYTES)}  # fmt: skip
SETTINGS_ENVIRONMENT = {ARENA_VARIABLE: str(MALLOC_ARENAS), ARROW_POOL_VARIABLE: "system", **JAX_CONSTANTS_ENVIRONMENT}


def _libc_function(name: str) -> Any:
    """The C library's function ``name``, or ``None`` where there is none (not glibc)."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (AttributeError, OSError):
        return None


def release_free_memory() -> bool:
    """Return the C heap's free memory to the operating system (glibc's ``malloc_trim``).

    Returns whether the C library has ``malloc_trim`` (glibc: Linux); elsewhere it does nothing.
    """
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Let glibc make at most ``arenas`` heaps for the process's threads (``mallopt(M_ARENA_MAX)``).

    Applies to threads that allocate for the first time afterwards, so call it before a fit's
    first JAX computation. Does nothing where ``MALLOC_ARENA_MAX`` is set (the user's choice) or
    without glibc; returns whether the limit was set.
    """
    if ARENA_VARIABLE in os.environ:
        return False
    mallopt = _libc_function("mallopt")
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, arenas))


def use_system_arrow_allocator() -> bool:
    """Make the system allocator pyarrow's default memory pool, unless ``ARROW_DEFAULT_MEMORY_POOL``
    names one (the user's choice); returns whether it was changed."""
    import pyarrow as pa

    if ARROW_POOL_VARIABLE in os.environ:
        return False
    pa.set_memory_pool(pa.system_memory_pool())
    return True


def hoist_large_jax_constants() -> bool:
    """Have JAX pass arrays over :data:`EMBEDDED_CONSTANT_BYTES` to compiled programs as arguments
    (:data:`JAX_CONSTANTS_ENVIRONMENT`), where JAX is not imported yet and the user has not set
    those switches; returns whether they were set.

    Embedded, the genome-scale guide grid (72 M guide × line cells, ~1 GB of float32) was copied
    by XLA's compiler and by the compilation cache's serialiser: a 144 M-row fit reached 19 GiB
    while compiling. Smaller arrays stay embedded, where XLA's code runs faster (a 2,000 × 200
    screen's SVI steps took 1.6× as long with its 6 MB arrays passed as arguments).
    """
    import sys

    if "jax" in sys.modules or any(k in os.environ for k in JAX_CONSTANTS_ENVIRONMENT):
        return False
    os.environ.update(JAX_CONSTANTS_ENVIRONMENT)
    return True


def release_arrow_memory() -> None:
    """Return what pyarrow's default memory pool keeps cached to the operating system."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def worker_environment() -> dict[str, str]:
    """The same settings as environment variables, for worker processes started by screenfit
    (glibc reads its arena limit, JAX its switches, when a process starts): those the user has not set."""
    return {k: v for k, v in SETTINGS_ENVIRONMENT.items() if k not in os.environ}


def configure_process_memory() -> None:
    """The command line's process-wide memory settings: :func:`limit_malloc_arenas`,
    :func:`use_system_arrow_allocator` and :func:`hoist_large_jax_constants` (module docstring)."""
    limit_malloc_arenas()
    use_system_arrow_allocator()
    hoist_large_jax_constants()
