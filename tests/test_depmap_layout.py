"""DepMap-layout outputs: per-draw scaling, probability of dependency, calls, and files that load like DepMap's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from screenfit.data.design import GENE, LINE
from screenfit.errors import ScreenfitInputError
from screenfit.reference import essential_sets
from screenfit.results import depmap
from screenfit.results.depmap import depmap_outputs, gene_calls, line_medians, scaled_draws


def _theta(rng: np.random.Generator, n_lines: int = 20) -> tuple[xr.DataArray, list[str], list[str]]:
    essential, nonessential = essential_sets()
    ess, non = essential[:30], nonessential[:30]
    genes = [*ess, *non, "SEL1", "SEL2"]
    lines = [f"ACH-{i:06d}" for i in range(n_lines)]
    # Per line: a shift and a scale (screen quality) the DepMap scaling must undo.
    shift = rng.normal(0, 0.3, n_lines)
    scale = rng.uniform(0.5, 1.5, n_lines)
    base = np.r_[np.full(30, -1.0), np.zeros(30), 0.0, 0.0][:, None] * np.ones(n_lines)
    base[60, : n_lines // 2] = -1.0  # SEL1: essential in half the lines
    base[61, :2] = -0.6  # SEL2: mild, in two lines only
    draws = base[None, None] * scale + shift + rng.normal(0, 0.05, (4, 200, len(genes), n_lines))
    theta = xr.DataArray(
        draws, dims=("chain", "draw", GENE, LINE),
        coords={"chain": range(4), "draw": range(200), GENE: genes, LINE: lines},
    )  # fmt: skip
    return theta, ess, non


def test_each_draw_is_scaled_to_the_depmap_medians():
    theta, ess, non = _theta(np.random.default_rng(0))
    scaled = scaled_draws(theta, ess, non)
    np.testing.assert_allclose(scaled.sel({GENE: ess}).median(GENE), -1.0, atol=1e-12)
    np.testing.assert_allclose(scaled.sel({GENE: non}).median(GENE), 0.0, atol=1e-12)


@pytest.mark.parametrize("lazy", [False, True])
def test_line_medians_are_numpys_medians_over_the_reference_genes(monkeypatch, lazy):
    """Odd and even numbers of reference genes, genes in any order, several chains, draws in
    blocks (a block size that does not divide the draws), in memory or read lazily."""
    theta, ess, non = _theta(np.random.default_rng(4), n_lines=7)
    theta = theta.astype(np.float32)
    if lazy:
        theta = theta.chunk({"draw": 50})
    monkeypatch.setattr(depmap, "MEDIAN_ROWS", 7 * 13)
    odd = [*reversed(ess[:9]), "SEL1", *non[:5]]
    med_odd, med_non = line_medians(theta, odd, non)
    values = np.asarray(theta.values)
    position = {g: i for i, g in enumerate(theta[GENE].values)}
    for got, genes in ((med_odd, odd), (med_non, non)):
        expected = np.median(values[:, :, [position[g] for g in genes], :], axis=2)
        assert got.dims == ("chain", "draw", LINE) and got.dtype == np.float32
        np.testing.assert_allclose(got.values, expected, rtol=1e-6, atol=1e-7)


def test_outputs_load_like_depmap_files_and_calls_follow_the_rules(tmp_path):
    theta, ess, non = _theta(np.random.default_rng(1))
    out = depmap_outputs(theta, {"SEL1": 999})
    assert out.reference_counts == (30, 30)
    for name, table in (("CRISPRGeneEffect", out.gene_effect), ("CRISPRGeneDependency", out.gene_dependency)):
        path = tmp_path / f"{name}.csv"
        table.to_csv(path, index=False)
        assert path.read_text().startswith(",")  # DepMap's header: an unnamed first column
        loaded = pd.read_csv(path, index_col=0)
        assert loaded.shape == (20, 62) and loaded.index[0] == "ACH-000000" and "SEL1 (999)" in loaded.columns
    prob = out.gene_dependency.set_index("")
    assert prob.to_numpy().min() >= 0 and prob.to_numpy().max() <= 1
    assert (prob["SEL1 (999)"].iloc[:10] > 0.99).all() and (prob["SEL1 (999)"].iloc[10:] < 0.01).all()
    calls = out.calls.set_index(GENE)
    assert calls.loc[ess, "common_essential"].all() and not calls.loc[non, "common_essential"].any()
    assert calls.loc["SEL1", "strongly_selective"] and not calls.loc["SEL1", "common_essential"]
    assert not calls.loc[non, "strongly_selective"].any()


def test_calls_thresholds():
    prob = pd.DataFrame([[0.95] * 9 + [0.2], [0.95] + [0.05] * 9, [0.6] * 10], index=["CE", "SS", "MILD"])
    calls = gene_calls(-prob, prob).set_index(GENE)
    assert calls.loc["CE", "common_essential"] and not calls.loc["CE", "strongly_selective"]
    assert calls.loc["SS", "strongly_selective"]
    assert calls.loc["MILD", "common_essential"]  # dependent (P > ½) in every line


def test_too_few_reference_genes_is_a_clear_error():
    theta, _, _ = _theta(np.random.default_rng(2))
    few = theta.sel({GENE: theta[GENE].values[28:34]})
    with pytest.raises(ScreenfitInputError, match="reference"):
        depmap_outputs(few, {})


def test_long_table_on_depmap_scale_has_intervals_from_the_scaled_draws(monkeypatch):
    """Mean and probability match the wide files; the HDIs are those of the per-draw rescaled
    effects (so they carry each draw's scale), also when summarised in blocks of genes."""
    from screenfit.inference import diagnostics
    from screenfit.results.tables import summarize

    monkeypatch.setattr(diagnostics, "BLOCK_VALUES", 100_000)  # 6 genes per block
    theta, ess, non = _theta(np.random.default_rng(3))
    out = depmap_outputs(theta, {}, ci_prob=0.9)
    long = out.effects.set_index([GENE, LINE])
    wide = out.gene_effect.set_index("")
    assert long.loc[("SEL1", "ACH-000003"), "mean"] == pytest.approx(wide.loc["ACH-000003", "SEL1"])
    expected = summarize(scaled_draws(theta, ess, non).rename("x"), 0.9).set_index([GENE, LINE])
    columns = ["mean", "sd", "hdi_lower", "hdi_upper"]
    pd.testing.assert_frame_equal(long[columns], expected[columns])
    inside = (long["hdi_lower"] <= -1.0) & (long["hdi_upper"] >= -1.0)
    assert inside.loc[ess].mean() > 0.8  # every essential gene sits near −1 after scaling
