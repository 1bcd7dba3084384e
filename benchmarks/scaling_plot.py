"""Log-log plots of how wall time and peak memory grow with the size of the screen.

Reads the raw results of ``benchmarks/speed.py`` (NUTS, copy-number model, several sizes) and
of ``benchmarks/genome_scale.py`` runs (streamed SVI, gene-by-line), and writes one PNG:

    python benchmarks/scaling_plot.py --speed benchmarks/latest.json \\
        --svi benchmarks/genome_scale_small.json benchmarks/genome_scale_mid.json \\
        benchmarks/genome_scale_genome.json --out docs/images/scaling.png

With ``--default`` it plots the default preset instead (``screenfit fit SCREEN --stream``, whole
process; ``genome_scale.py --default-preset`` runs named ``*_GxL.json``, or the one-machine run of
``sharded_default.py``) beside Chronos' measured points (``--chronos``: ``accuracy_vs_chronos.py``
results) and its README's figure for all of DepMap:

    python benchmarks/scaling_plot.py --default benchmarks/scaling_default_300x60.json \\
        benchmarks/sharded_default_2000x200.json benchmarks/scaling_default_6000x500.json \\
        --chronos benchmarks/accuracy_2000x200_stream.json --out docs/images/scaling_default.png
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def nuts_points(path: Path) -> list[tuple[int, float, float]]:
    """(rows, wall s, peak GiB) of every converged or failed copy-number NUTS size in a speed run."""
    data = json.loads(path.read_text())
    items = data["scaling"] + [c for c in data["comparison"] if c["case"]["model"] == "copy-number"]
    points = {}
    for item in items:
        r = item["screenfit"]
        if "error" not in r:
            points[r["rows"]] = (r["rows"], r["wall_s"], r["peak_rss_mib"] / 1024)
    return sorted(points.values())


def svi_points(paths: list[Path]) -> list[tuple[int, float, float]]:
    """(rows, stream + fit s, peak GiB) of the genome-scale SVI runs."""
    points = []
    for path in paths:
        g = json.loads(path.read_text()).get("genome", {})
        if "error" not in g and g:
            points.append((g["summary"]["rows"], g["stream_s"] + g["fit_s"], g["peak_rss_gib"]))
    return sorted(points)


#: Rows of a DepMap-like simulated screen per gene × line: 4 guides × 2 replicates.
ROWS_PER_GENE_LINE = 8
#: Chronos' README: all of DepMap (~1,100 lines × 18,000 genes) in 3–4 hours and 52 GB.
CHRONOS_DEPMAP = (18_000 * 1_100 * ROWS_PER_GENE_LINE, 3.5 * 3600, 52 / 1.074)


def default_points(paths: list[Path]) -> list[tuple[int, float, float]]:
    """(rows, whole-process s, peak GiB) of the default preset's streamed fits."""
    points = []
    for path in paths:
        data = json.loads(path.read_text())
        if "default_preset" in data:  # genome_scale.py --default-preset, size in the file name
            size = re.search(r"(\d+)x(\d+)", path.stem)
            run = data["default_preset"]
            if size and "error" not in run:
                rows = int(size[1]) * int(size[2]) * ROWS_PER_GENE_LINE
                points.append((rows, run["wall_s"], run["peak_rss_gib"]))
        elif "runs" in data:  # sharded_default.py: its one-machine run
            run = data["runs"]["one machine (--stream)"]
            points.append((data["genes"] * data["lines"] * ROWS_PER_GENE_LINE, run["wall_s"], run["peak_gib"]))
    return sorted(points)


def chronos_points(paths: list[Path]) -> list[tuple[int, float, float]]:
    """(rows, whole-process s, peak GiB) of Chronos in ``accuracy_vs_chronos.py`` results."""
    points = {}
    for path in paths:
        for item in json.loads(path.read_text()):
            if item["method"] == "Chronos" and item.get("peak_gb"):
                rows = item["genes"] * item["lines"] * ROWS_PER_GENE_LINE
                points[rows] = (rows, item["wall_s"], item["peak_gb"] / 1.074)
    return sorted(points.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=Path, default=Path("benchmarks/latest.json"))
    parser.add_argument("--svi", type=Path, nargs="*", default=[])
    parser.add_argument("--default", type=Path, nargs="*", default=[], help="default-preset runs (see above)")
    parser.add_argument("--chronos", type=Path, nargs="*", default=[], help="accuracy_vs_chronos.py results")
    parser.add_argument("--out", type=Path, default=Path("docs/images/scaling.png"))
    args = parser.parse_args()
    if args.default:
        series = {"screenfit fit --stream (depmap preset)": default_points(args.default),
                  "Chronos (measured, same counts)": chronos_points(args.chronos),
                  "Chronos README: all of DepMap": [CHRONOS_DEPMAP]}  # fmt: skip
    else:
        series = {"copy-number, NUTS (4 × 1,000 draws)": nuts_points(args.speed),
                  "gene-by-line, streamed SVI": svi_points(args.svi)}  # fmt: skip
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for label, points in series.items():
        if not points:
            continue
        rows, wall, mem = zip(*points, strict=True)
        ax_t.plot(rows, wall, "o-", label=label)
        ax_m.plot(rows, mem, "o-", label=label)
    for ax, ylabel in ((ax_t, "wall time (s)"), (ax_m, "peak memory (GiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows (guide × replicate LFC values)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize=8)
    fig.suptitle("screenfit: time and memory against screen size (2 CPU cores)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
