"""condition: per-gene differences in effect between treatment conditions (e.g. drug vs vehicle)."""

from __future__ import annotations

from typing import ClassVar

import arviz as az
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from screenfit.data.design import CONDITION, GENE, GUIDE, LINE, Design
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError
from screenfit.models.base import ScreenModel
from screenfit.models.blocks import gene_intercepts, line_offsets, reference_first

#: Names taken as the reference condition when none is given (case-insensitive).
REFERENCE_NAMES = ("vehicle", "control", "dmso", "untreated", "mock", "ctrl")
DIFFERENCE = "condition_difference"
CONTRAST = "contrast"
"""Dimension of the non-reference conditions, each compared with the reference."""


class Condition(ScreenModel):
    """Gene effects in the reference condition and a difference per gene in every other condition.

    ``y ~ N(α_g + β_c + ζ_k + δ_gk, σ)`` for a replicate in condition ``k`` (``ζ``, ``δ`` are 0
    in the reference condition); ``δ_gk ~ StudentT(3, 0, τ_δ)``, ``τ_δ ~ HalfNormal(0.3)``;
    ``ζ_k ~ N(0, 0.5)`` (a condition's shift of every gene); ``α_g``, ``β_c``, ``σ`` as in
    gene-cellline. The heavy-tailed prior lets the few genes a drug changes move far while it
    shrinks the many it does not toward 0; reported ``condition_difference`` with the local
    false sign rate and q-values (:mod:`screenfit.results.conditions`), the design-matrix test
    of MAGeCK-MLE and Chronos' hit calling done as one posterior.
    """

    name = "condition"
    title = "gene effects + per-gene differences between conditions (drug vs vehicle), with FDR"
    mean_level = (GENE, LINE, CONDITION)
    unit_level: ClassVar[tuple[str, ...]] = (GUIDE, LINE, CONDITION)

    def reference(self, levels: list[str], source: str = "<memory>") -> str:
        """The reference condition among ``levels``: the option, else the one with a control-like name."""
        wanted = self.options.reference_condition
        if wanted is not None:
            if wanted not in levels:
                raise ScreenfitInputError(
                    f"the reference condition '{wanted}' is not in the screen (conditions: {', '.join(levels)}).",
                    file=source,
                    column=CONDITION,
                    fix="pass one of those to --reference-condition.",
                )
            return wanted
        named = [lvl for lvl in levels if lvl.lower() in REFERENCE_NAMES]
        if len(named) != 1:
            raise ScreenfitInputError(
                f"cannot tell which condition is the reference (conditions: {', '.join(levels)}).",
                file=source,
                column=CONDITION,
                fix="pass --reference-condition NAME (the untreated arm, e.g. vehicle).",
            )
        return named[0]

    def check_screen(self, screen: Screen) -> None:
        super().check_screen(screen)
        t = screen.table
        if CONDITION not in t.columns or t[CONDITION].isna().all():
            raise ScreenfitInputError(
                f"model '{self.name}' compares conditions but the screen has no 'condition' column.",
                file=screen.source,
                column=CONDITION,
                fix="give each final sample a treatment in the sample sheet (column 'treatment'), or a "
                "'condition' column in the long table.",
            )
        missing = t[CONDITION].isna()
        if missing.any():
            raise ScreenfitInputError(
                "some replicates have no condition",
                file=screen.source,
                column=CONDITION,
                rows=sorted(t.loc[missing, "replicate_id"].astype(str).unique()),
                fix="fill in every replicate's condition.",
            )
        levels = sorted(t[CONDITION].astype(str).unique())
        if len(levels) < 2:
            raise ScreenfitInputError(
                f"model '{self.name}' needs at least two conditions; the screen has only '{levels[0]}'.",
                file=screen.source,
                column=CONDITION,
                fix="fit a model without conditions (e.g. gene-cellline).",
            )
        self.reference(levels, screen.source)

    def mean(self, design: Design) -> pt.TensorVariable:
        levels = list(design.coords[CONDITION])
        contrasts, position = reference_first(levels, self.plan.reference(lambda: self.reference(levels)))
        pm.modelcontext(None).add_coord(CONTRAST, contrasts)
        alpha = gene_intercepts()
        beta = line_offsets()
        shift = pm.Normal("condition_shift", 0.0, 0.5, dims=CONTRAST)
        scale = pm.HalfNormal("condition_difference_sd", 0.3)
        delta = pm.StudentT(DIFFERENCE, nu=3, mu=0.0, sigma=scale, dims=(GENE, CONTRAST))
        # Reference first, as a column of zeros.
        n_genes = len(design.coords[GENE])
        full = pt.concatenate([pt.zeros((n_genes, 1)), delta + shift[None, :]], axis=1)
        k = pt.constant(position[design.index[CONDITION]])
        g, c = pt.constant(design.index[GENE]), pt.constant(design.index[LINE])
        return alpha[g] + beta[c] + full[g, k]

    def extra_tables(self, idata: az.InferenceData, ci_prob: float) -> dict[str, pd.DataFrame]:
        """``condition_effects``: per gene and condition, the difference with lfsr, lfdr and q-value."""
        from screenfit.results.conditions import condition_table

        assert self.plan.reference_level is not None, "the model was not built"
        difference = idata.posterior[DIFFERENCE]
        table = condition_table(difference, self.plan.reference_level, ci_prob, self.options.min_difference)
        return {"condition_effects": table}
