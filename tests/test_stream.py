"""Screens streamed from Parquet: the design equals the in-memory one, errors name file, column and
rows, the grid likelihood is the same density, and a streamed SVI fit writes Zarr when large."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import screenfit.inference.samplers as samplers
import screenfit.io.fit_folder as fit_folder
from screenfit.cli import app
from screenfit.data.design import GENE, LINE, build_design
from screenfit.data.stream import stream_design
from screenfit.errors import ScreenfitInputError
from screenfit.fitting import fit, load_fit
from screenfit.inference.samplers import SamplerConfig
from screenfit.io.tables import write_screen
from screenfit.models.base import ModelOptions
from screenfit.models.registry import get_model
from screenfit.simulate import SimulationConfig, simulate_screen


@pytest.fixture(scope="module")
def sim_file(tmp_path_factory):
    cfg = SimulationConfig(n_genes=30, n_cell_lines=12, seed=9, amplified_fraction=0.15, cn_slope_mean=-0.1)
    screen, _, _ = simulate_screen(cfg)
    path = tmp_path_factory.mktemp("stream") / "screen.parquet"
    write_screen(screen, path)
    return screen, path


@pytest.mark.parametrize("cn_column", ["gene_cn_z", "cn_excess"])
def test_streamed_design_equals_the_in_memory_design(sim_file, cn_column):
    screen, path = sim_file
    spec = get_model("gene-by-line", ModelOptions(cn_column=cn_column))
    memory = build_design(screen, spec.level(True), spec.covariate_columns)
    # Batches of 1,000 rows: groups are summed over several batches (errors list the first bad batch).
    streamed = stream_design(path, spec.covariate_columns, batch_rows=1000).design
    assert streamed.n_rows == memory.n_rows == screen.n_rows
    for col in (GENE, LINE, "sgrna", "lineage"):
        assert streamed.coords[col] == memory.coords[col]
    for col in (GENE, LINE, "lineage"):
        np.testing.assert_array_equal(streamed.index[col], memory.index[col])
    np.testing.assert_array_equal(streamed.n, memory.n)
    np.testing.assert_allclose(streamed.y_mean, memory.y_mean, atol=1e-12)
    np.testing.assert_allclose(streamed.y_ss, memory.y_ss, atol=1e-9)
    np.testing.assert_allclose(streamed.covariates[cn_column], memory.covariates[cn_column], atol=1e-9)
    np.testing.assert_array_equal(streamed.guide_gene, memory.guide_gene)
    np.testing.assert_array_equal(streamed.line_lineage, memory.line_lineage)
    assert streamed.grid_shape == memory.grid_shape == (30, 12)


def _write(frame: pd.DataFrame, path):
    frame.to_parquet(path, index=False)
    return path


def test_streamed_errors_name_file_column_and_rows(sim_file, tmp_path):
    screen, _ = sim_file
    table = screen.table.reset_index(drop=True)
    with pytest.raises(ScreenfitInputError) as err:
        stream_design(_write(table.drop(columns="lfc"), tmp_path / "a.parquet"))
    assert err.value.column == "lfc" and "a.parquet" in str(err.value.file)
    bad = table.copy()
    bad.loc[[7, 2500], "lfc"] = np.nan
    with pytest.raises(ScreenfitInputError) as err:
        stream_design(_write(bad, tmp_path / "b.parquet"), batch_rows=1000)
    assert err.value.rows == [8, 2501]  # 1-based data rows across batches
    varying = table.copy()
    varying.loc[0, "gene_cn"] = varying.loc[0, "gene_cn"] + 0.5
    with pytest.raises(ScreenfitInputError, match="varies between rows"):
        stream_design(_write(varying, tmp_path / "c.parquet"), ("gene_cn_z",))
    with pytest.raises(ScreenfitInputError, match="no such screen file"):
        stream_design(tmp_path / "missing.parquet")


def test_grid_likelihood_is_the_same_density(sim_file):
    """The sampled grid form and the per-group form differ by a constant at every point."""
    screen, _ = sim_file
    spec = get_model("gene-by-line")
    design = build_design(screen, spec.level(True), spec.covariate_columns)
    grid_model, group_model = spec.build(design), spec.build(design, evaluation=True)
    assert "lfc_grid" in grid_model.named_vars and "lfc" not in grid_model.named_vars
    grid_logp, group_logp = grid_model.compile_logp(), group_model.compile_logp()
    rng = np.random.default_rng(0)
    start = grid_model.initial_point()
    gaps = []
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in start.items()}
        gaps.append(grid_logp(point) - group_logp(point))
    assert np.ptp(gaps) < 1e-6 * abs(group_logp(start)), gaps
    incomplete = design.subset(np.arange(design.n_groups) != 5)
    assert incomplete.grid_shape is None
    assert "lfc" in spec.build(incomplete).named_vars


def test_streamed_fit_refuses_what_it_cannot_do(sim_file):
    _, path = sim_file
    streamed = stream_design(path, ("gene_cn_z",))
    with pytest.raises(ScreenfitInputError, match="guide- or replicate-level rows"):
        fit(streamed, "guide", progress=False)
    with pytest.raises(ScreenfitInputError, match="log-likelihood"):
        fit(streamed, "gene-by-line", log_likelihood=True, progress=False)
    result = CliRunner().invoke(app, ["fit", str(path), "--stream", "--genes", "5", "--out", "x"])
    assert result.exit_code == 1 and "--genes" in result.output


@pytest.mark.slow
def test_streamed_svi_fit_matches_in_memory_and_writes_zarr_when_large(sim_file, tmp_path, monkeypatch):
    screen, path = sim_file
    sampler = SamplerConfig(method="svi")
    memory = fit(screen, "gene-by-line", sampler=sampler, log_likelihood=False, predictive=False, progress=False)
    # Force the large-posterior path: draws streamed to Zarr in blocks, posterior.zarr written.
    monkeypatch.setattr(samplers, "STREAM_BYTES", 1000)
    monkeypatch.setattr(samplers, "SVI_DRAW_BLOCK_VALUES", 50_000)
    monkeypatch.setattr(fit_folder, "POSTERIOR_VALUES_NETCDF", 1000)
    out = tmp_path / "fit"
    result = CliRunner().invoke(
        app, ["fit", str(path), "--stream", "--model", "gene-by-line", "--sampler", "svi", "--out", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "posterior.zarr").is_dir() and not (out / "posterior.nc").exists()
    streamed = load_fit(out)
    assert streamed.status == memory.status == "approximate"
    assert streamed.idata.posterior["gene_line_effect"].sizes["draw"] == 1000
    assert streamed.idata.posterior["gene_line_effect"].dtype == np.float32  # streamed draws are float32
    a = memory.table("gene_cell_line_effects")
    b = streamed.table("gene_cell_line_effects")
    assert list(a[GENE]) == list(b[GENE]) and list(a[LINE]) == list(b[LINE])
    # Same optimum (same design, seed and steps); the draws differ by blocking only, so means
    # agree within the Monte-Carlo error of two sets of 1,000 draws: 4 √2 sd / √1000 ≈ 0.18 sd.
    assert ((a["mean"] - b["mean"]).abs() <= 4 * np.sqrt(2 / 1000) * a["sd"]).all()
    assert set(streamed.tables) == set(memory.tables)
