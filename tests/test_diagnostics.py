"""The convergence gate's own arithmetic (fast tier)."""

from __future__ import annotations

from unittest.mock import patch

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from screenfit.inference import diagnostics
from screenfit.inference.diagnostics import _bfmi, blocks, per_parameter
from screenfit.results.tables import gene_line_summaries, hdi_bounds, summarize


def test_bfmi_does_not_depend_on_the_energy_level():
    """A counts fit's energies sit near −9·10⁸ with a spread of ~30: BFMI must be the same as at level 0."""
    rng = np.random.default_rng(0)
    # An AR(1) energy trace per chain: BFMI ≈ 2(1 − ρ) = 0.6 for ρ = 0.7.
    eps = rng.normal(0, 30, (4, 2000))
    energy = np.zeros_like(eps)
    for t in range(1, eps.shape[1]):
        energy[:, t] = 0.7 * energy[:, t - 1] + eps[:, t]
    at_zero = _bfmi(energy)
    assert 0.5 < at_zero < 0.7
    assert abs(_bfmi(energy - 9.18e8) - at_zero) < 1e-6


def test_block_summaries_equal_whole_ones():
    """Diagnostics and summaries computed in blocks of genes equal the one-shot ArviZ/NumPy results."""
    rng = np.random.default_rng(1)
    da = xr.DataArray(
        rng.normal(size=(4, 300, 7, 5)).cumsum(axis=1) * 0.05 + rng.normal(size=(4, 300, 7, 5)),
        dims=("chain", "draw", "hugo_symbol", "depmap_id"),
        coords={"hugo_symbol": [f"G{i}" for i in range(7)], "depmap_id": [f"L{i}" for i in range(5)]},
        name="gene_line_effect",
    )
    assert len(list(blocks(da, max_values=4 * 300 * 5 * 2))) == 4  # 2 genes per block, 7 genes
    idata = az.InferenceData(posterior=da.to_dataset())
    whole = per_parameter(idata, ["gene_line_effect"])
    with patch("screenfit.inference.diagnostics.BLOCK_VALUES", 4 * 300 * 5 * 2):
        assert len(list(blocks(da))) == 4
        blocked = per_parameter(idata, ["gene_line_effect"])
        blocked_summary = summarize(da, 0.94, -0.5)
    pd.testing.assert_frame_equal(whole, blocked)
    np.testing.assert_allclose(whole["r_hat"], np.ravel(az.rhat(idata, method="rank")["gene_line_effect"].values))
    pd.testing.assert_frame_equal(summarize(da, 0.94, -0.5), blocked_summary)


@pytest.mark.parametrize(("chunk_rows", "max_genes"), [(3, 2), (2, 5)])
def test_blocks_of_lazily_read_draws_follow_their_stored_chunks(chunk_rows, max_genes):
    """Blocks start on chunk boundaries (a chunk is never read for two blocks that straddle it);
    a chunk larger than a block is split in memory. Together the blocks are the array."""
    rng = np.random.default_rng(2)
    da = xr.DataArray(rng.normal(size=(1, 20, 11, 3)), dims=("chain", "draw", "hugo_symbol", "depmap_id"))
    lazy = da.chunk({"hugo_symbol": chunk_rows})
    parts = list(blocks(lazy, max_values=20 * 3 * max_genes))
    sizes = [p.sizes["hugo_symbol"] for p in parts]
    assert max(sizes) <= max(max_genes, chunk_rows) and sum(sizes) == 11
    starts = np.cumsum([0, *sizes[:-1]])
    if chunk_rows <= max_genes:
        assert all(start % chunk_rows == 0 for start in starts)
    else:
        assert all(start % chunk_rows + size <= chunk_rows for start, size in zip(starts, sizes, strict=True))
    xr.testing.assert_equal(xr.concat(parts, dim="hugo_symbol"), da)


def test_vectorised_hdi_equals_arviz():
    """The tables' HDI over every element at once equals ``az.hdi`` element by element, for
    skewed, bimodal and tied draws at several probabilities; an element with a NaN draw is NaN."""
    rng = np.random.default_rng(3)
    draws = np.stack(
        [
            rng.normal(size=999),
            rng.gamma(1.5, size=999),
            np.r_[rng.normal(-3, 1, 500), rng.normal(3, 1, 499)],
            np.round(rng.normal(size=999), 1),
        ]
    )
    for prob in (0.5, 0.9, 0.94):
        lower, upper = hdi_bounds(draws, prob)
        expected = np.array([az.hdi(row, hdi_prob=prob) for row in draws])
        np.testing.assert_array_equal(np.c_[lower, upper], expected)
    draws[1, 10] = np.nan
    lower, upper = hdi_bounds(draws[:, None, :], 0.9)
    assert lower.shape == (4, 1) and np.isnan(lower[1, 0]) and np.isnan(upper[1, 0]) and np.isfinite(lower).sum() == 3


@pytest.mark.parametrize("lazy, block_values", [(False, None), (True, None), (True, 12 * 600)])
def test_gene_line_means_summarise_each_draws_mean_over_the_lines(monkeypatch, lazy, block_values):
    """``gene_line_means``: per gene, the draws of ``(1/C) Σ_c θ_gc`` summarised (mean, SD, HDI,
    P(< threshold)) — not the mean of the per-line intervals — in memory or read lazily, in one
    block or a gene at a time (read once with the gene × line summary, which stays the same)."""
    if block_values is not None:
        monkeypatch.setattr(diagnostics, "BLOCK_VALUES", block_values)
    rng = np.random.default_rng(2)
    # A gene shifted in every draw moves its mean over lines as a block: its interval is the
    # draws' spread of that shift (SD 0.3), not the per-line spread averaged (SD 1/√12 smaller).
    draws = rng.normal(0, 1.0, (2, 300, 3, 12)) + rng.normal(0, 0.3, (2, 300, 3, 1))
    theta = xr.DataArray(draws, dims=("chain", "draw", "hugo_symbol", "depmap_id"),
                         coords={"hugo_symbol": ["A", "B", "C"]}, name="gene_line_effect")  # fmt: skip
    long, table = gene_line_summaries(theta.chunk({"draw": 100}) if lazy else theta, 0.9, -0.5)
    pd.testing.assert_frame_equal(long, summarize(theta, 0.9, -0.5, column="prob_dependency"))
    pd.testing.assert_frame_equal(table, gene_line_summaries(theta, 0.9, -0.5)[1])
    per_draw = draws.mean(axis=3).transpose(2, 0, 1).reshape(3, -1)
    lower, upper = hdi_bounds(per_draw, 0.9)
    assert list(table["hugo_symbol"]) == ["A", "B", "C"]
    np.testing.assert_allclose(table["mean"], per_draw.mean(axis=1))
    np.testing.assert_allclose(table["sd"], per_draw.std(axis=1, ddof=1), rtol=1e-2)
    np.testing.assert_allclose(table["hdi_lower"], lower)
    np.testing.assert_allclose(table["hdi_upper"], upper)
    np.testing.assert_allclose(table["prob_lt_threshold"], (per_draw < -0.5).mean(axis=1))
    assert (table["sd"] > 0.3).all() and (table["sd"] < 0.45).all()
