"""Posterior figures of a fit: the seed's trace plots and a forest plot of gene effects.

A fit that failed its convergence gate is stamped "NOT CONVERGED" on every figure.
"""

from __future__ import annotations

import arviz as az
import matplotlib

matplotlib.use("Agg")  # headless: figures are only ever written to files
from matplotlib.figure import Figure

from screenfit.fitting import FitResult
from screenfit.inference.diagnostics import reported_variables
from screenfit.models.registry import get_model
from screenfit.plots.figures import stamp

MAX_FOREST_GENES = 60


def trace_figure(result: FitResult) -> Figure:
    """Trace plot (compact) of the gene effects and the scalar hyperparameters."""
    spec = get_model(result.model)
    post = result.idata.posterior
    scalars = [v for v in reported_variables(result.idata) if post[v].ndim == 2][:6]
    axes = az.plot_trace(result.idata, var_names=[spec.gene_effect, *scalars], compact=True, show=False)
    fig = axes.ravel()[0].figure
    stamp(fig, result)
    return fig


def forest_figure(result: FitResult) -> Figure:
    """Forest plot of gene effects (HDI at the fit's ci_prob); the most negative genes when many."""
    table = result.gene_effects.sort_values("mean")
    genes = table["hugo_symbol"].astype(str).tolist()[:MAX_FOREST_GENES]
    spec = get_model(result.model)
    prob = float(result.config["ci_prob"])  # type: ignore[arg-type]
    axes = az.plot_forest(
        result.idata, var_names=[spec.gene_effect], coords={"hugo_symbol": genes}, combined=True, hdi_prob=prob,
        figsize=(6, max(3.0, 0.22 * len(genes) + 1)), show=False,
    )  # fmt: skip
    fig = axes.ravel()[0].figure
    axes.ravel()[0].set_title(
        f"gene effects, {prob:.0%} HDI" + (f" ({len(genes)} most negative)" if len(table) > len(genes) else "")
    )
    stamp(fig, result)
    return fig
