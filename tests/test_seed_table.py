"""The seed notebook's own data frame loads unchanged with the documented dtypes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from screenfit.data.schema import COLUMN_BY_NAME
from screenfit.io.tables import read_long_table

SEED_COLUMNS = [
    "sgrna", "replicate_id", "lfc", "pdna_batch", "passes_qc", "depmap_id", "primary_or_metastasis",
    "lineage", "lineage_subtype", "kras_mutation", "genome_alignment", "n_alignments", "hugo_symbol",
    "chromosome", "chrom_pos", "segment_mean", "segment_cn", "log2_gene_cn_p1", "gene_cn", "n_muts",
    "any_deleterious", "variant_classification", "is_deleterious", "is_tcga_hotspot", "is_cosmic_hotspot",
    "mutated_at_guide_location", "rna_expr",
]  # fmt: skip


def seed_rows() -> pd.DataFrame:
    """The seven rows the seed prints (visible columns as printed; hidden ones filled plausibly)."""
    guides = ["AAGAGGCCGGTCAAATTCAG", "AATCAACCCACAGCTGCACA", "AATTACTACTTGCTTCCTGT", "ACCTGTATGACGAAACCGTG",
              "ACTCTGTTCCTTCATCTCCG", "ACTGCTGCGGGAATTCCAAG", "AGACACTTATACTATGAAAG"]  # fmt: skip
    lfc = [-0.405499, -0.133541, -0.491495, -0.015850, -0.530277, 0.778827, 0.035950]
    n = len(guides)
    return pd.DataFrame(
        {
            "sgrna": guides,
            "replicate_id": ["42-mg-ba-311cas9_repa_p6_batch3"] * n,
            "lfc": lfc,
            "pdna_batch": [3] * n,
            "passes_qc": [True] * n,
            "depmap_id": ["ACH-000323"] * n,
            "primary_or_metastasis": ["Primary"] * n,
            "lineage": ["central_nervous_system"] * n,
            "lineage_subtype": ["glioma"] * n,
            "kras_mutation": ["WT"] * n,
            "genome_alignment": [f"chr{c}_{p}_+" for c, p in zip([1, 2, 3, 4, 5, 6, 7], range(n), strict=True)],
            "n_alignments": [1] * n,
            "hugo_symbol": ["KRAS", "TP53", "MYC", "PTK2", "EGFR", "PIK3CA", "BRAF"],
            "chromosome": [12, 17, 8, 8, 7, 3, 7],
            "chrom_pos": [25245274, 7675088, 127736231, 140657900, 55019017, 179148114, 140924703],
            "segment_mean": [1.0, np.nan, 0.9, 1.1, 1.2, np.nan, 0.95],
            "segment_cn": [2.0, np.nan, 1.8, 2.2, 2.4, np.nan, 1.9],
            "log2_gene_cn_p1": [0.845287, 0.827398, 0.879280, 0.818549, 0.990378, 0.818549, 0.872323],
            "gene_cn": [1.328646, 1.287359, 1.409165, 1.267208, 1.692253, 1.267208, 1.392463],
            "n_muts": [0, 2, 0, 0, 0, 0, 0],
            "any_deleterious": [False] * n,
            "variant_classification": [np.nan, "missense_mutation;missense_mutation", *[np.nan] * 5],
            "is_deleterious": [np.nan, "FALSE;FALSE", *[np.nan] * 5],
            "is_tcga_hotspot": [np.nan, "TRUE;TRUE", *[np.nan] * 5],
            "is_cosmic_hotspot": [np.nan, "TRUE;TRUE", *[np.nan] * 5],
            "mutated_at_guide_location": [False] * n,
            "rna_expr": [1.263034, 5.220330, 3.008989, 4.083213, 5.822730, 4.083213, 3.701549],
        }
    )[SEED_COLUMNS]


def test_seed_rows_load_with_documented_dtypes(tmp_path):
    path = tmp_path / "seed.csv"
    seed_rows().to_csv(path, index=False)
    screen = read_long_table(path)
    t = screen.table
    assert list(t.columns)[: len(SEED_COLUMNS)] == SEED_COLUMNS
    assert screen.n_rows == 7
    for name in SEED_COLUMNS:
        kind = COLUMN_BY_NAME[name].kind
        dtype = t[name].dtype
        if kind == "float":
            assert dtype == np.float64, name
        elif kind == "int":
            assert str(dtype) == "Int64", name
        elif kind == "bool":
            assert str(dtype) == "boolean", name
        else:
            assert str(dtype) in {"string", "category"}, (name, dtype)
    assert t["segment_mean"].isna().sum() == 2
    assert t.loc[1, "variant_classification"] == "missense_mutation;missense_mutation"
    assert t.loc[1, "is_deleterious"] == "FALSE;FALSE"
    assert str(t.loc[0, "pdna_batch"]) == "3"
    assert t["chromosome"].iloc[0] == "12"
    assert np.allclose(t["lfc"], seed_rows()["lfc"])
