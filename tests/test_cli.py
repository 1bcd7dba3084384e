"""The CLI verbs end to end on small inputs: demo, ingest, qc, eda, simulate."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from screenfit.cli import app

runner = CliRunner()


def test_demo_writes_screen_qc_and_eda(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (out / "screen.parquet").exists() and (out / "qc" / "qc.png").exists()
    summary = json.loads((out / "qc" / "qc_summary.json").read_text())
    assert summary["median_auroc"] >= 0.95
    assert {p.name for p in (out / "eda").iterdir()} >= {
        "lfc_by_gene.png",
        "cn_vs_lfc.png",
        "lfc_by_replicate.png",
    }
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_ingest_depmap_ky_and_counts(depmap_sample, screens_dir, tmp_path):
    ky = tmp_path / "ky.parquet"
    r = runner.invoke(app, ["ingest", "depmap", str(depmap_sample), "--library", "KY", "--out", str(ky), "-q"])
    assert r.exit_code == 0, r.output
    assert pd.read_parquet(ky)["depmap_id"].nunique() == 23
    assert ky.with_suffix(".csv").exists()
    hap = tmp_path / "evers.parquet"
    r = runner.invoke(app, ["ingest", "counts", str(screens_dir / "evers2016_bladder/Evers_CRISPRn-RT112.csv"),
                            "--bundled-sheet", "evers2016_crisprn_rt112", "--out", str(hap), "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output


def test_simulate_then_qc_and_eda(tmp_path):
    sim = tmp_path / "sim"
    r = runner.invoke(app, ["simulate", "--out", str(sim), "--genes", "120", "--cell-lines", "8", "--quiet"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["qc", str(sim / "screen.parquet"), "--out", str(tmp_path / "qc"), "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["eda", str(sim / "screen.parquet"), "--out", str(tmp_path / "eda"), "-q"])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "eda").glob("*.png"))) == 5


def test_eda_for_a_thousand_genes_is_aggregated(tmp_path):
    sim = tmp_path / "sim"
    runner.invoke(app, ["simulate", "--out", str(sim), "--genes", "1000", "--cell-lines", "6", "--no-counts", "-q"])
    r = runner.invoke(app, ["eda", str(sim / "screen.parquet"), "--out", str(tmp_path / "eda"), "-q"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "eda" / "lineage_gene_heatmap.png").stat().st_size > 10_000
