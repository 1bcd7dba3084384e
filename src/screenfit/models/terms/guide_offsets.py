"""Guide offsets: one per guide and pDNA batch, Gaussian or Student-t (``ν`` fixed or learnt)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from screenfit.data.design import GENE, GUIDE, PDNA_BATCH
from screenfit.errors import ScreenfitInputError
from screenfit.models.terms.base import Term

if TYPE_CHECKING:
    import pytensor.tensor as pt

    from screenfit.data.design import Design
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

    def declare(self, design: Design, gene_effect: str, by_batch: bool) -> pt.TensorVariable:
        """Declare the offsets ``γ`` (dims ``sgrna`` [× ``pdna_batch``]) in the model being built.

        A guide's reference count is measured once per pDNA batch, so its measurement error
        enters the LFC of every line screened against that batch. Without this term the model
        takes that shared error for independent noise: on count-derived LFC with one batch
        (40 genes × 30 lines, additive regime) gene-cellline's 94% HDIs covered 49% of the true
        gene effects, with it 95%. Per guide only when the design has no batch index.

        Sampled as guide levels centred on the gene effect, ``ω_sb ~ N(α_g(s), σ_γ)``,
        ``γ_sb = ω_sb − α_g(s)`` (the same prior): drawn as independent offsets, ``α_g`` and the
        mean of its guides' ``γ`` made a ridge that NUTS crossed slowly and mean-field SVI dropped,
        narrowing the gene effects' intervals. Structures without a per-gene ``gene_effect`` draw
        the offsets directly. With guide efficacy the level is centred on the guide's own
        expected level, ``ω_sb ~ N(e_s α_g(s), σ_γ)``, so a dud's flat LFC is explained by its
        efficacy instead of a large offset.
        """
        import pymc as pm

        if by_batch and PDNA_BATCH not in design.index:
            raise ScreenfitInputError(
                "guide offsets per pDNA batch need each guide × line in one batch.",
                column=PDNA_BATCH,
                fix="give each cell line's replicates one pDNA batch, or leave the guide_offsets term out.",
            )
        sd = pm.HalfNormal("guide_offset_sd", 0.2)
        dims = (GUIDE, PDNA_BATCH) if by_batch else (GUIDE,)
        model = pm.modelcontext(None)
        if gene_effect in model.named_vars and model.named_vars_to_dims.get(gene_effect) == (GENE,):
            gene = model[gene_effect][design.guide_gene]
            if "guide_efficacy" in model.named_vars:
                gene = model["guide_efficacy"] * gene  # centred on the guide's own level, e_s α_g
            anchor = gene[:, None] if by_batch else gene
            level = self._prior("guide_level", anchor, sd, dims)
            return pm.Deterministic("guide_offset", level - anchor, dims=dims)
        return self._prior("guide_offset", 0.0, sd, dims)

    def _prior(
        self, name: str, mu: pt.TensorVariable | float, sd: pt.TensorVariable, dims: tuple[str, ...]
    ) -> pt.TensorVariable:
        """``N(μ, σ_γ)``, or Student-t with :meth:`degrees_of_freedom`."""
        import pymc as pm

        nu = self.degrees_of_freedom()
        if nu is None:
            return pm.Normal(name, mu, sd, dims=dims)
        return pm.StudentT(name, nu=nu, mu=mu, sigma=sd, dims=dims)

    def degrees_of_freedom(self) -> pt.TensorVariable | float | None:
        """``nu``, or learnt, ``ν ~ Gamma(2, 0.1)`` (prior mean 20: Juárez and Steel's prior for a
        Student-t's degrees of freedom, its mass between heavy tails and near-Gaussian ones), or
        ``None`` for Gaussian offsets.

        A fixed ν trades the two ways the offsets fail. Gaussian offsets make one guide that
        depletes in every line cheaper to explain as its gene's effect (KY's KRTAP4 family); heavy
        tails give the offsets' shared error less weight in the gene's level, so where every
        guide's offset is a Gaussian measurement error the gene means' intervals were too narrow
        (90% coverage of the gene means 0.84 with ν = 3 in the additive simulation). Learnt, ν
        follows the offsets the screen has: thousands of guides pin it.
        """
        import pymc as pm

        if self.nu is None:
            return None
        if self.nu == LEARN:
            return pm.Gamma("guide_offset_nu", alpha=2.0, beta=0.1)
        return float(self.nu)

    @staticmethod
    def at_groups(offset: pt.TensorVariable, design: Design, by_batch: bool) -> pt.TensorVariable:
        """Each group's offset: per guide × batch, or per guide."""
        from screenfit.models.blocks import per_group

        return per_group(offset, design, GUIDE, PDNA_BATCH) if by_batch else per_group(offset, design, GUIDE)
