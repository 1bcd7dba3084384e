"""The validated Screen: what reading keeps, and the content hash that keys cached fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from screenfit.data.screen import Screen
from screenfit.io.tables import read_long_table, write_screen


@pytest.fixture(scope="module")
def screen(small_sim) -> Screen:
    screen, _, _ = small_sim
    table = screen.table.copy()
    table["screen_id"] = "S" + table["replicate_id"].astype(str).str[-1]
    table["tag"] = np.arange(len(table)) % 3
    return Screen.from_frame(table)


def test_content_hash_ignores_row_order_and_sees_every_value(screen):
    shuffled = screen.table.sample(frac=1.0, random_state=0)
    assert Screen.from_frame(shuffled).content_hash() == screen.content_hash()
    # An index that is not 0..n-1 (a filtered frame) hashes the same rows the same way.
    relabelled = Screen(shuffled, screen.source)
    assert relabelled.content_hash() == screen.content_hash()
    for column, value in (("lfc", 0.123), ("tag", 7), ("screen_id", "other")):
        changed = screen.table.copy()
        if isinstance(changed[column].dtype, pd.CategoricalDtype):
            changed[column] = changed[column].astype(str)
        changed.loc[17, column] = value
        assert Screen.from_frame(changed).content_hash() != screen.content_hash(), column


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_text_columns_read_as_categories_with_the_same_content(screen, tmp_path, suffix):
    """Text repeated over millions of rows is read as categories (one string per value, not per
    row), from Parquet and from its CSV twin, with the same content; from Parquet the same cache
    key too (the CSV's floats are rounded to text, so its key is other data's, as before)."""
    write_screen(screen, tmp_path / "screen.parquet")
    back = read_long_table(tmp_path / f"screen{suffix}")
    assert isinstance(back.table["screen_id"].dtype, pd.CategoricalDtype)
    if suffix == ".parquet":
        assert back.content_hash() == screen.content_hash()
    as_text = {"screen_id": "string"}
    pd.testing.assert_frame_equal(
        back.table.astype(as_text), screen.table.astype(as_text), check_categorical=False, check_exact=False
    )


def test_validation_does_not_share_extra_columns_with_the_callers_frame(small_sim):
    screen, _, _ = small_sim
    table = screen.table.copy()
    table["tag"] = np.zeros(len(table))
    validated = Screen.from_frame(table)
    table.loc[0, "tag"] = 5.0
    table["lfc"].to_numpy()[0] = 99.0
    assert validated.table.loc[0, "tag"] == 0.0 and validated.table.loc[0, "lfc"] != 99.0
