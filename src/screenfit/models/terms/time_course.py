"""Time course: effects grow with the days after a screen delay, so time points are fitted as such."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from screenfit.errors import ScreenfitInputError
from screenfit.models.terms.base import Term

if TYPE_CHECKING:
    import pytensor.tensor as pt

    from screenfit.data.design import Design
    from screenfit.models.base import ScreenModel

#: Chronos' screen delay (days before a knockout acts).
SCREEN_DELAY = 3.0
#: Screen length whose effects are reported: DepMap's Avana screens.
REFERENCE_DAYS = 21.0


@dataclass(frozen=True)
class TimeCourse(Term):
    """The efficacy-scaled mean times ``f(t) = (t − δ) / (t_ref − δ)``: a knockout acts ``delay``
    days after infection (``"learn"``: ``δ ~ Uniform(0, first time point)``, which needs a line
    read at two or more time points), and effects are those of a ``reference_days``-day screen,
    so screens of different lengths share one scale."""

    delay: float | Literal["learn"] = SCREEN_DELAY
    reference_days: float = REFERENCE_DAYS

    key: ClassVar[str] = "time_course"
    title: ClassVar[str] = "effects grow with days after a screen delay (fixed or learnt)"

    def __post_init__(self) -> None:
        delay = self.delay
        if delay != "learn" and (isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0):
            raise ScreenfitInputError(
                f"the screen delay must be a number of days ≥ 0 or 'learn', got {delay!r}.",
                fix="give delay e.g. 3 (Chronos' default) or 'learn'.",
            )
        if delay != "learn" and self.reference_days <= float(delay):
            raise ScreenfitInputError(
                f"reference_days ({self.reference_days:g}) must be after the screen delay ({float(delay):g}).",
                fix="give a longer reference_days (DepMap's Avana screens: 21).",
            )

    def conflict(self, structure: type[ScreenModel]) -> str | None:
        if not structure.efficacy_scaled:
            return f"'{structure.name}' has no effect term a time course could scale"
        return None

    def missing(self, columns: Collection[str]) -> str | None:
        return None if "days" in columns else "no 'days' column (the time point of each sample)"

    def variables(self) -> tuple[str, ...]:
        return ("screen_delay",) if self.delay == "learn" else ()

    def reports(self) -> tuple[str, ...]:
        return ("hyperparameters",) if self.delay == "learn" else ()

    def options(self) -> dict[str, object]:
        delay = None if self.delay == "learn" else float(self.delay)
        return {"time_course": True, "screen_delay": delay, "reference_days": float(self.reference_days)}

    def delay_variable(self, first_day: float) -> pt.TensorVariable | float:
        """``δ``: the fixed delay, or learnt, ``δ ~ Uniform(0, first_day)`` (declared in the model being built)."""
        import pymc as pm

        if self.delay == "learn":
            return pm.Uniform("screen_delay", 0.0, first_day)
        return float(self.delay)

    def factor(self, design: Design) -> pt.TensorVariable:
        """Per group, the share of a ``reference_days``-day screen's effect reached at day ``t``:
        ``f(t) = (t − δ) / (t_ref − δ)``.

        A knockout acts ``δ`` days after infection and then slows growth at a constant rate, so
        the LFC of a gene effect grows linearly with the days after the delay — the growth model
        of Chronos, whose gene effect is that rate. A learnt ``δ`` is pinned where a line is read
        at several times (the effects' ratio between two time points is ``(t₁ − δ)/(t₂ − δ)``).
        """
        import pytensor.tensor as pt

        days = design.covariates["days"]
        t_ref = float(self.reference_days)
        delay = self.delay_variable(float(days.min()))
        if isinstance(delay, float):
            return pt.constant((days - delay) / (t_ref - delay))
        return (pt.constant(days) - delay) / (t_ref - delay)
