"""Read MAGeCK/BAGEL-style count tables with a sample sheet into a Screen.

A count table has one row per guide: a guide ID column, a gene column, and one column of
read counts per sample. The sample sheet (CSV) says what each sample column is:

``sample, condition (initial|final), replicate, cell_line, pdna_batch, days``

``initial`` samples are references (plasmid / pDNA / T0); each ``final`` sample is compared
with the summed ``initial`` samples of its ``pdna_batch``. Sheets for the screens bundled
with screenfit ship in ``screenfit/resources/sheets``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from screenfit.data.foldchange import FoldChangeOptions, counts_to_long, is_control_gene
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError
from screenfit.io.library_files import LibraryColumns, match_guides, read_library
from screenfit.io.tables import read_frame, require_columns

SHEET_COLUMNS = ("sample", "condition", "replicate", "cell_line", "pdna_batch")
SGRNA_NAMES = ("sgrna", "sgrna_id", "guide", "guide_id", "id", "sequence", "seq", "sgrnaid")
GENE_NAMES = ("gene", "genes", "hugo_symbol", "gene_symbol", "symbol", "target_gene")


def read_sample_sheet(path: str | Path) -> pd.DataFrame:
    """Read and check a sample sheet (see the module docstring for its columns)."""
    path = Path(path)
    sheet = read_frame(path)
    sheet.columns = [str(c).strip().lower() for c in sheet.columns]
    require_columns(
        sheet,
        SHEET_COLUMNS,
        path,
        fix="the sheet needs sample, condition (initial|final), replicate, cell_line, pdna_batch and optionally days.",
    )
    sheet["sample"] = sheet["sample"].astype(str).str.strip()
    sheet["condition"] = sheet["condition"].astype(str).str.strip().str.lower()
    bad = ~sheet["condition"].isin({"initial", "final"})
    if bad.any():
        raise ScreenfitInputError(
            "condition must be 'initial' (plasmid/pDNA/T0) or 'final'",
            file=path,
            column="condition",
            rows=[int(i) + 1 for i in np.flatnonzero(bad)],
            fix="write initial or final in each row.",
        )
    dup = sheet["sample"].duplicated(keep=False)
    if dup.any():
        raise ScreenfitInputError(
            "each sample must appear once in the sheet",
            file=path,
            column="sample",
            rows=sheet.loc[dup, "sample"].tolist(),
            fix="remove the duplicated rows.",
        )
    for col in ("replicate", "cell_line", "pdna_batch"):
        sheet[col] = sheet[col].astype(str).str.strip()
    sheet.loc[sheet["condition"] == "initial", "cell_line"] = "reference"
    if "days" in sheet.columns:
        sheet["days"] = pd.to_numeric(sheet["days"], errors="coerce")
    return sheet


def _library(library: str | Path | pd.DataFrame | None, columns: LibraryColumns | None) -> pd.DataFrame | None:
    """The library annotation as :func:`~screenfit.io.library_files.read_library` reads it (or ``None``)."""
    if library is None or isinstance(library, pd.DataFrame):
        return library
    return read_library(library, columns)


def _guide_column(columns: list[str], samples: list[str], given: str | None, file: Path, library: bool) -> str:
    """The count table's guide ID column; with a library, the first column that is not a sample
    when no recognised name is there (a raw count file names guides in its first column)."""
    found = _find_column(columns, SGRNA_NAMES, given, "sgrna", file, required=not library)
    if found is not None:
        return found
    return next(c for c in columns if c not in samples)


def _annotate(guides: pd.DataFrame, library: pd.DataFrame, file: Path, column: str, notes: list[str]) -> pd.DataFrame:
    """Each guide's gene (and position) from the library; a guide it lacks keeps the count table's
    gene, or its own ID where that names a control; too few matches is an error."""
    matched = match_guides(guides["sgrna"], library).reset_index(drop=True)
    found = matched["hugo_symbol"].notna().to_numpy()
    if found.mean() < 0.5:
        examples = ", ".join(guides["sgrna"].head(3))
        raise ScreenfitInputError(
            f"only {int(found.sum())} of {len(guides)} guides of the count table are in the library "
            f"(matched by guide ID and by sequence; the table's IDs look like {examples}, the library's like "
            f"{', '.join(library['sgrna'].head(3).astype(str))}).",
            file=file,
            column=column,
            fix="pass the library file of this screen, or name its ID column with --library-columns guide=NAME.",
        )
    out = guides.reset_index(drop=True).copy()
    own = out["hugo_symbol"].where(out["hugo_symbol"].notna(), out["sgrna"].where(is_control_gene(out["sgrna"])))
    out["hugo_symbol"] = matched["hugo_symbol"].where(found, own)
    for col in ("chromosome", "chrom_pos"):
        if col in matched:
            out[col] = matched[col]
    if (~found).any():
        notes.append(f"{int((~found).sum())} guides not in the library kept the count table's gene (or were "
                     f"dropped without one), e.g. {', '.join(out.loc[~found, 'sgrna'].head(3))}")  # fmt: skip
    if "chrom_pos" in out:
        notes.append(f"guide positions from the library for {int(out['chrom_pos'].notna().sum())} guides")
    return out.set_index(guides.index)


def _find_column(
    columns: list[str], wanted: tuple[str, ...], given: str | None, what: str, file: Path, required: bool = True
) -> str | None:
    if given is not None:
        if given not in columns:
            raise ScreenfitInputError(
                f"the {what} column '{given}' is not in the table (columns: {', '.join(columns)}).",
                file=file,
                fix=f"pass the right --{what}-col.",
            )
        return given
    for col in columns:
        if col.strip().lower() in wanted:
            return col
    if not required:
        return None
    raise ScreenfitInputError(
        f"no {what} column found (looked for {', '.join(wanted)}; columns: {', '.join(columns[:8])}).",
        file=file,
        fix=f"pass --{what}-col with the name of the {what} column.",
    )


def bundled_sheet(name: str) -> Path:
    """Path of a sample sheet shipped with screenfit (e.g. 'hap1_tkov3')."""
    ref = resources.files("screenfit.resources.sheets").joinpath(f"{name}.csv")
    if not ref.is_file():
        available = sorted(
            p.name.removesuffix(".csv")
            for p in resources.files("screenfit.resources.sheets").iterdir()
            if p.name.endswith(".csv")
        )
        raise ScreenfitInputError(
            f"no bundled sample sheet '{name}' (bundled: {', '.join(available)}).",
            fix="pass --sheet with the path of your sample sheet.",
        )
    return Path(str(ref))


def _check_sample_columns(raw: pd.DataFrame, samples: list[str], counts_path: Path, sheet_name: str) -> None:
    """Every sample of the sheet must be a column of the count table (a transposed table is named as such)."""
    columns = list(raw.columns)
    missing = [s for s in samples if s not in columns]
    if missing:
        first = raw.iloc[:, 0].astype(str)
        if first.isin(samples).sum() >= len(samples) / 2:
            raise ScreenfitInputError(
                "the sample names are in the first column, so the matrix has samples as rows; "
                "a count table needs one row per guide and one column per sample",
                file=counts_path,
                fix="transpose the table (pandas: df.set_index(df.columns[0]).T) and add a gene column, "
                "or use `screenfit ingest depmap` for DepMap read-count files, which reads both orientations.",
            )
        raise ScreenfitInputError(
            "the sample sheet names samples that are not columns of the count table",
            file=sheet_name,
            column="sample",
            rows=missing,
            fix=f"make the sheet's sample names match the count columns ({', '.join(columns[:10])}).",
        )


def _count_values(raw: pd.DataFrame, samples: list[str], counts_path: Path) -> pd.DataFrame:
    """The samples' columns as numbers; an error naming rows and columns unless all are whole counts ≥ 0."""
    values = raw[samples].apply(pd.to_numeric, errors="coerce")
    bad = (
        values.isna() | ~np.isfinite(values) | (values < 0) | ~np.isclose(values.fillna(0), np.round(values.fillna(0)))
    )
    if not bad.to_numpy().any():
        return values
    rows = [int(i) + 1 for i in np.flatnonzero(bad.any(axis=1))]
    cols = [c for c in samples if bad[c].any()]
    raise ScreenfitInputError(
        "read counts must be non-negative whole numbers, but some are missing, negative, "
        f"fractional, infinite or text (in sample columns {', '.join(cols)}) at these data row numbers",
        file=counts_path,
        column=cols[0],
        rows=rows,
        fix="use raw read counts; write 0 for a guide with no reads.",
    )


def read_count_table(
    counts_path: str | Path,
    sheet: str | Path | pd.DataFrame,
    sgrna_col: str | None = None,
    gene_col: str | None = None,
    sep: str | None = None,
    control_sgrnas: tuple[str, ...] = (),
    fold_change: FoldChangeOptions | None = None,
    library: str | Path | pd.DataFrame | None = None,
    library_columns: LibraryColumns | None = None,
) -> Screen:
    """Read a count table and its sample sheet into a validated :class:`Screen`.

    Control guides (genes named non-targeting, LacZ, EGFP, luciferase …; see
    :data:`screenfit.data.foldchange.CONTROL_GENE_PATTERN`) never become genes: with at least
    100 of them each replicate is centred on their median LFC, otherwise they are dropped.

    Parameters
    ----------
    counts_path
        The count table (CSV/TSV, optionally gzipped).
    sheet
        Sample sheet path or data frame.
    sgrna_col, gene_col
        Column names of the guide ID and gene; detected from common names when omitted.
    sep
        Field separator; tab for .tsv/.tab/.txt by default.
    control_sgrnas
        Extra guide IDs to treat as negative controls.
    fold_change
        Pseudocount and reference filter options.
    library, library_columns
        The library's annotation file (or its :func:`~screenfit.io.library_files.read_library` frame):
        each guide's gene and genomic position come from it, so the count table needs no gene
        column; ``library_columns`` names columns the recognised names do not cover.
    """
    counts_path = Path(counts_path)
    sheet_df = sheet if isinstance(sheet, pd.DataFrame) else read_sample_sheet(sheet)
    sheet_name = "<sample sheet>" if isinstance(sheet, pd.DataFrame) else str(sheet)
    header = [str(c).strip() for c in read_frame(counts_path, sep=sep, nrows=0).columns]
    id_columns = tuple(c for c in header if c.lower() in SGRNA_NAMES + GENE_NAMES or c in {sgrna_col, gene_col})
    raw = read_frame(counts_path, sep=sep, text_columns=id_columns)
    raw.columns = [str(c).strip() for c in raw.columns]
    columns = list(raw.columns)
    samples = sheet_df["sample"].tolist()
    _check_sample_columns(raw, samples, counts_path, sheet_name)
    lib = _library(library, library_columns)
    sg = _guide_column(columns, samples, sgrna_col, counts_path, lib is not None)
    gene = _find_column(columns, GENE_NAMES, gene_col, "gene", counts_path, required=lib is None)
    unused = [c for c in columns if c not in {sg, gene, *samples}]
    notes = [f"count table: {raw.shape[0]} guides × {len(samples)} samples"]
    if unused:
        notes.append(f"ignored count-table columns not in the sample sheet: {', '.join(unused)}")
    ids = raw[sg].astype(str).str.strip()
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise ScreenfitInputError(
            "guide IDs must be unique but some appear more than once",
            file=counts_path,
            column=sg,
            rows=sorted(set(ids[dup]))[:50],
            fix="remove duplicated rows, or make the IDs unique (e.g. append the gene).",
        )
    values = _count_values(raw, samples, counts_path)
    own = raw[gene].astype("string").str.strip() if gene else pd.Series(pd.NA, index=raw.index, dtype="string")
    guides = pd.DataFrame({"sgrna": ids, "hugo_symbol": own})
    if lib is not None:
        guides = _annotate(guides, lib, counts_path, sg, notes)
    genes = guides["hugo_symbol"]
    no_gene = genes.isna() | (genes == "")
    controls = is_control_gene(genes) | ids.isin(set(control_sgrnas))
    if no_gene.any():
        notes.append(f"dropped {int(no_gene.sum())} guides with no gene name")
    control_ids = tuple(ids[controls & ~no_gene])
    guides = guides.loc[~no_gene]
    matrix = values.set_axis(ids, axis=0).loc[~no_gene.to_numpy()]
    long = _long_table(matrix, sheet_df, guides, controls[~no_gene].to_numpy(), control_ids, fold_change, counts_path,
                       notes)  # fmt: skip
    return Screen.from_frame(long, source=str(counts_path), notes=tuple(notes))


def _long_table(
    matrix: pd.DataFrame, sheet: pd.DataFrame, guides: pd.DataFrame, controls: np.ndarray, control_ids: tuple[str, ...],
    fold_change: FoldChangeOptions | None, counts_path: Path, notes: list[str],
) -> pd.DataFrame:  # fmt: skip
    """The long table of fold changes, centred on the control guides (then removed), without genes
    that have no read anywhere."""
    options = fold_change or FoldChangeOptions()
    if control_ids:
        options = FoldChangeOptions(options.pseudocount, options.min_reference_fraction, control_ids)
    long, fc_notes = counts_to_long(matrix, sheet, guides, options, str(counts_path))
    notes.extend(fc_notes)
    if control_ids:
        notes.append(f"removed {len(control_ids)} control guides from the gene list")
        long = long[~long["sgrna"].isin(set(control_ids))]
    dead = _all_zero_genes(matrix.loc[~controls], guides, sheet)
    if dead:
        notes.append(
            f"{len(dead)} genes have zero reads in every guide and sample and were dropped (never hits): "
            + ", ".join(dead[:10])
        )
        long = long[~long["hugo_symbol"].isin(dead)]
    return long


def _all_zero_genes(matrix: pd.DataFrame, guides: pd.DataFrame, sheet: pd.DataFrame) -> list[str]:
    total = matrix[sheet["sample"].tolist()].sum(axis=1)
    by_gene = total.groupby(guides.set_index("sgrna").loc[total.index, "hugo_symbol"].to_numpy()).sum()
    return sorted(str(g) for g in by_gene.index[by_gene == 0])
