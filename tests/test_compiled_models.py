"""nutpie's compiled models are reused within a process for the same model and data, never across."""

from __future__ import annotations

import pandas as pd
import pytest

from screenfit.fitting import fit
from screenfit.inference import cache
from screenfit.inference.samplers import SamplerConfig
from screenfit.simulate import SimulationConfig, simulate_screen


@pytest.fixture()
def count_compiles(monkeypatch):
    import nutpie

    calls = []
    compile_pymc_model = nutpie.compile_pymc_model

    def counting(model, **kwargs):
        calls.append(model)
        return compile_pymc_model(model, **kwargs)

    monkeypatch.setattr(nutpie, "compile_pymc_model", counting)
    monkeypatch.setattr("screenfit.inference.samplers.NUTPIE_MODELS", cache.CompiledModels(size=2))
    return calls


def test_a_second_fit_of_the_same_model_and_data_reuses_the_compiled_model(count_compiles):
    screen, _, _ = simulate_screen(SimulationConfig(n_genes=6, n_cell_lines=10, seed=3))
    other, _, _ = simulate_screen(SimulationConfig(n_genes=6, n_cell_lines=10, seed=4))
    kw = dict(log_likelihood=False, predictive=False, progress=False)

    def run(data, seed, draws=100):
        cfg = SamplerConfig(draws=draws, tune=100, chains=2, seed=seed)
        return fit(data, "gene-cellline", sampler=cfg, **kw)

    first = run(screen, 1)
    assert len(count_compiles) == 1 and first.provenance["timings_s"]["compile"] > 0
    again = run(screen, 1)  # same model, data and seed: the cached model gives the same draws
    assert len(count_compiles) == 1 and again.provenance["timings_s"]["compile"] < 0.05
    pd.testing.assert_frame_equal(first.gene_effects, again.gene_effects)
    run(screen, 2, draws=150)  # other sampler settings: still the same compiled density
    assert len(count_compiles) == 1
    run(other, 1)  # other data: compiled afresh
    assert len(count_compiles) == 2


def test_compiled_models_keep_the_most_recent():
    models = cache.CompiledModels(size=2)
    models.put("a", 1)
    models.put("b", 2)
    assert models.get("a") == 1  # now the most recent
    models.put("c", 3)
    assert models.get("b") is None and models.get("a") == 1 and len(models) == 2
    models.clear()
    assert len(models) == 0
