"""The condition model (drug vs vehicle): differences found, FDR controlled, intervals calibrated,
and clear errors for screens it cannot fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from screenfit.errors import ScreenfitInputError
from screenfit.fitting import fit
from screenfit.models.base import ModelOptions
from screenfit.models.registry import get_model
from screenfit.results.conditions import qvalues
from screenfit.simulate import SimulationConfig, simulate_condition_screen, simulate_screen


def _fit(screen, **kwargs):
    return fit(screen, "condition", log_likelihood=False, predictive=False, progress=False, **kwargs)


def _effects(result, truth) -> pd.DataFrame:
    return result.table("condition_effects").merge(truth, on="hugo_symbol", validate="one_to_one")


def test_qvalues_are_the_running_mean_of_sorted_lfdr():
    q = qvalues(pd.Series([0.5, 0.0, 0.2, 0.1]))
    np.testing.assert_allclose(q, [0.2, 0.0, 0.1, 0.05])


@pytest.mark.slow
def test_fdr_and_interval_coverage_on_the_models_own_assumptions():
    """Additive regime; half the genes change, by |δ| uniform on (0.02, 0.4): many near ε = 0.1."""
    called, false_calls, inside, total = {"qvalue": 0, "expected_fdr": 0}, {"qvalue": 0, "expected_fdr": 0}, 0, 0
    for seed in (1, 2):
        cfg = SimulationConfig.additive(n_genes=60, n_cell_lines=12, n_replicates=4, noise_sd=0.6, seed=seed)
        screen, truth = simulate_condition_screen(cfg, n_condition_genes=30, effect_range=(0.02, 0.4))
        result = _fit(screen)
        assert result.status == "converged", result.diagnostics.problems
        est = _effects(result, truth)
        for column in called:
            calls = est[est[column] <= 0.1]
            called[column] += len(calls)
            false_calls[column] += int((calls["condition_difference"].abs() < 0.1).sum())
        inside += int(
            (
                (est["hdi_lower"] <= est["condition_difference"]) & (est["condition_difference"] <= est["hdi_upper"])
            ).sum()
        )
        total += len(est)
    # At q ≤ 0.1 (the proportion bounded with probability 0.9, or its expectation) the false
    # share of calls stays within 0.1 + 3 binomial SD; bounding the proportion costs some calls.
    assert called["expected_fdr"] >= 20 and called["qvalue"] >= 12, called
    for column, n in called.items():
        assert false_calls[column] / n <= 0.1 + 3 * np.sqrt(0.1 * 0.9 / n), (column, false_calls, called)
    # 94% HDIs of δ cover the truth at the nominal rate (3 binomial SD; nulls count too).
    assert inside / total >= 0.94 - 3 * np.sqrt(0.94 * 0.06 / total), (inside, total)


@pytest.mark.slow
def test_untouched_genes_are_not_called_on_a_realistic_screen():
    """Default (non-additive) simulation: guide efficacy, screen quality, copy number, line noise."""
    screen, truth = simulate_condition_screen(SimulationConfig(n_genes=50, n_cell_lines=20, n_replicates=4, seed=3))
    result = _fit(screen)
    assert result.status == "converged", result.diagnostics.problems
    est = _effects(result, truth)
    changed = est["condition_difference"] != 0
    assert (est.loc[changed, "qvalue"] <= 0.05).all()
    assert (est.loc[~changed, "qvalue"] > 0.05).all()
    # Sensitised genes (δ < 0) have P(more dependent under the drug) near 1, resistant ones near 0.
    assert (est.loc[est["condition_difference"] < 0, "prob_lower"] > 0.99).all()
    assert (est.loc[est["condition_difference"] > 0, "prob_lower"] < 0.01).all()
    assert result.config["options"]["reference_condition"] is None
    assert set(est["reference"]) == {"vehicle"} and set(est["condition"]) == {"drug"}


def test_screens_the_condition_model_cannot_fit_get_clear_errors():
    spec = get_model("condition")
    plain, _, _ = simulate_screen(SimulationConfig(n_genes=5, n_cell_lines=4, seed=1))
    with pytest.raises(ScreenfitInputError, match="no 'condition' column") as err:
        spec.check_screen(plain)
    assert "treatment" in err.value.message
    two, _ = simulate_condition_screen(SimulationConfig(n_genes=5, n_cell_lines=4, n_replicates=2, seed=1))
    one = two.with_table(two.table.assign(condition="drug"))
    with pytest.raises(ScreenfitInputError, match="at least two conditions"):
        spec.check_screen(one)
    renamed = two.with_table(two.table.assign(condition=two.table["condition"].map({"vehicle": "A", "drug": "B"})))
    with pytest.raises(ScreenfitInputError, match="which condition is the reference") as err:
        spec.check_screen(renamed)
    assert "--reference-condition" in err.value.message
    with pytest.raises(ScreenfitInputError, match="'C' is not in the screen"):
        get_model("condition", ModelOptions(reference_condition="C")).check_screen(renamed)
    get_model("condition", ModelOptions(reference_condition="A")).check_screen(renamed)
    with pytest.raises(ScreenfitInputError, match="at least 2 replicates"):
        simulate_condition_screen(SimulationConfig(n_replicates=1))


@pytest.mark.slow
def test_cli_fit_writes_the_condition_table(tmp_path):
    from typer.testing import CliRunner

    from screenfit.cli import app
    from screenfit.io.tables import write_screen

    cfg = SimulationConfig.additive(n_genes=60, n_cell_lines=12, n_replicates=4, noise_sd=0.6, seed=5)
    screen, _ = simulate_condition_screen(cfg)
    renamed = screen.with_table(screen.table.assign(condition=screen.table["condition"].map({"vehicle": "DMSO-0"})))
    renamed = renamed.with_table(renamed.table.assign(condition=renamed.table["condition"].fillna("drug")))
    path = tmp_path / "screen.parquet"
    write_screen(renamed, path)
    out = tmp_path / "fit"
    args = ["fit", str(path), "--model", "condition", "--out", str(out), "--quiet"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1 and "--reference-condition" in refused.output
    done = CliRunner().invoke(app, [*args, "--reference-condition", "DMSO-0", "--min-difference", "0.2"])
    assert done.exit_code == 0, done.output
    table = pd.read_csv(out / "condition_effects.csv")
    assert set(table["reference"]) == {"DMSO-0"} and len(table) == 60
    assert {"lfsr", "lfdr", "qvalue", "prob_difference", "hdi_lower", "hdi_upper"} <= set(table.columns)
    assert (out / "condition_parameters.csv").exists()
    # What a drug-screen user reads: volcano and rank plots, and the report's condition section.
    plots = CliRunner().invoke(app, ["plot", str(out), "--out", str(tmp_path / "plots")])
    assert plots.exit_code == 0, plots.output
    assert (tmp_path / "plots" / "volcano.png").is_file() and (tmp_path / "plots" / "condition_rank.png").is_file()
    report = CliRunner().invoke(app, ["report", str(out), "--out", str(tmp_path / "report.html")])
    assert report.exit_code == 0, report.output
    page = (tmp_path / "report.html").read_text()
    assert "Condition effects" in page and "against the evidence for it" in page


def test_fdx_qvalues_bound_the_proportion_with_the_stated_probability():
    """Independent nulls with known probabilities: the called set's FDP exceeds its q-value in at
    most ~10% of replicate worlds, and the q-values are at least the expected FDR."""
    from screenfit.results.conditions import FDX_LEVEL, fdx_qvalues

    rng = np.random.default_rng(5)
    null_prob = np.concatenate([rng.uniform(0.0, 0.05, 80), rng.uniform(0.05, 1.0, 320)])
    q = fdx_qvalues(np.tile(null_prob, (1000, 1)))
    expected = qvalues(pd.Series(null_prob)).to_numpy()
    assert (q >= expected - 0.01).all()
    called = q <= 0.1
    worlds = rng.random((4000, null_prob.size)) < null_prob
    proportion = worlds[:, called].sum(axis=1) / called.sum()
    exceed = (proportion > 0.1).mean()
    assert exceed <= 1 - FDX_LEVEL + 3 * np.sqrt(0.1 * 0.9 / 4000), exceed
    # Draws that are indicators (no exact probabilities) give the same bound.
    indicators = rng.random((1000, null_prob.size)) < null_prob
    assert abs(int((fdx_qvalues(indicators.astype(float)) <= 0.1).sum()) - int(called.sum())) <= 3
