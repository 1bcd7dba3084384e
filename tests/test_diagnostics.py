"""The convergence gate's own arithmetic (fast tier)."""

from __future__ import annotations

from unittest.mock import patch

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from screenfit.inference.diagnostics import _bfmi, blocks, per_parameter
from screenfit.results.tables import hdi_bounds, summarize


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
