"""Drug screens grown by cells (screenfit.simulate_drug) and the condition model's two-group posterior:
the simulator makes a lab's files, the closed-form posterior matches quadrature, and on a grown
screen the model's calls hold their FDR and find more hits than a t-test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from screenfit.errors import ScreenfitInputError
from screenfit.io.counts import read_count_table
from screenfit.models.condition import HIT_SHARE, INFORMATION, SCORE, SLAB_SD, difference_draws
from screenfit.simulate_drug import CONTROL_GENE, DrugScreenConfig, simulate_drug_counts, write_drug_screen


def test_a_simulated_drug_screen_is_what_a_lab_has(tmp_path):
    cfg = DrugScreenConfig(n_genes=300, seed=4)
    folder = write_drug_screen(cfg, tmp_path / "drug")
    counts = pd.read_csv(folder / "counts.tsv", sep="\t")
    sheet = pd.read_csv(folder / "samples.csv")
    truth = pd.read_csv(folder / "truth.csv")
    assert list(counts.columns[:2]) == ["sgRNA", "gene"]
    assert len(counts) == 300 * 4 + 100 and (counts["gene"] == CONTROL_GENE).sum() == 100
    assert sorted(sheet["treatment"].dropna()) == ["drug"] * 3 + ["vehicle"] * 3
    # Reads near the asked depth; essential genes deplete in the vehicle arm, controls do not.
    finals = counts[[c for c in counts.columns if c.startswith(("vehicle", "drug"))]]
    assert abs(finals.to_numpy().mean() / cfg.reads_per_guide - 1) < 0.05
    cpm = np.log2(counts.iloc[:, 2:] / counts.iloc[:, 2:].sum() * 1e6 + 1)
    lfc = cpm["vehicle_1"] - cpm["pDNA"]
    essential = counts["gene"].isin(truth.loc[truth["essential"], "hugo_symbol"])
    assert lfc[essential].median() < lfc[counts["gene"] == CONTROL_GENE].median() - 1.0
    # Interactions: sensitising below 0, rescuing above, none exactly 0 without a drug-wide slowdown.
    by = truth.groupby("direction")["expected_difference"]
    assert by.max()["sensitising"] < 0 < by.min()["rescuing"] and (by.apply(lambda x: x.abs().max())["none"] == 0)
    screen = read_count_table(folder / "counts.tsv", folder / "samples.csv")
    assert set(screen.table["condition"]) == {"vehicle", "drug"} and screen.table["counts_final"].notna().all()
    with pytest.raises(ScreenfitInputError):
        write_drug_screen(cfg, folder)  # existing results are not overwritten
    again, _, _ = simulate_drug_counts(cfg)
    pd.testing.assert_frame_equal(again, counts)  # seeded


def test_a_drug_wide_slowdown_reads_as_rescue_of_essential_genes():
    _, _, truth = simulate_drug_counts(DrugScreenConfig(n_genes=200, seed=2, drug_growth=0.8))
    inert = truth[~truth["hit"]]
    assert (inert.loc[inert["essential"], "expected_difference"] > 0).all()


def _posterior(h: float, big_h: float, share: float, slab: float, draws: int) -> xr.Dataset:
    def var(value: float, gene: bool) -> xr.DataArray:
        shape, dims = ((1, draws, 1, 1), ("chain", "draw", "hugo_symbol", "contrast")) if gene else \
            ((1, draws, 1), ("chain", "draw", "contrast"))  # fmt: skip
        return xr.DataArray(np.full(shape, value), dims=dims)

    return xr.Dataset({SCORE: var(h, True), INFORMATION: var(big_h, True), HIT_SHARE: var(share, False),
                       SLAB_SD: var(slab, False)})  # fmt: skip


@pytest.mark.parametrize(("h", "big_h"), [(30.0, 100.0), (8.0, 100.0), (-60.0, 40.0), (0.5, 400.0)])
def test_the_two_group_posterior_matches_quadrature(h, big_h):
    """``δ`` drawn in closed form from prior × ``exp(h δ − H δ²/2)`` against a numerical posterior."""
    share, slab, eps, draws = 0.08, 0.7, 0.1, 40_000
    grid = np.linspace(-4, 4, 400_001)
    step = grid[1] - grid[0]
    like = np.exp(h * grid - big_h * grid**2 / 2 - (h**2 / (2 * big_h)))  # scaled to avoid overflow
    slab_mass = share * stats.norm.pdf(grid, 0, slab) * like
    null_mass = (1 - share) * np.exp(-(h**2) / (2 * big_h))
    total = slab_mass.sum() * step + null_mass
    p_null = null_mass / total
    p_beyond = slab_mass[np.abs(grid) > eps].sum() * step / total
    slab_mean = (grid * slab_mass).sum() / slab_mass.sum()
    drawn = difference_draws(_posterior(h, big_h, share, slab, draws), eps, seed=3)
    delta = drawn["condition_difference"].values.ravel()
    zero = delta == 0
    assert abs(zero.mean() - p_null) <= 4 * np.sqrt(p_null * (1 - p_null) / draws) + 1e-9
    np.testing.assert_allclose(drawn["condition_prob_difference"].values.ravel(), p_beyond, rtol=1e-4, atol=1e-9)
    if (~zero).sum() > 100:
        sd = np.sqrt(1 / (big_h + 1 / slab**2))
        assert abs(delta[~zero].mean() - slab_mean) <= 4 * sd / np.sqrt((~zero).sum())


def _welch_calls(table: pd.DataFrame, q: float) -> pd.Series:
    """Direction of each gene a Welch t-test of guide LFCs (drug vs vehicle) with Benjamini–Hochberg calls at ``q``."""
    rows = []
    for gene, gene_rows in table.groupby("hugo_symbol", observed=True):
        arms = gene_rows.groupby("condition", observed=True)["lfc"]
        drug, vehicle = arms.get_group("drug"), arms.get_group("vehicle")
        rows.append((gene, stats.ttest_ind(drug, vehicle, equal_var=False).pvalue, drug.mean() - vehicle.mean()))
    t = pd.DataFrame(rows, columns=["gene", "p", "diff"]).set_index("gene")
    called = t[stats.false_discovery_control(t["p"].to_numpy()) <= q]
    return pd.Series(np.where(called["diff"] < 0, "sensitising", "rescuing"), index=called.index)


def _recall(directions: pd.Series, truth: pd.DataFrame) -> float:
    right = truth.loc[directions.index, "direction"] == directions
    return float(right.sum() / truth["hit"].sum())


@pytest.mark.slow
def test_calls_on_a_screen_grown_by_cells_hold_their_fdr_and_beat_a_t_test(tmp_path):
    """What the drug preset chooses, on a screen no screenfit model generated (benchmarks/drug_screens.py
    runs the full-size comparison with MAGeCK2 and DrugZ)."""
    from screenfit.fitting import fit
    from screenfit.io.guide_efficacy import read_guide_efficacy, with_guide_efficacy
    from screenfit.presets import configure

    folder = write_drug_screen(DrugScreenConfig(n_genes=800, seed=7), tmp_path / "drug")
    screen = read_count_table(folder / "counts.tsv", folder / "samples.csv")
    screen = with_guide_efficacy(screen, read_guide_efficacy(folder / "guide_efficacy.csv"))
    truth = pd.read_csv(folder / "truth.csv").set_index("hugo_symbol")
    chosen = configure(screen)
    assert chosen.preset == "drug"
    result = fit(screen, chosen, progress=False)
    assert result.status == "converged", result.diagnostics.problems
    effects = result.table("condition_effects").set_index("hugo_symbol")
    called = effects.loc[effects["qvalue"] <= 0.1, "direction"]
    n = len(called)
    fdp = 1 - (truth.loc[called.index, "direction"] == called).mean()
    # A Bayesian FDR of 0.1 holds to within binomial noise of the call count.
    assert n >= 20 and fdp <= 0.1 + 2 * np.sqrt(0.1 * 0.9 / n), (n, fdp)
    assert _recall(called, truth) >= _recall(_welch_calls(screen.table, 0.1), truth)
    # Per full knockout (the guides' efficacies given): the called hits' differences nearer the
    # truth's full-knockout difference than on the LFC scale, where each guide shows a share of it.
    hits = effects.loc[called.index[truth.loc[called.index, "hit"]]]
    expected = truth.loc[hits.index, "expected_difference"]
    on_lfc = np.median(np.abs(hits["mean"] / expected - 1))
    per_knockout = np.median(np.abs(hits["mean_per_knockout"] / expected - 1))
    assert per_knockout < on_lfc, (per_knockout, on_lfc)
