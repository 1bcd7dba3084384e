"""Model terms: the parts of a model beyond its structure, one small class each.

:data:`TERMS` maps each term's ``key`` (as written in TOML configurations and ``config.json``)
to its class; :func:`term_from_settings` rebuilds a term from its plain settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Literal

from screenfit.errors import ScreenfitInputError
from screenfit.models.terms.base import Term
from screenfit.models.terms.copy_number import CopyNumber
from screenfit.models.terms.covariates import Covariate
from screenfit.models.terms.efficacy import GuideEfficacy
from screenfit.models.terms.guide_noise import GuideNoise
from screenfit.models.terms.guide_offsets import GuideOffsets
from screenfit.models.terms.time_course import TimeCourse

if TYPE_CHECKING:
    from screenfit.models.base import ModelOptions

TERMS: dict[str, type[Term]] = {
    cls.key: cls for cls in (GuideOffsets, GuideEfficacy, GuideNoise, CopyNumber, Covariate, TimeCourse)
}


def terms_from_options(options: ModelOptions, uses_cn: bool) -> tuple[Term, ...]:
    """The terms the flat options switch on (for a structure with a copy-number term: ``uses_cn``).

    The translation table of the old option names: every option of a term maps to that term's
    settings; options that refine a term that is off are ignored here (a
    :class:`~screenfit.models.spec.ModelSpec` refuses them, and so does a model's screen check).
    """
    terms: list[Term] = []
    if options.guide_offsets:
        terms.append(GuideOffsets(options.guide_offset_nu))
    if uses_cn and options.cn_column is not None:
        terms.append(CopyNumber(options.cn_column))
    if options.guide_efficacy:
        terms.append(GuideEfficacy(copy_number=options.cn_efficacy))
    if options.guide_noise:
        terms.append(GuideNoise())
    if options.covariate:
        terms.append(Covariate(options.covariate))
    if options.time_course:
        delay: float | Literal["learn"] = "learn" if options.screen_delay is None else options.screen_delay
        terms.append(TimeCourse(delay, options.reference_days))
    return tuple(terms)


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
    "terms_from_options",
]
