"""Draws folders: owned by their run, and the ones a killed run left are swept."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from screenfit.inference.scratch import ABANDONED_S, OWNER_FILE, PREFIX, draws_folder, is_stale, sweep_stale


def _folder(parent, name, owner=None, age=0.0):
    folder = parent / f"{PREFIX}{name}"
    folder.mkdir()
    (folder / "draws.zarr").mkdir()
    if owner is not None:
        (folder / OWNER_FILE).write_text(owner)
    if age:
        t = folder.stat().st_mtime - age
        os.utime(folder, (t, t))
    return folder


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_only_folders_whose_run_is_gone_are_swept(tmp_path):
    host = socket.gethostname()
    dead = _folder(tmp_path, "dead", f"{host} {_dead_pid()}")
    live = _folder(tmp_path, "live", f"{host} {os.getpid()}", age=2 * ABANDONED_S)
    elsewhere = _folder(tmp_path, "elsewhere", "another-host 1")
    elsewhere_old = _folder(tmp_path, "elsewhere-old", "another-host 1", age=2 * ABANDONED_S)
    unowned_new = _folder(tmp_path, "unowned-new")
    unowned_old = _folder(tmp_path, "unowned-old", age=2 * ABANDONED_S)
    other = tmp_path / "not-ours"
    other.mkdir()
    assert [is_stale(f) for f in (dead, live, elsewhere, elsewhere_old, unowned_new, unowned_old)] == [
        True, False, False, True, False, True,
    ]  # fmt: skip
    assert sorted(sweep_stale(tmp_path)) == sorted([dead, elsewhere_old, unowned_old])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, elsewhere.name, unowned_new.name, other.name]
    )


def test_a_new_draws_folder_is_owned_and_sweeps_leftovers(tmp_path, monkeypatch):
    monkeypatch.setenv("SCREENFIT_CACHE_DIR", str(tmp_path))
    leftover = _folder(tmp_path, "killed", f"{socket.gethostname()} {_dead_pid()}")
    folder = draws_folder()
    assert folder.parent == tmp_path and folder.name.startswith(PREFIX)
    assert (folder / OWNER_FILE).read_text().split() == [socket.gethostname(), str(os.getpid())]
    assert not leftover.exists() and not is_stale(folder)
