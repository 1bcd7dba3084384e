"""`screenfit compare / report / plot` end to end: outputs, refusals and exit codes."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from screenfit.cli import app
from screenfit.plots.catalogue import FIT_FIGURES

runner = CliRunner()


def test_compare_writes_table_plot_and_notes(fitted_pair, tmp_path):
    _, folders = fitted_pair
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", *map(str, folders), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "comparison.csv")
    assert set(table["model"]) == {"gene-cellline", "copy-number"}
    assert (out / "comparison.png").stat().st_size > 0 and (out / "comparison_notes.txt").exists()
    again = runner.invoke(app, ["compare", *map(str, folders), "--out", str(out)])
    assert again.exit_code == 1 and "--force" in again.output  # never overwritten silently


def test_compare_refuses_fits_of_different_data_with_exit_1(fitted_pair, tmp_path):
    import shutil

    _, folders = fitted_pair
    other = tmp_path / "other"
    shutil.copytree(folders[1], other)
    config = json.loads((other / "config.json").read_text())
    config["data_hash"] = "f" * 64
    (other / "config.json").write_text(json.dumps(config))
    result = runner.invoke(app, ["compare", str(folders[0]), str(other), "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 1
    assert "different data" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "cmp").exists()


def test_compare_kfold_needs_the_screen(fitted_pair, tmp_path):
    _, folders = fitted_pair
    result = runner.invoke(app, ["compare", *map(str, folders), "--out", str(tmp_path / "k"), "--kfold", "3"])
    assert result.exit_code == 1 and "--data" in result.output


def test_report_cli_writes_one_html_file(fitted_pair, tmp_path):
    _, folders = fitted_pair
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", *map(str, folders), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!doctype html>")
    assert runner.invoke(app, ["report", str(folders[0]), "--out", str(out)]).exit_code == 1  # exists, no --force
    bad = runner.invoke(app, ["report", str(tmp_path), "--out", str(tmp_path / "x.html")])
    assert bad.exit_code == 1 and "config.json" in bad.output


def test_plot_writes_every_figure_the_report_shows(fitted_pair, tmp_path):
    _, folders = fitted_pair
    out = tmp_path / "png"
    result = runner.invoke(app, ["plot", str(folders[1]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = {p.stem for p in out.glob("*.png")}
    # copy-number has no guide offsets, gene × line effects or conditions; everything else is drawn.
    assert written == set(FIT_FIGURES) - {"guide_efficacy", "dependencies", "volcano", "condition_rank"}
