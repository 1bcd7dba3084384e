"""Copy-number segments → gene copy number, for screens whose users have segments, not gene tables.

A segment file (ABSOLUTE, PICNIC, CBS/DNAcopy or any caller's) gives, per sample, chromosome,
start, end and either the total copy number or a log2 ratio. Each guide of the screen takes the
copy number of the segment holding its cut site (the screen needs ``chromosome`` and
``chrom_pos``, which ``ingest counts --library`` supplies), and each gene the median over its
guides; the screen gains ``gene_cn`` (relative to a diploid genome: 1 is two copies, as DepMap's
relative copy number) and ``log2_gene_cn_p1``, so every copy-number term reads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError
from screenfit.io.library_files import CHROMOSOME_NAMES, first_named
from screenfit.io.tables import read_frame

SAMPLE_NAMES = ("depmap_id", "ModelID", "ID", "Sample", "sample", "cell_line", "cellLine", "CellLine")
START_NAMES = ("start", "Start", "loc.start", "startpos", "Start_Position", "startPos")
END_NAMES = ("end", "End", "loc.end", "endpos", "End_Position", "endPos")
TOTAL_CN_NAMES = ("Modal_Total_CN", "total_copy_number", "totalCN", "total_cn", "tcn", "copy_number", "CN")
LOG2_NAMES = ("seg.mean", "Segment_Mean", "log2_ratio", "log2ratio", "seg_mean")
PLOIDY = 2.0


def read_segments(path: str | Path, sep: str | None = None) -> pd.DataFrame:
    """Read a segment file into ``sample`` (or none), ``chromosome``, ``start``, ``end``, ``cn``
    (total copy number; from a log2 ratio ``x`` as ``2 · 2^x``)."""
    path = Path(path)
    frame = read_frame(path, sep=sep, text_columns=(*SAMPLE_NAMES, *CHROMOSOME_NAMES))
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = columns
    found = {
        "chromosome": first_named(columns, CHROMOSOME_NAMES), "start": first_named(columns, START_NAMES),
        "end": first_named(columns, END_NAMES),
    }  # fmt: skip
    total, log2 = first_named(columns, TOTAL_CN_NAMES), first_named(columns, LOG2_NAMES)
    missing = [k for k, v in found.items() if v is None] + ([] if total or log2 else ["copy number"])
    if missing:
        raise ScreenfitInputError(
            f"the segment file has no {', '.join(missing)} column; its columns are {', '.join(columns)} (looked for "
            f"chromosome: {', '.join(CHROMOSOME_NAMES)}; start: {', '.join(START_NAMES)}; end: {', '.join(END_NAMES)}; "
            f"copy number: {', '.join(TOTAL_CN_NAMES + LOG2_NAMES)}).",
            file=path,
            fix="rename the columns to chromosome, start, end and total_copy_number (or seg.mean for log2 ratios).",
        )
    out = pd.DataFrame({k: frame[v] for k, v in found.items() if v is not None})
    sample = first_named(columns, SAMPLE_NAMES)
    if sample is not None:
        out.insert(0, "sample", frame[sample].astype(str).str.strip())
    out["chromosome"] = out["chromosome"].astype(str).str.strip().str.removeprefix("chr")
    values = pd.to_numeric(frame[total or log2], errors="coerce")
    out["cn"] = values if total else PLOIDY * np.exp2(values)
    for col in ("start", "end"):
        out[col] = pd.to_numeric(out[col], errors="coerce")
    bad = out[["start", "end", "cn"]].isna().any(axis=1) & frame[total or log2].notna()
    if bad.any():
        raise ScreenfitInputError(
            "segment starts, ends and copy numbers must be numbers",
            file=path,
            rows=[int(i) + 1 for i in np.flatnonzero(bad.to_numpy())],
            fix="fix or drop those rows.",
        )
    return out.dropna().reset_index(drop=True)


def with_segment_copy_number(screen: Screen, segments: pd.DataFrame, source: str = "segments") -> Screen:
    """``screen`` with ``gene_cn`` and ``log2_gene_cn_p1`` from ``segments`` (see the module docstring).

    Segments name samples as the screen names its lines (``depmap_id``); a file without a sample
    column applies to a one-line screen. Guides outside every segment get no copy number (a
    missing value, which the copy-number terms treat as they treat any missing copy number).
    """
    t = screen.table
    if not screen.has("chromosome", "chrom_pos"):
        raise ScreenfitInputError(
            "the screen has no guide positions (chromosome, chrom_pos) to place on the segments.",
            file=screen.source,
            column="chrom_pos",
            fix="ingest the counts with the library file (--library), which gives each guide's position.",
        )
    lines = t["depmap_id"].astype(str).unique()
    if "sample" not in segments:
        if len(lines) > 1:
            raise ScreenfitInputError(
                f"the segment file names no samples, and the screen has {len(lines)} cell lines.",
                file=source,
                fix="add a sample column naming each segment's cell line as the screen does (depmap_id).",
            )
        segments = segments.assign(sample=lines[0])
    unknown = sorted(set(lines) - set(segments["sample"]))
    if len(unknown) == len(lines):
        raise ScreenfitInputError(
            f"no cell line of the screen is a sample of the segment file (screen: {', '.join(lines[:3])}; "
            f"segments: {', '.join(segments['sample'].drop_duplicates().head(3))}).",
            file=source,
            column="sample",
            fix="name the samples as the screen names its lines.",
        )
    guides = t[["depmap_id", "sgrna", "hugo_symbol", "chromosome", "chrom_pos"]].drop_duplicates(["depmap_id", "sgrna"])
    guide_cn = _guide_copy_number(guides.astype({"depmap_id": str, "chromosome": str}), segments)
    gene_cn = guide_cn.groupby(
        [guides["depmap_id"].astype(str).to_numpy(), guides["hugo_symbol"].astype(str).to_numpy()]
    ).median()
    key = pd.MultiIndex.from_arrays([t["depmap_id"].astype(str), t["hugo_symbol"].astype(str)])
    relative = gene_cn.reindex(key).to_numpy() / PLOIDY
    table = t.assign(gene_cn=relative, log2_gene_cn_p1=np.log2(relative + 1.0))
    note = f"gene copy number from {source}: {int(np.isfinite(relative).sum())} of {len(t)} rows placed on a segment"
    if unknown:
        note += f"; {len(unknown)} lines not in it"
    return screen.with_table(table, note)


def _guide_copy_number(guides: pd.DataFrame, segments: pd.DataFrame) -> pd.Series:
    """The copy number of the segment holding each guide's position (NaN outside every segment)."""
    out = pd.Series(np.nan, index=guides.index)
    placed = guides.groupby(["depmap_id", "chromosome"]).groups
    for key, segs in segments.groupby(["sample", "chromosome"]):
        if key not in placed:
            continue
        rows = guides.loc[placed[key]]
        segs = segs.sort_values("start")
        starts, ends = segs["start"].to_numpy(), segs["end"].to_numpy()
        pos = rows["chrom_pos"].to_numpy(dtype=float)
        i = np.searchsorted(starts, pos, side="right") - 1
        inside = (i >= 0) & (pos <= ends[np.clip(i, 0, None)])
        out.loc[rows.index[inside]] = segs["cn"].to_numpy()[i[inside]]
    return out
