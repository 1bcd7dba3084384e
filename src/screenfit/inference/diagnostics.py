"""The convergence gate: R-hat, bulk/tail ESS, divergences, E-BFMI, and named non-identification.

A fit is ``converged`` (MCMC passing every threshold), ``approximate`` (VI/MAP whose optimiser
reached its stopping rule) or ``failed``. Tables, plots, reports and the CLI read the status.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Literal

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

Status = Literal["converged", "approximate", "failed"]


@dataclass(frozen=True)
class GateThresholds:
    """Thresholds of the convergence gate (CONVENTIONS.md)."""

    max_rhat: float = 1.01
    min_ess_bulk: float = 400.0
    min_ess_tail: float = 400.0
    max_divergences: int = 0
    min_bfmi: float = 0.3
    nonidentified_correlation: float = -0.9


@dataclass(frozen=True)
class Diagnostics:
    """Diagnostics of one fit and the resulting status, with reasons in words."""

    status: Status
    method: str
    max_rhat: float | None = None
    max_rhat_parameter: str | None = None
    min_ess_bulk: float | None = None
    min_ess_bulk_parameter: str | None = None
    min_ess_tail: float | None = None
    divergences: int | None = None
    min_bfmi: float | None = None
    optimiser: dict[str, object] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    thresholds: GateThresholds = field(default_factory=GateThresholds)

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form for diagnostics.json."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Diagnostics:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["thresholds"] = GateThresholds(**data.get("thresholds", {}))  # type: ignore[arg-type]
        data["problems"] = tuple(data.get("problems", ()))  # type: ignore[arg-type]
        return cls(**data)  # type: ignore[arg-type]


def reported_variables(idata: az.InferenceData) -> list[str]:
    """Posterior variables that are model parameters (not PyMC's transformed copies)."""
    return [str(v) for v in idata.posterior.data_vars if not str(v).endswith("__")]


def _element_labels(da: xr.DataArray) -> list[str]:
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    if not dims:
        return [str(da.name)]
    index = pd.MultiIndex.from_product([da[d].values for d in dims])
    return [f"{da.name}[{', '.join(map(str, key if isinstance(key, tuple) else (key,)))}]" for key in index]


#: Largest number of draw values one summary step works on; bigger variables go in blocks of
#: their first dimension, so memory does not grow with the number of gene × line parameters.
#: A summary holds ~5 arrays of a block's size (sorted copy, float64 widths, DepMap rescaling):
#: 1,000 draws of 18,000 gene × line effects in one 20 M block added 0.3 GB to a 300 × 60 fit's
#: peak, in blocks of 4 M 0.1 GB (measured).
BLOCK_VALUES = 4_000_000


def blocks(da: xr.DataArray, max_values: int | None = None) -> Iterator[xr.DataArray]:
    """``da`` in consecutive slices of its first non-sample dimension, each ≤ ``max_values`` values
    (default :data:`BLOCK_VALUES`).

    Draws read lazily from a store (dask-backed) are sliced along their stored chunks: a block
    spans whole chunks, or, where one chunk holds more than a block, the chunk is read once and
    handed out in slices. A chunk read for blocks that straddle it is read again for each (on a
    genome-wide posterior in 100-gene chunks and 36-gene blocks, every chunk ~3 times)."""
    max_values = max_values or BLOCK_VALUES
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    if not dims or da.size <= max_values:
        yield da
        return
    dim, n = dims[0], da.sizes[dims[0]]
    per_row = max(1, da.size // n)
    step = max(1, max_values // per_row)
    rows = da.chunks[da.get_axis_num(dim)][0] if da.chunks else None
    if rows is not None and rows > step:
        for start in range(0, n, rows):
            held = da.isel({dim: slice(start, start + rows)}).load()
            for sub in range(0, held.sizes[dim], step):
                yield held.isel({dim: slice(sub, sub + step)})
        return
    if rows is not None:
        step = step // rows * rows
    for start in range(0, n, step):
        yield da.isel({dim: slice(start, start + step)})


def per_parameter(idata: az.InferenceData, names: list[str]) -> pd.DataFrame:
    """R-hat, bulk and tail ESS (ArviZ, rank-normalised) of every element of the named variables.

    Large variables are summarised block by block (:func:`blocks`): same numbers, bounded memory.
    """
    frames = []
    for name in names:
        for part in blocks(idata.posterior[name]):
            ds = part.to_dataset(name=name)
            frames.append(
                pd.DataFrame(
                    {
                        "parameter": _element_labels(part),
                        "r_hat": np.ravel(az.rhat(ds, method="rank")[name].values),
                        "ess_bulk": np.ravel(az.ess(ds, method="bulk")[name].values),
                        "ess_tail": np.ravel(az.ess(ds, method="tail")[name].values),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def rows_of(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of a :func:`per_parameter` table that belong to variable ``name``, in its order."""
    labels = table["parameter"]
    return table[(labels == name) | labels.str.startswith(f"{name}[")].reset_index(drop=True)


def gated_variables(idata: az.InferenceData) -> list[str]:
    """Variables the gate checks: every reported parameter except raw non-centred coordinates.

    A ``*_z`` variable is the standard-normal coordinate behind a reported transform (e.g.
    ``gene_line_effect = α_g + τ_g z_gc``); checking both doubled the cost of the gate on
    gene-by-line fits (measured: ~8,000 elements, 13 s) without telling anything new.
    """
    return [v for v in reported_variables(idata) if not v.endswith("_z")]


def nonidentified_pairs(idata: az.InferenceData, pairs: tuple[tuple[str, str], ...], threshold: float) -> list[str]:
    """Name location pairs whose posterior correlation is near −1 while their sum is tight."""
    found = []
    post = idata.posterior
    for a, b in pairs:
        if a not in post or b not in post:
            continue
        x, y = post[a].values.ravel(), post[b].values.ravel()
        r = float(np.corrcoef(x, y)[0, 1])
        sum_sd, each_sd = float(np.std(x + y)), float(min(np.std(x), np.std(y)))
        if r < threshold and sum_sd < 0.5 * each_sd:
            found.append(
                f"not identified: {a} and {b} are identified only through their sum "
                f"(posterior correlation {r:.3f}; sd of the sum {sum_sd:.3g} vs {each_sd:.3g} each)"
            )
    return found


def _bfmi(energy: np.ndarray) -> float:
    """Smallest E-BFMI over chains, from energies centred per chain first.

    BFMI does not depend on the energy's level, but ArviZ's one-pass variance loses it when
    the level dwarfs the spread: an Avana counts fit (energies ≈ −9·10⁸, variance ≈ 10³) got
    an impossible −2.6 instead of 0.91.
    """
    energy = np.asarray(energy, dtype=np.float64)
    return float(np.min(az.bfmi(energy - energy.mean(axis=1, keepdims=True))))


def check_mcmc(
    idata: az.InferenceData,
    method: str,
    pairs: tuple[tuple[str, str], ...] = (),
    th: GateThresholds | None = None,
    table: pd.DataFrame | None = None,
) -> Diagnostics:
    """Compute the MCMC diagnostics and apply the gate.

    ``table``: :func:`per_parameter` of :func:`gated_variables`, when the caller has it already.
    """
    th = th or GateThresholds()
    table = per_parameter(idata, gated_variables(idata)) if table is None else table
    finite = table.replace([np.inf, -np.inf], np.nan)
    worst_rhat = finite["r_hat"].idxmax() if finite["r_hat"].notna().any() else None
    worst_ess = finite["ess_bulk"].idxmin() if finite["ess_bulk"].notna().any() else None
    max_rhat = float(finite.loc[worst_rhat, "r_hat"]) if worst_rhat is not None else float("nan")
    rhat_at = str(table.loc[worst_rhat, "parameter"]) if worst_rhat is not None else ""
    ess_bulk_min = float(finite.loc[worst_ess, "ess_bulk"]) if worst_ess is not None else float("nan")
    bulk_at = str(table.loc[worst_ess, "parameter"]) if worst_ess is not None else ""
    ess_tail_min = float(finite["ess_tail"].min())
    stats = idata.sample_stats
    divergences = int(stats["diverging"].values.sum()) if "diverging" in stats else 0
    bfmi = _bfmi(stats["energy"].values) if "energy" in stats else float("nan")
    problems = []
    if not max_rhat <= th.max_rhat:
        problems.append(f"R-hat {max_rhat:.3f} > {th.max_rhat} at {rhat_at}")
    if not ess_bulk_min >= th.min_ess_bulk:
        problems.append(f"bulk ESS {ess_bulk_min:.0f} < {th.min_ess_bulk:.0f} at {bulk_at}")
    if not ess_tail_min >= th.min_ess_tail:
        problems.append(f"tail ESS {ess_tail_min:.0f} < {th.min_ess_tail:.0f}")
    if divergences > th.max_divergences:
        problems.append(f"{divergences} divergent transitions")
    if np.isfinite(bfmi) and bfmi < th.min_bfmi:
        problems.append(f"E-BFMI {bfmi:.2f} < {th.min_bfmi}")
    problems.extend(nonidentified_pairs(idata, pairs, th.nonidentified_correlation))
    return Diagnostics(
        status="failed" if problems else "converged", method=method, max_rhat=max_rhat, max_rhat_parameter=rhat_at,
        min_ess_bulk=ess_bulk_min, min_ess_bulk_parameter=bulk_at, min_ess_tail=ess_tail_min, divergences=divergences,
        min_bfmi=bfmi, problems=tuple(problems), thresholds=th,
    )  # fmt: skip


def check_optimiser(method: str, optimiser: dict[str, object], th: GateThresholds | None = None) -> Diagnostics:
    """VI/MAP: ``approximate`` when the optimiser met its stopping rule, else ``failed``."""
    ok = bool(optimiser.get("converged"))
    problems = () if ok else (f"{method} did not reach its stopping rule: {optimiser}",)
    return Diagnostics(
        status="approximate" if ok else "failed", method=method, optimiser=optimiser, problems=problems,
        thresholds=th or GateThresholds(),
    )  # fmt: skip
