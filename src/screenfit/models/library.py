"""multi-library: one gene effect from screens in several libraries (Avana + KY), with library terms."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from screenfit.data.design import GENE, GUIDE, LIBRARY, LINE, Design
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError
from screenfit.models.base import ScreenModel
from screenfit.models.blocks import gene_intercepts, library_offsets_are_data_rich, line_offsets, reference_first


def reference_library(lines_per_library: dict[str, int]) -> str:
    """The library with the most cell lines (ties: the first name in sort order)."""
    return sorted(lines_per_library.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


class MultiLibrary(ScreenModel):
    """Shared gene effects, a library-specific gene offset, an effect scale and a noise per library.

    ``y ~ N(s_ℓ · (α_g + λ_gℓ) + β_c, σ_ℓ)`` for a replicate screened with library ``ℓ``;
    ``λ_g· ~ ZeroSumNormal(σ_λ)`` over libraries, ``σ_λ ~ HalfNormal(0.2)`` (what a library's
    guides add to a gene: Chronos' library effect); ``log s_ℓ ~ N(0, 0.5)`` with ``s = 1`` for
    the reference library (the one with most lines), so ``α_g`` is on its scale — the scale
    takes up screen length (KY is read at day 14, Avana at day 21) and library-wide efficacy;
    ``log σ_ℓ ~ N(log 0.3, 1)``; ``α_g``, ``β_c`` as in gene-cellline. Libraries need not share
    cell lines: the genes they share identify the scales.
    """

    name = "multi-library"
    title = "one gene effect across guide libraries (Avana + KY): library gene offsets, scale and noise"
    mean_level = (GENE, LINE, LIBRARY)
    unit_level: ClassVar[tuple[str, ...]] = (GUIDE, LINE, LIBRARY)
    noise_by = LIBRARY
    # The scale is identified only through the prior on the gene offsets (a scale change can be
    # absorbed by offsets ∝ α), a ridge that NUTS crosses slowly: on Avana + KY, 1,000 draws per
    # chain left the KY scale at R-hat 1.018 / bulk ESS 203 (centred offsets).
    recommended_draws = 2000
    # The ridge is one direction through ~900 offsets and the scale: nutpie's low-rank mass
    # matrix follows it (KY scale bulk ESS 691 at 1,000 draws vs 203 with the diagonal one).
    mass_matrix = "low_rank"
    # The same ridge left 2 divergent transitions of 4,000 at nutpie's default target acceptance
    # (0.8) on a two-library simulation (30 genes × 40 lines).
    target_accept = 0.9

    def check_screen(self, screen: Screen) -> None:
        super().check_screen(screen)
        t = screen.table
        if LIBRARY not in t.columns or t[LIBRARY].isna().any() or t[LIBRARY].nunique() < 2:
            raise ScreenfitInputError(
                f"model '{self.name}' needs rows from at least two libraries in a complete 'library' column.",
                file=screen.source,
                column=LIBRARY,
                fix="ingest a joint screen (`screenfit ingest depmap FOLDER --library Avana,KY`), or fit "
                "one library with another model.",
            )

    def noise(self, design: Design) -> pt.TensorVariable:
        """One noise SD per library: ``log σ_ℓ ~ N(log 0.3, 1)`` (a handful of well-measured values)."""
        log_sigma = pm.Normal("log_sigma_library", np.log(0.3), 1.0, dims=LIBRARY)
        sigma = pm.Deterministic("sigma_line", pt.exp(log_sigma), dims=LIBRARY)
        return sigma[pt.constant(design.index[LIBRARY])]

    def mean(self, design: Design) -> pt.TensorVariable:
        libraries = list(design.coords[LIBRARY])
        lines_per = {
            lib: int(np.unique(design.index[LINE][design.index[LIBRARY] == i]).size) for i, lib in enumerate(libraries)
        }
        ref = self.plan.reference(lambda: reference_library(lines_per))
        others, position = reference_first(libraries, ref)
        pm.modelcontext(None).add_coord("scaled_library", others)
        alpha = gene_intercepts()
        beta = line_offsets()
        sd = pm.HalfNormal("library_gene_sd", 0.2)
        # When libraries agree σ_λ → 0 and the centred form sits in a funnel; where each offset
        # is pinned by the data (Avana + KY) the non-centred form leaves the KY scale unmixed.
        ref_code = libraries.index(ref)
        if self.plan.centred("library_gene_offset", lambda: library_offsets_are_data_rich(design, ref_code)):
            lam = pm.ZeroSumNormal("library_gene_offset", sigma=sd, dims=(GENE, LIBRARY), n_zerosum_axes=1)
        else:
            z = pm.ZeroSumNormal("library_gene_offset_z", sigma=1.0, dims=(GENE, LIBRARY), n_zerosum_axes=1)
            lam = pm.Deterministic("library_gene_offset", sd * z, dims=(GENE, LIBRARY))
        log_scale = pm.Normal("library_log_scale", 0.0, 0.5, dims="scaled_library")
        # Reference first, fixed at 1.
        scale_all = pt.concatenate([pt.ones(1), pt.exp(log_scale)])
        scale = pm.Deterministic("library_scale", scale_all[position], dims=LIBRARY)
        g, c, lib = design.index[GENE], design.index[LINE], design.index[LIBRARY]
        return scale[lib] * (alpha[g] + lam[g, lib]) + beta[c]
