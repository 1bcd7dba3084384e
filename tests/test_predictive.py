"""Posterior predictive checks: calibrated on data from the model, revealing on misspecified data."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from screenfit.fitting import fit
from screenfit.results import predictive
from screenfit.results.predictive import calibration, covered, interpolated_quantile, ppc_by
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


@pytest.mark.parametrize(
    ("n_draws", "ci_prob", "counts"),
    [(92, 0.9, False), (21, 0.9, False), (46, 0.5, False), (3, 0.94, False), (2, 0.9, False), (40, 0.9, True)],
)
def test_unit_summaries_are_the_same_whatever_blocks_the_draws_arrive_in(monkeypatch, n_draws, ci_prob, counts):
    """Each unit's predictive mean, SD, interval and PIT from its replicates, summarised as blocks
    of draws arrive (keeping only each unit's extreme draws): as numpy computes them from all the
    draws at once, whether the draws come one block or a few at a time and the units are taken
    at once or in slices (sizes that divide neither); read counts above float32's whole numbers too."""
    rng = np.random.default_rng(5)
    reps = rng.poisson(3e7, (n_draws, 103)) if counts else rng.standard_normal((n_draws, 103)).astype(np.float32)
    observed = rng.poisson(3e7, 103).astype(float) if counts else rng.standard_normal(103)
    observed[:4] = reps[0, :4]  # ties with a replicate: the PIT's randomised share
    monkeypatch.setattr(predictive, "_thin_to", lambda idata, n: idata)

    thinned = SimpleNamespace(posterior=SimpleNamespace(sizes={"chain": 1, "draw": n_draws}))

    def check(units_at_once: int, draws_at_once: int) -> pd.DataFrame:
        monkeypatch.setattr(predictive, "PPC_SUMMARY_UNITS", units_at_once)
        blocks = [reps[i : i + draws_at_once] for i in range(0, n_draws, draws_at_once)]
        monkeypatch.setattr(predictive, "replicate_blocks", lambda *args, **kwargs: iter(blocks))
        table, kept = predictive.predictive_check(None, thinned, "lfc", observed, {"u": np.arange(103)}, ci_prob, 1)
        np.testing.assert_array_equal(kept["lfc"].values[0], reps[: predictive.KEEP_DRAWS].astype(np.float32))
        return table

    whole = check(1_000, n_draws)
    pd.testing.assert_frame_equal(check(10, 3), whole)
    pd.testing.assert_frame_equal(check(17, 1), whole)
    flat = reps.astype(np.float64)
    tail = (1 - ci_prob) / 2
    np.testing.assert_allclose(whole["predicted_mean"], flat.mean(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(whole["predicted_sd"], flat.std(axis=0, ddof=1), rtol=1e-9)
    np.testing.assert_allclose(whole["predicted_lower"], np.quantile(flat, tail, axis=0), rtol=1e-12)
    np.testing.assert_allclose(whole["predicted_upper"], np.quantile(flat, 1 - tail, axis=0), rtol=1e-12)
    below = (flat < observed).mean(axis=0)
    assert np.all((whole["pit"] >= below) & (whole["pit"] <= below + (flat == observed).mean(axis=0)))
    tied = (flat == observed).any(axis=0)
    assert tied[:4].all() and np.all(whole["pit"][~tied] == below[~tied])
    assert np.all(whole["pit"].iloc[:4] > below[:4])


@pytest.mark.parametrize("n_draws", [1, 2, 7, 92])
def test_interpolated_quantiles_match_numpy(n_draws):
    """From all sorted draws, and from the top order statistics alone (``first``)."""
    rng = np.random.default_rng(n_draws)
    draws = rng.standard_normal((50, n_draws)).astype(np.float32)
    draws[:3] = np.round(draws[:3])  # ties
    ordered = np.sort(draws, axis=1)
    for p in (0.0, 0.05, 0.5, 0.95, 1.0):
        want = np.quantile(draws.astype(np.float64), p, axis=1)
        h = p * (n_draws - 1)
        np.testing.assert_allclose(interpolated_quantile(ordered, h), want, rtol=1e-12, atol=1e-12)
        first = int(np.floor(h))
        got = interpolated_quantile(ordered[:, first:], h, first=first)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_replicates_in_jax_follow_pymc_posterior_predictive():
    """Replicated unit means drawn in JAX from each draw's μ and SD have PyMC's predictive
    distribution: at the same draws, ``ours − PyMC's`` is as spread as two PyMC replicates'
    difference (``N(0, 2s²)``) and centred on zero per unit."""
    pytest.importorskip("jax")
    import arviz as az
    import pymc as pm

    from screenfit.data.design import build_design
    from screenfit.models.base import ModelOptions
    from screenfit.models.registry import get_model
    from screenfit.results.pointwise import NormalUnits
    from screenfit.results.predictive import replicated

    screen, _, _ = simulate_screen(SimulationConfig(n_genes=8, n_cell_lines=12, seed=2))
    spec = get_model("gene-by-line", ModelOptions(guide_noise=True))
    unit = build_design(screen, spec.evaluation_level, spec.covariate_columns)
    model = spec.build(unit, evaluation=True)
    prior = pm.sample_prior_predictive(draws=300, model=model, random_seed=1).prior
    idata = az.InferenceData(posterior=prior[[rv.name for rv in model.free_RVs]])
    units = NormalUnits.of(model, "lfc")
    assert units is not None and units.shape == (unit.n_groups,)
    ours = np.concatenate(list(units.replicate_blocks(idata.posterior, 0)))
    theirs, again = (replicated(model, idata, "lfc", seed)[0] for seed in (0, 1))
    assert ours.shape == theirs.shape == (300, unit.n_groups)
    d_ours, d_pymc = ours - theirs, again - theirs
    n_values = d_ours.size
    # Mean squares of N(0, 2s²) values: relative SE below √(2/values) each (heavier for unequal s).
    ratio = float(np.mean(d_ours**2) / np.mean(d_pymc**2))
    assert abs(ratio - 1) < 10 * np.sqrt(2 / n_values), ratio
    z = d_ours.mean(axis=0) / np.sqrt(np.mean(d_pymc**2, axis=0) / d_ours.shape[0])
    assert np.abs(z).max() < 5 and abs(np.mean(z**2) - 1) < 5 * np.sqrt(2 / z.size), (np.abs(z).max(), np.mean(z**2))


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
    # Each unit's labels (categoricals of the design's codes) name the guide × line it observed.
    text = ppc.astype({c: str for c in ("sgrna", "hugo_symbol", "depmap_id")})
    rows = screen.table.astype({c: str for c in ("sgrna", "hugo_symbol", "depmap_id")})
    means = rows.groupby(["sgrna", "depmap_id"])["lfc"].mean()
    assert np.allclose(text.set_index(["sgrna", "depmap_id"])["observed"].loc[means.index], means)
    genes = rows.drop_duplicates("sgrna").set_index("sgrna")["hugo_symbol"]
    assert (text["hugo_symbol"].to_numpy() == genes.loc[text["sgrna"]].to_numpy()).all()
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
