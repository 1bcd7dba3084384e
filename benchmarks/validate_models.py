"""Fit the model zoo to real and simulated screens and print the tables in docs/validation.md.

Run: ``python benchmarks/validate_models.py [--models m1,m2] [--genes N] [--out DIR]``, or
``--svi-library Avana|KY [--json FILE] [--svi-variants "NAME;NAME"]`` for gene-by-line by SVI
on one library of the DepMap sample only (:func:`library_svi`: per-line AUROC and copy-number
bias of each of :data:`SVI_VARIANTS`, or of those named, next to the shipped Chronos fit for
Avana, or Chronos run on KY here).

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
import json
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

import screenfit
from screenfit.data.genes import match_symbols, split_depmap_names
from screenfit.data.preprocess import annotated_lines_only, subsample
from screenfit.fitting import fit
from screenfit.inference.samplers import SamplerConfig
from screenfit.io.depmap import read_depmap
from screenfit.jobs import load_example
from screenfit.models.base import ModelOptions
from screenfit.reference import essential_sets
from screenfit.simulate import SimulationConfig, simulate_screen

CHRONOS_FIT = Path(__file__).resolve().parents[2] / "shared" / "data" / "depmap_sample" / "chronos_reference_fit"
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


def chronos_effects(folder: Path, genes: list[str], lines: list[str]) -> pd.DataFrame:
    """The Chronos reference fit's lines × genes effects on the given genes and lines."""
    ge = pd.read_csv(folder / "fit_gene_effect.csv.gz", index_col=0)
    ge.columns = split_depmap_names(pd.Series(ge.columns))["hugo_symbol"]
    return ge.loc[ge.index.intersection(lines), ge.columns.intersection(genes)]


def chronos_auroc(
    folder: Path, genes: list[str], lines: list[str], ess: set[str], non: set[str]
) -> tuple[float, float]:
    """(gene-level AUROC of the line-mean effect, median per-line AUROC) of the Chronos reference fit."""
    ge = chronos_effects(folder, genes, lines)
    per_line = [auroc(ge.loc[line], ess, non) for line in ge.index]
    return auroc(ge.mean(axis=0), ess, non), float(np.median(per_line))


def cn_bias(wide: pd.DataFrame, cn: pd.DataFrame, nonessential: set[str]) -> float:
    """r of (effect − gene mean) with log2(CN + 1) over the NEGv1 genes of a lines × genes table."""
    genes = sorted(nonessential & set(wide.columns))
    centred = wide[genes] - wide[genes].mean(axis=0)
    copies = cn.loc[centred.index, genes]
    ok = np.isfinite(centred.to_numpy()) & np.isfinite(copies.to_numpy())
    return float(np.corrcoef(centred.to_numpy()[ok], copies.to_numpy()[ok])[0, 1])


#: gene-by-line variants fitted by ``--svi-library``.
SVI_VARIANTS = {
    "svi": {},
    "svi + guide offsets": {"guide_offsets": True},
    "svi + guide offsets + cn_excess": {"guide_offsets": True, "cn_column": "cn_excess"},
    "svi + guide offsets + efficacy": {"guide_offsets": True, "guide_efficacy": True},
    "svi + efficacy + guide noise + t3 offsets": {
        "guide_offsets": True, "guide_efficacy": True, "guide_noise": True, "guide_offset_nu": 3.0},
    "svi + efficacy + guide noise + t3 offsets + cn_excess": {
        "guide_offsets": True, "guide_efficacy": True, "guide_noise": True, "guide_offset_nu": 3.0,
        "cn_column": "cn_excess"},
    "svi + efficacy + guide noise + t3 offsets + cn_excess, efficacy-scaled": {
        "guide_offsets": True, "guide_efficacy": True, "guide_noise": True, "guide_offset_nu": 3.0,
        "cn_column": "cn_excess", "cn_efficacy": True},
    "svi + efficacy + guide noise + learnt-nu offsets + cn_excess, efficacy-scaled": {
        "guide_offsets": True, "guide_efficacy": True, "guide_noise": True, "guide_offset_nu": "learn",
        "cn_column": "cn_excess", "cn_efficacy": True},
}  # fmt: skip
"""``svi + efficacy + guide noise + t3 offsets + cn_excess`` is the accuracy benchmark's ``svi-robust``
configuration (without the lineage pooling, which the DepMap sample's annotations do not cover),
``…, efficacy-scaled`` its ``svi-robust-cn`` (the copy-number term scaled by each guide's efficacy),
``learnt-nu …`` the same with the offsets' degrees of freedom learnt (``svi-robust-nu``)."""
DEPMAP_SAMPLE = CHRONOS_FIT.parent
CHRONOS_PYTHON = Path(__file__).resolve().parents[1] / ".venv-chronos" / "bin" / "python"


def nonessential_control_guides(library: str) -> list[str]:
    """The library's guides of DepMap's ``AchillesNonessentialControls`` genes (negative controls for Chronos)."""
    controls = set(pd.read_csv(DEPMAP_SAMPLE / "AchillesNonessentialControls.csv").iloc[:, 0].astype(str))
    guides = pd.read_csv(DEPMAP_SAMPLE / f"{library}GuideMap.csv")
    return sorted(guides.loc[guides["gene"].astype(str).isin(controls), "sgrna"].astype(str))


def chronos_reference(library: str, genes: list[str], lines: list[str]) -> dict[str, pd.DataFrame]:
    """Lines × genes Chronos effects to compare with: the shipped fit for Avana; for another
    library, Chronos run now on its counts (defaults, in ``.venv-chronos``; as fitted and after
    ``alternate_CN``), with the library's non-essential-control guides as negative controls."""
    if library == "Avana":
        return {"Chronos reference fit (shipped)": chronos_effects(CHRONOS_FIT, genes, lines)}
    work = Path(tempfile.mkdtemp(prefix=f"chronos-{library}-"))
    (work / "controls.txt").write_text("\n".join(nonessential_control_guides(library)) + "\n")
    runner = Path(__file__).with_name("chronos_runner.py")
    t0 = time.perf_counter()
    subprocess.run([str(CHRONOS_PYTHON), str(runner), str(DEPMAP_SAMPLE), "--library", library, "--out", str(work),
                    "--controls", str(work / "controls.txt")], check=True)  # fmt: skip
    print(f"Chronos on {library}: {time.perf_counter() - t0:.0f} s (wall, with its imports)")
    out = {}
    files = {"Chronos (run here)": "gene_effect.csv", "Chronos + alternate_CN (run here)": "gene_effect_cn.csv"}
    for name, file in files.items():
        ge = pd.read_csv(work / file, index_col=0)
        ge.columns = split_depmap_names(pd.Series(ge.columns))["hugo_symbol"]
        out[name] = ge.loc[ge.index.intersection(lines), ge.columns.intersection(genes)]
    return out


def library_svi(library: str, json_path: Path | None, variants: list[str] | None = None) -> None:
    """gene-by-line by SVI on one library of the DepMap sample (:data:`SVI_VARIANTS`, or those in
    ``variants``): median per-line AUROC (CEGv2 vs NEGv1) and copy-number bias among NEGv1 genes
    (effect minus the gene's mean against DepMap's log2(CN + 1)), as fitted and on DepMap's scale,
    next to Chronos (:func:`chronos_reference`) scored the same way."""
    screen = load_example() if library == "Avana" else read_depmap(DEPMAP_SAMPLE, library)
    t = screen.table
    genes = sorted(t["hugo_symbol"].astype(str).unique())
    lines = sorted(t["depmap_id"].astype(str).unique())
    ess, non = reference_sets(genes)
    cn = t.groupby(["depmap_id", "hugo_symbol"], observed=True)["log2_gene_cn_p1"].first().unstack()

    def scores(wide: pd.DataFrame) -> dict[str, float]:
        per_line = float(np.median([auroc(wide.loc[line], ess, non) for line in wide.index]))
        return {"median_per_line_auroc": per_line, "cn_r_nonessential": cn_bias(wide, cn, non)}

    rows = [{"library": library, "method": name, "scale": "as fitted", **scores(wide)}
            for name, wide in chronos_reference(library, genes, lines).items()]  # fmt: skip
    unknown = sorted(set(variants or ()) - set(SVI_VARIANTS))
    if unknown:
        sys.exit(f"unknown --svi-variants {unknown}; known: {list(SVI_VARIANTS)}")
    for name, options in SVI_VARIANTS.items():
        if variants and name not in variants:
            continue
        t0 = time.perf_counter()
        result = fit(screen, "gene-by-line", options=ModelOptions(**options), sampler=SamplerConfig(method="svi"),
                     log_likelihood=False, predictive=False, progress=False)  # fmt: skip
        wall = time.perf_counter() - t0
        for stem, scale in (("gene_cell_line_effects", "LFC"), ("gene_cell_line_effects_depmap", "DepMap")):
            wide = result.table(stem).pivot(index="depmap_id", columns="hugo_symbol", values="mean")
            rows.append({"library": library, "method": f"screenfit gene-by-line, {name}", "scale": scale,
                         **scores(wide), "status": result.status, "wall_s": wall})  # fmt: skip
    print(f"{library}: {len(lines)} lines, {len(ess)} CEGv2 and {len(non)} NEGv1 genes")
    print("| method | scale | median per-line AUROC | CN r (NEGv1) | wall s |\n|---|---|---|---|---|")
    for row in rows:
        wall = f"{row['wall_s']:.0f}" if "wall_s" in row else "—"
        print(f"| {row['method']} | {row['scale']} | {row['median_per_line_auroc']:.4f} | "
              f"{row['cn_r_nonessential']:.3f} | {wall} |")  # fmt: skip
    if json_path:
        json_path.write_text(json.dumps(rows, indent=1) + "\n")


def real_data(models: list[str], n_genes: int | None, out: Path | None, draws: int | None = None) -> None:
    screen = load_example()
    if n_genes:
        _ess_all, _non_all = essential_sets()
        screen = subsample(screen, n_genes=n_genes, seed=1)
    genes = sorted(screen.table["hugo_symbol"].astype(str).unique())
    lines = sorted(screen.table["depmap_id"].astype(str).unique())
    ess, non = reference_sets(genes)
    folder = CHRONOS_FIT
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
    parser.add_argument("--svi-library", default=None, help="only gene-by-line by SVI on this library (Avana, KY)")
    parser.add_argument("--json", type=Path, default=None, help="with --svi-library: write the rows here")
    parser.add_argument(
        "--svi-variants", default=None, help="with --svi-library: only these SVI_VARIANTS (';'-separated)"
    )
    args = parser.parse_args()
    print(
        f"screenfit {screenfit.__version__}, Python {platform.python_version()}, {platform.machine()}, {date.today()}\n"
    )
    if args.svi_library:
        library_svi(args.svi_library, args.json, args.svi_variants.split(";") if args.svi_variants else None)
        return
    real_data([m for m in args.models.split(",") if m], args.genes, args.out, args.draws)
    if not args.skip_simulation:
        simulation()
    if not args.skip_comparison:
        comparison()


if __name__ == "__main__":
    main()
