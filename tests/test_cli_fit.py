"""`screenfit fit / models / plot` end to end: outputs, exit codes, the cache and atomic writes."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from screenfit.cli import app
from screenfit.io.tables import write_screen
from screenfit.simulate import SimulationConfig, simulate_screen

runner = CliRunner()


@pytest.fixture(scope="module")
def screen_file(tmp_path_factory):
    screen, _, _ = simulate_screen(SimulationConfig.additive(n_genes=8, n_cell_lines=20, seed=4))
    path = tmp_path_factory.mktemp("data") / "screen.parquet"
    write_screen(screen, path)
    return path


def test_models_lists_the_zoo():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    for name in (
        "seed-m1",
        "seed-m2",
        "gene-cellline",
        "guide",
        "copy-number",
        "gene-by-line",
        "lineage",
        "counts",
        "condition",
        "multi-library",
    ):
        assert name in result.output


@pytest.mark.slow
def test_fit_writes_every_output_and_reuses_the_cache(screen_file, tmp_path):
    out = tmp_path / "fit"
    args = ["fit", str(screen_file), "--model", "gene-cellline", "--out", str(out), "--quiet"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    names = {p.name for p in out.iterdir()}
    assert {"posterior.nc", "config.json", "provenance.json", "diagnostics.json", "gene_effects.parquet",
            "gene_effects.csv", "cell_line_parameters.parquet", "hyperparameters.csv"} <= names  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert config["ci_prob"] == 0.94 and config["model"] == "gene-cellline" and config["sampler"]["seed"] == 0
    provenance = json.loads((out / "provenance.json").read_text())
    assert set(provenance["timings_s"]) >= {"load", "compile", "sample", "write"}
    assert json.loads((out / "diagnostics.json").read_text())["status"] == "converged"
    genes = pd.read_csv(out / "gene_effects.csv")
    assert list(genes.columns[:6]) == ["hugo_symbol", "mean", "sd", "hdi_lower", "hdi_upper", "prob_lt_threshold"]
    import arviz as az

    idata = az.from_netcdf(out / "posterior.nc")
    assert {"posterior", "log_likelihood", "observed_data", "posterior_predictive"} <= set(idata.groups())
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "reused from cache" in again.output
    other = runner.invoke(app, [*args[:-1], "--seed", "3", "--quiet"])
    assert other.exit_code == 1 and "--force" in other.output
    plots = runner.invoke(app, ["plot", str(out), "--out", str(tmp_path / "plots")])
    assert plots.exit_code == 0, plots.output
    # gene-cellline: no copy number, guide offsets or gene × line effects to draw.
    expected = {"trace", "forest", "ppc", "ppc_groups", "screen_quality"}
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {f"{name}.png" for name in expected}


@pytest.mark.slow
def test_failed_gate_exits_2_and_is_marked(screen_file, tmp_path):
    out = tmp_path / "m2"
    result = runner.invoke(app, ["fit", str(screen_file), "--model", "seed-m2", "--out", str(out), "--quiet"])
    assert result.exit_code == 2
    assert "FAIL" in result.output and "not identified" in result.output
    assert json.loads((out / "diagnostics.json").read_text())["status"] == "failed"
    assert (out / "gene_effects.parquet").exists()


def test_bad_fit_requests_exit_1(screen_file, tmp_path):
    unknown = runner.invoke(app, ["fit", str(screen_file), "--model", "m3", "--out", str(tmp_path / "x")])
    assert unknown.exit_code == 1
    missing = runner.invoke(app, ["fit", str(screen_file), "--covariate", "nope", "--out", str(tmp_path / "y")])
    assert missing.exit_code == 1
    nu = runner.invoke(app, ["fit", str(screen_file), "--guide-offsets", "--guide-offset-nu", "many",
                             "--out", str(tmp_path / "z")])  # fmt: skip
    assert nu.exit_code == 1 and "'learn'" in nu.output and "Traceback" not in nu.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists() and not (tmp_path / "z").exists()


@pytest.mark.slow
def test_interrupted_write_leaves_nothing_that_looks_complete(screen_file, tmp_path, monkeypatch):
    import screenfit.fitting as fitting
    import screenfit.io.fit_folder as fit_folder
    from screenfit.io.tables import read_long_table

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_folder, "write_table", boom)
    out = tmp_path / "fit"
    with pytest.raises(KeyboardInterrupt):
        fitting.fit(
            read_long_table(screen_file),
            "gene-cellline",
            out=out,
            log_likelihood=False,
            predictive=False,
            progress=False,
        )
    assert not out.exists()
    assert not list(tmp_path.iterdir())


def test_variational_fit_writes_log_likelihood_and_predictive_checks(screen_file, tmp_path):
    out = tmp_path / "vi"
    args = ["fit", str(screen_file), "--model", "gene-cellline", "--sampler", "advi", "--out", str(out), "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "diagnostics.json").read_text())["status"] == "approximate"
    assert (out / "ppc_calibration.parquet").exists()
    import arviz as az

    assert {"log_likelihood", "observed_data", "posterior_predictive"} <= set(
        az.from_netcdf(out / "posterior.nc").groups()
    )


def test_a_full_disk_is_one_message_and_exit_code_1(screen_file, tmp_path, monkeypatch):
    """ENOSPC (here raised where the fit would write) reaches the user as one paragraph naming the
    file and the fix, with exit code 1 and no traceback; other OS errors still propagate."""
    import errno

    import screenfit.fitting

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "fit" / "posterior.nc"))

    monkeypatch.setattr(screenfit.fitting, "fit", full)
    result = runner.invoke(app, ["fit", str(screen_file), "--out", str(tmp_path / "fit"), "-q"])
    assert result.exit_code == 1, result.output
    assert "no space left" in result.output and "posterior.nc" in result.output
    assert "SCREENFIT_CACHE_DIR" in result.output and "Traceback" not in result.output

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(screenfit.fitting, "fit", broken)
    result = runner.invoke(app, ["fit", str(screen_file), "--out", str(tmp_path / "fit2"), "-q"])
    assert isinstance(result.exception, OSError) and "no space left" not in result.output  # a bug, not a full disk
