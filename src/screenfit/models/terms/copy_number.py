"""Copy number: per-line slopes on a copy-number column (cutting toxicity in amplified regions)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from screenfit.models.terms.base import Term

if TYPE_CHECKING:
    import pytensor.tensor as pt

    from screenfit.data.design import Design
    from screenfit.models.base import ScreenModel

#: Columns computed from ``gene_cn`` when the screen lacks them (data/design.py).
DERIVED_FROM_GENE_CN = ("gene_cn_z", "cn_excess")


@dataclass(frozen=True)
class CopyNumber(Term):
    """``κ_c · cn_gc``, per-line slopes pooled across lines, on ``column``: the seed's ``gene_cn_z``
    (log copy number z-scaled within gene), ``cn_excess = min(CN, 10) − 1`` (the copies beyond
    one, linear as cutting toxicity is), or any numeric column of the screen."""

    column: str = "gene_cn_z"

    key: ClassVar[str] = "copy_number"
    title: ClassVar[str] = "copy-number slope per cell line on a copy-number column"

    def conflict(self, structure: type[ScreenModel]) -> str | None:
        if not structure.uses_cn:
            return f"'{structure.name}' has no copy-number term"
        return None

    def missing(self, columns: Collection[str]) -> str | None:
        if self.column in columns or (self.column in DERIVED_FROM_GENE_CN and "gene_cn" in columns):
            return None
        return f"no copy number (column '{self.column}'{' or gene_cn' if self.column in DERIVED_FROM_GENE_CN else ''})"

    def variables(self) -> tuple[str, ...]:
        return ("cn_slope", "cn_slope_mu", "cn_slope_sd")

    def reports(self) -> tuple[str, ...]:
        return ("cell_line_parameters", "hyperparameters")

    def options(self) -> dict[str, object]:
        return {"cn_column": self.column}

    def declare(self, design: Design, centred: bool) -> pt.TensorVariable:
        """``κ_c · cn_gc`` at each group, the slopes centred or not
        (:func:`~screenfit.models.blocks.cn_slopes`; the model decides by the data and keeps it)."""
        from screenfit.models.blocks import cn_slopes

        return cn_slopes(design, self.column, centred)
