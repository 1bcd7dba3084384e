"""The fit cache is the output folder itself: reused when its stored hash matches.

The hash covers the data (content hash of the screen), the model and its options, the sampler
configuration, the likelihood level and the interval probability. A folder with another hash
is an error unless ``force``; a failed fit is served only as failed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Literal

from screenfit.errors import ScreenfitInputError

CONFIG = "config.json"


def fit_hash(payload: dict[str, object]) -> str:
    """SHA-256 of the canonical JSON of ``payload``."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def cache_state(out: Path, wanted: str, force: bool) -> Literal["absent", "hit", "refit"]:
    """What to do with an output folder: nothing there, reuse it, or (with force) refit over it."""
    config = out / CONFIG
    if not out.exists():
        return "absent"
    if force:
        return "refit"
    if not config.is_file():
        raise ScreenfitInputError(
            "the output folder exists but holds no screenfit fit (no config.json).",
            file=out,
            fix="choose another --out, or pass --force to replace it.",
        )
    stored = json.loads(config.read_text()).get("hash")
    if stored == wanted:
        return "hit"
    raise ScreenfitInputError(
        "the output folder holds a fit of different data, model, options or sampler settings.",
        file=out,
        fix="choose another --out, or pass --force to refit and replace it.",
    )


def compiled_code_dir(library: str) -> Path:
    """Where compiled code of ``library`` is cached: ``$SCREENFIT_CACHE_DIR/<library>``, else
    ``$XDG_CACHE_HOME/screenfit/<library>`` (``~/.cache/screenfit/<library>``). Code only, never results."""
    root = os.environ.get("SCREENFIT_CACHE_DIR")
    if root:
        return Path(root) / library
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "screenfit" / library


def use_jax_compilation_cache() -> None:
    """Turn on JAX's persistent compilation cache (:func:`compiled_code_dir`), unless the user
    has set one already, so a second fit of a model in a new process loads its XLA programs
    instead of compiling them (about 40% of a seed-sized NumPyro fit).

    Every compiled program is stored: JAX's default, only those taking ≥ 1 s, leaves PyMC's many
    small post-processing programs out, which together cost as much. The cache is JAX's own, and safe to
    delete at any time.
    """
    import jax

    if getattr(jax.config, "jax_compilation_cache_dir", None) is None:
        path = compiled_code_dir("jax")
        path.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(path))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


class CompiledModels:
    """Compiled models of this process, by content key, the ``size`` most recent kept.

    Compiled code only (CONVENTIONS.md allows such caches), never results: the key covers
    everything the compiled density depends on — the data's content hash, the model, its
    options and parametrisation, the likelihood level, the backend — so a hit is the same
    function. A second fit of the same model and data in a process (another seed, more draws,
    a different tuning) skips nutpie's compile: 2.5–4.5 s of a seed-sized fit (docs/benchmarks.md).
    """

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._items: OrderedDict[str, object] = OrderedDict()

    def get(self, key: str) -> object | None:
        """The compiled model stored under ``key`` (now the most recent), or ``None``."""
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: str, compiled: object) -> None:
        """Store ``compiled`` under ``key``, dropping the oldest beyond ``size``."""
        self._items[key] = compiled
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        """Drop every compiled model (frees the data they hold)."""
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


#: nutpie's compiled models in this process (:class:`CompiledModels`); ``NUTPIE_MODELS.clear()`` frees them.
NUTPIE_MODELS = CompiledModels()
