"""From read counts to log2 fold changes: normalisation, pDNA references, guide filters.

Shared by the DepMap reader, the count-table reader and the simulator, so every path to a
long table computes LFC the same way:

``lfc = log2((final + p) / N_final) − log2((reference + p) / N_reference)``

with pseudocount ``p`` (0.5 reads), ``N`` the sample's total over the guides kept, and the
reference the summed initial (pDNA / T0) samples of the same ``pdna_batch``. When at least
``MIN_CONTROL_GUIDES`` negative-control guides are given, each replicate is shifted so its
control guides have median LFC 0; with fewer, screenfit warns and keeps total-count scaling.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from screenfit.errors import ScreenfitInputError

PSEUDOCOUNT = 0.5
MIN_CONTROL_GUIDES = 100
CONTROL_GENE_PATTERN = re.compile(
    r"^(non[-_ ]?target\w*|nt[-_]?ctrl|ntc|ctrl|control\w*|neg(ative)?[-_ ]?control\w*|"
    r"luciferase|luc|lacz|egfp|gfp|rfp|safe[-_ ]?target\w*|intergenic|no[-_ ]?gene|"
    r"cutting[-_ ]?control\w*|chr\d+promiscuous)$",
    re.IGNORECASE,
)


def is_control_gene(names: pd.Series) -> pd.Series:
    """Boolean mask of gene names that denote control guides (non-targeting, LacZ, EGFP …)."""
    text = names.astype("string").str.strip()
    return text.str.match(CONTROL_GENE_PATTERN).fillna(False).astype(bool)


def log2_fold_change(
    final: np.ndarray,
    final_total: np.ndarray,
    reference: np.ndarray,
    reference_total: np.ndarray,
    pseudocount: float = PSEUDOCOUNT,
) -> np.ndarray:
    """Vectorised LFC of normalised counts (see the module docstring)."""
    return np.log2((final + pseudocount) / final_total) - np.log2((reference + pseudocount) / reference_total)


@dataclass(frozen=True)
class FoldChangeOptions:
    """How counts become LFC.

    Attributes
    ----------
    pseudocount
        Added to every count before the log.
    min_reference_fraction
        A guide whose reference count in a batch is below this fraction of the batch's
        median reference count (or zero) is dropped for that batch: its LFC is noise.
    control_sgrnas
        Negative-control guides used to centre each replicate (optional).
    """

    pseudocount: float = PSEUDOCOUNT
    min_reference_fraction: float = 1.0 / 16.0
    control_sgrnas: tuple[str, ...] = ()


def _usable_reference(
    counts: pd.DataFrame, initial: pd.DataFrame, final: pd.DataFrame, options: FoldChangeOptions, notes: list[str],
    source: str,
) -> pd.DataFrame:  # fmt: skip
    """Guides × pDNA batches reference counts (a batch's initial samples summed), missing where the
    guide's count is too low to divide by; every final sample's batch must have one."""
    no_ref = sorted(set(final["pdna_batch"]) - set(initial["pdna_batch"]))
    if no_ref:
        bad = final.loc[final["pdna_batch"].isin(no_ref), "sample"].tolist()
        raise ScreenfitInputError(
            f"replicates in pDNA batch(es) {', '.join(map(str, no_ref))} have no reference "
            "(pDNA/T0) sample in the same batch",
            file=source,
            column="pdna_batch",
            rows=bad,
            fix="add the reference sample of that batch, or correct the replicates' pdna_batch.",
        )
    reference = counts[initial["sample"].tolist()].T.groupby(initial["pdna_batch"].to_numpy()).sum(min_count=1).T
    ref_missing = reference.isna()
    batch_median = reference.median(axis=0, skipna=True)
    low = reference.lt(batch_median * options.min_reference_fraction, axis=1) | (reference <= 0)
    dropped = low & ~ref_missing
    if dropped.to_numpy().any():
        per_batch = dropped.sum(axis=0)
        notes.append(
            "dropped guides with a reference count below "
            f"{options.min_reference_fraction:.3g} × the batch median: "
            + ", ".join(f"{b}: {int(n)}" for b, n in per_batch.items() if n)
        )
    return reference.mask(low | ref_missing)


def counts_to_long(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    guides: pd.DataFrame,
    options: FoldChangeOptions,
    source: str,
) -> tuple[pd.DataFrame, list[str]]:
    """Turn a guide × sample count matrix into the long screen table.

    Parameters
    ----------
    counts
        Rows indexed by ``sgrna``, one column per sample; NaN marks a missing count.
    samples
        One row per sample with ``sample``, ``condition`` ('initial' or 'final'),
        ``pdna_batch``, ``cell_line``, ``replicate`` and optional ``days``, ``passes_qc``,
        ``screen_id``, ``library``, ``treatment``.
    guides
        One row per sgRNA with ``sgrna``, ``hugo_symbol`` and optional annotation columns.
    options
        Fold-change options.
    source
        File name for error messages.

    Returns
    -------
    (table, notes)
        The long table (not yet validated) and what was dropped and why.
    """
    notes: list[str] = []
    initial = samples[samples["condition"] == "initial"]
    final = samples[samples["condition"] == "final"]
    usable_ref = _usable_reference(counts, initial, final, options, notes, source)

    final_counts = counts[final["sample"].tolist()]
    ref_for_final = usable_ref[final["pdna_batch"].to_numpy()]
    ref_for_final.columns = final_counts.columns
    keep = final_counts.notna() & ref_for_final.notna()
    n_nan = int(final_counts.isna().to_numpy().sum())
    if n_nan:
        notes.append(f"dropped {n_nan} observations with a missing final read count")
    final_total = final_counts.where(keep).sum(axis=0)
    ref_total = usable_ref.sum(axis=0)

    stacked = final_counts.where(keep).stack(future_stack=True).dropna()
    sg = stacked.index.get_level_values(0)
    smp = stacked.index.get_level_values(1)
    meta = final.set_index("sample").loc[smp]
    ref_vals = usable_ref.to_numpy()[
        usable_ref.index.get_indexer(sg), usable_ref.columns.get_indexer(meta["pdna_batch"])
    ]
    lfc = log2_fold_change(
        stacked.to_numpy(float),
        final_total.loc[smp].to_numpy(float),
        ref_vals,
        ref_total.loc[meta["pdna_batch"]].to_numpy(float),
        options.pseudocount,
    )
    long = pd.DataFrame(
        {
            "sgrna": np.asarray(sg, dtype=object),
            "replicate_id": np.asarray(smp, dtype=object),
            "depmap_id": meta["cell_line"].to_numpy(),
            "pdna_batch": meta["pdna_batch"].to_numpy(),
            "lfc": lfc,
            "counts_initial": ref_vals,
            "counts_final": stacked.to_numpy(float),
            "library_size_initial": ref_total.loc[meta["pdna_batch"]].to_numpy(float),
            "library_size_final": final_total.loc[smp].to_numpy(float),
        }
    )
    for col in ("passes_qc", "days", "screen_id", "library", "condition"):
        source_col = "treatment" if col == "condition" else col
        if source_col in meta.columns:
            long[col] = meta[source_col].to_numpy()
    long = long.merge(guides, on="sgrna", how="left", validate="many_to_one")
    long = _centre_on_controls(long, options, notes)
    return long, notes


def _centre_on_controls(long: pd.DataFrame, options: FoldChangeOptions, notes: list[str]) -> pd.DataFrame:
    controls = set(options.control_sgrnas)
    if not controls:
        return long
    present = long["sgrna"].isin(controls)
    n_guides = long.loc[present, "sgrna"].nunique()
    if n_guides < MIN_CONTROL_GUIDES:
        message = (
            f"only {n_guides} negative-control guides found (need ≥ {MIN_CONTROL_GUIDES} for a "
            "stable median); kept total-count normalisation"
        )
        warnings.warn(message, stacklevel=3)
        notes.append(message)
        return long
    shift = long.loc[present].groupby("replicate_id")["lfc"].median()
    long["lfc"] = long["lfc"] - long["replicate_id"].map(shift).fillna(0.0).to_numpy()
    notes.append(f"centred each replicate on the median LFC of {n_guides} negative-control guides")
    return long
