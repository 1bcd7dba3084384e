"""Proximity-bias correction (``screenfit correct``) checked on real and simulated screens.

Run: ``make bench-proximity`` (``python benchmarks/proximity.py [--json FILE] [--fit] [--data DIR]``).

- **HT-29 and A375** (Brunello): genes placed by the row order of the GDSC gene-level
  copy-number table beside HT-29 (Ensembl order along the genome), read with
  ``--in-genome-order``, or with ``--coordinates library`` by the Brunello library file's own
  coordinates (``ingest counts --library``). HT-29's own GDSC copy number scores the bias; A375
  has none there.
- **Avana sample**: the guide map's own coordinates; DepMap's gene copy number scores the bias.
  Its 883 genes are enriched for essential and selective genes and sparse along the genome: not
  the genome-wide screen the method is for, shown for what it does there.
- **Simulated** (screenfit's simulator, 1,200 genes × 2 lines, seeds 11–13): strong cutting
  toxicity (−0.3 per extra copy, 15% of 20-gene segments amplified) and a null without any.

Metrics on each line's gene mean LFC (line-median centred), before and after the correction:
median per-line AUROC of essential vs non-essential genes (Hart CEGv2/NEGv1; the simulator's
classes), the correlation with copy number among non-essential genes, and the lag-1
autocorrelation of non-essential genes along the genome (proximity bias without copy number).
With ``--fit`` also the ``gene-cellline`` model by NUTS on HT-29 and A375, corrected and not.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from accuracy_vs_chronos import ROOT
from single_screens import ht29_copy_number, reference_genes

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "screens"
GDSC = Path("ht29_brunello") / "GDSC.geneLevCNA.csv.gz"
BRUNELLO = {
    "HT-29": ("ht29_brunello/HT29-Brunello_counts.tsv", "ht29_brunello"),
    "A375": ("a375_brunello/Sanson_CRISPRn-A375.tsv", "a375_brunello"),
}


def line_scores(
    effect: pd.DataFrame, ess: set[str], non: set[str], cn: pd.Series | None, order: pd.Series
) -> dict[str, float]:
    """Median per-line AUROC, CN r and lag-1 autocorrelation among non-essential genes.

    ``effect`` is genes × lines; ``cn`` genes × lines stacked (index gene, line) or per gene;
    ``order`` the genome rank of each gene.
    """
    from screenfit.qc import separation

    centred = effect - effect.median()
    sep = separation(centred, ess, non)
    out = {"auroc": float(sep["auroc"].median()), "cn_r_nonessential": float("nan")}
    nonessential = centred.loc[centred.index.isin(non)]
    if cn is not None:
        stacked = nonessential.stack().rename("effect")
        values = cn.reindex(stacked.index) if isinstance(cn.index, pd.MultiIndex) else cn.reindex(
            stacked.index.get_level_values(0)).set_axis(stacked.index)  # fmt: skip
        both = pd.concat([stacked, values.rename("cn")], axis=1).dropna()
        out["cn_r_nonessential"] = float(np.corrcoef(both["effect"], both["cn"])[0, 1])
    ranked = nonessential.loc[order.reindex(nonessential.index).dropna().sort_values().index]
    lag = [np.corrcoef(col[:-1], col[1:])[0, 1] for col in ranked.to_numpy().T]
    out["lag1_autocorrelation"] = float(np.median(lag))
    return out


def gene_means(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Genes × lines mean of ``column`` over guides and replicates."""
    t = table.assign(hugo_symbol=table["hugo_symbol"].astype(str), depmap_id=table["depmap_id"].astype(str))
    return t.groupby(["hugo_symbol", "depmap_id"])[column].mean().unstack()


def before_after(name: str, corrected, ess, non, cn, order, extra=None) -> list[dict[str, object]]:
    rows = []
    for label, column in (("uncorrected", "lfc_uncorrected"), ("corrected", "lfc")):
        scores = line_scores(gene_means(corrected.screen.table, column), ess, non, cn, order)
        rows.append({"screen": name, "lfc": label, "method": "gene mean LFC", **scores, **(extra or {})})
    return rows


def genome_order(table: pd.DataFrame) -> pd.Series:
    """Each gene's rank along the genome from its guides' coordinates (chromosome, then median position)."""
    guides = table[["hugo_symbol", "chromosome", "chrom_pos"]].dropna().astype({"hugo_symbol": str, "chromosome": str})
    genes = guides.groupby("hugo_symbol").agg(chromosome=("chromosome", "first"), pos=("chrom_pos", "median"))
    rank = {c: i for i, c in enumerate([*map(str, range(1, 23)), "X", "Y"])}
    genes["chrom_rank"] = genes["chromosome"].map(rank).fillna(len(rank))
    ordered = genes.sort_values(["chrom_rank", "pos"])
    return pd.Series(np.arange(len(ordered)), index=ordered.index)


def brunello_rows(data: Path, fit: bool, work: Path, coordinates: str = "gdsc") -> list[dict[str, object]]:
    """HT-29 and A375 before and after the correction; guides placed by the GDSC table's gene order
    (``gdsc``) or by the Brunello library's own coordinates (``library``, read by ``--library``)."""
    from screenfit.data.proximity import correct_proximity_bias
    from screenfit.fitting import fit as fit_model
    from screenfit.io.counts import bundled_sheet, read_count_table
    from screenfit.io.positions import read_positions

    library = data.parent / "libraries" / "Brunello_Library.csv.gz" if coordinates == "library" else None
    positions = None if library is not None else read_positions(data / GDSC, in_genome_order=True)
    rows: list[dict[str, object]] = []
    for name, (path, sheet) in BRUNELLO.items():
        screen = read_count_table(data / path, bundled_sheet(sheet), library=library)
        order = genome_order(screen.table) if positions is None else positions.set_index("hugo_symbol")["chrom_pos"]
        genes = sorted(screen.table["hugo_symbol"].astype(str).unique())
        ess, non = reference_genes(genes, None, data)
        cn = ht29_copy_number(data) if name == "HT-29" else None
        start = time.perf_counter()
        corrected = correct_proximity_bias(screen, positions)
        seconds = time.perf_counter() - start
        shifted = corrected.segments[corrected.segments["corrected"]]
        info = {"correction_s": round(seconds, 2), "segments": len(corrected.segments), "shifted": len(shifted),
                "coordinates": coordinates}  # fmt: skip
        rows += before_after(name, corrected, ess, non, cn, order, info)
        print(corrected.summary(), flush=True)
        if not fit:
            continue
        for label, version in (("uncorrected", screen), ("corrected", corrected.screen)):
            start = time.perf_counter()
            result = fit_model(version, "gene-cellline", out=work / f"{sheet}_{label}", progress=False)
            wall = time.perf_counter() - start
            effect = result.gene_effects.set_index(result.gene_effects["hugo_symbol"].astype(str))[["mean"]]
            scores = line_scores(effect.rename(columns={"mean": name}), ess, non, cn, order)
            rows.append({"screen": name, "lfc": label, "method": f"gene-cellline NUTS ({result.status})",
                         **scores, "fit_s": round(wall, 1)})  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def avana_rows(data: Path) -> list[dict[str, object]]:
    from screenfit.data.proximity import correct_proximity_bias
    from screenfit.io.depmap import read_depmap

    screen = read_depmap(data.parent / "depmap_sample", "Avana")
    t = screen.table.assign(hugo_symbol=screen.table["hugo_symbol"].astype(str))
    genes = sorted(t["hugo_symbol"].unique())
    ess, non = reference_genes(genes, None, data)
    cn = np.log2(t.groupby(["hugo_symbol", t["depmap_id"].astype(str)])["gene_cn"].first() + 1.0)
    first = t.drop_duplicates("hugo_symbol").assign(
        chrom=pd.to_numeric(t["chromosome"].astype(str).str.removeprefix("chr"), errors="coerce").fillna(23)
    )
    first = first.sort_values(["chrom", "chrom_pos"])
    order = pd.Series(np.arange(len(first)), index=first["hugo_symbol"].to_numpy())
    corrected = correct_proximity_bias(screen)
    print(corrected.summary(), flush=True)
    return before_after("Avana sample (883 genes)", corrected, ess, non, cn, order)


def simulated_rows() -> list[dict[str, object]]:
    from screenfit.data.proximity import correct_proximity_bias
    from screenfit.simulate import SimulationConfig, simulate_screen

    rows: list[dict[str, object]] = []
    for label, toxicity in (("simulated, CN toxicity", True), ("simulated, null", False)):
        for seed in (11, 12, 13):
            cfg = SimulationConfig(
                n_genes=1200, n_cell_lines=2, frac_selective=0.0, cn_slope_sd=0.0, seed=seed,
                cn_slope_mean=-0.3 if toxicity else 0.0, amplified_fraction=0.15 if toxicity else 0.0,
                deleted_fraction=0.04 if toxicity else 0.0,
            )  # fmt: skip
            screen, truth, _ = simulate_screen(cfg)
            kinds = truth.genes.set_index("hugo_symbol")["gene_class"]
            ess, non = set(kinds.index[kinds == "essential"]), set(kinds.index[kinds == "inert"])
            t = screen.table.assign(hugo_symbol=screen.table["hugo_symbol"].astype(str))
            cn = np.log2(t.groupby(["hugo_symbol", t["depmap_id"].astype(str)])["gene_cn"].first())
            order = truth.genes.reset_index(drop=True).reset_index().set_index("hugo_symbol")["index"]
            corrected = correct_proximity_bias(screen)
            rows += before_after(f"{label} (seed {seed})", corrected, ess, non, cn, order)
    return rows


def main() -> None:
    import screenfit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--fit", action="store_true", help="also fit gene-cellline by NUTS on HT-29 and A375")
    parser.add_argument("--work", type=Path, default=ROOT / "bench_output" / "proximity")
    parser.add_argument("--coordinates", choices=("gdsc", "library"), default="gdsc",
                        help="Brunello guides placed by the GDSC gene order or the library's coordinates")  # fmt: skip
    parser.add_argument("--brunello-only", action="store_true", help="HT-29 and A375 only")
    args = parser.parse_args()
    rows = brunello_rows(args.data, args.fit, args.work, args.coordinates)
    if not args.brunello_only:
        rows += avana_rows(args.data) + simulated_rows()
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.json:
        meta = {"date": str(date.today()), "machine": platform.machine(), "python": platform.python_version(),
                "screenfit": screenfit.__version__, "cores": len(__import__("os").sched_getaffinity(0))}  # fmt: skip
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
