"""Model comparison: PSIS-LOO ranking, refusals, Pareto-k words, K-fold by cell line."""

from __future__ import annotations

from dataclasses import replace

import arviz as az
import numpy as np
import pytest

from screenfit.errors import ScreenfitInputError
from screenfit.fitting import fit, load_fit
from screenfit.kfold import compare_kfold, line_folds
from screenfit.results.comparison import check_comparable, compare_fits, pareto_k_message
from screenfit.simulate import SimulationConfig, simulate_screen


def _paired(pointwise: dict[str, np.ndarray], better: str, worse: str) -> tuple[float, float]:
    """ELPD difference of two models and its standard error (paired over units)."""
    d = pointwise[better] - pointwise[worse]
    return float(d.sum()), float(np.sqrt(d.size * d.var(ddof=1)))


@pytest.mark.slow
def test_compare_ranks_models_with_copy_number_and_guides_above_the_seed_models():
    # Truth with copy-number cutting toxicity and guide efficacy (the simulator's default regime).
    cfg = SimulationConfig(n_genes=40, n_cell_lines=40, seed=11, amplified_fraction=0.3, cn_slope_mean=-0.15)
    screen, _, _ = simulate_screen(cfg)
    fits = [fit(screen, m, progress=False) for m in ("seed-m1", "seed-m2", "copy-number", "guide")]
    comparison = compare_fits(fits)
    ranked = comparison.table["model"].tolist()
    assert set(ranked[:2]) == {"copy-number", "guide"}, comparison.table
    for better in ("copy-number", "guide"):
        for worse in ("seed-m1", "seed-m2"):
            diff, se = _paired(comparison.pointwise, better, worse)
            assert diff > 2 * se, (better, worse, diff, se)  # a clear difference, not noise
    assert any("seed-m2" in m and "failed" in m for m in comparison.messages)  # the non-identified fit is flagged


def test_compare_refuses_fits_of_different_data(fitted_pair):
    _, folders = fitted_pair
    a, b = load_fit(folders[0]), load_fit(folders[1])
    other = replace(b, config={**b.config, "data_hash": "0" * 64})
    with pytest.raises(ScreenfitInputError, match="different data"):
        check_comparable([a, other])
    counts = replace(b, config={**b.config, "observed": "counts"})
    with pytest.raises(ScreenfitInputError, match="observed quantity"):
        check_comparable([a, counts])
    with pytest.raises(ScreenfitInputError, match="at least two"):
        check_comparable([a])


def test_loo_comparison_of_two_fits_is_consistent(fitted_pair):
    _, folders = fitted_pair
    comparison = compare_fits([load_fit(f) for f in folders])
    table = comparison.table
    assert table["rank"].tolist() == [1, 2]
    assert table["elpd"].is_monotonic_decreasing
    assert table["elpd_diff"].iloc[0] == 0
    for name, values in comparison.pointwise.items():
        assert np.isfinite(values).all()
        row = table.set_index("model").loc[name]
        assert np.isclose(values.sum(), row["elpd"])  # the table's total is the sum of the pointwise values
    assert np.isclose(table["weight"].sum(), 1.0)


def test_pareto_k_message_names_the_share_and_the_lines():
    rng = np.random.default_rng(0)
    n_units, draws = 200, 400
    ll = rng.normal(-1.0, 0.05, size=(2, draws, n_units))
    ll[:, :, :6] = rng.standard_t(1.5, size=(2, draws, 6)) * 8 - 1  # six units dominated by a few draws
    posterior = {"mu": rng.normal(size=(2, draws))}
    idata = az.from_dict(posterior=posterior, log_likelihood={"lfc": ll})
    elpd = az.loo(idata, pointwise=True, var_name="lfc")
    lines = np.array(["ACH-1"] * 6 + ["ACH-2"] * (n_units - 6))
    message = pareto_k_message("toy", elpd, lines)
    assert message is not None
    n_bad = int((np.asarray(elpd.pareto_k) > elpd.good_k).sum())
    assert f"{n_bad:,} of {n_units:,}" in message and "ACH-1" in message
    assert "K-fold" in message  # 3% > 1%: the words say LOO is not to be trusted
    clean = az.loo(
        az.from_dict(posterior=posterior, log_likelihood={"lfc": rng.normal(-1, 0.05, size=(2, draws, n_units))}),
        pointwise=True,
    )
    assert pareto_k_message("clean", clean, np.array(["ACH-2"] * n_units)) is None


def test_line_folds_are_balanced_and_seeded():
    folds = line_folds(10, 3, seed=1)
    assert sorted(np.bincount(folds).tolist()) == [3, 3, 4]
    assert (folds == line_folds(10, 3, seed=1)).all()
    with pytest.raises(ScreenfitInputError):
        line_folds(10, 1, seed=1)


@pytest.mark.slow
def test_kfold_by_cell_line_prefers_the_copy_number_model_on_copy_number_toxic_data():
    from screenfit.inference.samplers import SamplerConfig

    cfg = SimulationConfig(n_genes=30, n_cell_lines=24, seed=7, amplified_fraction=0.2, cn_slope_mean=-0.15)
    screen, _, _ = simulate_screen(cfg)
    samplers = {m: SamplerConfig(draws=500, chains=2) for m in ("gene-cellline", "copy-number")}
    comparison = compare_kfold(screen, ["gene-cellline", "copy-number"], k=3, samplers=samplers)
    for values in comparison.pointwise.values():
        assert np.isfinite(values).all()  # every unit was held out exactly once
    diff, se = _paired(comparison.pointwise, "copy-number", "gene-cellline")
    assert diff > 2 * se, (diff, se)
    assert comparison.method == "kfold"


def test_large_posteriors_keep_a_thinned_log_likelihood_so_every_fit_compares(tmp_path, monkeypatch):
    """Above the NetCDF limit the posterior is stored as Zarr (CONVENTIONS.md): by default the
    log-likelihood is then thinned to ``LOGLIK_LARGE_BUDGET`` values and stored beside it, so the
    fit still compares; ``log_likelihood=False`` leaves it out (and compare says how to get it);
    asked for, it is stored at the full budget, and ``compare`` reads it back from the Zarr store."""
    from screenfit.evaluate import loglik
    from screenfit.inference.samplers import SamplerConfig
    from screenfit.io import fit_folder

    screen, _, _ = simulate_screen(SimulationConfig(n_genes=8, n_cell_lines=6, seed=4))
    sampler = SamplerConfig(method="svi")
    fit(screen, "gene-cellline", sampler=sampler, out=tmp_path / "small", progress=False)
    assert (tmp_path / "small" / "posterior.nc").is_file()
    assert "log_likelihood" in load_fit(tmp_path / "small").idata.groups()
    monkeypatch.setattr(fit_folder, "POSTERIOR_VALUES_NETCDF", 1000)
    monkeypatch.setattr(loglik, "LOGLIK_LARGE_BUDGET", 20_000)
    kw = dict(sampler=sampler, progress=False, predictive=False)
    auto = load_fit(fit(screen, "gene-cellline", out=tmp_path / "auto", **kw).out)
    assert (tmp_path / "auto" / "posterior.zarr").is_dir()
    units = auto.idata.observed_data.sizes["obs"]
    thinned = auto.idata.log_likelihood["lfc"]
    assert thinned.sizes["chain"] * thinned.sizes["draw"] * units <= 20_000 < auto.idata.posterior.sizes["draw"] * units
    assert len(compare_fits([auto, load_fit(tmp_path / "small")]).table) == 2
    off = fit(screen, "gene-cellline", out=tmp_path / "off", log_likelihood=False, **kw)
    assert off.provenance["timings_s"].get("log_likelihood") is None  # not computed
    with pytest.raises(ScreenfitInputError, match="--log-likelihood"):
        compare_fits([load_fit(tmp_path / "off"), load_fit(tmp_path / "small")])
    asked = [fit(screen, m, out=tmp_path / m, log_likelihood=True, **kw) for m in ("gene-cellline", "seed-m1")]
    loaded = [load_fit(f.out) for f in asked]
    for f in loaded:
        assert (f.out / "posterior.zarr").is_dir() and not (f.out / "posterior.nc").exists()
        assert {"log_likelihood", "observed_data"} <= set(f.idata.groups())
    np.testing.assert_array_equal(
        loaded[0].idata.log_likelihood["lfc"].values, asked[0].idata.log_likelihood["lfc"].values
    )
    assert set(compare_fits(loaded).table["model"]) == {"gene-cellline", "seed-m1"}
