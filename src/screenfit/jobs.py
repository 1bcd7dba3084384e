"""End-to-end jobs behind the CLI verbs: each is one call that writes one output folder.

The CLI only parses arguments, shows progress and prints where results went; everything it
does is one of these functions (or a reader) in Python.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from screenfit.data.proximity import ProximityCorrection, ProximitySettings, correct_proximity_bias
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError
from screenfit.io.atomic import atomic_path, check_writable
from screenfit.io.depmap import read_depmap
from screenfit.io.tables import write_table
from screenfit.plots.eda import EDAFigures, write_eda
from screenfit.plots.figures import save_png
from screenfit.plots.qc import qc_figure
from screenfit.qc import QCResult, QCThresholds, run_qc
from screenfit.results.comparison import Comparison


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
    report: Path
    preset: str | None = None
    notes: list[str] | None = None


DEMO_BASELINE = "gene-cellline"
"""The simpler model the demo also fits (gene effects and a line offset), so the report compares the two."""


def passing_lines_only(screen: Screen, qc: QCResult) -> Screen:
    """The screen without the cell lines that fail QC, named in a note (the screen itself when all pass)."""
    lines = qc.cell_lines
    failing = sorted(lines.loc[~lines["passes"], "depmap_id"].astype(str))
    if not failing:
        return screen
    kept = screen.table[~screen.table["depmap_id"].astype(str).isin(failing)]
    return screen.with_table(kept, f"left out {len(failing)} cell line(s) that fail QC: {', '.join(failing)}")


def run_demo(out: Path, force: bool = False, progress: bool = True, keep_failing: bool = False) -> DemoResult:
    """Ingest the bundled Avana sample, run QC and EDA, fit the default preset and a simpler model,
    plot, compare and report.

    Lines that fail QC are left out of the fits (with a note) unless ``keep_failing``. ``fit/``
    holds the preset chosen for the screen (the demo's main fit, with the DepMap-layout
    ``CRISPRGeneEffect.csv``), ``fit_baseline/`` gene-cellline; ``report.html`` compares them.
    Everything lands under the folder ``out``, written atomically as one folder.
    """
    from screenfit.fitting import fit
    from screenfit.plots.catalogue import write_fit_plots
    from screenfit.report import read_qc_folder, write_report

    screen = load_example()
    with atomic_path(out, force=force) as tmp:
        tmp.mkdir()
        write_table(screen.table, tmp / "screen.parquet", metadata={"notes": list(screen.notes)})
        qc = write_qc(screen, tmp / "qc")
        eda = write_eda(screen, tmp / "eda")
        fitted = screen if keep_failing else passing_lines_only(screen, qc)
        result = fit(fitted, out=tmp / "fit", progress=progress)
        baseline = fit(fitted, DEMO_BASELINE, out=tmp / "fit_baseline", progress=progress)
        write_fit_plots(result, tmp / "fit_plots")
        write_report([result, baseline], tmp / "report.html", qc=read_qc_folder(tmp / "qc"),
                     title="screenfit demo: DepMap Avana sample")  # fmt: skip
    eda = EDAFigures({k: out / "eda" / v.name for k, v in eda.written.items()}, eda.skipped)
    top = result.gene_effects.sort_values("mean")["hugo_symbol"].astype(str).head(10).tolist()
    notes = [n for n in fitted.notes if n not in screen.notes] + result.notes
    return DemoResult(out, out / "screen.parquet", qc, eda, out / "fit", result.status, top, out / "report.html",
                      result.preset, notes)  # fmt: skip


def write_comparison(
    fit_dirs: list[Path],
    out: Path,
    kfold: int | None = None,
    data: Path | None = None,
    force: bool = False,
    progress: bool = True,
) -> Comparison:
    """Compare fits (PSIS-LOO, or K-fold by cell line) and write ``comparison.*``, the plot and the notes.

    K-fold refits each fit's model (with its options and sampler) on the screen ``data``, which
    must be the one the fits were made on.
    """
    from screenfit.inference.samplers import SamplerConfig
    from screenfit.io.fit_folder import load_fit
    from screenfit.io.tables import read_long_table
    from screenfit.kfold import compare_kfold
    from screenfit.models.base import ModelOptions
    from screenfit.plots.checks import compare_figure
    from screenfit.results.comparison import check_comparable, compare_fits

    fits = [load_fit(d) for d in fit_dirs]
    check_comparable(fits)
    check_writable(out, force)
    if kfold is None:
        comparison = compare_fits(fits)
    else:
        if data is None:
            raise ScreenfitInputError("--kfold refits the models and needs the screen.", fix="pass --data SCREEN.")
        screen = read_long_table(data)
        if screen.content_hash() != fits[0].config["data_hash"]:
            raise ScreenfitInputError(
                "this screen is not the one the fits were made on (its content hash differs).",
                file=data,
                fix="pass the screen file given to `screenfit fit` (with the same filters).",
            )
        options = {f.model: ModelOptions(**f.config["options"]) for f in fits}  # type: ignore[arg-type]
        samplers = {f.model: SamplerConfig(**f.config["sampler"]) for f in fits}  # type: ignore[arg-type]
        comparison = compare_kfold(screen, [f.model for f in fits], kfold, options, samplers, progress=progress)
    meta = {"method": comparison.method, "fits": [str(d) for d in fit_dirs]}
    with atomic_path(out, force=force) as tmp:
        tmp.mkdir()
        write_table(comparison.table, tmp / "comparison.parquet", metadata=meta)
        save_png(compare_figure(comparison), tmp / "comparison.png")
        (tmp / "comparison_notes.txt").write_text("\n\n".join(comparison.messages) + "\n")
    return comparison


def segments_path(out: Path) -> Path:
    """Where ``screenfit correct --out SCREEN.parquet`` writes its segments: ``SCREEN_segments.parquet``."""
    out = Path(out).with_suffix(".parquet")
    return out.with_name(f"{out.stem}_segments.parquet")


def write_proximity_correction(
    screen: Screen,
    out: Path,
    positions: Path | None = None,
    in_genome_order: bool = False,
    settings: ProximitySettings | None = None,
    force: bool = False,
) -> tuple[ProximityCorrection, list[Path]]:
    """Correct a screen for proximity bias and write it (``out``) with its segments beside it.

    Every output's path is checked before anything is written, so an existing file stops the
    job without leaving one of the two tables replaced.
    """
    from screenfit.io.positions import read_positions
    from screenfit.io.tables import write_screen

    table = read_positions(positions, in_genome_order=in_genome_order) if positions is not None else None
    result = correct_proximity_bias(screen, table, settings)
    seg_path = segments_path(out)
    for path in (Path(out).with_suffix(".parquet"), seg_path):
        check_writable(path, force)
        check_writable(path.with_suffix(".csv"), force)
    meta = {"settings": asdict(settings or ProximitySettings()), "positions": str(positions), "source": screen.source}
    written = write_table(result.segments, seg_path, metadata=meta, force=force)
    return result, write_screen(result.screen, out, force=force) + written
