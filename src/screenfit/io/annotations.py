"""Cell-line annotations from a DepMap ``Model.csv``-style table: lineage and subtype per line.

Accepted layouts (the first that matches wins):

- DepMap ``Model.csv`` (22Q4 on): ``ModelID``, ``OncotreeLineage``, ``OncotreeSubtype``
  (optional), ``OncotreePrimaryDisease`` (optional);
- DepMap ``sample_info.csv`` (up to 22Q2): ``DepMap_ID``, ``lineage``, ``lineage_subtype``;
- screenfit's own column names: ``depmap_id``, ``lineage``, ``lineage_subtype``.

Annotations join by ``depmap_id``; a line the table does not annotate keeps a missing lineage
and is named in the screen's notes (models that pool by lineage then refuse the screen and
say which lines to annotate or drop). Annotations replace a lineage the screen already had.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError, describe_rows
from screenfit.io.tables import read_frame

#: (id, lineage, subtype, primary disease) column names of each accepted layout.
LAYOUTS: tuple[tuple[str, str, str, str], ...] = (
    ("ModelID", "OncotreeLineage", "OncotreeSubtype", "OncotreePrimaryDisease"),
    ("DepMap_ID", "lineage", "lineage_subtype", "primary_disease"),
    ("depmap_id", "lineage", "lineage_subtype", "primary_disease"),
)
ANNOTATION_COLUMNS = ("lineage", "lineage_subtype", "primary_disease")


def read_model_annotations(path: str | Path) -> pd.DataFrame:
    """Read a ``Model.csv``-style file into ``depmap_id, lineage, lineage_subtype, primary_disease``.

    Blank strings count as missing. Raises a clear error for an unknown layout or a cell line
    listed twice with different lineages.
    """
    path = Path(path)
    raw = read_frame(path)
    layout = next((cols for cols in LAYOUTS if cols[0] in raw.columns and cols[1] in raw.columns), None)
    if layout is None:
        known = "; ".join(f"{a} + {b}" for a, b, *_ in LAYOUTS)
        raise ScreenfitInputError(
            f"no cell-line ID and lineage columns found (columns: {', '.join(map(str, raw.columns[:8]))}).",
            file=path,
            fix=f"pass DepMap's Model.csv or a table with one of these column pairs: {known}.",
        )
    out = pd.DataFrame({"depmap_id": raw[layout[0]].astype("string").str.strip()})
    for name, source in zip(ANNOTATION_COLUMNS, layout[1:], strict=True):
        col = raw[source].astype("string").str.strip() if source in raw.columns else pd.Series(pd.NA, index=raw.index)
        out[name] = col.replace("", pd.NA).astype("string")
    out = out[out["depmap_id"].notna() & (out["depmap_id"] != "")]
    clash = out.groupby("depmap_id")["lineage"].nunique(dropna=True)
    clash = clash[clash > 1]
    if len(clash):
        raise ScreenfitInputError(
            "some cell lines are listed with more than one lineage",
            file=path,
            column=layout[1],
            rows=list(clash.index),
            fix="keep one row per cell line.",
        )
    return out.drop_duplicates("depmap_id").reset_index(drop=True)


def annotate_cell_lines(screen: Screen, annotations: pd.DataFrame, source: str | Path) -> Screen:
    """Join ``lineage``/``lineage_subtype``/``primary_disease`` onto every row of ``screen`` by ``depmap_id``.

    Columns the annotation has no value for at all are not added. The screen's notes say how
    many lines were annotated and name those that were not.
    """
    table = screen.table
    lines = pd.Index(table["depmap_id"].astype(str).unique())
    per_line = annotations.set_index("depmap_id").reindex(lines)
    present = [c for c in ANNOTATION_COLUMNS if per_line[c].notna().any()]
    if not present:
        raise ScreenfitInputError(
            "the annotation table lists none of the screen's cell lines.",
            file=source,
            fix=f"use annotations that cover the screen's depmap_id values (e.g. {describe_rows(list(lines), 3)}).",
        )
    out = table.drop(columns=[c for c in present if c in table.columns])
    codes = table["depmap_id"].astype(str)
    for col in present:
        values = codes.map(per_line[col])
        out[col] = pd.Categorical(values) if col == "lineage" else values.astype(object).where(values.notna(), None)
    missing = sorted(lines[per_line["lineage"].isna()])
    note = f"cell-line annotations from {Path(source).name}: {len(lines) - len(missing)} of {len(lines)} lines"
    if missing:
        note += f" have a lineage; none for {describe_rows(missing)}"
    return screen.with_table(out, note)


def read_annotated(screen: Screen, path: str | Path | None) -> Screen:
    """``screen`` with the annotations of ``path`` joined, or unchanged when ``path`` is ``None``."""
    if path is None:
        return screen
    return annotate_cell_lines(screen, read_model_annotations(path), path)
