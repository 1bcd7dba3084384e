"""Tidy tables from a posterior: one row per labelled parameter, never re-joined by position.

Every interval is an HDI at an explicit probability (``ci_prob``, default 0.94); columns are
``mean, sd, hdi_lower, hdi_upper`` and the probability is stored with the table.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from screenfit.data.design import GENE, GUIDE, LIBRARY, LINE, LINEAGE
from screenfit.data.genes import depmap_label
from screenfit.inference.diagnostics import blocks, gated_variables, per_parameter, rows_of
from screenfit.models.base import ScreenModel

CI_PROB = 0.94


def summarize(
    da: xr.DataArray, ci_prob: float, threshold: float | None = None, column: str = "prob_lt_threshold"
) -> pd.DataFrame:
    """Mean, SD, HDI bounds (and ``P(x < threshold)``) of a posterior variable, one row per element.

    Large variables are summarised block by block along their first dimension (bounded memory).
    """
    parts = [_summarize_block(part, ci_prob, threshold, column) for part in blocks(da)]
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def hdi_bounds(values: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the highest-density interval along the last axis of ``values``.

    ArviZ's unimodal HDI (``az.hdi``: the narrowest window holding ``floor(prob · n)`` sorted
    draws past its first), for every leading element at once: ``az.hdi`` loops over elements in
    Python, a second per 40,000 gene × line effects (measured). Elements with a NaN draw get NaN.
    """
    ordered = np.sort(values, axis=-1)
    n = ordered.shape[-1]
    inc = int(np.floor(prob * n))
    if n - inc < 1:
        raise ValueError(f"too few draws ({n}) for a {prob:g} interval")
    width = np.subtract(ordered[..., inc:], ordered[..., : n - inc], dtype=np.float64)
    first = np.argmin(width, axis=-1)[..., None]
    lower = np.take_along_axis(ordered, first, axis=-1)[..., 0]
    upper = np.take_along_axis(ordered, first + inc, axis=-1)[..., 0]
    missing = np.isnan(ordered[..., -1])
    if missing.any():
        lower, upper = np.where(missing, np.nan, lower), np.where(missing, np.nan, upper)
    return lower, upper


def _summarize_block(da: xr.DataArray, ci_prob: float, threshold: float | None, column: str) -> pd.DataFrame:
    da = da.load()  # draws read lazily from disk: one block in memory
    sample = da.stack(sample=("chain", "draw")).transpose(..., "sample")
    values = sample.values
    n = values.shape[-1]
    mean = values.mean(axis=-1)
    sd = values.std(axis=-1, ddof=1) if n > 1 else np.full(mean.shape, np.nan)
    if n > 2:
        lower, upper = hdi_bounds(values, ci_prob)
    else:
        lower = upper = np.full(mean.shape, np.nan)
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    if dims:
        index = pd.MultiIndex.from_product([da[d].values for d in dims], names=dims)
        out = index.to_frame(index=False)
    else:
        out = pd.DataFrame(index=[0])
    out["mean"], out["sd"] = mean.ravel(), sd.ravel()
    out["hdi_lower"], out["hdi_upper"] = np.ravel(lower), np.ravel(upper)
    if threshold is not None:
        out[column] = (values < threshold).mean(axis=-1).ravel()
    for d in dims:
        out[d] = out[d].astype(str)
    return out


def _convergence_columns(
    idata: az.InferenceData, var: str, convergence: pd.DataFrame | None = None
) -> pd.DataFrame | None:
    """Per-element R-hat and bulk ESS of ``var`` (MCMC only), in the order ``summarize`` uses.

    Taken from ``convergence`` (a :func:`per_parameter` table, e.g. the gate's) when it has them.
    """
    post = idata.posterior
    if post.sizes.get("chain", 1) < 2 or post.sizes.get("draw", 1) < 4:
        return None
    known = rows_of(convergence, var) if convergence is not None else None
    if known is None or len(known) != post[var].size // (post.sizes["chain"] * post.sizes["draw"]):
        known = per_parameter(idata, [var])
    return known[["r_hat", "ess_bulk"]]


def depmap_wide(lines_by_genes: pd.DataFrame, entrez: dict[str, int], index_name: str) -> pd.DataFrame:
    """DepMap's matrix layout: cell lines as rows under ``index_name``, ``SYMBOL (ENTREZ)`` columns."""
    wide = lines_by_genes.copy()
    wide.columns = [depmap_label(g, entrez.get(g)) for g in wide.columns]
    return wide.rename_axis(index=index_name).reset_index()


def with_entrez(table: pd.DataFrame, entrez: dict[str, int]) -> pd.DataFrame:
    """Insert an ``entrez_id`` column after ``hugo_symbol`` when Entrez IDs are known (in place)."""
    if entrez and GENE in table.columns:
        table.insert(table.columns.get_loc(GENE) + 1, "entrez_id", table[GENE].map(entrez).astype("Int64"))
    return table


def _long_parameters(
    idata: az.InferenceData, dims: tuple[str, ...], exclude: set[str], ci_prob: float
) -> pd.DataFrame | None:
    frames = []
    for name in gated_variables(idata):
        da = idata.posterior[name]
        if name in exclude:
            continue
        if tuple(d for d in da.dims if d not in ("chain", "draw")) != dims:
            continue
        frame = summarize(da, ci_prob)
        frame.insert(0, "parameter", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def gene_line_summaries(
    theta: xr.DataArray, ci_prob: float = CI_PROB, threshold: float | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The gene × line effects summarised (one row per gene × line, ``prob_dependency``) and, per
    gene, the posterior of their mean over the fit's cell lines, reading each block of genes once
    (a streamed posterior is read from disk).

    The line mean, ``(1/C) Σ_c θ_gc`` in each draw, is the gene's effect in these lines on
    average, with its interval, as a user reads the mean of a row of DepMap's matrix. It is not
    the model's gene effect ``α_g``, the centre the lines' effects are pooled to (in
    gene-by-line-lineage, at the lineages' mean and no mutation). On simulated screens (300 genes
    × 60 lines) its 90% intervals covered 0.88 of the true mean over the lines in the realistic
    regime and the time course, where ``α_g``'s covered 0.81 and 0.71 (docs/validation.md).
    """
    theta = theta.transpose("chain", "draw", GENE, LINE)
    parts, means = [], []
    for part in blocks(theta):
        part = part.load()
        parts.append(_summarize_block(part, ci_prob, threshold, "prob_dependency"))
        means.append(part.mean(LINE))
    long = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    mean = xr.concat(means, dim=GENE) if len(means) > 1 else means[0]
    return long, summarize(mean.rename(theta.name), ci_prob, threshold)


def build_tables(
    idata: az.InferenceData,
    model: ScreenModel,
    entrez: dict[str, int],
    ci_prob: float = CI_PROB,
    convergence: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """All result tables of a fit, keyed by their file stem (CONVENTIONS.md names).

    ``convergence``: the gate's :func:`~screenfit.inference.diagnostics.per_parameter` table, so
    the gene effects' R-hat and ESS columns are not computed twice (3.3 s of a 1,000-gene fit).
    """
    th = model.options.dependency_threshold
    tables: dict[str, pd.DataFrame] = {}
    genes = summarize(idata.posterior[model.gene_effect], ci_prob, th)
    conv = (
        None
        if model.gene_effect in model.conditional_draws
        else _convergence_columns(idata, model.gene_effect, convergence)
    )
    if conv is not None:
        genes = pd.concat([genes, conv], axis=1)
    tables["gene_effects"] = with_entrez(genes, entrez)
    if not model.gene_line_effect and th is not None:
        from screenfit.results.essentials import essential_calls, scaled_dependency

        # One effect per gene (a single screen): calls on DepMap's scale where reference genes allow.
        scaled = scaled_dependency(idata.posterior[model.gene_effect])
        tables["essential_calls"] = essential_calls(tables["gene_effects"], scaled)
    reported = {model.gene_effect}
    if model.gene_line_effect:
        long, means = gene_line_summaries(idata.posterior[model.gene_line_effect], ci_prob, th)
        tables["gene_cell_line_effects"] = with_entrez(long, entrez)
        wide = long.pivot(index=LINE, columns=GENE, values="mean")
        tables["gene_effect_matrix"] = depmap_wide(wide, entrez, LINE)
        tables["gene_line_means"] = with_entrez(means, entrez)
        reported.add(model.gene_line_effect)
    if "gene_lineage_effect" in idata.posterior:
        tables["gene_lineage_effects"] = with_entrez(
            summarize(idata.posterior["gene_lineage_effect"], ci_prob, th), entrez
        )
        reported.add("gene_lineage_effect")
    for stem, table in model.extra_tables(idata, ci_prob).items():
        tables[stem] = with_entrez(table, entrez)
    for stem, dims in (
        ("gene_parameters", (GENE,)),
        ("cell_line_parameters", (LINE,)),
        ("guide_parameters", (GUIDE,)),
        ("lineage_parameters", (LINEAGE,)),
        ("condition_parameters", ("contrast",)),
        ("library_parameters", (LIBRARY,)),
        ("hyperparameters", ()),
    ):
        frame = _long_parameters(idata, dims, reported, ci_prob)
        if frame is not None:
            tables[stem] = with_entrez(frame, entrez) if stem == "gene_parameters" else frame
    return tables
