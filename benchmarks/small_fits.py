"""Small fits from a new process: a seed-sized screen fitted by the CLI, against plain PyMC + nutpie.

Run: ``make bench-small`` (``python benchmarks/small_fits.py``; ``--quick`` for a smaller screen).

The seed's sub-sample size (26 genes × 300 lines × 4 guides × 2 replicates, 62,400 rows) is
simulated once to Parquet; then every case is a **whole process** started from that file, timed
from start to exit, with its own peak RSS (``os.wait4``):

- the reference: ``benchmarks/plain_pymc_fit.py`` (the gene + cell-line model on every row,
  nutpie with its defaults, posterior written to NetCDF), run ``--runs`` times;
- ``screenfit fit SCREEN --model gene-cellline --out DIR`` (the same model, NUTS by nutpie, with
  screenfit's tables, gate, log-likelihood and predictive checks), ``--runs`` times, each into a
  new folder (no result cache hit);
- ``screenfit fit SCREEN --out DIR``: the preset screenfit chooses for the screen.

Every run after the first finds the compiled-code caches the first left (PyTensor's and numba's
in ``~/.pytensor``, JAX's in screenfit's cache folder); ``--cold`` points them at empty folders
first. Each screenfit run's phases come from its ``provenance.json``; "start" is the rest of the
process (interpreter, imports, reading options, the gate, the tables). Prints a Markdown table;
``--json FILE`` writes the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from importlib import metadata
from pathlib import Path

VERSIONS = ("screenfit", "pymc", "pytensor", "nutpie", "numba", "jax", "arviz", "numpy")
PHASES = ("load", "compile", "sample", "log_likelihood", "predictive", "write")
HERE = Path(__file__).resolve().parent


def _timed(cmd: list[str], env: dict[str, str]) -> dict:
    """Run ``cmd`` as a process: wall seconds, its own peak RSS (GiB), exit code and stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, unlike RUSAGE_CHILDREN
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return {"wall_s": wall, "peak_rss_gib": usage.ru_maxrss / 2**20, "exit": proc.returncode,
            "stdout": stdout, "stderr_tail": stderr.strip().splitlines()[-3:]}  # fmt: skip


def simulate(work: Path, genes: int, lines: int) -> Path:
    """The seed-sized screen as Parquet in ``work`` (simulated when not there yet)."""
    from screenfit.simulate import SimulationConfig, write_simulation

    sim = work / f"sim_{genes}x{lines}"
    if not (sim / "screen.parquet").is_file():
        write_simulation(SimulationConfig(n_genes=genes, n_cell_lines=lines, seed=0), sim, write_counts=False)
    return sim / "screen.parquet"


def reference(screen: Path, out: Path, env: dict[str, str]) -> dict:
    """The plain PyMC + nutpie script as a process."""
    r = _timed([sys.executable, str(HERE / "plain_pymc_fit.py"), str(screen), str(out)], env)
    lines = [line for line in r.pop("stdout").splitlines() if line.startswith("{")]
    r["phases"] = json.loads(lines[-1]) if lines else {}
    return r


def screenfit_fit(screen: Path, out: Path, env: dict[str, str], model: str | None) -> dict:
    """``screenfit fit`` as a process, with its phases from provenance.json."""
    cli = str(Path(sys.executable).parent / "screenfit")
    cmd = [cli, "fit", str(screen), "--out", str(out), "--quiet"] + (["--model", model] if model else [])
    r = _timed(cmd, env)
    r.pop("stdout")
    if r["exit"] in (0, 2) and (out / "provenance.json").is_file():
        timings = json.loads((out / "provenance.json").read_text()).get("timings_s", {})
        r["phases"] = {k: float(timings.get(k, 0.0)) for k in PHASES}
        r["phases"]["start"] = r["wall_s"] - sum(r["phases"].values())
        config = json.loads((out / "config.json").read_text())
        r["model"], r["preset"] = config.get("model"), config.get("preset")
        r["method"] = (config.get("sampler") or {}).get("method")
        r["status"] = json.loads((out / "diagnostics.json").read_text()).get("status")
    return r


def imports(env: dict[str, str]) -> dict:
    """A process that only imports what a fit needs (screenfit.fitting: PyMC, ArviZ, pandas)."""
    return _timed([sys.executable, "-c", "import screenfit.cli, screenfit.fitting"], env)


def _cell(v: object, digits: int = 1) -> str:
    return f"{v:.{digits}f}" if isinstance(v, float) else ("—" if v is None else str(v))


def table(results: dict) -> str:
    rows = ["| case | run | whole process s | × reference (same run) | peak GiB | start | load | compile "
            "| sample | log-lik | predictive | write | status |", "|---" * 13 + "|"]  # fmt: skip
    refs = results["reference"]
    for case in ("reference", "gene-cellline", "default"):
        for i, r in enumerate(results[case]):
            ph = r.get("phases", {})
            ref = refs[min(i, len(refs) - 1)]["wall_s"]
            ratio = "" if case == "reference" else f"{ref / r['wall_s']:.1f}× faster"
            start = ph.get("start", ph.get("imports"))
            label = case if case != "default" else f"default ({r.get('preset')}, {r.get('method')})"
            rows.append("| " + " | ".join([
                label, str(i + 1), _cell(r["wall_s"]), ratio, _cell(r["peak_rss_gib"], 2), _cell(start),
                *(_cell(ph.get(k)) for k in PHASES), str(r.get("status", "exit " + str(r["exit"]))),
            ]) + " |")  # fmt: skip
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 genes × 40 lines, 2 runs (smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="runs of each case (default 3, quick 2)")
    parser.add_argument("--cold", action="store_true", help="start from empty compiled-code caches")
    parser.add_argument("--work", type=Path, default=HERE / ".small_fits")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    genes, lines = (10, 40) if args.quick else (26, 300)
    runs = args.runs or (2 if args.quick else 3)
    args.work.mkdir(parents=True, exist_ok=True)
    screen = simulate(args.work, genes, lines)
    env = dict(os.environ)
    if args.cold:
        caches = Path(tempfile.mkdtemp(prefix="caches-", dir=args.work))
        env["SCREENFIT_CACHE_DIR"] = str(caches / "screenfit")
        env["PYTENSOR_FLAGS"] = f"base_compiledir={caches / 'pytensor'}"
    versions = {p: metadata.version(p) for p in VERSIONS}  # all installed with screenfit[jax]
    results: dict = {"date": str(date.today()), "machine": platform.machine(), "cpus": os.cpu_count(),
                     "versions": versions, "screen": {"genes": genes, "lines": lines, "guides": 4, "replicates": 2},
                     "cold_start": args.cold, "reference": [], "gene-cellline": [], "default": []}  # fmt: skip
    stamp = time.strftime("%H%M%S")
    for i in range(runs):
        # Interleaved, so that a machine that slows down over the run affects every case alike.
        results["reference"].append(reference(screen, args.work / f"plain_{stamp}_{i}.nc", env))
        results["gene-cellline"].append(screenfit_fit(screen, args.work / f"fit_{stamp}_{i}", env, "gene-cellline"))
        results["default"].append(screenfit_fit(screen, args.work / f"default_{stamp}_{i}", env, None))
    results["imports"] = imports(env)
    print(f"# Small fits as new processes, {results['date']}\n")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; Python {platform.python_version()}; "
          + ", ".join(f"{k} {v}" for k, v in versions.items()))  # fmt: skip
    print(
        f"Screen: {genes} genes × {lines} lines × 4 guides × 2 replicates; caches "
        f"{'empty at the start' if args.cold else 'as found'}; imports alone: {results['imports']['wall_s']:.1f} s\n"
    )
    print(table(results))
    if args.json:
        for case in ("reference", "gene-cellline", "default"):
            for r in results[case]:
                r.pop("stdout", None)
        args.json.write_text(json.dumps(results, indent=1, default=str))
    failed = [r for c in ("reference", "gene-cellline", "default") for r in results[c] if r["exit"] not in (0, 2)]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
