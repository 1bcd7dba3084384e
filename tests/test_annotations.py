"""Cell-line annotations (DepMap Model.csv and older layouts) joined onto screens; their errors."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from screenfit.cli import app
from screenfit.data.design import build_design
from screenfit.data.preprocess import annotated_lines_only
from screenfit.errors import ScreenfitInputError
from screenfit.io.annotations import annotate_cell_lines, read_model_annotations
from screenfit.io.depmap import read_depmap
from screenfit.jobs import bundled_example_folder, load_example
from screenfit.models.registry import get_model
from screenfit.simulate import SimulationConfig, simulate_screen


def _screen_without_lineage():
    screen, _, _ = simulate_screen(SimulationConfig(n_genes=6, n_cell_lines=5, seed=2))
    return screen.with_table(screen.table.drop(columns=["lineage"]))


@pytest.mark.parametrize(
    "header",
    [
        "ModelID,OncotreeLineage,OncotreeSubtype",
        "DepMap_ID,lineage,lineage_subtype",
        "depmap_id,lineage,lineage_subtype",
    ],
)
def test_each_layout_gives_the_same_lineages(tmp_path, header):
    screen = _screen_without_lineage()
    lines = sorted(screen.table["depmap_id"].astype(str).unique())
    rows = [f"{line},{'Lung' if i % 2 else 'Skin'},sub{i}" for i, line in enumerate(lines[:-1])]
    path = tmp_path / "Model.csv"
    path.write_text("\n".join([header, *rows, "ACH-999999,Bone,x"]) + "\n")
    out = annotate_cell_lines(screen, read_model_annotations(path), path)
    per_line = out.table.drop_duplicates("depmap_id").set_index("depmap_id")
    assert per_line.loc[lines[1], "lineage"] == "Lung" and per_line.loc[lines[0], "lineage"] == "Skin"
    assert per_line.loc[lines[2], "lineage_subtype"] == "sub2"
    assert pd.isna(per_line.loc[lines[-1], "lineage"])
    assert f"4 of 5 lines have a lineage; none for {lines[-1]}" in out.notes[-1]
    assert out.n_rows == screen.n_rows


def test_unknown_layout_and_conflicting_lineages_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("cell,tissue\nACH-000001,Lung\n")
    with pytest.raises(ScreenfitInputError, match="no cell-line ID and lineage columns") as err:
        read_model_annotations(bad)
    assert "bad.csv" in err.value.message and "Model.csv" in err.value.message
    twice = tmp_path / "twice.csv"
    twice.write_text("ModelID,OncotreeLineage\nACH-000001,Lung\nACH-000001,Skin\n")
    with pytest.raises(ScreenfitInputError, match="more than one lineage") as err:
        read_model_annotations(twice)
    assert "ACH-000001" in err.value.message
    none = tmp_path / "none.csv"
    none.write_text("ModelID,OncotreeLineage\nACH-999999,Lung\n")
    with pytest.raises(ScreenfitInputError, match="none of the screen's cell lines"):
        annotate_cell_lines(_screen_without_lineage(), read_model_annotations(none), none)


def test_depmap_reader_joins_a_model_csv_in_the_release_folder(depmap_sample, tmp_path):
    release = tmp_path / "release"
    shutil.copytree(depmap_sample, release, ignore=shutil.ignore_patterns("chronos_reference_fit"))
    assert "lineage" not in read_depmap(release, "KY").table.columns
    (release / "Model.csv").write_text("ModelID,OncotreeLineage\nACH-000147,Breast\nACH-000657,Ovary/Fallopian Tube\n")
    screen = read_depmap(release, "KY")
    per_line = screen.table.drop_duplicates("depmap_id").set_index("depmap_id")["lineage"]
    assert per_line["ACH-000147"] == "Breast" and per_line["ACH-000657"] == "Ovary/Fallopian Tube"
    assert per_line.notna().sum() == 2
    assert any("cell-line annotations from Model.csv: 2 of 23 lines" in n for n in screen.notes)


def test_lineage_model_names_unannotated_lines_and_the_fix():
    """A line without a lineage is pooled in a lineage of its own, named in a note with the way to
    leave it out instead; the design gives it that lineage."""
    screen = load_example()
    spec = get_model("lineage")
    with pytest.warns(UserWarning, match="lineage of its own") as notes:
        spec.check_screen(screen)
    message = str(notes[0].message)
    assert "ACH-002926" in message and "--annotated-lines-only" in message
    design = build_design(screen, spec.level(True), spec.covariate_columns)
    assert "unannotated: ACH-002926" in design.coords["lineage"] and design.line_lineage is not None
    kept = annotated_lines_only(screen)
    spec.check_screen(kept)
    assert "ACH-002926" not in set(kept.table["depmap_id"].astype(str))
    assert kept.notes[-1] == "left out 1 cell lines without a lineage: ACH-002926"


def test_cli_ingest_with_annotations(tmp_path):
    annotations = tmp_path / "sample_info.csv"
    annotations.write_text("DepMap_ID,lineage\nACH-000004,Myeloid\n")
    out = tmp_path / "screen.parquet"
    args = ["ingest", "depmap", str(bundled_example_folder()), "--out", str(out), "--annotations", str(annotations)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    table = pd.read_parquet(out, columns=["depmap_id", "lineage"]).drop_duplicates()
    assert set(table.dropna()["depmap_id"]) == {"ACH-000004"}
    assert "1 of 41 lines have a lineage" in done.output
