"""screenfit and Chronos on the single-line screens beside the repository, scored alike.

Run: ``make bench-single`` (creates ``.venv-chronos`` with Chronos 2.3.11 and TensorFlow, never
in the default install, then ``python benchmarks/single_screens.py [--json FILE] [--work DIR]
[--screens SHEET,…] [--data SCREENS_DIR]``). Screens: HAP1 (TKOv3), A375 and HT-29 (Brunello), Evers 2016 RT112 and
UMUC3 (CRISPRn) — each read with screenfit's bundled sample sheet, so every method sees the
same guides (those passing the reference-count filter) and the same counts.

- **Chronos** (defaults, ``train()``'s epochs) gets the counts in DepMap's format: one reference
  sequence per pDNA batch (the summed initial samples, as screenfit uses), one sequence per
  final replicate, and as negative controls the guides of the screen's non-essential genes
  (Chronos 2.3.11 refuses to run without controls; DepMap passes its own). A final sample
  without ``days`` in the sheet is given 21 (Chronos needs a time; one time point only scales).
- **screenfit** ``gene-cellline`` by NUTS (nutpie, defaults) and ``guide`` (guide offsets nested
  in genes) by SVI, on the LFC screenfit computes from the same counts.

Metrics per screen, on each method's gene effects: AUROC and NNMD of the reference essential
against the non-essential genes (Hart CEGv2/NEGv1, matched through the alias table; the
authors' 46/47 genes for Evers) and, for HT-29, the correlation of the effect with copy number
(GDSC total copy number, log2) among the non-essential genes; wall time of each method's process.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from accuracy_vs_chronos import CHRONOS_PYTHON, ROOT, measured
from qc_real_data import COUNT_SCREENS, evers_sets

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "screens"
SINGLE_LINE = ("hap1_tkov3", "a375_brunello", "ht29_brunello", "evers2016_crisprn_rt112", "evers2016_crisprn_umuc3")
SCREENS = [screen for screen in COUNT_SCREENS if screen[2] in SINGLE_LINE]
"""(name, count file under the screens folder, bundled sample sheet, reference sets: ``None`` =
CEGv2/NEGv1): the CRISPRn single-line screens of qc_real_data.py."""
MODELS = {"gene-cellline (NUTS)": ("gene-cellline", []), "guide (SVI)": ("guide", ["--sampler", "svi"])}
HT29_GDSC_COLUMN = "905939"
"""HT-29's COSMIC ID: its column in ``ht29_brunello/GDSC.geneLevCNA.csv.gz``."""


def reference_genes(genes: list[str], sets: str | None, data: Path) -> tuple[set[str], set[str]]:
    """Essential and non-essential genes of the screen (overlap removed)."""
    from screenfit.data.genes import match_symbols
    from screenfit.reference import essential_sets

    ess_list, non_list = evers_sets(data) if sets == "evers" else essential_sets()
    ess, non = match_symbols(ess_list, genes).matched, match_symbols(non_list, genes).matched
    return set(ess - non), set(non - ess)


def write_chronos_inputs(screen, folder: Path, non: set[str]) -> Path:
    """The screen's counts as DepMap-format files for ``chronos_runner.py`` (library ``Screen``)."""
    t = screen.table
    folder.mkdir(parents=True, exist_ok=True)
    ref = t.groupby(["pdna_batch", "sgrna"], observed=True)["counts_initial"].first().unstack()
    ref.index = [f"pDNA_{b}" for b in ref.index]
    final = t.pivot_table(index="replicate_id", columns="sgrna", values="counts_final", aggfunc="first", observed=True)
    counts = pd.concat([ref, final]).astype(float)
    with gzip.open(folder / "ScreenReadcounts.csv.gz", "wt", compresslevel=1) as fh:
        counts.to_csv(fh, float_format="%.0f")
    reps = t.drop_duplicates("replicate_id").set_index("replicate_id")
    days = pd.to_numeric(reps["days"], errors="coerce") if "days" in reps else pd.Series(np.nan, index=reps.index)
    seq = pd.DataFrame(
        {
            "sequence_ID": [*ref.index, *final.index],
            "cell_line_name": ["pDNA"] * len(ref) + reps.loc[final.index, "depmap_id"].astype(str).tolist(),
            "pDNA_batch": [i.removeprefix("pDNA_") for i in ref.index]
            + reps.loc[final.index, "pdna_batch"].astype(str).tolist(),
            "days": [0] * len(ref) + days.loc[final.index].fillna(21).tolist(),
            "Replicate": [""] * len(ref) + list(final.index.astype(str)),
        }
    )
    seq.to_csv(folder / "ScreenSequenceMap.csv", index=False)
    guides = t.drop_duplicates("sgrna")[["sgrna", "hugo_symbol"]].rename(columns={"hugo_symbol": "gene"})
    guides.to_csv(folder / "ScreenGuideMap.csv", index=False)
    controls = guides.loc[guides["gene"].astype(str).isin(non), "sgrna"].astype(str)
    (folder / "controls.txt").write_text("\n".join(controls) + "\n")
    return folder


def scores(effect: pd.Series, ess: set[str], non: set[str], cn: pd.Series | None) -> dict[str, float]:
    """AUROC, NNMD and (where copy number is given) the copy-number correlation among non-essentials."""
    from screenfit.qc import separation

    sep = separation(effect.to_frame("effect"), ess, non).iloc[0]
    out = {"auroc": float(sep["auroc"]), "nnmd": float(sep["nnmd"]), "cn_r_nonessential": float("nan")}
    if cn is not None:
        both = pd.concat([effect, cn], axis=1, join="inner").dropna()
        both = both.loc[both.index.isin(non)]
        out["cn_r_nonessential"] = float(np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1])
    return out


def ht29_copy_number(data: Path) -> pd.Series:
    """HT-29's total copy number per gene (GDSC PICNIC: the first field; −1 = missing), log2(CN + 1)."""
    path = data / "ht29_brunello" / "GDSC.geneLevCNA.csv.gz"
    raw = pd.read_csv(path, index_col=0, usecols=["rownames", HT29_GDSC_COLUMN])
    total = pd.to_numeric(raw[HT29_GDSC_COLUMN].astype(str).str.split(",").str[0], errors="coerce")
    return np.log2(total.where(total >= 0) + 1.0)


def run_screen(name: str, path: str, sheet: str, sets: str | None, data: Path, work: Path) -> list[dict[str, object]]:
    import sys

    from screenfit.fitting import load_fit
    from screenfit.io.counts import bundled_sheet, read_count_table
    from screenfit.io.tables import write_screen

    case = work / sheet
    screen = read_count_table(data / path, bundled_sheet(sheet))
    write_screen(screen, case / "screen.parquet", force=True)
    genes = sorted(screen.table["hugo_symbol"].astype(str).unique())
    ess, non = reference_genes(genes, sets, data)
    cn = ht29_copy_number(data) if sheet == "ht29_brunello" else None
    base = {"screen": name, "guides": int(screen.table["sgrna"].nunique()), "genes": len(genes)}
    rows = []
    folder = write_chronos_inputs(screen, case / "chronos_in", non)
    out = case / "chronos"
    runner = [str(CHRONOS_PYTHON), str(ROOT / "benchmarks" / "chronos_runner.py"), str(folder)]
    controls = str(folder / "controls.txt")
    wall, peak = measured([*runner, "--library", "Screen", "--out", str(out), "--controls", controls])
    chronos = pd.read_csv(out / "gene_effect.csv", index_col=0).iloc[0]
    rows.append({**base, "method": "Chronos", **scores(chronos, ess, non, cn), "wall_s": wall, "peak_gb": peak / 1e9})
    cli = str(Path(sys.executable).parent / "screenfit")
    for label, (model, extra) in MODELS.items():
        fit_dir = case / f"fit_{model}"
        args = [cli, "fit", str(case / "screen.parquet"), "--model", model, "--out", str(fit_dir), "--quiet", "--force"]
        wall, peak = measured([*args, *extra])
        fit = load_fit(fit_dir)
        effect = fit.table("gene_effects").set_index("hugo_symbol")["mean"]
        rows.append({**base, "method": f"screenfit {label} ({fit.status})", **scores(effect, ess, non, cn),
                     "wall_s": wall, "peak_gb": peak / 1e9})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=None, help="keep the inputs and fits here")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared screens folder")
    parser.add_argument("--screens", default=None, help="comma-separated sample-sheet names (default: all)")
    args = parser.parse_args()
    if not CHRONOS_PYTHON.exists():
        raise SystemExit(f"Chronos environment missing at {CHRONOS_PYTHON.parent.parent}: run `make bench-accuracy`.")
    import screenfit

    work = args.work or Path(tempfile.mkdtemp(prefix="screenfit-single-"))
    wanted = None if args.screens is None else set(args.screens.split(","))
    rows = []
    for name, path, sheet, sets in SCREENS:
        if wanted is None or sheet in wanted:
            rows.extend(run_screen(name, path, sheet, sets, args.data, work))
            print(pd.DataFrame(rows).tail(3).to_string(index=False), flush=True)
    versions = f"screenfit {screenfit.__version__}, Python {platform.python_version()}, {platform.machine()}"
    print(f"\n{versions}, {date.today()}\n")
    print("| screen | method | AUROC | NNMD | CN r (non-essential) | wall s | peak GB |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['screen']} | {r['method']} | {r['auroc']:.4f} | {r['nnmd']:.2f} | {r['cn_r_nonessential']:.3f} | "
              f"{r['wall_s']:.0f} | {r['peak_gb']:.2f} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
