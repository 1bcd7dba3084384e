"""QC figure: per cell line AUROC and NNMD, with thresholds and failing lines marked."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from screenfit.plots.figures import new_figure
from screenfit.qc import QCResult


def qc_figure(result: QCResult) -> Figure:
    """Two panels: AUROC vs NNMD per replicate (failures in red), and read depth per replicate."""
    reps = result.replicates
    has_depth = "total_reads" in reps.columns
    fig = new_figure(11.0 if has_depth else 6.0, 4.5)
    ax = fig.add_subplot(1, 2 if has_depth else 1, 1)
    ok = reps["passes"].to_numpy(dtype=bool)
    ax.scatter(reps.loc[ok, "nnmd"], reps.loc[ok, "auroc"], s=14, label="passes")
    ax.scatter(reps.loc[~ok, "nnmd"], reps.loc[~ok, "auroc"], s=18, color="crimson", label="fails")
    ax.axvline(result.thresholds.max_nnmd, color="grey", ls="--", lw=0.8)
    ax.axhline(result.thresholds.min_auroc, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("NNMD (essential vs non-essential)")
    ax.set_ylabel("AUROC (essential vs non-essential)")
    ax.set_title(f"QC per replicate (median line AUROC {np.nanmedian(result.cell_lines['auroc']):.3f})")
    ax.legend(loc="lower left")
    if has_depth:
        ax2 = fig.add_subplot(1, 2, 2)
        order = reps.sort_values("total_reads")
        ax2.bar(np.arange(len(order)), order["total_reads"] / 1e6,
                color=np.where(order["passes"], "tab:blue", "crimson"))  # fmt: skip
        ax2.set_xlabel("replicates, sorted")
        ax2.set_ylabel("total final reads (millions)")
        ax2.set_title("Read depth")
    return fig
