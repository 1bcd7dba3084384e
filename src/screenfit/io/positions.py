"""Reading guide or gene positions along the genome (for the proximity-bias correction)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from screenfit.errors import ScreenfitInputError
from screenfit.io.library_files import CHROMOSOME_NAMES, GENE_NAMES, GUIDE_NAMES, START_NAMES
from screenfit.io.tables import read_frame

KEY_NAMES = {
    "sgrna": GUIDE_NAMES,
    "hugo_symbol": (*GENE_NAMES, "rownames"),
}
"""Key columns, guides before genes: a library annotation (guide ID, gene, chromosome, start) is
read per guide; the names are those of :mod:`screenfit.io.library_files`."""
POSITION_NAMES = (*START_NAMES, "txStart", "gene_start")
GENOME = "genome"
"""The single chromosome name given to a table read in genome order."""


def _first(columns: pd.Index, names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in columns), None)


def read_positions(path: str | Path, in_genome_order: bool = False, sep: str | None = None) -> pd.DataFrame:
    """Read a positions table into ``sgrna`` or ``hugo_symbol``, ``chromosome``, ``chrom_pos``.

    Parameters
    ----------
    path
        CSV/TSV (optionally gzipped) or Parquet. Its key column names guides (``sgrna``,
        ``guide``) or genes (``hugo_symbol``, ``gene``, ``symbol``, ``rownames``); then a
        chromosome column (``chromosome``, ``chrom``, ``chr``) and a position column
        (``chrom_pos``, ``start``, ``position``). 'chr1' and '1' are the same chromosome.
    in_genome_order
        The file has no positions but its rows run along the genome (a gene-level copy-number
        table such as GDSC's is one): the row number is the position, and without a chromosome
        column the whole file is one run (segments may then span a chromosome's end).

    Returns
    -------
    pandas.DataFrame
        One row per guide or gene with a position; later duplicates of a key are dropped.
    """
    path = Path(path)
    frame = read_frame(path, sep=sep, text_columns=(*KEY_NAMES["sgrna"], *KEY_NAMES["hugo_symbol"]))
    key_kind, key = next(
        ((kind, name) for kind, names in KEY_NAMES.items() if (name := _first(frame.columns, names)) is not None),
        (None, None),
    )
    if key is None or key_kind is None:
        raise ScreenfitInputError(
            f"no guide or gene column; found {', '.join(map(str, frame.columns[:8]))}.",
            file=path,
            column=str(frame.columns[0]),
            fix="name the key column 'sgrna' (guides) or 'gene' / 'hugo_symbol' (genes).",
        )
    chrom_col = _first(frame.columns, CHROMOSOME_NAMES)
    pos_col = _first(frame.columns, POSITION_NAMES)
    if in_genome_order:
        chromosome = frame[chrom_col].astype(str) if chrom_col else pd.Series(GENOME, index=frame.index)
        position = pd.Series(np.arange(len(frame), dtype=np.int64), index=frame.index)
    else:
        if chrom_col is None or pos_col is None:
            missing, names = ("a chromosome", CHROMOSOME_NAMES) if chrom_col is None else ("a position", POSITION_NAMES)
            raise ScreenfitInputError(
                f"{missing} column is missing (looked for {', '.join(names)}).",
                file=path,
                fix="add chromosome and start columns, or, if the rows already run along the genome, pass "
                "--in-genome-order.",
            )
        chromosome = frame[chrom_col].astype(str)
        position = pd.to_numeric(frame[pos_col], errors="coerce")
        bad = position.isna() & frame[pos_col].notna()
        if bad.any():
            raise ScreenfitInputError(
                "positions must be numbers",
                file=path,
                column=pos_col,
                rows=[int(i) + 1 for i in np.flatnonzero(bad.to_numpy())],
                fix="give base-pair positions as whole numbers (leave them empty where unknown).",
            )
    out = pd.DataFrame(
        {
            key_kind: frame[key].astype(str).str.strip(),
            "chromosome": chromosome.str.strip().str.removeprefix("chr"),
            "chrom_pos": position,
        }
    )
    out = out.dropna(subset=["chrom_pos"]).drop_duplicates(key_kind).reset_index(drop=True)
    out["chrom_pos"] = out["chrom_pos"].astype(np.int64)
    if out.empty:
        raise ScreenfitInputError("the table has no row with a position.", file=path, fix="check the file.")
    return out
