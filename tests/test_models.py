"""The model zoo without sampling: registry, labelled parameters, bad requests, and the exactness
of the sufficient-statistics likelihood."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import pytest

from screenfit.data.design import GUIDE, LINE, ROW_LEVEL, _constant_within, _first_rows, _group_codes, build_design
from screenfit.errors import ScreenfitInputError
from screenfit.fitting import fit
from screenfit.models.base import ModelOptions
from screenfit.models.registry import MODELS, get_model
from screenfit.simulate import SimulationConfig, simulate_screen

EXPECTED = {
    "seed-m1", "seed-m2", "gene-cellline", "guide", "copy-number", "gene-by-line", "gene-by-line-lineage", "lineage",
    "counts",
}  # fmt: skip


@pytest.fixture(scope="module")
def tiny():
    screen, _, _ = simulate_screen(SimulationConfig(n_genes=8, n_cell_lines=12, seed=2))
    return screen


def _perturbed_points(model, seed: int, n: int = 4, scale: float = 0.3) -> list[dict[str, np.ndarray]]:
    """``n`` points around the model's initial point, each value moved by ``N(0, scale)``."""
    rng = np.random.default_rng(seed)
    return [{k: v + rng.normal(0, scale, np.shape(v)) for k, v in model.initial_point().items()} for _ in range(n)]


def test_registry_has_the_zoo():
    assert set(MODELS) >= EXPECTED
    for name, cls in MODELS.items():
        assert cls.name == name and cls.__doc__ and cls.title


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_model_builds_with_labelled_parameters(tiny, name):
    spec = get_model(name)
    design = build_design(tiny, spec.level(True), spec.covariate_columns, count_columns=spec.observed == "counts")
    model = spec.build(design)
    dims = model.named_vars_to_dims
    assert dims[spec.gene_effect] == ("hugo_symbol",)
    assert list(model.coords["hugo_symbol"]) == sorted(tiny.table["hugo_symbol"].astype(str).unique())
    if spec.gene_line_effect:
        assert dims[spec.gene_line_effect] == ("hugo_symbol", "depmap_id")
    assert np.isfinite(model.compile_logp()(model.initial_point()))


@pytest.mark.parametrize(
    "name", ["gene-cellline", "guide", "copy-number", "gene-by-line", "gene-by-line-lineage", "lineage", "seed-m1"]
)
def test_sufficient_statistics_equal_the_full_likelihood(tiny, name):
    """Collapsed and row-level log densities differ by a constant, whatever the parameters."""
    spec = get_model(name, ModelOptions(covariate="is_mutated"))
    collapsed = spec.build(build_design(tiny, spec.level(True), spec.covariate_columns))
    full = spec.build(build_design(tiny, ROW_LEVEL, spec.covariate_columns))
    assert collapsed.free_RVs and len(build_design(tiny, spec.level(True), spec.covariate_columns).n) < tiny.n_rows
    logp_c, logp_f = collapsed.compile_logp(), full.compile_logp()
    diffs = [logp_f(point) - logp_c(point) for point in _perturbed_points(collapsed, seed=0)]
    assert np.ptp(diffs) < 1e-6 * max(1.0, abs(diffs[0]))


def test_counts_sampling_density_equals_the_negative_binomial(tiny):
    """The tabulated form the sampler sees equals PyMC's per-row NegativeBinomial, whatever the parameters."""
    spec = get_model("counts")
    design = build_design(tiny, spec.level(True), spec.covariate_columns, count_columns=True)
    fast, exact = spec.build(design), spec.build(design, evaluation=True)
    assert "counts_final" in exact.named_vars and "counts_final" not in fast.named_vars
    logp_fast, logp_exact = fast.compile_logp(), exact.compile_logp()
    points = _perturbed_points(fast, seed=1, n=5, scale=0.5)
    diffs = [(logp_exact(point) - logp_fast(point)) / abs(logp_exact(point)) for point in points]
    assert np.max(np.abs(diffs)) < 1e-10


def test_unknown_model(tiny):
    with pytest.raises(ScreenfitInputError, match=r"unknown model 'm3'.*gene-cellline"):
        fit(tiny, "m3")


def test_missing_covariate_column(tiny):
    with pytest.raises(ScreenfitInputError, match="covariate column 'kras_status'") as info:
        fit(tiny, "gene-cellline", options=ModelOptions(covariate="kras_status"), progress=False)
    assert info.value.column == "kras_status"


def test_counts_model_needs_counts(tiny):
    no_counts = tiny.with_table(tiny.table.drop(columns=["counts_initial", "counts_final"]))
    with pytest.raises(ScreenfitInputError, match="models read counts") as info:
        fit(no_counts, "counts", progress=False)
    assert "gene-cellline" in info.value.message


def test_lineage_model_needs_lineage(tiny):
    with pytest.raises(ScreenfitInputError, match="no 'lineage' column"):
        fit(tiny.with_table(tiny.table.drop(columns=["lineage"])), "lineage", progress=False)


def test_copy_number_model_needs_copy_number(tiny):
    with pytest.raises(ScreenfitInputError, match="needs copy number"):
        fit(tiny.with_table(tiny.table.drop(columns=["gene_cn"])), "copy-number", progress=False)


def test_parametrisation_rules_follow_how_well_the_data_pin_each_group():
    """The data-driven centring rules: centred where data pin a group down, non-centred where they do not."""
    from screenfit.data.design import build_design
    from screenfit.models.blocks import genes_varying_across_lines, noise_is_data_rich, quality_is_data_rich

    level = ("hugo_symbol", "depmap_id")
    flat, _, _ = simulate_screen(SimulationConfig.additive(n_genes=120, n_cell_lines=30, seed=2))
    d = build_design(flat, level)
    # One noise SD, one quality, no gene × line variation: nothing to centre.
    assert not noise_is_data_rich(d) and not quality_is_data_rich(d) and genes_varying_across_lines(d) == []
    rich, _, _ = simulate_screen(
        SimulationConfig.additive(n_genes=30, n_cell_lines=40, seed=2, noise_sd_spread=0.6, n_replicates=4)
    )
    assert noise_is_data_rich(build_design(rich, level))  # lines' noise differs far more than it is uncertain
    t = flat.table.copy()
    selective = sorted(t["hugo_symbol"].astype(str).unique())[:2]
    lines = t["depmap_id"].astype(str)
    hit = t["hugo_symbol"].astype(str).isin(selective) & lines.isin(sorted(lines.unique())[::3])
    t.loc[hit, "lfc"] -= 1.5  # two genes essential in a third of the lines only
    assert sorted(genes_varying_across_lines(build_design(flat.with_table(t), level))) == selective


def test_gene_by_line_draws_more_on_screens_with_many_gene_line_effects():
    from screenfit.jobs import load_example
    from screenfit.models.registry import get_model
    from screenfit.simulate import SimulationConfig, simulate_screen

    spec = get_model("gene-by-line")
    seed_sized, _, _ = simulate_screen(SimulationConfig(n_genes=26, n_cell_lines=300))  # 7,800 effects
    assert spec.draws_for(seed_sized) == 2000
    assert spec.draws_for(load_example()) == 4000  # 883 genes × 41 lines
    assert get_model("gene-cellline").draws_for(load_example()) == 1000


def test_default_draws_double_on_genome_wide_screens(tiny, monkeypatch):
    """The gate's largest R-hat over ~18,000 gene effects crosses 1.01 by chance at 1,000 draws."""
    spec = get_model("gene-cellline")
    assert spec.draws_for(tiny) == 1000
    monkeypatch.setattr(type(spec), "MANY_GENES", tiny.count("hugo_symbol") - 1)
    assert spec.draws_for(tiny) == 2000
    assert spec.sampler_for(tiny, None).draws == 2000


@pytest.mark.parametrize("name", ["gene-cellline", "copy-number", "lineage"])
def test_grid_broadcast_gives_the_same_density_without_materialising_terms(tiny, name):
    """``on_grid`` only moves the reshape: same log density and gradient, no grid-sized Alloc."""
    from pytensor.tensor.basic import Alloc

    spec = get_model(name, ModelOptions(covariate="is_mutated"))
    design = build_design(tiny, spec.level(True), spec.covariate_columns)
    assert design.grid_shape is not None
    flat = get_model(name, ModelOptions(covariate="is_mutated"))
    flat.grid_broadcast = False  # type: ignore[misc]
    models = [spec.build(design), flat.build(design)]
    fns = [m.logp_dlogp_function(ravel_inputs=True) for m in models]
    start = np.concatenate([np.ravel(models[0].initial_point()[v.name]) for v in models[0].value_vars])
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = start + rng.normal(0, 0.3, start.shape)
        (lp_a, g_a), (lp_b, g_b) = (f._pytensor_function(x) for f in fns)
        assert lp_a == pytest.approx(lp_b, rel=1e-10)
        np.testing.assert_allclose(g_a, g_b, rtol=1e-8, atol=1e-8)
    allocs = [sum(isinstance(n.op, Alloc) for n in f._pytensor_function.maker.fgraph.apply_nodes) for f in fns]
    assert allocs[0] == 0 < allocs[1]


@pytest.mark.parametrize("name", ["gene-cellline", "gene-by-line"])
def test_guide_levels_centred_on_the_gene_give_the_same_density_as_free_offsets(tiny, name):
    """``ω_sb ~ N(α_g, σ_γ)``, ``γ = ω − α`` is only a change of variables (Jacobian 1) from
    ``γ_sb ~ N(0, σ_γ)``: equal log densities at matching points, whatever the parameters."""
    options = ModelOptions(guide_offsets=True)
    spec, free = get_model(name, options), get_model(name, options)
    free.gene_effect = "not_a_variable"  # type: ignore[misc]  # no anchor: offsets drawn directly
    design = build_design(tiny, spec.level(True), spec.covariate_columns)
    assert "pdna_batch" in design.index
    centred, direct = spec.build(design), free.build(design)
    assert "guide_level" in centred.named_vars and "guide_level" not in direct.named_vars
    logp_c, logp_d = centred.compile_logp(), direct.compile_logp()
    for point in _perturbed_points(centred, seed=3):
        moved = {k: v for k, v in point.items() if k != "guide_level"}
        moved["guide_offset"] = point["guide_level"] - point["gene_effect"][design.guide_gene][:, None]
        assert logp_c(point) == pytest.approx(logp_d(moved), rel=1e-10)


@pytest.mark.parametrize("name", ["gene-cellline", "copy-number", "gene-by-line"])
def test_guide_grid_gives_the_guide_level_density(tiny, name):
    """With guide offsets the sampler sees dense gene × guide-slot × line arrays: the same log
    density (up to a constant) as the per-group Gaussian likelihood, whatever the parameters."""
    spec = get_model(name, ModelOptions(guide_offsets=True))
    design = build_design(tiny, spec.level(True), spec.covariate_columns)
    fast, exact = spec.build(design), spec.build(design, evaluation=True)
    assert "lfc_guide_grid" in fast.named_vars and "lfc" in exact.named_vars
    assert {v.name for v in fast.free_RVs} == {v.name for v in exact.free_RVs}
    logp_f, logp_e = fast.compile_logp(), exact.compile_logp()
    diffs = [logp_e(point) - logp_f(point) for point in _perturbed_points(fast, seed=5)]
    assert np.ptp(diffs) < 1e-8 * max(1.0, abs(diffs[0]))


@pytest.mark.parametrize("offsets, cn_efficacy", [(False, False), (True, False), (True, True)])
def test_guide_efficacy_on_the_grid_gives_the_guide_level_density(tiny, offsets, cn_efficacy):
    """Efficacy-scaled effects on the dense layout: the same log density (up to a constant) as
    ``rest + e_s · scaled`` per group, with and without guide offsets (and with the copy-number
    term scaled too), whatever the parameters."""
    spec = get_model("gene-by-line", ModelOptions(guide_offsets=offsets, guide_efficacy=True, cn_efficacy=cn_efficacy))
    design = build_design(tiny, spec.level(True), spec.covariate_columns)
    fast, exact = spec.build(design), spec.build(design, evaluation=True)
    assert "lfc_guide_grid" in fast.named_vars and "lfc" in exact.named_vars
    assert {v.name for v in fast.free_RVs} == {v.name for v in exact.free_RVs} >= {"guide_efficacy_logit"}
    logp_f, logp_e = fast.compile_logp(), exact.compile_logp()
    diffs = [logp_e(point) - logp_f(point) for point in _perturbed_points(fast, seed=7)]
    assert np.ptp(diffs) < 1e-8 * max(1.0, abs(diffs[0]))


@pytest.mark.parametrize("options", [{"guide_offsets": True}, {"guide_efficacy": True}, {}])
def test_guide_noise_on_the_grid_gives_the_guide_level_density(tiny, options):
    """A noise scale per guide (``σ_sc = σ_c λ_s``) on the dense layout: the same log density (up
    to a constant) as the per-group Gaussian with each group's ``σ``, whatever the parameters; and
    the density really changes with ``λ`` (the term is not dropped)."""
    spec = get_model("gene-by-line", ModelOptions(**options, guide_noise=True))
    design = build_design(tiny, spec.level(True), spec.covariate_columns)
    fast, exact = spec.build(design), spec.build(design, evaluation=True)
    assert "lfc_guide_grid" in fast.named_vars and "lfc" in exact.named_vars
    assert {v.name for v in fast.free_RVs} == {v.name for v in exact.free_RVs} >= {"guide_noise_z"}
    logp_f, logp_e = fast.compile_logp(), exact.compile_logp()
    points = _perturbed_points(fast, seed=13)
    diffs = [logp_e(point) - logp_f(point) for point in points]
    assert np.ptp(diffs) < 1e-8 * max(1.0, abs(diffs[0]))
    noisier = {**points[0], "guide_noise_z": points[0]["guide_noise_z"] + 1.0}
    assert abs(logp_e(noisier) - logp_e(points[0])) > 1.0


def test_student_t_guide_offsets_change_only_the_offsets_prior(tiny):
    """``--guide-offset-nu``: the log density differs from the Gaussian offsets' by the Student-t
    against the Gaussian log density of each guide level around its centre, nothing else."""
    from scipy.stats import norm
    from scipy.stats import t as student_t

    gaussian = get_model("gene-by-line", ModelOptions(guide_offsets=True))
    heavy = get_model("gene-by-line", ModelOptions(guide_offsets=True, guide_offset_nu=2.0))
    design = build_design(tiny, gaussian.level(True), gaussian.covariate_columns)
    m_g, m_t = gaussian.build(design), heavy.build(design)
    logp_g, logp_t = m_g.compile_logp(), m_t.compile_logp()
    for point in _perturbed_points(m_g, seed=17):
        sd = float(np.exp(point["guide_offset_sd_log__"]))
        gap = point["guide_level"] - point["gene_effect"][design.guide_gene][:, None]
        prior_gap = student_t.logpdf(gap, df=2.0, scale=sd).sum() - norm.logpdf(gap, scale=sd).sum()
        assert logp_t(point) - logp_g(point) == pytest.approx(prior_gap, abs=1e-9 * abs(logp_g(point)) + 1e-6)


def test_learnt_guide_offset_nu_is_the_fixed_nu_model_plus_its_prior(tiny):
    """``--guide-offset-nu learn``: at ν = 3 the log density is the ν = 3 model's plus the prior
    ``Gamma(2, 0.1)`` of ν and the Jacobian of its log transform; the learnt ν is a hyperparameter."""
    from scipy.stats import gamma

    fixed = get_model("gene-by-line", ModelOptions(guide_offsets=True, guide_offset_nu=3.0))
    learnt = get_model("gene-by-line", ModelOptions(guide_offsets=True, guide_offset_nu="learn"))
    design = build_design(tiny, fixed.level(True), fixed.covariate_columns)
    m_fixed, m_learnt = fixed.build(design), learnt.build(design)
    assert "guide_offset_nu" in m_learnt.named_vars and "guide_offset_nu" not in m_fixed.named_vars
    logp_fixed, logp_learnt = m_fixed.compile_logp(), m_learnt.compile_logp()
    prior = gamma.logpdf(3.0, a=2.0, scale=10.0) + np.log(3.0)
    for point in _perturbed_points(m_fixed, seed=19):
        at_three = {**point, "guide_offset_nu_log__": np.log(3.0)}
        assert logp_learnt(at_three) == pytest.approx(
            logp_fixed(point) + prior, abs=1e-9 * abs(logp_fixed(point)) + 1e-6
        )
        assert logp_learnt({**at_three, "guide_offset_nu_log__": np.log(30.0)}) != pytest.approx(logp_learnt(at_three))


def _evaluation_pair(screen, first: ModelOptions, second: ModelOptions):
    """gene-by-line with each of two option sets, built for evaluation on ``second``'s design:
    ``(model, compiled logp)`` of each and the number of guides."""
    specs = [get_model("gene-by-line", opts) for opts in (first, second)]
    design = build_design(screen, specs[1].level(True), specs[1].covariate_columns)
    models = [spec.build(design, evaluation=True) for spec in specs]
    return [(m, m.compile_logp()) for m in models], len(design.coords["sgrna"])


def test_copy_number_term_scaled_by_efficacy_only_where_a_guide_cuts_less(tiny):
    """``--cn-efficacy``: with every guide's efficacy at 1 the density is the one with the
    copy-number term outside the efficacy; at efficacy 1/2 it differs, by as much as halving
    the copy-number slopes of the model without the option does."""
    pair, n_guides = _evaluation_pair(tiny, ModelOptions(guide_efficacy=True),
                                      ModelOptions(guide_efficacy=True, cn_efficacy=True))  # fmt: skip
    (m_out, logp_out), (_, logp_in) = pair
    for point in _perturbed_points(m_out, seed=21):
        full = {**point, "guide_efficacy_logit": np.full(n_guides, 40.0)}
        assert logp_in(full) == pytest.approx(logp_out(full), abs=1e-6)
        half = {**full, "guide_efficacy_logit": np.zeros(n_guides)}
        assert abs(logp_in(half) - logp_out(half)) > 1e-3
        # e_s = 1/2 scales κ_c·cn by 1/2: the same mean as the model without the option with κ
        # halved (centred slopes on this screen), whose prior then differs by ``shift``.
        halved_slopes = {**half, "cn_slope": point["cn_slope"] / 2}
        slope_prior = m_out.compile_logp(vars=[m_out["cn_slope"]])
        shift = slope_prior(halved_slopes) - slope_prior(half)
        assert logp_in(half) == pytest.approx(logp_out(halved_slopes) - shift, abs=1e-6)


def test_guide_options_that_cannot_apply_are_refused(tiny):
    with pytest.raises(ScreenfitInputError, match=r"cn_efficacy .* needs guide_efficacy"):
        get_model("gene-by-line", ModelOptions(cn_efficacy=True)).check_screen(tiny)
    with pytest.raises(ScreenfitInputError, match="needs guide_offsets"):
        get_model("gene-by-line", ModelOptions(guide_offset_nu=2.0)).check_screen(tiny)
    with pytest.raises(ScreenfitInputError, match="positive number"):
        get_model("gene-by-line", ModelOptions(guide_offsets=True, guide_offset_nu=0.0)).check_screen(tiny)
    with pytest.raises(ScreenfitInputError, match="needs guide_offsets"):
        get_model("gene-by-line", ModelOptions(guide_offset_nu="learn")).check_screen(tiny)
    for name in ("counts", "seed-m1"):
        with pytest.raises(ScreenfitInputError, match="guide_noise scales"):
            get_model(name, ModelOptions(guide_noise=True)).check_screen(tiny)


@pytest.mark.parametrize("offsets", [False, True])
def test_full_efficacy_is_the_model_without_efficacy(tiny, offsets):
    """With every guide's efficacy at 1 (logit 40) the model is gene-by-line without efficacy, guide
    levels included (their centre ``e α`` is then ``α``): the log densities differ by the efficacy
    priors alone — which checks where ``e_s`` enters the mean. The median guide's absolute efficacy
    ``m`` enters no likelihood: moving it changes the density by its prior only."""
    from scipy.stats import norm
    from scipy.stats import t as student_t

    pair, n_guides = _evaluation_pair(tiny, ModelOptions(guide_offsets=offsets),
                                      ModelOptions(guide_offsets=offsets, guide_efficacy=True))  # fmt: skip
    (without, logp_o), (_, logp_w) = pair
    prior = student_t.logpdf(40.0, df=3.0, loc=2.0, scale=0.8) * n_guides
    for point, median_logit in zip(_perturbed_points(without, seed=9), (-1.0, 0.5, 2.5, 4.0), strict=True):
        full = {**point, "guide_efficacy_logit": np.full(n_guides, 40.0), "guide_efficacy_median_logit": median_logit}
        assert logp_w(full) == pytest.approx(logp_o(point) + prior + norm.logpdf(median_logit, 2.5, 0.8), abs=1e-6)
    point = _perturbed_points(without, seed=9)[0]
    half = {**point, "guide_efficacy_logit": np.zeros(n_guides), "guide_efficacy_median_logit": 2.5}
    halved = logp_w(half)  # e = 1/2: another density
    expected = logp_o(point) + student_t.logpdf(0.0, 3.0, 2.0, 0.8) * n_guides + norm.logpdf(2.5, 2.5, 0.8)
    assert halved != pytest.approx(expected, abs=1e-3)


def test_effects_are_reported_per_full_knockout_and_map_back_exactly():
    """With guide efficacy the reported effects are the likelihood's times ``m₀ / m`` draw by draw
    (logs of effect spreads shifted by its log), efficacies are absolute (``ε m / m₀``), other
    parameters are untouched, the same in place, and the inverse gives the drawn values back."""
    import xarray as xr

    from screenfit.models.efficacy import MODEL_MEDIAN

    rng = np.random.default_rng(0)
    m = rng.uniform(0.7, 0.99, (2, 5))
    drawn = xr.Dataset({
        "guide_efficacy_median": (("chain", "draw"), m),
        "gene_line_effect": (("chain", "draw", "gene", "line"), rng.normal(size=(2, 5, 3, 4))),
        "gene_lineage_sd_log": (("chain", "draw", "gene"), rng.normal(size=(2, 5, 3))),
        "guide_efficacy": (("chain", "draw", "sgrna"), rng.uniform(0, 1, (2, 5, 6))),
        "screen_quality": (("chain", "draw", "line"), rng.uniform(0.5, 1.5, (2, 5, 4))),
    })  # fmt: skip
    spec = get_model("gene-by-line-lineage", ModelOptions(guide_efficacy=True))
    reported = spec.reported_posterior(drawn)
    scale = MODEL_MEDIAN / m
    np.testing.assert_allclose(reported["gene_line_effect"], drawn["gene_line_effect"] * scale[..., None, None])
    np.testing.assert_allclose(reported["gene_lineage_sd_log"], drawn["gene_lineage_sd_log"] + np.log(scale)[..., None])
    np.testing.assert_allclose(reported["guide_efficacy"], drawn["guide_efficacy"] * (m / MODEL_MEDIAN)[..., None])
    np.testing.assert_array_equal(reported["screen_quality"], drawn["screen_quality"])
    in_place = drawn.copy(deep=True)
    held = in_place["gene_line_effect"].data
    spec.reported_posterior(in_place, in_place=True)  # the fit's way: no copy of the draws
    assert in_place["gene_line_effect"].data is held
    xr.testing.assert_allclose(in_place, reported)
    back = spec.likelihood_posterior(reported)
    for name in drawn.data_vars:
        np.testing.assert_allclose(back[name], drawn[name], rtol=1e-12)
    # Without efficacy (no m) nothing changes.
    plain = drawn.drop_vars("guide_efficacy_median")
    assert spec.reported_posterior(plain) is plain


def test_guide_efficacy_needs_a_model_with_an_efficacy_scaled_effect(tiny):
    with pytest.raises(ScreenfitInputError, match="efficacy"):
        fit(tiny, "gene-cellline", options=ModelOptions(guide_efficacy=True), progress=False)


def test_guide_grid_is_used_only_where_the_layout_is_exact(tiny):
    """Unequal guide counts are padded (n = 0); a missing gene × line or a line screened against
    two batches falls back to the per-group likelihood."""
    from screenfit.models.guide_grid import guide_grid

    spec = get_model("gene-by-line", ModelOptions(guide_offsets=True))
    level = spec.level(True)
    t = tiny.table
    one_guide_fewer = t[t["sgrna"] != t["sgrna"].iloc[0]]
    grid = guide_grid(build_design(tiny.with_table(one_guide_fewer), level), by_batch=True)
    assert grid is not None and grid.shape[1] == 4 and grid.n.sum() == len(one_guide_fewer)
    gene, line = t["hugo_symbol"].iloc[0], t["depmap_id"].iloc[0]
    hole = t[~((t["hugo_symbol"] == gene) & (t["depmap_id"] == line))]
    assert guide_grid(build_design(tiny.with_table(hole), level), by_batch=True) is None
    mixed = t.assign(pdna_batch=t["pdna_batch"].astype(str))
    first_line = mixed["depmap_id"] == line
    first_replicate = mixed["replicate_id"] == mixed.loc[first_line, "replicate_id"].iloc[0]
    mixed.loc[first_line & first_replicate, "pdna_batch"] = "other"
    assert guide_grid(build_design(tiny.with_table(mixed), level), by_batch=True) is None


def test_collapsing_a_design_equals_building_it_at_the_coarser_level(tiny):
    fine = build_design(tiny, ("hugo_symbol", "depmap_id", "sgrna"), ("is_mutated",))
    direct = build_design(tiny, ("hugo_symbol", "depmap_id"), ("is_mutated",))
    collapsed = fine.collapsed(("hugo_symbol", "depmap_id"))
    assert collapsed.grid_shape == direct.grid_shape is not None
    np.testing.assert_allclose(collapsed.n, direct.n)
    np.testing.assert_allclose(collapsed.y_mean, direct.y_mean, atol=1e-12)
    np.testing.assert_allclose(collapsed.y_ss, direct.y_ss, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(collapsed.covariates["is_mutated"], direct.covariates["is_mutated"])
    assert "sgrna" not in collapsed.index


def test_group_numbering_and_constancy_equal_their_sorting_and_groupby_definitions():
    """Groups are numbered in np.unique(axis=1)'s lexicographic order (also on the fallback for
    negative codes); a value is constant within groups exactly when max − min < 1e-9 in each."""
    rng = np.random.default_rng(5)
    keys = [rng.integers(0, k, 5000) for k in (7, 30, 4)]
    expected = np.unique(np.stack(keys), axis=1, return_inverse=True)[1].ravel()
    np.testing.assert_array_equal(_group_codes(keys), expected)
    shifted = [keys[0] - 1, *keys[1:]]
    np.testing.assert_array_equal(_group_codes(shifted), expected)
    group = keys[0]
    first = _first_rows(group, 7)
    base = rng.normal(size=7)[group]
    later = np.flatnonzero(group == 3)[1:]  # group 3's rows after its first
    # Offsets of those rows from the first: none; gaps < 0.5e-9; gaps in [0.5e-9, 1e-9) with a
    # spread below and above 1e-9 (decided by the min and max); a gap ≥ 1e-9.
    cases = (((0.0,), True), ((0.4e-9, -0.4e-9), True), ((0.7e-9, 0.2e-9), True), ((0.7e-9, -0.7e-9), False),
             ((2e-9,), False))  # fmt: skip
    for offsets, constant in cases:
        values = base.copy()
        values[later] += np.resize(offsets, len(later))
        spread = pd.Series(values).groupby(group).agg(["min", "max"])
        assert bool(np.all(spread["max"] - spread["min"] < 1e-9)) is constant
        assert _constant_within(values, group, first) is constant


@pytest.fixture(scope="module")
def time_course():
    screen, _, _ = simulate_screen(SimulationConfig(n_genes=8, n_cell_lines=6, time_points=(7.0, 14.0, 21.0), seed=2))
    return screen


def _group_means(model) -> object:
    """A function of a point giving the mean of every group of ``model`` (built with ``evaluation=True``)."""
    mu = model["lfc"].owner.inputs[-2]
    [mu_value] = model.replace_rvs_by_values([mu])
    return model.compile_fn(mu_value, inputs=model.value_vars, on_unused_input="ignore")


@pytest.mark.parametrize("efficacy", [False, True])
def test_time_course_scales_the_mean_by_the_days_after_the_delay(time_course, efficacy):
    """Every group's mean is ``f(t) = (t − 3)/(21 − 3)`` times the mean without a time course, at
    any parameters: the time points split the groups, and nothing but the factor changes."""
    plain = get_model("gene-by-line", ModelOptions(guide_efficacy=efficacy))
    timed = get_model("gene-by-line", ModelOptions(guide_efficacy=efficacy, time_course=True))
    with pytest.warns(UserWarning, match="several time points"):
        plain.check_screen(time_course)
    timed.check_screen(time_course)
    assert "days" in timed.level(True) and timed.evaluation_level[-1] == "days"
    design = build_design(time_course, timed.level(True), timed.covariate_columns)
    assert len(np.unique(design.covariates["days"])) == 3
    means_t = _group_means(timed.build(design, evaluation=True))
    means_p = _group_means(plain.build(design, evaluation=True))
    factor = (design.covariates["days"] - 3.0) / 18.0
    for point in _perturbed_points(plain.build(design, evaluation=True), seed=3):
        np.testing.assert_allclose(means_t(point), factor * means_p(point), rtol=1e-10, atol=1e-12)


def test_time_course_at_the_reference_day_is_the_model_without_one(tiny):
    """One time point at ``reference_days`` (f = 1): the same density on the dense guide layout,
    guide levels and efficacy included."""
    opts = {"guide_offsets": True, "guide_efficacy": True}
    plain = get_model("gene-by-line", ModelOptions(**opts))
    timed = get_model("gene-by-line", ModelOptions(**opts, time_course=True))
    timed.check_screen(tiny)
    design = build_design(tiny, timed.level(True), timed.covariate_columns)
    with_t, without = timed.build(design), plain.build(design)
    assert "lfc_guide_grid" in with_t.named_vars
    logp_t, logp_p = with_t.compile_logp(), without.compile_logp()
    for point in _perturbed_points(without, seed=4):
        assert logp_t(point) == pytest.approx(logp_p(point), abs=1e-8)
    shorter = get_model("gene-by-line", ModelOptions(**opts, time_course=True, reference_days=28.0))
    shorter.check_screen(tiny)
    logp_s = shorter.build(design).compile_logp()
    assert logp_s(point) != pytest.approx(logp_p(point), abs=1e-3)


@pytest.mark.parametrize(
    "offsets, noise, delay", [(False, False, None), (True, False, None), (True, True, None), (True, False, 3.0)]
)
def test_time_sums_give_the_guide_level_density(time_course, offsets, noise, delay):
    """With several time points per line the sampler sees each guide × line's sums over its time
    points (models/time_sums.py): the same log density (up to a constant) as the per-group
    likelihood, learnt or fixed delay, efficacy and guide noise included."""
    opts = ModelOptions(
        guide_offsets=offsets, guide_efficacy=True, guide_noise=noise, time_course=True, screen_delay=delay
    )
    spec = get_model("gene-by-line", opts)
    spec.check_screen(time_course)
    design = build_design(time_course, spec.level(True), spec.covariate_columns)
    fast, exact = spec.build(design), spec.build(design, evaluation=True)
    assert "lfc_time_sums" in fast.named_vars and "lfc" in exact.named_vars
    assert {v.name for v in fast.free_RVs} == {v.name for v in exact.free_RVs}
    logp_f, logp_e = fast.compile_logp(), exact.compile_logp()
    diffs = [logp_e(point) - logp_f(point) for point in _perturbed_points(fast, seed=13)]
    assert np.ptp(diffs) < 1e-8 * max(1.0, abs(diffs[0]))


def test_time_course_errors_name_what_to_fix(tiny, time_course):
    with pytest.raises(ScreenfitInputError, match="no effect term a time course"):
        get_model("gene-cellline", ModelOptions(time_course=True)).check_screen(tiny)
    with pytest.raises(ScreenfitInputError, match="no 'days' column"):
        get_model("gene-by-line", ModelOptions(time_course=True)).check_screen(
            tiny.with_table(tiny.table.drop(columns="days"))
        )
    with pytest.raises(ScreenfitInputError, match="two or more time points"):
        get_model("gene-by-line", ModelOptions(time_course=True, screen_delay=None)).check_screen(tiny)
    with pytest.raises(ScreenfitInputError, match="after the screen delay") as err:
        get_model("gene-by-line", ModelOptions(time_course=True, screen_delay=10.0)).check_screen(time_course)
    assert err.value.column == "days" and err.value.rows
    spec = get_model("gene-by-line", ModelOptions(time_course=True, screen_delay=None))
    spec.check_screen(time_course)
    design = build_design(time_course, spec.level(True), spec.covariate_columns)
    assert "screen_delay" in spec.build(design).named_vars


COLLAPSED_CASES = {
    "gene × line grid": ("gene-by-line", {}, "tiny"),
    "dense guide layout": ("gene-by-line", {"guide_offsets": True, "guide_efficacy": True}, "tiny"),
    "lineage, guide layout": ("gene-by-line-lineage", {"guide_offsets": True, "covariate": "is_mutated"}, "tiny"),
    "guide noise, guide layout": ("gene-by-line", {"guide_efficacy": True, "guide_noise": True}, "tiny"),
    "per group (time course)": ("gene-by-line", {"time_course": True, "screen_delay": None}, "time_course"),
    "time sums": (
        "gene-by-line", {"guide_offsets": True, "guide_efficacy": True, "time_course": True, "screen_delay": None},
        "time_course",
    ),
    "time sums, guide noise, lineage": (
        "gene-by-line-lineage", {"guide_efficacy": True, "guide_noise": True, "time_course": True}, "time_course",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(COLLAPSED_CASES))
def test_collapsed_gene_line_effects_are_an_exact_reparametrisation(request, case):
    """Integrating ``z_gc`` out and drawing ``θ_gc = centre + τ (B/P + ε/√P)`` keeps the joint posterior:

    ``log p(rest, θ, y) = log p_collapsed(rest, ε, y) + Σ_gc (½ log P_gc − log τ_g)`` + const at any
    parameters, with ``τ_g/√P_gc = θ(ε = 1) − θ(ε = 0)``. It checks the marginal likelihood's
    correction and the conditional draw together, on every likelihood layout that integrates.
    """
    name, opts, data = COLLAPSED_CASES[case]
    screen = request.getfixturevalue(data)
    spec = get_model(name, ModelOptions(**opts, collapse_gene_line=True))
    spec.check_screen(screen)
    design = build_design(screen, spec.level(True), spec.covariate_columns)
    collapsed, joint = spec.build(design), spec.build(design, evaluation=True)
    layout = {"lfc_grid", "lfc_guide_grid", "lfc_time_sums", "lfc"} & set(collapsed.named_vars)
    expected = {"gene × line grid": "lfc_grid", "per group (time course)": "lfc"}.get(case, "lfc_guide_grid")
    expected = "lfc_time_sums" if case.startswith("time sums") else expected
    assert layout == {expected} and "gene_line_eps" in collapsed.named_vars
    assert {v.name for v in joint.free_RVs} == {v.name for v in collapsed.free_RVs} - {"gene_line_eps"} | {
        "gene_line_effect"
    }
    [theta] = collapsed.replace_rvs_by_values([collapsed["gene_line_effect"]])
    theta_of = collapsed.compile_fn(theta, inputs=collapsed.value_vars, on_unused_input="ignore")
    logp_c, logp_j = collapsed.compile_logp(), joint.compile_logp()
    diffs = []
    for point in _perturbed_points(collapsed, seed=11, n=5):
        eps = point["gene_line_eps"]
        spread = theta_of({**point, "gene_line_eps": np.ones_like(eps)}) - theta_of(
            {**point, "gene_line_eps": np.zeros_like(eps)}
        )
        assert np.all(spread > 0)
        moved = {k: v for k, v in point.items() if k != "gene_line_eps"}
        moved["gene_line_effect"] = theta_of(point)
        diffs.append(logp_j(moved) - logp_c(point) + np.log(spread).sum())
    assert np.ptp(diffs) < 1e-8 * max(1.0, abs(diffs[0]))


def test_collapsing_needs_gene_line_effects(tiny):
    with pytest.raises(ScreenfitInputError, match="no gene × line effects to integrate out"):
        get_model("gene-cellline", ModelOptions(collapse_gene_line=True)).check_screen(tiny)


def test_collapsing_is_on_by_default_for_svi_only():
    """``collapse_gene_line=None`` is settled by the sampler before the fit's hash; a choice made is kept."""
    from screenfit.inference.samplers import SamplerConfig

    for method, name, expected in (("svi", "gene-by-line", True), ("nutpie", "gene-by-line", False),
                                   ("svi", "gene-by-line-lineage", True), ("svi", "gene-cellline", False)):  # fmt: skip
        spec = get_model(name)
        settled = spec.settled(SamplerConfig(method=method))
        assert settled.options.collapse_gene_line is expected, (method, name)
        assert spec.options.collapse_gene_line is None  # a new model; the one given is unchanged
    kept = get_model("gene-by-line", ModelOptions(collapse_gene_line=False))
    assert kept.settled(SamplerConfig(method="svi")).options.collapse_gene_line is False


@pytest.mark.parametrize("backend", ["jax", "pymc"])
@pytest.mark.parametrize("name, options", [("gene-cellline", {}), ("gene-by-line", {}),
                                           ("gene-by-line", {"guide_noise": True}), ("seed-m2", {})])  # fmt: skip
def test_unit_log_likelihood_is_the_sum_of_its_rows_gaussian_densities(tiny, name, options, backend, monkeypatch):
    """The stored pointwise log-likelihood of a unit (guide × line, in float32) equals the sum of
    the row-level model's densities of its rows: computed in JAX from the unit mean's μ and SD,
    and by PyMC's log-likelihood of the unit means plus the within-unit term (no JAX)."""
    import arviz as az
    import pymc as pm

    import screenfit.evaluate.loglik
    from screenfit.evaluate.loglik import _unit_labels, gaussian_unit_loglik

    if backend == "pymc":
        monkeypatch.setattr(screenfit.evaluate.loglik.NormalUnits, "of", classmethod(lambda cls, model, var: None))
    else:
        pytest.importorskip("jax")

    spec = get_model(name, ModelOptions(**options))
    unit = build_design(tiny, spec.evaluation_level, spec.covariate_columns)
    rows = build_design(tiny, ROW_LEVEL, spec.covariate_columns)
    unit_model, row_model = spec.build(unit, evaluation=True), spec.build(rows, evaluation=True)
    prior = pm.sample_prior_predictive(draws=6, model=unit_model, random_seed=4).prior
    idata = az.InferenceData(posterior=prior[[v for v in prior.data_vars if v in row_model.named_vars]])
    ours = gaussian_unit_loglik(spec, unit, unit_model, idata)
    per_row = pm.compute_log_likelihood(idata, model=row_model, var_names=["lfc"], extend_inferencedata=False,
                                        progressbar=False)["lfc"].values  # fmt: skip
    unit_labels, row_labels = _unit_labels(unit), _unit_labels(rows)
    units = pd.MultiIndex.from_arrays([unit_labels[GUIDE], unit_labels[LINE]])
    of_row = units.get_indexer(pd.MultiIndex.from_arrays([row_labels[GUIDE], row_labels[LINE]]))
    assert (of_row >= 0).all() and len(units) < len(of_row)
    expected = np.zeros_like(ours, dtype=np.float64)
    np.add.at(expected, (slice(None), slice(None), of_row), per_row)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=2e-6, atol=1e-4)


@pytest.mark.parametrize(
    "column_line",
    [np.repeat(np.arange(4), 3), np.array([0, 0, 1, 2, 2, 2, 3]), np.array([1, 0, 1, 0, 2, 3])],
    ids=["regular", "uneven", "interleaved"],
)
def test_columns_sum_into_their_lines(column_line):
    """Gene × column sums (a time course's (line, day) columns) summed into gene × line: the reshape
    taken for line-major columns with as many days per line, the scatter-add otherwise — both the sum."""
    from screenfit.models.collapsed import columns_to_lines

    values = np.random.default_rng(0).normal(size=(5, len(column_line)))
    expected = np.zeros((5, 4))
    np.add.at(expected, (slice(None), column_line), values)
    got = columns_to_lines(pt.constant(values), 5, column_line, 4).eval()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
