"""Sampler settings that need no fit: tuning defaults and the compiled-code cache (fast tier)."""

from __future__ import annotations

import pytest

from screenfit.inference.samplers import SamplerConfig
from screenfit.simulate import SimulationConfig, simulate_screen


def test_jax_samplers_use_a_persistent_compilation_cache_under_screenfit_cache_dir(tmp_path, monkeypatch):
    """JAX fits cache compiled programs under SCREENFIT_CACHE_DIR; a user's own setting is kept."""
    jax = pytest.importorskip("jax")
    from screenfit.inference.cache import compiled_code_dir, use_jax_compilation_cache

    monkeypatch.setenv("SCREENFIT_CACHE_DIR", str(tmp_path))
    assert compiled_code_dir("jax") == tmp_path / "jax"
    before = (jax.config.jax_compilation_cache_dir, jax.config.jax_persistent_cache_min_compile_time_secs)
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        use_jax_compilation_cache()
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "jax") and (tmp_path / "jax").is_dir()
        jax.config.update("jax_compilation_cache_dir", str(tmp_path / "mine"))
        use_jax_compilation_cache()
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "mine")
    finally:
        jax.config.update("jax_compilation_cache_dir", before[0])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", before[1])


def test_tuning_steps_default_to_the_samplers_own_and_are_recorded():
    """``tune=None`` takes nutpie's 400 (800 low-rank) or PyMC's 1,000; the model fills it in."""
    from screenfit.models.registry import get_model

    assert SamplerConfig().tuning_steps == 400
    assert SamplerConfig(mass_matrix="low_rank").tuning_steps == 800
    assert SamplerConfig(method="pymc").tuning_steps == 1000
    assert SamplerConfig(tune=123).tuning_steps == 123
    screen, _, _ = simulate_screen(SimulationConfig(n_genes=4, n_cell_lines=5, seed=0))
    assert get_model("gene-cellline").sampler_for(screen, None).tune == 400
    assert get_model("multi-library").sampler_for(screen, None).tune == 800  # low-rank model
    assert get_model("gene-cellline").sampler_for(screen, SamplerConfig(method="svi")).tune is None
