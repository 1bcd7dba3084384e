"""Run Chronos on a DepMap-format folder; runs inside the Chronos benchmark environment.

Called by ``accuracy_vs_chronos.py`` as ``.venv-chronos/bin/python chronos_runner.py FOLDER
--library Sim --out DIR``. Reads ``{Library}Readcounts.csv.gz``, ``{Library}SequenceMap.csv``,
``{Library}GuideMap.csv`` (and ``OmicsCNGene.csv.gz`` for ``alternate_CN``), follows the
Chronos tutorial (``nan_outgrowths``, ``Chronos(...)``, ``train()`` with its default epochs),
and writes ``gene_effect.csv`` (lines × genes), ``gene_effect_cn.csv`` (after
``alternate_CN``) and ``run.json`` (wall seconds, peak RSS). Only Chronos' own dependencies
are needed here: screenfit is not installed in that environment.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--library", default="Sim")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--controls", type=Path, default=None, help="file of negative-control sgRNAs, one a line")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: Chronos' own)")
    parser.add_argument("--seed", type=int, default=None, help="seed for NumPy and TensorFlow (Chronos has none)")
    args = parser.parse_args()
    import chronos

    if args.seed is not None:
        import tensorflow as tf

        np.random.seed(args.seed)
        tf.random.set_seed(args.seed)

    lib, folder = args.library, args.folder
    t0 = time.perf_counter()
    readcounts = pd.read_csv(folder / f"{lib}Readcounts.csv.gz", index_col=0)
    # DepMap's column names are Chronos' own (cell_line_name, pDNA_batch, days); replicates are
    # named per line so that Chronos groups a line's sequences correctly.
    sequence_map = pd.read_csv(folder / f"{lib}SequenceMap.csv")
    sequence_map["replicate"] = sequence_map["cell_line_name"].astype(str) + "_" + sequence_map["Replicate"].astype(str)
    guide_map = pd.read_csv(folder / f"{lib}GuideMap.csv")[["sgrna", "gene"]]
    readcounts = readcounts.loc[sequence_map["sequence_ID"], guide_map["sgrna"]]
    chronos.nan_outgrowths(readcounts=readcounts, sequence_map=sequence_map, guide_gene_map=guide_map)
    # Chronos 2.3.11 needs negative controls (or an excess variance) to estimate overdispersion:
    # without either its constructor fails, so the benchmark passes controls, as DepMap does.
    controls = {lib: args.controls.read_text().split()} if args.controls else {}
    model = chronos.Chronos(
        readcounts={lib: readcounts}, guide_gene_map={lib: guide_map}, sequence_map={lib: sequence_map},
        negative_control_sgrnas=controls,
    )  # fmt: skip
    if args.epochs is None:
        model.train()
    else:
        model.train(args.epochs)
    gene_effect = model.gene_effect
    fit_s = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    gene_effect.to_csv(args.out / "gene_effect.csv")
    cn_s = float("nan")
    cn_file = folder / "OmicsCNGene.csv.gz"
    if cn_file.exists():
        t1 = time.perf_counter()
        relative = np.exp2(pd.read_csv(cn_file, index_col=0)) - 1.0
        # Only lines and genes with copy number are corrected (a DepMap sample's CN file need not
        # cover every line of every library); the rest are kept as fitted.
        lines = gene_effect.index.intersection(relative.index)
        genes = gene_effect.columns.intersection(relative.columns)
        corrected = gene_effect.copy()
        block, _ = chronos.alternate_CN(gene_effect.loc[lines, genes], relative.loc[lines, genes])
        corrected.loc[lines, genes] = block.loc[lines, genes]
        corrected.to_csv(args.out / "gene_effect_cn.csv")
        cn_s = time.perf_counter() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    run = {
        "fit_s": fit_s,
        "alternate_cn_s": cn_s,
        "peak_rss_bytes": peak,
        "chronos": chronos.__version__ if hasattr(chronos, "__version__") else "2.3.11",
    }
    (args.out / "run.json").write_text(json.dumps(run, indent=2) + "\n")


if __name__ == "__main__":
    main()
