"""What a model checks of a screen before it is built: the columns and values its structure and
options need, each failure one error that names the file, column, rows and the fix."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from screenfit.data.design import DAYS, LINE, PDNA_BATCH
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError
from screenfit.models.terms.guide_offsets import LEARN
from screenfit.models.terms.time_course import SCREEN_DELAY

if TYPE_CHECKING:
    from screenfit.models.base import ScreenModel


def check_screen(model: ScreenModel, screen: Screen) -> None:
    """Raise a clear error when the screen lacks what the model needs (or the options do not apply)."""
    t = screen.table
    model.plan.batches_within_line = PDNA_BATCH in t.columns and bool(
        (t.groupby(LINE, observed=True)[PDNA_BATCH].nunique() > 1).any()
    )
    if model.uses_cn and model.options.cn_column is None and not model.cn_optional:
        raise ScreenfitInputError(
            f"model '{model.name}' is built around its copy-number term; it needs a copy-number column.",
            file=screen.source,
            fix="give a copy-number column (gene_cn_z, cn_excess), or fit gene-cellline instead.",
        )
    if model.options.cn_efficacy and not (model.options.guide_efficacy and model.has_cn):
        raise ScreenfitInputError(
            "cn_efficacy scales the copy-number term by each guide's efficacy: it needs guide_efficacy "
            f"and a model with a copy-number term ('{model.name}' {'has' if model.has_cn else 'has none'}).",
            file=screen.source,
            fix="turn guide_efficacy on (gene-by-line, gene-by-line-lineage), or cn_efficacy off.",
        )
    if model.options.guide_efficacy and not model.efficacy_scaled:
        raise ScreenfitInputError(
            f"model '{model.name}' has no effect term a guide's efficacy could scale.",
            file=screen.source,
            fix="fit gene-by-line with guide_efficacy, or this model without it.",
        )
    if model.options.collapse_gene_line and not model.collapsible:
        raise ScreenfitInputError(
            f"model '{model.name}' has no gene × line effects to integrate out.",
            file=screen.source,
            fix="fit gene-by-line or gene-by-line-lineage with collapse_gene_line, or this model without it.",
        )
    if model.options.guide_noise and (model.observed != "lfc" or model.keeps_own_noise):
        raise ScreenfitInputError(
            f"model '{model.name}' keeps its own noise model (read counts' negative binomial, or the "
            "seed notebook's priors); guide_noise scales the noise of the other LFC models.",
            file=screen.source,
            fix="fit an LFC model (e.g. gene-by-line) with guide_noise, or this model without it.",
        )
    nu = model.options.guide_offset_nu
    if nu is not None and (not model.options.guide_offsets or not (nu == LEARN or float(nu) > 0)):
        raise ScreenfitInputError(
            f"guide_offset_nu {nu} needs guide_offsets and a positive number of degrees of freedom.",
            file=screen.source,
            fix="turn guide_offsets on and give guide_offset_nu a value above 0 (e.g. 3) or 'learn', or leave it out.",
        )
    check_time_points(model, screen)
    if model.observed == "counts" and not screen.has("counts_initial", "counts_final"):
        raise ScreenfitInputError(
            f"model '{model.name}' models read counts but the screen has no counts_initial/counts_final.",
            file=screen.source,
            column="counts_final",
            fix="ingest the screen from counts (`screenfit ingest depmap` or `ingest counts`), or pick an "
            "LFC model such as gene-cellline.",
        )
    if model.observed == "counts" and "lfc_uncorrected" in screen.table.columns:
        raise ScreenfitInputError(
            f"model '{model.name}' models read counts, but this screen's LFC was corrected for proximity bias "
            "(`screenfit correct`), which the counts do not carry.",
            file=screen.source,
            column="lfc_uncorrected",
            fix="fit an LFC model (e.g. gene-cellline) on the corrected screen, or this model on the uncorrected one.",
        )
    if model.needs_lineage and not screen.has("lineage"):
        raise ScreenfitInputError(
            f"model '{model.name}' pools gene effects within lineage but the screen has no 'lineage' column.",
            file=screen.source,
            column="lineage",
            fix="ingest with cell-line annotations (`--annotations Model.csv`) or pick another model.",
        )
    if model.needs_lineage:
        t = screen.table
        missing = sorted(t.loc[t["lineage"].isna(), "depmap_id"].astype(str).unique())
        if missing:
            warnings.warn(
                f"{screen.source}: {len(missing)} cell line(s) without a lineage, each pooled in a lineage of "
                f"its own: {', '.join(missing)}. To leave them out instead: --annotated-lines-only.",
                stacklevel=3,
            )


def check_time_points(model: ScreenModel, screen: Screen) -> None:
    """Check the ``days`` column for ``options.time_course`` (and note whether lines have
    several time points); without it, warn when time points would be pooled as replicates."""
    t = screen.table
    several = DAYS in t.columns and bool((t.groupby(LINE, observed=True)[DAYS].nunique() > 1).any())
    if not model.options.time_course:
        if several:
            warnings.warn(
                f"{screen.source}: some cell lines were read at several time points (column 'days'); "
                "without a time course they are fitted as replicates of one effect.",
                stacklevel=3,
            )
        return
    opts = model.options
    if not model.efficacy_scaled:
        raise ScreenfitInputError(
            f"model '{model.name}' has no effect term a time course could scale.",
            file=screen.source,
            fix="fit gene-by-line or gene-by-line-lineage with a time course, or this model without it.",
        )
    if DAYS not in t.columns:
        raise ScreenfitInputError(
            "a time course needs the days each sample was grown, but the screen has no 'days' column.",
            file=screen.source,
            column=DAYS,
            fix="ingest with a sequence map or sample sheet that has days, or fit without a time course.",
        )
    days = pd.to_numeric(t[DAYS], errors="coerce")
    delay = 0.0 if opts.screen_delay is None else opts.screen_delay
    bad = days.isna() | (days <= delay)
    if bad.any():
        raise ScreenfitInputError(
            f"a time course needs every sample read after the screen delay ({delay:g} days); "
            f"{int(bad.sum())} rows have days missing or ≤ {delay:g}.",
            file=screen.source,
            column=DAYS,
            rows=[int(i) + 1 for i in np.flatnonzero(bad.to_numpy())],
            fix="fill in the days, drop those samples, or lower the screen delay.",
        )
    if opts.reference_days <= delay:
        raise ScreenfitInputError(
            f"reference_days ({opts.reference_days:g}) must be after the screen delay ({delay:g}).",
            fix="give a longer reference_days (DepMap's Avana screens: 21).",
        )
    model.plan.days_within_line = several
    if opts.screen_delay is None and not model.plan.days_within_line:
        raise ScreenfitInputError(
            "learning the screen delay needs a cell line read at two or more time points; every line here has one.",
            file=screen.source,
            column=DAYS,
            fix=f"fix the delay (screen_delay {SCREEN_DELAY:g}, Chronos' default).",
        )
