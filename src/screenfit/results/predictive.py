"""Posterior predictive checks: replicated data from the posterior, compared with what was observed.

The check runs on the same units as the pointwise log-likelihood: for LFC models one guide in
one cell line (the mean LFC of its replicates, whose predictive distribution is
``N(μ, σ/√n)``), for count models one replicate's final read count. Per unit it records the
predictive mean, SD, central interval and the PIT value ``P(y_rep < y_obs)`` (randomised on
ties for counts). A calibrated model has uniform PIT values, so a central predictive interval
of probability ``p`` holds ``p`` of the observations: :func:`calibration` tabulates that, and
:func:`ppc_by` breaks the check down per cell line or per gene.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from screenfit.results.pointwise import NormalUnits

PPC_DRAWS = 200
"""Most posterior draws behind each unit's predictive summary."""
PPC_BUDGET = 20_000_000
"""Most replicated values held in memory at once (units × draws); above it fewer draws are used."""
PPC_SUMMARY_UNITS = 20_000
"""Units whose replicates are sorted and summarised at once (bounded temporaries: 92 draws ×
216,000 units at once took 0.4 GB above the replicates themselves)."""
KEEP_DRAWS = 10
"""Replicated data sets stored in ``posterior.nc`` (group ``posterior_predictive``) for plots."""
LEVELS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.94, 0.99)
"""Nominal probabilities of the central predictive intervals checked by :func:`calibration`."""


def thinned_posterior(idata: az.InferenceData, step: int) -> az.InferenceData:
    """Every ``step``-th draw of the posterior, as views: ``InferenceData.sel`` deep-copies every
    group first (1.2 s for the two thinnings of a 300-gene × 60-line fit, measured)."""
    return az.InferenceData(posterior=idata.posterior.isel(draw=slice(None, None, step))) if step > 1 else idata


def _thin_to(idata: az.InferenceData, n_draws: int) -> az.InferenceData:
    post = idata.posterior
    total = post.sizes["chain"] * post.sizes["draw"]
    return thinned_posterior(idata, max(1, int(np.ceil(total / n_draws))))


def replicated(
    model: pm.Model, idata: az.InferenceData, var: str, seed: int, units: NormalUnits | None = None
) -> np.ndarray:
    """One replicate of ``var`` per posterior draw (chain × draw × unit): in JAX for a Normal
    (``units``, :mod:`screenfit.results.pointwise`), else by :func:`pymc.sample_posterior_predictive`."""
    if units is not None:
        return units.replicate(idata.posterior, seed)
    with warnings.catch_warnings():
        # The only Potential is the Gaussian within-unit term, a function of σ and the data: it
        # does not change the predictive distribution of a unit's mean, so PyMC's warning that
        # Potentials are ignored does not apply here.
        warnings.filterwarnings("ignore", message="The effect of Potentials", category=UserWarning)
        rep = pm.sample_posterior_predictive(
            idata, model=model, var_names=[var], random_seed=seed, progressbar=False, extend_inferencedata=False
        )
    return np.asarray(rep.posterior_predictive[var].values)


def predictive_check(
    model: pm.Model,
    idata: az.InferenceData,
    var: str,
    observed: np.ndarray,
    labels: Mapping[str, np.ndarray | pd.Categorical],
    ci_prob: float,
    seed: int,
    units: NormalUnits | None = None,
) -> tuple[pd.DataFrame, xr.Dataset]:
    """Replicate ``var`` of ``model`` from the posterior and summarise it per unit.

    Parameters
    ----------
    model
        The PyMC model whose observed variable ``var`` has one entry per unit (dim ``obs``).
    idata
        Posterior draws (thinned here to at most :data:`PPC_DRAWS`).
    observed
        The observed value of each unit.
    labels
        Columns that label the units (``sgrna``, ``hugo_symbol``, ``depmap_id``, …).
    ci_prob
        Probability of the central predictive interval columns.
    seed
        Seed of the replicated draws and of the PIT tie-breaking.
    units
        ``var``'s mean and SD in JAX (:class:`~screenfit.results.pointwise.NormalUnits`), when
        it is a Normal: replicates from them instead of PyMC's draw-by-draw sampler.

    Returns
    -------
    The per-unit table and a small ``posterior_predictive`` dataset (:data:`KEEP_DRAWS` draws).
    """
    n_units = observed.shape[0]
    n_draws = int(min(PPC_DRAWS, max(20, PPC_BUDGET // max(n_units, 1))))
    thinned = _thin_to(idata, n_draws)
    values = replicated(model, thinned, var, seed, units)
    flat = values.reshape(-1, n_units)
    # Summarised per unit from its sorted draws, in the replicates' precision (float32 from JAX):
    # one contiguous sort gives the quantiles without numpy's partition per quantile, and no
    # float64 copy of the draws × units array (1.3 s → 0.3 s for 92 draws of 216,000 units).
    # A slice of units at a time, so the sorted copy and its temporaries stay small.
    tiebreak = np.asarray(np.random.default_rng(seed).uniform(size=n_units))
    tail = (1.0 - ci_prob) / 2.0
    columns = ("predicted_mean", "predicted_sd", "predicted_lower", "predicted_upper", "pit")
    summary = {k: np.empty(n_units) for k in columns}
    for start in range(0, n_units, PPC_SUMMARY_UNITS):
        part = slice(start, start + PPC_SUMMARY_UNITS)
        ordered = np.sort(np.ascontiguousarray(flat[:, part].T), axis=1)
        obs = observed[part, None]
        below, ties = (ordered < obs).mean(axis=1), (ordered == obs).mean(axis=1)
        summary["pit"][part] = below + tiebreak[part] * ties
        summary["predicted_mean"][part] = ordered.mean(axis=1, dtype=np.float64)
        summary["predicted_sd"][part] = ordered.std(axis=1, ddof=1)
        summary["predicted_lower"][part], summary["predicted_upper"][part] = sorted_quantiles(
            ordered, (tail, 1.0 - tail)
        )
    table = pd.DataFrame(labels)
    table["observed"] = observed
    for column in columns:
        table[column] = summary[column]
    keep = flat[: min(KEEP_DRAWS, flat.shape[0])].astype(np.float32)
    stored = xr.Dataset(
        {var: (("chain", "draw", "obs"), keep[None])},
        coords={"chain": [0], "draw": np.arange(keep.shape[0]), "obs": np.arange(n_units)},
    )
    return table, stored


def sorted_quantiles(ordered: np.ndarray, probs: tuple[float, ...]) -> list[np.ndarray]:
    """Quantiles ``probs`` of each row of ``ordered`` (rows sorted ascending), as float64:
    numpy's default (``method="linear"``) rule, ``x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋])`` with
    ``h = p (n − 1)``, read off the sorted rows instead of partitioning them again."""
    n = ordered.shape[1]
    out = []
    for p in probs:
        h = p * (n - 1)
        lo = int(np.floor(h))
        hi = min(lo + 1, n - 1)
        low = ordered[:, lo].astype(np.float64)
        out.append(low + (h - lo) * (ordered[:, hi].astype(np.float64) - low))
    return out


def covered(pit: np.ndarray | pd.Series, level: float) -> np.ndarray:
    """Whether each observation lies in the central predictive interval of probability ``level``."""
    return np.abs(np.asarray(pit, dtype=float) - 0.5) <= level / 2.0


def calibration(ppc: pd.DataFrame, levels: tuple[float, ...] = LEVELS) -> pd.DataFrame:
    """Nominal vs observed coverage of central predictive intervals, with a binomial SE."""
    n = len(ppc)
    rows = []
    for level in levels:
        cov = float(covered(ppc["pit"], level).mean()) if n else np.nan
        rows.append({"nominal": level, "observed": cov, "se": float(np.sqrt(level * (1 - level) / max(n, 1))), "n": n})
    return pd.DataFrame(rows)


def ppc_by(ppc: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per group (``depmap_id`` or ``hugo_symbol``): observed vs predicted means, RMSE, coverage.

    Sorted by the 94% coverage, worst first, so lines or genes the model fits badly come on top.
    """
    frame = ppc.assign(
        sq=(ppc["observed"] - ppc["predicted_mean"]) ** 2,
        in50=covered(ppc["pit"], 0.5),
        in94=covered(ppc["pit"], 0.94),
    )
    grouped = frame.groupby(by, observed=True)
    out = pd.DataFrame(
        {
            "n_units": grouped.size(),
            "observed_mean": grouped["observed"].mean(),
            "predicted_mean": grouped["predicted_mean"].mean(),
            "rmse": np.sqrt(grouped["sq"].mean()),
            "coverage_50": grouped["in50"].mean(),
            "coverage_94": grouped["in94"].mean(),
        }
    )
    return out.sort_values(["coverage_94", "rmse"], ascending=[True, False]).reset_index()
