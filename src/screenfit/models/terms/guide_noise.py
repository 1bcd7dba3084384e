"""Guide noise: a noise scale per guide (guides with few reference reads are noisier)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from screenfit.models.terms.base import Term, lfc_with_default_noise

if TYPE_CHECKING:
    import pytensor.tensor as pt

    from screenfit.models.base import ScreenModel


@dataclass(frozen=True)
class GuideNoise(Term):
    """``σ_sc = σ_c λ_s``, ``log λ_s = τ_λ z_s``, ``τ_λ ~ HalfNormal(0.5)``: a guide that entered few
    cells drops out to zero reads in some line and reads as a deep depletion there; its own
    noise scale keeps that from reading as an effect."""

    key: ClassVar[str] = "guide_noise"
    title: ClassVar[str] = "noise scale per guide (few reference reads, dropouts)"

    def conflict(self, structure: type[ScreenModel]) -> str | None:
        if not lfc_with_default_noise(structure):
            return f"'{structure.name}' keeps its own noise model (read counts, or the seed notebook's priors)"
        return None

    def variables(self) -> tuple[str, ...]:
        return ("guide_noise", "guide_noise_sd")

    def reports(self) -> tuple[str, ...]:
        return ("guide_parameters", "hyperparameters")

    def options(self) -> dict[str, object]:
        return {"guide_noise": True}

    def declare(self) -> pt.TensorVariable:
        """Declare each guide's scale ``λ_s`` (dims ``sgrna``) in the model being built. The scales
        multiply the line's noise SD; their geometric mean, which trades against the lines' SDs,
        is pinned by the thousands of guides' prior (its prior SD is ``τ_λ/√guides``)."""
        import pymc as pm
        import pytensor.tensor as pt

        from screenfit.data.design import GUIDE

        spread = pm.HalfNormal("guide_noise_sd", 0.5)
        z = pm.Normal("guide_noise_z", 0.0, 1.0, dims=GUIDE)
        return pm.Deterministic("guide_noise", pt.exp(spread * z), dims=GUIDE)
