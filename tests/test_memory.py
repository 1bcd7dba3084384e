"""Freed memory handed back to the operating system between a fit's phases."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from screenfit.inference.memory import release_free_memory


def _resident_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_freed_heap_memory_goes_back_to_the_system():
    """Blocks below the mmap threshold, freed behind a block still in use, stay resident until trimmed."""
    blocks = [np.ones(12_000) for _ in range(3_000)]  # 96 kB each, ~290 MB, from the heap
    keep = np.ones(12_000)  # allocated after them: the heap's top cannot simply shrink
    del blocks
    before = _resident_bytes()
    assert release_free_memory()
    assert before - _resident_bytes() > 150e6
    assert keep.sum() == 12_000


# A child process, since the settings are process-wide: threads that each keep allocations made
# in their own heap, then glibc's own count of heaps (``malloc_info``'s ``<heap nr=…>``).
_HEAPS_CHILD = """
import ctypes, os, re, sys, tempfile, threading
import numpy as np
from screenfit.inference.memory import limit_malloc_arenas
print(limit_malloc_arenas() if sys.argv[1] == "limit" else None)
kept, go = [], threading.Barrier(6)
def work():
    go.wait()  # all six threads allocate at the same time, each would get its own heap
    kept.append([np.ones(1000) for _ in range(200)])
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
path = tempfile.mktemp()
f = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(f))
libc.fclose(ctypes.c_void_p(f))
print(len(re.findall(r"<heap nr=", open(path).read())))
os.remove(path)
"""

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")


def _child(code: str, *args: str, env: dict[str, str] | None = None) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "ARROW_DEFAULT_MEMORY_POOL")}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                          env={**environ, **(env or {})})  # fmt: skip
    return done.stdout.split()


@glibc
def test_arena_limit_keeps_threads_to_two_heaps():
    """With the limit, six threads allocating at once share two heaps; without it they get more."""
    assert _child(_HEAPS_CHILD, "limit") == ["True", "2"]
    assert int(_child(_HEAPS_CHILD, "none")[1]) > 2


@glibc
def test_arena_limit_leaves_a_users_setting_alone():
    assert _child(_HEAPS_CHILD, "limit", env={"MALLOC_ARENA_MAX": "4"})[0] == "False"


_ARROW_CHILD = """
import pyarrow as pa
from screenfit.inference.memory import use_system_arrow_allocator
print(use_system_arrow_allocator(), pa.default_memory_pool().backend_name)
"""


def test_arrow_reads_with_the_system_allocator_unless_the_user_chose():
    assert _child(_ARROW_CHILD) == ["True", "system"]
    assert _child(_ARROW_CHILD, env={"ARROW_DEFAULT_MEMORY_POOL": "jemalloc"})[0] == "False"
