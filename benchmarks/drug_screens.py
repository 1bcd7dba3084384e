"""Drug-vs-vehicle screens: screenfit's condition model against what drug-screen users run.

Screens are simulated by growing cells through passage bottlenecks with negative-binomial reads
(:mod:`screenfit.simulate_drug`; no screenfit model's form), written as a lab has them (count
table + sample sheet), and every method reads the same files:

- screenfit: ``screenfit ingest counts`` + ``screenfit fit`` with no option (the sheet's
  ``treatment`` column picks the drug preset), timed as whole processes;
- a Welch t-test per gene on the guides' log fold changes (drug vs vehicle arm, control-centred
  log2 CPM) with Benjamini–Hochberg q-values;
- MAGeCK2 ``mageck2 test`` (RRA) with the non-targeting guides as controls, its defaults, and with
  ``--mle`` its ``mageck2 mle`` (a negative-binomial GLM on the counts, design baseline / final /
  drug; a count likelihood, against which screenfit's LFC likelihood is measured at low depth);
- DrugZ (Colic et al. 2019; ``drugz.py`` from github.com/hart-lab/drugz), its defaults.

A second generator, ``--generator mageck-mle``, draws screens from MAGeCK-MLE's generative
model instead (the form of ``gentestcase3`` in mageck2's ``mlegensimexamples.py``; Li et al.
2015): per guide a baseline ``β₀ ~ U(ln depth − 2.5, ln depth + 2.5)`` (MAGeCK's width of 5 on the
log scale, centred on the depth), a guide either efficient or not (probability 0.5), and
negative-binomial counts with mean ``exp(β₀ + efficient · x·β_g)`` and variance ``μ + 0.01 μ²``
(``x`` = (1, 0) in the vehicle arm, (1, 1) in the drug arm; ``β_g`` = the gene's vehicle effect —
−U(0.5, 3) for 10% essential genes — and its drug interaction, ±U(0.3, 1.5) for 3% / 2% of genes;
natural-log units). No growth, no bottlenecks, half the guides of a hit silent: a screen
screenfit's noise model and efficacy prior were not built on.

A third, ``--generator fitseq``, grows the cells with another group's simulator: ``evo_simulator``
of fitseq (PyPI ``fitseq`` 1.5.0; Li et al. 2018, Cell Systems 7:521), run unchanged in its own
environment (``--fitseq-python``, default ``.venv-fitseq/bin/python``) and seeded from outside.
It grows each flask generation by generation with Poisson growth noise, transfers an eighth of the
cells every 3 generations (Poisson), and adds its DNA-extraction, 25-cycle PCR and sequencing
noise; every lineage's growth is relative to the flask's mean fitness. Each guide is a lineage
with the Malthusian fitness that gives, over the screen's ``T = 21`` generations, the fold change
of its cells a share ``e_s`` of which is knocked out: ``x = ln(1 − e_s + e_s 2^(k T)) / T`` with
``k = f_g`` (``+ d_g`` in the drug arm) the knocked-out cells' relative doublings (the growth
simulator's truth and efficacies, so depletion saturates as a mixture's does); 300 cells a guide
at the start of each flask (drawn per replicate: each flask infected apart); the pDNA column is
the first vehicle flask's generation-0 reads.

Reported per screen and method: calls, false discovery proportion and recall at q ≤ 0.05 and
0.1 (a call is true when the gene interacts with the drug in the called direction), average
precision of the ranking (precision-recall), and wall time.

Run: ``python benchmarks/drug_screens.py --seeds 1 2 3`` (defaults: depth 500, 3 replicates,
the growth generator; ``--generator mageck-mle`` for MAGeCK-MLE's model);
``--depths 200 1000 --replicates 2 4`` for the grid. MAGeCK2 and DrugZ run where found
(``--mageck``, ``--drugz``/``--drugz-python``; docs/validation.md says how to install them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from screenfit.simulate_drug import (
    ARMS,
    CONTROL_GENE,
    DEATH_RATE,
    DrugScreenConfig,
    count_table,
    direction_labels,
    draw_library,
    sample_sheet,
    write_drug_screen,
    write_screen_folder,
)

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.05, 0.1)
#: fitseq's flasks: generations grown, and generations between transfers (2³: an eighth kept).
FITSEQ_GENERATIONS = 21
FITSEQ_TRANSFER = 3
#: fitseq's ``evo_simulator`` unchanged, its NumPy global generator seeded first (it takes no seed).
_FITSEQ = (
    "import sys, numpy; numpy.random.seed(int(sys.argv[1])); sys.argv = ['evo_simulator', *sys.argv[2:]]; "
    "from fitseq.evo_simulator import main; main()"
)


def run(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Run ``cmd``; its wall time in seconds (an error with its output if it fails)."""
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode not in (0,):
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def screenfit_calls(folder: Path) -> tuple[pd.DataFrame, float, str]:
    """Ingest + fit as a user runs them; per gene q, direction and ranking score."""
    exe = str(Path(sys.executable).with_name("screenfit"))
    out = folder / "screenfit"
    shutil.rmtree(out, ignore_errors=True)
    wall = run([exe, "ingest", "counts", str(folder / "counts.tsv"), "--sheet", str(folder / "samples.csv"),
                "--out", str(folder / "screen.parquet"), "--force", "--quiet"])  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run([exe, "fit", str(folder / "screen.parquet"), "--out", str(out), "--quiet"],
                          capture_output=True, text=True)  # fmt: skip
    wall += time.perf_counter() - t0
    status = {0: "converged", 2: "failed gate"}.get(done.returncode, f"exit {done.returncode}")
    if done.returncode not in (0, 2):
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
    t = pd.read_parquet(out / "condition_effects.parquet")
    calls = pd.DataFrame({"gene": t["hugo_symbol"], "q": t["qvalue"], "direction": t["direction"],
                          "score": t["lfdr"] - 1e-6 * t["mean"].abs() / t["sd"].clip(lower=1e-9)})  # fmt: skip
    return calls, wall, status


def _log_cpm(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    counts = pd.read_csv(folder / "counts.tsv", sep="\t")
    sheet = pd.read_csv(folder / "samples.csv").fillna("")
    samples = [c for c in counts.columns[2:]]
    cpm = np.log2(counts[samples] / counts[samples].sum() * 1e6 + 1.0)
    control = counts["gene"] == CONTROL_GENE
    cpm = cpm - cpm[control].median()
    return counts, sheet, cpm


def ttest_calls(folder: Path) -> tuple[pd.DataFrame, float]:
    """Welch t-test per gene of the guides' LFCs (drug vs vehicle arm), Benjamini–Hochberg."""
    t0 = time.perf_counter()
    counts, sheet, cpm = _log_cpm(folder)
    reference = sheet.loc[sheet["condition"] == "initial", "sample"].tolist()
    lfc = cpm.sub(cpm[reference].mean(axis=1), axis=0)
    drug = sheet.loc[sheet["treatment"] == "drug", "sample"].tolist()
    vehicle = sheet.loc[sheet["treatment"] == "vehicle", "sample"].tolist()
    targeting = counts["gene"] != CONTROL_GENE
    rows = []
    for gene, idx in counts[targeting].groupby("gene").groups.items():
        a, b = lfc.loc[idx, drug].to_numpy().ravel(), lfc.loc[idx, vehicle].to_numpy().ravel()
        test = stats.ttest_ind(a, b, equal_var=False)
        rows.append((gene, float(test.pvalue), float(a.mean() - b.mean())))
    table = pd.DataFrame(rows, columns=["gene", "p", "diff"])
    table["q"] = stats.false_discovery_control(table["p"].fillna(1.0))
    table["direction"] = np.where(table["diff"] < 0, "sensitising", "rescuing")
    return table.assign(score=table["p"])[["gene", "q", "direction", "score"]], time.perf_counter() - t0


def _arms(folder: Path) -> tuple[str, str]:
    """The drug and vehicle samples of the sheet, comma-separated."""
    sheet = pd.read_csv(folder / "samples.csv").fillna("")
    return tuple(",".join(sheet.loc[sheet["treatment"] == arm, "sample"]) for arm in ("drug", "vehicle"))  # type: ignore[return-value]


def _two_sided(
    genes: pd.Series, q_low: pd.Series, q_high: pd.Series, p_low: pd.Series, p_high: pd.Series
) -> pd.DataFrame:
    """A method reporting each direction separately, as one call table: q, direction and score the smaller side's."""
    low = q_low <= q_high
    direction = np.where(low, "sensitising", "rescuing")
    return pd.DataFrame({"gene": genes, "q": np.minimum(q_low, q_high), "direction": direction,
                         "score": np.minimum(p_low, p_high)})  # fmt: skip


def mageck_calls(folder: Path, exe: str) -> tuple[pd.DataFrame, float]:
    """``mageck2 test`` (RRA), non-targeting guides as controls; q = the smaller of its two FDRs."""
    drug, vehicle = _arms(folder)
    prefix = folder / "mageck" / "drug"
    prefix.parent.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": f"{Path(exe).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    wall = run([exe, "test", "-k", str(folder / "counts.tsv"), "-t", drug, "-c", vehicle, "-n", str(prefix),
                "--control-sgrna", str(folder / "controls.txt")], env=env)  # fmt: skip
    g = pd.read_csv(f"{prefix}.gene_summary.txt", sep="\t")
    g = g[g["id"] != CONTROL_GENE]
    return _two_sided(g["id"], g["neg|fdr"], g["pos|fdr"], g["neg|p-value"], g["pos|p-value"]), wall


def mageck_mle_calls(folder: Path, exe: str) -> tuple[pd.DataFrame, float]:
    """``mageck2 mle`` (a negative-binomial GLM on the counts: baseline, final, drug), non-targeting
    guides as controls, its defaults; q = its permutation FDR of the drug coefficient."""
    drug, vehicle = _arms(folder)
    samples = ["pDNA", *vehicle.split(","), *drug.split(",")]
    design = ";".join(["1,0,0"] + ["1,1,0"] * len(vehicle.split(",")) + ["1,1,1"] * len(drug.split(",")))
    prefix = folder / "mageck_mle" / "drug"
    prefix.parent.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": f"{Path(exe).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    wall = run([exe, "mle", "-k", str(folder / "counts.tsv"), "-d", design, "-i", ",".join(samples),
                "-b", "baseline,final,drug", "-n", str(prefix), "--control-sgrna", str(folder / "controls.txt")],
               env=env)  # fmt: skip
    g = pd.read_csv(f"{prefix}.gene_summary.txt", sep="\t")
    g = g[g["Gene"] != CONTROL_GENE]
    direction = np.where(g["drug|beta"] < 0, "sensitising", "rescuing")
    return pd.DataFrame(
        {"gene": g["Gene"], "q": g["drug|fdr"], "direction": direction, "score": g["drug|p-value"]}
    ), wall


def drugz_calls(folder: Path, script: str, python: str) -> tuple[pd.DataFrame, float]:
    """DrugZ with its defaults (paired replicates); q = the smaller of its synthetic/suppressor FDRs."""
    drug, vehicle = _arms(folder)
    out = folder / "drugz.txt"
    wall = run([python, script, "-i", str(folder / "counts.tsv"), "-o", str(out), "-c", vehicle, "-x", drug, "-q"])
    g = pd.read_csv(out, sep="\t")
    g = g[g["GENE"] != CONTROL_GENE]
    return _two_sided(g["GENE"], g["fdr_synth"], g["fdr_supp"], g["pval_synth"], g["pval_supp"]), wall


def score(calls: pd.DataFrame, truth: pd.DataFrame) -> dict[str, object]:
    """Calls, false discovery proportion and recall at each threshold; average precision and the PR curve."""
    t = calls.merge(
        truth[["hugo_symbol", "hit", "direction"]].rename(columns={"hugo_symbol": "gene", "direction": "truth"}),
        on="gene",
    )
    correct = t["hit"] & (t["direction"] == t["truth"])
    n_hits = int(truth["hit"].sum())
    out: dict[str, object] = {}
    for q in THRESHOLDS:
        called = t["q"] <= q
        n = int(called.sum())
        out[f"calls_q{q}"] = n
        out[f"fdp_q{q}"] = float((called & ~correct).sum() / n) if n else 0.0
        out[f"recall_q{q}"] = float((called & correct).sum() / n_hits)
    ranked = correct.to_numpy()[np.argsort(t["score"].to_numpy(), kind="stable")]
    tp = np.cumsum(ranked)
    precision = tp / np.arange(1, len(ranked) + 1)
    out["average_precision"] = float((precision * ranked).sum() / n_hits)
    keep = np.unique(np.linspace(0, len(ranked) - 1, 200).astype(int))
    out["pr_curve"] = {"recall": (tp[keep] / n_hits).round(4).tolist(), "precision": precision[keep].round(4).tolist()}
    return out


def _tools(args: argparse.Namespace) -> tuple[str | None, tuple[str, str] | None]:
    mageck = args.mageck or shutil.which("mageck2") or str(ROOT / ".venv-mageck/bin/mageck2")
    mageck = mageck if Path(mageck).exists() else None
    drugz_python = args.drugz_python or str(ROOT / ".venv-drugz/bin/python")
    drugz = (
        (args.drugz, drugz_python) if args.drugz and Path(args.drugz).exists() and Path(drugz_python).exists() else None
    )
    return mageck, drugz


def write_mageck_mle_screen(cfg: DrugScreenConfig, folder: Path) -> None:
    """A drug screen drawn from MAGeCK-MLE's generative model (module docstring), in the growth
    generator's files; ``cfg`` gives sizes, depth, shares of essential and interacting genes, seed."""
    from scipy.stats import nbinom

    from screenfit.simulate import gene_names

    rng = np.random.default_rng([cfg.seed, 23])
    n = cfg.n_genes
    essential = rng.random(n) < cfg.frac_essential
    u = rng.random(n)
    direction = np.where(u < cfg.frac_sensitising, -1, np.where(u < cfg.frac_sensitising + cfg.frac_rescuing, 1, 0))
    vehicle = np.where(essential, -rng.uniform(0.5, 3.0, n), 0.0)
    interaction = direction * rng.uniform(0.3, 1.5, n)
    per_gene = np.repeat(np.arange(n), cfg.guides_per_gene)
    k = len(per_gene) + cfg.n_control_guides
    base = rng.uniform(np.log(cfg.reads_per_guide) - 2.5, np.log(cfg.reads_per_guide) + 2.5, k)
    efficient = np.concatenate([rng.random(len(per_gene)) < 0.5, np.zeros(cfg.n_control_guides, bool)])
    beta_v = np.concatenate([vehicle[per_gene], np.zeros(cfg.n_control_guides)])
    beta_d = np.concatenate([interaction[per_gene], np.zeros(cfg.n_control_guides)])

    def counts(log_mean: np.ndarray) -> np.ndarray:
        mu = np.exp(log_mean)
        var = mu + 0.01 * mu**2
        return nbinom.rvs(mu**2 / (var - mu), mu / var, random_state=rng)

    names = np.asarray(gene_names(np.where(essential, "essential", "inert"), rng))
    columns = {"pDNA": counts(base)}
    for arm in ARMS:
        drug = float(arm == "drug")
        for r in range(cfg.replicates):
            columns[f"{arm}_{r + 1}"] = counts(base + efficient * (beta_v + drug * beta_d))
    truth = pd.DataFrame({"hugo_symbol": names, "essential": essential, "fitness": vehicle,
                          "interaction": interaction, "hit": direction != 0, "direction": direction_labels(direction),
                          "expected_difference": interaction / np.log(2.0)})  # fmt: skip
    table = count_table(names, per_gene, cfg.guides_per_gene, cfg.n_control_guides, columns)
    write_screen_folder(table, sample_sheet(cfg.replicates), truth, {"generator": "mageck-mle", **asdict(cfg)},
                        folder, force=True)  # fmt: skip


def write_fitseq_screen(cfg: DrugScreenConfig, folder: Path, python: str) -> None:
    """A drug screen whose flasks fitseq's ``evo_simulator`` grows and sequences (module docstring),
    in the growth generator's files; ``python`` is the interpreter that has fitseq installed."""
    rng = np.random.default_rng([cfg.seed, 29])
    library = draw_library(cfg, rng)
    genes, per_gene, efficacy = library.genes, library.guide_gene, library.efficacy
    fitness, interaction = library.fitness, library.interaction
    abundance = np.exp(rng.normal(0.0, 0.5, len(efficacy)))
    abundance /= abundance.mean()
    times = [str(t) for t in range(0, FITSEQ_GENERATIONS + 1, FITSEQ_TRANSFER)]
    reads = [str(int(cfg.reads_per_guide))] * len(times)
    columns: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arm in ARMS:
            knocked = np.maximum(fitness + (interaction if arm == "drug" else 0.0), DEATH_RATE - 1.0)
            # the rate at which a lineage reaches its cut and uncut cells' fold change over the screen
            x = np.log(1.0 - efficacy + efficacy * np.exp2(knocked * FITSEQ_GENERATIONS)) / FITSEQ_GENERATIONS
            for r in range(cfg.replicates):
                start = rng.poisson(cfg.bottleneck_cells * abundance)
                stem = Path(tmp) / f"{arm}_{r + 1}"
                pd.DataFrame({"x": x, "cells": start}).to_csv(f"{stem}.csv", header=False, index=False)
                seed = str(int(rng.integers(2**31)))
                run([python, "-c", _FITSEQ, seed, "-i", f"{stem}.csv", "-t", *times, "-r", *reads, "-f", "m",
                     "-o", str(stem)])  # fmt: skip
                flask = pd.read_csv(f"{stem}_EvoSimulation_Read_Number.csv", header=None).to_numpy()
                if not columns:
                    columns["pDNA"] = flask[:, 0]
                columns[f"{arm}_{r + 1}"] = flask[:, -1]
    names = genes["hugo_symbol"].to_numpy()
    truth = genes.assign(expected_difference=genes["interaction"] * FITSEQ_GENERATIONS)
    record = {"generator": "fitseq evo_simulator", "generations": FITSEQ_GENERATIONS,
              "transfer_every": FITSEQ_TRANSFER, **asdict(cfg)}  # fmt: skip
    table = count_table(names, per_gene, cfg.guides_per_gene, cfg.n_control_guides, columns)
    write_screen_folder(table, sample_sheet(cfg.replicates), truth, record, folder, force=True)


def one_screen(
    cfg: DrugScreenConfig,
    work: Path,
    mageck: str | None,
    drugz: tuple[str, str] | None,
    generator: str = "growth",
    mle: bool = False,
    fitseq_python: str | None = None,
) -> dict[str, object]:
    """Simulate one screen and score every method on it."""
    folder = work / f"seed{cfg.seed}_depth{int(cfg.reads_per_guide)}_reps{cfg.replicates}_growth{cfg.drug_growth}"
    if generator == "growth":
        write_drug_screen(cfg, folder, force=True)
    else:
        folder = folder.with_name(f"{folder.name}_{generator}")
        if generator == "fitseq":
            assert fitseq_python is not None
            write_fitseq_screen(cfg, folder, fitseq_python)
        else:
            write_mageck_mle_screen(cfg, folder)
    truth = pd.read_csv(folder / "truth.csv")
    results: dict[str, object] = {}
    calls, wall, status = screenfit_calls(folder)
    results["screenfit"] = {**score(calls, truth), "wall_s": wall, "status": status}
    calls, wall = ttest_calls(folder)
    results["t-test"] = {**score(calls, truth), "wall_s": wall}
    if mageck:
        calls, wall = mageck_calls(folder, mageck)
        results["MAGeCK2 RRA"] = {**score(calls, truth), "wall_s": wall}
        if mle:
            calls, wall = mageck_mle_calls(folder, mageck)
            results["MAGeCK2 MLE"] = {**score(calls, truth), "wall_s": wall}
    if drugz:
        calls, wall = drugz_calls(folder, *drugz)
        results["DrugZ"] = {**score(calls, truth), "wall_s": wall}
    return {"seed": cfg.seed, "generator": generator, "reads_per_guide": cfg.reads_per_guide,
            "replicates": cfg.replicates, "drug_growth": cfg.drug_growth,
            "true_hits": int(truth["hit"].sum()), "methods": results}  # fmt: skip


def print_table(screens: list[dict[str, object]]) -> None:
    """One line per screen and method."""
    columns = ("calls_q0.1", "fdp_q0.05", "fdp_q0.1", "recall_q0.05", "recall_q0.1", "average_precision", "wall_s")
    print(f"{'seed':>4} {'depth':>5} {'reps':>4} {'method':<12} " + " ".join(f"{c:>17}" for c in columns))
    for s in screens:
        for name, m in s["methods"].items():  # type: ignore[union-attr]
            values = " ".join(f"{m[c]:>17.3f}" if isinstance(m[c], float) else f"{m[c]:>17}" for c in columns)
            flag = "" if m.get("status", "converged") == "converged" else f"  {m['status']}"
            print(f"{s['seed']:>4} {int(s['reads_per_guide']):>5} {s['replicates']:>4} {name:<12} {values}{flag}")


def plot_pr(screens: list[dict[str, object]], path: Path) -> None:
    """Precision-recall curves of every method, one panel per screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(screens), figsize=(4 * len(screens), 3.6), squeeze=False)
    for ax, s in zip(axes[0], screens, strict=True):
        for name, m in s["methods"].items():  # type: ignore[union-attr]
            ax.plot(
                m["pr_curve"]["recall"], m["pr_curve"]["precision"], label=f"{name} (AP {m['average_precision']:.2f})"
            )
        ax.set(title=f"seed {s['seed']}, {int(s['reads_per_guide'])} reads, {s['replicates']} reps",
               xlabel="recall", ylabel="precision", ylim=(0, 1.02))  # fmt: skip
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--depths", type=float, nargs="+", default=[500.0], help="reads per guide")
    p.add_argument("--replicates", type=int, nargs="+", default=[3], help="replicates per arm")
    p.add_argument(
        "--drug-growth", type=float, default=1.0, help="growth of untreated cells under the drug (1: none lost)"
    )
    p.add_argument("--genes", type=int, default=2000)
    p.add_argument("--generator", choices=("growth", "mageck-mle", "fitseq"), default="growth",
                   help="cells grown through bottlenecks, MAGeCK-MLE's model, or fitseq's simulator")  # fmt: skip
    p.add_argument("--fitseq-python", default=str(ROOT / ".venv-fitseq/bin/python"),
                   help="Python with fitseq installed (for --generator fitseq)")  # fmt: skip
    p.add_argument("--mageck", help="mageck2 executable (default: on PATH or .venv-mageck/bin)")
    p.add_argument("--mle", action="store_true", help="also MAGeCK2's MLE (a count GLM; slower)")
    p.add_argument("--drugz", help="DrugZ's drugz.py")
    p.add_argument("--drugz-python", help="Python with pandas < 2 for DrugZ (default: .venv-drugz/bin/python)")
    p.add_argument("--work", type=Path, default=Path("/tmp/screenfit-drug-screens"))
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "drug_screens.json")
    p.add_argument("--plot", type=Path, help="precision-recall curves (PNG)")
    args = p.parse_args()
    mageck, drugz = _tools(args)
    if args.generator == "fitseq" and not Path(args.fitseq_python).exists():
        sys.exit(f"{args.fitseq_python} not found: make a venv there and pip install fitseq==1.5.0 into it")
    if mageck is None:
        print("MAGeCK2 not found: skipped (pip install mageck2 into .venv-mageck)")
    if drugz is None:
        print("DrugZ not given or its Python missing: skipped (--drugz drugz.py)")
    screens = []
    for depth in args.depths:
        for reps in args.replicates:
            for seed in args.seeds:
                cfg = DrugScreenConfig(n_genes=args.genes, reads_per_guide=depth, replicates=reps, seed=seed,
                                       drug_growth=args.drug_growth)  # fmt: skip
                screens.append(one_screen(cfg, args.work, mageck, drugz, args.generator, args.mle, args.fitseq_python))
                print_table(screens[-1:])
    print_table(screens)
    record = {"date": time.strftime("%Y-%m-%d"), "cpu_count": os.cpu_count(), "screens": screens,
              "config": {k: v for k, v in vars(replace(DrugScreenConfig())).items()}}  # fmt: skip
    args.out.write_text(json.dumps(record, indent=1, default=str) + "\n")
    if args.plot:
        plot_pr(screens, args.plot)


if __name__ == "__main__":
    main()
