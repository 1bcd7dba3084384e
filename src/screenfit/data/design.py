"""The design: what a model sees of a screen — labelled indices and observations per group.

Rows that share every factor a model's mean depends on are collapsed to exact Gaussian
sufficient statistics (count ``n``, mean ``ȳ``, within-group sum of squares ``S``):

``Σ_rows log N(y | m, σ) = log N(ȳ | m, σ/√n) − (n − 1) log σ − S / (2σ²) + const``

so a model evaluated on groups has the same posterior as on rows, with fewer data passes.
A design at row level (``level=ROW_LEVEL``) is the plain full likelihood.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from screenfit.data.preprocess import CN_MAX, zscale_cna_by_group
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError

GENE, LINE, GUIDE, LINEAGE, REPLICATE = "hugo_symbol", "depmap_id", "sgrna", "lineage", "replicate_id"
CONDITION = "condition"
"""Treatment condition of a replicate (e.g. vehicle, drug): column ``condition`` of the screen."""
LIBRARY = "library"
"""Guide library of a replicate (Avana, KY, …) in a joint screen of several libraries."""
PDNA_BATCH = "pdna_batch"
"""The reference (pDNA / T0) batch a replicate's fold change is taken against."""
DAYS = "days"
"""Days between a replicate's reference (pDNA / T0) and its sample: the time point of a time course."""
CELL_READS = "cell_reads"
"""Derived covariate: a guide's mean final reads over the replicates of its line and condition, each
replicate's reads scaled to the screen's mean library size (:func:`cell_reads`)."""
ROW_LEVEL: tuple[str, ...] = (GUIDE, REPLICATE)
UNIT_LEVEL: tuple[str, ...] = (GUIDE, LINE)
"""Pointwise log-likelihood unit shared by every model: one guide in one cell line."""


@dataclass(frozen=True)
class Design:
    """Labelled indices and (collapsed) observations of a screen for one model.

    Attributes
    ----------
    coords
        Sorted labels of each factor (``hugo_symbol``, ``depmap_id``, ``sgrna``, ``lineage``,
        ``condition``, ``library``, ``pdna_batch``).
    level
        The columns rows were grouped by (``ROW_LEVEL`` = no collapsing).
    index
        Per group, the integer code of each factor that is constant within the group.
    n, y_mean, y_ss
        Rows per group, mean LFC, within-group sum of squares.
    covariates
        Per-group values of covariates (constant within groups by construction).
    guide_gene, line_lineage
        The gene of each guide and the lineage of each line (codes into ``coords``).
    counts
        Row-level count columns (only for row-level designs of count models).
    n_rows
        Rows of the screen behind the design.
    """

    coords: dict[str, list[str]]
    level: tuple[str, ...]
    index: dict[str, np.ndarray]
    n: np.ndarray
    y_mean: np.ndarray
    y_ss: np.ndarray
    covariates: dict[str, np.ndarray]
    guide_gene: np.ndarray
    line_lineage: np.ndarray | None
    counts: dict[str, np.ndarray] | None
    n_rows: int

    @property
    def n_groups(self) -> int:
        """Number of observation groups."""
        return int(self.n.shape[0])

    @cached_property
    def grid_shape(self) -> tuple[int, int] | None:
        """``(genes, lines)`` when the groups are every gene × line once, gene-major (else ``None``).

        Both :func:`build_design` and the streamed design order gene × line groups that way, so a
        complete screen is a grid, and per-group gathers become reshapes and broadcasts
        (:func:`screenfit.models.blocks.per_group`). Computed once per design (a pass over every
        group; each term of a model asks).
        """
        if GENE not in self.index or LINE not in self.index or set(self.level) != {GENE, LINE}:
            return None
        genes, lines = len(self.coords[GENE]), len(self.coords[LINE])
        if self.n_groups != genes * lines:
            return None
        flat = self.index[GENE].astype(np.int64) * lines + self.index[LINE]
        return (genes, lines) if bool(np.array_equal(flat, np.arange(self.n_groups))) else None

    def collapsed(self, level: Sequence[str]) -> Design:
        """The same observations grouped by the coarser ``level`` (a subset of this design's
        factors), with exact sufficient statistics, groups ordered as :func:`build_design` orders
        them (so a complete gene × line design is a grid).

        ``n`` and ``Σ nȳ`` add up; the within-group sum of squares adds each part's spread around
        the new mean, ``S = Σ [S_i + n_i (ȳ_i − ȳ)²]``. Factors and covariates constant within
        the new groups are kept.
        """
        if self.counts is not None:
            raise ValueError("collapsed() is for LFC designs; a count design's rows carry raw counts")
        level = tuple(level)
        # A numeric level (``days``) is a covariate: grouped by its sorted distinct values.
        group = _group_codes([self.index[c] if c in self.index else _value_codes(self.covariates[c]) for c in level])
        n_groups = int(group.max()) + 1
        n = np.bincount(group, weights=self.n, minlength=n_groups)
        y_mean = np.bincount(group, weights=self.n * self.y_mean, minlength=n_groups) / n
        spread = self.y_ss + self.n * (self.y_mean - y_mean[group]) ** 2
        y_ss = np.bincount(group, weights=spread, minlength=n_groups)
        first = _first_rows(group, n_groups)
        index = {k: v[first] for k, v in self.index.items() if _constant_within(v, group, first)}
        covariates = {}
        for col, values in self.covariates.items():
            if not _constant_within(values, group, first):
                raise ValueError(f"covariate '{col}' varies within the groups of {level}")
            covariates[col] = values[first]
        return replace(self, level=level, index=index, n=n, y_mean=y_mean, y_ss=y_ss, covariates=covariates)

    def subset(self, keep: np.ndarray) -> Design:
        """The design restricted to the groups where ``keep`` is true, with every label kept.

        Parameters of factors left without data (e.g. held-out cell lines) stay in the model and
        are drawn from their hierarchical prior, which is what predicting new lines needs.
        """
        if self.counts is not None:
            raise ValueError("subset() is for LFC designs; a count design's rows carry raw counts")
        keep = np.asarray(keep, dtype=bool)
        return replace(
            self,
            index={k: v[keep] for k, v in self.index.items()},
            n=self.n[keep],
            y_mean=self.y_mean[keep],
            y_ss=self.y_ss[keep],
            covariates={k: v[keep] for k, v in self.covariates.items()},
            n_rows=int(self.n[keep].sum()),
        )


def _complete_categorical(values: pd.Series) -> bool:
    """A categorical column with a level on every row: its text can be taken per level."""
    return isinstance(values.dtype, pd.CategoricalDtype) and bool((values.cat.codes.to_numpy() >= 0).all())


def _labels(values: pd.Series) -> list[str]:
    """The sorted distinct values of a column as text (a categorical's used levels: no per-row text)."""
    if _complete_categorical(values):
        used = np.unique(values.cat.codes.to_numpy())
        return sorted({str(v) for v in values.cat.categories[used]})
    return sorted({str(v) for v in pd.unique(values)})


def _codes(values: pd.Series, labels: list[str]) -> np.ndarray:
    """Each row's position in ``labels`` (its value as text; ``-1`` where it has none).

    Distinct values are found first and only they are turned into text: ``astype(str)`` per row
    took 0.6 s of a 432,000-row time course's two designs for its text columns (measured).
    """
    if _complete_categorical(values):
        lookup = pd.Index(labels).get_indexer(values.cat.categories.astype(str))
        return lookup[values.cat.codes.to_numpy()].astype(np.int64)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    lookup = pd.Index(labels).get_indexer([str(v) for v in uniques])
    return lookup[codes].astype(np.int64)


def _group_codes(keys: Sequence[np.ndarray]) -> np.ndarray:
    """Each row's group: the rank of its combination of ``keys`` (non-negative codes) in lexicographic
    order, as ``np.unique(np.stack(keys), axis=1, return_inverse=True)`` numbers them — through one
    int64 key per row and a hash table, several times faster than sorting the stacked codes."""
    sizes = [int(k.max()) + 1 for k in keys]
    if min(int(k.min()) for k in keys) < 0 or float(np.prod(sizes, dtype=float)) >= 2.0**62:
        return np.unique(np.stack(keys), axis=1, return_inverse=True)[1].ravel()
    flat = np.ravel_multi_index(tuple(keys), sizes)
    return pd.factorize(flat, sort=True)[0].astype(np.int64)


def _first_rows(group: np.ndarray, n_groups: int) -> np.ndarray:
    """The first row of each group."""
    first = np.full(n_groups, -1)
    first[group[::-1]] = np.arange(len(group))[::-1]
    return first


def _require_gene_cn(table: pd.DataFrame, source: str) -> None:
    if "gene_cn" not in table.columns:
        raise ScreenfitInputError(
            "the model needs copy number but the screen has no 'gene_cn' column.",
            file=source,
            column="gene_cn",
            fix="ingest copy number (e.g. `screenfit ingest depmap` with OmicsCNGene) or pick a model "
            "without copy number.",
        )


def cn_excess(table: pd.DataFrame, source: str, cn_max: float = CN_MAX) -> pd.Series:
    """Capped relative copy number minus one: ``min(gene_cn, cn_max) − 1`` (0 = typical).

    An alternative to the seed's within-gene z-score that keeps the absolute level (cutting
    toxicity grows with the number of cut sites). On a simulation with linear toxicity both
    remove the copy-number bias of non-essential genes equally (residual r = −0.034 vs −0.040,
    Fisher SE 0.021). A missing copy number gives 0 with a warning.
    """
    _require_gene_cn(table, source)
    values = table["gene_cn"].astype(float).clip(upper=cn_max) - 1.0
    missing = int(values.isna().sum())
    if missing:
        warnings.warn(f"{missing} rows have no copy number; their cn_excess is set to 0", stacklevel=3)
    return values.fillna(0.0)


def cell_reads(table: pd.DataFrame) -> pd.Series:
    """Per row, :data:`CELL_READS`: the mean depth-scaled final reads of its guide × line × condition."""
    size = table["library_size_final"].astype(float)
    scaled = table["counts_final"].astype(float) * (size.mean() / size)
    keys = [table[c] for c in (GUIDE, LINE, CONDITION) if c in table.columns]
    return scaled.groupby(keys, observed=True, sort=False).transform("mean")


def prepare_covariates(screen: Screen, columns: Sequence[str], cn_max: float = CN_MAX) -> pd.DataFrame:
    """The screen table with the requested covariate columns present and numeric.

    ``gene_cn_z`` is computed from ``gene_cn`` (capped at ``cn_max``, z-scaled within gene)
    when absent; a missing copy number becomes 0 (the gene's mean) with a warning. Boolean
    covariates become 0/1; other missing values are an error naming the column.
    """
    t = screen.table
    # Shallow copies: a new column (or a column replaced) leaves the screen's own columns shared.
    # Deep ones copied and consolidated every column: 3.4 s and +1.3 GB on 3.2 M rows (measured).
    if "cn_excess" in columns and "cn_excess" not in t.columns:
        t = t.copy(deep=False)
        t["cn_excess"] = cn_excess(t, screen.source, cn_max)
    if CELL_READS in columns and CELL_READS not in t.columns:
        t = t.copy(deep=False)
        t[CELL_READS] = cell_reads(t)
    if "gene_cn_z" in columns and "gene_cn_z" not in t.columns:
        _require_gene_cn(t, screen.source)
        t = zscale_cna_by_group(t, cn_max=cn_max)
    out = t
    for col in columns:
        if col not in out.columns:
            raise ScreenfitInputError(
                f"the covariate column '{col}' is not in the screen.",
                file=screen.source,
                column=col,
                fix="pick a column the screen has (e.g. is_mutated, rna_expr, gene_cn_z) or add it.",
            )
        values = pd.to_numeric(out[col].astype("Float64") if out[col].dtype == "boolean" else out[col], errors="coerce")
        if values.isna().any():
            rows = [int(i) + 1 for i in np.flatnonzero(values.isna().to_numpy())]
            raise ScreenfitInputError(
                f"covariate '{col}' is missing or not numeric in some rows",
                file=screen.source,
                column=col,
                rows=rows,
                fix="fill the missing values (or filter those rows) before fitting.",
            )
        if out is screen.table:
            out = t.copy(deep=False)
        out[col] = values.astype(float)
    return out


UNANNOTATED = "unannotated: "
"""Prefix of the lineage a cell line without one is given in a design: its own (:func:`own_lineage_where_missing`)."""


def own_lineage_where_missing(t: pd.DataFrame) -> pd.DataFrame:
    """``t`` with each cell line that has no lineage given one of its own, where others have one.

    A line alone in its lineage is pooled with no other line (its lineage effect rests on the
    prior), which assumes nothing about where it belongs. Tables with every lineage, or none,
    are returned as they are.
    """
    if LINEAGE not in t.columns:
        return t
    missing = t[LINEAGE].isna()
    if not missing.any() or missing.all():
        return t
    filled = t.copy(deep=False)
    filled[LINEAGE] = t[LINEAGE].astype(object).where(~missing, UNANNOTATED + t[LINE].astype(str))
    return filled


def build_design(
    screen: Screen, level: Sequence[str], covariates: Sequence[str] = (), count_columns: bool = False
) -> Design:
    """Group the screen by ``level`` and compute sufficient statistics and per-group covariates.

    Raises :class:`ScreenfitInputError` if a covariate varies within a group (it could not be
    collapsed), which means the model's level is wrong for that covariate.
    """
    level = tuple(level)
    t = prepare_covariates(screen, covariates)
    t = own_lineage_where_missing(t)
    coords: dict[str, list[str]] = {}
    for col in (GENE, LINE, GUIDE, LINEAGE, CONDITION, LIBRARY, PDNA_BATCH):
        if col in t.columns and t[col].notna().all():
            coords[col] = _labels(t[col])
    codes = {col: _codes(t[col], labels) for col, labels in coords.items()}
    guide_first = pd.DataFrame({"g": codes[GUIDE], "gene": codes[GENE]}).drop_duplicates("g").set_index("g")
    guide_gene = guide_first["gene"].reindex(range(len(coords[GUIDE]))).to_numpy()
    line_lineage = None
    if LINEAGE in codes:
        per_line = pd.DataFrame({"c": codes[LINE], "l": codes[LINEAGE]}).drop_duplicates()
        if per_line["c"].duplicated().any():
            raise ScreenfitInputError(
                "a cell line has more than one lineage.", column=LINEAGE, fix="fix the lineage column."
            )
        line_lineage = per_line.set_index("c")["l"].reindex(range(len(coords[LINE]))).to_numpy()
    y = t["lfc"].to_numpy(dtype=float)
    if level == ROW_LEVEL:
        group = np.arange(len(t))
        n_groups = len(t)
    else:
        group = _group_codes([codes[c] if c in codes else _codes(t[c], _labels(t[c])) for c in level])
        n_groups = int(group.max()) + 1
    n = np.bincount(group, minlength=n_groups).astype(float)
    sums = np.bincount(group, weights=y, minlength=n_groups)
    y_mean = sums / n
    y_ss = np.bincount(group, weights=(y - y_mean[group]) ** 2, minlength=n_groups)
    first = _first_rows(group, n_groups)
    index = {}
    for col, c in codes.items():
        if level == ROW_LEVEL or _constant_within(c, group, first):
            index[col] = c[first]
    cov = {}
    for col in covariates:
        values = t[col].to_numpy(dtype=float)
        if level != ROW_LEVEL and not _constant_within(values, group, first):
            raise ScreenfitInputError(
                f"covariate '{col}' varies between rows that the model treats as one group ({', '.join(level)}).",
                column=col,
                fix="use a covariate that is constant per gene × cell line, or fit with --full-likelihood.",
            )
        cov[col] = values[first]
    counts = None
    if count_columns:
        needed = ("counts_initial", "counts_final", "library_size_initial", "library_size_final")
        counts = {c: t[c].to_numpy(dtype=float) for c in needed}
    return Design(coords, level, index, n, y_mean, y_ss, cov, guide_gene, line_lineage, counts, len(t))


def _value_codes(values: np.ndarray) -> np.ndarray:
    """Codes of a numeric column's sorted distinct values."""
    return np.unique(values, return_inverse=True)[1].ravel()


def _constant_within(values: np.ndarray, group: np.ndarray, first: np.ndarray) -> bool:
    """Whether ``values`` spread (max − min) by less than 1e-9 within every group.

    Decided from each row's gap to its group's first row where that settles it (the spread lies
    between the largest gap and twice it), which it does for codes and for covariates that are
    constant or clearly not; only gaps in between take the per-group min and max.
    """
    gap = np.abs(values - values[first][group])
    if np.all(gap < 0.5e-9):
        return True
    if np.any(gap >= 1e-9):
        return False
    spread = pd.Series(values).groupby(group).agg(["min", "max"])
    return bool(np.all(spread["max"].to_numpy() - spread["min"].to_numpy() < 1e-9))
