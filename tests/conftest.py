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


@pytest.fixture(scope="session")
def fitted_pair(tmp_path_factory):
    """Two fits (gene-cellline, copy-number) of one small simulated screen, written to folders.

    Returns ``(screen_file, [gene-cellline folder, copy-number folder])``.
    """
    from screenfit.fitting import fit
    from screenfit.io.tables import write_screen

    root = tmp_path_factory.mktemp("fitted_pair")
    cfg = SimulationConfig(n_genes=24, n_cell_lines=16, seed=4, amplified_fraction=0.15, cn_slope_mean=-0.1)
    screen, _, _ = simulate_screen(cfg)
    screen_file = root / "screen.parquet"
    write_screen(screen, screen_file)
    folders = []
    for model in ("gene-cellline", "copy-number"):
        fit(screen, model, out=root / model, progress=False)
        folders.append(root / model)
    return screen_file, folders
