"""Every bad input of the foundation issue gets a clear error and a non-zero exit, no traceback."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from screenfit.errors import ScreenfitInputError
from screenfit.io.tables import read_long_table


def good_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sgrna": ["AAA", "CCC", "GGG", "AAA"],
            "hugo_symbol": ["KRAS", "KRAS", "TP53", "KRAS"],
            "depmap_id": ["ACH-1", "ACH-1", "ACH-1", "ACH-2"],
            "replicate_id": ["r1", "r1", "r1", "r2"],
            "lfc": [0.1, -0.2, 0.3, 0.0],
            "counts_initial": [10, 20, 30, 40],
            "counts_final": [11, 21, 31, 41],
        }
    )


def _write(df: pd.DataFrame, path, sep=","):
    df.to_csv(path, index=False, sep=sep)
    return path


def _error(path, **kw) -> ScreenfitInputError:
    with pytest.raises(ScreenfitInputError) as info:
        read_long_table(path, **kw)
    return info.value


def test_good_table_reads(tmp_path):
    assert read_long_table(_write(good_table(), tmp_path / "ok.csv")).n_rows == 4


def test_missing_required_column_names_it_and_suggests(tmp_path):
    df = good_table().rename(columns={"lfc": "LFC"})
    err = _error(_write(df, tmp_path / "t.csv"))
    assert err.column == "lfc" and "'LFC' → 'lfc'" in err.message and "t.csv" in err.message


def test_column_of_wrong_type_names_rows(tmp_path):
    df = good_table().astype({"lfc": object})
    df.loc[2, "lfc"] = "high"
    err = _error(_write(df, tmp_path / "t.csv"))
    assert err.column == "lfc" and err.rows == [3] and "'high'" in err.message


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_lfc(tmp_path, bad):
    df = good_table()
    df.loc[1, "lfc"] = bad
    err = _error(_write(df, tmp_path / "t.csv"))
    assert err.column == "lfc" and err.rows == [2]


@pytest.mark.parametrize("bad", [-3, 2.5])
def test_negative_or_fractional_counts(tmp_path, bad):
    df = good_table().astype({"counts_final": float})
    df.loc[3, "counts_final"] = bad
    err = _error(_write(df, tmp_path / "t.csv"))
    assert err.column == "counts_final" and err.rows == [4]


def test_duplicate_sgrna_replicate_rows(tmp_path):
    df = pd.concat([good_table(), good_table().iloc[[1]]])
    err = _error(_write(df, tmp_path / "t.csv"))
    assert err.rows == [2, 5] and "(sgrna, replicate_id)" in err.message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert "empty" in _error(path).message


def test_header_only_file(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("sgrna,hugo_symbol,depmap_id,replicate_id,lfc\n")
    assert "no data rows" in _error(path).message


def test_wrong_delimiter(tmp_path):
    path = _write(good_table(), tmp_path / "t.csv", sep=";")
    err = _error(path)
    assert "semicolon" in err.message and "--sep" in err.message
    assert read_long_table(path, sep=";").n_rows == 4


def test_mixed_gene_name_formats(tmp_path):
    df = good_table()
    df.loc[0, "hugo_symbol"] = "KRAS (3845)"
    err = _error(_write(df, tmp_path / "t.csv"))
    assert err.column == "hugo_symbol" and err.rows == [1] and "mixed formats" in err.message


def test_depmap_gene_names_are_split(tmp_path):
    df = good_table()
    df["hugo_symbol"] = df["hugo_symbol"].map({"KRAS": "KRAS (3845)", "TP53": "TP53 (7157)"})
    t = read_long_table(_write(df, tmp_path / "t.csv")).table
    assert set(t["hugo_symbol"]) == {"KRAS", "TP53"} and set(t["entrez_id"]) == {3845, 7157}


def test_numeric_sgrna_ids_stay_text(tmp_path):
    df = good_table()
    df["sgrna"] = ["00123", "00124", "125", "00123"]
    t = read_long_table(_write(df, tmp_path / "t.csv")).table
    assert list(t["sgrna"].astype(str)) == ["00123", "00124", "125", "00123"]


def test_cli_user_error_exits_1_without_traceback_and_writes_nothing(tmp_path):
    df = good_table()
    df.loc[0, "lfc"] = np.nan
    src = _write(df, tmp_path / "bad.csv")
    out = tmp_path / "out.parquet"
    proc = subprocess.run(
        [sys.executable, "-m", "screenfit.cli", "ingest", "table", str(src), "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "bad.csv" in proc.stderr and "Fix:" in proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_cli_refuses_to_overwrite_without_force(tmp_path):
    src = _write(good_table(), tmp_path / "ok.csv")
    out = tmp_path / "out.parquet"
    cmd = [sys.executable, "-m", "screenfit.cli", "ingest", "table", str(src), "--out", str(out), "-q"]
    assert subprocess.run(cmd, capture_output=True, check=False).returncode == 0
    before = out.stat().st_mtime_ns
    again = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert again.returncode == 1 and "--force" in again.stderr and out.stat().st_mtime_ns == before
    assert subprocess.run([*cmd, "--force"], capture_output=True, check=False).returncode == 0
