"""screenfit: Bayesian hierarchical models for CRISPR-Cas9 knockout screens.

The public API in one namespace: readers return a validated :class:`Screen`; preprocessing,
simulation and QC take and return plain objects and tables.
"""

from screenfit.data.preprocess import (
    Filters,
    apply_filters,
    get_indices,
    index_screen,
    make_cat,
    subsample,
    zscale_cna_by_group,
)
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitError, ScreenfitInputError
from screenfit.io.counts import bundled_sheet, read_count_table, read_sample_sheet
from screenfit.io.depmap import DepMapFiles, read_depmap
from screenfit.io.tables import read_long_table, write_screen, write_table
from screenfit.jobs import load_example, run_demo, write_qc
from screenfit.plots.eda import write_eda
from screenfit.qc import QCResult, QCThresholds, run_qc
from screenfit.simulate import SimulationConfig, read_truth, simulate_screen, write_simulation

__version__ = "0.1.0"

__all__ = [
    "DepMapFiles", "Filters", "QCResult", "QCThresholds", "Screen", "ScreenfitError", "ScreenfitInputError",
    "SimulationConfig", "apply_filters", "bundled_sheet", "get_indices", "index_screen", "load_example",
    "make_cat", "read_count_table", "read_depmap", "read_long_table", "read_sample_sheet", "read_truth",
    "run_demo", "run_qc", "simulate_screen", "subsample", "write_eda", "write_qc", "write_screen",
    "write_simulation", "write_table", "zscale_cna_by_group",
]  # fmt: skip
