"""Posterior figures of a fit: the seed's trace plots and a forest plot of gene effects.

A fit that failed its convergence gate is stamped "NOT CONVERGED" on every figure.
"""

from __future__ import annotations

import arviz as az
import matplotlib

matplotlib.use("Agg")  # headless: figures are only ever written to files
from matplotlib.figure import Figure

from screenfit.inference.diagnostics import reported_variables
from screenfit.io.fit_folder import FitResult
from screenfit.models.registry import get_model
from screenfit.plots.figures import stamp

MAX_FOREST_GENES = 60


#: Gene effects drawn in the trace plot: the strongest dependencies (all genes' traces are unreadable).
TRACE_GENES = 5


def trace_figure(result: FitResult) -> Figure:
    """Trace plot of the strongest dependencies' effects and up to six scalar hyperparameters."""
    spec = get_model(result.model)
    post = result.idata.posterior
    scalars = [v for v in reported_variables(result.idata) if post[v].ndim == 2][:6]
    genes = result.gene_effects.sort_values("mean")["hugo_symbol"].astype(str).head(TRACE_GENES).tolist()
    axes = az.plot_trace(
        result.idata, var_names=[spec.gene_effect, *scalars], coords={"hugo_symbol": genes}, compact=True,
        figsize=(10, 1.9 * (1 + len(scalars))), show=False,
    )  # fmt: skip
    axes[0, 0].set_title(f"{spec.gene_effect} ({len(genes)} strongest)")
    fig = axes.ravel()[0].figure
    fig.set_layout_engine("constrained")
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
