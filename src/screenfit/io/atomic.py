"""Atomic writes: a crash or interrupt never leaves a half-written output that looks complete.

Every writer puts its bytes in a temporary sibling and renames it into place; folders are
built as a temporary sibling folder and renamed last, so a folder that exists is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from screenfit.errors import OutputExistsError


def check_writable(path: Path, force: bool) -> None:
    """Raise :class:`OutputExistsError` when ``path`` exists and ``force`` is false."""
    if path.exists() and not force:
        raise OutputExistsError(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def atomic_path(path: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    Works for files and folders alike: the caller creates whatever it likes at the yielded
    path. On an exception the temporary is removed and ``path`` is left untouched.
    """
    path = Path(path)
    check_writable(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = tmp / path.name
    try:
        yield target
        if path.exists():
            # Move the old result aside first so the swap never leaves neither in place.
            old = tmp / ".old"
            os.replace(path, old)
        os.replace(target, path)
    finally:
        _remove(tmp)


def write_bytes_atomic(path: Path, writer: Callable[[Path], None], force: bool = False) -> Path:
    """Call ``writer(tmp_path)`` and move the result to ``path`` atomically."""
    with atomic_path(path, force=force) as tmp:
        writer(tmp)
    return path


def write_json_atomic(path: Path, payload: Any, force: bool = True) -> Path:
    """Write ``payload`` as indented JSON, atomically."""

    def _write(tmp: Path) -> None:
        tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")

    return write_bytes_atomic(path, _write, force=force)
