"""What the preset chooser needs to know about a screen, from a loaded table or a Parquet file.

The rule that picks a preset (:func:`screenfit.presets.choose_preset`) asks a few questions —
how many cell lines, conditions and libraries, whether a line was read at several time points,
which columns have values — that a streamed screen answers from a cheap pass over a few
columns (1.4 s for a 144 M-row file's line and day columns) before the model, and with it the
level the screen is streamed at, is known.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from screenfit.data.design import CONDITION, DAYS, LIBRARY, LINE, LINEAGE
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError

#: Rows read per batch by :func:`parquet_facts`.
FACT_BATCH_ROWS = 4_000_000


@dataclass(frozen=True)
class ScreenFacts:
    """A screen's shape as the preset rule reads it.

    Attributes
    ----------
    columns
        Columns with at least one value.
    n_lines, n_conditions, n_libraries
        Distinct cell lines, conditions (0 without the column) and guide libraries.
    timed_lines
        Whether some cell line was read at several time points (``days``).
    """

    columns: frozenset[str]
    n_lines: int
    n_conditions: int = 0
    n_libraries: int = 0
    timed_lines: bool = False

    @property
    def has_lineage(self) -> bool:
        """Whether some line has a lineage."""
        return LINEAGE in self.columns


def screen_facts(screen: Screen) -> ScreenFacts:
    """The facts of a loaded screen."""
    t = screen.table
    timed = DAYS in t.columns and bool((t.groupby(LINE, observed=True)[DAYS].nunique() > 1).any())
    return ScreenFacts(
        columns=frozenset(c for c in t.columns if t[c].notna().any()),
        n_lines=screen.count(LINE),
        n_conditions=int(t[CONDITION].nunique()) if CONDITION in t.columns else 0,
        n_libraries=int(t[LIBRARY].nunique()) if LIBRARY in t.columns else 0,
        timed_lines=timed,
    )


def parquet_facts(path: str | Path, batch_rows: int = FACT_BATCH_ROWS) -> ScreenFacts:
    """The facts of a Parquet screen, from its schema and one pass over its line, condition,
    library and day columns (the others' presence is taken from the schema)."""
    path = Path(path)
    try:
        names = pq.read_schema(path).names
    except (OSError, pa.ArrowInvalid) as err:
        raise ScreenfitInputError(
            f"cannot read the screen as Parquet ({err}).", file=path,
            fix="pass the screen.parquet that `screenfit ingest` wrote.",
        ) from None  # fmt: skip
    if LINE not in names:
        raise ScreenfitInputError(f"the screen has no '{LINE}' column.", file=path, column=LINE,
                                  fix="ingest the screen with `screenfit ingest`.")  # fmt: skip
    wanted = [c for c in (LINE, CONDITION, LIBRARY, DAYS) if c in names]
    distinct: dict[str, set[object]] = {c: set() for c in wanted}
    line_days: set[tuple[object, object]] = set()
    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
        table = pa.Table.from_batches([batch])
        for col in (LINE, CONDITION, LIBRARY):
            if col in distinct:
                distinct[col].update(v for v in table.column(col).unique().to_pylist() if v is not None)
        if DAYS in distinct:
            pairs = table.group_by([LINE, DAYS]).aggregate([])
            line_days.update(zip(pairs.column(LINE).to_pylist(), pairs.column(DAYS).to_pylist(), strict=True))
    days_per_line = Counter(line for line, _ in line_days)
    return ScreenFacts(
        columns=_columns_with_values(parquet.metadata),
        n_lines=len(distinct[LINE]),
        n_conditions=len(distinct.get(CONDITION, ())),
        n_libraries=len(distinct.get(LIBRARY, ())),
        timed_lines=any(k > 1 for k in days_per_line.values()),
    )


def _columns_with_values(meta: pq.FileMetaData) -> frozenset[str]:
    """Columns not null in every row, from the row groups' statistics (a column without them counts)."""
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    nulls = dict.fromkeys(names, 0)
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for i, name in enumerate(names):
            stats = group.column(i).statistics
            nulls[name] += stats.null_count if stats is not None and stats.has_null_count else 0
    return frozenset(n for n in names if nulls[n] < meta.num_rows or meta.num_rows == 0)
