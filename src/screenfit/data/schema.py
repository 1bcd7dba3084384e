"""The canonical columns of a screen table and their dtypes.

The names are the seed notebook's, so the seed's own data frame loads unchanged. Only the
first five are required; every other column is optional and is coerced to the dtype below
when present.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["str", "float", "int", "bool"]


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical column: its name, kind, whether it is required, and its meaning."""

    name: str
    kind: Kind
    required: bool
    description: str


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("sgrna", "str", True, "guide identifier (sequence or name); always text"),
    ColumnSpec("hugo_symbol", "str", True, "gene symbol"),
    ColumnSpec("depmap_id", "str", True, "cell line: ACH-… or the sample sheet's name"),
    ColumnSpec("replicate_id", "str", True, "replicate (sequence) identifier"),
    ColumnSpec("lfc", "float", True, "log2 fold change of the guide, final vs initial"),
    ColumnSpec("entrez_id", "int", False, "Entrez gene ID when the source has it"),
    ColumnSpec("pdna_batch", "str", False, "pDNA (reference) batch"),
    ColumnSpec("passes_qc", "bool", False, "the replicate passed the source's QC"),
    ColumnSpec("n_alignments", "int", False, "genomic loci the guide aligns to"),
    ColumnSpec("genome_alignment", "str", False, "chr_pos_strand of the guide"),
    ColumnSpec("chromosome", "str", False, "chromosome of the guide (text: X and Y occur)"),
    ColumnSpec("chrom_pos", "int", False, "position of the guide on its chromosome"),
    ColumnSpec("lineage", "str", False, "cell-line lineage"),
    ColumnSpec("lineage_subtype", "str", False, "cell-line lineage subtype"),
    ColumnSpec("primary_or_metastasis", "str", False, "tumour site of the cell line"),
    ColumnSpec("kras_mutation", "str", False, "KRAS status of the cell line (WT or variant)"),
    ColumnSpec("segment_mean", "float", False, "copy-number segment mean (may be missing)"),
    ColumnSpec("segment_cn", "float", False, "copy number of the segment"),
    ColumnSpec("log2_gene_cn_p1", "float", False, "log2(relative gene copy number + 1)"),
    ColumnSpec("gene_cn", "float", False, "relative gene copy number"),
    ColumnSpec("gene_cn_z", "float", False, "capped gene copy number z-scaled within group"),
    ColumnSpec("n_muts", "int", False, "mutations of the gene in the cell line"),
    ColumnSpec("any_deleterious", "bool", False, "any of those mutations is deleterious"),
    ColumnSpec("variant_classification", "str", False, "';'-joined variant classes"),
    ColumnSpec("is_deleterious", "str", False, "';'-joined TRUE/FALSE per mutation"),
    ColumnSpec("is_tcga_hotspot", "str", False, "';'-joined TRUE/FALSE per mutation"),
    ColumnSpec("is_cosmic_hotspot", "str", False, "';'-joined TRUE/FALSE per mutation"),
    ColumnSpec("mutated_at_guide_location", "bool", False, "a mutation lies under the guide"),
    ColumnSpec("is_mutated", "bool", False, "the gene carries a mutation in the cell line"),
    ColumnSpec("likely_gof", "bool", False, "a likely gain-of-function mutation (DepMap)"),
    ColumnSpec("driver", "bool", False, "a driver mutation (DepMap)"),
    ColumnSpec("rna_expr", "float", False, "expression, log2(TPM + 1)"),
    ColumnSpec("counts_initial", "float", False, "reference (pDNA / T0) read count"),
    ColumnSpec("counts_final", "float", False, "final read count"),
    ColumnSpec("library_size_initial", "float", False, "total reads of the reference sample"),
    ColumnSpec("library_size_final", "float", False, "total reads of the final sample"),
    ColumnSpec("screen_id", "str", False, "screen identifier"),
    ColumnSpec("library", "str", False, "guide library (Avana, KY, Brunello, …)"),
    ColumnSpec("days", "float", False, "days between reference and final sample"),
    ColumnSpec("condition", "str", False, "treatment condition of the replicate"),
)

COLUMN_BY_NAME: dict[str, ColumnSpec] = {c.name: c for c in COLUMNS}
REQUIRED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
CATEGORICAL: tuple[str, ...] = ("hugo_symbol", "depmap_id", "sgrna", "replicate_id", "pdna_batch", "lineage")
