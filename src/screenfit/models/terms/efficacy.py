"""Guide efficacy: each guide's knockout efficacy scales its gene's effect (and, coupled, its cutting toxicity)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from screenfit.models.terms.base import Term

if TYPE_CHECKING:
    import pytensor.tensor as pt

    from screenfit.models.base import ScreenModel


@dataclass(frozen=True)
class GuideEfficacy(Term):
    """``mean = rest + e_s · scaled``, ``e_s`` in (0, 1) per guide, as Chronos does, so a dud guide
    neither drags its gene's effect nor smears its variation across lines; effects are reported
    per full knockout. ``copy_number``: the copy-number term is scaled by ``e_s`` too — cutting
    toxicity needs the cut — which needs a :class:`~screenfit.models.terms.copy_number.CopyNumber`
    term in the same spec."""

    copy_number: bool = False

    key: ClassVar[str] = "guide_efficacy"
    title: ClassVar[str] = "knockout efficacy per guide scaling its effect (and its copy-number toxicity)"

    def conflict(self, structure: type[ScreenModel]) -> str | None:
        if not structure.efficacy_scaled:
            return f"'{structure.name}' has no effect term a guide's efficacy could scale"
        if self.copy_number and not structure.uses_cn:
            return f"'{structure.name}' has no copy-number term for the efficacy to scale"
        return None

    def variables(self) -> tuple[str, ...]:
        return ("guide_efficacy", "guide_efficacy_median")

    def reports(self) -> tuple[str, ...]:
        return ("guide_parameters", "hyperparameters")

    def options(self) -> dict[str, object]:
        return {"guide_efficacy": True, "cn_efficacy": self.copy_number}

    def declare(self) -> pt.TensorVariable:
        """Declare the efficacies and the median guide's absolute efficacy in the model being built;
        return ``e_s`` in the likelihood's coordinates (:func:`~screenfit.models.efficacy.declare_efficacy`)."""
        from screenfit.models.efficacy import declare_efficacy

        return declare_efficacy()
