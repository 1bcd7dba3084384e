"""Reference gene sets shipped with screenfit: Hart CEGv2 (core essential) and NEGv1 (non-essential)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from screenfit.errors import ScreenfitInputError

BUNDLED = {"CEGv2": "hart_CEGv2.txt", "NEGv1": "hart_NEGv1.txt"}


def load_gene_set(name_or_path: str | Path) -> list[str]:
    """Gene symbols of a bundled set ('CEGv2', 'NEGv1') or of a file with one symbol per line.

    Files may have a header row named GENE/Gene, extra tab-separated columns, '\\r' line
    endings or DepMap 'SYMBOL (ENTREZ)' names; all are reduced to symbols.
    """
    if str(name_or_path) in BUNDLED:
        ref = resources.files("screenfit.resources.reference").joinpath(BUNDLED[str(name_or_path)])
        text = ref.read_text()
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ScreenfitInputError(
                "gene set not found.", file=path, fix=f"give a file or one of {', '.join(BUNDLED)}."
            )
        text = path.read_text(errors="replace")
    lines = [ln.strip() for ln in text.replace("\r", "\n").split("\n") if ln.strip()]
    first = [ln.split("\t")[0].split(",")[0].strip() for ln in lines]
    symbols = [s.split(" (")[0] for s in first if s.upper() not in {"GENE", "GENES", "SYMBOL", "HUGO_SYMBOL"}]
    if not symbols:
        raise ScreenfitInputError("the gene set is empty.", file=str(name_or_path), fix="check the file.")
    return list(dict.fromkeys(symbols))


def essential_sets() -> tuple[list[str], list[str]]:
    """The bundled (essential, non-essential) reference sets: CEGv2 and NEGv1."""
    return load_gene_set("CEGv2"), load_gene_set("NEGv1")
