"""Posterior predictive checks: calibrated on data from the model, revealing on misspecified data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from screenfit.fitting import fit
from screenfit.results.predictive import calibration, covered, ppc_by
from screenfit.simulate import SimulationConfig, simulate_screen


def test_coverage_and_grouping_helpers():
    pit = np.array([0.5, 0.02, 0.98, 0.3, 0.75])
    assert covered(pit, 0.5).tolist() == [True, False, False, True, True]
    ppc = pd.DataFrame({"depmap_id": ["a", "a", "b", "b", "b"], "observed": [0.0] * 5, "predicted_mean": [0.1] * 5,
                        "pit": pit})  # fmt: skip
    by = ppc_by(ppc, "depmap_id")
    assert by["depmap_id"].tolist() == ["a", "b"]  # a: 1 of 2 inside its 94% interval, b: 2 of 3; worst first
    assert np.isclose(by.set_index("depmap_id").loc["b", "coverage_94"], 2 / 3)
    cal = calibration(ppc, levels=(0.5,))
    assert np.isclose(cal["observed"].iloc[0], 3 / 5)


@pytest.mark.slow
def test_predictive_intervals_are_calibrated_when_the_model_is_true():
    screen, _, _ = simulate_screen(SimulationConfig.additive(n_genes=20, n_cell_lines=30, seed=2))
    result = fit(screen, "gene-cellline", log_likelihood=False, progress=False)
    cal = result.tables["ppc_calibration"].set_index("nominal")
    n = int(cal["n"].iloc[0])
    for level in (0.5, 0.94):
        # Units share parameters, so allow 4 binomial SEs plus the PIT's resolution (1/draws).
        tol = 4 * np.sqrt(level * (1 - level) / n) + 0.01
        assert abs(cal.loc[level, "observed"] - level) < tol, (level, cal.loc[level, "observed"])
    ppc = result.tables["ppc_units"]
    assert {"sgrna", "hugo_symbol", "depmap_id", "observed", "predicted_mean", "pit"} <= set(ppc.columns)
    assert len(ppc) == screen.table.groupby(["sgrna", "depmap_id"], observed=True).ngroups
    assert "posterior_predictive" in result.idata.groups()


@pytest.mark.slow
def test_predictive_check_flags_lines_whose_noise_the_model_ignores():
    # Per-line noise differs strongly; seed-m1 has one noise SD, so noisy lines fall outside.
    cfg = SimulationConfig.additive(n_genes=20, n_cell_lines=30, seed=3, noise_sd_spread=0.6)
    screen, truth, _ = simulate_screen(cfg)
    result = fit(screen, "seed-m1", log_likelihood=False, progress=False)
    by_line = result.tables["ppc_cell_lines"].set_index("depmap_id")
    noise = truth.cell_lines.set_index("depmap_id")["noise_sd"]
    worst = by_line.index[0]
    assert by_line.loc[worst, "coverage_94"] < 0.8
    assert noise.loc[worst] > noise.median()  # the worst-fitting line is a noisy one
    rho = pd.Series(by_line["coverage_94"]).corr(noise.reindex(by_line.index), method="spearman")
    assert rho < -0.5, rho
