"""``screenfit correct`` beside CRISPRcleanR, from the same count and library files.

Run: ``python benchmarks/correction_vs_crisprcleanr.py --crisprcleanr DIR [--json FILE] [--seeds 1,2,3]``.
``DIR`` is a checkout of github.com/francescojm/CRISPRcleanR (3.0.1; its code is not part of
screenfit) and R with DNAcopy must be installed (Debian: ``apt-get install r-base-core
r-bioc-dnacopy``). CRISPRcleanR runs with its defaults through ``crisprcleanr_runner.R``;
screenfit as a user runs it, ``screenfit ingest counts COUNTS --sheet S --library LIB`` then
``screenfit correct`` (defaults). Each is timed as whole processes from the files on disk.

Cases, every one in CRISPRcleanR's count layout (sgRNA, gene, pDNA, replicates) with the
Brunello library's CODE/GENES/CHRM/STARTpos/ENDpos file:

- **HT-29 and A375** (Brunello; the bundled screens; A375's guides, named by sequence, are
  renamed to the library's codes through its 30-mer context).
- **Simulated amplicons** (:mod:`screenfit.simulate_amplicons` on the Brunello library's
  coordinates, seeds ``--seeds``): focal amplicons at 8–24 copies with cutting toxicity
  ``−0.5 · log₂(CN/2)``, broad gains, and one true dependency planted in each amplicon.

Scores on each tool's gene mean LFC (before and after its own correction): AUROC of Hart
CEGv2 against NEGv1 (line-median centred), the correlation with copy number among NEGv1 genes
(HT-29: GDSC; simulated: the truth), the lag-1 correlation of neighbouring NEGv1 genes along the
genome, and for the simulations the share of amplified (≥ 8 copies) genes without effect whose
LFC is below −1, and the planted dependencies' LFC against their toxicity-free expectation;
and the replicates ``screenfit qc`` fails on screenfit's corrected screen.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from accuracy_vs_chronos import ROOT
from proximity import genome_order, line_scores
from single_screens import ht29_copy_number, reference_genes

DATA = ROOT.parent / "shared" / "data"
BRUNELLO = DATA / "libraries" / "Brunello_Library.csv.gz"
SCREENFIT = Path(sys.executable).parent / "screenfit"
RUNNER = Path(__file__).with_name("crisprcleanr_runner.R")
LIBRARY_COLUMNS = ["CODE", "GENES", "CHRM", "STARTpos", "ENDpos"]


def brunello() -> pd.DataFrame:
    return pd.read_csv(BRUNELLO, dtype={"CHRM": str})


def write_case(folder: Path, counts: pd.DataFrame, library: pd.DataFrame, line: str) -> None:
    """The count file, the library file and screenfit's sample sheet for one case."""
    folder.mkdir(parents=True, exist_ok=True)
    counts.to_csv(folder / "counts.tsv", sep="\t", index=False)
    library[LIBRARY_COLUMNS].to_csv(folder / "library.csv", index=False)
    samples = [c for c in counts.columns if c not in ("sgRNA", "gene")]
    sheet = pd.DataFrame(
        {
            "sample": samples,
            "condition": ["initial"] + ["final"] * (len(samples) - 1),
            "replicate": ["pDNA", *range(1, len(samples))],
            "cell_line": line,
            "pdna_batch": "Brunello",
        }
    )
    sheet.to_csv(folder / "sheet.csv", index=False)


def run_screenfit(folder: Path) -> tuple[pd.DataFrame, float, int]:
    """Guide mean LFC before/after (``sgRNA``, ``gene``, ``before``, ``after``), seconds, segments."""
    start = time.perf_counter()
    for cmd in (
        [str(SCREENFIT), "ingest", "counts", str(folder / "counts.tsv"), "--sheet", str(folder / "sheet.csv"),
         "--library", str(folder / "library.csv"), "--out", str(folder / "screen.parquet"), "--force", "--quiet"],
        [str(SCREENFIT), "correct", str(folder / "screen.parquet"), "--out", str(folder / "corrected.parquet"),
         "--force", "--quiet"],
    ):  # fmt: skip
        subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - start
    t = pd.read_parquet(folder / "corrected.parquet")
    guides = t.groupby("sgrna", observed=True).agg(
        gene=("hugo_symbol", "first"), before=("lfc_uncorrected", "mean"), after=("lfc", "mean")
    )
    segments = len(pd.read_parquet(folder / "corrected_segments.parquet"))
    return guides.reset_index().rename(columns={"sgrna": "sgRNA"}), seconds, segments


def qc_failures(folder: Path) -> int:
    """Replicates of the corrected screen that ``screenfit qc`` fails (CEGv2/NEGv1)."""
    from screenfit.io.tables import read_long_table
    from screenfit.qc import run_qc

    return int(run_qc(read_long_table(folder / "corrected.parquet")).summary()["failed_replicates"])


def run_crisprcleanr(folder: Path, source: Path) -> tuple[pd.DataFrame, float, int]:
    """The same from CRISPRcleanR's ``avgFC`` and ``correctedFC``."""
    out = folder / "crisprcleanr"
    start = time.perf_counter()
    subprocess.run(["Rscript", str(RUNNER), str(source), str(folder / "counts.tsv"), str(folder / "library.csv"),
                    str(out)], check=True, capture_output=True)  # fmt: skip
    seconds = time.perf_counter() - start
    t = pd.read_csv(out / "corrected.tsv", sep="\t")
    guides = t.rename(columns={"avgFC": "before", "correctedFC": "after"})[["sgRNA", "gene", "before", "after"]]
    return guides, seconds, len(pd.read_csv(out / "segments.tsv", sep="\t"))


def genome_rank(library: pd.DataFrame) -> pd.Series:
    """Each gene's rank along the genome from the library file (proximity.py's order of a screen's guides)."""
    return genome_order(library.rename(columns={"GENES": "hugo_symbol", "CHRM": "chromosome", "STARTpos": "chrom_pos"}))


def scores(guides: pd.DataFrame, column: str, ess, non, cn, order, truth: pd.DataFrame | None) -> dict[str, float]:
    """The module docstring's scores on the gene means of ``column``."""
    gene = guides.groupby("gene")[column].mean()
    out = line_scores(gene.to_frame("line"), ess, non, cn, order)
    if truth is not None:
        t = truth.set_index("gene").reindex(gene.index)
        amplified_null = (t["copy_number"] >= 8) & t["kind"].isin(["null", "nonessential"])
        out["amplified_null_share_below_-1"] = float((gene[amplified_null] < -1).mean())
        out["amplified_null_genes"] = int(amplified_null.sum())
        drivers = t["kind"] == "driver"
        out["driver_lfc_median"] = float(gene[drivers].median())
        out["driver_expected_median"] = float(t.loc[drivers, "expected"].median())
        out["drivers_within_0.5_of_expected"] = int(((gene[drivers] - t.loc[drivers, "expected"]).abs() <= 0.5).sum())
        out["drivers"] = int(drivers.sum())
    return out


def compare(name: str, folder: Path, source: Path, library, ess, non, cn, truth=None) -> list[dict[str, object]]:
    order = genome_rank(library)
    rows = []
    for tool, run in (("screenfit", run_screenfit), ("CRISPRcleanR", lambda f: run_crisprcleanr(f, source))):
        guides, seconds, segments = run(folder)
        for label in ("before", "after"):
            row = {"case": name, "tool": tool, "lfc": label, **scores(guides, label, ess, non, cn, order, truth)}
            if label == "after":
                row.update(seconds=round(seconds, 1), segments=segments)
                if tool == "screenfit":
                    row["qc_failed_replicates"] = qc_failures(folder)
            rows.append(row)
            print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    return rows


def real_cases(work: Path, source: Path, lib: pd.DataFrame) -> list[dict[str, object]]:
    rows = []
    ht29 = pd.read_csv(DATA / "screens" / "ht29_brunello" / "HT29-Brunello_counts.tsv", sep="\t")
    a375 = pd.read_csv(DATA / "screens" / "a375_brunello" / "Sanson_CRISPRn-A375.tsv", sep="\t")
    spacer = lib.set_index(lib["seq"].str.slice(4, 24))["CODE"]
    a375 = a375.assign(sgRNA=spacer.reindex(a375["sgRNA"]).to_numpy()).dropna(subset=["sgRNA"])
    a375 = a375.merge(lib[["CODE", "GENES"]], left_on="sgRNA", right_on="CODE")
    a375 = a375[["sgRNA", "GENES", "pDNA", "RepA", "RepB", "RepC"]].rename(columns={"GENES": "gene"})
    for name, counts in (("HT-29", ht29), ("A375", a375)):
        genes = sorted(counts["gene"].astype(str).unique())
        ess, non = reference_genes(genes, None, DATA / "screens")
        cn = ht29_copy_number(DATA / "screens") if name == "HT-29" else None
        folder = work / name
        write_case(folder, counts, lib, name)
        rows += compare(name, folder, source, lib, ess, non, cn)
    return rows


def simulated_cases(work: Path, source: Path, lib: pd.DataFrame, seeds: list[int]) -> list[dict[str, object]]:
    from screenfit.reference import essential_sets
    from screenfit.simulate_amplicons import AmpliconConfig, simulate_amplified_screen

    ess_list, non_list = essential_sets()
    guides = lib.rename(columns={"CODE": "sgRNA", "GENES": "gene", "CHRM": "chromosome", "STARTpos": "start"})
    guides = guides[guides["chromosome"].isin([*map(str, range(1, 23)), "X"])]
    rows = []
    for seed in seeds:
        sim = simulate_amplified_screen(guides, set(ess_list), set(non_list), AmpliconConfig(seed=seed))
        ess = set(sim.genes.loc[sim.genes["kind"] == "essential", "gene"])
        non = set(sim.genes.loc[sim.genes["kind"] == "nonessential", "gene"])
        cn = np.log2(sim.genes.set_index("gene")["copy_number"])
        folder = work / f"amplicons_seed{seed}"
        write_case(folder, sim.counts, lib[lib["CODE"].isin(sim.counts["sgRNA"])], "simulated")
        rows += compare(f"simulated amplicons (seed {seed})", folder, source, lib, ess, non, cn, sim.genes)
    return rows


def main() -> None:
    import screenfit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crisprcleanr", type=Path, required=True, help="a checkout of CRISPRcleanR (3.0.1)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=ROOT / "bench_output" / "crisprcleanr")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--skip-real", action="store_true", help="simulated amplicons only")
    args = parser.parse_args()
    lib = brunello()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    rows = ([] if args.skip_real else real_cases(args.work, args.crisprcleanr, lib)) + simulated_cases(
        args.work, args.crisprcleanr, lib, seeds
    )
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.json:
        r = subprocess.run(["Rscript", "--version"], capture_output=True, text=True)
        r_version = (r.stdout or r.stderr).strip()
        meta = {"date": str(date.today()), "machine": platform.machine(), "python": platform.python_version(),
                "screenfit": screenfit.__version__, "R": r_version, "crisprcleanr": "3.0.1",
                "dnacopy": "1.72.3 (Debian r-bioc-dnacopy)"}  # fmt: skip
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
