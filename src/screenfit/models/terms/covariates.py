"""Covariate: a per-gene slope on a gene × line feature (mutation calls, expression)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from screenfit.models.terms.base import Term

if TYPE_CHECKING:
    from screenfit.models.base import ScreenModel


@dataclass(frozen=True)
class Covariate(Term):
    """``b_g · x_gc``, ``b_g ~ N(0, 0.5)`` on a gene × line ``column`` (e.g. ``is_mutated``,
    ``rna_expr``); in lineage-pooled structures the slope moves each effect's pooling centre, so
    the reported gene × line effects carry it. Reported as ``covariate_slope``."""

    column: str = "is_mutated"

    key: ClassVar[str] = "covariate"
    title: ClassVar[str] = "per-gene slope on a gene × line feature (e.g. is_mutated)"

    def conflict(self, structure: type[ScreenModel]) -> str | None:
        return None

    def missing(self, columns: Collection[str]) -> str | None:
        return None if self.column in columns else f"no column '{self.column}'"

    def variables(self) -> tuple[str, ...]:
        return ("covariate_slope",)

    def reports(self) -> tuple[str, ...]:
        return ("covariate_slopes",)

    def options(self) -> dict[str, object]:
        return {"covariate": self.column}
