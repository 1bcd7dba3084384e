"""Sharded two-stage fit against the joint fit on a mid-size simulated screen (docs/distributed.md).

Run: ``make bench-sharded`` (``python benchmarks/sharded.py``); ``--quick`` for a small smoke run.

Simulates the additive regime (where ``gene-cellline`` is the true model, so coverage of the
true gene effects is meaningful), fits it jointly by NUTS and by the two-stage sharded fit on a
Dask ``LocalCluster``, and prints: Pearson r of the gene-effect means (sharded vs joint), the
ratio of their posterior SDs, each one's 94% HDI coverage of the true effects with its binomial
SE, and wall times — the stage-2 time for each worker count, with the speed-up against one
worker measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from datetime import date
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd


def _coverage(table: pd.DataFrame, truth: pd.Series) -> tuple[float, float]:
    t = table.set_index("hugo_symbol")
    true = truth.loc[t.index]
    inside = ((t["hdi_lower"] <= true) & (true <= t["hdi_upper"])).to_numpy()
    return float(inside.mean()), float(np.sqrt(0.94 * 0.06 / len(inside)))


def main() -> None:
    from screenfit.cluster import ClusterSpec
    from screenfit.fitting import fit
    from screenfit.inference.samplers import SamplerConfig
    from screenfit.sharding import checkpoint_folder, fit_sharded
    from screenfit.simulate import SimulationConfig, simulate_screen

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts for the scaling runs")
    parser.add_argument("--model", default="gene-cellline")
    parser.add_argument("--chunks", type=int, default=8, help="stage-2 chunks (the same in every scaling run)")
    parser.add_argument("--quick", action="store_true", help="200 genes × 40 lines, workers 1,2")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.genes, args.lines = 200, 40
    workers = [int(w) for w in args.workers.split(",")]
    screen, truth, _ = simulate_screen(SimulationConfig.additive(n_genes=args.genes, n_cell_lines=args.lines, seed=11))
    true = truth.genes.set_index("hugo_symbol")["base_effect"] + truth.cell_lines["offset"].mean()
    sampler = SamplerConfig(seed=0)
    print(f"{args.genes} genes × {args.lines} lines × 4 guides × 2 replicates ({screen.n_rows:,} rows), {args.model}")
    root = Path(tempfile.mkdtemp(prefix="screenfit-sharded-"))
    results: dict[str, object] = {"genes": args.genes, "lines": args.lines, "rows": screen.n_rows, "model": args.model}
    try:
        t0 = time.perf_counter()
        joint = fit(screen, args.model, sampler=sampler, out=root / "joint", log_likelihood=False, predictive=False,
                    progress=False)  # fmt: skip
        joint_wall = time.perf_counter() - t0
        runs = []
        out = root / "sharded"
        for n in workers:
            # Stage 1 is kept between the runs (it does not depend on the workers); the chunks are refit.
            for chunk in checkpoint_folder(out).glob("chunk-*"):
                shutil.rmtree(chunk)
            t0 = time.perf_counter()
            sharded = fit_sharded(screen, args.model, cluster=ClusterSpec("local", workers=n), out=out, sampler=sampler,
                                  chunk_genes=-(-args.genes // args.chunks), force=True, keep_checkpoints=True,
                                  progress=False)  # fmt: skip
            wall = time.perf_counter() - t0
            timings = sharded.provenance["timings_s"]
            runs.append({"workers": n, "wall_s": wall, "stage1_s": timings["stage1"], "stage2_s": timings["stage2"],
                         "chunks": sharded.config["sharded"]["chunks"], "status": sharded.status})  # fmt: skip
        a = joint.gene_effects.set_index("hugo_symbol")
        b = sharded.gene_effects.set_index("hugo_symbol").loc[a.index]
        cov_joint, se = _coverage(joint.gene_effects, true)
        cov_sharded, _ = _coverage(sharded.gene_effects, true)
        results.update(
            joint_wall_s=joint_wall, joint_status=joint.status, sharded_status=sharded.status,
            r_mean=float(np.corrcoef(a["mean"], b["mean"])[0, 1]),
            max_abs_diff=float((a["mean"] - b["mean"]).abs().max()),
            sd_ratio_median=float((b["sd"] / a["sd"]).median()), coverage_joint=cov_joint, coverage_sharded=cov_sharded,
            coverage_se=se, runs=runs,
        )  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base = runs[0]["stage2_s"]
    print("\n| fit | status | wall s | stage 1 s | stage 2 s | chunks | stage-2 speed-up vs 1 worker |")
    print("|---|---|---|---|---|---|---|")
    print(f"| joint (NUTS, one process) | {results['joint_status']} | {joint_wall:.0f} | — | — | — | — |")
    for r in runs:
        print(f"| sharded, {r['workers']} worker(s) | {r['status']} | {r['wall_s']:.0f} | {r['stage1_s']:.0f} | "
              f"{r['stage2_s']:.0f} | {r['chunks']} | {base / r['stage2_s']:.2f}× |")  # fmt: skip
    print(f"\nr(gene-effect means, sharded vs joint) = {results['r_mean']:.5f}; "
          f"max |Δ| = {results['max_abs_diff']:.4f}; "
          f"median sd ratio (sharded/joint) = {results['sd_ratio_median']:.3f}")  # fmt: skip
    print(f"94% HDI coverage of the true gene effects: joint {cov_joint:.3f}, sharded {cov_sharded:.3f} "
          f"(binomial SE {se:.3f})")  # fmt: skip
    versions = {p: metadata.version(p) for p in ("screenfit", "pymc", "nutpie", "distributed")}
    print(f"\n{platform.machine()} ({os.cpu_count()} cores), Python {platform.python_version()}, "
          f"{', '.join(f'{k} {v}' for k, v in versions.items())}, {date.today()}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({**results, "versions": versions, "date": str(date.today())}, indent=2) + "\n")


if __name__ == "__main__":
    main()
