"""Designs of screens too large for memory, read from Parquet in batches of rows.

A genome-wide screen (18,000 genes × 1,000 lines × 4 guides × 2 replicates = 144 M rows) does
not fit in a pandas frame on a laptop, but a model whose mean is constant per gene × cell line
only needs each group's row count, mean LFC and within-group sum of squares (see
:mod:`screenfit.data.design`). :func:`stream_design` reads only the columns it needs, a batch at
a time, and accumulates those statistics with ``numpy.bincount`` — memory grows with the number
of gene × line groups, not with rows. Two passes over the file: labels first, then statistics.

Checks are those of :class:`~screenfit.data.screen.Screen` that matter for the statistics:
required columns present, no missing gene or line, finite LFC (errors name the file, column and
first data rows), and covariates constant within a gene × cell line.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from screenfit.data.design import GENE, GUIDE, LINE, LINEAGE, PDNA_BATCH, Design
from screenfit.data.preprocess import CN_MAX
from screenfit.errors import ScreenfitInputError
from screenfit.io.tables import require_columns
from screenfit.models.guide_grid import GuideGrid, batch_indicator, slot_layout

#: Rows read per batch (≈ 100 MB of the needed columns).
BATCH_ROWS = 4_000_000
STREAM_LEVEL: tuple[str, ...] = (GENE, LINE)
"""The level a streamed design collapses to for models whose mean and noise are per gene × cell line."""
GUIDE_LEVELS: tuple[tuple[str, ...], ...] = ((GENE, LINE, GUIDE), (GENE, LINE, GUIDE, PDNA_BATCH))
"""Guide-level streams, for models with guide terms (offsets [per pDNA batch], efficacy, noise):
statistics per guide × line laid out as a :class:`~screenfit.models.guide_grid.GuideGrid`."""


@dataclass(frozen=True)
class StreamedScreen:
    """A Parquet screen summarised without loading it: its design and what a fit folder records.

    Offers the parts of :class:`~screenfit.data.screen.Screen` a fit uses (``source``,
    ``notes``, :meth:`count`, :meth:`content_hash`, :meth:`summary`).
    """

    source: str
    design: Design
    digest: str
    entrez: dict[str, int]
    notes: tuple[str, ...] = ()
    grid: GuideGrid | None = None
    """Guide × line statistics of a guide-level stream (``design`` is then their gene × line collapse)."""
    level: tuple[str, ...] = STREAM_LEVEL
    """The level the statistics were taken at: :data:`STREAM_LEVEL` or one of :data:`GUIDE_LEVELS`."""

    def content_hash(self) -> str:
        """Hash of every row's gene × line key, LFC and covariates, in file order."""
        return self.digest

    def count(self, column: str) -> int:
        """Distinct values of ``column`` (gene, cell line, guide, lineage)."""
        return len(self.design.coords.get(column, ()))

    def summary(self) -> dict[str, int]:
        """Rows, genes, cell lines and guides, as :meth:`Screen.summary` reports them."""
        d = self.design
        return {"rows": d.n_rows, "genes": len(d.coords[GENE]), "cell_lines": len(d.coords[LINE]),
                "sgrnas": len(d.coords[GUIDE]), "groups": d.n_groups}  # fmt: skip


def _batches(path: Path, columns: list[str], batch_rows: int) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(first row number, batch) over ``columns`` of the Parquet file."""
    start = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns):
        yield start, batch
        start += batch.num_rows


def _labels_and_codes(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a string column batch and each row's index into them (−1 = missing)."""
    encoded = array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
    labels = np.asarray(encoded.dictionary.cast(pa.string()).to_pylist(), dtype=object)
    return labels, encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _global_codes(array: pa.Array, lookup: dict[str, int]) -> np.ndarray:
    labels, local = _labels_and_codes(array)
    mapping = np.array([lookup.get(str(v), -1) for v in labels] + [-1], dtype=np.int64)
    return mapping[local]


def _reject_missing(codes: np.ndarray, start: int, path: Path, column: str) -> None:
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        raise ScreenfitInputError(
            "missing values at these data row numbers",
            file=path,
            column=column,
            rows=[int(start + i) + 1 for i in bad],
            fix="fill or remove those rows before fitting.",
        )


def _scan_labels(
    path: Path, columns: list[str], batch_rows: int
) -> tuple[dict[str, list[str]], dict[str, pd.DataFrame]]:
    """Pass 1: sorted labels of gene, line, guide (lineage, pDNA batch), and the guide → gene, line → lineage
    and line → batch pairs."""
    seen: dict[str, set[str]] = {c: set() for c in columns}
    pairs: dict[str, list[pd.DataFrame]] = {GUIDE: [], LINE: [], PDNA_BATCH: []}
    for start, batch in _batches(path, columns, batch_rows):
        frame = {}
        for col in columns:
            labels, codes = _labels_and_codes(batch.column(col))
            if col in (GENE, LINE, GUIDE, PDNA_BATCH):
                _reject_missing(codes, start, path, col)
            seen[col].update(str(v) for v in labels)
            frame[col] = pd.Categorical.from_codes(codes, categories=pd.Index(labels.astype(str)), validate=False)
        rows = pd.DataFrame(frame)
        pairs[GUIDE].append(rows[[GUIDE, GENE]].drop_duplicates().astype(str))
        if LINEAGE in rows:
            pairs[LINE].append(rows[[LINE, LINEAGE]].drop_duplicates().astype(str))
        if PDNA_BATCH in rows:
            pairs[PDNA_BATCH].append(rows[[LINE, PDNA_BATCH]].drop_duplicates().astype(str))
    coords = {c: sorted(v) for c, v in seen.items()}
    return coords, {k: pd.concat(v, ignore_index=True).drop_duplicates() for k, v in pairs.items() if v}


@dataclass
class _GroupSums:
    """Running sums per gene × line over the rows read so far (and a digest of what was read)."""

    n: np.ndarray
    sy: np.ndarray
    syy: np.ndarray
    sx: dict[str, np.ndarray]
    sxx: dict[str, np.ndarray]
    cn_rows: np.ndarray  # rows with a copy number, per group: the mean is over those
    n_cn_missing: int
    digest: Any
    guide: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # n, Σy, Σy² per guide × line (guide-major)


def _accumulate(
    path: Path, lookup: dict[str, dict[str, int]], n_lines: int, needs_cn: bool, raw_covariates: list[str],
    cn_max: float, batch_rows: int,
) -> _GroupSums:  # fmt: skip
    """Pass 2: count, sum and sum of squares of LFC and covariates per gene × line (and of LFC per
    guide × line when ``lookup`` has guides), batch by batch; rows with a non-finite LFC or a
    missing covariate are named in one error at the end."""
    size = len(lookup[GENE]) * n_lines
    cov_names = (["cn"] if needs_cn else []) + raw_covariates
    zeros = {c: np.zeros(size) for c in cov_names}
    sums = _GroupSums(np.zeros(size), np.zeros(size), np.zeros(size), zeros, {c: np.zeros(size) for c in cov_names},
                      np.zeros(size), 0, hashlib.blake2b(digest_size=16))  # fmt: skip
    guides = GUIDE in lookup
    guide_size = len(lookup[GUIDE]) * n_lines if guides else 0
    if guides:
        sums.guide = (np.zeros(guide_size), np.zeros(guide_size), np.zeros(guide_size))
    bad_rows: dict[str, list[int]] = {}
    value_cols = ["lfc", *(["gene_cn"] if needs_cn else []), *raw_covariates]
    for start, batch in _batches(path, [GENE, LINE, *([GUIDE] if guides else []), *value_cols], batch_rows):
        g = _global_codes(batch.column(GENE), lookup[GENE])
        c = _global_codes(batch.column(LINE), lookup[LINE])
        y = batch.column("lfc").to_numpy(zero_copy_only=False).astype(float)
        bad = ~np.isfinite(y)
        if bad.any():
            bad_rows.setdefault("lfc", []).extend(int(start + i) + 1 for i in np.flatnonzero(bad))
            y = np.where(bad, 0.0, y)
        key = g * n_lines + c
        sums.n += np.bincount(key, minlength=size)
        sums.sy += np.bincount(key, weights=y, minlength=size)
        sums.syy += np.bincount(key, weights=y * y, minlength=size)
        if sums.guide is not None:
            guide_key = _global_codes(batch.column(GUIDE), lookup[GUIDE]) * n_lines + c
            for total, weights in zip(sums.guide, (None, y, y * y), strict=True):
                total += np.bincount(guide_key, weights=weights, minlength=guide_size)
            sums.digest.update(guide_key.astype(np.int64).tobytes())
        values: dict[str, np.ndarray] = {}
        if needs_cn:
            cn = batch.column("gene_cn").to_numpy(zero_copy_only=False).astype(float)
            values["cn"] = np.minimum(cn, cn_max)
        for col in raw_covariates:
            values[col] = batch.column(col).to_numpy(zero_copy_only=False).astype(float)
        for col, x in values.items():
            absent = np.isnan(x)
            if col == "cn":
                sums.n_cn_missing += int(absent.sum())
                sums.cn_rows += np.bincount(key, weights=~absent, minlength=size)
            elif absent.any():
                bad_rows.setdefault(col, []).extend(int(start + i) + 1 for i in np.flatnonzero(absent))
            filled = np.nan_to_num(x)
            sums.sx[col] += np.bincount(key, weights=filled, minlength=size)
            sums.sxx[col] += np.bincount(key, weights=filled**2, minlength=size)
        sums.digest.update(key.astype(np.int64).tobytes())
        sums.digest.update(y.tobytes())
        for x in values.values():
            sums.digest.update(np.nan_to_num(x, nan=-999.0).tobytes())
    for col, rows in bad_rows.items():
        what = "LFC is missing or not finite" if col == "lfc" else f"covariate '{col}' is missing"
        raise ScreenfitInputError(
            f"{what} at these data row numbers",
            file=path,
            column=col,
            rows=rows,
            fix="remove or fill those rows (or recompute their fold change) before fitting.",
        )
    return sums


def _group_means(
    sums: _GroupSums, present: np.ndarray, coords: dict[str, list[str]], path: Path
) -> dict[str, np.ndarray]:
    """Each covariate's mean per present gene × line; an error where it varies within one."""
    n_lines = len(coords[LINE])
    cov: dict[str, np.ndarray] = {}
    for col in sums.sx:
        weight = sums.cn_rows[present] if col == "cn" else sums.n[present]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums.sx[col][present] / weight
            var = sums.sxx[col][present] / weight - mean**2
        if np.nanmax(np.abs(var), initial=0.0) > 1e-6:
            worst = int(present[np.nanargmax(np.abs(var))])
            raise ScreenfitInputError(
                f"covariate '{'gene_cn' if col == 'cn' else col}' varies between rows of one gene × cell line "
                f"(e.g. {coords[GENE][worst // n_lines]} in {coords[LINE][worst % n_lines]}).",
                file=path,
                column="gene_cn" if col == "cn" else col,
                fix="give each gene × cell line one value, or fit the screen in memory with --full-likelihood.",
            )
        cov[col] = mean
    return cov


def _label_maps(
    coords: dict[str, list[str]], pairs: dict[str, pd.DataFrame], lookup: dict[str, dict[str, int]], path: Path
) -> tuple[np.ndarray, np.ndarray | None]:
    """Each guide's gene code, and each line's lineage code (``None`` without a lineage column)."""
    guide_lookup = {v: i for i, v in enumerate(coords[GUIDE])}
    guide_pairs = pairs[GUIDE].drop_duplicates(GUIDE)
    guide_gene = np.full(len(coords[GUIDE]), -1)
    guide_gene[guide_pairs[GUIDE].map(guide_lookup).to_numpy()] = guide_pairs[GENE].map(lookup[GENE]).to_numpy()
    if LINEAGE not in coords:
        return guide_gene, None
    per_line = pairs[LINE]
    if per_line[LINE].duplicated().any():
        raise ScreenfitInputError("a cell line has more than one lineage.", file=path, column=LINEAGE,
                                  fix="fix the lineage column.")  # fmt: skip
    return guide_gene, _line_codes(per_line, LINEAGE, coords, lookup)


def _line_codes(
    per_line: pd.DataFrame, column: str, coords: dict[str, list[str]], lookup: dict[str, dict[str, int]]
) -> np.ndarray:
    """Each line's code of ``column`` from (line, value) pairs, one per line (``-1``: none)."""
    value_lookup = {v: i for i, v in enumerate(coords[column])}
    codes = np.full(len(coords[LINE]), -1)
    codes[per_line[LINE].map(lookup[LINE]).to_numpy()] = per_line[column].map(value_lookup).to_numpy()
    return codes


def stream_design(
    path: str | Path,
    covariates: Sequence[str] = (),
    batch_rows: int = BATCH_ROWS,
    cn_max: float = CN_MAX,
    level: Sequence[str] = STREAM_LEVEL,
) -> StreamedScreen:
    """The design of a Parquet screen, read in batches (see the module docstring).

    ``covariates`` as for :func:`~screenfit.data.design.build_design`: ``gene_cn_z`` (capped at
    ``cn_max``, z-scaled within gene over rows, ddof = 0) and ``cn_excess`` are computed from
    ``gene_cn``; any other name is read as a numeric column. A missing copy number gives 0 with
    a warning, as in the in-memory path. ``level`` is :data:`STREAM_LEVEL` (gene × line
    statistics) or one of :data:`GUIDE_LEVELS` (also guide × line statistics, laid out as the
    guide grid the guide-level terms' density runs on: every gene measured in every line).
    """
    path = Path(path)
    level = tuple(level)
    if level != STREAM_LEVEL and level not in GUIDE_LEVELS:
        raise ValueError(f"a screen streams at {STREAM_LEVEL} or {GUIDE_LEVELS}, not {level}")
    if not path.is_file():
        raise ScreenfitInputError(
            "no such screen file.", file=path, fix="pass the screen.parquet of `screenfit ingest`."
        )
    schema = pq.read_schema(path)
    needs_cn = any(c in ("cn_excess", "gene_cn_z") for c in covariates)
    raw_covariates = [c for c in covariates if c not in ("cn_excess", "gene_cn_z")]
    by_batch = PDNA_BATCH in level
    required = [GENE, LINE, GUIDE, "lfc", *([PDNA_BATCH] if by_batch else []), *(["gene_cn"] if needs_cn else []),
                *raw_covariates]  # fmt: skip
    fix = "ingest the screen with `screenfit ingest` (it writes the canonical columns), or pick a model whose "
    require_columns(pd.DataFrame(columns=schema.names), tuple(required), path, fix + "covariates the screen has.")
    label_cols = [GENE, LINE, GUIDE, *([LINEAGE] if LINEAGE in schema.names else []),
                  *([PDNA_BATCH] if by_batch else [])]  # fmt: skip
    coords, pairs = _scan_labels(path, label_cols, batch_rows)
    by_guide = level != STREAM_LEVEL
    lookup = {c: {v: i for i, v in enumerate(coords[c])} for c in (GENE, LINE, *([GUIDE] if by_guide else []))}
    n_genes, n_lines = len(coords[GENE]), len(coords[LINE])
    sums = _accumulate(path, lookup, n_lines, needs_cn, raw_covariates, cn_max, batch_rows)
    present = np.flatnonzero(sums.n > 0)
    n_p = sums.n[present]
    y_mean = sums.sy[present] / n_p
    y_ss = np.maximum(sums.syy[present] - n_p * y_mean**2, 0.0)
    gene_idx, line_idx = present // n_lines, present % n_lines
    cov = _group_means(sums, present, coords, path)
    if sums.n_cn_missing:
        warnings.warn(f"{sums.n_cn_missing} rows have no copy number; their copy-number covariate is set to 0",
                      stacklevel=2)  # fmt: skip
    covariates_out = {}
    for name in covariates:
        if name == "cn_excess":
            covariates_out[name] = np.nan_to_num(cov["cn"] - 1.0, nan=0.0)
        elif name == "gene_cn_z":
            covariates_out[name] = _zscale_by_gene(cov["cn"], n_p, gene_idx, n_genes)
        else:
            covariates_out[name] = cov[name]
    index = {GENE: gene_idx, LINE: line_idx}
    guide_gene, line_lineage = _label_maps(coords, pairs, lookup, path)
    if line_lineage is not None:
        index[LINEAGE] = line_lineage[line_idx]
    line_batch = _line_batch(coords, pairs, lookup, path) if by_batch else None
    if line_batch is not None:
        index[PDNA_BATCH] = line_batch[line_idx]
    design = Design(coords, STREAM_LEVEL, index, n_p, y_mean, y_ss, covariates_out, guide_gene, line_lineage, None,
                    int(sums.n.sum()))  # fmt: skip
    grid = None
    if sums.guide is not None:
        grid = _guide_grid(sums.guide, design, line_batch, path)
        sums.guide = None
    entrez = _entrez(path, schema, coords[GENE], batch_rows)
    what = "guide" if by_guide else "gene"
    return StreamedScreen(
        str(path),
        design,
        sums.digest.hexdigest(),
        entrez,
        (f"streamed from Parquet in batches of {batch_rows:,} rows into {what} × line statistics",),
        grid,
        level,
    )


def _line_batch(
    coords: dict[str, list[str]], pairs: dict[str, pd.DataFrame], lookup: dict[str, dict[str, int]], path: Path
) -> np.ndarray:
    """Each line's pDNA batch code; an error naming a line screened against several batches."""
    per_line = pairs[PDNA_BATCH]
    several = per_line[per_line[LINE].duplicated(keep=False)]
    if len(several):
        line = str(several[LINE].iloc[0])
        batches = ", ".join(sorted(several.loc[several[LINE] == line, PDNA_BATCH]))
        raise ScreenfitInputError(
            f"cell line {line} was screened against several pDNA batches ({batches}); a streamed fit with guide "
            "offsets per batch needs one batch per line.",
            file=path, column=PDNA_BATCH,
            fix="fit the screen in memory (without --stream), or give each line's replicates one batch.",
        )  # fmt: skip
    return _line_codes(per_line, PDNA_BATCH, coords, lookup)


def _guide_grid(
    guide_sums: tuple[np.ndarray, np.ndarray, np.ndarray], design: Design, line_batch: np.ndarray | None, path: Path
) -> GuideGrid:
    """The guide grid (float32) from the guide × line sums; ``design`` (gene × line) must be complete.

    Works in place on the sums (they are dropped after): at 72 M guide × lines each float64
    temporary is 0.6 GB.
    """
    coords = design.coords
    n_genes, n_lines, n_guides = len(coords[GENE]), len(coords[LINE]), len(coords[GUIDE])
    if design.grid_shape is None:
        missing = n_genes * n_lines - design.n_groups
        raise ScreenfitInputError(
            f"{missing:,} gene × cell-line pairs have no rows; a streamed fit with guide-level terms needs every "
            "gene measured in every cell line.",
            file=path, column=GENE,
            fix="fit gene × line statistics (`--model gene-by-line --stream`), or load the screen in memory "
            "(without --stream).",
        )  # fmt: skip
    layout = slot_layout(design.guide_gene, n_genes)
    if layout is None:
        raise ScreenfitInputError(
            "guide counts per gene are too uneven for the guide grid (a few genes with many guides).",
            file=path, column=GUIDE,
            fix="fit the screen in memory (without --stream), or drop the genes with many more guides than most.",
        )  # fmt: skip
    slots, rank, slot_guide = layout
    n, sy, syy = (a.reshape(n_guides, n_lines) for a in guide_sums)
    observed = n > 0
    np.divide(sy, n, out=sy, where=observed)  # sy becomes the mean
    syy -= n * sy**2  # syy becomes the within-group sum of squares
    np.maximum(syy, 0.0, out=syy)
    where = (design.guide_gene, rank)
    dense = []
    for values in (n, sy, syy):
        out = np.zeros((n_genes, slots, n_lines), dtype=np.float32)
        out[where] = values
        dense.append(out)
    indicator = np.ones((1, n_lines)) if line_batch is None else batch_indicator(
        line_batch, len(coords[PDNA_BATCH]), np.arange(n_lines)
    )  # fmt: skip
    return GuideGrid(
        design=design,
        slot_guide=slot_guide,
        n=dense[0],
        y_mean=dense[1],
        y_ss_line=syy.sum(axis=0),
        n_line=n.sum(axis=0),
        batch_indicator=indicator,
        column_line=np.arange(n_lines),
        y_ss=dense[2],
    )


def _zscale_by_gene(cn: np.ndarray, rows: np.ndarray, gene: np.ndarray, n_genes: int) -> np.ndarray:
    """Within-gene z-score of each group's capped copy number, weighted by its rows (ddof = 0).

    0 where the copy number is missing or the gene's is constant (as in the in-memory path)."""
    ok = ~np.isnan(cn)
    w = np.where(ok, rows, 0.0)
    x = np.nan_to_num(cn)
    sw = np.bincount(gene, weights=w, minlength=n_genes)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(gene, weights=w * x, minlength=n_genes) / sw
        var = np.bincount(gene, weights=w * x * x, minlength=n_genes) / sw - mean**2
        sd = np.sqrt(np.maximum(var, 0.0))
        z = (x - mean[gene]) / sd[gene]
    constant = ~(sd > 1e-12)
    if constant.any():
        warnings.warn(f"{int(constant.sum())} gene(s) have constant copy number; their gene_cn_z is set to 0",
                      stacklevel=3)  # fmt: skip
    return np.where(ok & ~constant[gene], z, 0.0)


def _entrez(path: Path, schema: pa.Schema, genes: list[str], batch_rows: int) -> dict[str, int]:
    """Gene symbol → Entrez ID where the screen has an ``entrez_id`` column."""
    if "entrez_id" not in schema.names:
        return {}
    found: dict[str, int] = {}
    for _, batch in _batches(path, [GENE, "entrez_id"], batch_rows):
        frame = batch.to_pandas().dropna().drop_duplicates(GENE)
        found.update(zip(frame[GENE].astype(str), frame["entrez_id"].astype(int), strict=True))
        if len(found) == len(genes):
            break
    return found
