"""Preprocessing: the seed's z-scaling against a hand computation, indices, filters, sub-samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from screenfit.data.preprocess import (
    CN_MAX,
    Filters,
    apply_filters,
    get_indices,
    index_screen,
    make_cat,
    subsample,
    zscale_cna_by_group,
)  # fmt: skip
from screenfit.errors import ScreenfitInputError


def test_zscale_matches_hand_computation():
    df = pd.DataFrame({"hugo_symbol": ["A", "A", "A", "B", "B"], "gene_cn": [1.0, 3.0, 20.0, 2.0, 4.0]})
    out = zscale_cna_by_group(df, cn_max=10)
    capped = np.array([1.0, 3.0, 10.0])
    expect_a = (capped - capped.mean()) / np.sqrt(((capped - capped.mean()) ** 2).mean())
    assert np.allclose(out["gene_cn_z"].iloc[:3], expect_a)
    assert np.allclose(out["gene_cn_z"].iloc[3:], [-1.0, 1.0])


def test_zscale_constant_group_and_missing_give_zero_with_warning():
    df = pd.DataFrame({"hugo_symbol": ["A", "A", "B", "B", "B"], "gene_cn": [2.0, 2.0, 1.0, np.nan, 3.0]})
    with pytest.warns(UserWarning) as record:
        out = zscale_cna_by_group(df)
    messages = " ".join(str(w.message) for w in record)
    assert "constant copy number" in messages and "no copy number" in messages
    assert out["gene_cn_z"].tolist() == [0.0, 0.0, -1.0, 0.0, 1.0]
    assert not out["gene_cn_z"].isna().any()


def test_make_cat_and_get_indices_are_sorted_and_dense():
    df = pd.DataFrame({"g": ["b", "a", "c", "a"]})
    out = make_cat(df, "g")
    assert list(out["g"].cat.categories) == ["a", "b", "c"]
    assert get_indices(out, "g").tolist() == [1, 0, 2, 0]
    with pytest.raises(ScreenfitInputError, match="make_cat"):
        get_indices(df, "g")


def test_index_screen_is_independent_of_row_order(small_sim):
    screen, _, _ = small_sim
    a = index_screen(screen)
    shuffled = screen.with_table(screen.table.sample(frac=1.0, random_state=1))
    b = index_screen(shuffled)
    assert a.labels == b.labels
    labels = np.asarray(b.labels["hugo_symbol"])[b.codes["hugo_symbol"]]
    assert (labels == shuffled.table["hugo_symbol"].astype(str).to_numpy()).all()


def test_subsample_is_deterministic_and_order_free(small_sim):
    screen, _, _ = small_sim
    a = subsample(screen, n_genes=10, n_cell_lines=5, seed=7)
    b = subsample(screen.with_table(screen.table.iloc[::-1]), n_genes=10, n_cell_lines=5, seed=7)
    assert set(a.table["hugo_symbol"].astype(str)) == set(b.table["hugo_symbol"].astype(str))
    assert a.count("hugo_symbol") == 10 and a.count("depmap_id") == 5
    c = subsample(screen, n_genes=10, seed=8)
    assert set(c.table["hugo_symbol"].astype(str)) != set(a.table["hugo_symbol"].astype(str))


def test_filters(small_sim):
    screen, _, _ = small_sim
    genes = tuple(screen.table["hugo_symbol"].astype(str).unique()[:3])
    out = apply_filters(screen, Filters(genes=genes))
    assert set(out.table["hugo_symbol"].astype(str)) == set(genes)
    assert len(out.table["hugo_symbol"].cat.categories) == 3
    assert "filters" in out.notes[-1]
    with pytest.raises(ScreenfitInputError, match="not in the screen"):
        apply_filters(screen, Filters(genes=("NOPE",)))


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["b", "a", None, "b", "c"], dtype="string"),
        pd.Series([7.0, 14.0, np.nan, 7.0]),
        pd.Series([3, None, 2, 3], dtype="Int64"),
        pd.Series([True, None, False], dtype="boolean"),
        pd.Series(["x", "y", "x"], dtype=object),
        pd.Series(pd.Categorical(["a", None, "b"])),
        pd.Series(pd.Categorical(["b", "a", "b"], categories=["c", "b", "a"])),
    ],
)
def test_design_codes_number_each_value_by_its_text(values):
    """Design labels and codes come from the distinct values' text (not each row's): the same as
    turning every row into text, missing values included."""
    from screenfit.data.design import _codes, _labels

    per_row = values.astype(str)
    labels = _labels(values)
    assert labels == sorted(per_row.unique())
    codes = _codes(values, labels)
    assert [labels[c] for c in codes] == per_row.tolist()


def test_covariates_added_without_copying_or_changing_the_screen(small_sim):
    """New and converted covariate columns come in a shallow copy: the screen's table keeps its
    columns and dtypes, and the columns left alone are the screen's own arrays, not copies."""
    from screenfit.data.design import prepare_covariates

    screen = small_sim[0]
    before = screen.table.copy()
    table = prepare_covariates(screen, ["is_mutated", "cn_excess", "gene_cn_z"])
    pd.testing.assert_frame_equal(screen.table, before)
    assert "cn_excess" not in screen.table.columns and "gene_cn_z" not in screen.table.columns
    assert table["is_mutated"].dtype == float
    assert np.array_equal(table["is_mutated"], before["is_mutated"].astype(float))
    assert np.allclose(table["cn_excess"], before["gene_cn"].clip(upper=CN_MAX) - 1)
    assert np.shares_memory(table["lfc"].to_numpy(), screen.table["lfc"].to_numpy())
