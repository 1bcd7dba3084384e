"""Preprocessing as the seed does it: categorical indices, copy-number scaling, filters, sub-samples.

Everything here is vectorised and deterministic: the same screen and arguments give the same
result on every machine.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError

CN_MAX = 10.0


def make_cat(df: pd.DataFrame, column: str, ordered: bool = True, sort_cats: bool = True) -> pd.DataFrame:
    """Return ``df`` with ``column`` as a categorical (sorted categories by default), like the seed's.

    Unused categories are removed so that indices are dense.
    """
    out = df.copy()
    values = out[column].astype("string") if not isinstance(out[column].dtype, pd.CategoricalDtype) else out[column]
    present = pd.unique(values.dropna().astype(str))
    categories = sorted(present) if sort_cats else list(present)
    out[column] = pd.Categorical(values.astype(str), categories=categories, ordered=ordered)
    return out


def get_indices(df: pd.DataFrame, column: str) -> np.ndarray:
    """Zero-based integer codes of a categorical column (the seed's ``get_indices``)."""
    if not isinstance(df[column].dtype, pd.CategoricalDtype):
        raise ScreenfitInputError(
            f"column '{column}' is not categorical, so its codes would not be stable.",
            column=column,
            fix="call make_cat(df, column) first.",
        )
    return df[column].cat.codes.to_numpy(dtype=np.int64)


@dataclass(frozen=True)
class Indices:
    """Dense integer indices of a screen's factors and the labels they stand for."""

    codes: dict[str, np.ndarray]
    labels: dict[str, list[str]]


INDEX_COLUMNS = ("hugo_symbol", "depmap_id", "sgrna", "replicate_id", "lineage", "pdna_batch")


def index_screen(screen: Screen, columns: Sequence[str] = INDEX_COLUMNS) -> Indices:
    """Stable, sorted categorical indices for every factor present in the screen."""
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, list[str]] = {}
    for col in columns:
        if col not in screen.table.columns or screen.table[col].isna().all():
            continue
        cat = make_cat(screen.table[[col]], col)[col]
        codes[col] = cat.cat.codes.to_numpy(dtype=np.int64)
        labels[col] = [str(c) for c in cat.cat.categories]
    return Indices(codes, labels)


def zscale_cna_by_group(
    df: pd.DataFrame,
    gene_cn_col: str = "gene_cn",
    new_col: str = "gene_cn_z",
    groupby_cols: Sequence[str] = ("hugo_symbol",),
    cn_max: float | None = CN_MAX,
) -> pd.DataFrame:
    """Cap copy number at ``cn_max`` and z-scale it within groups (ddof=0), as the seed does.

    Stated rules for what the seed left undefined: a group whose capped copy number is
    constant gets 0 (with a warning naming how many groups), and a missing copy number gets
    0, the group mean, so it contributes no copy-number effect (with a warning).
    """
    if gene_cn_col not in df.columns:
        raise ScreenfitInputError(
            f"no '{gene_cn_col}' column to scale.",
            column=gene_cn_col,
            fix="ingest copy number (e.g. OmicsCNGene with `screenfit ingest depmap`) or skip CN scaling.",
        )
    out = df.copy(deep=False)  # the new column only; ``df``'s columns shared, never written
    values = out[gene_cn_col].astype(float)
    if cn_max is not None and cn_max > 0:
        values = values.clip(upper=cn_max)
    keys = [out[c] for c in groupby_cols]
    grouped = values.groupby(keys, observed=True, sort=False)
    mean = grouped.transform("mean")
    sd = grouped.transform(lambda x: x.std(ddof=0))
    constant = (sd == 0) | sd.isna()
    z = ((values - mean) / sd.where(~constant)).fillna(0.0)
    n_constant = out.loc[constant & values.notna(), list(groupby_cols)].drop_duplicates().shape[0]
    if n_constant:
        warnings.warn(
            f"{n_constant} group(s) of {', '.join(groupby_cols)} have constant copy number; "
            f"their {new_col} is set to 0",
            stacklevel=2,
        )
    n_missing = int(values.isna().sum())
    if n_missing:
        warnings.warn(f"{n_missing} rows have no copy number; their {new_col} is set to 0", stacklevel=2)
    out[new_col] = z.astype(float)
    return out


@dataclass(frozen=True)
class Filters:
    """Row filters applied before modelling; each is recorded in the screen's notes."""

    genes: tuple[str, ...] = ()
    cell_lines: tuple[str, ...] = ()
    lineages: tuple[str, ...] = ()
    passes_qc_only: bool = True
    max_alignments: int | None = None
    min_guides_per_gene: int = 1


def apply_filters(screen: Screen, filters: Filters) -> Screen:
    """Keep the rows that pass ``filters``; raise if nothing is left."""
    t = screen.table
    keep = pd.Series(True, index=t.index)
    applied = []
    for col, wanted in (
        ("hugo_symbol", filters.genes),
        ("depmap_id", filters.cell_lines),
        ("lineage", filters.lineages),
    ):
        if wanted:
            if col not in t.columns:
                raise ScreenfitInputError(f"cannot filter on '{col}': the screen has no such column.", column=col)
            absent = sorted(set(wanted) - set(t[col].astype(str)))
            if absent:
                raise ScreenfitInputError(
                    f"{len(absent)} requested value(s) are not in the screen: {', '.join(absent[:10])}",
                    column=col,
                    fix="check the spelling (genes are matched by symbol).",
                )
            keep &= t[col].astype(str).isin(set(wanted))
            applied.append(f"{col} in {len(wanted)} values")
    if filters.passes_qc_only and "passes_qc" in t.columns:
        keep &= t["passes_qc"].fillna(True).astype(bool)
        applied.append("passes_qc")
    if filters.max_alignments is not None and "n_alignments" in t.columns:
        keep &= t["n_alignments"].fillna(1) <= filters.max_alignments
        applied.append(f"n_alignments ≤ {filters.max_alignments}")
    if filters.min_guides_per_gene > 1:
        guides = t.loc[keep].groupby("hugo_symbol", observed=True)["sgrna"].nunique()
        enough = set(guides.index[guides >= filters.min_guides_per_gene].astype(str))
        keep &= t["hugo_symbol"].astype(str).isin(enough)
        applied.append(f"≥ {filters.min_guides_per_gene} guides per gene")
    if not keep.any():
        raise ScreenfitInputError("no rows are left after filtering.", fix="relax the filters.")
    note = f"filters ({'; '.join(applied) or 'none'}): kept {int(keep.sum())} of {len(keep)} rows"
    return screen.with_table(_drop_unused(t.loc[keep]), note)


def _drop_unused(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].cat.remove_unused_categories()
    return out


def stable_pick(labels: Sequence[str], n: int, seed: int) -> list[str]:
    """Pick ``n`` labels deterministically: by a hash of (seed, label), independent of order."""
    keyed = sorted(labels, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
    return sorted(keyed[:n])


def subsample(
    screen: Screen,
    n_genes: int | None = None,
    n_cell_lines: int | None = None,
    seed: int = 0,
    always_genes: Sequence[str] = (),
) -> Screen:
    """Deterministic sub-sample of genes and cell lines for quick experiments.

    The same (screen, n, seed) always picks the same genes and lines, whatever the row order,
    so a sub-sampled fit can be reproduced. ``always_genes`` are kept in addition.
    """
    t = screen.table
    keep = pd.Series(True, index=t.index)
    picked = []
    if n_genes is not None:
        genes = [str(g) for g in t["hugo_symbol"].astype(str).unique()]
        chosen = set(stable_pick(genes, n_genes, seed)) | set(always_genes)
        keep &= t["hugo_symbol"].astype(str).isin(chosen)
        picked.append(f"{len(chosen)} genes")
    if n_cell_lines is not None:
        lines = [str(g) for g in t["depmap_id"].astype(str).unique()]
        keep &= t["depmap_id"].astype(str).isin(set(stable_pick(lines, n_cell_lines, seed)))
        picked.append(f"{min(n_cell_lines, len(lines))} cell lines")
    note = f"sub-sample (seed {seed}): {', '.join(picked)}"
    return screen.with_table(_drop_unused(t.loc[keep]), note)


def annotated_lines_only(screen: Screen, column: str = "lineage") -> Screen:
    """The screen without the cell lines that have no ``column`` (e.g. no lineage), named in a note."""
    t = screen.table
    if column not in t.columns:
        raise ScreenfitInputError(f"the screen has no '{column}' column.", column=column, fix="ingest annotations.")
    missing = t[column].isna()
    if missing.all():
        raise ScreenfitInputError(f"no cell line has a '{column}'.", column=column, fix="ingest annotations.")
    dropped = sorted(t.loc[missing, "depmap_id"].astype(str).unique())
    note = f"left out {len(dropped)} cell lines without a {column}: {', '.join(dropped) or 'none'}"
    return screen.with_table(_drop_unused(t.loc[~missing]), note)
