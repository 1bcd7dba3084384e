"""Shared fixtures: paths of the real data beside the repository, small simulated screens."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from screenfit.simulate import SimulationConfig, simulate_screen


def _shared_data() -> Path:
    env = os.environ.get("SCREENFIT_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        pytest.fail(f"real test data not found at {path}; set SCREENFIT_SHARED_DATA to the shared/data folder")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared/data folder (DepMap sample, screens, reference sets)."""
    return _shared_data()


@pytest.fixture(scope="session")
def depmap_sample(shared_data: Path) -> Path:
    return shared_data / "depmap_sample"


@pytest.fixture(scope="session")
def screens_dir(shared_data: Path) -> Path:
    return shared_data / "screens"


@pytest.fixture(scope="session")
def small_sim():
    """A small simulated screen (60 genes × 30 lines) with its truth."""
    return simulate_screen(SimulationConfig(n_genes=60, n_cell_lines=30, seed=3))
