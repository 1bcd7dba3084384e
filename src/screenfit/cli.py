"""The screenfit command line: a thin typer layer over the Python API.

Exit codes: 0 done; 1 user error (message names file, column, rows and the fix; no
traceback); 2 a fit was written but failed its convergence gate; anything else is a bug.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from screenfit.errors import ScreenfitInputError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Bayesian hierarchical models for CRISPR screens.")
ingest_app = typer.Typer(no_args_is_help=True, help="Read screen data into a validated Parquet table.")
app.add_typer(ingest_app, name="ingest")

Force = Annotated[bool, typer.Option("--force", help="Replace an existing output.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or notes.")]


def _err() -> Console:
    return Console(stderr=True)


def _print_notes(notes: tuple[str, ...] | list[str], quiet: bool) -> None:
    if quiet:
        return
    console = _err()
    for note in notes:
        console.print(f"[dim]•[/dim] {note}", highlight=False)


def _done(message: str) -> None:
    Console().print(message, highlight=False)


def _progress(quiet: bool) -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=_err(), disable=quiet,
    )  # fmt: skip


def _write_screen(screen: object, out: Path, force: bool, quiet: bool) -> None:
    from screenfit.io.tables import write_screen

    written = write_screen(screen, out, force=force)  # type: ignore[arg-type]
    _print_notes(screen.notes, quiet)  # type: ignore[attr-defined]
    summary = screen.summary()  # type: ignore[attr-defined]
    _done(
        f"Wrote {summary['rows']:,} rows ({summary['genes']} genes, {summary['cell_lines']} cell lines, "
        f"{summary['replicates']} replicates) to {', '.join(map(str, written))}"
    )


@ingest_app.command("table")
def ingest_table(
    path: Annotated[Path, typer.Argument(help="Long table, CSV/TSV or Parquet (the seed's format).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet file.")],
    sep: Annotated[str | None, typer.Option(help="Field separator of a text file.")] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Validate a long screen table (one row per sgRNA × replicate) and write it as Parquet."""
    from screenfit.io.tables import read_long_table

    _write_screen(read_long_table(path, sep=sep), out, force, quiet)


@ingest_app.command("depmap")
def ingest_depmap(
    folder: Annotated[Path, typer.Argument(help="DepMap release folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet file.")],
    library: Annotated[str, typer.Option(help="Library: Avana, KY, … (file-name prefix).")] = "Avana",
    drop_multi_aligned: Annotated[bool, typer.Option(help="Drop guides that align to several loci.")] = False,
    keep_failed_replicates: Annotated[bool, typer.Option(help="Keep replicates failing DepMap QC.")] = False,
    allow_missing_guides: Annotated[bool, typer.Option(help="Skip guide-map guides absent from counts.")] = False,
    controls: Annotated[Path | None, typer.Option(help="CSV of negative-control sgRNAs (first column).")] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Read a DepMap release (read counts, sequence map, guide map, Omics) into a long table."""
    from screenfit.io.depmap import read_depmap
    from screenfit.io.tables import read_frame

    control_ids: tuple[str, ...] = ()
    if controls is not None:
        frame = read_frame(controls)
        control_ids = tuple(frame.iloc[:, 0].astype(str))
    screen = read_depmap(
        folder, library, drop_multi_aligned=drop_multi_aligned, keep_failed_replicates=keep_failed_replicates,
        allow_missing_guides=allow_missing_guides, control_sgrnas=control_ids,
    )  # fmt: skip
    _write_screen(screen, out, force, quiet)


@ingest_app.command("counts")
def ingest_counts(
    counts: Annotated[Path, typer.Argument(help="Count table: guide ID, gene, one column per sample.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet file.")],
    sheet: Annotated[Path | None, typer.Option(help="Sample sheet CSV.")] = None,
    bundled_sheet: Annotated[str | None, typer.Option(help="Name of a sample sheet shipped with screenfit.")] = None,
    sgrna_col: Annotated[str | None, typer.Option(help="Guide ID column (detected if omitted).")] = None,
    gene_col: Annotated[str | None, typer.Option(help="Gene column (detected if omitted).")] = None,
    sep: Annotated[str | None, typer.Option(help="Field separator.")] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Read a MAGeCK/BAGEL-style count table with its sample sheet into a long table."""
    from screenfit.io import counts as counts_io

    if (sheet is None) == (bundled_sheet is None):
        raise ScreenfitInputError(
            "give exactly one of --sheet or --bundled-sheet.", fix="see `screenfit ingest counts --help`."
        )
    sheet_path = sheet if sheet is not None else counts_io.bundled_sheet(str(bundled_sheet))
    screen = counts_io.read_count_table(counts, sheet_path, sgrna_col=sgrna_col, gene_col=gene_col, sep=sep)
    _write_screen(screen, out, force, quiet)


def _load(path: Path) -> object:
    from screenfit.io.tables import read_long_table

    return read_long_table(path)


@app.command()
def qc(
    screen: Annotated[Path, typer.Argument(help="Screen table written by `screenfit ingest`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    essential: Annotated[str | None, typer.Option(help="Essential gene list file (default Hart CEGv2).")] = None,
    nonessential: Annotated[str | None, typer.Option(help="Non-essential gene list file (default NEGv1).")] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """NNMD, AUROC, replicate correlation and depth per replicate and cell line; flags failures."""
    from screenfit.jobs import write_qc
    from screenfit.reference import load_gene_set

    result = write_qc(
        _load(screen), out,  # type: ignore[arg-type]
        load_gene_set(essential) if essential else None,
        load_gene_set(nonessential) if nonessential else None,
        force=force,
    )  # fmt: skip
    s = result.summary()
    table = Table(title="QC summary", show_header=False)
    for key, value in s.items():
        table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    if not quiet:
        _err().print(table)
    _done(f"Wrote QC tables and qc.png to {out}")


@app.command()
def eda(
    screen: Annotated[Path, typer.Argument(help="Screen table written by `screenfit ingest`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the PNGs.")],
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """The seed notebook's exploratory figures plus per-replicate LFC and count distributions."""
    from screenfit.plots.eda import write_eda

    figs = write_eda(_load(screen), out, force=force)  # type: ignore[arg-type]
    _print_notes([f"skipped {k}: {v}" for k, v in figs.skipped.items()], quiet)
    _done(f"Wrote {len(figs.written)} figures to {out}")


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    genes: Annotated[int, typer.Option(help="Number of genes.")] = 26,
    cell_lines: Annotated[int, typer.Option(help="Number of cell lines.")] = 300,
    guides: Annotated[int, typer.Option(help="Guides per gene.")] = 4,
    replicates: Annotated[int, typer.Option(help="Replicates per cell line.")] = 2,
    lineages: Annotated[int, typer.Option(help="Number of lineages.")] = 6,
    batches: Annotated[int, typer.Option(help="Number of pDNA batches.")] = 2,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    counts: Annotated[bool, typer.Option(help="Also write DepMap-format count files.")] = True,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Simulate a DepMap-like screen with known truth (long table, truth, DepMap count files)."""
    from screenfit.simulate import SimulationConfig, write_simulation

    cfg = SimulationConfig(
        n_genes=genes, n_cell_lines=cell_lines, n_guides=guides, n_replicates=replicates,
        n_lineages=lineages, n_pdna_batches=batches, seed=seed,
    )  # fmt: skip
    with _progress(quiet) as bar:
        task = bar.add_task("simulating", total=None)
        write_simulation(
            cfg,
            out,
            write_counts=counts,
            force=force,
            progress=lambda i, n: bar.update(task, completed=i, total=n),
        )
    _done(f"Wrote the simulated screen to {out} (screen.parquet, truth/, {'depmap/' if counts else 'no count files'})")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("demo_output"),
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Run the main job end to end on the bundled DepMap Avana sample and say where results are."""
    from screenfit.jobs import run_demo

    with _progress(quiet) as bar:
        bar.add_task("ingest → QC → EDA on the bundled Avana sample", total=None)
        result = run_demo(out, force=force)
    s = result.qc.summary()
    _done(
        f"Demo done. Screen: {result.screen}\n"
        f"QC: {out / 'qc'} (median per-line AUROC {s['median_auroc']:.3f}, "
        f"{s['failed_cell_lines']} failing lines)\nEDA figures: {out / 'eda'}"
    )


def main() -> None:
    """Console entry point: user errors become one paragraph on stderr and exit code 1."""
    try:
        app()
    except ScreenfitInputError as err:
        _err().print(f"[bold red]error:[/bold red] {err.message}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
