"""Side-by-side accuracy of screenfit and Chronos on simulated screens with known truth.

Run: ``make bench-accuracy`` (creates ``.venv-chronos`` with Chronos and TensorFlow, then runs
``python benchmarks/accuracy_vs_chronos.py``). Options: ``--sizes 300x60,2000x200``,
``--regimes additive,realistic``, ``--json FILE``, ``--plot FILE``, ``--repeats N`` (each method
run N times, interleaved — Chronos, each screenfit variant, then again — and ``wall_s`` their
median, with ``wall_s_min`` / ``wall_s_max``; accuracy is scored on the first run).

For each regime and size, screenfit's simulator writes read counts in DepMap's format; every
method reads those same counts:

Both get the same negative-control guides (those of 50 inert genes, seeded): Chronos for its
overdispersion estimate (2.3.11 refuses to run without controls or a fixed excess variance),
screenfit to centre each replicate on them.

- **naive**: the mean LFC of a gene's guides and replicates in a line, centred per line (median 0);
- **Chronos** (``crispr-chronos``, its defaults, in its own environment) and Chronos followed by
  its ``alternate_CN`` copy-number correction;
- **screenfit gene-by-line** (nutpie NUTS, defaults, 90% HDIs), as is and with guide × pDNA-batch
  offsets (``--guide-offsets``), and the variants of :data:`VARIANTS`;
- **screenfit counts** (``--variants counts-svi,counts-svi-offsets``): the negative-binomial
  model of the read counts themselves, without and with guide × pDNA-batch offsets. It has gene
  effects only (no gene × line term), so it is scored at the gene level alone.

Gene-level metrics, for every method: the gene's effect (Chronos and naive: the mean of its line
effects; screenfit: its ``gene_line_means`` table, the posterior of that same mean, for gene × line
models, and the ``counts`` model's ``gene_effects``, with intervals) against the true mean of its
gene × line effects — Pearson r (``r_gene``), AUROC of genes whose true mean is below −0.5
(``auroc_gene``) and, for screenfit, the coverage of the 90% intervals (``--ci-prob``) after moving the truth by
the median offset over genes (``coverage_90_gene``: LFC fixes the overall level only up to
normalisation).

Metrics against the true gene × line effects ``β_gc``: Pearson r over all gene × line pairs;
median within-gene r over the lines of each selective gene (which lines depend on it?); AUROC
of the true dependencies (``β_gc < −0.5``); coverage of screenfit's 90% intervals; the
correlation of effect with copy number among non-essential ("inert") genes after removing
each gene's mean; wall time and peak memory of each method's process. Every method is scored
twice: as it reports its effects, and on DepMap's scale (per line, the median CEGv2 gene at −1
and the median NEGv1 gene at 0 — screenfit's ``gene_cell_line_effects_depmap`` table, rescaled
per posterior draw; Chronos' estimates rescaled the same way). Coverage is also given
against the truth moved by each line's median offset (``coverage_90_line_aligned``): a line's
overall level is not identified from LFC, which per-replicate normalisation centres.

Regimes: ``additive`` (``SimulationConfig.additive``: screenfit's own assumptions),
``realistic`` (the default simulator, which no screenfit model matches: multiplicative guide
efficacy × screen quality, copy-number cutting toxicity, per-line noise, lineage- and
mutation-selective genes, pDNA-batch guide offsets, negative-binomial count noise) and
``longitudinal`` (the realistic one with each replicate read at days 7, 14 and 21; effects
grow after a 3-day delay, the truth is the day-21 effect), and ``growth``
(:mod:`screenfit.simulate_growth`: cells grown as Chronos models them, a knockout fraction set by
guide efficacy × Cas9 activity whose depletion saturates, a saturating copy-number toxicity,
negative-binomial reads with outgrowth, 2–4 replicates a line, mutation calls with false
negatives and positives — a process none of screenfit's models assumes; the truth is Chronos'
gene effect).

Every method is timed as its own process from the same files on disk: Chronos reads the
DepMap-format counts; screenfit runs ``screenfit ingest depmap`` on them (with the same negative
controls and the lines' ``Model.csv``) and then ``screenfit fit``, and its wall time is the sum.
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
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

ROOT = Path(__file__).resolve().parents[1]
CHRONOS_PYTHON = ROOT / ".venv-chronos" / "bin" / "python"
RUSAGE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); rc = subprocess.run(sys.argv[1:]).returncode; "
    "print('RUN', rc, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)"
)


def measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run ``cmd`` in a child process (with ``env`` added to the environment); its wall seconds
    and peak RSS (bytes). Raises if it fails."""
    child_env = {**os.environ, **env} if env else None
    done = subprocess.run([sys.executable, "-c", RUSAGE, *cmd], capture_output=True, text=True, check=False,
                          env=child_env)  # fmt: skip
    last = [line for line in done.stdout.splitlines() if line.startswith("RUN ")]
    if not last or last[-1].split()[1] not in ("0", "2"):
        raise RuntimeError(f"{cmd[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    _, _, wall, peak = last[-1].split()
    return float(wall), int(peak)


GROWTH = "growth"
"""The regime simulated by cell growth (:mod:`screenfit.simulate_growth`), not by screenfit's form."""
TIME_POINTS = (7.0, 14.0, 21.0)
"""Days each replicate is read in the ``longitudinal`` regime."""


def simulation_config(regime: str, n_genes: int, n_lines: int, seed: int):
    from screenfit.simulate import SimulationConfig

    if regime == "additive":
        return SimulationConfig.additive(n_genes=n_genes, n_cell_lines=n_lines, seed=seed)
    if regime == "longitudinal":
        return SimulationConfig(n_genes=n_genes, n_cell_lines=n_lines, seed=seed, time_points=TIME_POINTS)
    return SimulationConfig(n_genes=n_genes, n_cell_lines=n_lines, seed=seed)


def auroc(score: np.ndarray, label: np.ndarray) -> float:
    """P(a true dependency scores lower than a non-dependency)."""
    pos, neg = score[label], score[~label]
    return float(mannwhitneyu(-pos, -neg, alternative="greater").statistic / (len(pos) * len(neg)))


def metrics(
    est: pd.DataFrame, truth: pd.DataFrame, genes: pd.DataFrame, cn: pd.DataFrame, dependent: pd.DataFrame | None = None
) -> dict[str, float]:
    """Accuracy of a lines × genes estimate against the lines × genes truth on the estimate's
    scale; ``dependent`` marks the true dependencies (default: ``truth < −0.5``)."""
    est = est.loc[truth.index, truth.columns]
    e, t = est.to_numpy().ravel(), truth.to_numpy().ravel()
    labels = (truth < -0.5) if dependent is None else dependent.loc[truth.index, truth.columns]
    ok = np.isfinite(e)
    selective = genes.loc[genes["gene_class"] == "selective", "hugo_symbol"]
    within = [np.corrcoef(est[g], truth[g])[0, 1] for g in selective if truth[g].std() > 0 and est[g].std() > 0]
    inert = genes.loc[genes["gene_class"] == "inert", "hugo_symbol"]
    centred = est[inert] - est[inert].mean(axis=0)
    cn_r = np.corrcoef(centred.to_numpy().ravel(), cn.loc[truth.index, inert].to_numpy().ravel())[0, 1]
    return {
        "r": float(np.corrcoef(e[ok], t[ok])[0, 1]),
        "within_gene_r_selective": float(np.median(within)) if within else float("nan"),
        "auroc_dependency": auroc(e[ok], labels.to_numpy().ravel()[ok]),
        "cn_r_nonessential": float(cn_r),
    }


def gene_metrics(
    est: pd.Series, truth: pd.DataFrame, interval: pd.DataFrame | None = None, level: int = 90
) -> dict[str, float]:
    """Gene-level accuracy: ``est`` (gene → effect) against the true mean of each gene's line
    effects; with ``interval`` (gene → ``hdi_lower``, ``hdi_upper``) the coverage of the truth
    moved by the median offset over genes."""
    true_mean = truth.mean(axis=0)
    est = est.reindex(true_mean.index)
    out = {"r_gene": float(np.corrcoef(est, true_mean)[0, 1]), "auroc_gene": auroc(est.to_numpy(), true_mean < -0.5)}
    if interval is not None:
        shift = float((est - true_mean).median())
        lo, hi = (interval[c].reindex(true_mean.index) for c in ("hdi_lower", "hdi_upper"))
        out[f"coverage_{level}_gene"] = float(((lo <= true_mean + shift) & (true_mean + shift <= hi)).mean())
    return out


def naive_effects(screen) -> pd.DataFrame:
    """Per gene × line mean LFC, each line centred on its median gene."""
    t = screen.table
    wide = t.groupby(["depmap_id", "hugo_symbol"], observed=True)["lfc"].mean().unstack()
    return wide.sub(wide.median(axis=1), axis=0)


DEFAULT = "default"
"""The variant that runs ``screenfit fit`` with no model option: the preset chosen for the screen."""

VARIANTS = {
    DEFAULT: [],
    "default-stream": ["--stream"],  # the same preset, the screen streamed from Parquet in batches
    "plain": [],
    "guide-offsets": ["--guide-offsets"],
    "svi": ["--sampler", "svi"],
    "svi-offsets": ["--sampler", "svi", "--guide-offsets"],
    "svi-efficacy": ["--sampler", "svi", "--guide-offsets", "--guide-efficacy"],
    "svi-lineage": ["--sampler", "svi", "--guide-offsets", "--guide-efficacy", "--covariate", "is_mutated"],
    "svi-robust": [
        *["--sampler", "svi", "--guide-offsets", "--guide-efficacy", "--covariate", "is_mutated"],
        *["--guide-noise", "--guide-offset-nu", "3", "--cn-column", "cn_excess"],
    ],
    "svi-robust-cn": [
        *["--sampler", "svi", "--guide-offsets", "--guide-efficacy", "--covariate", "is_mutated"],
        *["--guide-noise", "--guide-offset-nu", "3", "--cn-column", "cn_excess", "--cn-efficacy"],
    ],
    "svi-robust-nu": [
        *["--sampler", "svi", "--guide-offsets", "--guide-efficacy", "--covariate", "is_mutated"],
        *["--guide-noise", "--guide-offset-nu", "learn", "--cn-column", "cn_excess", "--cn-efficacy"],
    ],
    "counts-svi": ["--sampler", "svi", "--cn-column", "cn_excess"],
    "counts-svi-offsets": ["--sampler", "svi", "--cn-column", "cn_excess", "--guide-offsets"],
    "svi-time": ["--sampler", "svi", "--guide-offsets", "--guide-efficacy", "--time-course", "--screen-delay", "learn"],
    "svi-lineage-time": [
        "--sampler",
        "svi",
        "--guide-offsets",
        "--guide-efficacy",
        "--covariate",
        "is_mutated",
        "--time-course",
        "--screen-delay",
        "learn",
    ],
}
"""screenfit gene-by-line fits to run: the default model (NUTS), with guide × pDNA-batch offsets,
the default model by variational inference (``--sampler svi``, the fast path), and SVI with
guide × batch offsets (``svi-offsets``), and with a knockout efficacy per guide as well
(``svi-efficacy``); ``svi-lineage`` is the last with gene-by-line-lineage, pooling each gene × line
effect toward its gene's lineage and mutation-status mean (the cell-line annotations and mutation
calls a DepMap user has, which Chronos does not use); ``svi-robust`` adds a noise scale per guide,
Student-t guide offsets and the linear copy-number excess (the configuration that wins on the real
Avana and KY samples too, docs/validation.md), ``svi-robust-cn`` scales the copy-number
term by each guide's efficacy as well (``--cn-efficacy``), and ``svi-robust-nu`` learns the guide
offsets' degrees of freedom instead of fixing them at 3 (``--guide-offset-nu learn``). The ``-time``
variants add ``--time-course`` with a learnt screen delay: each time point of a replicate is fitted
as such (the ``longitudinal`` regime), as Chronos fits them."""
VARIANTS.update({f"{name}-uncollapsed": [*args, "--no-collapse-gene-line"] for name, args in list(VARIANTS.items())
                 if not name.startswith("counts") and not name.startswith(DEFAULT)})  # fmt: skip
"""Every variant also ``-uncollapsed``: SVI fits integrate the gene × line effects out of the likelihood
by default (``--collapse-gene-line``, docs/models.md); these keep them as parameters, as before."""
MODELS = {name: "gene-by-line-lineage"
          for name in ("svi-lineage", "svi-robust", "svi-robust-cn", "svi-robust-nu", "svi-lineage-time")}  # fmt: skip
MODELS.update({"counts-svi": "counts", "counts-svi-offsets": "counts"})
MODELS.update({f"{name}-uncollapsed": model for name, model in list(MODELS.items())})
"""Variants fitted with another model than gene-by-line."""


def depmap_scaled(est: pd.DataFrame) -> pd.DataFrame:
    """A lines × genes point estimate rescaled per line as DepMap does: the median CEGv2 gene to
    −1, the median NEGv1 gene to 0 (the simulator names its essential and inert genes after them).

    Applied to the truth, it gives what an estimate on DepMap's scale estimates: the simulated
    lines' median essential gene sits at −1.04 to −1.05, not −1, so DepMap-scale intervals scored
    against the unscaled truth undercovered by 0.01–0.02 for that reason alone."""
    from screenfit.results.depmap import reference_genes

    ess, non = reference_genes(list(est.columns))
    med_ess, med_non = est[ess].median(axis=1), est[non].median(axis=1)
    return est.sub(med_non, axis=0).div(med_non - med_ess, axis=0)


def coverage_columns(long: pd.DataFrame, gene_line: pd.DataFrame, level: int) -> dict[str, float]:
    """Coverage of ``long``'s ``level``% intervals of the truth, and of the truth moved by each line's median offset."""
    merged = long.merge(gene_line, on=["hugo_symbol", "depmap_id"])
    # LFC fixes each line's level only up to normalisation (counts are scaled per replicate),
    # so the intervals are also scored against the truth moved by each line's median offset.
    shift = (merged["mean"] - merged["gene_effect"]).groupby(merged["depmap_id"]).transform("median")
    return {name: float(((merged["hdi_lower"] <= t) & (t <= merged["hdi_upper"])).mean())
            for name, t in ((f"coverage_{level}", merged["gene_effect"]),
                            (f"coverage_{level}_line_aligned", merged["gene_effect"] + shift))}  # fmt: skip


def screenfit_rows(
    case: Path,
    gene_line: pd.DataFrame,
    truth: pd.DataFrame,
    scaled: pd.DataFrame,
    genes: pd.DataFrame,
    cn: pd.DataFrame,
    variant: str,
    ci_prob: float = 0.9,
) -> list[dict[str, object]]:
    """Fit one variant through the CLI in a child process and score it: its gene × line effects as
    they are (against ``truth``) and on DepMap's scale (``gene_cell_line_effects_depmap``, against
    ``scaled``, the truth on that scale), and its gene effects (the only ones of the ``counts`` model)."""
    from screenfit.fitting import load_fit

    fit_dir = case / f"fit_gene_by_line_{variant}"
    cli = str(Path(sys.executable).parent / "screenfit")
    model = MODELS.get(variant, "gene-by-line")
    # The default (streamed or not): the preset screenfit picks.
    chosen = [] if variant in (DEFAULT, "default-stream") else ["--model", model]
    args = [*chosen, "--out", str(fit_dir), "--ci-prob", str(ci_prob), "--quiet", "--force"]
    level = round(100 * ci_prob)
    # An empty compiled-code cache for every run: a fit of new data compiles its XLA programs
    # (JAX's persistent cache is keyed by them, data included), and so does Chronos' TensorFlow;
    # rerunning a case would otherwise time a warm cache (4–5 s less at 300 × 60).
    # Timed from the files Chronos reads: `screenfit ingest depmap` (counts, maps, copy number,
    # mutation calls, Model.csv, controls), then the fit, each its own process.
    ingest = [cli, "ingest", "depmap", str(case / "depmap"), "--library", "Sim", "--controls",
              str(case / "controls.csv"), "--out", str(case / "ingested.parquet"), "--force", "--quiet"]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="screenfit-cache-") as cache:
        wall_ingest, peak_ingest = measured(ingest)
        wall, peak = measured([cli, "fit", str(case / "ingested.parquet"), *args, *VARIANTS[variant]],
                              env={"SCREENFIT_CACHE_DIR": cache})  # fmt: skip
    wall, peak = wall + wall_ingest, max(peak, peak_ingest)
    fit = load_fit(fit_dir)
    label = f"screenfit {model}" + ("" if variant == "plain" else f" + {variant}")
    if variant in (DEFAULT, "default-stream"):
        streamed = ", streamed" if variant != DEFAULT else ""
        label = f"screenfit default (preset {fit.preset}: {fit.config['model_spec']['structure']}{streamed})"  # type: ignore[index]
    # The gene level is scored on the mean over the screened lines: for gene × line models their
    # ``gene_line_means`` (that mean's own posterior), for the ``counts`` model its gene effects.
    gene_level_table = "gene_line_means" if "gene_line_means" in fit.tables else "gene_effects"
    genes_table = fit.table(gene_level_table).set_index("hugo_symbol")
    gene_level = gene_metrics(genes_table["mean"], truth, genes_table[["hdi_lower", "hdi_upper"]], level)
    base = {"wall_s": wall, "peak_gb": peak / 1e9, **gene_level}
    if "gene_cell_line_effects" not in fit.tables:  # the counts model: gene effects only
        return [{"method": f"{label} ({fit.status})", **base}]
    rows = []
    scaled_long = scaled.stack().rename("gene_effect").reset_index()
    scored = (("gene_cell_line_effects", "", truth, gene_line),
              ("gene_cell_line_effects_depmap", ", DepMap scale", scaled, scaled_long))  # fmt: skip
    for stem, suffix, target, target_long in scored:
        long = fit.table(stem)
        est = long.pivot(index="depmap_id", columns="hugo_symbol", values="mean")
        rows.append({"method": f"{label}{suffix} ({fit.status})", **metrics(est, target, genes, cn, truth < -0.5),
                     **coverage_columns(long, target_long, level), **base})  # fmt: skip
    return rows


def run_case(
    regime: str, n_genes: int, n_lines: int, seed: int, work: Path, variants: list[str], repeats: int = 1,
    ci_prob: float = 0.9,
) -> list[dict[str, object]]:  # fmt: skip
    from screenfit.io.depmap import read_depmap
    from screenfit.simulate import read_truth, write_simulation

    case = work / f"{regime}_{n_genes}x{n_lines}"
    if regime == GROWTH:
        from screenfit.simulate_growth import GrowthSimulationConfig, write_growth_simulation

        write_growth_simulation(GrowthSimulationConfig(n_genes=n_genes, n_cell_lines=n_lines, seed=seed), case,
                                force=True)  # fmt: skip
    else:
        write_simulation(simulation_config(regime, n_genes, n_lines, seed), case, force=True)
    truth_tables, gene_line = read_truth(case)
    truth = gene_line.pivot(index="depmap_id", columns="hugo_symbol", values="gene_effect")
    scaled = depmap_scaled(truth)  # the estimand of estimates on DepMap's scale
    cn = gene_line.pivot(index="depmap_id", columns="hugo_symbol", values="gene_cn")
    genes = truth_tables.genes
    # Negative controls for both methods (Chronos needs them for its overdispersion, screenfit
    # centres each replicate on them): the guides of a seeded pick of the inert genes.
    inert = genes.loc[genes["gene_class"] == "inert", "hugo_symbol"]
    picked = inert.sample(n=min(len(inert), 50), random_state=seed)
    controls = truth_tables.guides.loc[truth_tables.guides["hugo_symbol"].isin(picked), "sgrna"].astype(str)
    (case / "controls.txt").write_text("\n".join(controls) + "\n")
    (case / "controls.csv").write_text("sgrna\n" + "\n".join(controls) + "\n")
    if not (case / "depmap" / "Model.csv").exists():
        # Each line's lineage label, as a DepMap Model.csv gives it (the growth simulator writes its own).
        lines = truth_tables.cell_lines
        pd.DataFrame({"ModelID": lines["depmap_id"], "OncotreeLineage": lines["lineage"]}).to_csv(
            case / "depmap" / "Model.csv", index=False
        )
    screen = read_depmap(case / "depmap", "Sim", control_sgrnas=tuple(controls))  # the counts Chronos reads
    rows: list[dict[str, object]] = []
    base = {"regime": regime, "genes": n_genes, "lines": n_lines}
    t0 = time.perf_counter()
    naive = naive_effects(screen)
    rows.append({**base, "method": "naive mean LFC", **metrics(naive, truth, genes, cn),
                 **gene_metrics(naive.mean(), truth),
                 "wall_s": time.perf_counter() - t0, "peak_gb": float("nan")})  # fmt: skip
    out = case / "chronos"
    runner = [str(CHRONOS_PYTHON), str(ROOT / "benchmarks" / "chronos_runner.py"), str(case / "depmap")]
    timed: dict[str, list[float]] = {}
    for repeat in range(repeats):
        # Interleaved (Chronos, then each variant, then again): drift in the machine's speed
        # reaches every method alike; accuracy is scored on the first run.
        controls = str(case / "controls.txt")
        wall, peak = measured([*runner, "--library", "Sim", "--out", str(out), "--controls", controls])
        run = json.loads((out / "run.json").read_text())
        timed.setdefault("Chronos", []).append(wall - run["alternate_cn_s"])
        timed.setdefault("Chronos + alternate_CN", []).append(wall)
        if repeat == 0:
            for name, file in (("Chronos", "gene_effect.csv"), ("Chronos + alternate_CN", "gene_effect_cn.csv")):
                est = pd.read_csv(out / file, index_col=0)
                for suffix, scored, target in (("", est, truth), (", DepMap scale", depmap_scaled(est), scaled)):
                    rows.append({**base, "method": name + suffix, "family": name,
                                 **metrics(scored, target, genes, cn, truth < -0.5),
                                 **gene_metrics(est.mean(), truth),
                                 "peak_gb": peak / 1e9})  # fmt: skip
        for variant in variants:
            scored_rows = screenfit_rows(case, gene_line, truth, scaled, genes, cn, variant, ci_prob)
            timed.setdefault(variant, []).append(float(scored_rows[0]["wall_s"]))
            if repeat == 0:
                rows.extend({**base, "family": variant, **row} for row in scored_rows)
    for row in rows:
        walls = timed.get(str(row.pop("family", "")))
        if walls:
            row.update(wall_s=float(np.median(walls)), wall_s_min=min(walls), wall_s_max=max(walls), runs=len(walls))
    return rows


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table (3 decimals) without the optional ``tabulate`` dependency."""
    cells = table.map(lambda v: f"{v:.3f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.to_numpy().tolist()]
    return "\n".join(lines)


def plot(table: pd.DataFrame, path: Path) -> None:
    """Bars per case (regime × size) and method for r, within-gene r and wall time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = table.assign(family=table["method"].str.replace(r" \((converged|failed|approximate)\)$", "", regex=True))
    families = table["family"].drop_duplicates().tolist()
    cases = list(table.groupby(["regime", "genes", "lines"], sort=False).groups)
    width = 0.8 / len(families)
    panels = (("r", "Pearson r with truth"), ("within_gene_r_selective", "within-gene r, selective genes"),
              ("wall_s", "wall time (s, log)"))  # fmt: skip
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (metric, label) in zip(axes, panels, strict=True):
        for j, family in enumerate(families):
            rows = table[table["family"] == family].set_index(["regime", "genes", "lines"])[metric]
            values = [float(rows.get(case, np.nan)) for case in cases]
            ax.bar(np.arange(len(cases)) + j * width, values, width, color=f"C{j}", label=family)
        ax.set_xticks(np.arange(len(cases)) + 0.4 - width / 2, [f"{r}\n{g}×{c}" for r, g, c in cases])
        ax.set_title(label)
        if metric == "wall_s":
            ax.set_yscale("log")
        else:
            ax.set_ylim(0.8, 1.0)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="300x60")
    parser.add_argument("--regimes", default="additive,realistic")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", default="plain,guide-offsets", help=f"screenfit variants: {', '.join(VARIANTS)}")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each method, interleaved; wall_s = median")
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--ci-prob", type=float, default=0.9, help="screenfit's interval probability (coverage_NN)")
    parser.add_argument("--work", type=Path, default=None, help="keep the simulations and fits here")
    args = parser.parse_args()
    if not CHRONOS_PYTHON.exists():
        sys.exit(f"Chronos environment missing at {CHRONOS_PYTHON.parent.parent}: run `make bench-accuracy`.")
    import screenfit

    work = args.work or Path(tempfile.mkdtemp(prefix="screenfit-accuracy-"))
    rows = []
    for regime in args.regimes.split(","):
        for size in args.sizes.split(","):
            g, c = (int(x) for x in size.split("x"))
            rows.extend(run_case(regime, g, c, args.seed, work, args.variants.split(","), args.repeats, args.ci_prob))
            print(pd.DataFrame(rows).tail(4).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    versions = f"screenfit {screenfit.__version__}, Python {platform.python_version()}"
    print(f"\n{versions}, {platform.machine()}, {platform.node()}, {date.today()}\n")
    cov = f"coverage_{round(100 * args.ci_prob)}"
    cols = ["regime", "genes", "lines", "method", "r", "within_gene_r_selective", "auroc_dependency", cov,
            f"{cov}_line_aligned", "cn_r_nonessential", "wall_s", "peak_gb"]  # fmt: skip
    cols += ["r_gene", "auroc_gene", f"{cov}_gene", "wall_s_min", "wall_s_max", "runs"]
    if args.json:
        args.json.write_text(table.to_json(orient="records", indent=1) + "\n")
    print(markdown(table[[c for c in cols if c in table.columns]]))
    if args.plot:
        plot(table, args.plot)


if __name__ == "__main__":
    main()
