"""A fit folder: :class:`FitResult`, written atomically (:func:`write_fit`) and read back (:func:`load_fit`).

Output folder (CONVENTIONS.md): ``posterior.nc`` (or ``posterior.zarr`` for large posteriors),
``config.json``, ``provenance.json``, ``diagnostics.json`` and the tables (Parquet + CSV twin).
``config.json`` is written last, so a folder that has it is complete.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import arviz as az
import pandas as pd

from screenfit.errors import ScreenfitInputError
from screenfit.inference.cache import CONFIG
from screenfit.inference.diagnostics import Diagnostics
from screenfit.io.atomic import atomic_path
from screenfit.io.posterior import read_posterior_zarr, write_posterior, write_posterior_zarr
from screenfit.io.tables import write_table

POSTERIOR_VALUES_NETCDF = 50_000_000
"""Posteriors with more values than this are written as ``posterior.zarr`` (parameters and
sampler statistics only) instead of ``posterior.nc`` (CONVENTIONS.md)."""


POSTERIOR_ZARR = "posterior.zarr"


@dataclass
class FitResult:
    """A fit: status and diagnostics, labelled tables, configuration, and the posterior.

    ``idata`` is loaded from ``posterior.nc`` on first use when the fit came from the cache.
    """

    model: str
    diagnostics: Diagnostics
    tables: dict[str, pd.DataFrame]
    config: dict[str, object]
    provenance: dict[str, object]
    out: Path | None = None
    cached: bool = False
    _idata: az.InferenceData | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        """``converged``, ``approximate`` or ``failed``."""
        return self.diagnostics.status

    @property
    def idata(self) -> az.InferenceData:
        """The posterior as ArviZ InferenceData."""
        if self._idata is None:
            if self.out is None:
                raise ScreenfitInputError("this fit has no posterior in memory or on disk.")
            zarr = self.out / POSTERIOR_ZARR
            self._idata = read_posterior_zarr(zarr) if zarr.is_dir() else az.from_netcdf(self.out / "posterior.nc")
        return self._idata

    @property
    def options(self) -> dict[str, object]:
        """The model options the fit was made with (covariate, copy-number column, threshold)."""
        return dict(self.config.get("options") or {})  # type: ignore[call-overload]

    @property
    def preset(self) -> str | None:
        """The preset the fit's model came from (``None`` for a model named by hand)."""
        value = self.config.get("preset")
        return None if value is None else str(value)

    @property
    def notes(self) -> list[str]:
        """What the preset left out for this screen, and why."""
        return [str(n) for n in self.config.get("preset_notes") or []]  # type: ignore[attr-defined]

    @property
    def gene_effects(self) -> pd.DataFrame:
        """One row per gene: mean, sd, HDI bounds, P(effect < threshold)."""
        return self.tables["gene_effects"]

    def table(self, name: str) -> pd.DataFrame:
        """A result table by its file stem; unknown names list the available ones."""
        if name not in self.tables:
            raise ScreenfitInputError(f"no table '{name}' in this fit; it has {', '.join(self.tables)}.")
        return self.tables[name]


def write_fit(result: FitResult, idata: az.InferenceData, out: Path, force: bool) -> None:
    """Write a fit folder atomically; ``config.json`` last, so a folder with it is complete."""
    t0 = time.perf_counter()
    ci_prob = result.config["ci_prob"]
    with atomic_path(out, force=force) as tmp:
        tmp.mkdir()
        n_values = sum(int(v.size) for g in idata.groups() for v in getattr(idata, g).data_vars.values())
        meta = {"model": result.model, "ci_prob": ci_prob, "status": result.status}
        # The posterior is written in another thread while the tables are (NetCDF's and Arrow's
        # writers leave Python's lock while they write), a third less time.
        with ThreadPoolExecutor(max_workers=1) as pool:
            if n_values > POSTERIOR_VALUES_NETCDF:
                posterior = pool.submit(write_posterior_zarr, idata, tmp / POSTERIOR_ZARR)
            else:
                posterior = pool.submit(write_posterior, idata, tmp / "posterior.nc")
            for stem, table in result.tables.items():
                write_table(table, tmp / f"{stem}.parquet", metadata=meta)
            posterior.result()
        (tmp / "diagnostics.json").write_text(json.dumps(result.diagnostics.to_dict(), indent=2, default=str) + "\n")
        result.provenance["timings_s"]["write"] = time.perf_counter() - t0  # type: ignore[index]
        (tmp / "provenance.json").write_text(json.dumps(result.provenance, indent=2, default=str) + "\n")
        # config.json last: a folder with config.json is a complete fit.
        (tmp / CONFIG).write_text(json.dumps(result.config, indent=2, default=str) + "\n")


def load_fit(folder: str | Path) -> FitResult:
    """Load a fit written by :func:`fit` (tables eagerly, the posterior on first use)."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        raise ScreenfitInputError(
            "not a screenfit fit folder (no config.json).", file=folder, fix="pass the --out of a fit."
        )
    config = json.loads((folder / CONFIG).read_text())
    diagnostics = Diagnostics.from_dict(json.loads((folder / "diagnostics.json").read_text()))
    provenance = json.loads((folder / "provenance.json").read_text())
    tables = {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
    return FitResult(str(config["model"]), diagnostics, tables, config, provenance, folder, cached=True)
