"""Guide offsets: one per guide and pDNA batch, Gaussian or Student-t (``ν`` fixed or learnt)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from screenfit.errors import ScreenfitInputError
from screenfit.models.terms.base import Term

if TYPE_CHECKING:
    from screenfit.models.base import ScreenModel

LEARN = "learn"


@dataclass(frozen=True)
class GuideOffsets(Term):
    """``γ_sb ~ N(0, σ_γ)`` per guide ``s`` and pDNA batch ``b``, or Student-t with ``nu`` degrees of
    freedom (``"learn"``: ``ν ~ Gamma(2, 0.1)``). A guide's reference count is measured once per
    batch, so its error is shared by every line screened against that batch; heavy tails let a
    guide that depletes on its own take an offset instead of moving its gene's effect."""

    nu: float | Literal["learn"] | None = None

    key: ClassVar[str] = "guide_offsets"
    title: ClassVar[str] = "offset per guide × pDNA batch (Student-t with ν fixed or learnt, or Gaussian)"

    def __post_init__(self) -> None:
        nu = self.nu
        if nu is None or nu == LEARN:
            return
        if isinstance(nu, bool) or not isinstance(nu, int | float) or not nu > 0:
            raise ScreenfitInputError(
                f"guide offsets' degrees of freedom (nu) must be a number above 0 or 'learn', got {nu!r}.",
                fix="give nu e.g. 3 or 'learn', or leave it out for Gaussian offsets.",
            )

    def conflict(self, structure: type[ScreenModel]) -> str | None:
        return None

    def variables(self) -> tuple[str, ...]:
        learnt = ("guide_offset_nu",) if self.nu == LEARN else ()
        return ("guide_offset", "guide_offset_sd", *learnt)

    def reports(self) -> tuple[str, ...]:
        return ("guide_parameters", "hyperparameters")

    def options(self) -> dict[str, object]:
        nu = self.nu if self.nu in (None, LEARN) else float(self.nu)  # type: ignore[arg-type]
        return {"guide_offsets": True, "guide_offset_nu": nu}
