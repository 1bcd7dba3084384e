"""Guide efficacies from another fit: read, joined to a screen, and a drug screen's differences per full knockout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from screenfit.cli import app
from screenfit.io.counts import read_count_table
from screenfit.io.guide_efficacy import GUIDE_EFFICACY, read_guide_efficacy, with_guide_efficacy
from screenfit.io.tables import read_long_table
from screenfit.results.conditions import per_knockout
from screenfit.simulate_drug import DrugScreenConfig, write_drug_screen

runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_drug_screen(DrugScreenConfig(n_genes=60, seed=3), tmp_path_factory.mktemp("drug") / "screen")


def test_chronos_style_efficacies_join_the_screen_by_guide(folder):
    written = pd.read_csv(folder / "guide_efficacy.csv")
    chronos = folder.parent / "chronos_guide_efficacy.csv"
    written.rename(columns={"sgRNA": "sgrna"}).to_csv(chronos, index=False)  # Chronos' own header
    efficacy = read_guide_efficacy(chronos)
    assert len(efficacy) == 240 and efficacy.between(0, 1).all()
    screen = with_guide_efficacy(read_count_table(folder / "counts.tsv", folder / "samples.csv"), efficacy)
    targeting = screen.table.dropna(subset=[GUIDE_EFFICACY])
    joined = targeting.drop_duplicates("sgrna").set_index("sgrna")[GUIDE_EFFICACY]
    assert len(joined) == 240
    np.testing.assert_allclose(joined.sort_index(), written.set_index("sgRNA")["efficacy"].sort_index())
    assert any("guide efficacy from" in note for note in screen.notes)


def test_the_cli_ingests_efficacies_and_refuses_bad_files(folder, tmp_path):
    out = tmp_path / "screen.parquet"
    args = ["ingest", "counts", str(folder / "counts.tsv"), "--sheet", str(folder / "samples.csv"), "--out",
            str(out), "--quiet", "--guide-efficacy"]  # fmt: skip
    good = pd.read_csv(folder / "guide_efficacy.csv")
    cases = {
        "columns": (good.rename(columns={"sgRNA": "oligo"}), "oligo"),
        "range": (good.assign(efficacy=lambda f: f["efficacy"].where(f.index != 4, 1.5)), "rows: 5;"),
        "unknown": (good.assign(sgRNA=lambda f: "X" + f["sgRNA"]), "no guide of the screen"),
        "clash": (pd.concat([good, good.head(2).assign(efficacy=0.5)]), "different efficacies"),
    }
    for name, (table, said) in cases.items():
        path = tmp_path / f"{name}.csv"
        table.to_csv(path, index=False)
        bad = runner.invoke(app, [*args, str(path)])
        assert bad.exit_code == 1 and said in bad.output, (name, bad.output)
        assert "Traceback" not in bad.output and not out.exists(), name
    done = runner.invoke(app, [*args, str(folder / "guide_efficacy.csv")])
    assert done.exit_code == 0, done.output
    assert read_long_table(out).has(GUIDE_EFFICACY)


def test_differences_per_knockout_divide_by_the_genes_mean_efficacy():
    table = pd.DataFrame({"hugo_symbol": ["A", "B", "C"], "mean": [-0.8, 0.3, 0.0], "sd": [0.1, 0.1, 0.1],
                          "hdi_lower": [-1.0, 0.1, -0.2], "hdi_upper": [-0.6, 0.5, 0.2]})  # fmt: skip
    guides = pd.DataFrame({"hugo_symbol": ["A", "A", "B", "B", "C"], "guide_efficacy": [0.6, 1.0, 0.5, np.nan, np.nan]})
    out = per_knockout(table, guides)
    np.testing.assert_allclose(out["guide_efficacy"].to_numpy()[:2], [0.8, 0.5])
    np.testing.assert_allclose(out["mean_per_knockout"].to_numpy()[:2], [-1.0, 0.6])
    np.testing.assert_allclose(out["hdi_lower_per_knockout"].to_numpy()[:2], [-1.25, 0.2])
    assert out.loc[2, ["guide_efficacy", "mean_per_knockout"]].isna().all()  # no efficacy: nothing made up
