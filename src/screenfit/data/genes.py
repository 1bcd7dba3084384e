"""Gene identity: DepMap's 'SYMBOL (ENTREZ)' names and symbol aliases for reference sets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import pandas as pd

_DEPMAP_NAME = r"^(?P<symbol>[^\s()]+) \((?P<entrez>\d+)\)$"


def is_depmap_name(names: pd.Series) -> pd.Series:
    """Boolean mask of the values written 'SYMBOL (ENTREZ)'."""
    return names.astype("string").str.match(_DEPMAP_NAME).fillna(False).astype(bool)


def split_depmap_names(names: pd.Series) -> pd.DataFrame:
    """Split 'SYMBOL (ENTREZ)' into ``hugo_symbol`` and nullable integer ``entrez_id``.

    Values without an Entrez part keep their symbol and get a missing ``entrez_id``.
    """
    text = names.astype("string")
    parts = text.str.extract(_DEPMAP_NAME)
    symbol = parts["symbol"].fillna(text.str.strip())
    entrez = pd.to_numeric(parts["entrez"], errors="coerce").astype("Int64")
    return pd.DataFrame({"hugo_symbol": symbol.astype(str), "entrez_id": entrez}, index=names.index)


def depmap_label(symbol: str, entrez: int | None) -> str:
    """The DepMap column label of a gene: 'SYMBOL (ENTREZ)', or the symbol if Entrez is unknown."""
    return f"{symbol} ({int(str(entrez))})" if entrez is not None and not pd.isna(entrez) else symbol


def load_aliases() -> dict[str, str]:
    """Map outdated symbols to current HGNC symbols (shipped table, e.g. IARS → IARS1)."""
    ref = resources.files("screenfit.resources.reference").joinpath("symbol_aliases.csv")
    with ref.open() as fh:
        table = pd.read_csv(fh, comment="#", dtype=str)
    return dict(zip(table["old_symbol"], table["new_symbol"], strict=True))


@dataclass(frozen=True)
class SymbolMatch:
    """The result of matching a reference gene list to the genes of a screen."""

    matched: frozenset[str]
    via_alias: dict[str, str]
    unmatched: frozenset[str]

    @property
    def summary(self) -> str:
        """One line: how many matched, how many through an alias, how many not."""
        total = len(self.matched) + len(self.unmatched)
        return (
            f"{len(self.matched)} of {total} matched "
            f"({len(self.via_alias)} through an alias), {len(self.unmatched)} not in the screen"
        )


def match_symbols(reference: Iterable[str], screen_genes: Iterable[str]) -> SymbolMatch:
    """Match reference symbols to a screen's symbols, directly or through the alias table.

    An alias is tried both ways, so a screen that still uses the old name matches too.
    """
    genes = set(screen_genes)
    aliases = load_aliases()
    backwards = {new: old for old, new in aliases.items()}
    matched: set[str] = set()
    via: dict[str, str] = {}
    unmatched: set[str] = set()
    for symbol in {s.strip() for s in reference if s and s.strip()}:
        if symbol in genes:
            matched.add(symbol)
            continue
        other = aliases.get(symbol) or backwards.get(symbol)
        if other is not None and other in genes:
            matched.add(other)
            via[symbol] = other
        else:
            unmatched.add(symbol)
    return SymbolMatch(frozenset(matched), via, frozenset(unmatched))
