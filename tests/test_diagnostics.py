"""The convergence gate's own arithmetic (fast tier)."""

from __future__ import annotations

import numpy as np

from screenfit.inference.diagnostics import _bfmi


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
