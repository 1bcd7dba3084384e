"""The fit cache is the output folder itself: reused when its stored hash matches.

The hash covers the data (content hash of the screen), the model and its options, the sampler
configuration, the likelihood level and the interval probability. A folder with another hash
is an error unless ``force``; a failed fit is served only as failed.
"""

from __future__ import annotations

import hashlib
import json
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
