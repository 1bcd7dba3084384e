"""Joint screens of several libraries (Avana + KY): reading, the multi-library model, its errors."""

from __future__ import annotations

import numpy as np
import pytest

from screenfit.errors import ScreenfitInputError
from screenfit.fitting import fit
from screenfit.io.depmap import read_depmap, read_depmap_libraries
from screenfit.models.library import reference_library
from screenfit.models.registry import get_model
from screenfit.simulate import SimulationConfig, simulate_library_screen, simulate_screen


def test_avana_and_ky_stack_into_one_screen(depmap_sample):
    joint = read_depmap_libraries(depmap_sample, ["Avana", "KY"])
    avana, ky = read_depmap(depmap_sample, "Avana"), read_depmap(depmap_sample, "KY")
    assert joint.n_rows == avana.n_rows + ky.n_rows
    per_library = joint.table.groupby("library", observed=True)["replicate_id"].nunique()
    assert per_library["Avana"] == avana.count("replicate_id") and per_library["KY"] == ky.count("replicate_id")
    shared = set(avana.table["depmap_id"].astype(str)) & set(ky.table["depmap_id"].astype(str))
    assert joint.notes[-1] == f"joint screen of Avana, KY: {len(shared)} cell lines screened in every library"
    assert joint.count("depmap_id") == len(set(avana.table["depmap_id"]) | set(ky.table["depmap_id"]))
    assert read_depmap_libraries(depmap_sample, ["KY"]).n_rows == ky.n_rows


def test_reading_one_library_twice_is_a_clear_error(depmap_sample):
    with pytest.raises(ScreenfitInputError, match="replicate IDs occur in more than one library") as err:
        read_depmap_libraries(depmap_sample, ["KY", "KY"])
    assert "distinct IDs" in err.value.message


def test_multi_library_model_refuses_a_single_library_screen():
    screen, _, _ = simulate_screen(SimulationConfig(n_genes=5, n_cell_lines=4, seed=1))
    with pytest.raises(ScreenfitInputError, match="at least two libraries") as err:
        get_model("multi-library").check_screen(screen)
    assert "--library Avana,KY" in err.value.message
    assert reference_library({"KY": 23, "Avana": 41}) == "Avana"
    assert reference_library({"B": 5, "A": 5}) == "A"


@pytest.mark.slow
def test_multi_library_recovers_the_scale_and_covers_gene_effects():
    """Additive regime, the second library's effects scaled by 0.7 (a shorter screen)."""
    inside, total = 0, 0
    for seed in (3, 4):
        cfg = SimulationConfig.additive(n_genes=30, n_cell_lines=40, n_replicates=4, seed=seed)
        screen, scale = simulate_library_screen(cfg)
        result = fit(screen, "multi-library", log_likelihood=False, predictive=False, progress=False)
        assert result.status == "converged", result.diagnostics.problems
        assert result.config["sampler"]["mass_matrix"] == "low_rank"  # the model's choice under "auto"
        libs = result.table("library_parameters").query("parameter == 'library_scale'").set_index("library")
        assert libs.loc["LibA", "mean"] == 1.0
        # |posterior mean − truth| ≤ 4 posterior SD.
        assert abs(libs.loc["LibB", "mean"] - scale) <= 4 * libs.loc["LibB", "sd"], libs
        _, truth, _ = simulate_screen(cfg)
        true_alpha = truth.genes.set_index("hugo_symbol")["base_effect"] + truth.cell_lines["offset"].mean()
        est = result.gene_effects.set_index("hugo_symbol")
        a = true_alpha.reindex(est.index)
        inside += int(((est["hdi_lower"] <= a) & (a <= est["hdi_upper"])).sum())
        total += len(est)
    # 94% HDIs cover the true gene effects at the nominal rate (3 binomial SD).
    assert inside / total >= 0.94 - 3 * np.sqrt(0.94 * 0.06 / total), (inside, total)


def test_library_offsets_are_centred_only_where_the_data_pin_them(depmap_sample):
    from screenfit.data.design import build_design
    from screenfit.models.blocks import library_offsets_are_data_rich

    level = ("hugo_symbol", "depmap_id", "library")
    joint = read_depmap_libraries(depmap_sample, ["Avana", "KY"])
    assert library_offsets_are_data_rich(build_design(joint, level), reference=0)  # Avana
    scaled_only, _ = simulate_library_screen(SimulationConfig.additive(n_genes=30, n_cell_lines=40, n_replicates=4))
    assert not library_offsets_are_data_rich(build_design(scaled_only, level), reference=0)  # LibA
