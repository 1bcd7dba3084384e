"""The growth simulator: a screen from a process no screenfit model assumes (Chronos' growth model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from screenfit.io.depmap import read_depmap
from screenfit.simulate import read_truth
from screenfit.simulate_growth import GrowthSimulationConfig, write_growth_simulation


@pytest.fixture(scope="module")
def growth(tmp_path_factory):
    out = tmp_path_factory.mktemp("growth") / "sim"
    write_growth_simulation(GrowthSimulationConfig(n_genes=120, n_cell_lines=24, seed=3), out)
    return out


def test_the_folder_is_a_depmap_release_with_the_truth_beside_it(growth):
    screen = read_depmap(growth / "depmap", "Sim")
    truth, gene_line = read_truth(growth)
    assert screen.count("hugo_symbol") == 120 and screen.count("depmap_id") == 24
    assert len(gene_line) == 120 * 24 and set(truth.genes["gene_class"]) == {"essential", "selective", "weak", "inert"}
    assert screen.has("lineage", "is_mutated", "log2_gene_cn_p1")
    # Unequal replicates: 2, 3 or 4 per line.
    per_line = screen.table.groupby("depmap_id", observed=True)["replicate_id"].nunique()
    assert set(per_line) <= {2, 3, 4} and per_line.nunique() > 1


def test_mutation_calls_are_a_users_not_the_truth(growth):
    screen = read_depmap(growth / "depmap", "Sim")
    _, gene_line = read_truth(growth)
    called_by = screen.table.groupby(["depmap_id", "hugo_symbol"], observed=True)["is_mutated"].first()
    called = called_by.to_numpy(dtype=bool)
    true = gene_line.set_index(["depmap_id", "hugo_symbol"])["is_mutated"].loc[called_by.index].to_numpy(dtype=bool)
    assert (true & ~called).any() and (~true & called).any()  # missed mutations and false calls
    assert (called == true).mean() > 0.95


def test_depletion_saturates_with_the_knockout_fraction(growth):
    """An inefficient guide of an essential gene depletes less, however strong the gene's effect:
    the uncut cells keep growing (LFC bounded by log2(1 − e·k))."""
    screen = read_depmap(growth / "depmap", "Sim")
    truth, gene_line = read_truth(growth)
    essential = set(truth.genes.loc[truth.genes["gene_class"] == "essential", "hugo_symbol"])
    guides = truth.guides.set_index("sgrna")
    t = screen.table[screen.table["hugo_symbol"].astype(str).isin(essential)]
    per_guide = t.groupby("sgrna", observed=True)["lfc"].mean()
    efficacy = guides.loc[per_guide.index.astype(str), "efficacy"].to_numpy()
    assert per_guide[efficacy < 0.3].mean() > per_guide[efficacy > 0.8].mean() + 1.0
    # Doubling the effect of strong dependencies does not double their depletion.
    effects = gene_line.pivot(index="depmap_id", columns="hugo_symbol", values="gene_effect")
    mean_lfc = screen.table.groupby(["depmap_id", "hugo_symbol"], observed=True)["lfc"].mean().unstack()
    e, y = effects.to_numpy().ravel(), mean_lfc.loc[effects.index, effects.columns].to_numpy().ravel()
    mild, strong = y[(e < -0.4) & (e > -0.7)].mean(), y[e < -1.2].mean()
    assert strong / mild < 1.2 * (np.mean(e[e < -1.2]) / np.mean(e[(e < -0.4) & (e > -0.7)]))


def test_same_seed_same_screen(tmp_path):
    cfg = GrowthSimulationConfig(n_genes=30, n_cell_lines=8, seed=5)
    a, b = write_growth_simulation(cfg, tmp_path / "a"), write_growth_simulation(cfg, tmp_path / "b")
    ca = pd.read_csv(a / "depmap" / "SimReadcounts.csv.gz", index_col=0)
    cb = pd.read_csv(b / "depmap" / "SimReadcounts.csv.gz", index_col=0)
    pd.testing.assert_frame_equal(ca, cb)


@pytest.mark.slow
def test_the_default_recovers_growth_simulated_effects_better_than_the_naive_mean(growth, tmp_path):
    """On data from Chronos' model, the default preset's gene × line effects track the truth
    better than the per-line-centred mean LFC does, and its intervals hold most of it on DepMap's scale."""
    import screenfit as sf
    from screenfit.io.annotations import read_annotated

    screen = read_annotated(read_depmap(growth / "depmap", "Sim"), growth / "depmap" / "Model.csv")
    result = sf.fit(screen, out=tmp_path / "fit", progress=False)
    assert result.preset == "depmap" and result.status in ("approximate", "converged")
    _, gene_line = read_truth(growth)
    truth = gene_line.pivot(index="depmap_id", columns="hugo_symbol", values="gene_effect")
    est = result.table("gene_cell_line_effects").pivot(index="depmap_id", columns="hugo_symbol", values="mean")
    naive = screen.table.groupby(["depmap_id", "hugo_symbol"], observed=True)["lfc"].mean().unstack()
    naive = naive.sub(naive.median(axis=1), axis=0)

    def r(x: pd.DataFrame) -> float:
        return float(np.corrcoef(x.loc[truth.index, truth.columns].to_numpy().ravel(), truth.to_numpy().ravel())[0, 1])

    assert r(est) > r(naive) + 0.02, (r(est), r(naive))


def test_cli_simulates_by_growth_and_ingest_reads_it(tmp_path):
    from typer.testing import CliRunner

    from screenfit.cli import app

    runner = CliRunner()
    out = tmp_path / "sim"
    done = runner.invoke(app, ["simulate", "--growth", "--genes", "30", "--cell-lines", "8", "--out", str(out)])
    assert done.exit_code == 0, done.output
    small = runner.invoke(app, ["simulate", "--growth", "--genes", "5", "--out", str(tmp_path / "small")])
    assert small.exit_code == 1 and "--genes" in small.output and not (tmp_path / "small").exists()
    again = runner.invoke(app, ["simulate", "--growth", "--genes", "30", "--cell-lines", "8", "--out", str(out)])
    assert again.exit_code == 1  # never overwritten without --force
    ingested = tmp_path / "screen.parquet"
    read = runner.invoke(app, ["ingest", "depmap", str(out / "depmap"), "--library", "Sim", "--out", str(ingested)])
    assert read.exit_code == 0, read.output
