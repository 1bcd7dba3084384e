"""Model comparison: PSIS-LOO (ArviZ) across fits of the same screen, with Pareto-k explained in words.

Every fit stores the pointwise log-likelihood of the same units (one guide in one cell line),
so fits of different models on the same data are comparable unit by unit. Fits of different
data, of different filters, or of different observed quantities (LFC vs read counts: their
densities are on different scales) are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd

from screenfit.errors import ScreenfitInputError
from screenfit.io.fit_folder import FitResult

K_BAD_SHARE = 0.01
"""Above this share of units with high Pareto k, the LOO estimate itself is called unreliable."""


@dataclass(frozen=True)
class Comparison:
    """Ranked comparison of fits.

    Attributes
    ----------
    table
        One row per fit, best first: ``model, rank, elpd, se, p_eff, elpd_diff, dse, weight,
        n_high_k, share_high_k, status, fit_dir`` (``elpd`` is LOO or K-fold, see ``method``).
    method
        ``"loo"`` (PSIS-LOO) or ``"kfold"`` (K-fold held out by cell line).
    pointwise
        Per fit, the pointwise ELPD of every unit (aligned across fits).
    messages
        Plain-language notes: Pareto-k warnings, failed or approximate fits.
    """

    table: pd.DataFrame
    method: str
    pointwise: dict[str, np.ndarray]
    messages: list[str]


def fit_labels(fits: Sequence[FitResult]) -> list[str]:
    """Display names of fits: the model names, with the folder name added when a model repeats."""
    names = [f.model for f in fits]
    if len(set(names)) == len(names):
        return names
    return [f"{f.model} ({f.out.name if f.out else i})" for i, f in enumerate(fits)]


def check_comparable(fits: Sequence[FitResult]) -> None:
    """Raise :class:`ScreenfitInputError` unless the fits share data, filters and observed quantity."""
    if len(fits) < 2:
        raise ScreenfitInputError("compare needs at least two fits.", fix="pass two or more fit folders.")
    first = fits[0]
    for f in fits[1:]:
        for key, what in (("data_hash", "data (or filters)"), ("observed", "observed quantity")):
            if f.config.get(key) != first.config.get(key):
                raise ScreenfitInputError(
                    f"the fits were made on different {what}: {first.out} has {key}={first.config.get(key)!r}, "
                    f"{f.out} has {f.config.get(key)!r}.",
                    file=f.out,
                    fix="compare only fits of the same screen with the same filters (and all on LFC or all on "
                    "counts); refit the models on one screen file.",
                )


def _require_loglik(f: FitResult) -> None:
    if "log_likelihood" not in f.idata.groups():
        raise ScreenfitInputError(
            "this fit has no pointwise log-likelihood.",
            file=f.out,
            fix="refit it with `screenfit fit --log-likelihood` (in Python log_likelihood=True); by default it is "
            "stored only for posteriors under 50 M values.",
        )


def high_k(elpd: az.ELPDData) -> np.ndarray:
    """Which units have a Pareto k above ArviZ's threshold for this sample size."""
    return np.asarray(elpd.pareto_k) > float(elpd.good_k)


def pareto_k_message(name: str, elpd: az.ELPDData, lines: np.ndarray) -> str | None:
    """Plain-language note on the units whose Pareto k exceeds ArviZ's threshold, or ``None``."""
    k = np.asarray(elpd.pareto_k)
    bad = high_k(elpd)
    n_bad = int(bad.sum())
    if n_bad == 0:
        return None
    share = n_bad / k.size
    worst = pd.Series(lines[bad]).value_counts().head(3)
    where = ", ".join(f"{line} ({n})" for line, n in worst.items())
    verdict = (
        "Too many for the LOO estimate to be trusted: use K-fold by cell line (`--kfold 5`)."
        if share > K_BAD_SHARE
        else "Few enough that the total ELPD is still usable, but those units' LOO values are not."
    )
    return (
        f"{name}: {n_bad:,} of {k.size:,} guide × cell-line units ({share:.2%}) have Pareto k > "
        f"{float(elpd.good_k):.2f}, "
        "so importance sampling cannot tell how the model would predict them if left out — they are "
        f"influential points (outlying guides, or lines with little data). Most are in {where}. {verdict}"
    )


def compare_fits(fits: Sequence[FitResult]) -> Comparison:
    """PSIS-LOO of each fit and ArviZ's ranked comparison (stacking weights).

    Failed and approximate fits are compared too, but flagged in ``messages`` and the table.
    """
    check_comparable(fits)
    names = fit_labels(fits)
    loos: dict[str, az.ELPDData] = {}
    messages = []
    reference_units = None
    for name, f in zip(names, fits, strict=True):
        _require_loglik(f)
        obs = f.idata.observed_data
        units = pd.MultiIndex.from_arrays([obs["sgrna"].values, obs["depmap_id"].values])
        if reference_units is None:
            reference_units = units
        elif not units.equals(reference_units):
            raise ScreenfitInputError(
                "the fits' log-likelihoods are over different guide × cell-line units.",
                file=f.out,
                fix="refit the models on the same screen file.",
            )
        # In memory: a log-likelihood read from posterior.zarr is lazy (dask), which ArviZ refuses.
        loglik = az.InferenceData(posterior=f.idata.posterior, log_likelihood=f.idata.log_likelihood.load())
        loos[name] = az.loo(loglik, pointwise=True, var_name="lfc")
        note = pareto_k_message(name, loos[name], obs["depmap_id"].values)
        if note:
            messages.append(note)
        if f.status != "converged":
            messages.append(f"{name}: the fit's status is '{f.status}' — its ELPD is not from a converged posterior.")
    ranked = az.compare(loos, ic="loo", method="stacking", scale="log")
    table = pd.DataFrame(
        {
            "model": ranked.index,
            "rank": ranked["rank"].to_numpy(dtype=int) + 1,
            "elpd": ranked["elpd_loo"].to_numpy(),
            "se": ranked["se"].to_numpy(),
            "p_eff": ranked["p_loo"].to_numpy(),
            "elpd_diff": ranked["elpd_diff"].to_numpy(),
            "dse": ranked["dse"].to_numpy(),
            "weight": ranked["weight"].to_numpy(),
        }
    )
    by_name = dict(zip(names, fits, strict=True))
    bad = {n: int(high_k(e).sum()) for n, e in loos.items()}
    table["n_high_k"] = table["model"].map(bad)
    table["share_high_k"] = table["n_high_k"] / int(next(iter(loos.values())).n_data_points)
    table["status"] = table["model"].map(lambda n: by_name[n].status)
    table["fit_dir"] = table["model"].map(lambda n: str(by_name[n].out or ""))
    pointwise = {n: np.asarray(e.loo_i) for n, e in loos.items()}
    return Comparison(table, "loo", pointwise, messages)


def rank_pointwise(pointwise: dict[str, np.ndarray], extra: dict[str, dict[str, object]]) -> pd.DataFrame:
    """Ranked table from pointwise ELPDs: totals, SEs, paired differences to the best and their SEs."""
    rows = []
    for name, values in pointwise.items():
        n = values.size
        rows.append({"model": name, "elpd": float(values.sum()), "se": float(np.sqrt(n * values.var(ddof=1)))})
    table = pd.DataFrame(rows).sort_values("elpd", ascending=False).reset_index(drop=True)
    best = pointwise[str(table.loc[0, "model"])]
    diffs = [best - pointwise[str(m)] for m in table["model"]]
    table["rank"] = np.arange(1, len(table) + 1)
    table["elpd_diff"] = [float(d.sum()) for d in diffs]
    table["dse"] = [float(np.sqrt(d.size * d.var(ddof=1))) for d in diffs]
    for key in ("p_eff", "weight", "n_high_k", "share_high_k", "status", "fit_dir"):
        table[key] = [extra.get(str(m), {}).get(key, np.nan) for m in table["model"]]
    return table[["model", "rank", "elpd", "se", "p_eff", "elpd_diff", "dse", "weight", "n_high_k",
                  "share_high_k", "status", "fit_dir"]]  # fmt: skip
