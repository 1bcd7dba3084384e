"""``screenfit report``: one self-contained HTML page for one or more fits of a screen.

The page needs no network: figures are embedded PNGs, tables are JSON rendered by a small
script shipped in the package (sortable, searchable), and the styles are inline. It leads with
the dependencies (common essentials, selective ones with a heatmap), then the data and QC, the
model comparison, and each model's equations and diagnostics — with a loud banner when a fit
failed its convergence gate — posterior predictive checks, readouts and gene-effect tables.
"""

from __future__ import annotations

import base64
import html
import inspect
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import screenfit
from screenfit.errors import ScreenfitInputError
from screenfit.io.atomic import atomic_path
from screenfit.io.fit_folder import FitResult
from screenfit.models.registry import get_model
from screenfit.plots.catalogue import fit_figures
from screenfit.plots.checks import compare_figure
from screenfit.plots.conditions import rank_figure, volcano_figure
from screenfit.plots.figures import DPI
from screenfit.plots.readouts import selective_heatmap
from screenfit.results.comparison import Comparison, compare_fits, fit_labels
from screenfit.results.readouts import (
    common_essentials,
    covariate_effects,
    guide_efficacy,
    ranked_dependencies,
    reference_summary,
    screen_quality,
    selective_dependencies,
    with_reference_sets,
)

FIGURE_CAPTIONS = {
    "trace": "Trace plots of the gene effects and scalar hyperparameters (one line per chain).",
    "forest": "Gene effects with their highest-density intervals.",
    "ppc": "Posterior predictive check: observed vs replicated data, and how often central predictive "
    "intervals hold the observations (on the diagonal = calibrated).",
    "ppc_groups": "Coverage of the 94% predictive interval per cell line and per gene (worst first in the tables).",
    "copy_number": "Copy-number effect: the LFC shift the model attributes to copy number (cutting toxicity).",
    "guide_efficacy": "Guide offsets from their gene's effect: weak guides of essential genes stand out.",
    "screen_quality": "Per-cell-line parameters: screen quality, noise, offsets, copy-number slopes.",
    "dependencies": "The strongest gene × cell-line dependencies.",
    "volcano": "Each gene's difference between the condition and the reference against the evidence for it; "
    "genes called at q ≤ 0.1 in colour (red: the knockout hurts more under the condition, blue: less).",
    "condition_rank": "Genes ranked by their difference between conditions, with its interval.",
    "selective": "Selective dependencies across the screened lines: colour is each gene × line effect; a dot marks "
    "a line whose interval lies wholly below the dependency threshold, a ring one whose interval still reaches it.",
}


@dataclass(frozen=True)
class QCFolder:
    """What the report shows of ``screenfit qc`` output."""

    summary: dict[str, object]
    cell_lines: pd.DataFrame
    figure: Path


def read_qc_folder(folder: Path) -> QCFolder:
    """Read a folder written by ``screenfit qc`` (or the demo's ``qc/``)."""
    needed = ("qc_summary.json", "qc_cell_lines.parquet", "qc.png")
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        raise ScreenfitInputError(
            f"not a QC folder: {', '.join(missing)} missing.", file=folder, fix="pass the --out of `screenfit qc`."
        )
    return QCFolder(
        json.loads((folder / "qc_summary.json").read_text()),
        pd.read_parquet(folder / "qc_cell_lines.parquet"),
        folder / "qc.png",
    )


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(data: str, caption: str) -> str:
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


class _Page:
    """Accumulates HTML fragments and the JSON payloads of the interactive tables."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.payloads: list[str] = []
        self.n_tables = 0

    def add(self, fragment: str) -> None:
        self.parts.append(fragment)

    def table(self, frame: pd.DataFrame, placeholder: str = "search genes…", search_id: str | None = None) -> None:
        """An interactive (sortable, searchable) table of ``frame``."""
        self.n_tables += 1
        ident = f"sf-data-{self.n_tables}"
        clean = frame.replace([np.inf, -np.inf], np.nan).astype(object).where(frame.notna(), None)
        rows = [[_jsonable(v) for v in row] for row in clean.itertuples(index=False)]
        payload = json.dumps({"columns": [str(c) for c in frame.columns], "rows": rows}, allow_nan=False)
        safe = payload.replace("</", "<\\/")  # a JSON string must not close the <script> element
        self.payloads.append(f'<script type="application/json" id="{ident}">{safe}</script>')
        extra = f' data-search-id="{search_id}"' if search_id else ""
        self.add(
            f'<div class="sf-table" data-source="{ident}" data-placeholder="{html.escape(placeholder)}"{extra}></div>'
        )

    def static_table(self, frame: pd.DataFrame) -> None:
        """A plain HTML table (small, fixed)."""
        self.add(frame.to_html(index=False, border=0, float_format=lambda v: f"{v:.3f}", na_rep=""))


def _jsonable(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, np.integer | int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    return str(value)


def _banner(result: FitResult, name: str) -> str:
    d = result.diagnostics
    if result.status == "failed":
        text = (
            f"{name}: NOT CONVERGED — this fit failed the convergence gate ({'; '.join(d.problems)}). "
            "Its numbers are not results."
        )
    elif result.status == "approximate":
        text = f"{name}: approximate fit ({d.method}) — variational or point estimate; intervals may be too narrow."
    else:
        text = (
            f"{name}: converged (max R-hat {d.max_rhat:.3f}, min bulk ESS {d.min_ess_bulk:.0f}, "
            f"{d.divergences} divergences)."
        )
    return f'<div class="banner {result.status}">{html.escape(text)}</div>'


CONDITION_FIGURES = ("volcano", "condition_rank")


def _condition_section(page: _Page, name: str, result: FitResult) -> None:
    """For a drug-vs-vehicle fit, what its user asks first: the genes whose effect differs between
    conditions, strongest evidence first, with the volcano and rank plots."""
    table = result.tables["condition_effects"]
    called = table[table["qvalue"] <= 0.1]
    page.add(f'<section id="conditions"><h2>Condition effects ({html.escape(name)})</h2>')
    page.add(f"<p>{len(called)} gene × condition differences called at q ≤ 0.1 (Bayesian FDR of a difference of "
             f"at least {table.attrs.get('min_difference', 0.1):g}); the strongest first.</p>")  # fmt: skip
    columns = ["hugo_symbol", "condition", "reference", "mean", "hdi_lower", "hdi_upper", "lfsr", "lfdr", "qvalue"]
    page.static_table(table[[c for c in columns if c in table.columns]].head(25))
    for key, make in (("volcano", volcano_figure), ("condition_rank", rank_figure)):
        fig = make(result)
        if fig is not None:
            page.add(_figure(_png(fig), FIGURE_CAPTIONS[key]))
    page.add("</section>")


def _dependencies_section(page: _Page, name: str, result: FitResult) -> None:
    """What a biologist asks first: the strongest common-essential and selective dependencies of the
    main fit (the first with gene × line effects), with their intervals and a heatmap."""
    prob = float(result.config["ci_prob"])  # type: ignore[arg-type]
    page.add(f'<section id="dependencies"><h2>Dependencies ({html.escape(name)})</h2>')
    if result.status != "converged":
        page.add(f"<p class='meta'>From a fit whose status is <b>{html.escape(result.status)}</b>.</p>")
    common, selective = common_essentials(result), selective_dependencies(result)
    if common is None or selective is None:
        page.add(f"<p>Strongest dependencies (gene effects, {prob:.0%} HDI):</p>")
        page.table(ranked_dependencies(result))
        page.add("</section>")
        return
    page.add(f"<h3>Common essentials</h3><p>{len(common)} strongest genes that most lines depend on: the gene's "
             f"mean effect over the screened lines with its {prob:.0%} HDI, the share of lines dependent "
             "(P(dependency) &gt; 0.5) and the median effect on DepMap's scale (CRISPRGeneEffect).</p>")  # fmt: skip
    page.static_table(common)
    page.add(f"<h3>Selective dependencies</h3><p>Genes some lines depend on and others do not: the most dependent "
             f"line's effect with its {prob:.0%} HDI, and how many lines depend.</p>")  # fmt: skip
    page.static_table(selective)
    heatmap = selective_heatmap(result)
    if heatmap is not None:
        page.add(_figure(_png(heatmap), FIGURE_CAPTIONS["selective"]))
    page.add("</section>")


def _data_section(page: _Page, fits: Sequence[FitResult], qc: QCFolder | None) -> None:
    config = fits[0].config
    page.add('<section id="data"><h2>Data</h2>')
    page.add(f"<p>Source: <code>{html.escape(str(config.get('data_source')))}</code> "
             f"(content hash <code>{html.escape(str(config.get('data_hash'))[:16])}</code>).</p>")  # fmt: skip
    summary = config.get("data_summary") or {}
    page.static_table(pd.DataFrame([summary]))  # type: ignore[list-item]
    notes: list[str] = list(config.get("data_notes") or [])  # type: ignore[call-overload]
    for note in notes:
        page.add(f'<div class="note">{html.escape(str(note))}</div>')
    page.add("</section>")
    page.add('<section id="qc"><h2>Quality control</h2>')
    if qc is None:
        page.add(
            '<div class="note">No QC folder was given (run <code>screenfit qc</code> and pass <code>--qc</code>).</div>'
        )
    else:
        s = qc.summary
        auroc = float(s["median_auroc"])  # type: ignore[arg-type]
        page.add(f"<p>Median per-line AUROC (common essentials vs non-essentials): <b>{auroc:.3f}</b>; "
                 f"lines failing QC: <b>{s['failed_cell_lines']}</b>.</p>")  # fmt: skip
        page.add(_figure(base64.b64encode(qc.figure.read_bytes()).decode("ascii"), "QC per replicate and cell line."))
        page.table(qc.cell_lines, placeholder="search cell lines…")
    page.add("</section>")


def _comparison_section(page: _Page, fits: Sequence[FitResult]) -> None:
    page.add('<section id="comparison"><h2>Model comparison</h2>')
    try:
        comparison: Comparison = compare_fits(fits)
    except ScreenfitInputError as err:
        page.add(f'<div class="note">Not compared: {html.escape(err.message)}</div></section>')
        return
    best = comparison.table.iloc[0]
    page.add(f"<p>Ranked by expected log predictive density (PSIS-LOO, per guide × cell line). Best: "
             f"<b>{html.escape(str(best['model']))}</b>. A difference is clear when <code>elpd_diff</code> "
             "is several times its standard error <code>dse</code>.</p>")  # fmt: skip
    page.static_table(comparison.table.drop(columns=["fit_dir"]))
    for msg in comparison.messages:
        page.add(f'<div class="note">{html.escape(msg)}</div>')
    page.add(
        _figure(
            _png(compare_figure(comparison)),
            "ELPD difference of each model to the best, ±2 SE of the (paired) difference.",
        )
    )
    page.add("</section>")


def _fit_section(page: _Page, index: int, name: str, result: FitResult, first_gene_table: bool) -> None:
    spec = get_model(result.model)
    page.add(f'<section id="fit-{index}"><h2>{html.escape(name)}: {html.escape(spec.title)}</h2>')
    page.add(_banner(result, name))
    page.add("<h3>Model</h3>")
    page.add(f'<pre class="equation">{html.escape(inspect.cleandoc(type(spec).__doc__ or "").replace("``", ""))}</pre>')
    options = {k: v for k, v in result.options.items() if v is not None}
    sampler = result.config.get("sampler") or {}
    page.add(f"<p class='meta'>Options: {html.escape(json.dumps(options))}; sampler: "
             f"{html.escape(json.dumps(sampler))}; intervals: {float(result.config['ci_prob']):.0%} HDI.</p>")  # type: ignore[arg-type]  # fmt: skip
    page.add("<h3>Diagnostics</h3>")
    d = result.diagnostics
    page.static_table(pd.DataFrame([{
        "status": d.status, "method": d.method, "max R-hat": d.max_rhat, "at": d.max_rhat_parameter,
        "min bulk ESS": d.min_ess_bulk, "min tail ESS": d.min_ess_tail, "divergences": d.divergences,
        "min E-BFMI": d.min_bfmi,
    }]))  # fmt: skip
    page.add("<h3>Gene effects</h3>")
    genes = with_reference_sets(result.gene_effects)
    ref = reference_summary(genes)
    if ref["n_essential"] and ref["n_nonessential"]:
        page.add(
            f"<p>Strongest first. Of the {ref['top']:.0f} strongest dependencies, <b>{ref['top_essential']:.0f}</b> "
            f"are Hart common essentials (CEGv2) and {ref['top_nonessential']:.0f} non-essential (NEGv1); the gene "
            f"effects separate this screen's {ref['n_essential']:.0f} CEGv2 from its {ref['n_nonessential']:.0f} "
            f"NEGv1 genes with AUROC <b>{ref['auroc']:.3f}</b>.</p>"
        )
    page.table(genes, search_id="gene-search" if first_gene_table else None)
    figures = fit_figures(result)
    page.add("<h3>Figures</h3>")
    for key, fig in figures.items():
        if key not in CONDITION_FIGURES:  # shown in the condition section
            page.add(_figure(_png(fig), FIGURE_CAPTIONS.get(key, key)))
    page.add("<h3>Posterior predictive checks</h3>")
    calibration = result.tables.get("ppc_calibration")
    if calibration is None:
        page.add('<div class="note">This fit was made without posterior predictive checks.</div>')
    else:
        page.static_table(calibration)
        page.add("<p>Cell lines with the worst predictive coverage:</p>")
        page.table(result.tables["ppc_cell_lines"], placeholder="search cell lines…")
    page.add("<h3>Readouts</h3><p>Strongest dependencies per cell line (or overall, for models with one effect "
             "per gene):</p>")  # fmt: skip
    page.table(ranked_dependencies(result))
    for title, table in (
        ("Covariate: genes whose effect differs with the feature", covariate_effects(result)),
        ("Guide efficacy", guide_efficacy(result)),
        ("Screen quality per cell line", screen_quality(result)),
    ):
        if table is not None:
            page.add(f"<p>{html.escape(title)}:</p>")
            page.table(table)
    page.add("</section>")


def build_report(fits: Sequence[FitResult], qc: QCFolder | None = None, title: str = "screenfit report") -> str:
    """The report page as one HTML string."""
    if not fits:
        raise ScreenfitInputError("report needs at least one fit.", fix="pass one or more fit folders.")
    names = fit_labels(fits)
    page = _Page()
    stamp = time.strftime("%Y-%m-%d %H:%M")
    main = next((i for i, f in enumerate(fits) if "gene_calls" in f.tables), 0)
    links = ['<a href="#dependencies">Dependencies</a>', '<a href="#data">Data</a>', '<a href="#qc">QC</a>']
    if len(fits) > 1:
        links.append('<a href="#comparison">Comparison</a>')
    links += [f'<a href="#fit-{i}">{html.escape(n)}</a>' for i, n in enumerate(names)]
    page.add(f"<header><h1>{html.escape(title)}</h1><p class='meta'>{len(fits)} fit(s); made {stamp} by "
             f"screenfit {screenfit.__version__}.</p><nav>{''.join(links)}</nav></header>")  # fmt: skip
    for name, result in zip(names, fits, strict=True):
        if result.status != "converged":
            page.add(_banner(result, name))
    _dependencies_section(page, names[main], fits[main])
    for name, result in zip(names, fits, strict=True):
        if "condition_effects" in result.tables:
            _condition_section(page, name, result)
    _data_section(page, fits, qc)
    if len(fits) > 1:
        _comparison_section(page, fits)
    for i, (name, result) in enumerate(zip(names, fits, strict=True)):
        _fit_section(page, i, name, result, first_gene_table=i == 0)
    folder = resources.files("screenfit.resources") / "report"
    css = (folder / "report.css").read_text()
    js = (folder / "report.js").read_text()
    body = "\n".join(page.parts)
    scripts = "\n".join(page.payloads)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{css}</style></head>\n<body>\n{body}\n{scripts}\n"
        f"<script>{js}</script>\n</body></html>\n"
    )


def write_report(
    fits: Sequence[FitResult], out: Path, qc: QCFolder | None = None, title: str = "screenfit report",
    force: bool = False,
) -> Path:  # fmt: skip
    """Write the report to the file ``out`` atomically (never overwriting without ``force``)."""
    text = build_report(fits, qc, title)
    with atomic_path(out, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out
