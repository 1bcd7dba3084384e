"""QC of every real screen beside the repository: prints the markdown table in docs/validation.md.

Run: ``python benchmarks/qc_real_data.py [SHARED_DATA_DIR]`` (default ../shared/data).
"""

from __future__ import annotations

import platform
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import screenfit
from screenfit.io.counts import bundled_sheet, read_count_table
from screenfit.io.depmap import read_depmap
from screenfit.qc import run_qc
from screenfit.reference import load_gene_set

COUNT_SCREENS = [
    ("HAP1 (TKOv3)", "hap1_tkov3/reads_hap1.txt", "hap1_tkov3", None),
    ("A375 (Brunello)", "a375_brunello/Sanson_CRISPRn-A375.tsv", "a375_brunello", None),
    ("HT-29 (Brunello)", "ht29_brunello/HT29-Brunello_counts.tsv", "ht29_brunello", None),
    ("RT112 CRISPRn (Evers)", "evers2016_bladder/Evers_CRISPRn-RT112.csv", "evers2016_crisprn_rt112", "evers"),
    ("UMUC3 CRISPRn (Evers)", "evers2016_bladder/Evers_CRISPRn-UMUC3.csv", "evers2016_crisprn_umuc3", "evers"),
    ("RT112 CRISPRi (Evers)", "evers2016_bladder/Evers_CRISPRi-RT112.csv", "evers2016_crispri_rt112", "evers"),
    ("AML lines (Tzelepis)", "aml_yusa/example_count_data.tab", "aml_yusa", None),
    ("HL60/KBM7 (Wang 2014)", "leukemia_wang2014/leukemia.new.csv", "leukemia_wang2014", None),
]


def evers_sets(screens: Path) -> tuple[list[str], list[str]]:
    """The Evers 2016 authors' 46 essential and 47 non-essential genes (``screens``: the shared screens folder)."""
    folder = screens / "evers2016_bladder"
    return load_gene_set(folder / "Evers_essential-genes.txt"), load_gene_set(folder / "Evers_non-essential-genes.txt")


def main(data: Path) -> None:
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # per-call: control-guide notes are in the table's source
        for lib in ("Avana", "KY"):
            rows.append((f"DepMap {lib} sample", "CEGv2/NEGv1", run_qc(read_depmap(data / "depmap_sample", lib))))
        for name, path, sheet, sets in COUNT_SCREENS:
            screen = read_count_table(data / "screens" / path, bundled_sheet(sheet))
            kw = {}
            label = "CEGv2/NEGv1"
            if sets == "evers":
                essential, nonessential = evers_sets(data / "screens")
                kw = {"essential": essential, "nonessential": nonessential}
                label = "authors' 46/47"
            rows.append((name, label, run_qc(screen, **kw)))
    print(
        f"screenfit {screenfit.__version__}, Python {platform.python_version()}, {platform.machine()}, {date.today()}\n"
    )
    header = ["screen", "reference sets", "lines", "replicates", "median line AUROC", "median line NNMD",
              "failing replicates", "essential genes matched"]  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for name, label, r in rows:
        s = r.summary()
        print(
            f"| {name} | {label} | {s['cell_lines']} | {s['replicates']} | {s['median_auroc']:.3f} | "
            f"{s['median_nnmd']:.2f} | {s['failed_replicates']} | {s['essential_genes']} |"
        )
    print("\nReplicate agreement per line (mean r with the line's other replicates; min and median over lines):\n")
    print("| screen | lines with ≥ 2 replicates | r, reference genes' guides: min / median | r, all: min / median |")
    print("|---|---|---|---|")
    for name, _, r in rows:
        lines = r.cell_lines.dropna(subset=["replicate_correlation"])
        if lines.empty:
            continue
        sig, every = lines["replicate_correlation"], lines["replicate_correlation_all"]
        cells = [f"{x.min():.2f} / {x.median():.2f}" for x in (sig, every)]
        print(f"| {name} | {len(lines)} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    t0 = time.time()
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data")
    print(f"\n({time.time() - t0:.0f} s)")
