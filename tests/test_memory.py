"""Freed memory handed back to the operating system between a fit's phases."""

from __future__ import annotations

import os
import platform
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
