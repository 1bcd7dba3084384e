"""Biological readouts of a fit: what a biologist asks of it, as tidy tables.

- :func:`ranked_dependencies`: the strongest dependencies per cell line (or per lineage);
- :func:`covariate_effects`: genes whose effect differs with a cell-line feature (e.g. mutant vs
  wild type), with the posterior probability of a difference in each direction;
- :func:`copy_number_curve`: the expected LFC shift along the copy-number axis, with its band;
- :func:`guide_efficacy`: each guide's departure from its gene's effect (duds stand out);
- :func:`screen_quality`: per cell line, the screen-quality parameters the model has.

Each returns ``None`` when the fit's model has no such parameter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from screenfit.data.design import GENE, LINE, LINEAGE
from screenfit.data.genes import match_symbols
from screenfit.io.fit_folder import FitResult
from screenfit.reference import essential_sets
from screenfit.results.tables import hdi_bounds, summarize

LINE_QUALITY_PARAMETERS = ("screen_quality", "sigma_line", "cell_line_effect", "cn_slope", "beta_c")
"""Per-line parameters reported by :func:`screen_quality`, in this order where present."""


def _ci(result: FitResult) -> float:
    return float(result.config["ci_prob"])  # type: ignore[arg-type]


def with_reference_sets(genes: pd.DataFrame) -> pd.DataFrame:
    """Gene effects sorted strongest first, with a ``reference_set`` column (CEGv2 / NEGv1 / empty).

    Symbols are matched through the alias table (:func:`screenfit.data.genes.match_symbols`).
    """
    symbols = genes[GENE].astype(str)
    essential, nonessential = essential_sets()
    ess = match_symbols(essential, symbols).matched
    non = match_symbols(nonessential, symbols).matched
    labels = np.where(
        symbols.isin(ess), "CEGv2 (common essential)", np.where(symbols.isin(non), "NEGv1 (non-essential)", "")
    )
    out = genes.copy()
    out.insert(out.columns.get_loc(GENE) + 1, "reference_set", labels)
    return out.sort_values("mean").reset_index(drop=True)


def reference_summary(genes: pd.DataFrame, top: int = 20) -> dict[str, float]:
    """Among the ``top`` strongest dependencies, how many are CEGv2 / NEGv1; and the AUROC of the two sets.

    Needs the ``reference_set`` column of :func:`with_reference_sets`. AUROC = P(a random CEGv2
    gene has a lower effect than a random NEGv1 gene); NaN when either set is absent.
    """
    head = genes.nsmallest(top, "mean")["reference_set"]
    ess = genes.loc[genes["reference_set"].str.startswith("CEGv2"), "mean"].to_numpy()
    non = genes.loc[genes["reference_set"].str.startswith("NEGv1"), "mean"].to_numpy()
    auroc = float((ess[:, None] < non[None, :]).mean()) if len(ess) and len(non) else float("nan")
    return {
        "top": float(top),
        "top_essential": float(head.str.startswith("CEGv2").sum()),
        "top_nonessential": float(head.str.startswith("NEGv1").sum()),
        "n_essential": float(len(ess)),
        "n_nonessential": float(len(non)),
        "auroc": auroc,
    }


def ranked_dependencies(result: FitResult, by: str = LINE, top: int = 20) -> pd.DataFrame:
    """The ``top`` most negative effects per cell line (``by="depmap_id"``) or lineage (``"lineage"``).

    Models without gene × line (or gene × lineage) effects have one ranking, shared by every
    group: the gene effects (returned once, with group ``"all"``).
    """
    source = {LINE: "gene_cell_line_effects", LINEAGE: "gene_lineage_effects"}.get(by)
    if source is None:
        raise ValueError(f"by must be '{LINE}' or '{LINEAGE}', got {by!r}")
    if source in result.tables:
        table = result.tables[source]
        prob = "prob_dependency" if "prob_dependency" in table.columns else "prob_lt_threshold"
        ranked = table.sort_values([by, "mean"]).groupby(by, observed=True).head(top).copy()
        ranked["rank"] = ranked.groupby(by, observed=True).cumcount() + 1
        cols = [by, "rank", GENE, "mean", "hdi_lower", "hdi_upper", prob]
        return ranked[cols].rename(columns={by: "group", prob: "prob_dependency"}).reset_index(drop=True)
    genes = result.gene_effects.sort_values("mean").head(top).copy()
    genes.insert(0, "group", "all")
    genes.insert(1, "rank", np.arange(1, len(genes) + 1))
    cols = ["group", "rank", GENE, "mean", "hdi_lower", "hdi_upper", "prob_lt_threshold"]
    return genes[cols].rename(columns={"prob_lt_threshold": "prob_dependency"}).reset_index(drop=True)


def covariate_effects(result: FitResult) -> pd.DataFrame | None:
    """Per gene, the slope on the fit's covariate and ``P(slope < 0)`` / ``P(slope > 0)``.

    With a 0/1 covariate such as mutation status the slope is the difference in gene effect
    between mutant and wild-type lines; ``prob_more_dependent`` is the posterior probability that
    lines with the feature depend more on the gene. Sorted by that probability, then by slope.
    """
    post = result.idata.posterior
    if "covariate_slope" not in post:
        return None
    table = summarize(post["covariate_slope"], _ci(result), 0.0, column="prob_more_dependent")
    table["prob_less_dependent"] = 1.0 - table["prob_more_dependent"]
    table.insert(1, "covariate", str(result.options.get("covariate")))
    return table.sort_values(["prob_more_dependent", "mean"], ascending=[False, True]).reset_index(drop=True)


def copy_number_curve(result: FitResult, grid: np.ndarray | None = None) -> pd.DataFrame | None:
    """Expected LFC shift ``μ_κ · cn`` along the model's copy-number covariate, with an HDI band.

    ``cn`` is in the units of the model's copy-number column (``gene_cn_z``: SDs of a gene's
    copy number across lines). Also reports the per-line slopes' spread (``cn_slope_sd``) in
    the table's ``line_slope_sd`` column.
    """
    post = result.idata.posterior
    if "cn_slope_mu" not in post:
        return None
    grid = np.linspace(-2.0, 4.0, 25) if grid is None else np.asarray(grid, dtype=float)
    mu = post["cn_slope_mu"].stack(sample=("chain", "draw")).values
    effect = mu[None, :] * grid[:, None]
    prob = _ci(result)
    lower, upper = hdi_bounds(effect, prob)
    out = pd.DataFrame({"copy_number": grid, "mean": effect.mean(axis=1), "hdi_lower": lower, "hdi_upper": upper})
    out["line_slope_sd"] = float(post["cn_slope_sd"].mean()) if "cn_slope_sd" in post else np.nan
    out.attrs["cn_column"] = str(result.options.get("cn_column"))
    return out


def guide_efficacy(result: FitResult) -> pd.DataFrame | None:
    """Per guide: its offset from the gene effect (``guide_offset``), sorted by size, largest first.

    For an essential gene a large positive offset marks a guide that cuts poorly (a dud).
    """
    params = result.tables.get("guide_parameters")
    if params is None or "guide_offset" not in set(params["parameter"]):
        return None
    table = params[params["parameter"] == "guide_offset"].drop(columns="parameter")
    return table.reindex(table["mean"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def screen_quality(result: FitResult) -> pd.DataFrame | None:
    """Per cell line, the model's line-level parameters (quality, noise, offset, copy-number slope).

    Wide table: one row per line, ``<parameter>_mean`` and ``_sd`` columns.
    """
    params = result.tables.get("cell_line_parameters")
    if params is None:
        return None
    present = [p for p in LINE_QUALITY_PARAMETERS if p in set(params["parameter"])]
    if not present:
        return None
    sub = params[params["parameter"].isin(present)]
    wide = sub.pivot(index=LINE, columns="parameter", values=["mean", "sd"])
    wide.columns = [f"{p}_{stat}" for stat, p in wide.columns]
    order = [f"{p}_{stat}" for p in present for stat in ("mean", "sd")]
    return wide[order].reset_index()


#: Genes shown in each of the report's leading dependency tables.
TOP_DEPENDENCIES = 15


def common_essentials(result: FitResult, top: int = TOP_DEPENDENCIES) -> pd.DataFrame | None:
    """The strongest dependencies shared by (nearly) every line: ``gene_calls``' common essentials
    with the gene's mean effect over the lines and its interval (``gene_line_means``), strongest
    first; ``None`` for fits without gene × line effects."""
    calls, means = result.tables.get("gene_calls"), result.tables.get("gene_line_means")
    if calls is None or means is None:
        return None
    common = calls[calls["common_essential"]].merge(means[[GENE, "mean", "hdi_lower", "hdi_upper"]], on=GENE)
    cols = [GENE, "mean", "hdi_lower", "hdi_upper", "fraction_dependent", "median_effect"]
    return common.sort_values("mean")[cols].head(top).reset_index(drop=True)


def selective_dependencies(result: FitResult, top: int = TOP_DEPENDENCIES) -> pd.DataFrame | None:
    """Strongly selective dependencies (``gene_calls``): per gene, its most dependent line's effect
    with its interval and how many lines depend on it, strongest first; ``None`` without gene × line
    effects."""
    calls, effects = result.tables.get("gene_calls"), result.tables.get("gene_cell_line_effects")
    if calls is None or effects is None:
        return None
    selective = calls.loc[calls["strongly_selective"], [GENE, "n_dependent_lines", "fraction_dependent"]]
    strongest = effects.sort_values("mean").drop_duplicates(GENE)[[GENE, LINE, "mean", "hdi_lower", "hdi_upper"]]
    table = selective.merge(strongest, on=GENE).rename(columns={LINE: "most_dependent_line"})
    cols = [GENE, "most_dependent_line", "mean", "hdi_lower", "hdi_upper", "n_dependent_lines", "fraction_dependent"]
    return table.sort_values("mean")[cols].head(top).reset_index(drop=True)
