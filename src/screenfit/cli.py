"""The screenfit command line: a thin typer layer over the Python API.

Exit codes: 0 done; 1 user error (message names file, column, rows and the fix; no
traceback); 2 a fit was written but failed its convergence gate; anything else is a bug.
"""

from __future__ import annotations

import atexit
import errno
import gc
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

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
from typer.core import TyperGroup

from screenfit.errors import ScreenfitInputError
from screenfit.inference.memory import configure_process_memory

if TYPE_CHECKING:
    from screenfit.data.screen import Screen


class _UserErrorsExit1(TyperGroup):
    """Turns a ScreenfitInputError from any command, or a full disk, into one paragraph on stderr and exit code 1."""

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except ScreenfitInputError as err:
            _err().print(f"[bold red]error:[/bold red] {err.message}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            where = f" writing {err.filename}" if err.filename else ""
            _err().print(
                f"[bold red]error:[/bold red] no space left on the disk{where} ({err.strerror}). Results are written "
                "atomically, so none was left half-written. Fix: free space, or point --out and SCREENFIT_CACHE_DIR "
                "(where large draws are streamed) at a disk with room, and run the command again.",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_UserErrorsExit1, add_completion=False, no_args_is_help=True,
    help="Bayesian hierarchical models for CRISPR screens.",
)  # fmt: skip
ingest_app = typer.Typer(no_args_is_help=True, help="Read screen data into a validated Parquet table.")
app.add_typer(ingest_app, name="ingest")

Force = Annotated[bool, typer.Option("--force", help="Replace an existing output.")]
Annotations = Annotated[
    Path | None,
    typer.Option(help="Cell-line annotations: DepMap Model.csv (or sample_info.csv) for lineage and subtype."),
]
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
    Console().print(message, highlight=False, soft_wrap=True)


def _progress(quiet: bool) -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=_err(), disable=quiet,
    )  # fmt: skip


def _write_screen(screen: Screen, out: Path, force: bool, quiet: bool) -> None:
    from screenfit.io.tables import write_screen

    written = write_screen(screen, out, force=force)
    _print_notes(screen.notes, quiet)
    summary = screen.summary()
    _done(
        f"Wrote {summary['rows']:,} rows ({summary['genes']} genes, {summary['cell_lines']} cell lines, "
        f"{summary['replicates']} replicates) to {', '.join(map(str, written))}"
    )


@ingest_app.command("table")
def ingest_table(
    path: Annotated[Path, typer.Argument(help="Long table, CSV/TSV or Parquet (the seed's format).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet file.")],
    sep: Annotated[str | None, typer.Option(help="Field separator of a text file.")] = None,
    annotations: Annotations = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Validate a long screen table (one row per sgRNA × replicate) and write it as Parquet."""
    from screenfit.io.annotations import read_annotated
    from screenfit.io.tables import read_long_table

    _write_screen(read_annotated(read_long_table(path, sep=sep), annotations), out, force, quiet)


@ingest_app.command("depmap")
def ingest_depmap(
    folder: Annotated[Path, typer.Argument(help="DepMap release folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet file.")],
    library: Annotated[
        str,
        typer.Option(help="Library: Avana, KY, … (file-name prefix); several, comma-separated, for a joint screen."),
    ] = "Avana",
    drop_multi_aligned: Annotated[bool, typer.Option(help="Drop guides that align to several loci.")] = False,
    keep_failed_replicates: Annotated[bool, typer.Option(help="Keep replicates failing DepMap QC.")] = False,
    allow_missing_guides: Annotated[bool, typer.Option(help="Skip guide-map guides absent from counts.")] = False,
    controls: Annotated[Path | None, typer.Option(help="CSV of negative-control sgRNAs (first column).")] = None,
    annotations: Annotated[
        Path | None, typer.Option(help="Cell-line annotations (default: the folder's Model.csv, if any).")
    ] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Read a DepMap release (read counts, sequence map, guide map, Omics, Model.csv) into a long table."""
    from screenfit.io.annotations import read_annotated
    from screenfit.io.depmap import read_depmap_libraries
    from screenfit.io.tables import read_frame

    control_ids: tuple[str, ...] = ()
    if controls is not None:
        frame = read_frame(controls)
        control_ids = tuple(frame.iloc[:, 0].astype(str))
    libraries = [lib.strip() for lib in library.split(",") if lib.strip()]
    screen = read_depmap_libraries(
        folder, libraries, drop_multi_aligned=drop_multi_aligned, keep_failed_replicates=keep_failed_replicates,
        allow_missing_guides=allow_missing_guides, control_sgrnas=control_ids,
    )  # fmt: skip
    _write_screen(read_annotated(screen, annotations), out, force, quiet)


@ingest_app.command("counts")
def ingest_counts(
    counts: Annotated[Path, typer.Argument(help="Count table: guide ID, gene, one column per sample.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet file.")],
    sheet: Annotated[Path | None, typer.Option(help="Sample sheet CSV.")] = None,
    bundled_sheet: Annotated[str | None, typer.Option(help="Name of a sample sheet shipped with screenfit.")] = None,
    sgrna_col: Annotated[str | None, typer.Option(help="Guide ID column (detected if omitted).")] = None,
    gene_col: Annotated[str | None, typer.Option(help="Gene column (detected if omitted).")] = None,
    sep: Annotated[str | None, typer.Option(help="Field separator.")] = None,
    annotations: Annotations = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Read a MAGeCK/BAGEL-style count table with its sample sheet into a long table."""
    from screenfit.io import counts as counts_io
    from screenfit.io.annotations import read_annotated

    if (sheet is None) == (bundled_sheet is None):
        raise ScreenfitInputError(
            "give exactly one of --sheet or --bundled-sheet.", fix="see `screenfit ingest counts --help`."
        )
    sheet_path = sheet if sheet is not None else counts_io.bundled_sheet(str(bundled_sheet))
    screen = counts_io.read_count_table(counts, sheet_path, sgrna_col=sgrna_col, gene_col=gene_col, sep=sep)
    _write_screen(read_annotated(screen, annotations), out, force, quiet)


def _load(path: Path) -> Screen:
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
        _load(screen), out,
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

    figs = write_eda(_load(screen), out, force=force)
    _print_notes([f"skipped {k}: {v}" for k, v in figs.skipped.items()], quiet)
    _done(f"Wrote {len(figs.written)} figures to {out}")


@app.command()
def correct(
    screen: Annotated[Path, typer.Argument(help="Screen table written by `screenfit ingest`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet file (segments go to OUT_segments.*).")],
    positions: Annotated[
        Path | None,
        typer.Option(help="Guide or gene positions: sgrna or gene, chromosome, start (default: the screen's own)."),
    ] = None,
    in_genome_order: Annotated[
        bool, typer.Option(help="The positions file has no coordinates but its rows run along the genome.")
    ] = False,
    penalty: Annotated[float, typer.Option(help="Segmentation penalty (× σ² log n); larger, fewer segments.")] = 4.0,
    min_genes: Annotated[int, typer.Option(help="Shift only segments spanning at least this many genes.")] = 3,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Correct guide LFC for proximity bias along the genome (CRISPRcleanR-style; no copy number needed)."""
    from screenfit.data.proximity import ProximitySettings
    from screenfit.jobs import write_proximity_correction

    settings = ProximitySettings(penalty=penalty, min_genes=min_genes)
    result, written = write_proximity_correction(
        _load(screen), out, positions, in_genome_order=in_genome_order, settings=settings, force=force
    )
    _print_notes(result.screen.notes[-1:], quiet)
    _done(f"Wrote the corrected screen and its segments to {', '.join(map(str, written))}")


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    genes: Annotated[int, typer.Option(help="Number of genes.")] = 26,
    cell_lines: Annotated[int, typer.Option(help="Number of cell lines.")] = 300,
    guides: Annotated[int, typer.Option(help="Guides per gene.")] = 4,
    replicates: Annotated[int, typer.Option(help="Replicates per cell line.")] = 2,
    lineages: Annotated[int, typer.Option(help="Number of lineages.")] = 6,
    batches: Annotated[int, typer.Option(help="Number of pDNA batches.")] = 2,
    time_points: Annotated[
        str, typer.Option(help="Days each replicate is read, comma-separated (a time course: 7,14,21).")
    ] = "21",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    counts: Annotated[bool, typer.Option(help="Also write DepMap-format count files.")] = True,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Simulate a DepMap-like screen with known truth (long table, truth, DepMap count files)."""
    from screenfit.simulate import SimulationConfig, write_simulation

    try:
        days = tuple(float(d) for d in time_points.split(","))
    except ValueError:
        raise ScreenfitInputError(
            f"--time-points must be comma-separated days, got '{time_points}'.", fix="pass e.g. 7,14,21."
        ) from None
    cfg = SimulationConfig(
        n_genes=genes, n_cell_lines=cell_lines, n_guides=guides, n_replicates=replicates,
        n_lineages=lineages, n_pdna_batches=batches, time_points=days, seed=seed,
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
def models() -> None:
    """List the registered models."""
    from screenfit.models.registry import MODELS

    table = Table(title="screenfit models (docs/models.md has the equations)")
    for col in ("name", "data", "description"):
        table.add_column(col)
    for name, cls in MODELS.items():
        table.add_row(name, cls.observed, cls.title)
    Console().print(table)


def _learn_or_number(text: str, option: str, what: str, positive: bool, fix: str) -> float | None:
    """An option that takes a number or ``learn`` (``None``): the number, which must be ≥ 0, or
    > 0 with ``positive``; else a :class:`ScreenfitInputError` naming ``option`` and ``what``."""
    if text.strip().lower() == "learn":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value > 0 if positive else value >= 0):
        raise ScreenfitInputError(f"{option} must be {what} or 'learn', got '{text}'.", fix=fix)
    return value


def _guide_offset_nu(text: str | None) -> float | Literal["learn"] | None:
    """``--guide-offset-nu``: degrees of freedom, or ``learn``; ``None`` (Gaussian offsets) when not given."""
    if text is None:
        return None
    value = _learn_or_number(text, "--guide-offset-nu", "a number of degrees of freedom > 0", True,
                             "pass e.g. 3 or learn, or leave it out for Gaussian offsets.")  # fmt: skip
    return "learn" if value is None else value


def _screen_delay(text: str) -> float | None:
    """``--screen-delay``: a number of days, or ``learn`` (``None``)."""
    return _learn_or_number(text, "--screen-delay", "a number of days ≥ 0", False, "pass e.g. 3 or learn.")


@app.command()
def fit(
    screen: Annotated[Path, typer.Argument(help="Screen table written by `screenfit ingest` (or `simulate`).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (`screenfit models`).")] = "gene-cellline",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (also the cache).")] = Path("fit"),
    sampler: Annotated[
        str, typer.Option(help="nutpie, pymc, numpyro, blackjax, svi, advi, fullrank_advi, map.")
    ] = "nutpie",
    draws: Annotated[int | None, typer.Option(help="Draws per chain (default: the model's recommendation).")] = None,
    tune: Annotated[
        int | None, typer.Option(help="Tuning steps per chain (default: nutpie 400, 800 low-rank; others 1000).")
    ] = None,
    chains: Annotated[int, typer.Option(help="Chains.")] = 4,
    cores: Annotated[int | None, typer.Option(help="Chains run in parallel (default: min(chains, 2)).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    mass_matrix: Annotated[
        str, typer.Option(help="nutpie mass matrix: auto (the model's choice), diag or low_rank.")
    ] = "auto",
    covariate: Annotated[
        str | None, typer.Option(help="Cell-line feature for per-gene slopes (e.g. is_mutated).")
    ] = None,
    reference_condition: Annotated[
        str | None, typer.Option(help="condition model: the reference arm (default: vehicle/control/DMSO…).")
    ] = None,
    min_difference: Annotated[
        float, typer.Option(help="condition model: smallest difference in LFC that counts in lfdr and q-values.")
    ] = 0.1,
    guide_offsets: Annotated[
        bool, typer.Option(help="Offset per guide × pDNA batch (the shared error of the reference count).")
    ] = False,
    guide_efficacy: Annotated[
        bool,
        typer.Option(help="gene-by-line: efficacy per guide scaling its effect (duds); effects per full knockout."),
    ] = False,
    cn_column: Annotated[
        str,
        typer.Option(help="Copy-number covariate: gene_cn_z (log, z-scaled), cn_excess (min(CN, 10) − 1) or a column."),
    ] = "gene_cn_z",
    guide_noise: Annotated[
        bool, typer.Option(help="Noise scale per guide (guides with few reference reads are noisier).")
    ] = False,
    cn_efficacy: Annotated[
        bool,
        typer.Option(help="--guide-efficacy: the copy-number term scales with each guide's efficacy (cutting)."),
    ] = False,
    guide_offset_nu: Annotated[
        str | None,
        typer.Option(
            help="--guide-offsets: Student-t offsets with these degrees of freedom (e.g. 3), or 'learn' them; "
            "not Gaussian."
        ),
    ] = None,
    time_course: Annotated[
        bool,
        typer.Option(help="gene-by-line: effects grow with days after a screen delay (time courses, 14 vs 21 days)."),
    ] = False,
    screen_delay: Annotated[
        str, typer.Option(help="--time-course: days before a knockout acts, or 'learn' (needs several time points).")
    ] = "3",
    reference_days: Annotated[
        float, typer.Option(help="--time-course: the screen length whose effects are reported.")
    ] = 21.0,
    collapse_gene_line: Annotated[
        bool | None,
        typer.Option(
            "--collapse-gene-line/--no-collapse-gene-line",
            help="gene-by-line: integrate the gene × line effects out of the likelihood (same posterior; "
            "default: on for --sampler svi).",
        ),
    ] = None,
    genes: Annotated[int | None, typer.Option(help="Deterministic sub-sample of genes.")] = None,
    cell_lines: Annotated[int | None, typer.Option(help="Deterministic sub-sample of cell lines.")] = None,
    annotated_lines_only: Annotated[
        bool, typer.Option(help="Leave out cell lines without a lineage (models that pool by lineage need one).")
    ] = False,
    full_likelihood: Annotated[bool, typer.Option(help="Evaluate every row instead of sufficient statistics.")] = False,
    stream: Annotated[
        bool,
        typer.Option(help="Read a Parquet screen in batches into gene × line statistics (screens too big for memory)."),
    ] = False,
    ci_prob: Annotated[float, typer.Option(help="Probability of the HDI columns.")] = 0.94,
    log_likelihood: Annotated[
        bool | None,
        typer.Option(
            "--log-likelihood/--no-log-likelihood",
            help="Store the pointwise log-likelihood (for `screenfit compare`); default: when the posterior "
            "with it stays under 50 M values.",
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(help="Two-stage sharded fit on Dask: local:N, tcp://SCHEDULER:PORT or slurm:CONFIG.yaml."),
    ] = None,
    chunk_genes: Annotated[int | None, typer.Option(help="Genes per stage-2 chunk (default: from memory).")] = None,
    stage1_genes: Annotated[int, typer.Option(help="Genes in stage 1 of a sharded fit.")] = 200,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Fit a model; writes posterior.nc, tables, config, provenance and diagnostics to --out.

    With --cluster the fit runs in two stages (docs/distributed.md): the shared cell-line
    parameters on a gene subset, then chunks of genes in parallel on a Dask cluster.
    Exit code 2 when the fit was written but failed its convergence gate.
    """
    from screenfit.data import preprocess
    from screenfit.data.screen import Screen
    from screenfit.data.stream import StreamedScreen, stream_design
    from screenfit.fitting import fit as run_fit
    from screenfit.inference.samplers import SamplerConfig
    from screenfit.models.base import ModelOptions
    from screenfit.models.registry import get_model

    options = ModelOptions(
        covariate=covariate, cn_column=cn_column, reference_condition=reference_condition,
        min_difference=min_difference, guide_offsets=guide_offsets, guide_efficacy=guide_efficacy,
        guide_noise=guide_noise, guide_offset_nu=_guide_offset_nu(guide_offset_nu), cn_efficacy=cn_efficacy,
        time_course=time_course,
        screen_delay=_screen_delay(screen_delay), reference_days=reference_days, collapse_gene_line=collapse_gene_line,
    )  # fmt: skip
    data: Screen | StreamedScreen
    if stream:
        clashing = [name for name, on in (("--genes", genes is not None), ("--cell-lines", cell_lines is not None),
                    ("--annotated-lines-only", annotated_lines_only), ("--cluster", cluster is not None),
                    ("--full-likelihood", full_likelihood)) if on]  # fmt: skip
        if clashing:
            raise ScreenfitInputError(
                f"--stream reads the whole file as gene × line statistics; {', '.join(clashing)} cannot apply.",
                fix="drop those options, or fit without --stream.",
            )
        data = stream_design(screen, get_model(model, options).covariate_columns)
    else:
        data = _load(screen)
        if annotated_lines_only:
            data = preprocess.annotated_lines_only(data)
        if genes is not None or cell_lines is not None:
            data = preprocess.subsample(data, n_genes=genes, n_cell_lines=cell_lines, seed=seed)
    if mass_matrix not in ("auto", "diag", "low_rank"):
        raise ScreenfitInputError(f"unknown mass matrix '{mass_matrix}'.", fix="pass auto, diag or low_rank.")
    cfg = SamplerConfig(
        method=sampler, draws=draws, tune=tune, chains=chains, cores=cores, seed=seed,  # type: ignore[arg-type]
        mass_matrix=mass_matrix,  # type: ignore[arg-type]
    )  # fmt: skip
    if cluster is not None:
        assert isinstance(data, Screen)
        from screenfit.cluster import parse_cluster
        from screenfit.sharding import fit_sharded

        if full_likelihood or log_likelihood:
            flag = "--full-likelihood" if full_likelihood else "--log-likelihood"
            raise ScreenfitInputError(f"{flag} is not available with --cluster.", fix="drop one of them.")
        result = fit_sharded(
            data, model, cluster=parse_cluster(cluster), out=out, options=options,
            sampler=cfg, n_stage1_genes=stage1_genes, chunk_genes=chunk_genes, force=force, ci_prob=ci_prob,
            progress=not quiet,
        )  # fmt: skip
    else:
        result = run_fit(
            data, model, options=options, sampler=cfg, out=out, force=force,
            collapse=not full_likelihood, ci_prob=ci_prob, log_likelihood=log_likelihood, progress=not quiet,
        )  # fmt: skip
    d = result.diagnostics
    where = f"{out} ({'reused from cache' if result.cached else 'new fit'})"
    if result.status == "failed":
        _err().print(
            f"[bold red]FIT FAILED ITS CONVERGENCE GATE[/bold red]: {'; '.join(d.problems)}",
            highlight=False,
            soft_wrap=True,
        )
        _done(f"Wrote the failed fit (marked failed) to {where}")
        raise typer.Exit(2)
    if d.max_rhat is not None:
        summary = f"max R-hat {d.max_rhat:.4f}, min bulk ESS {d.min_ess_bulk:.0f}, {d.divergences} divergences"
    else:
        shown = ("converged", "steps", "relative_change", "final_loss")
        summary = f"{d.method}: " + ", ".join(f"{k} {d.optimiser[k]}" for k in shown if k in d.optimiser)
    _done(f"Fit {result.status} ({summary}). Results in {where}")


@app.command()
def plot(
    fit_dir: Annotated[Path, typer.Argument(help="Folder of a fit.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the PNGs.")],
    force: Force = False,
) -> None:
    """Every figure of a fit as PNG: trace, forest, posterior predictive checks and readouts.

    The same figures the report shows; a figure whose model has nothing to show is skipped.
    Figures of a fit that failed its gate are stamped NOT CONVERGED.
    """
    from screenfit.fitting import load_fit
    from screenfit.plots.catalogue import write_fit_plots

    written = write_fit_plots(load_fit(fit_dir), out, force=force)
    _done(f"Wrote {', '.join(map(str, written))}")


@app.command()
def compare(
    fit_dirs: Annotated[list[Path], typer.Argument(help="Two or more fit folders of the same screen.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: comparison table, plot, notes.")],
    kfold: Annotated[
        int | None, typer.Option(help="K-fold cross-validation held out by cell line (refits each model K times).")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="The screen the fits were made on (needed for --kfold).")] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Rank fits of the same screen by expected log predictive density (PSIS-LOO, or K-fold by cell line).

    Writes comparison.csv/.parquet (rank, elpd, se, elpd_diff, dse, weight, Pareto-k counts,
    status), comparison.png and comparison_notes.txt (Pareto-k warnings in words).
    """
    from screenfit.jobs import write_comparison

    comparison = write_comparison(fit_dirs, out, kfold=kfold, data=data, force=force, progress=not quiet)
    _print_notes(comparison.messages, quiet)
    table = Table(
        "rank", "model", "elpd", "se", "elpd_diff", "dse", "status", title=f"model comparison ({comparison.method})"
    )
    for row in comparison.table.itertuples():
        table.add_row(str(row.rank), str(row.model), f"{row.elpd:.1f}", f"{row.se:.1f}", f"{row.elpd_diff:.1f}",
                      f"{row.dse:.1f}", str(row.status))  # fmt: skip
    Console().print(table)
    _done(f"Wrote {out / 'comparison.csv'}, {out / 'comparison.png'}")


@app.command()
def report(
    fit_dirs: Annotated[list[Path], typer.Argument(help="One or more fit folders (of the same screen to compare).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    qc_dir: Annotated[Path | None, typer.Option("--qc", help="Folder written by `screenfit qc`.")] = None,
    title: Annotated[str, typer.Option(help="Page title.")] = "screenfit report",
    force: Force = False,
) -> None:
    """One self-contained HTML report: data, QC, models, diagnostics, comparison, PPC, readouts, tables."""
    from screenfit.fitting import load_fit
    from screenfit.report import read_qc_folder, write_report

    fits = [load_fit(d) for d in fit_dirs]
    qc_folder = read_qc_folder(qc_dir) if qc_dir is not None else None
    write_report(fits, out, qc=qc_folder, title=title, force=force)
    failed = [f.model for f in fits if f.status == "failed"]
    if failed:
        _err().print(
            f"[bold red]note:[/bold red] {', '.join(failed)} failed the convergence gate (marked in the report)."
        )
    _done(f"Wrote {out}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("demo_output"),
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Run the main job end to end on the bundled DepMap Avana sample and say where results are."""
    from screenfit.jobs import run_demo

    if not quiet:
        _err().print("Demo: ingest → QC → EDA → fit (copy-number, nutpie) → plots on the bundled DepMap Avana sample")
    result = run_demo(out, force=force, progress=not quiet)
    s = result.qc.summary()
    _done(
        f"Demo done. Screen: {result.screen}\n"
        f"QC: {out / 'qc'} (median per-line AUROC {s['median_auroc']:.3f}, "
        f"{s['failed_cell_lines']} failing lines)\nEDA figures: {out / 'eda'}\n"
        f"Fit ({result.fit_status}): {result.fit_dir} — strongest dependencies: {', '.join(result.top_genes)}\n"
        f"Fit plots: {out / 'fit_plots'}\nReport: {result.report} — open it in a browser"
    )


def main() -> None:
    """Console entry point (user errors exit 1 with one paragraph; see ``_UserErrorsExit1``).

    At the interpreter's exit the garbage collector is frozen and stopped before modules are torn
    down: left on, it traversed the millions of PyTensor and JAX objects of a fit again and again,
    1.0 s of a 300-gene × 60-line fit's 20 s after its last line of output (0.1 s frozen;
    measured). Registered with ``atexit``, so a ``main()`` called from Python changes nothing
    until that interpreter exits; results are written and closed before then. The process's
    allocators are set for the fits first (two glibc arenas, Arrow on the system allocator:
    :func:`~screenfit.inference.memory.configure_process_memory`).
    """
    atexit.register(_freeze_collector)
    configure_process_memory()
    app()


def _freeze_collector() -> None:
    gc.freeze()
    gc.disable()


if __name__ == "__main__":
    main()
