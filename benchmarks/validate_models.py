"""Fit the model zoo to real and simulated screens and print the tables in docs/validation.md.

Run: ``python benchmarks/validate_models.py [--models m1,m2] [--genes N] [--out DIR]``.

- Real data: the DepMap Avana sample (bundled). Per model: status, max R-hat, min ESS, wall
  time, and the AUROC of gene effects separating Hart CEGv2 from NEGv1 — gene-level for models
  with one effect per gene, per cell line (median) for gene-by-line — next to the shipped
  Chronos reference fit on the same genes and lines.
- Simulation (seed-sized, 26 genes × 300 lines): correlation of gene-by-line's gene × line
  effects with the truth, and the coverage of its 94% HDIs.
- Model comparison: PSIS-LOO of the seed's m1/m2, gene-cellline, copy-number and guide on a
  simulation whose truth has copy-number toxicity and guide efficacy, and each fit's
  predictive calibration.
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

import screenfit
from screenfit.data.genes import match_symbols, split_depmap_names
from screenfit.data.preprocess import annotated_lines_only, subsample
from screenfit.fitting import fit
from screenfit.inference.samplers import SamplerConfig
from screenfit.jobs import load_example
from screenfit.reference import essential_sets
from screenfit.simulate import SimulationConfig, simulate_screen

LFC_MODELS = ["seed-m1", "seed-m2", "gene-cellline", "guide", "copy-number", "gene-by-line", "lineage", "counts"]


def auroc(effects: pd.Series, ess: set[str], non: set[str]) -> float:
    """P(a random essential gene has a lower effect than a random non-essential one)."""
    x = effects[effects.index.isin(ess)].dropna().to_numpy()
    y = effects[effects.index.isin(non)].dropna().to_numpy()
    return float(mannwhitneyu(-x, -y, alternative="greater").statistic / (len(x) * len(y)))


def reference_sets(genes: list[str]) -> tuple[set[str], set[str]]:
    ess, non = essential_sets()
    e, n = match_symbols(ess, genes).matched, match_symbols(non, genes).matched
    return set(e - n), set(n - e)


def chronos_auroc(
    folder: Path, genes: list[str], lines: list[str], ess: set[str], non: set[str]
) -> tuple[float, float]:
    """(gene-level AUROC of the line-mean effect, median per-line AUROC) of the Chronos reference fit."""
    ge = pd.read_csv(folder / "fit_gene_effect.csv.gz", index_col=0)
    ge.columns = split_depmap_names(pd.Series(ge.columns))["hugo_symbol"]
    ge = ge.loc[ge.index.intersection(lines), ge.columns.intersection(genes)]
    per_line = [auroc(ge.loc[line], ess, non) for line in ge.index]
    return auroc(ge.mean(axis=0), ess, non), float(np.median(per_line))


def real_data(models: list[str], n_genes: int | None, out: Path | None, draws: int | None = None) -> None:
    screen = load_example()
    if n_genes:
        _ess_all, _non_all = essential_sets()
        screen = subsample(screen, n_genes=n_genes, seed=1)
    genes = sorted(screen.table["hugo_symbol"].astype(str).unique())
    lines = sorted(screen.table["depmap_id"].astype(str).unique())
    ess, non = reference_sets(genes)
    folder = Path(__file__).resolve().parents[2] / "shared" / "data" / "depmap_sample" / "chronos_reference_fit"
    counts = f"{len(genes)} genes ({len(ess)} CEGv2, {len(non)} NEGv1), {len(lines)} lines, {screen.n_rows:,} rows"
    print(f"Avana sample: {counts}\n")
    print("| model | status | max R-hat | min bulk ESS | wall s | AUROC (gene effects) | median per-line AUROC |")
    print("|---|---|---|---|---|---|---|")
    if folder.is_dir():
        gene_level, per_line = chronos_auroc(folder, genes, lines, ess, non)
        print(f"| Chronos reference fit (shipped) | — | — | — | — | {gene_level:.3f} | {per_line:.3f} |")
    for name in models:
        t0 = time.perf_counter()
        sampler = SamplerConfig(draws=draws)
        # The bundled Model.csv leaves one line without a lineage; lineage fits the other 40.
        data = annotated_lines_only(screen) if name == "lineage" else screen
        result = fit(data, name, sampler=sampler, out=(out / name) if out else None, force=True, progress=False)
        wall = time.perf_counter() - t0
        d = result.diagnostics
        gene_auc = auroc(result.gene_effects.set_index("hugo_symbol")["mean"], ess, non)
        line_auc = "—"
        if "gene_cell_line_effects" in result.tables:
            wide = result.table("gene_cell_line_effects").pivot(index="depmap_id", columns="hugo_symbol", values="mean")
            line_auc = f"{np.median([auroc(wide.loc[line], ess, non) for line in wide.index]):.3f}"
        cells = [
            name,
            result.status,
            f"{d.max_rhat:.3f}",
            f"{d.min_ess_bulk:.0f}",
            f"{wall:.0f}",
            f"{gene_auc:.3f}",
            line_auc,
        ]
        print("| " + " | ".join(cells) + " |", flush=True)


def simulation() -> None:
    screen, _, gene_line = simulate_screen(SimulationConfig(seed=1))
    t0 = time.perf_counter()
    result = fit(screen, "gene-by-line", progress=False)
    est = result.table("gene_cell_line_effects").merge(gene_line, on=["hugo_symbol", "depmap_id"])
    r = np.corrcoef(est["mean"], est["gene_effect"])[0, 1]
    inside = ((est["hdi_lower"] <= est["gene_effect"]) & (est["gene_effect"] <= est["hdi_upper"])).mean()
    d = result.diagnostics
    header = ["simulation", "model", "status", "max R-hat", "min bulk ESS", "wall s", "r (gene × line vs truth)",
              "94% HDI coverage"]  # fmt: skip
    print("\n| " + " | ".join(header) + " |")
    print("|---|---|---|---|---|---|---|---|")
    cells = ["seed-sized (26 × 300 × 4 × 2)", "gene-by-line", result.status, f"{d.max_rhat:.3f}",
             f"{d.min_ess_bulk:.0f}", f"{time.perf_counter() - t0:.0f}", f"{r:.3f}", f"{inside:.3f}"]  # fmt: skip
    print("| " + " | ".join(cells) + " |")


COMPARE_MODELS = ["seed-m1", "seed-m2", "gene-cellline", "copy-number", "guide"]


def comparison() -> None:
    """PSIS-LOO ranking on a simulation whose truth has copy-number toxicity and guide efficacy."""
    from screenfit.results.comparison import compare_fits

    cfg = SimulationConfig(n_genes=40, n_cell_lines=40, seed=11, amplified_fraction=0.3, cn_slope_mean=-0.15)
    screen, _, _ = simulate_screen(cfg)
    fits = [fit(screen, m, progress=False) for m in COMPARE_MODELS]
    c = compare_fits(fits)
    print("\nPSIS-LOO on a simulation with copy-number toxicity and guide efficacy (40 genes × 40 lines × 4 × 2):\n")
    print("| rank | model | status | ELPD | SE | p_loo | ΔELPD to best | SE of Δ | Pareto k > thr. |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in c.table.itertuples():
        cells = [str(r.rank), str(r.model), str(r.status), f"{r.elpd:,.1f}", f"{r.se:.1f}", f"{r.p_eff:.1f}",
                 f"{r.elpd_diff:.1f}", f"{r.dse:.1f}", f"{r.share_high_k:.2%}"]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    for fit_result in fits:
        cal = fit_result.tables["ppc_calibration"].set_index("nominal")["observed"]
        print(f"- {fit_result.model}: central predictive intervals hold {cal[0.5]:.1%} (50%) and {cal[0.94]:.1%} (94%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default=",".join(LFC_MODELS))
    parser.add_argument("--genes", type=int, default=None, help="deterministic gene sub-sample of the Avana sample")
    parser.add_argument("--out", type=Path, default=None, help="keep the fits in this folder")
    parser.add_argument("--draws", type=int, default=None, help="draws per chain (default: each model's)")
    parser.add_argument("--skip-simulation", action="store_true")
    parser.add_argument("--skip-comparison", action="store_true")
    args = parser.parse_args()
    print(
        f"screenfit {screenfit.__version__}, Python {platform.python_version()}, {platform.machine()}, {date.today()}\n"
    )
    real_data([m for m in args.models.split(",") if m], args.genes, args.out, args.draws)
    if not args.skip_simulation:
        simulation()
    if not args.skip_comparison:
        comparison()


if __name__ == "__main__":
    main()
