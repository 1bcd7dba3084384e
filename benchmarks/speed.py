"""Speed benchmark: screenfit's fits against plain PyMC + nutpie, measured in the same run.

Run: ``make bench`` (``python benchmarks/speed.py``) or ``make bench-quick``
(``python benchmarks/speed.py --quick``: small sizes, a smoke test CI can afford).

Each case runs in its own Python process (so peak memory is the case's own) and reports wall
time split into load / compile / sample, peak RSS, max R-hat, min bulk ESS, ESS per second of
sampling, and the ratio against its reference:

- NUTS: the same model written as a plain PyMC model on the full (row-level) likelihood,
  compiled and sampled by nutpie with the same chains, draws, tuning steps (nutpie's default)
  and seed — what a user writes by hand. Large sizes run the reference with fewer draws; the
  ratio then compares ESS per second.
- VI: the same model's plain PyMC ADVI on the full likelihood, same steps.

Also: a second fit of the same model in the same process (compile reuse), and a scaling table
of the copy-number model across sizes (genes × lines × replicates). Prints Markdown tables;
``--json FILE`` also writes the raw results.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
import warnings
from datetime import date
from importlib import metadata
from pathlib import Path

CHAINS = 4


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _simulate(genes: int, lines: int, replicates: int, seed: int = 1):  # type: ignore[no-untyped-def]
    from screenfit.simulate import SimulationConfig, simulate_screen

    cfg = SimulationConfig.additive(
        n_genes=genes, n_cell_lines=lines, n_replicates=replicates, seed=seed, cn_slope_mean=-0.1,
        cn_slope_sd=0.02, amplified_fraction=0.1,
    )  # fmt: skip
    screen, _, _ = simulate_screen(cfg)
    return screen


def _gate(idata, names: list[str]) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    import arviz as az
    import numpy as np

    post = idata.posterior[names]
    rhat = az.rhat(post, method="rank")
    ess = az.ess(post, method="bulk")
    return (
        float(max(np.nanmax(rhat[v].values) for v in names)),
        float(min(np.nanmin(ess[v].values) for v in names)),
    )


def run_screenfit(case: dict) -> dict:
    """One screenfit fit (and, with ``repeat``, a second one in the same process)."""
    from screenfit.fitting import fit
    from screenfit.inference.samplers import SamplerConfig

    t0 = time.perf_counter()
    screen = _simulate(case["genes"], case["lines"], case["replicates"])
    sim_s = time.perf_counter() - t0
    sampler = SamplerConfig(method=case["method"], draws=case.get("draws"), chains=CHAINS, seed=0)
    out = {}
    for attempt in range(2 if case.get("repeat") else 1):
        t1 = time.perf_counter()
        result = fit(screen, case["model"], sampler=sampler, log_likelihood=False, predictive=False, progress=False)
        wall = time.perf_counter() - t1
        t = result.provenance["timings_s"]
        d = result.diagnostics
        key = "" if attempt == 0 else "second_"
        out.update({
            f"{key}wall_s": wall, f"{key}load_s": t["load"], f"{key}compile_s": t["compile"],
            f"{key}sample_s": t["sample"], f"{key}max_rhat": d.max_rhat, f"{key}min_ess": d.min_ess_bulk,
            f"{key}status": d.status,
        })  # fmt: skip
    out.update(rows=screen.n_rows, simulate_s=sim_s, peak_rss_mib=_peak_rss_mib())
    return out


def run_reference(case: dict) -> dict:
    """The plain-PyMC reference: full likelihood, nutpie NUTS (or PyMC ADVI)."""
    import numpy as np
    import nutpie
    import pymc as pm

    from screenfit.data.design import prepare_covariates

    screen = _simulate(case["genes"], case["lines"], case["replicates"])
    t0 = time.perf_counter()
    table = prepare_covariates(screen, ["gene_cn_z"]) if case["model"] == "copy-number" else screen.table
    genes, g = np.unique(table["hugo_symbol"].astype(str), return_inverse=True)
    lines, c = np.unique(table["depmap_id"].astype(str), return_inverse=True)
    y = table["lfc"].to_numpy(float)
    with pm.Model(coords={"gene": genes, "line": lines}) as model:
        mu_a = pm.Normal("gene_effect_mu", 0.0, 1.0)
        sd_a = pm.HalfNormal("gene_effect_sd", 1.0)
        a = pm.Normal("gene_effect", mu_a, sd_a, dims="gene")
        b = pm.ZeroSumNormal("cell_line_effect", sigma=0.5, dims="line")
        mean = a[g] + b[c]
        if case["model"] == "copy-number":
            mu_k = pm.Normal("cn_slope_mu", 0.0, 0.5)
            sd_k = pm.HalfNormal("cn_slope_sd", 0.2)
            k = pm.Normal("cn_slope", mu_k, sd_k, dims="line")
            mean = mean + k[c] * table["gene_cn_z"].to_numpy(float)
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("lfc", mean, sigma, observed=y)
    load = time.perf_counter() - t0
    draws = case.get("reference_draws") or case.get("draws") or 1000
    names = ["gene_effect", "cell_line_effect", "sigma"]
    if case["method"] in ("advi", "svi"):  # variational fits are compared with plain PyMC ADVI
        t1 = time.perf_counter()
        with model:
            approx = pm.fit(n=case.get("vi_steps", 20000), method="advi", random_seed=0, progressbar=False)
        sample = time.perf_counter() - t1
        approx.sample(1000, random_seed=0)
        return {"wall_s": load + sample, "load_s": load, "compile_s": 0.0, "sample_s": sample,
                "max_rhat": None, "min_ess": None, "draws": 0, "peak_rss_mib": _peak_rss_mib()}  # fmt: skip
    t1 = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model)
    compile_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    # nutpie's own tuning default (400), as screenfit uses; a shortened reference run tunes as
    # many steps as it draws.
    tune = draws if case.get("reference_draws") else None
    idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=CHAINS, cores=2, seed=0, progress_bar=False)
    sample = time.perf_counter() - t2
    rhat, ess = _gate(idata, names)
    return {"wall_s": load + compile_s + sample, "load_s": load, "compile_s": compile_s, "sample_s": sample,
            "max_rhat": rhat, "min_ess": ess, "draws": draws, "peak_rss_mib": _peak_rss_mib()}  # fmt: skip


def _child(kind: str, case: dict) -> dict:
    """Run one case in a fresh interpreter; returns its JSON result (or the error)."""
    cmd = [sys.executable, __file__, "--child", kind, json.dumps(case)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def _fmt(v: object, digits: int = 1) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _timings(r: dict, prefix: str = "") -> list[str]:
    return [_fmt(r[f"{prefix}{k}_s"]) for k in ("wall", "load", "compile", "sample")]


def _ess_per_s(r: dict) -> float | None:
    """Min bulk ESS per second of sampling (None for VI)."""
    return r["min_ess"] / r["sample_s"] if r.get("min_ess") and r["sample_s"] > 0 else None


def comparison_cases(quick: bool) -> list[dict]:
    """Model × size × method cases compared against their reference."""
    if quick:
        return [
            {"name": "tiny (20 × 30 × 4 × 2)", "genes": 20, "lines": 30, "replicates": 2, "model": "gene-cellline",
             "method": "nutpie", "draws": 300, "repeat": True},
            {"name": "tiny (20 × 30 × 4 × 2)", "genes": 20, "lines": 30, "replicates": 2, "model": "gene-cellline",
             "method": "advi", "vi_steps": 5000},
            {"name": "tiny (20 × 30 × 4 × 2)", "genes": 20, "lines": 30, "replicates": 2, "model": "gene-cellline",
             "method": "svi", "vi_steps": 5000},
        ]  # fmt: skip
    return [
        {"name": "seed-sized (26 × 300 × 4 × 2)", "genes": 26, "lines": 300, "replicates": 2,
         "model": "gene-cellline", "method": "nutpie", "repeat": True},
        {"name": "seed-sized (26 × 300 × 4 × 2)", "genes": 26, "lines": 300, "replicates": 2,
         "model": "gene-cellline", "method": "advi", "vi_steps": 20000},
        {"name": "seed-sized (26 × 300 × 4 × 2)", "genes": 26, "lines": 300, "replicates": 2,
         "model": "gene-cellline", "method": "svi", "vi_steps": 20000, "repeat": True},
        {"name": "1,000 × 300 × 4 × 2", "genes": 1000, "lines": 300, "replicates": 2, "model": "copy-number",
         "method": "nutpie", "reference_draws": 200},
    ]  # fmt: skip


def scaling_cases(quick: bool) -> list[dict]:
    """copy-number NUTS across sizes, for the growth table (1,000 × 300 × 4 × 2 is in the comparison)."""
    sizes = [(20, 20, 2), (40, 20, 2)] if quick else [(100, 50, 2), (300, 100, 2), (1000, 100, 2), (1000, 300, 4)]
    return [
        {"name": f"{g} × {c} × 4 × {r}", "genes": g, "lines": c, "replicates": r, "model": "copy-number",
         "method": "nutpie", "draws": 300 if quick else None}
        for g, c, r in sizes
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the benchmark still works")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        warnings.simplefilter("ignore")  # the child's stdout carries one JSON line; its warnings are noise here
        kind, case = args.child[0], json.loads(args.child[1])
        print(json.dumps(run_screenfit(case) if kind == "screenfit" else run_reference(case)))
        return
    versions = {p: metadata.version(p) for p in ("screenfit", "pymc", "pytensor", "nutpie", "arviz", "numpy")}
    print(f"# screenfit speed benchmark ({'quick' if args.quick else 'full'}), {date.today()}")
    print(f"Machine: {platform.machine()}, {platform.processor() or '?'}; Python {platform.python_version()}; "
          + ", ".join(f"{k} {v}" for k, v in versions.items()) + "\n")  # fmt: skip
    results: dict[str, list] = {"comparison": [], "scaling": []}
    print(_row(["case", "model", "method", "who", "wall s", "load", "compile", "sample", "peak MiB", "max R-hat",
                "min ESS", "ESS/s", "speed-up"]))  # fmt: skip
    print(_row(["---"] * 13))
    for case in comparison_cases(args.quick):
        ours, ref = _child("screenfit", case), _child("reference", case)
        results["comparison"].append({"case": case, "screenfit": ours, "reference": ref})
        label = [case["name"], case["model"], case["method"]]
        ref_name = "plain ADVI" if case["method"] in ("advi", "svi") else "plain PyMC + nutpie"
        for who, r in (("screenfit", ours), (ref_name, ref)):
            if "error" in r:
                print(_row([*label, who, f"error: {r['error']}"]))
                continue
            ess_s = _ess_per_s(r)
            speed = ""
            if who == "screenfit" and "error" not in ref:
                speed = "" if case.get("reference_draws") else f"{ref['wall_s'] / r['wall_s']:.1f}× wall"
                if ess_s and _ess_per_s(ref):
                    speed += f" {ess_s / _ess_per_s(ref):.1f}× ESS/s"
            print(_row([*label, who, *_timings(r), _fmt(r["peak_rss_mib"], 0), _fmt(r.get("max_rhat"), 3),
                        _fmt(r.get("min_ess"), 0), _fmt(ess_s, 0), speed]))  # fmt: skip
            if r.get("second_wall_s") is not None:
                print(_row([*label, "screenfit, 2nd fit in process", *_timings(r, "second_"), "",
                            _fmt(r["second_max_rhat"], 3), _fmt(r["second_min_ess"], 0), "", ""]))  # fmt: skip
    print()
    print(_row(["size (genes × lines × guides × replicates)", "rows", "wall s", "load", "compile", "sample",
                "peak MiB", "max R-hat", "min ESS", "status"]))  # fmt: skip
    print(_row(["---"] * 10))
    for case in scaling_cases(args.quick):
        r = _child("screenfit", case)
        results["scaling"].append({"case": case, "screenfit": r})
        if "error" in r:
            print(_row([case["name"], f"error: {r['error']}"]))
            continue
        print(_row([case["name"], f"{r['rows']:,}", *_timings(r), _fmt(r["peak_rss_mib"], 0),
                    _fmt(r["max_rhat"], 3), _fmt(r["min_ess"], 0), r["status"]]))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"versions": versions, "date": str(date.today()), **results}, indent=2))
    errors = [r for group in results.values() for item in group for r in item.values() if "error" in r]
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
