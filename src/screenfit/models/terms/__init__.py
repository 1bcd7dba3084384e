"""Model terms: the parts of a model beyond its structure, one small class each.

:data:`TERMS` maps each term's ``key`` (as written in TOML configurations and ``config.json``)
to its class; :func:`term_from_settings` rebuilds a term from its plain settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields

from screenfit.errors import ScreenfitInputError
from screenfit.models.terms.base import Term
from screenfit.models.terms.copy_number import CopyNumber
from screenfit.models.terms.covariates import Covariate
from screenfit.models.terms.efficacy import GuideEfficacy
from screenfit.models.terms.guide_noise import GuideNoise
from screenfit.models.terms.guide_offsets import GuideOffsets
from screenfit.models.terms.time_course import TimeCourse

TERMS: dict[str, type[Term]] = {
    cls.key: cls for cls in (GuideOffsets, GuideEfficacy, GuideNoise, CopyNumber, Covariate, TimeCourse)
}


def term_from_settings(key: str, settings: Mapping[str, object] | None = None) -> Term:
    """The term named ``key`` with ``settings`` (its dataclass fields); unknown keys or fields get an
    error that lists the known ones."""
    if key not in TERMS:
        raise ScreenfitInputError(f"unknown model term '{key}'.", fix=f"use one of {', '.join(TERMS)}.")
    cls = TERMS[key]
    try:
        return cls(**dict(settings or {}))
    except TypeError:
        known = ", ".join(f.name for f in fields(cls)) or "none"
        raise ScreenfitInputError(
            f"term '{key}' got settings {sorted(settings or {})}; it takes: {known}.",
            fix="correct the term's settings in the configuration.",
        ) from None


__all__ = [
    "TERMS",
    "CopyNumber",
    "Covariate",
    "GuideEfficacy",
    "GuideNoise",
    "GuideOffsets",
    "Term",
    "TimeCourse",
    "term_from_settings",
]
