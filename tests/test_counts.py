"""Count tables with sample sheets: every bundled screen, and the inputs that crash other tools."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from screenfit.errors import ScreenfitInputError
from screenfit.io.counts import bundled_sheet, read_count_table

SCREENS = {
    "hap1_tkov3/reads_hap1.txt": ("hap1_tkov3", 3),
    "a375_brunello/Sanson_CRISPRn-A375.tsv": ("a375_brunello", 3),
    "ht29_brunello/HT29-Brunello_counts.tsv": ("ht29_brunello", 3),
    "evers2016_bladder/Evers_CRISPRn-RT112.csv": ("evers2016_crisprn_rt112", 3),
    "evers2016_bladder/Evers_CRISPRn-UMUC3.csv": ("evers2016_crisprn_umuc3", 3),
    "evers2016_bladder/Evers_CRISPRi-RT112.csv": ("evers2016_crispri_rt112", 3),
    "aml_yusa/example_count_data.tab": ("aml_yusa", 10),
    "leukemia_wang2014/leukemia.new.csv": ("leukemia_wang2014", 2),
}


@pytest.mark.parametrize("path", sorted(SCREENS))
def test_every_bundled_screen_reads(screens_dir, path):
    sheet, n_reps = SCREENS[path]
    screen = read_count_table(screens_dir / path, bundled_sheet(sheet))
    assert screen.count("replicate_id") == n_reps
    raw_guides = (screens_dir / path).read_text().replace("\r\n", "\n").replace("\r", "\n").strip().count("\n")
    assert 0.9 * raw_guides <= screen.count("sgrna") <= raw_guides
    assert np.isfinite(screen.table["lfc"]).all()


def test_control_guides_never_become_genes(screens_dir):
    screen = read_count_table(screens_dir / "hap1_tkov3/reads_hap1.txt", bundled_sheet("hap1_tkov3"))
    genes = set(screen.table["hugo_symbol"].astype(str))
    assert not {"EGFP", "LacZ", "luciferase"} & genes
    assert any("control guides" in n for n in screen.notes)


def _toy(tmp_path, counts: pd.DataFrame, sheet: pd.DataFrame):
    c, s = tmp_path / "counts.csv", tmp_path / "sheet.csv"
    counts.to_csv(c, index=False)
    sheet.to_csv(s, index=False)
    return c, s


def toy_counts(n_genes: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    genes = np.repeat([f"G{i}" for i in range(n_genes)], 3)
    df = pd.DataFrame({"sgRNA": [f"sg{i}" for i in range(len(genes))], "gene": genes})
    for col in ("plasmid", "rep1", "rep2"):
        df[col] = rng.poisson(500, len(genes))
    sheet = pd.DataFrame(
        {
            "sample": ["plasmid", "rep1", "rep2"],
            "condition": ["initial", "final", "final"],
            "replicate": ["p", "1", "2"],
            "cell_line": ["X", "LINE", "LINE"],
            "pdna_batch": ["b1", "b1", "b1"],
        }
    )
    return df, sheet


def test_duplicate_sgrna_ids(tmp_path):
    df, sheet = toy_counts()
    df.loc[5, "sgRNA"] = "sg0"
    with pytest.raises(ScreenfitInputError, match="guide IDs must be unique") as info:
        read_count_table(*_toy(tmp_path, df, sheet))
    assert "sg0" in info.value.message


@pytest.mark.parametrize("bad", [np.nan, np.inf, -1, 3.5])
def test_nan_inf_negative_fractional_counts(tmp_path, bad):
    df, sheet = toy_counts()
    df["rep1"] = df["rep1"].astype(float)
    df.loc[7, "rep1"] = bad
    with pytest.raises(ScreenfitInputError) as info:
        read_count_table(*_toy(tmp_path, df, sheet))
    assert info.value.rows == [8] and info.value.column == "rep1"


def test_sheet_not_matching_columns(tmp_path):
    df, sheet = toy_counts()
    sheet.loc[2, "sample"] = "rep_two"
    with pytest.raises(ScreenfitInputError, match="not columns of the count table") as info:
        read_count_table(*_toy(tmp_path, df, sheet))
    assert info.value.rows == ["rep_two"]


def test_matrix_in_other_orientation(tmp_path):
    df, sheet = toy_counts()
    flipped = df.drop(columns="gene").set_index("sgRNA").T.reset_index(names="sample")
    with pytest.raises(ScreenfitInputError, match="samples as rows"):
        read_count_table(*_toy(tmp_path, flipped, sheet))


def test_replicate_without_reference_in_batch(tmp_path):
    df, sheet = toy_counts()
    sheet.loc[2, "pdna_batch"] = "b2"
    with pytest.raises(ScreenfitInputError, match="no reference") as info:
        read_count_table(*_toy(tmp_path, df, sheet))
    assert info.value.rows == ["rep2"]


def test_all_zero_gene_is_dropped_never_a_hit(tmp_path):
    df, sheet = toy_counts()
    df.loc[df["gene"] == "G4", ["plasmid", "rep1", "rep2"]] = 0
    screen = read_count_table(*_toy(tmp_path, df, sheet))
    assert "G4" not in set(screen.table["hugo_symbol"].astype(str))
    assert any("zero reads" in n and "G4" in n for n in screen.notes)


def test_numeric_sgrna_ids_and_single_guide_gene(tmp_path):
    df, sheet = toy_counts()
    df["sgRNA"] = [f"{i:05d}" for i in range(len(df))]
    df = df.drop(index=[1, 2])  # G0 now has one guide
    screen = read_count_table(*_toy(tmp_path, df, sheet))
    ids = set(screen.table["sgrna"].astype(str))
    assert "00000" in ids and "00003" in ids
    assert screen.table.loc[screen.table["hugo_symbol"] == "G0", "sgrna"].nunique() == 1


def test_controls_mixed_in_gene_list_with_few_controls(tmp_path):
    df, sheet = toy_counts()
    df.loc[:5, "gene"] = "Non-Targeting"
    with pytest.warns(UserWarning, match="negative-control guides"):
        screen = read_count_table(*_toy(tmp_path, df, sheet))
    assert "Non-Targeting" not in set(screen.table["hugo_symbol"].astype(str))


def test_lfc_matches_hand_computation(tmp_path):
    df, sheet = toy_counts()
    screen = read_count_table(*_toy(tmp_path, df, sheet))
    row = screen.table[(screen.table["sgrna"] == "sg10") & (screen.table["replicate_id"] == "rep1")].iloc[0]
    expect = np.log2((df.loc[10, "rep1"] + 0.5) / df["rep1"].sum()) - np.log2(
        (df.loc[10, "plasmid"] + 0.5) / df["plasmid"].sum()
    )
    assert row["lfc"] == pytest.approx(expect)
