"""The reference for ``small_fits.py``: a seed-sized fit written by hand with plain PyMC + nutpie.

Run: ``python benchmarks/plain_pymc_fit.py SCREEN.parquet OUT.nc`` — what a user writes without
screenfit: read the long table, index genes and lines, the gene + cell-line intercept model on
every row (cell-line effects sum to zero, so the two are identified), compile with nutpie, sample
4 chains with nutpie's defaults, write the posterior. Prints one JSON line with its phases.
"""

from __future__ import annotations

import json
import sys
import time

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import nutpie  # noqa: E402
import pandas as pd  # noqa: E402
import pymc as pm  # noqa: E402


def main() -> None:
    screen, out = sys.argv[1], sys.argv[2]
    imports = time.perf_counter() - T0
    t0 = time.perf_counter()
    table = pd.read_parquet(screen, columns=["hugo_symbol", "depmap_id", "lfc"])
    genes, g = np.unique(table["hugo_symbol"].astype(str), return_inverse=True)
    lines, c = np.unique(table["depmap_id"].astype(str), return_inverse=True)
    with pm.Model(coords={"gene": genes, "line": lines}) as model:
        mu_a = pm.Normal("gene_effect_mu", 0.0, 1.0)
        sd_a = pm.HalfNormal("gene_effect_sd", 1.0)
        a = pm.Normal("gene_effect", mu_a, sd_a, dims="gene")
        b = pm.ZeroSumNormal("cell_line_effect", sigma=0.5, dims="line")
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("lfc", a[g] + b[c], sigma, observed=table["lfc"].to_numpy(float))
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    idata = nutpie.sample(compiled, chains=4, cores=2, seed=0, progress_bar=False)
    sample = time.perf_counter() - t0
    t0 = time.perf_counter()
    idata.to_netcdf(out)
    write = time.perf_counter() - t0
    print(json.dumps({"imports": imports, "load": load, "compile": compile_s, "sample": sample, "write": write}))


if __name__ == "__main__":
    main()
