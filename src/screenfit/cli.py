"""The screenfit command line: a thin typer layer over the Python API.

Exit codes: 0 done; 1 user error (message names file, column, rows and the fix; no
traceback); 2 a fit was written but failed its convergence gate; anything else is a bug.
"""

from __future__ import annotations

import atexit
import errno
import gc
import warnings
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
    from screenfit.data.stream import StreamedScreen
    from screenfit.io.fit_folder import FitResult
    from screenfit.models.base import ScreenModel
    from screenfit.presets import Configuration


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
    counts: Annotated[Path, typer.Argument(help="Count table: guide ID, gene (or --library), one column per sample.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet file.")],
    sheet: Annotated[Path | None, typer.Option(help="Sample sheet CSV.")] = None,
    bundled_sheet: Annotated[str | None, typer.Option(help="Name of a sample sheet shipped with screenfit.")] = None,
    sgrna_col: Annotated[str | None, typer.Option(help="Guide ID column (detected if omitted).")] = None,
    gene_col: Annotated[str | None, typer.Option(help="Gene column (detected if omitted).")] = None,
    sep: Annotated[str | None, typer.Option(help="Field separator.")] = None,
    library: Annotated[
        Path | None,
        typer.Option(
            help="Library annotation (guide → gene, chromosome, start): CRISPRcleanR, KY/Yusa, MAGeCK, Broad."
        ),
    ] = None,
    library_columns: Annotated[
        str | None,
        typer.Option(help="Library columns not recognised by name: guide=ID,gene=SYMBOL,chromosome=…,start=…."),
    ] = None,
    segments: Annotated[
        Path | None,
        typer.Option(help="Copy-number segments (sample, chromosome, start, end, total CN or log2 ratio) → gene CN."),
    ] = None,
    guide_efficacy: Annotated[
        Path | None,
        typer.Option(help="Guide efficacies from another fit (sgrna,efficacy: Chronos' guide_efficacy.csv)."),
    ] = None,
    annotations: Annotations = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Read a MAGeCK/BAGEL-style count table with its sample sheet into a long table.

    With --library the guides' genes and genomic positions come from the library file (the count
    table then needs no gene column, and `screenfit correct` finds the positions in the screen).
    With --guide-efficacy a drug screen's differences are also reported per full knockout."""
    from screenfit.io import counts as counts_io
    from screenfit.io.annotations import read_annotated

    if (sheet is None) == (bundled_sheet is None):
        raise ScreenfitInputError(
            "give exactly one of --sheet or --bundled-sheet.", fix="see `screenfit ingest counts --help`."
        )
    from screenfit.io.library_files import LibraryColumns

    sheet_path = sheet if sheet is not None else counts_io.bundled_sheet(str(bundled_sheet))
    columns = LibraryColumns.parse(library_columns)
    if library_columns and library is None:
        raise ScreenfitInputError("--library-columns names columns of a library file.", fix="pass --library FILE too.")
    screen = counts_io.read_count_table(counts, sheet_path, sgrna_col=sgrna_col, gene_col=gene_col, sep=sep,
                                        library=library, library_columns=columns)  # fmt: skip
    if segments is not None:
        from screenfit.io.segments import read_segments, with_segment_copy_number

        screen = with_segment_copy_number(screen, read_segments(segments), str(segments))
    if guide_efficacy is not None:
        from screenfit.io.guide_efficacy import read_guide_efficacy, with_guide_efficacy

        screen = with_guide_efficacy(screen, read_guide_efficacy(guide_efficacy), str(guide_efficacy))
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
    window: Annotated[
        int | None,
        typer.Option(
            help="Guides in the running level LFC are clipped around for segmenting (default 121; 1: median)."
        ),
    ] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Correct guide LFC for proximity bias along the genome (CRISPRcleanR-style; no copy number needed)."""
    from screenfit.data.proximity import ProximitySettings
    from screenfit.jobs import write_proximity_correction

    given = {} if window is None else {"window": window}
    settings = ProximitySettings(penalty=penalty, min_genes=min_genes, **given)
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
    growth: Annotated[
        bool, typer.Option(help="Grow cells as Chronos models them (DepMap files + truth only; no screenfit form).")
    ] = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Simulate a DepMap-like screen with known truth (long table, truth, DepMap count files)."""
    from screenfit.simulate import SimulationConfig, write_simulation

    if growth:
        from screenfit.simulate_growth import GrowthSimulationConfig, write_growth_simulation

        write_growth_simulation(
            GrowthSimulationConfig(n_genes=genes, n_cell_lines=cell_lines, n_guides=guides, seed=seed), out, force
        )
        _done(f"Wrote the growth-simulated screen to {out} (depmap/: read it with `screenfit ingest depmap "
              f"{out}/depmap --library Sim`; truth/)")  # fmt: skip
        return

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


@app.command()
def presets(
    name: Annotated[str | None, typer.Argument(help="Show one preset in full, as a --config TOML file.")] = None,
) -> None:
    """List the presets (named model configurations) and the data each is for."""
    from screenfit.presets import DEPMAP_LINES, PRESETS, get_preset, preset_toml

    if name is not None:
        Console().print(preset_toml(get_preset(name)), highlight=False, soft_wrap=True, markup=False)
        return
    table = Table(title=f"screenfit presets (chosen for a screen unless named; DepMap-like from {DEPMAP_LINES} lines)")
    for col in ("name", "sampler", "for", "structure + terms"):
        table.add_column(col)
    for preset in PRESETS.values():
        parts = [preset.spec.structure, *(t.key for t in preset.spec.terms)]
        table.add_row(preset.name, preset.sampler, preset.use_for, " + ".join(parts))
    Console().print(table)
    Console().print("`screenfit presets NAME` prints one in full as a --config file; docs/cli.md explains each.")


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


Hidden = {"hidden": True}
"""Model and sampler options beyond the front door: they work as always and are listed in
docs/cli.md; ``--config FILE.toml`` sets any of them."""


ScreenArg = Annotated[Path, typer.Argument(help="Screen table written by `screenfit ingest` (or `simulate`).")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder (also the cache).")]
PresetOpt = Annotated[str | None, typer.Option(help="A preset (`screenfit presets`); default: chosen for the screen.")]
ConfigOpt = Annotated[
    Path | None, typer.Option(help="TOML file (preset + model overrides), or a fit's config.json to rerun it.")
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="A model by name (`screenfit models`), fitted as named.")
]
SamplerOpt = Annotated[str | None, typer.Option(help="nutpie, pymc, numpyro, blackjax, svi, advi, fullrank_advi, map.")]
DrawsOpt = Annotated[int | None, typer.Option(help="Draws per chain (default: the model's recommendation).")]
StreamOpt = Annotated[
    bool, typer.Option(help="Read a Parquet screen in batches into gene × line statistics (genome-wide screens).")
]
ClusterOpt = Annotated[
    str | None, typer.Option(help="Two-stage sharded fit on Dask: local:N, tcp://SCHEDULER:PORT or slurm:CONFIG.yaml.")
]


def _switch(name: str) -> object:
    """A hidden ``--name/--no-name`` option whose default ``None`` means "not given"."""
    return typer.Option(f"--{name}/--no-{name}", hidden=True)


HiddenInt = Annotated[int | None, typer.Option(**Hidden)]
HiddenFloat = Annotated[float | None, typer.Option(**Hidden)]
HiddenText = Annotated[str | None, typer.Option(**Hidden)]
HiddenFlag = Annotated[bool, typer.Option(**Hidden)]


@app.command()
def fit(
    screen: ScreenArg,
    out: OutOpt = Path("fit"),
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    model: ModelOpt = None,
    sampler: SamplerOpt = None,
    draws: DrawsOpt = None,
    chains: Annotated[int, typer.Option(help="Chains.")] = 4,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    stream: StreamOpt = False,
    cluster: ClusterOpt = None,
    tune: HiddenInt = None,
    cores: HiddenInt = None,
    mass_matrix: Annotated[str, typer.Option(**Hidden)] = "auto",
    covariate: HiddenText = None,
    reference_condition: HiddenText = None,
    min_difference: HiddenFloat = None,
    guide_offsets: Annotated[bool | None, _switch("guide-offsets")] = None,
    guide_efficacy: Annotated[bool | None, _switch("guide-efficacy")] = None,
    cn_column: HiddenText = None,
    guide_noise: Annotated[bool | None, _switch("guide-noise")] = None,
    cn_efficacy: Annotated[bool | None, _switch("cn-efficacy")] = None,
    guide_offset_nu: HiddenText = None,
    time_course: Annotated[bool | None, _switch("time-course")] = None,
    screen_delay: HiddenText = None,
    reference_days: HiddenFloat = None,
    collapse_gene_line: Annotated[bool | None, _switch("collapse-gene-line")] = None,
    genes: HiddenInt = None,
    cell_lines: HiddenInt = None,
    annotated_lines_only: HiddenFlag = False,
    full_likelihood: HiddenFlag = False,
    ci_prob: Annotated[float, typer.Option(**Hidden)] = 0.94,
    log_likelihood: Annotated[bool | None, _switch("log-likelihood")] = None,
    chunk_genes: HiddenInt = None,
    stage1_genes: Annotated[int, typer.Option(**Hidden)] = 200,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Fit the preset chosen for the screen (or --preset, --config, --model); writes posterior,
    tables, config.json, provenance and diagnostics to --out.

    Exit code 2 when the fit was written but failed its convergence gate. Every model and sampler
    option (--guide-offsets, --covariate, --time-course, --tune, --ci-prob, …) is in docs/cli.md.
    """
    from screenfit.fitting import fit as run_fit
    from screenfit.inference.samplers import SamplerConfig
    from screenfit.models.base import ModelOptions

    given = _model_flags(
        covariate=covariate, cn_column=cn_column, reference_condition=reference_condition,
        min_difference=min_difference, guide_offsets=guide_offsets, guide_efficacy=guide_efficacy,
        guide_noise=guide_noise, guide_offset_nu=_guide_offset_nu(guide_offset_nu), cn_efficacy=cn_efficacy,
        time_course=time_course, reference_days=reference_days, collapse_gene_line=collapse_gene_line,
    )  # fmt: skip
    if screen_delay is not None:
        given["screen_delay"] = _screen_delay(screen_delay)  # None: learnt
    by_name = model is not None
    _check_fit_flags(by_name and (preset is not None or config is not None), mass_matrix,
                     cluster is not None and (full_likelihood or bool(log_likelihood)))  # fmt: skip
    options = ModelOptions(**given) if by_name else None  # type: ignore[arg-type]
    named = model or "gene-cellline"
    if stream:
        _check_stream_flags(genes, cell_lines, annotated_lines_only, full_likelihood)
        data, target, method = _streamed(screen, model, options, preset, config, given, sampler)
    else:
        data = _fit_data(screen, genes, cell_lines, annotated_lines_only, seed)
        target, method = _fit_target(data, named if by_name else None, preset, config, given, sampler)
    cfg = SamplerConfig(
        method=method or "nutpie", draws=draws, tune=tune, chains=chains, cores=cores,  # type: ignore[arg-type]
        seed=seed, mass_matrix=mass_matrix,  # type: ignore[arg-type]
    )  # fmt: skip
    if cluster is not None:
        result = _fit_on_cluster(data, target, cluster, out, options, cfg, stage1_genes, chunk_genes, force, ci_prob,
                                 quiet)  # fmt: skip
    else:
        result = run_fit(
            data, target, options=options, sampler=cfg, out=out, force=force, collapse=not full_likelihood,
            ci_prob=ci_prob, log_likelihood=log_likelihood, progress=not quiet,
        )  # fmt: skip
    _report_fit(result, out, quiet)


def _fit_target(
    data: Screen | StreamedScreen, model: str | None, preset: str | None, config: Path | None,
    given: dict[str, object], sampler: str | None,
) -> tuple[str | Configuration, str | None]:  # fmt: skip
    """What ``fit`` fits and by which sampler: the model as named (``model``), or the configuration
    chosen for the screen from the preset, the config file and the options given."""
    from screenfit.data.screen import Screen
    from screenfit.presets import configure

    file_config, method = _file_config(config, sampler)
    if model is not None:
        return model, method
    assert isinstance(data, Screen)
    chosen = configure(data, preset, file_config, _overrides(given), sampler=method)
    return chosen, chosen.sampler


def _file_config(config: Path | None, sampler: str | None) -> tuple[dict[str, object] | None, str | None]:
    """The ``--config`` file's content (``None`` without one) and the sampler method: ``--sampler``, else the file's."""
    from screenfit.presets import read_config_file

    file_config = read_config_file(config) if config is not None else None
    method = sampler or (str(file_config["sampler"]) if file_config and file_config.get("sampler") else None)
    return file_config, method


def _check_fit_flags(chooser_and_name: bool, mass_matrix: str, cluster_loglik: bool) -> None:
    """Refuse ``fit`` options that cannot go together, before any data is read."""
    if chooser_and_name:
        raise ScreenfitInputError(
            "--model fits a model by name; --preset and --config choose one for you.",
            fix="drop one of them.",
        )
    if mass_matrix not in ("auto", "diag", "low_rank"):
        raise ScreenfitInputError(f"unknown mass matrix '{mass_matrix}'.", fix="pass auto, diag or low_rank.")
    if cluster_loglik:
        raise ScreenfitInputError(
            "--full-likelihood and --log-likelihood are not available with --cluster.", fix="drop one of them."
        )


def _fit_on_cluster(
    data: Screen | StreamedScreen, target: str | Configuration, cluster: str, out: Path, options: object,
    sampler: object, stage1_genes: int, chunk_genes: int | None, force: bool, ci_prob: float, quiet: bool,
) -> FitResult:  # fmt: skip
    """``fit --cluster``: the two-stage sharded fit on Dask, of the model named or the preset chosen
    (of a screen in memory, or streamed: ``--stream --cluster``)."""
    from screenfit.cluster import parse_cluster
    from screenfit.sharding import fit_sharded

    return fit_sharded(
        data, target, cluster=parse_cluster(cluster), out=out, options=options,  # type: ignore[arg-type]
        sampler=sampler, n_stage1_genes=stage1_genes, chunk_genes=chunk_genes,  # type: ignore[arg-type]
        force=force, ci_prob=ci_prob, progress=not quiet,
    )  # fmt: skip


def _check_stream_flags(
    genes: int | None, cell_lines: int | None, annotated_lines_only: bool, full_likelihood: bool
) -> None:
    """Refuse the options ``--stream`` cannot honour, before anything is read."""
    clashing = [name for name, on in (("--genes", genes is not None), ("--cell-lines", cell_lines is not None),
                ("--annotated-lines-only", annotated_lines_only), ("--full-likelihood", full_likelihood))
                if on]  # fmt: skip
    if clashing:
        raise ScreenfitInputError(
            f"--stream reads the whole file as gene (or guide) × line statistics; {', '.join(clashing)} cannot apply.",
            fix="drop those options, or fit without --stream.",
        )


def _streamed(
    path: Path, model: str | None, options: object, preset: str | None, config: Path | None,
    given: dict[str, object], sampler: str | None,
) -> tuple[StreamedScreen, str | Configuration, str | None]:  # fmt: skip
    """``fit --stream``: the model (named, or the preset chosen from the file's facts), then the screen
    streamed at the level that model is fitted at, and the sampler method."""
    from dataclasses import replace

    from screenfit.data.facts import parquet_facts
    from screenfit.data.stream import stream_design
    from screenfit.fitting import stream_level
    from screenfit.models.registry import get_model
    from screenfit.presets import configure

    def streamed_for(spec: ScreenModel) -> StreamedScreen:
        return stream_design(path, spec.covariate_columns, level=stream_level(spec, path))

    file_config, method = _file_config(config, sampler)
    if model is not None:
        return streamed_for(get_model(model, options)), model, method  # type: ignore[arg-type]
    chosen = configure(parquet_facts(path), preset, file_config, _overrides(given), sampler=method)
    streamed = streamed_for(chosen.spec.build())
    return streamed, replace(chosen, screen=streamed), chosen.sampler


def _fit_data(path: Path, genes: int | None, cell_lines: int | None, annotated_lines_only: bool, seed: int) -> Screen:
    """The screen a fit reads, loaded and filtered."""
    from screenfit.data import preprocess

    data = _load(path)
    if annotated_lines_only:
        data = preprocess.annotated_lines_only(data)
    if genes is not None or cell_lines is not None:
        data = preprocess.subsample(data, n_genes=genes, n_cell_lines=cell_lines, seed=seed)
    return data


def _model_flags(**values: object) -> dict[str, object]:
    """The model options given on the command line (``None``: not given)."""
    return {k: v for k, v in values.items() if v is not None}


def _overrides(given: dict[str, object]) -> dict[str, object]:
    """Model options given on the command line, as overrides of a preset's spec (``[model]``'s form)."""
    terms: dict[str, object] = {}
    if "guide_offsets" in given or "guide_offset_nu" in given:
        terms["guide_offsets"] = {"nu": given.get("guide_offset_nu")} if given.get("guide_offsets", True) else False
    if "guide_efficacy" in given or "cn_efficacy" in given:
        on = given.get("guide_efficacy", True)
        terms["guide_efficacy"] = {"copy_number": bool(given.get("cn_efficacy", False))} if on else False
    if "guide_noise" in given:
        terms["guide_noise"] = bool(given["guide_noise"])
    if "cn_column" in given:
        terms["copy_number"] = {"column": given["cn_column"]}
    if "covariate" in given:
        terms["covariate"] = {"column": given["covariate"]}
    if given.get("time_course") is not None:
        settings: dict[str, object] = {}  # what is not given keeps TimeCourse's defaults
        if "screen_delay" in given:
            settings["delay"] = "learn" if given["screen_delay"] is None else given["screen_delay"]
        if "reference_days" in given:
            settings["reference_days"] = given["reference_days"]
        terms["time_course"] = settings if given["time_course"] else False
    rest: dict[str, object] = {k: given[k] for k in ("reference_condition", "min_difference", "collapse_gene_line")
                               if k in given}  # fmt: skip
    return {"terms": terms, **rest} if terms else rest


def _report_fit(result: FitResult, out: Path, quiet: bool) -> None:
    """Say which preset ran and why, what it left out, and the gate's verdict (exit 2 if failed)."""
    if result.preset is not None and not result.cached and not quiet:
        reason = result.config.get("preset_reason") or ""
        structure = dict(result.config["model_spec"])["structure"]  # type: ignore[call-overload]
        _err().print(f"[bold]preset {result.preset}[/bold] ({reason}): {structure}",
                     highlight=False)  # fmt: skip
    _print_notes(result.notes, quiet)
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
    from screenfit.io.fit_folder import load_fit
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
    from screenfit.io.fit_folder import load_fit
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
    keep_failing: Annotated[bool, typer.Option(help="Fit the cell lines that fail QC too.")] = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Run the main job end to end on the bundled DepMap Avana sample and say where results are."""
    from screenfit.jobs import run_demo

    if not quiet:
        _err().print("Demo: ingest → QC → EDA → fit (the default preset; gene-cellline beside it) → plots → report "
                     "on the bundled DepMap Avana sample")  # fmt: skip
    result = run_demo(out, force=force, progress=not quiet, keep_failing=keep_failing)
    _print_notes(result.notes or [], quiet)
    s = result.qc.summary()
    _done(
        f"Demo done. Screen: {result.screen}\n"
        f"QC: {out / 'qc'} (median per-line AUROC {s['median_auroc']:.3f}, "
        f"{s['failed_cell_lines']} failing lines)\nEDA figures: {out / 'eda'}\n"
        f"Fit (preset {result.preset}, {result.fit_status}): {result.fit_dir} — DepMap layout in "
        f"{result.fit_dir / 'CRISPRGeneEffect.csv'}; strongest dependencies: {', '.join(result.top_genes)}\n"
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
    with warnings.catch_warnings():
        _console_warnings()
        app()


#: Warnings of other libraries that a screenfit run meets and that ask nothing of its user, with why.
THIRD_PARTY_WARNINGS = (
    # screenfit samples in numba (nutpie) and JAX (SVI), which bring their own BLAS; PyTensor's C
    # backend only evaluates small graphs (log-likelihoods of unit means, PyMC's checks).
    (r"PyTensor could not link to a BLAS", UserWarning),
    # ArviZ 0.23 announces its 1.0 refactor once a day; screenfit pins ArviZ < 0.24.
    (r"\s*ArviZ is undergoing a major refactor", FutureWarning),
    # ArviZ 0.23's matplotlib backend calls normalize_kwargs the deprecated way (plots).
    (r"Passing a dict or None as alias_mapping", DeprecationWarning),
    # PSIS-LOO's Pareto-k warning: the comparison says the same in words, per model and line
    # (results/comparison.pareto_k_message), with what to do.
    (r"Estimated shape parameter of Pareto distribution", UserWarning),
)


def _console_warnings() -> None:
    """The console of a CLI run: third-party notices in :data:`THIRD_PARTY_WARNINGS` are not shown;
    screenfit's own warnings are notes, each shown once; anything else is shown as Python shows it."""
    for message, category in THIRD_PARTY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    shown: set[str] = set()
    python_show = warnings.showwarning
    package = Path(__file__).resolve().parent

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if not Path(filename).resolve().is_relative_to(package):
            python_show(message, category, filename, lineno, file, line)
        elif str(message) not in shown:
            shown.add(str(message))
            _err().print(f"[dim]•[/dim] {message}", highlight=False, soft_wrap=True)

    warnings.showwarning = show


def _freeze_collector() -> None:
    gc.freeze()
    gc.disable()


if __name__ == "__main__":
    main()
