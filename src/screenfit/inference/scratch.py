"""Scratch folders for draws streamed to disk during a fit, and the sweep of ones a dead run left.

A fit whose draws do not fit in memory streams them to a ``screenfit-draws-*`` folder (under
``SCREENFIT_CACHE_DIR``, else the system's temporary folder), deleted once the fit is written
(:meth:`~screenfit.inference.samplers.SampleRun.release`). A run killed outright (SIGKILL, an
out-of-memory kill, a node going down) cannot delete it, and such folders hold gigabytes each:
a session's leftovers once filled a 100 GB quota. Each folder therefore records its owner (host
and process id), and creating a new one first removes the folders whose owner is gone.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

PREFIX = "screenfit-draws-"
OWNER_FILE = "screenfit-owner"
#: Age after which a folder is removed even when its owner cannot be checked (another host, or
#: no owner file): no fit streams draws for a week.
ABANDONED_S = 7 * 24 * 3600.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def is_stale(folder: Path) -> bool:
    """Whether ``folder`` is a draws folder its run left behind.

    True when its owner ran on this host and that process is gone, or when it is older than
    :data:`ABANDONED_S` and its owner cannot be checked (another host, or no owner file).
    """
    try:
        age = time.time() - folder.stat().st_mtime
    except OSError:
        return False  # already gone
    try:
        host, pid = (folder / OWNER_FILE).read_text().split()
    except (OSError, ValueError):
        return age > ABANDONED_S
    if host == socket.gethostname():
        return not _alive(int(pid))
    return age > ABANDONED_S


def sweep_stale(parent: Path) -> list[Path]:
    """Remove the stale draws folders (:func:`is_stale`) directly under ``parent``; the ones removed."""
    removed = []
    for folder in sorted(parent.glob(f"{PREFIX}*")):
        if folder.is_dir() and is_stale(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def draws_folder() -> Path:
    """A new draws folder (under ``SCREENFIT_CACHE_DIR`` or the temporary folder), owned by this
    process; stale ones beside it are removed first."""
    parent = Path(os.environ.get("SCREENFIT_CACHE_DIR") or tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(parent)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    (folder / OWNER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n")
    return folder
