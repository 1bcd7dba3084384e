"""Essential-gene calls on single-line screens: screenfit's default against MAGeCK2 and BAGEL2.

Run: ``python benchmarks/single_screen_calls.py [--bagel BAGEL.py] [--json FILE] [--work DIR]
[--screens SHEET,…]``. MAGeCK2 runs where found (``.venv-mageck``, or ``--mageck``); BAGEL2 where
its script is given (github.com/hart-lab/bagel ``BAGEL.py``) with a Python that has its
dependencies (``.venv-bagel``: numpy, pandas, scipy, scikit-learn, click; or ``--bagel-python``).

Screens: HAP1 (TKOv3), A375 and HT-29 (Brunello), Evers 2016 RT112 and UMUC3 (CRISPRn), read
with screenfit's bundled sample sheets; every method gets the same guides and counts (those
screenfit keeps after its reference-count filter), written as one MAGeCK/BAGEL-style count table
(``sgRNA``, ``gene``, the pDNA column(s), the final replicates).

- **screenfit**: ``screenfit fit screen.parquet`` with no option (the ``single-screen`` preset
  for one line), its ``essential_calls`` table: effect (posterior mean), call at ``qvalue`` ≤ 0.05.
- **MAGeCK2** 0.3.0: ``mageck2 test`` (RRA, final replicates against the pDNA, its defaults):
  effect ``neg|lfc``, call at ``neg|fdr`` ≤ 0.05.
- **BAGEL2**: ``BAGEL.py fc`` (pDNA as control) then ``bf`` (its CEGv2/NEGv1 training sets,
  10-fold cross-validation, seed 1) and ``pr``: effect −BF, call at its ``FDR`` ≤ 0.05. BAGEL2
  trains on the reference genes it is scored on (each fold's genes scored by the others).

Metrics against the reference essential / non-essential genes (CEGv2/NEGv1, the Evers authors'
46/47 for Evers): AUROC and average precision of each method's ranking; how many genes each
calls essential, and of the called reference genes the share that are essential (precision)
and of the essential reference genes the share called (recall); wall time of each process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from accuracy_vs_chronos import ROOT, measured
from single_screens import DEFAULT_DATA, SCREENS, reference_genes

CALL_FDR = 0.05
BAGEL_SETS = ("CEGv2.txt", "NEGv1.txt")


def count_table(screen, path: Path) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """The screen's counts as one MAGeCK/BAGEL table; the pDNA and final column names."""
    t = screen.table
    ref = t.groupby(["pdna_batch", "sgrna"], observed=True)["counts_initial"].first().unstack()
    ref.index = [f"pDNA_{b}" for b in ref.index]
    final = t.pivot_table(index="replicate_id", columns="sgrna", values="counts_final", aggfunc="first", observed=True)
    counts = pd.concat([ref, final]).T.fillna(0).round().astype(np.int64)
    genes = t.drop_duplicates("sgrna").set_index("sgrna")["hugo_symbol"].astype(str)
    counts.insert(0, "gene", genes.reindex(counts.index.astype(str)).to_numpy())
    counts.index.name = "sgRNA"
    path.parent.mkdir(parents=True, exist_ok=True)
    counts.to_csv(path, sep="\t")
    return list(ref.index), [str(c) for c in final.index]


def metrics(effect: pd.Series, called: pd.Series, ess: set[str], non: set[str]) -> dict[str, float]:
    """AUROC and AP of ``effect`` (lower = more essential); calls, precision and recall on the reference genes."""
    from scipy.stats import mannwhitneyu

    e = effect[effect.index.isin(ess)].dropna()
    n = effect[effect.index.isin(non)].dropna()
    auroc = mannwhitneyu(-e.to_numpy(), -n.to_numpy(), alternative="greater").statistic / (len(e) * len(n))
    ranked = pd.concat([e, n]).sort_values(kind="stable").index.isin(ess)
    precision = np.cumsum(ranked) / np.arange(1, len(ranked) + 1)
    calls = set(called[called].index)
    on_ref = len(calls & (ess | non))
    return {
        "auroc": float(auroc),
        "average_precision": float((precision * ranked).sum() / ranked.sum()),
        "calls": len(calls),
        "precision": float(len(calls & ess) / on_ref) if on_ref else float("nan"),
        "recall": float(len(calls & ess) / len(e)),
    }


def screenfit_run(case: Path) -> tuple[pd.Series, pd.Series, float, str]:
    from screenfit.fitting import load_fit

    out = case / "screenfit"
    cli = str(Path(sys.executable).parent / "screenfit")
    wall, _ = measured([cli, "fit", str(case / "screen.parquet"), "--out", str(out), "--quiet", "--force"])
    fit = load_fit(out)
    calls = fit.table("essential_calls").set_index("hugo_symbol")
    return calls["mean"], calls["qvalue"] <= CALL_FDR, wall, fit.status


def mageck_run(case: Path, exe: str, pdna: list[str], final: list[str]) -> tuple[pd.Series, pd.Series, float]:
    prefix = case / "mageck" / "screen"
    prefix.parent.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": f"{Path(exe).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [exe, "test", "-k", str(case / "counts.tsv"), "-t", ",".join(final), "-c", ",".join(pdna), "-n", str(prefix)]
    wall, _ = measured(cmd, env=env)
    g = pd.read_csv(f"{prefix}.gene_summary.txt", sep="\t").set_index("id")
    return g["neg|lfc"], g["neg|fdr"] <= CALL_FDR, wall


def bagel_run(
    case: Path, script: str, python: str, pdna: list[str], final: list[str]
) -> tuple[pd.Series, pd.Series, float]:
    sets = [str(Path(script).with_name(name)) for name in BAGEL_SETS]
    out = case / "bagel"
    out.mkdir(exist_ok=True)
    label = str(out / "screen")
    wall = 0.0
    for cmd in (
        ["fc", "-i", str(case / "counts.tsv"), "-o", label, "-c", ",".join(pdna)],
        ["bf", "-i", f"{label}.foldchange", "-o", f"{label}.bf", "-e", sets[0], "-n", sets[1], "-c", ",".join(final),
         "-s", "1"],
        ["pr", "-i", f"{label}.bf", "-o", f"{label}.pr", "-e", sets[0], "-n", sets[1]],
    ):  # fmt: skip
        wall += measured([python, script, *cmd])[0]
    pr = pd.read_csv(f"{label}.pr", sep="\t").set_index("Gene")
    return -pr["BF"], pr["FDR"] <= CALL_FDR, wall


def run_screen(name: str, path: str, sheet: str, sets: str | None, data: Path, work: Path,
               mageck: str | None, bagel: tuple[str, str] | None) -> list[dict[str, object]]:  # fmt: skip
    from screenfit.io.counts import bundled_sheet, read_count_table
    from screenfit.io.tables import write_screen

    case = work / sheet
    screen = read_count_table(data / path, bundled_sheet(sheet))
    write_screen(screen, case / "screen.parquet", force=True)
    pdna, final = count_table(screen, case / "counts.tsv")
    ess, non = reference_genes(sorted(screen.table["hugo_symbol"].astype(str).unique()), sets, data)
    base = {"screen": name, "genes": int(screen.table["hugo_symbol"].nunique()), "essential": len(ess),
            "nonessential": len(non)}  # fmt: skip
    effect, called, wall, status = screenfit_run(case)
    rows = [{**base, "method": f"screenfit default ({status})", **metrics(effect, called, ess, non), "wall_s": wall}]
    if mageck:
        effect, called, wall = mageck_run(case, mageck, pdna, final)
        rows.append({**base, "method": "MAGeCK2 RRA", **metrics(effect, called, ess, non), "wall_s": wall})
    if bagel:
        effect, called, wall = bagel_run(case, *bagel, pdna, final)
        rows.append({**base, "method": "BAGEL2", **metrics(effect, called, ess, non), "wall_s": wall})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "single_screen_calls.json")
    parser.add_argument("--work", type=Path, default=None, help="keep the inputs and outputs here")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared screens folder")
    parser.add_argument("--screens", default=None, help="comma-separated sample-sheet names (default: all)")
    parser.add_argument("--mageck", help="mageck2 executable (default: on PATH or .venv-mageck/bin)")
    parser.add_argument("--bagel", help="BAGEL2's BAGEL.py (its CEGv2.txt and NEGv1.txt beside it)")
    parser.add_argument("--bagel-python", default=str(ROOT / ".venv-bagel" / "bin" / "python"))
    args = parser.parse_args()
    mageck = args.mageck or shutil.which("mageck2") or str(ROOT / ".venv-mageck" / "bin" / "mageck2")
    mageck = mageck if Path(mageck).exists() else None
    bagel = (args.bagel, args.bagel_python) if args.bagel and Path(args.bagel_python).exists() else None
    for tool, found in (("MAGeCK2", mageck), ("BAGEL2", bagel)):
        if not found:
            print(f"{tool} not found: skipped (see the module docstring)")
    import screenfit

    work = args.work or Path(tempfile.mkdtemp(prefix="screenfit-calls-"))
    wanted = None if args.screens is None else set(args.screens.split(","))
    rows = []
    for name, path, sheet, sets in SCREENS:
        if wanted is None or sheet in wanted:
            rows.extend(run_screen(name, path, sheet, sets, args.data, work, mageck, bagel))
            print(pd.DataFrame(rows).tail(3).to_string(index=False), flush=True)
    print(f"\nscreenfit {screenfit.__version__}, Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, {date.today()}\n")  # fmt: skip
    print("| screen | method | AUROC | AP | calls (FDR ≤ 0.05) | precision | recall | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['screen']} | {r['method']} | {r['auroc']:.4f} | {r['average_precision']:.4f} | {r['calls']} | "
              f"{r['precision']:.3f} | {r['recall']:.3f} | {r['wall_s']:.0f} |")  # fmt: skip
    args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
