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
from screenfit.data.design import GENE, GUIDE, LINE, PDNA_BATCH, build_design
from screenfit.data.facts import parquet_facts, screen_facts
from screenfit.data.stream import GUIDE_LEVELS, stream_design
from screenfit.errors import ScreenfitInputError
from screenfit.fitting import fit, load_fit, streamable_level
from screenfit.inference.samplers import SamplerConfig
from screenfit.io.tables import write_screen
from screenfit.models.base import ModelOptions
from screenfit.models.guide_grid import guide_grid
from screenfit.models.registry import get_model
from screenfit.presets import PRESETS
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
    with pytest.raises(ScreenfitInputError, match="replicate-level rows"):
        fit(streamed, "guide", progress=False)
    depmap = PRESETS["depmap"].spec.build()
    with pytest.raises(ScreenfitInputError, match="streamed at hugo_symbol × depmap_id but"):
        fit(streamed, depmap, progress=False)
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
    # The small variables' draws were held in memory beside the Zarr store (samplers._svi_draw_places).
    ga, gb = memory.table("gene_effects"), streamed.table("gene_effects")
    assert list(ga[GENE]) == list(gb[GENE])
    assert ((ga["mean"] - gb["mean"]).abs() <= 4 * np.sqrt(2 / 1000) * ga["sd"]).all()
    assert streamed.idata.posterior["gene_effect"].sizes["draw"] == 1000
    assert set(streamed.tables) == set(memory.tables)


def test_guide_level_stream_lays_out_the_in_memory_guide_grid(sim_file):
    """The depmap preset streams at guide × line: its grid equals the one laid out in memory, and
    the model built on it has the in-memory model's density (float32 data: within 1e-8 relative)."""
    screen, path = sim_file
    spec = PRESETS["depmap"].spec.build()
    level = streamable_level(spec)
    assert level in GUIDE_LEVELS and PDNA_BATCH in level
    streamed = stream_design(path, spec.covariate_columns, batch_rows=1000, level=level)
    assert streamed.level == level and streamed.grid is not None
    memory = build_design(screen, spec.level(True), spec.covariate_columns)
    expected = guide_grid(memory, by_batch=True, per_guide_ss=True)
    got = streamed.grid
    assert expected is not None and got.shape == expected.shape
    np.testing.assert_array_equal(got.slot_guide, expected.slot_guide)
    np.testing.assert_array_equal(got.n, expected.n)
    np.testing.assert_allclose(got.y_mean, expected.y_mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got.y_ss, expected.y_ss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.y_ss_line, expected.y_ss_line, rtol=1e-9)
    np.testing.assert_array_equal(got.n_line, expected.n_line)
    np.testing.assert_array_equal(got.batch_indicator, expected.batch_indicator)
    np.testing.assert_array_equal(streamed.design.index[PDNA_BATCH], expected.design.index[PDNA_BATCH])
    for col in spec.covariate_columns:
        np.testing.assert_allclose(streamed.design.covariates[col], expected.design.covariates[col], atol=1e-9)
    in_memory, from_stream = spec.build(memory), spec.build(streamed.design, grid=got)
    assert set(in_memory.named_vars) == set(from_stream.named_vars)
    logp_memory, logp_stream = in_memory.compile_logp(), from_stream.compile_logp()
    rng = np.random.default_rng(1)
    start = in_memory.initial_point()
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in start.items()}
        assert logp_stream(point) == pytest.approx(logp_memory(point), rel=1e-8)


def test_guide_level_stream_errors(sim_file, tmp_path):
    screen, _ = sim_file
    table = screen.table.reset_index(drop=True)
    level = (GENE, LINE, GUIDE, PDNA_BATCH)
    two_batches = table.copy()
    line = two_batches[LINE].iloc[0]
    two_batches[PDNA_BATCH] = two_batches[PDNA_BATCH].astype(str)
    two_batches.loc[0, PDNA_BATCH] = "other"
    with pytest.raises(ScreenfitInputError, match=f"{line} was screened against several pDNA batches"):
        stream_design(_write(two_batches, tmp_path / "a.parquet"), level=level)
    gap = table[~((table[GENE] == table[GENE].iloc[0]) & (table[LINE] == line))]
    with pytest.raises(ScreenfitInputError, match="1 gene × cell-line pairs have no rows") as err:
        stream_design(_write(gap, tmp_path / "b.parquet"), level=level)
    assert "b.parquet" in str(err.value.file)
    with pytest.raises(ScreenfitInputError) as err:
        stream_design(_write(table.drop(columns=PDNA_BATCH), tmp_path / "c.parquet"), level=level)
    assert err.value.column == PDNA_BATCH


def test_parquet_facts_are_the_loaded_screens(sim_file):
    screen, path = sim_file
    assert parquet_facts(path, batch_rows=1000) == screen_facts(screen)


@pytest.mark.slow
def test_streamed_default_preset_matches_the_in_memory_fit(sim_file, tmp_path):
    """``fit --stream`` with no model option: the preset the in-memory fit picks, fitted from guide × line
    statistics, gives its gene × line effects (same seed and steps: r ≥ 0.999, SDs within 5%)."""
    _, path = sim_file
    outs = {}
    for name, extra in (("stream", ["--stream"]), ("memory", [])):
        outs[name] = tmp_path / name
        args = ["fit", str(path), *extra, "--out", str(outs[name]), "-q", "--no-log-likelihood"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    streamed, memory = load_fit(outs["stream"]), load_fit(outs["memory"])
    assert streamed.preset == memory.preset == "depmap"
    assert streamed.config["likelihood_level"] == memory.config["likelihood_level"] == list(GUIDE_LEVELS[1])
    a, b = memory.table("gene_cell_line_effects"), streamed.table("gene_cell_line_effects")
    assert list(a[GENE]) == list(b[GENE]) and list(a[LINE]) == list(b[LINE])
    assert np.corrcoef(a["mean"], b["mean"])[0, 1] >= 0.999
    assert np.all(np.abs(b["sd"] / a["sd"] - 1) <= 0.05)
    guides = streamed.table("guide_parameters")
    assert guides[GENE].notna().all()
