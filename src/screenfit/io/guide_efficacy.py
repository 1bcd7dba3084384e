"""Guide efficacies from another fit (e.g. Chronos' ``guide_efficacy.csv``), joined to a screen.

A guide's efficacy is the share of its cells it knocks out. One drug screen does not identify it
(a guide's depletion is its efficacy times its gene's effect, and only their product is seen), so
it comes from a fit of many lines with the same library: Chronos writes it per guide, as
``sgrna,efficacy``. Joined to the screen as ``guide_efficacy``, it lets the drug preset report each
difference per full knockout beside the LFC scale (:func:`screenfit.results.conditions.per_knockout`).

Accepted columns (the first present of each): the guide ID as :data:`ID_COLUMNS`, the efficacy
as :data:`EFFICACY_COLUMNS`. IDs match the screen's ``sgrna`` (the count table's guide IDs or
sequences); guides the file lacks keep a missing efficacy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from screenfit.data.design import GUIDE
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError, describe_rows
from screenfit.io.tables import read_frame

ID_COLUMNS = ("sgrna", "sgRNA", "sgRNA_ID", "sgrna_id", "guide", "Guide", "CODE", "sequence")
EFFICACY_COLUMNS = ("efficacy", "guide_efficacy", "Efficacy")
GUIDE_EFFICACY = "guide_efficacy"


def read_guide_efficacy(path: str | Path) -> pd.Series:
    """The efficacy per guide ID of a table with a guide ID and an efficacy column.

    Raises a clear error for missing columns, efficacies outside (0, 1] and guides listed twice
    with different efficacies.
    """
    path = Path(path)
    raw = read_frame(path, text_columns=ID_COLUMNS)
    id_col = next((c for c in ID_COLUMNS if c in raw.columns), None)
    value_col = next((c for c in EFFICACY_COLUMNS if c in raw.columns), None)
    if id_col is None or value_col is None:
        raise ScreenfitInputError(
            f"no guide ID and efficacy columns found (columns: {', '.join(map(str, raw.columns[:8]))}).",
            file=path,
            fix=f"name the guide column one of {', '.join(ID_COLUMNS)} and the efficacy column one of "
            f"{', '.join(EFFICACY_COLUMNS)} (Chronos' guide_efficacy.csv has sgrna,efficacy).",
        )
    ids = raw[id_col].astype("string").str.strip()
    values = pd.to_numeric(raw[value_col], errors="coerce")
    bad = ids.isna() | (ids == "") | values.isna() | (values <= 0) | (values > 1)
    if bad.any():
        raise ScreenfitInputError(
            "some guides have no ID or an efficacy that is not a share of cells in (0, 1]",
            file=path,
            column=value_col,
            rows=[int(i) + 1 for i in np.flatnonzero(bad.to_numpy())],
            fix="give every listed guide an ID and an efficacy above 0 and at most 1, or drop its row.",
        )
    table = pd.DataFrame({"id": ids.astype(str), "efficacy": values.astype(float)})
    clash = table.groupby("id")["efficacy"].nunique()
    clash = clash[clash > 1]
    if len(clash):
        raise ScreenfitInputError(
            f"{len(clash)} guides are listed with different efficacies ({describe_rows(list(clash.index))}).",
            file=path,
            column=id_col,
            fix="keep one efficacy per guide.",
        )
    return table.drop_duplicates("id").set_index("id")["efficacy"].rename(GUIDE_EFFICACY)


def with_guide_efficacy(screen: Screen, efficacy: pd.Series, source: str = "guide efficacy") -> Screen:
    """``screen`` with a ``guide_efficacy`` column from ``efficacy`` (guide ID → efficacy)."""
    guides = screen.table[GUIDE].astype(str)
    found = guides.map(efficacy)
    if found.isna().all():
        ours = describe_rows(list(guides.drop_duplicates().head(3)), 3)
        theirs = describe_rows(list(efficacy.index[:3]), 3)
        raise ScreenfitInputError(
            f"no guide of the screen is in the efficacy file (screen: {ours}; file: {theirs}).",
            file=source,
            fix="use an efficacy table whose guide IDs are the count table's guide IDs (or sequences).",
        )
    n_guides = guides.nunique()
    n_found = guides[found.notna()].nunique()
    note = f"guide efficacy from {source}: {n_found} of {n_guides} guides"
    return screen.with_table(screen.table.assign(**{GUIDE_EFFICACY: found.astype(float).to_numpy()}), note)
