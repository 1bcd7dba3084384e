"""Library annotation files: which gene each guide targets, and where it cuts.

A count table from a sequencing run often names guides only (by ID or by their 20-mer); the
library's annotation file maps them to genes and genomic positions. The column names of the
common files are recognised:

- CRISPRcleanR's library objects: ``CODE``, ``GENES``, ``CHRM``, ``STARTpos``, ``seq``;
- Yusa / KY (Project Score): ``sgRNA_ID``, ``Gene``, ``chr``, ``start``;
- MAGeCK's library: ``sgRNA``, ``gene`` (and the sequence);
- Broad's annotations (Brunello, Avana, TKOv3): ``sgRNA Target Sequence``, ``Target Gene Symbol``,
  ``Chromosome``, ``Position of Base After Cut (1-based)``; DepMap's guide map (``sgrna``,
  ``gene`` as 'SYMBOL (ENTREZ)', ``GenomeAlignment`` as ``chr_pos_strand``).

Other files are read with their columns named (:class:`LibraryColumns`). A count table's guide
IDs are matched to the library's IDs, or to its sequences (a 20-mer, or the 20-mer spacer at
positions 4–24 of a 30-mer target context, as Brunello's annotation gives it).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from screenfit.data.genes import split_depmap_names
from screenfit.errors import ScreenfitInputError
from screenfit.io.tables import read_frame

GUIDE_NAMES = ("sgrna", "sgRNA", "sgRNA_ID", "sgRNA ID", "CODE", "guide", "Guide", "guide_id", "sgrna_id", "ID")
GENE_NAMES = (
    "hugo_symbol", "gene", "Gene", "GENES", "GENE", "Gene Symbol", "Target Gene Symbol", "gene_symbol", "symbol",
    "Target Gene", "Gene_symbol",
)  # fmt: skip
CHROMOSOME_NAMES = ("chromosome", "Chromosome", "CHRM", "chr", "chrom", "CHROMOSOME", "seqnames")
START_NAMES = (
    "chrom_pos", "start", "Start", "STARTpos", "START", "position", "pos",
    "Position of Base After Cut (1-based)", "Cut position",
)  # fmt: skip
SEQUENCE_NAMES = ("seq", "sequence", "Sequence", "SEQUENCE", "sgRNA Target Sequence", "sgRNA Sequence", "spacer")
ALIGNMENT_NAMES = ("GenomeAlignment",)
SPACER = 20
"""Length of a spacer: what a count table names a guide by when it names it by sequence."""
CONTEXT_START = 4
"""Where the spacer starts in a 30-mer target context (4 bases, spacer, PAM, 3 bases)."""


@dataclass(frozen=True)
class LibraryColumns:
    """Column names of a library file that the recognised names do not cover (``None``: detect)."""

    guide: str | None = None
    gene: str | None = None
    chromosome: str | None = None
    start: str | None = None
    sequence: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> LibraryColumns:
        """From ``guide=ID,gene=Symbol,chromosome=chr,start=pos`` (the CLI's ``--library-columns``)."""
        if not text:
            return cls()
        known = {f.name for f in fields(cls)}
        values: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in known or not value.strip():
                raise ScreenfitInputError(
                    f"'{part}' is not a library column setting.",
                    fix=f"pass KEY=COLUMN pairs separated by commas, KEY one of {', '.join(sorted(known))}.",
                )
            values[key.strip()] = value.strip()
        return cls(**values)


def first_named(columns: list[str], names: tuple[str, ...]) -> str | None:
    """The first of ``names`` (in their order of preference) that is a column, case aside."""
    lower = {c.lower(): c for c in columns}
    return next((lower[n.lower()] for n in names if n.lower() in lower), None)


def _pick(columns: list[str], given: str | None, names: tuple[str, ...], path: Path, what: str) -> str | None:
    """The column for ``what``: the one given (which must exist) or the first recognised name."""
    if given is not None:
        if given not in columns:
            raise ScreenfitInputError(
                f"the {what} column '{given}' is not in the library file; its columns are {', '.join(columns)}.",
                file=path,
                fix="pass one of those names.",
            )
        return given
    return first_named(columns, names)


def read_library(path: str | Path, columns: LibraryColumns | None = None, sep: str | None = None) -> pd.DataFrame:
    """Read a library annotation into one row per guide: ``sgrna``, ``hugo_symbol`` and, where the
    file has them, ``chromosome`` (without 'chr'), ``chrom_pos`` and ``sequence``.

    Raises :class:`~screenfit.errors.ScreenfitInputError` naming the columns found and the names
    looked for when the guide or gene column is not recognised.
    """
    path, columns = Path(path), columns or LibraryColumns()
    frame = read_frame(path, sep=sep, text_columns=(*GUIDE_NAMES, *GENE_NAMES, *SEQUENCE_NAMES, *CHROMOSOME_NAMES))
    frame.columns = [str(c).strip() for c in frame.columns]
    found = list(frame.columns)
    guide = _pick(found, columns.guide, GUIDE_NAMES, path, "guide")
    sequence = _pick(found, columns.sequence, SEQUENCE_NAMES, path, "sequence")
    gene = _pick(found, columns.gene, GENE_NAMES, path, "gene")
    if gene is None or (guide is None and sequence is None):
        missing = "gene" if gene is None else "guide ID or sequence"
        looked = GENE_NAMES if gene is None else (*GUIDE_NAMES, *SEQUENCE_NAMES)
        raise ScreenfitInputError(
            f"no {missing} column recognised in the library file; its columns are {', '.join(found)} "
            f"(looked for {', '.join(looked)}).",
            file=path,
            fix="name the columns with --library-columns, e.g. guide=ID,gene=Symbol,chromosome=chr,start=pos.",
        )
    key = guide or sequence
    assert key is not None
    out = pd.DataFrame({"sgrna": frame[key].astype("string").str.strip()})
    symbols = frame[gene].astype("string").str.strip()
    out["hugo_symbol"] = split_depmap_names(symbols)["hugo_symbol"].where(symbols.notna()).astype("string")
    if sequence is not None:
        out["sequence"] = frame[sequence].astype("string").str.strip().str.upper()
    out = out.join(_positions(frame, columns, path))
    out = out[out["sgrna"].notna() & (out["sgrna"] != "")]
    return out.drop_duplicates("sgrna").reset_index(drop=True)


def _positions(frame: pd.DataFrame, columns: LibraryColumns, path: Path) -> pd.DataFrame:
    """``chromosome`` and ``chrom_pos`` from the file's columns, or from DepMap's ``chr_pos_strand``."""
    found = list(frame.columns)
    chrom = _pick(found, columns.chromosome, CHROMOSOME_NAMES, path, "chromosome")
    start = _pick(found, columns.start, START_NAMES, path, "start")
    if chrom is not None and start is not None:
        chromosome, position = frame[chrom].astype("string"), frame[start]
    elif (alignment := _pick(found, None, ALIGNMENT_NAMES, path, "alignment")) is not None:
        parts = frame[alignment].astype("string").str.extract(r"^(?P<chromosome>[^_]+)_(?P<pos>\d+)")
        chromosome, position = parts["chromosome"], parts["pos"]
    else:
        return pd.DataFrame(index=frame.index)
    pos = pd.to_numeric(position, errors="coerce")
    bad = pos.isna() & position.notna() & (position.astype("string").str.strip() != "")
    if bad.any():
        raise ScreenfitInputError(
            "guide positions must be numbers",
            file=path,
            column=str(start),
            rows=[int(i) + 1 for i in np.flatnonzero(bad.to_numpy())],
            fix="give base-pair positions as whole numbers (leave them empty where unknown).",
        )
    return pd.DataFrame(
        {"chromosome": chromosome.str.strip().str.removeprefix("chr"), "chrom_pos": pos.astype("Int64")},
        index=frame.index,
    )


def match_guides(ids: pd.Series, library: pd.DataFrame) -> pd.DataFrame:
    """The library's row for each count-table guide ID (index: the IDs; missing where unmatched).

    IDs are matched to the library's guide IDs; where fewer than half match and the library has
    sequences, to its sequences instead — a 20-mer, or the spacer of a 30-mer target context.
    """
    by_id = library.set_index("sgrna")
    matched = by_id.reindex(ids.to_numpy())
    if matched["hugo_symbol"].notna().mean() >= 0.5 or "sequence" not in library:
        return matched
    seq = library["sequence"].fillna("")
    spacer = seq.where(seq.str.len() != SPACER + 10, seq.str.slice(CONTEXT_START, CONTEXT_START + SPACER))
    by_seq = library.assign(_spacer=spacer).drop_duplicates("_spacer").set_index("_spacer")
    by_seq_matched = by_seq.reindex(ids.str.upper().to_numpy())
    if by_seq_matched["hugo_symbol"].notna().sum() > matched["hugo_symbol"].notna().sum():
        return by_seq_matched.drop(columns=["sgrna"])
    return matched
