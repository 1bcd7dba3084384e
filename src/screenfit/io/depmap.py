"""Read DepMap release files (read counts, sequence map, guide map, Omics) into a Screen.

Works on the Avana and KY libraries of a DepMap release (and its sub-samples) without edits:

- ``{Library}Readcounts.csv[.gz]``: read counts, either orientation (sequences × guides or
  guides × sequences); NaN marks a count DepMap removed.
- ``{Library}SequenceMap.csv``: ``sequence_ID, cell_line_name ('pDNA' for references),
  pDNA_batch, days, Replicate, PassesQC, ScreenID, Library``.
- ``{Library}GuideMap.csv``: ``sgrna, gene ('SYMBOL (ENTREZ)'), nAlignments,
  GenomeAlignment, DropReason, UsedByChronos``.
- optional ``OmicsCNGene``, ``OmicsSomaticMutations``, ``OmicsExpression…`` files, and a
  ``Model.csv`` of cell-line annotations (lineage, subtype; :mod:`screenfit.io.annotations`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from screenfit.data.foldchange import FoldChangeOptions, counts_to_long
from screenfit.data.genes import split_depmap_names
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError, describe_rows
from screenfit.io.annotations import read_annotated
from screenfit.io.tables import read_frame, require_columns

SEQUENCE_MAP_COLUMNS = ("sequence_ID", "cell_line_name", "pDNA_batch", "days")
GUIDE_MAP_COLUMNS = ("sgrna", "gene")


@dataclass(frozen=True)
class DepMapFiles:
    """Paths of one library's DepMap release files (Omics files optional)."""

    readcounts: Path
    sequence_map: Path
    guide_map: Path
    copy_number: Path | None = None
    mutations: Path | None = None
    expression: Path | None = None
    models: Path | None = None

    @classmethod
    def in_folder(cls, folder: str | Path, library: str) -> DepMapFiles:
        """Find a library's files in a release folder by DepMap's file names."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ScreenfitInputError("folder not found.", file=folder, fix="check the path.")

        def find(stem: str, required: bool) -> Path | None:
            hits = sorted(folder.glob(f"{stem}.csv*"))
            if not hits and required:
                present = sorted(p.name for p in folder.glob("*Readcounts.csv*"))
                libs = ", ".join(p.split("Readcounts")[0] for p in present) or "none"
                raise ScreenfitInputError(
                    f"no {stem}.csv or {stem}.csv.gz for library '{library}' (libraries found: {libs}).",
                    file=folder,
                    fix="pass --library with one of the libraries found, or the folder of the release.",
                )
            return hits[0] if hits else None

        return cls(
            readcounts=find(f"{library}Readcounts", True),  # type: ignore[arg-type]
            sequence_map=find(f"{library}SequenceMap", True),  # type: ignore[arg-type]
            guide_map=find(f"{library}GuideMap", True),  # type: ignore[arg-type]
            copy_number=find("OmicsCNGene", False),
            mutations=find("OmicsSomaticMutations", False),
            expression=find("OmicsExpressionProteinCodingGenesTPMLogp1", False),
            models=find("Model", False),
        )


def _require(df: pd.DataFrame, columns: tuple[str, ...], file: Path) -> None:
    require_columns(df, columns, file, fix="pass the DepMap file of this kind (see docs/cli.md, 'ingest depmap').")


def _read_counts(path: Path, sequence_ids: set[str]) -> tuple[pd.DataFrame, str]:
    raw = read_frame(path)
    raw = raw.set_index(raw.columns[0])
    raw.index = raw.index.astype(str)
    raw.columns = raw.columns.astype(str)
    in_rows = len(sequence_ids & set(raw.index))
    in_cols = len(sequence_ids & set(raw.columns))
    if in_rows == 0 and in_cols == 0:
        raise ScreenfitInputError(
            "neither the row labels nor the column labels are sequence IDs of the sequence map.",
            file=path,
            fix="pass the read counts and the sequence map of the same library and release.",
        )
    if in_rows >= in_cols:
        return raw.T, "sequences × guides (transposed on reading)"
    return raw, "guides × sequences"


def _prepare_guides(guide_map: pd.DataFrame, file: Path, drop_multi_aligned: bool, notes: list[str]) -> pd.DataFrame:
    gm = guide_map.copy()
    gm["sgrna"] = gm["sgrna"].astype(str)
    no_gene = gm["gene"].isna()
    if no_gene.any():
        notes.append(f"dropped {int(no_gene.sum())} guides with no target gene (controls)")
        gm = gm[~no_gene]
    genes_per_guide = gm.groupby("sgrna")["gene"].nunique()
    multi_gene = genes_per_guide.index[genes_per_guide > 1]
    if len(multi_gene):
        notes.append(f"dropped {len(multi_gene)} guides that target more than one gene")
        gm = gm[~gm["sgrna"].isin(multi_gene)]
    gm = gm.drop_duplicates("sgrna")
    failed = pd.Series(False, index=gm.index)
    if "DropReason" in gm.columns:
        failed |= gm["DropReason"].notna() & (gm["DropReason"].astype(str).str.strip() != "")
    if "UsedByChronos" in gm.columns:
        used = gm["UsedByChronos"].astype(str).str.lower().isin({"true", "1", "1.0"})
        failed |= ~used
    if failed.any():
        reasons = gm.loc[failed, "DropReason"].fillna("not used by Chronos") if "DropReason" in gm else None
        detail = (
            "" if reasons is None else " (" + ", ".join(f"{r}: {n}" for r, n in reasons.value_counts().items()) + ")"
        )
        notes.append(f"dropped {int(failed.sum())} guides that fail the guide map's QC{detail}")
        gm = gm[~failed]
    n_align = pd.to_numeric(gm.get("nAlignments", pd.Series(1, index=gm.index)), errors="coerce")
    multi = n_align > 1
    if multi.any():
        if drop_multi_aligned:
            notes.append(f"dropped {int(multi.sum())} guides that align to several loci")
            gm, n_align = gm[~multi], n_align[~multi]
        else:
            notes.append(f"kept {int(multi.sum())} guides that align to several loci, flagged in 'n_alignments'")
    split = split_depmap_names(gm["gene"])
    out = pd.DataFrame(
        {
            "sgrna": gm["sgrna"].to_numpy(),
            "hugo_symbol": split["hugo_symbol"].to_numpy(),
            "entrez_id": split["entrez_id"].to_numpy(),
            "gene_label": gm["gene"].astype(str).to_numpy(),
            "n_alignments": n_align.fillna(1).astype(int).to_numpy(),
        }
    )
    if "GenomeAlignment" in gm.columns:
        align = gm["GenomeAlignment"].astype("string")
        parts = align.str.extract(r"^(?:chr)?(?P<chrom>[^_]+)_(?P<pos>\d+)")
        out["genome_alignment"] = align.to_numpy()
        out["chromosome"] = parts["chrom"].to_numpy()
        out["chrom_pos"] = pd.to_numeric(parts["pos"], errors="coerce").to_numpy()
    return out


def _samples(seq: pd.DataFrame, keep_failed: bool, notes: list[str]) -> pd.DataFrame:
    is_ref = (seq["cell_line_name"].astype(str) == "pDNA") | (pd.to_numeric(seq["days"]) == 0)
    passes = (
        seq["PassesQC"].astype(str).str.lower().isin({"true", "1", "1.0"})
        if "PassesQC" in seq.columns
        else pd.Series(True, index=seq.index)
    )
    failing = ~passes & ~is_ref
    if failing.any():
        ids = seq.loc[failing, "sequence_ID"].tolist()
        if keep_failed:
            notes.append(f"kept {len(ids)} replicates that fail DepMap QC, passes_qc=False: {describe_rows(ids)}")
        else:
            notes.append(f"dropped {len(ids)} replicates that fail DepMap QC: {describe_rows(ids)}")
            seq, passes, is_ref = seq[~failing], passes[~failing], is_ref[~failing]
    return pd.DataFrame(
        {
            "sample": seq["sequence_ID"].astype(str).to_numpy(),
            "condition": np.where(is_ref, "initial", "final"),
            "pdna_batch": seq["pDNA_batch"].astype(str).to_numpy(),
            "cell_line": seq["cell_line_name"].astype(str).to_numpy(),
            "replicate": seq.get("Replicate", seq["sequence_ID"]).astype(str).to_numpy(),
            "days": pd.to_numeric(seq["days"]).to_numpy(),
            "passes_qc": passes.to_numpy(),
            "screen_id": seq.get("ScreenID", pd.Series("", index=seq.index)).astype(str).to_numpy(),
            "library": seq.get("Library", pd.Series("", index=seq.index)).astype(str).to_numpy(),
        }
    )


def _join_gene_matrix(long: pd.DataFrame, path: Path, value_name: str, notes: list[str]) -> pd.Series:
    matrix = read_frame(path)
    matrix = matrix.set_index(matrix.columns[0])
    matrix.index = matrix.index.astype(str)
    stacked = matrix.stack(future_stack=True)
    stacked.index = stacked.index.set_names(["depmap_id", "gene_label"])
    joined = pd.MultiIndex.from_arrays([long["depmap_id"].astype(str), long["gene_label"].astype(str)])
    values = stacked.reindex(joined).to_numpy(dtype=float)
    missing = int(np.isnan(values).sum())
    if missing:
        notes.append(
            f"{value_name}: {missing} of {len(values)} rows have no value in {path.name} "
            "(left missing; see docs/cli.md for how models treat them)"
        )
    return pd.Series(values, index=long.index)


def _join_mutations(long: pd.DataFrame, path: Path, notes: list[str]) -> pd.DataFrame:
    muts = read_frame(path)
    _require(muts, ("ModelID", "Gene"), path)
    flags = {}
    for col, out in (("LikelyGoF", "likely_gof"), ("Driver", "driver")):
        if col in muts.columns:
            flags[out] = muts[col].astype(str).str.lower().isin({"true", "1"})
    per = pd.DataFrame({"depmap_id": muts["ModelID"].astype(str), "gene_label": muts["Gene"].astype(str), **flags})
    agg = per.groupby(["depmap_id", "gene_label"]).agg(n_muts=("gene_label", "size"), **{k: (k, "any") for k in flags})
    merged = long[["depmap_id", "gene_label"]].astype(str).join(agg, on=["depmap_id", "gene_label"])
    out = pd.DataFrame(index=long.index)
    out["n_muts"] = merged["n_muts"].fillna(0).astype(int).to_numpy()
    out["is_mutated"] = out["n_muts"] > 0
    for k in flags:
        out[k] = merged[k].astype("boolean").fillna(False).to_numpy(dtype=bool)
    notes.append(
        f"mutations from {path.name}: {int(agg.shape[0])} (line, gene) pairs; absent pairs are taken as not mutated"
    )
    return out


def _mapped_counts(
    counts: pd.DataFrame, guides: pd.DataFrame, files: DepMapFiles, allow_missing_guides: bool, notes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The guide map's guides that were counted, and their counts (guides × sequences), checked to
    be whole numbers ≥ 0; guides absent from the counts are an error unless allowed."""
    missing_guides = sorted(set(guides["sgrna"]) - set(counts.index))
    if missing_guides:
        if not allow_missing_guides:
            raise ScreenfitInputError(
                f"the guide map names {len(missing_guides)} guides (of {guides.shape[0]}) that are "
                "absent from the read counts, so its genes cannot all be measured",
                file=files.guide_map,
                column="sgrna",
                rows=missing_guides,
                fix="pass the guide map of the same library (--library), or --allow-missing-guides to skip them.",
            )
        notes.append(f"skipped {len(missing_guides)} guide-map guides absent from the read counts")
        guides = guides[~guides["sgrna"].isin(missing_guides)]
    unmapped = counts.index.difference(guides["sgrna"])
    if len(unmapped):
        notes.append(f"ignored {len(unmapped)} counted guides that are not in the (filtered) guide map")
    counts = counts.loc[guides["sgrna"]]
    values = counts.to_numpy(dtype=float)
    bad = (values < 0) | (np.isfinite(values) & ~np.isclose(values, np.round(values))) | np.isinf(values)
    if bad.any():
        rows = sorted({str(counts.index[i]) for i in np.nonzero(bad)[0]})
        raise ScreenfitInputError(
            "read counts must be non-negative whole numbers (or empty for a removed count)",
            file=files.readcounts,
            rows=rows,
            fix="pass raw read counts, not normalised values.",
        )
    return guides, counts


def read_depmap(
    folder: str | Path | None = None,
    library: str = "Avana",
    files: DepMapFiles | None = None,
    drop_multi_aligned: bool = False,
    keep_failed_replicates: bool = False,
    allow_missing_guides: bool = False,
    control_sgrnas: tuple[str, ...] = (),
    fold_change: FoldChangeOptions | None = None,
) -> Screen:
    """Read one library of a DepMap release into a validated :class:`Screen`.

    Parameters
    ----------
    folder, library
        Release folder and library name ('Avana', 'KY'); or give ``files`` explicitly.
    drop_multi_aligned
        Drop guides aligning to several loci instead of flagging them in ``n_alignments``.
    keep_failed_replicates
        Keep replicates with ``PassesQC`` False (marked ``passes_qc=False``) instead of dropping.
    allow_missing_guides
        Accept a guide map that names guides absent from the read counts (they are skipped
        and reported); by default that is an error, as it usually means mismatched files.
    control_sgrnas
        Negative-control guides to centre each replicate on (see :mod:`screenfit.data.foldchange`).
    fold_change
        Pseudocount and reference-count filter; defaults are DepMap-like.
    """
    if files is None:
        if folder is None:
            raise ScreenfitInputError("give a release folder or the file paths.", fix="pass FOLDER.")
        files = DepMapFiles.in_folder(folder, library)
    notes: list[str] = []
    seq = read_frame(files.sequence_map)
    _require(seq, SEQUENCE_MAP_COLUMNS, files.sequence_map)
    guide_map = read_frame(files.guide_map)
    _require(guide_map, GUIDE_MAP_COLUMNS, files.guide_map)
    seq_ids = set(seq["sequence_ID"].astype(str))
    counts, orientation = _read_counts(files.readcounts, seq_ids)
    notes.append(f"read counts: {counts.shape[1]} sequences × {counts.shape[0]} guides, {orientation}")
    absent = sorted(seq_ids - set(counts.columns))
    if absent:
        raise ScreenfitInputError(
            "the sequence map lists sequences that have no column in the read counts",
            file=files.sequence_map,
            column="sequence_ID",
            rows=absent,
            fix="use the sequence map and read counts of the same release, or remove those rows.",
        )
    extra = sorted(set(counts.columns) - seq_ids)
    if extra:
        notes.append(f"ignored {len(extra)} count sequences not in the sequence map")
    guides = _prepare_guides(guide_map, files.guide_map, drop_multi_aligned, notes)
    guides, counts = _mapped_counts(counts, guides, files, allow_missing_guides, notes)
    samples = _samples(seq, keep_failed_replicates, notes)
    counts = counts[samples["sample"].tolist()]
    long, fc_notes = counts_to_long(
        counts,
        samples,
        guides,
        fold_change or FoldChangeOptions(control_sgrnas=control_sgrnas),
        str(files.readcounts),
    )
    notes.extend(fc_notes)
    if files.copy_number is not None:
        long["log2_gene_cn_p1"] = _join_gene_matrix(long, files.copy_number, "copy number", notes)
        long["gene_cn"] = np.exp2(long["log2_gene_cn_p1"]) - 1.0
    if files.expression is not None:
        long["rna_expr"] = _join_gene_matrix(long, files.expression, "expression", notes)
    if files.mutations is not None:
        long = pd.concat([long, _join_mutations(long, files.mutations, notes)], axis=1)
    long = long.drop(columns=["gene_label"])
    screen = Screen.from_frame(long, source=str(files.readcounts), notes=tuple(notes))
    return read_annotated(screen, files.models)


def read_depmap_libraries(folder: str | Path, libraries: Sequence[str], **options: object) -> Screen:
    """Read several libraries of one release (e.g. Avana and KY) into one screen for a joint fit.

    Each library is read by :func:`read_depmap` with the same ``options``; the tables are
    stacked, with ``library`` naming each row's library (a cell line screened with both keeps
    one ``depmap_id``). Replicate IDs must not clash between libraries.
    """
    if not libraries:
        raise ScreenfitInputError("no library given.", fix="pass --library Avana,KY (comma-separated).")
    if len(libraries) == 1:
        return read_depmap(folder, libraries[0], **options)  # type: ignore[arg-type]
    screens = [read_depmap(folder, lib, **options) for lib in libraries]  # type: ignore[arg-type]
    tables = []
    for lib, screen in zip(libraries, screens, strict=True):
        t = screen.table.copy()
        given = t["library"].astype("string") if "library" in t.columns else pd.Series(pd.NA, index=t.index)
        t["library"] = given.fillna(lib).replace("", lib)
        tables.append(t.astype({c: object for c in t.columns if isinstance(t[c].dtype, pd.CategoricalDtype)}))
    owners = pd.concat(
        [pd.DataFrame({"replicate_id": t["replicate_id"].astype(str).unique(), "library": lib})
         for lib, t in zip(libraries, tables, strict=True)]
    )  # fmt: skip
    clash = owners.loc[owners["replicate_id"].duplicated(keep=False), "replicate_id"]
    if len(clash):
        raise ScreenfitInputError(
            "some replicate IDs occur in more than one library",
            file=folder,
            column="replicate_id",
            rows=sorted(set(clash)),
            fix="read the libraries separately, or give their replicates distinct IDs.",
        )
    shared_lines = set.intersection(*(set(t["depmap_id"].astype(str)) for t in tables))
    notes = [f"{lib}: {n}" for lib, s in zip(libraries, screens, strict=True) for n in s.notes]
    notes.append(f"joint screen of {', '.join(libraries)}: {len(shared_lines)} cell lines screened in every library")
    table = pd.concat(tables, ignore_index=True)
    return Screen.from_frame(table, source=f"{folder} ({'+'.join(libraries)})", notes=tuple(notes))
