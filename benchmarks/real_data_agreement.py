"""Agreement between two libraries on real data: the test no simulator tilts.

The DepMap sample holds two independent screens of the same 9 cell lines: Avana (Broad) and
KY (Sanger Project Score). Each library is fitted *separately* — screenfit's default (no model
option), Chronos 2.3.11 with its defaults, negative controls and ``alternate_CN`` correction,
and the naive per-line-centred mean LFC — and each method's two estimates are compared on the
shared lines and genes:

- per-line r: Pearson r across shared genes between the Avana and the KY estimate of a line
  (median over the 9 lines);
- within-gene r: each gene centred on its mean over the 9 lines in each library, then Pearson r
  between the libraries over all gene × line cells — for all shared genes, and for the 100 genes
  most variable across the lines by raw LFC (mean of the two libraries' variances: chosen from
  the data, not by any method's estimates).

Each library's own scores go beside them: median per-line AUROC of CEGv2 against NEGv1 genes and
the copy-number bias (r of effect minus the gene's mean with log2(CN + 1) over NEGv1 genes).
Each method runs as its own process from the same files on disk (screenfit: ``ingest depmap``
then ``fit``; Chronos: ``chronos_runner.py``), and its wall time and peak memory are taken
around that process. Every seed refits both libraries.

Run: ``python benchmarks/real_data_agreement.py --seeds 0 1 2 --json benchmarks/real_data_agreement.json``
(needs ``make chronos-env``; ``--skip-chronos`` scores screenfit and the naive estimate only).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy_vs_chronos import measured, naive_effects
from validate_models import CHRONOS_PYTHON, DEPMAP_SAMPLE, auroc, cn_bias, nonessential_control_guides, reference_sets

import screenfit
from screenfit.data.genes import split_depmap_names
from screenfit.io.fit_folder import load_fit
from screenfit.io.tables import read_long_table

LIBRARIES = ("Avana", "KY")
TOP_VARIABLE = 100
SCREENFIT = str(Path(sys.executable).with_name("screenfit"))


def library_scores(wide: pd.DataFrame, cn: pd.DataFrame) -> dict[str, float]:
    """One library's own scores: median per-line AUROC of CEGv2 against NEGv1, and the copy-number
    bias (r of effect minus the gene's mean with ``cn``, lines × genes log2(CN + 1), over NEGv1 genes)."""
    ess, non = reference_sets(sorted(wide.columns))
    lines = wide.index.intersection(cn.index)
    return {"auroc": float(np.median([auroc(wide.loc[line], ess, non) for line in wide.index])),
            "cn_r": cn_bias(wide.loc[lines], cn, non)}  # fmt: skip


def run_screenfit(library: str, work: Path, seed: int) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """``screenfit ingest depmap`` + ``screenfit fit`` (default preset) as one timed process each."""
    screen = work / f"{library}.parquet"
    fit_dir = work / f"fit_{library}_{seed}"
    ingest = [SCREENFIT, "ingest", "depmap", str(DEPMAP_SAMPLE), "--library", library, "--out", str(screen), "--force"]
    wall_ingest, peak_ingest = measured(ingest)
    wall_fit, peak_fit = measured([SCREENFIT, "fit", str(screen), "--out", str(fit_dir), "--seed", str(seed), "-q"])
    result = load_fit(fit_dir)
    effects = {
        scale: result.table(stem).pivot(index="depmap_id", columns="hugo_symbol", values="mean")
        for scale, stem in (("LFC", "gene_cell_line_effects"), ("DepMap", "gene_cell_line_effects_depmap"))
    }
    run = {"wall_s": wall_ingest + wall_fit, "peak_rss_gb": max(peak_ingest, peak_fit) / 1e9,
           "status": result.status, "preset": result.preset}  # fmt: skip
    return effects, run


def run_chronos(library: str, work: Path, seed: int) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """Chronos with its defaults on the library's counts; as fitted and after ``alternate_CN``."""
    out = work / f"chronos_{library}_{seed}"
    controls = work / f"controls_{library}.txt"
    controls.write_text("\n".join(nonessential_control_guides(library)) + "\n")
    runner = [str(CHRONOS_PYTHON), str(Path(__file__).with_name("chronos_runner.py")), str(DEPMAP_SAMPLE),
              "--library", library, "--out", str(out), "--controls", str(controls), "--seed", str(seed)]  # fmt: skip
    wall, peak = measured(runner)
    effects = {}
    for name, file in (("Chronos", "gene_effect.csv"), ("Chronos + CN", "gene_effect_cn.csv")):
        wide = pd.read_csv(out / file, index_col=0)
        wide.columns = split_depmap_names(pd.Series(wide.columns))["hugo_symbol"].to_numpy()
        effects[name] = wide.T.groupby(level=0).mean().T  # a symbol twice in the guide map: one column
    return effects, {"wall_s": wall, "peak_rss_gb": peak / 1e9}


def within_gene_r(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Pearson r between two lines × genes matrices after centring each gene on its own mean."""
    ca, cb = a - a.mean(axis=0), b - b.mean(axis=0)
    return float(np.corrcoef(ca.to_numpy().ravel(), cb.to_numpy().ravel())[0, 1])


def agreement(avana: pd.DataFrame, ky: pd.DataFrame, variable: list[str]) -> dict[str, float]:
    """Per-line and within-gene agreement of one method's two estimates on the shared cells."""
    lines = sorted(avana.index.intersection(ky.index))
    genes = sorted(avana.columns.intersection(ky.columns))
    a, b = avana.loc[lines, genes], ky.loc[lines, genes]
    keep = a.notna().all(axis=0) & b.notna().all(axis=0)
    a, b = a.loc[:, keep], b.loc[:, keep]
    per_line = [float(np.corrcoef(a.loc[line], b.loc[line])[0, 1]) for line in lines]
    top = [g for g in variable if g in a.columns]
    return {
        "lines": len(lines), "genes": int(keep.sum()),
        "median_per_line_r": float(np.median(per_line)), "min_per_line_r": float(np.min(per_line)),
        "within_gene_r_all": within_gene_r(a, b),
        "within_gene_r_top_variable": within_gene_r(a[top], b[top]),
    }  # fmt: skip


def most_variable(naive: dict[str, pd.DataFrame], n: int) -> list[str]:
    """The ``n`` genes whose raw centred LFC varies most across the shared lines (both libraries)."""
    lines = naive["Avana"].index.intersection(naive["KY"].index)
    genes = naive["Avana"].columns.intersection(naive["KY"].columns)
    variance = sum(naive[lib].loc[lines, genes].var(axis=0) for lib in LIBRARIES) / 2
    return list(variance.dropna().sort_values(ascending=False).index[:n])


def one_seed(seed: int, work: Path, chronos: bool) -> list[dict[str, object]]:
    """Fit both libraries with every method at one seed and score each method's agreement."""
    estimates: dict[str, dict[str, pd.DataFrame]] = {}
    runs: dict[str, dict[str, dict[str, float]]] = {}
    own: dict[str, dict[str, float]] = {}
    for library in LIBRARIES:
        effects, run = run_screenfit(library, work, seed)
        runs.setdefault("screenfit default", {})[library] = run
        screen = read_long_table(work / f"{library}.parquet")  # the table screenfit ingested, read once
        effects["naive"] = naive_effects(screen)
        cn = screen.table.groupby(["depmap_id", "hugo_symbol"], observed=True)["log2_gene_cn_p1"].first().unstack()
        if chronos:
            more, chronos_run = run_chronos(library, work, seed)
            effects |= more
            runs.setdefault("Chronos", {})[library] = chronos_run
        for method, wide in effects.items():
            estimates.setdefault(method, {})[library] = wide
            own.setdefault(method, {}).update({f"{library}_{k}": v for k, v in library_scores(wide, cn).items()})
    variable = most_variable(estimates["naive"], TOP_VARIABLE)
    names = {"DepMap": "screenfit default (DepMap scale)", "LFC": "screenfit default (LFC scale)",
             "naive": "naive per-line-centred mean LFC"}  # fmt: skip
    rows = []
    for method, pair in estimates.items():
        timing = runs["screenfit default"] if method in ("DepMap", "LFC") else runs.get(method.split(" +")[0], {})
        scores = agreement(pair["Avana"], pair["KY"], variable)
        rows.append({"seed": seed, "method": names.get(method, method), **scores, **own[method],
                     **{f"{lib}_{k}": v for lib, run in timing.items() for k, v in run.items()}})  # fmt: skip
    return rows


def summary(rows: list[dict[str, object]]) -> str:
    """A Markdown table: per method, the median over seeds and the range."""
    frame = pd.DataFrame(rows)
    metrics = ["median_per_line_r", "within_gene_r_all", "within_gene_r_top_variable", "Avana_auroc", "KY_auroc",
               "Avana_cn_r", "KY_cn_r", "Avana_wall_s", "KY_wall_s"]  # fmt: skip
    lines = ["| method | median per-line r | within-gene r, all genes | within-gene r, 100 most variable | "
             "AUROC Avana | AUROC KY | CN r Avana | CN r KY | wall s Avana | wall s KY |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for method, group in frame.groupby("method", sort=False):
        cells = []
        for metric in metrics:
            values = group[metric].dropna() if metric in group else pd.Series(dtype=float)
            if values.empty:
                cells.append("—")
            elif len(values) == 1:
                cells.append(f"{values.iloc[0]:.3f}")
            else:
                cells.append(f"{values.median():.3f} ({values.min():.3f}–{values.max():.3f})")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--skip-chronos", action="store_true")
    args = parser.parse_args()
    if not args.skip_chronos and not CHRONOS_PYTHON.exists():
        sys.exit(f"Chronos environment not found at {CHRONOS_PYTHON}: run `make chronos-env` or pass --skip-chronos")
    rows = []
    with tempfile.TemporaryDirectory(prefix="agreement-") as tmp:
        for seed in args.seeds:
            rows += one_seed(seed, Path(tmp), chronos=not args.skip_chronos)
            print(f"seed {seed} done", flush=True)
    print(summary(rows))
    if args.json:
        meta = {"date": date.today().isoformat(), "machine": platform.platform(), "cpus": __import__("os").cpu_count(),
                "screenfit": screenfit.__version__, "seeds": args.seeds}  # fmt: skip
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
