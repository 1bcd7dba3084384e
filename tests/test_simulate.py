"""The simulator's truth is what it says, and its files round-trip through the readers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm

from screenfit.io.depmap import read_depmap
from screenfit.io.tables import read_long_table
from screenfit.simulate import SimulationConfig, read_truth, simulate_screen, write_simulation


def test_written_files_round_trip_through_the_depmap_reader(tmp_path):
    cfg = SimulationConfig(n_genes=40, n_cell_lines=12, seed=5)
    out = write_simulation(cfg, tmp_path / "sim")
    long = read_long_table(out / "screen.parquet")
    ingested = read_depmap(out / "depmap", "Sim")
    merged = long.table.merge(ingested.table, on=["sgrna", "replicate_id"], validate="one_to_one")
    assert len(merged) == long.n_rows == ingested.n_rows
    assert np.allclose(merged["lfc_x"], merged["lfc_y"])
    assert np.allclose(merged["gene_cn_x"], merged["gene_cn_y"])
    assert (merged["is_mutated_x"] == merged["is_mutated_y"]).all()
    truth, gene_line = read_truth(out)
    assert len(gene_line) == 40 * 12 and set(truth.genes["gene_class"]) <= {"essential", "selective", "inert"}
    assert (out / "screen.csv").exists()


def test_sizes_and_same_seed_same_screen():
    cfg = SimulationConfig(n_genes=26, n_cell_lines=20, n_guides=4, n_replicates=2, seed=11)
    a, _, _ = simulate_screen(cfg)
    b, _, _ = simulate_screen(cfg)
    assert a.count("hugo_symbol") == 26 and a.count("depmap_id") == 20 and a.count("replicate_id") == 40
    assert a.n_rows <= 26 * 4 * 40 and a.n_rows >= 0.95 * 26 * 4 * 40
    pd.testing.assert_frame_equal(a.table, b.table)


def test_gene_classes_show_in_the_data():
    screen, truth, gene_line = simulate_screen(SimulationConfig(n_genes=200, n_cell_lines=40, seed=2))
    mean_lfc = screen.table.groupby("hugo_symbol", observed=True)["lfc"].mean()
    genes = truth.genes.set_index("hugo_symbol")
    true_mean = gene_line.groupby("hugo_symbol")["gene_effect"].mean()
    r = np.corrcoef(mean_lfc.loc[true_mean.index], true_mean)[0, 1]
    assert r > 0.9
    ess = genes.index[genes["gene_class"] == "essential"]
    inert = genes.index[genes["gene_class"] == "inert"]
    assert mean_lfc.loc[ess].median() < mean_lfc.loc[inert].median() - 0.5


def test_mutation_selective_genes_depend_on_mutation():
    _screen, truth, gene_line = simulate_screen(SimulationConfig(n_genes=150, n_cell_lines=60, seed=4))
    sel = truth.genes.loc[truth.genes["selectivity"] == "mutation", "hugo_symbol"]
    rows = gene_line[gene_line["hugo_symbol"].isin(sel)]
    diff = rows.groupby("is_mutated")["gene_effect"].mean()
    assert diff[True] < diff[False] - 0.5


def test_copy_number_slope_is_recovered_on_inert_genes():
    cfg = SimulationConfig(n_genes=300, n_cell_lines=40, seed=9, amplified_fraction=0.15)
    screen, truth, _ = simulate_screen(cfg)
    t = screen.table
    inert = set(truth.genes.loc[truth.genes["gene_class"] == "inert", "hugo_symbol"])
    rows = t[t["hugo_symbol"].astype(str).isin(inert)]
    x = np.minimum(rows["gene_cn"].to_numpy(), cfg.cn_max) - 1.0
    # Replicate fixed effects absorb line offsets and normalisation shifts.
    design = pd.get_dummies(rows["replicate_id"].astype(str), dtype=float)
    design.insert(0, "cn", x)
    fit = sm.OLS(rows["lfc"].to_numpy(), design.to_numpy()).fit()
    slope, se = fit.params[0], fit.bse[0]
    # Pooled OLS within replicates estimates the per-line slopes averaged with weights equal to
    # each line's within-replicate sum of squares of copy number.
    centred = x - pd.Series(x).groupby(rows["replicate_id"].astype(str).to_numpy()).transform("mean").to_numpy()
    weights = pd.Series(centred**2).groupby(rows["depmap_id"].astype(str).to_numpy()).sum()
    slopes = truth.cell_lines.set_index("depmap_id").loc[weights.index, "cn_slope"]
    expected = float((weights * slopes).sum() / weights.sum())
    assert abs(slope - expected) < 4 * se
