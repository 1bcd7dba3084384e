"""The default preset sharded on a Dask cluster against the same preset on one machine.

Run: ``python benchmarks/sharded_default.py`` (2,000 genes × 200 lines; ``--quick``: 200 × 40).

Simulates a DepMap-like screen (the default simulator, written to Parquet), then fits it twice,
each as its own ``screenfit`` process from the same file: ``screenfit fit SCREEN --stream`` (the
``depmap`` preset on one machine, guide × line statistics streamed) and ``screenfit fit SCREEN
--cluster local:N`` (the same preset, stage 1 on a gene subset, then gene chunks on N local
workers, SVI stage by stage); with ``--also-streamed``, also ``screenfit fit SCREEN --stream
--cluster local:N`` (the driver never loads the screen: stage 1 and the chunks read their genes'
rows from the file). Prints the correlation of the gene × line posterior means, the
ratio of the median interval widths, each fit's r with the true effects, and wall time and peak
memory of each run (``/usr/bin/time``'s maximum RSS: the largest single process of the run,
which for the cluster is the largest of the driver and its workers, not their sum).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import date
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

KEYS = ["hugo_symbol", "depmap_id"]


def _run(args: list[str]) -> dict[str, float]:
    """Wall time and maximum RSS (GiB) of one run (its largest process), by ``/usr/bin/time -f %M``."""
    t0 = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *args], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return {"wall_s": wall, "peak_gib": peak_kib / 2**20, "exit": done.returncode}


def main() -> None:
    from screenfit.simulate import SimulationConfig, write_simulation

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="200 genes × 40 lines")
    parser.add_argument("--also-streamed", action="store_true", help="also run --stream --cluster local:N")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/.sharded_default"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    genes, lines = (200, 40) if args.quick else (args.genes, args.lines)
    sim = args.work / f"sim_{genes}x{lines}_s{args.seed}"
    if not (sim / "screen.parquet").is_file():
        write_simulation(SimulationConfig(n_genes=genes, n_cell_lines=lines, seed=args.seed), sim, write_counts=False)
    cli = str(Path(sys.executable).parent / "screenfit")
    screen = str(sim / "screen.parquet")
    runs = {
        "one machine (--stream)": ([cli, "fit", screen, "--stream"], args.work / "single"),
        f"--cluster local:{args.workers}": ([cli, "fit", screen, "--cluster", f"local:{args.workers}",
                                              "--no-log-likelihood"], args.work / "sharded"),
    }  # fmt: skip
    if args.also_streamed:
        runs[f"--stream --cluster local:{args.workers}"] = (
            [cli, "fit", screen, "--stream", "--cluster", f"local:{args.workers}"],
            args.work / "sharded_streamed",
        )
    truth = pd.read_parquet(sim / "truth" / "gene_cell_line.parquet", columns=[*KEYS, "gene_effect"])
    tables, measured = {}, {}
    for name, (cmd, out) in runs.items():
        measured[name] = _run([*cmd, "--out", str(out), "--force", "--quiet"])
        table = pd.read_parquet(out / "gene_cell_line_effects.parquet").merge(truth, on=KEYS)
        tables[name] = table.set_index(KEYS)
        measured[name]["r_truth"] = float(np.corrcoef(table["mean"], table["gene_effect"])[0, 1])
        measured[name]["status"] = json.loads((out / "diagnostics.json").read_text())["status"]
        measured[name]["preset"] = json.loads((out / "config.json").read_text()).get("preset")
    single_name, *sharded_names = tables
    single = tables[single_name]
    width = lambda t: (t["hdi_upper"] - t["hdi_lower"]).median()  # noqa: E731
    comparisons = {}
    for name in sharded_names:
        sharded = tables[name].loc[single.index]
        comparisons[name] = {
            "r_means": float(np.corrcoef(single["mean"], sharded["mean"])[0, 1]),
            "width_ratio_median": float(width(sharded) / width(single)),
            "width_ratio_per_effect_median": float(((sharded["hdi_upper"] - sharded["hdi_lower"])
                                                    / (single["hdi_upper"] - single["hdi_lower"])).median()),
        }  # fmt: skip
    versions = {p: metadata.version(p) for p in ("screenfit", "pymc", "jax", "distributed")}
    print(f"# The default preset sharded vs on one machine, {genes:,} genes × {lines:,} lines, {date.today()}")
    print(f"Machine: {platform.machine()}; Python {platform.python_version()}; "
          + ", ".join(f"{k} {v}" for k, v in versions.items()) + "\n")  # fmt: skip
    print("| fit | preset | status | wall s | peak GiB | r with truth |\n|---|---|---|---|---|---|")
    for name, m in measured.items():
        print(f"| {name} | {m['preset']} | {m['status']} | {m['wall_s']:.1f} | {m['peak_gib']:.2f} | "
              f"{m['r_truth']:.4f} |")  # fmt: skip
    for name, comparison in comparisons.items():
        print(
            f"\n{name} vs one machine: r of gene × line means {comparison['r_means']:.4f}, median interval width "
            f"ratio {comparison['width_ratio_median']:.3f} (per effect "
            f"{comparison['width_ratio_per_effect_median']:.3f})"
        )
    if args.json:
        payload = {"genes": genes, "lines": lines, "workers": args.workers, "seed": args.seed,
                   "date": str(date.today()), "versions": versions, "runs": measured,
                   "comparison": comparisons[sharded_names[0]], "comparisons": comparisons}  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
