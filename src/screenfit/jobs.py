"""End-to-end jobs behind the CLI verbs: each is one call that writes one output folder.

The CLI only parses arguments, shows progress and prints where results went; everything it
does is one of these functions (or a reader) in Python.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from screenfit.data.screen import Screen
from screenfit.io.atomic import atomic_path
from screenfit.io.depmap import read_depmap
from screenfit.io.tables import write_table
from screenfit.plots.eda import EDAFigures, write_eda
from screenfit.plots.figures import save_png
from screenfit.plots.qc import qc_figure
from screenfit.qc import QCResult, QCThresholds, run_qc


def write_qc(
    screen: Screen,
    out: Path,
    essential: list[str] | None = None,
    nonessential: list[str] | None = None,
    thresholds: QCThresholds | None = None,
    force: bool = False,
) -> QCResult:
    """Run QC and write ``qc_replicates.*``, ``qc_cell_lines.*``, ``qc.png`` and ``qc_summary.json``."""
    result = run_qc(screen, essential, nonessential, thresholds)
    meta = {"thresholds": asdict(result.thresholds), "source": screen.source}
    with atomic_path(out, force=force) as tmp:
        tmp.mkdir()
        write_table(result.replicates, tmp / "qc_replicates.parquet", metadata=meta)
        write_table(result.cell_lines, tmp / "qc_cell_lines.parquet", metadata=meta)
        save_png(qc_figure(result), tmp / "qc.png")
        summary = {**result.summary(), "thresholds": asdict(result.thresholds), "source": screen.source}
        (tmp / "qc_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return result


def bundled_example_folder() -> Path:
    """Folder of the bundled DepMap Avana sub-sample."""
    return Path(str(resources.files("screenfit.resources.examples").joinpath("depmap_avana")))


def load_example() -> Screen:
    """The bundled DepMap Avana sub-sample as a validated screen."""
    return read_depmap(bundled_example_folder(), "Avana")


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its outputs, and the fit's status and strongest dependencies."""

    out: Path
    screen: Path
    qc: QCResult
    eda: EDAFigures
    fit_dir: Path
    fit_status: str
    top_genes: list[str]


DEMO_MODEL = "copy-number"


def run_demo(out: Path, force: bool = False, progress: bool = True) -> DemoResult:
    """Ingest the bundled Avana sample, run QC and EDA, fit the copy-number model, plot it.

    Everything lands under the folder ``out``, written atomically as one folder.
    """
    from screenfit.fitting import fit
    from screenfit.plots.posterior import write_fit_plots

    screen = load_example()
    with atomic_path(out, force=force) as tmp:
        tmp.mkdir()
        write_table(screen.table, tmp / "screen.parquet", metadata={"notes": list(screen.notes)})
        qc = write_qc(screen, tmp / "qc")
        eda = write_eda(screen, tmp / "eda")
        result = fit(screen, DEMO_MODEL, out=tmp / "fit", progress=progress)
        write_fit_plots(result, tmp / "fit_plots")
    eda = EDAFigures({k: out / "eda" / v.name for k, v in eda.written.items()}, eda.skipped)
    top = result.gene_effects.sort_values("mean")["hugo_symbol"].astype(str).head(10).tolist()
    return DemoResult(out, out / "screen.parquet", qc, eda, out / "fit", result.status, top)
