"""Covariate: a per-gene slope on a gene × line feature (mutation calls, expression)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from screenfit.models.terms.base import Term

if TYPE_CHECKING:
    import pytensor.tensor as pt

    from screenfit.data.design import Design
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

    def slopes(self) -> pt.TensorVariable:
        """Declare the per-gene slopes ``b_g ~ N(0, 0.5)`` (dims ``hugo_symbol``).

        No pooled scale: a few genes depend strongly on, e.g., a mutation while most have one or
        two mutant lines, and a hierarchical slope had no good parametrisation for that mix
        (non-centred: R-hat 1.05 on a simulation with 30% mutation-dependent genes). A gene with
        few informative lines simply gets a wide interval.
        """
        import pymc as pm

        from screenfit.data.design import GENE

        return pm.Normal("covariate_slope", 0.0, 0.5, dims=GENE)

    def declare(self, design: Design) -> pt.TensorVariable:
        """``b_g · x_gc`` at each group of ``design``."""
        from screenfit.data.design import GENE
        from screenfit.models.blocks import per_group

        return per_group(self.slopes(), design, GENE) * design.covariates[self.column]
