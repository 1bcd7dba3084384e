"""screenfit: Bayesian hierarchical models for CRISPR-Cas9 knockout screens.

The public API in one namespace: readers return a validated :class:`Screen`; preprocessing,
simulation and QC take and return plain objects and tables.
"""

from screenfit.data.preprocess import (
    Filters,
    annotated_lines_only,
    apply_filters,
    get_indices,
    index_screen,
    make_cat,
    subsample,
    zscale_cna_by_group,
)
from screenfit.data.proximity import ProximityCorrection, ProximitySettings, correct_proximity_bias
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitError, ScreenfitInputError
from screenfit.io.annotations import annotate_cell_lines, read_annotated, read_model_annotations
from screenfit.io.counts import bundled_sheet, read_count_table, read_sample_sheet
from screenfit.io.depmap import DepMapFiles, read_depmap
from screenfit.io.library_files import LibraryColumns, read_library
from screenfit.io.positions import read_positions
from screenfit.io.segments import read_segments, with_segment_copy_number
from screenfit.io.tables import read_long_table, write_screen, write_table
from screenfit.qc import QCResult, QCThresholds, run_qc
from screenfit.simulate import (
    SimulationConfig,
    read_truth,
    simulate_condition_screen,
    simulate_screen,
    write_simulation,
)
from screenfit.simulate_growth import GrowthSimulationConfig, write_growth_simulation

__version__ = "0.1.0"

# Fitting pulls in PyMC (seconds to import); load it only when a fitting name is first used,
# so reading, QC and the CLI's other verbs stay quick.
_LAZY = {
    "fit": "screenfit.fitting",
    "load_fit": "screenfit.io.fit_folder",
    "FitResult": "screenfit.io.fit_folder",
    "SamplerConfig": "screenfit.inference.samplers",
    "ModelOptions": "screenfit.models.base",
    "MODELS": "screenfit.models.registry",
    "get_model": "screenfit.models.registry",
    # The demo's jobs and the figures import ArviZ and matplotlib (two seconds): only on use, so
    # `screenfit ingest` and reading a screen start quickly.
    "load_example": "screenfit.jobs",
    "run_demo": "screenfit.jobs",
    "write_qc": "screenfit.jobs",
    "write_eda": "screenfit.plots.eda",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'screenfit' has no attribute {name!r}")


__all__ = [
    "MODELS",
    "DepMapFiles",
    "Filters",
    "FitResult",
    "GrowthSimulationConfig",
    "LibraryColumns",
    "ModelOptions",
    "ProximityCorrection",
    "ProximitySettings",
    "QCResult",
    "QCThresholds",
    "SamplerConfig",
    "Screen",
    "ScreenfitError",
    "ScreenfitInputError",
    "SimulationConfig",
    "annotate_cell_lines",
    "annotated_lines_only",
    "apply_filters",
    "bundled_sheet",
    "correct_proximity_bias",
    "fit",
    "get_indices",
    "get_model",
    "index_screen",
    "load_example",
    "load_fit",
    "make_cat",
    "read_annotated",
    "read_count_table",
    "read_depmap",
    "read_library",
    "read_long_table",
    "read_model_annotations",
    "read_positions",
    "read_sample_sheet",
    "read_segments",
    "read_truth",
    "run_demo",
    "run_qc",
    "simulate_condition_screen",
    "simulate_screen",
    "subsample",
    "with_segment_copy_number",
    "write_eda",
    "write_growth_simulation",
    "write_qc",
    "write_screen",
    "write_simulation",
    "write_table",
    "zscale_cna_by_group",
]  # fmt: skip
