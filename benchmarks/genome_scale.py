"""Genome-scale benchmark: the streamed SVI path of `gene-by-line`, against NUTS and plain ADVI.

Run: ``make bench-genome`` (``python benchmarks/genome_scale.py``), ``--quick`` for a smoke run.

1. **Sub-sample small enough for NUTS** (default 200 genes × 100 lines, the same simulator):
   `gene-by-line` by NUTS, by screenfit's SVI, and by plain PyMC ADVI (the same model, PyMC's
   ``pm.fit``, same steps as the SVI fit took, the in-run reference). Reports the correlation of
   each variational fit's gene × line posterior means with NUTS's, the SD ratio, and each
   method's 94% HDI coverage of the true effects.
2. **Genome scale** (default 18,000 genes × 1,000 lines × 4 guides × 2 replicates = 144 M rows):
   the screen is simulated to Parquet (reused when ``--work`` already has it), then one fresh
   process streams it (:func:`screenfit.data.stream.stream_design`) and fits it by SVI, writing a
   full fit folder. Reports stream / build / optimise+draw / write times, peak RSS of that
   process, SVI steps, and r with the true effects. The plain-ADVI reference is timed per step
   on the same design in its own process (``--reference-steps`` steps): a full plain-ADVI fit at
   this size would take hours.

3. ``--default-preset``: ``screenfit fit SCREEN --stream --out DIR`` with no other option (the
   ``depmap`` preset, streamed as guide × line statistics) as its own process: whole-process wall
   time and peak RSS, the fit's phases, and accuracy against the truth beside plain `gene-by-line`'s.

Prints Markdown tables; ``--json FILE`` writes the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from datetime import date
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

VERSIONS = ("screenfit", "pymc", "pytensor", "nutpie", "jax", "optax", "numpyro", "numpy")


def _coverage(table: pd.DataFrame, truth: pd.DataFrame) -> tuple[float, float]:
    """(r of posterior means with the true effects, fraction of true effects inside the HDIs)."""
    merged = table.merge(truth[["hugo_symbol", "depmap_id", "gene_effect"]], on=["hugo_symbol", "depmap_id"])
    t = merged["gene_effect"]
    inside = ((merged["hdi_lower"] <= t) & (t <= merged["hdi_upper"])).mean()
    return float(np.corrcoef(merged["mean"], t)[0, 1]), float(inside)


def _aligned_coverage(table: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Coverage of the truth moved by the median offset of the estimates: LFC fixes the overall
    level only up to normalisation (counts are scaled per replicate)."""
    merged = table.merge(truth[["hugo_symbol", "depmap_id", "gene_effect"]], on=["hugo_symbol", "depmap_id"])
    t = merged["gene_effect"] + float((merged["mean"] - merged["gene_effect"]).median())
    return float(((merged["hdi_lower"] <= t) & (t <= merged["hdi_upper"])).mean())


def subsample(genes: int, lines: int, seed: int) -> dict:
    """NUTS, SVI and plain ADVI on one simulated screen small enough for NUTS."""
    import pymc as pm

    from screenfit.data.design import build_design
    from screenfit.fitting import fit
    from screenfit.inference.samplers import SamplerConfig
    from screenfit.models.registry import get_model
    from screenfit.simulate import SimulationConfig, simulate_screen

    screen, _, gene_line = simulate_screen(SimulationConfig(n_genes=genes, n_cell_lines=lines, seed=seed))
    kw = {"log_likelihood": False, "predictive": False, "progress": False}
    out: dict[str, dict] = {}
    tables = {}
    for name, sampler in (("NUTS", SamplerConfig()), ("screenfit SVI", SamplerConfig(method="svi"))):
        t0 = time.perf_counter()
        result = fit(screen, "gene-by-line", sampler=sampler, **kw)
        wall = time.perf_counter() - t0
        tables[name] = result.table("gene_cell_line_effects")
        r_truth, cover = _coverage(tables[name], gene_line)
        d = result.diagnostics
        out[name] = {"wall_s": wall, "status": d.status, "max_rhat": d.max_rhat, "min_ess": d.min_ess_bulk,
                     "steps": d.optimiser.get("steps"), "r_truth": r_truth, "coverage_94": cover}  # fmt: skip
    steps = int(out["screenfit SVI"]["steps"])
    spec = get_model("gene-by-line")
    model = spec.build(build_design(screen, spec.level(True), spec.covariate_columns), evaluation=True)
    t0 = time.perf_counter()
    with model:
        approx = pm.fit(n=steps, method="advi", random_seed=seed, progressbar=False,
                        obj_optimizer=pm.adam(learning_rate=0.001))  # fmt: skip
        draws = approx.sample(1000, random_seed=seed)
    wall = time.perf_counter() - t0
    theta = draws.posterior["gene_line_effect"]
    advi = tables["NUTS"][["hugo_symbol", "depmap_id"]].copy()
    values = theta.stack(s=("chain", "draw")).transpose("hugo_symbol", "depmap_id", "s").values.reshape(-1, 1000)
    advi["mean"], advi["sd"] = values.mean(1), values.std(1, ddof=1)
    advi["hdi_lower"], advi["hdi_upper"] = np.quantile(values, 0.03, axis=1), np.quantile(values, 0.97, axis=1)
    tables["plain ADVI"] = advi
    r_truth, cover = _coverage(advi, gene_line)
    out["plain ADVI"] = {"wall_s": wall, "steps": steps, "r_truth": r_truth, "coverage_94": cover,
                         "status": "equal-tailed 94% interval"}  # fmt: skip
    nuts = tables["NUTS"]
    for name in ("screenfit SVI", "plain ADVI"):
        t = tables[name]
        out[name]["r_nuts"] = float(np.corrcoef(t["mean"], nuts["mean"])[0, 1])
        out[name]["sd_ratio_median"] = float((t["sd"] / nuts["sd"]).median())
        out[name]["max_mean_gap_in_nuts_sd"] = float(((t["mean"] - nuts["mean"]).abs() / nuts["sd"]).max())
    return {"genes": genes, "lines": lines, "effects": genes * lines, **out}


_GENOME_CHILD = """
import json, resource, sys, time
from screenfit.data.stream import stream_design
from screenfit.fitting import fit
from screenfit.inference.memory import configure_process_memory
from screenfit.inference.samplers import SamplerConfig
from screenfit.models.registry import get_model
path, out = sys.argv[1], sys.argv[2]
configure_process_memory()  # the allocator settings `screenfit fit` runs with
spec = get_model("gene-by-line")
t0 = time.perf_counter()
screen = stream_design(path, spec.covariate_columns)
stream_s = time.perf_counter() - t0
t1 = time.perf_counter()
result = fit(screen, spec, sampler=SamplerConfig(method="svi"), out=out, force=True, progress=False)
wall = time.perf_counter() - t1
print(json.dumps({"stream_s": stream_s, "fit_s": wall, "timings": result.provenance["timings_s"],
                  "status": result.status, "optimiser": result.diagnostics.optimiser,
                  "summary": screen.summary(),
                  "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}, default=str))
"""

_REFERENCE_CHILD = """
import json, resource, sys, time
import pymc as pm
from screenfit.data.stream import stream_design
from screenfit.models.registry import get_model
path, steps = sys.argv[1], int(sys.argv[2])
spec = get_model("gene-by-line")
screen = stream_design(path, spec.covariate_columns)
model = spec.build(screen.design, evaluation=True)
with model:
    advi = pm.ADVI(random_seed=0)
t0 = time.perf_counter()
step = advi.objective.step_function(obj_optimizer=pm.adam(learning_rate=0.001))
step()
first = time.perf_counter() - t0
t1 = time.perf_counter()
for _ in range(steps):
    step()
print(json.dumps({"compile_and_first_step_s": first, "per_step_s": (time.perf_counter() - t1) / steps,
                  "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def _child(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def simulated(genes: int, lines: int, work: Path, additive: bool = False) -> Path:
    """The folder of the simulated screen in ``work`` (simulated when it is not there yet)."""
    from screenfit.simulate import SimulationConfig, write_simulation

    sim = work / "sim"
    if not (sim / "screen.parquet").is_file():
        make = SimulationConfig.additive if additive else SimulationConfig
        write_simulation(make(n_genes=genes, n_cell_lines=lines, seed=0), sim, write_counts=False)
    return sim


def default_preset(sim: Path, work: Path) -> dict:
    """``screenfit fit SCREEN --stream --out DIR`` (the preset chosen for the screen, no other option) as
    its own process: whole-process wall time and peak RSS, the fit's phases from its provenance, and
    accuracy against the truth."""
    out = work / "fit_default"
    cli = str(Path(sys.executable).parent / "screenfit")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    # Not --quiet: without a terminal the fit logs its SVI step and loss once a minute (kept in fit_default.log).
    with (work / "fit_default.log").open("w") as log:
        done = subprocess.run([cli, "fit", str(sim / "screen.parquet"), "--stream", "--out", str(out), "--force"],
                              stdout=log, stderr=subprocess.PIPE, text=True, check=False)  # fmt: skip
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode not in (0, 2):
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1], "wall_s": wall}
    config = json.loads((out / "config.json").read_text())
    prov = json.loads((out / "provenance.json").read_text())
    diag = json.loads((out / "diagnostics.json").read_text())
    result = {"wall_s": wall, "peak_rss_gib": peak / 2**20, "peak_is_process": peak > before,
              "preset": config.get("preset"), "likelihood_level": config.get("likelihood_level"),
              "timings": prov.get("timings_s"), "optimiser": diag.get("optimiser"),
              "status": diag.get("status")}  # fmt: skip
    table = pd.read_parquet(out / "gene_cell_line_effects.parquet",
                            columns=["hugo_symbol", "depmap_id", "mean", "hdi_lower", "hdi_upper"])  # fmt: skip
    truth = pd.read_parquet(sim / "truth" / "gene_cell_line.parquet", columns=["hugo_symbol", "depmap_id",
                                                                               "gene_effect"])  # fmt: skip
    result["r_truth"], result["coverage_94"] = _coverage(table, truth)
    result["coverage_94_aligned"] = _aligned_coverage(table, truth)
    return result


def genome(genes: int, lines: int, work: Path, reference_steps: int, additive: bool = False) -> dict:
    """Simulate (or reuse) the genome-scale screen, fit it by streamed SVI, time plain ADVI per step.

    ``additive``: the simulator's additive regime, whose truth is the streamed model's own
    estimand (the default regime scales each effect by screen quality × guide efficacy, which
    plain gene-by-line does not model, so its intervals are not meant to cover that truth)."""
    t0 = time.perf_counter()
    sim = simulated(genes, lines, work, additive)
    simulate_s = time.perf_counter() - t0
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = _child(_GENOME_CHILD, str(sim / "screen.parquet"), str(work / "fit"))
    result["simulate_s"] = simulate_s
    if "error" not in result:
        table = pd.read_parquet(work / "fit" / "gene_cell_line_effects.parquet",
                                columns=["hugo_symbol", "depmap_id", "mean", "hdi_lower", "hdi_upper"])  # fmt: skip
        truth = pd.read_parquet(sim / "truth" / "gene_cell_line.parquet", columns=["hugo_symbol", "depmap_id",
                                                                                   "gene_effect"])  # fmt: skip
        result["r_truth"], result["coverage_94"] = _coverage(table, truth)
        result["coverage_94_aligned"] = _aligned_coverage(table, truth)
    result["reference"] = _child(_REFERENCE_CHILD, str(sim / "screen.parquet"), str(reference_steps))
    result["children_peak_rss_gib_max"] = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 2**20
    return {"genes": genes, "lines": lines, **result}


def _f(v: object, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if isinstance(v, float) else ("" if v is None else str(v))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--sub", type=int, nargs=2, default=None, metavar=("GENES", "LINES"))
    parser.add_argument("--genome", type=int, nargs=2, default=None, metavar=("GENES", "LINES"))
    parser.add_argument("--skip-subsample", action="store_true")
    parser.add_argument("--skip-genome", action="store_true")
    parser.add_argument("--reference-steps", type=int, default=None)
    parser.add_argument("--additive", action="store_true", help="simulate the additive regime (the model's own)")
    parser.add_argument(
        "--default-preset",
        action="store_true",
        help="also fit the screen with `screenfit fit --stream` (the preset chosen for it) as a process",
    )
    parser.add_argument("--work", type=Path, default=Path("benchmarks/.genome"), help="simulated screen and fit")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    sub = args.sub or ([20, 10] if args.quick else [200, 100])
    big = args.genome or ([100, 40] if args.quick else [18000, 1000])
    steps = args.reference_steps or (5 if args.quick else 20)
    versions = {}
    for p in VERSIONS:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            continue
    print(f"# screenfit genome-scale benchmark ({'quick' if args.quick else 'full'}), {date.today()}")
    print(f"Machine: {platform.machine()}; Python {platform.python_version()}; "
          + ", ".join(f"{k} {v}" for k, v in versions.items()) + "\n")  # fmt: skip
    results: dict[str, object] = {"versions": versions, "date": str(date.today()), "machine": platform.machine()}
    if not args.skip_subsample:
        s = subsample(*sub, seed=7)
        results["subsample"] = s
        print(f"## Sub-sample {sub[0]} genes × {sub[1]} lines (gene-by-line)\n")
        print(
            "| method | wall s | status | steps | r with NUTS means | SD ratio (median) | max gap (NUTS SDs) "
            "| r with truth | 94% coverage of truth |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for name in ("NUTS", "screenfit SVI", "plain ADVI"):
            r = s[name]
            print(f"| {name} | {r['wall_s']:.1f} | {r['status']} | {_f(r.get('steps'))} | {_f(r.get('r_nuts'), 4)} "
                  f"| {_f(r.get('sd_ratio_median'))} | {_f(r.get('max_mean_gap_in_nuts_sd'), 2)} "
                  f"| {r['r_truth']:.4f} | {r['coverage_94']:.3f} |")  # fmt: skip
        print()
    if not args.skip_genome:
        args.work.mkdir(parents=True, exist_ok=True)
        g = genome(*big, work=args.work, reference_steps=steps, additive=args.additive)
        results["genome"] = g
        print(f"## Genome scale: {big[0]:,} genes × {big[1]:,} lines × 4 guides × 2 replicates\n")
        if "error" in g:
            print(f"error: {g['error']}")
        else:
            t, o, ref = g["timings"], g["optimiser"], g["reference"]
            per_step = float(o.get("optimise_s", t["sample"])) / max(int(o["steps"]), 1)
            print("| step | seconds |\n|---|---|")
            for name, v in (("simulate (not timed in the fit)", g["simulate_s"]), ("stream Parquet → statistics",
                            g["stream_s"]), ("build model", t["load"]), ("SVI + draws", t["sample"]),
                            ("tables", g["fit_s"] - t["load"] - t["sample"] - t.get("write", 0.0)),
                            ("write", t.get("write", 0.0))):  # fmt: skip
                print(f"| {name} | {v:.1f} |")
            total = g["stream_s"] + g["fit_s"]
            print(f"\nstream + fit: **{total / 60:.1f} min**, peak RSS **{g['peak_rss_gib']:.1f} GiB**, status "
                  f"{g['status']}, {o['steps']} SVI steps ({per_step:.3f} s per step incl. compiling), "
                  f"r with truth {g.get('r_truth', float('nan')):.4f}, 94% coverage of truth "
                  f"{g.get('coverage_94', float('nan')):.3f}")  # fmt: skip
            if "error" in ref:
                print(f"plain ADVI reference: error: {ref['error']}")
            else:
                ratio = ref["per_step_s"] / per_step
                print(f"plain PyMC ADVI on the same design: {ref['per_step_s']:.4f} s per step (compile + first "
                      f"step {ref['compile_and_first_step_s']:.1f} s, peak {ref['peak_rss_gib']:.1f} GiB); "
                      f"per-step time plain ADVI / screenfit SVI = {ratio:.2f}")  # fmt: skip
    if args.default_preset:
        args.work.mkdir(parents=True, exist_ok=True)
        d = default_preset(simulated(*big, work=args.work, additive=args.additive), args.work)
        results["default_preset"] = d
        print(f"## `screenfit fit --stream` (default preset), {big[0]:,} × {big[1]:,}\n")
        if "error" in d:
            print(f"error: {d['error']}")
        else:
            t, o = d["timings"], d["optimiser"] or {}
            print("| phase | seconds |\n|---|---|")
            for name, v in t.items():
                print(f"| {name} | {v:.1f} |")
            print(f"\npreset {d['preset']} at {' × '.join(d['likelihood_level'])}: whole process "
                  f"**{d['wall_s'] / 60:.1f} min**, peak RSS **{d['peak_rss_gib']:.1f} GiB**, status {d['status']}, "
                  f"{o.get('steps')} SVI steps, r with truth {d['r_truth']:.4f}, 94% coverage {d['coverage_94']:.3f} "
                  f"(line-aligned {d['coverage_94_aligned']:.3f})\n")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    failed = "error" in results.get("genome", {}) or "error" in dict(results.get("genome", {})).get("reference", {})
    failed = failed or "error" in results.get("default_preset", {})
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
