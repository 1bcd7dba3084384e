"""Focal amplicons simulated on a library's coordinates, corrected by `screenfit correct` from the files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from screenfit.cli import app
from screenfit.io.tables import read_long_table
from screenfit.qc import separation
from screenfit.reference import essential_sets
from screenfit.simulate_amplicons import AMPLIFIED_CN, AmpliconConfig, simulate_amplified_screen

runner = CliRunner()


def _library(seed: int = 0) -> tuple[pd.DataFrame, set[str], set[str]]:
    """3,000 genes × 4 guides on six 60 Mb chromosomes, reference genes among them in random places."""
    rng = np.random.default_rng(seed)
    ess_list, non_list = essential_sets()
    ess, non = set(sorted(ess_list)[:300]), set(sorted(non_list)[:500])
    genes = np.array([*sorted(ess), *sorted(non), *(f"FILLER{i}" for i in range(2200))])
    rng.shuffle(genes)
    chrom = np.repeat([str(c) for c in range(1, 7)], 500)
    start = np.tile(np.arange(500) * 120_000 + 50_000, 6)
    lib = pd.DataFrame(
        {
            "sgRNA": [f"{g}_{k}" for g in genes for k in range(4)],
            "gene": np.repeat(genes, 4),
            "chromosome": np.repeat(chrom, 4),
            "start": np.repeat(start, 4) + np.tile(np.arange(4) * 300, len(genes)),
        }
    )
    return lib, ess, non


def test_the_simulation_depletes_amplified_genes_and_plants_one_driver_per_amplicon():
    lib, ess, non = _library()
    sim = simulate_amplified_screen(lib, ess, non, AmpliconConfig(seed=3))
    assert list(sim.counts.columns) == ["sgRNA", "gene", "pDNA", "rep1", "rep2", "rep3"]
    amplified = sim.genes[sim.genes["copy_number"] >= AMPLIFIED_CN]
    assert (amplified["kind"] == "driver").sum() == (sim.regions["copy_number"] >= AMPLIFIED_CN).sum()
    assert set(sim.genes.loc[sim.genes["kind"] == "null", "effect"]) == {0.0}
    # Same seed, same screen; another seed, another.
    again = simulate_amplified_screen(lib, ess, non, AmpliconConfig(seed=3))
    pd.testing.assert_frame_equal(sim.counts, again.counts)
    assert not sim.counts.equals(simulate_amplified_screen(lib, ess, non, AmpliconConfig(seed=4)).counts)


@pytest.mark.slow
@pytest.mark.parametrize("seed, broad_gains", [(1, True), (2, False)])
def test_correct_removes_amplicons_and_keeps_their_drivers(tmp_path, seed, broad_gains):
    # Broad gains (20-50 Mb of 60) put amplicons inside gains: winsorised around the line's median,
    # two of seed 1's were clipped to their gain's level and left in place (drivers 4 of 6 near truth).
    cfg = AmpliconConfig(seed=seed, n_gains=6, gain_mb=(20.0, 50.0)) if broad_gains else AmpliconConfig(seed=seed)
    lib, ess, non = _library()
    sim = simulate_amplified_screen(lib, ess, non, cfg)
    sim.counts.to_csv(tmp_path / "counts.tsv", sep="\t", index=False)
    # The library as CRISPRcleanR names its columns, read by --library with no renaming.
    lib.rename(columns={"sgRNA": "CODE", "gene": "GENES", "chromosome": "CHRM", "start": "STARTpos"}).to_csv(
        tmp_path / "library.csv", index=False
    )
    sheet = pd.DataFrame({"sample": sim.samples, "condition": ["initial", "final", "final", "final"],
                          "replicate": ["pDNA", 1, 2, 3], "cell_line": "SIM", "pdna_batch": "b"})  # fmt: skip
    sheet.to_csv(tmp_path / "sheet.csv", index=False)
    for args in (
        ["ingest", "counts", str(tmp_path / "counts.tsv"), "--sheet", str(tmp_path / "sheet.csv"),
         "--library", str(tmp_path / "library.csv"), "--out", str(tmp_path / "screen.parquet")],
        ["correct", str(tmp_path / "screen.parquet"), "--out", str(tmp_path / "corrected.parquet")],
    ):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    table = read_long_table(tmp_path / "corrected.parquet").table
    table = table.assign(hugo_symbol=table["hugo_symbol"].astype(str))
    means = table.groupby("hugo_symbol")[["lfc_uncorrected", "lfc"]].mean()
    truth = sim.genes.set_index("gene").reindex(means.index)
    amplified_null = (truth["copy_number"] >= AMPLIFIED_CN) & truth["kind"].isin(["null", "nonessential"])
    assert amplified_null.sum() > 30
    assert (means.loc[amplified_null, "lfc_uncorrected"] < -1).mean() > 0.6  # the bias is there
    assert (means.loc[amplified_null, "lfc"] < -1).mean() <= 0.15
    # Each planted dependency stands out of its amplicon and keeps ≥ 70% of its own effect (≈ −2:
    # within 0.6), neither left with the amplicon's depletion nor shifted with it.
    drivers = truth["kind"] == "driver"
    off = (means.loc[drivers, "lfc"] - truth.loc[drivers, "expected"]).abs()
    assert (off <= 0.3 * truth.loc[drivers, "expected"].abs()).all(), off
    auroc = separation(means, ess, non)["auroc"]
    assert auroc["lfc"] >= auroc["lfc_uncorrected"]
