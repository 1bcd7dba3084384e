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
from collections.abc import Iterator, Mapping

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
"""Units whose replicates are summarised at once (bounded temporaries: 92 draws × 216,000 units
at once took 0.4 GB above the replicates themselves)."""
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


def replicated(model: pm.Model, idata: az.InferenceData, var: str, seed: int) -> np.ndarray:
    """One replicate of ``var`` per posterior draw (chain × draw × unit), by
    :func:`pymc.sample_posterior_predictive` (:func:`replicate_blocks` draws a Normal's in JAX)."""
    with warnings.catch_warnings():
        # The only Potential is the Gaussian within-unit term, a function of σ and the data: it
        # does not change the predictive distribution of a unit's mean, so PyMC's warning that
        # Potentials are ignored does not apply here.
        warnings.filterwarnings("ignore", message="The effect of Potentials", category=UserWarning)
        rep = pm.sample_posterior_predictive(
            idata, model=model, var_names=[var], random_seed=seed, progressbar=False, extend_inferencedata=False
        )
    return np.asarray(rep.posterior_predictive[var].values)


def replicate_blocks(
    model: pm.Model, idata: az.InferenceData, var: str, seed: int, units: NormalUnits | None = None
) -> Iterator[np.ndarray]:
    """One replicate of ``var`` per posterior draw, as blocks of draws (draws × units, in draw
    order): a few draws at a time from ``units`` in JAX (a Normal, :mod:`screenfit.results.pointwise`),
    else all at once from :func:`replicated`."""
    if units is not None:
        for block in units.replicate_blocks(idata.posterior, seed):
            yield block.reshape(block.shape[0], -1)
        return
    values = replicated(model, idata, var, seed)
    yield values.reshape(-1, int(np.prod(values.shape[2:])))


class UnitSummaries:
    """Each unit's predictive mean, SD, central interval and PIT from replicated draws that
    arrive in blocks of draws, without holding them all.

    Kept per unit: the sum and sum of squares of the draws' differences from the observation
    (float64), how many draws fell below it and how many tied with it, and the ``k`` smallest and
    ``k`` largest draws — as many as the interval's linearly interpolated quantiles read
    (numpy's default rule, :func:`interpolated_quantile`). The time course's 216,000 units × 92 draws
    were 80 MB of replicates at the fit's peak; the 6 per tail and unit a 90% interval reads are 10 MB.
    """

    def __init__(self, observed: np.ndarray, n_draws: int, ci_prob: float) -> None:
        self.observed = np.asarray(observed, dtype=np.float64)
        self.n_draws = n_draws
        tail = (1.0 - ci_prob) / 2.0
        self.positions = (tail * (n_draws - 1), (1.0 - tail) * (n_draws - 1))
        # The quantile at position h reads order statistics ⌊h⌋ and ⌊h⌋ + 1.
        lowest, highest = int(np.floor(self.positions[0])) + 1, int(np.floor(self.positions[1]))
        self.k = min(n_draws, max(lowest + 1, n_draws - highest))
        n_units = self.observed.shape[0]
        self.sum = np.zeros(n_units)
        self.sum_sq = np.zeros(n_units)
        self.below = np.zeros(n_units, np.int64)
        self.ties = np.zeros(n_units, np.int64)
        self.smallest = self.largest = np.empty((n_units, 0), np.float32)
        self.seen = 0

    def add(self, block: np.ndarray) -> None:
        """Take a block of draws (draws × units), a slice of units at a time (bounded temporaries)."""
        if self.seen == 0:  # in the draws' precision: float32 from JAX, float64 for PyMC's counts
            dtype = np.promote_types(block.dtype, np.float32)
            self.smallest = np.full((self.observed.shape[0], self.k), np.inf, dtype)
            self.largest = np.full((self.observed.shape[0], self.k), -np.inf, dtype)
        self.seen += block.shape[0]
        for start in range(0, self.observed.shape[0], PPC_SUMMARY_UNITS):
            part = slice(start, start + PPC_SUMMARY_UNITS)
            draws = np.ascontiguousarray(block[:, part].T)  # units × draws
            obs = self.observed[part, None]
            gap = draws - obs  # float64
            self.sum[part] += gap.sum(axis=1)
            self.sum_sq[part] += (gap * gap).sum(axis=1)
            self.below[part] += (draws < obs).sum(axis=1)
            self.ties[part] += (draws == obs).sum(axis=1)
            self.smallest[part] = np.sort(np.concatenate([self.smallest[part], draws], axis=1), axis=1)[:, : self.k]
            self.largest[part] = np.sort(np.concatenate([self.largest[part], draws], axis=1), axis=1)[:, -self.k :]

    def table(self, tiebreak: np.ndarray) -> dict[str, np.ndarray]:
        """The summaries (``predicted_mean``, ``predicted_sd``, ``predicted_lower``/``_upper``,
        ``pit`` randomised on ties by ``tiebreak``) once every draw was added."""
        n = self.n_draws
        if self.seen != n:
            raise ValueError(f"expected {n} replicated draws, got {self.seen}")
        mean_gap = self.sum / n
        var = (self.sum_sq - n * mean_gap**2) / (n - 1) if n > 1 else np.full_like(mean_gap, np.nan)
        lower = interpolated_quantile(self.smallest, self.positions[0])
        upper = interpolated_quantile(self.largest, self.positions[1], first=n - self.k)
        return {
            "predicted_mean": self.observed + mean_gap,
            "predicted_sd": np.sqrt(np.maximum(var, 0.0)),
            "predicted_lower": lower,
            "predicted_upper": upper,
            "pit": (self.below + tiebreak * self.ties) / n,
        }


def interpolated_quantile(ordered: np.ndarray, h: float, first: int = 0) -> np.ndarray:
    """Each row's quantile at position ``h`` by numpy's default (``method="linear"``) rule,
    ``x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋])`` with ``h = p (n − 1)``, as float64, from rows
    holding order statistics ``first, first + 1, …`` of the draws (ascending): read off sorted
    draws instead of partitioning them again."""
    lo = int(np.floor(h))
    hi = min(lo + 1, first + ordered.shape[1] - 1)
    low = ordered[:, lo - first].astype(np.float64)
    return low + (h - lo) * (ordered[:, hi - first].astype(np.float64) - low)


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
        it is a Normal: replicates from them, a block of draws at a time, instead of PyMC's
        draw-by-draw sampler.

    Returns
    -------
    The per-unit table and a small ``posterior_predictive`` dataset (:data:`KEEP_DRAWS` draws).
    """
    n_units = observed.shape[0]
    thinned = _thin_to(idata, int(min(PPC_DRAWS, max(20, PPC_BUDGET // max(n_units, 1)))))
    n_draws = thinned.posterior.sizes["chain"] * thinned.posterior.sizes["draw"]
    # Summarised as the blocks of draws arrive (UnitSummaries), in the replicates' precision
    # (float32 from JAX): no draws × units array, nor a float64 copy of one.
    summaries = UnitSummaries(observed, n_draws, ci_prob)
    kept: list[np.ndarray] = []
    n_kept = 0
    for block in replicate_blocks(model, thinned, var, seed, units):
        summaries.add(block)
        if n_kept < KEEP_DRAWS:
            kept.append(block[: KEEP_DRAWS - n_kept].astype(np.float32))
            n_kept += len(kept[-1])
    tiebreak = np.asarray(np.random.default_rng(seed).uniform(size=n_units))
    table = pd.DataFrame(labels)
    table["observed"] = observed
    for column, values in summaries.table(tiebreak).items():
        table[column] = values
    keep = np.concatenate(kept)
    stored = xr.Dataset(
        {var: (("chain", "draw", "obs"), keep[None])},
        coords={"chain": [0], "draw": np.arange(keep.shape[0]), "obs": np.arange(n_units)},
    )
    return table, stored


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
