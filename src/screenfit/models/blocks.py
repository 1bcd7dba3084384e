"""Building blocks shared by the models: gene intercepts, cell-line offsets, copy-number slopes.

Parametrisations were chosen by measurement on seed-sized screens: gene intercepts see
thousands of rows each, so they are centred; cell-line offsets have a fixed-scale zero-sum
prior (see :func:`line_offsets`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from pytensor.graph.basic import Constant
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.shape import Reshape

from screenfit.data.design import GENE, LINE, Design


def per_group(values: pt.TensorVariable, design: Design, *dims: str) -> pt.TensorVariable:
    """``values`` (dims ``dims``) at every group of the design: ``values[index of each dim]``.

    On a complete gene × line grid (:attr:`Design.grid_shape`) this is a reshape or a broadcast,
    whose gradient is a sum instead of a scatter: on 18,000 genes × 1,000 lines the gradient of
    ``q[c] · θ[g, c]`` took 0.16 s by gathers and 0.04 s this way (JAX, 2 CPU cores). The index
    arrays enter the graph as constants (indexing by a NumPy array makes PyTensor inspect it
    element by element: 157 s of building that model).
    """
    grid = design.grid_shape
    if grid is not None and dims in ((GENE,), (LINE,), (GENE, LINE)):
        n = grid[0] * grid[1]
        if dims == (GENE, LINE):
            return values.reshape((n,))
        column = values[:, None] if dims == (GENE,) else values[None, :]
        return pt.broadcast_to(column, grid).reshape((n,))
    return values[tuple(pt.constant(design.index[d]) for d in dims)]


def on_grid(values: pt.TensorVariable, grid: tuple[int, int]) -> pt.TensorVariable:
    """A per-group vector built by :func:`per_group` on a complete grid, as a ``grid``-shaped matrix.

    ``values.reshape(grid)`` would give the same numbers, but after ``per_group``'s
    broadcast-then-flatten every gene or line term is materialised as a full grid array first
    (PyTensor does not move a reshape through elementwise operations). This moves it: a flattened
    2-D term becomes that term again, constants are reshaped, scalars and length-1 vectors
    broadcast, and an elementwise operation is rebuilt on its inputs' grids — so the terms
    broadcast inside one fused loop (about twice as fast a gradient for the copy-number model).
    Anything else is reshaped as usual.
    """
    n = grid[0] * grid[1]
    node = values.owner
    if isinstance(values, Constant):
        data = np.asarray(values.data)
        return pt.constant(data.reshape(grid)) if data.shape == (n,) else values.reshape(grid)
    if node is not None and isinstance(node.op, Reshape) and node.inputs[0].ndim == 2:
        return pt.specify_shape(node.inputs[0], grid)
    if node is not None and isinstance(node.op, Elemwise) and len(node.outputs) == 1:
        inputs = []
        for x in node.inputs:
            if x.ndim == 0:
                inputs.append(x.dimshuffle("x", "x"))
            elif x.ndim == 1 and x.type.broadcastable[0]:
                inputs.append(x.dimshuffle("x", 0))
            elif x.ndim == 1:
                inputs.append(on_grid(x, grid))
            else:
                return values.reshape(grid)
        lifted = node.op(*inputs)
        assert isinstance(lifted, pt.TensorVariable)  # one output (checked above)
        return lifted
    return values.reshape(grid)


def gene_intercepts(name: str = "gene_effect", mu_sd: float = 1.0, sd_scale: float = 1.0) -> pt.TensorVariable:
    """``α_g ~ N(μ_α, σ_α)``, ``μ_α ~ N(0, mu_sd)``, ``σ_α ~ HalfNormal(sd_scale)`` (centred)."""
    mu = pm.Normal("gene_effect_mu", 0.0, mu_sd)
    sd = pm.HalfNormal("gene_effect_sd", sd_scale)
    return pm.Normal(name, mu, sd, dims=GENE)


def line_offsets(name: str = "cell_line_effect", scale: float = 0.5) -> pt.TensorVariable:
    """``β ~ ZeroSumNormal(scale)`` over cell lines: fixed-scale, zero-sum offsets.

    The zero-sum constraint is what identifies gene and cell-line intercepts (the seed's m2
    left only their sum identified). The scale is fixed rather than learnt: each line has
    hundreds of rows, so a hyper-scale adds nothing, and it had no good parametrisation —
    centred, it sat in a funnel when per-replicate normalisation leaves the offsets tiny
    (R-hat 1.39); non-centred, it mixed slowly when offsets are large and well measured
    (bulk ESS 298) — both measured on seed-sized simulations.
    """
    return pm.ZeroSumNormal(name, sigma=scale, dims=LINE)


def reference_first(levels: list[str], reference: str) -> tuple[list[str], np.ndarray]:
    """The levels other than ``reference``, and each level's position with the reference at 0.

    Models that fix a term at its reference level (0 or 1) put that constant first and the free
    values after it, then gather by these positions — a plain gather instead of a scatter.
    """
    others = [lvl for lvl in levels if lvl != reference]
    return others, np.array([0 if lvl == reference else 1 + others.index(lvl) for lvl in levels])


def _group_wls(group: pd.Series, x: pd.Series, y: pd.Series, w: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per group, the weighted least-squares slope of ``y`` on ``x``, both centred within the group.

    Returns ``Σ w x_c²`` and the slope per group (NaN where ``x`` does not vary) and each row's
    residual ``y_c − slope · x_c`` (``y_c`` where the group has no slope).
    """
    xc = x - x.groupby(group).transform("mean")
    yc = y - y.groupby(group).transform("mean")
    sxx = (w * xc**2).groupby(group).sum()
    sxy = (w * xc * yc).groupby(group).sum()
    slope = sxy / sxx.where(sxx > 0)
    return sxx, slope, yc - xc * group.map(slope).fillna(0.0)


def slopes_are_data_rich(design: Design, column: str, by: str = LINE) -> bool:
    """Whether per-group slopes on ``column`` are measured more precisely than they vary.

    The classical rule for hierarchical parametrisations: centred when the likelihood pins each
    group's slope down better than the population spread, non-centred otherwise. Per group, the
    weighted least-squares slope of the group means on ``column`` (after removing each group's
    mean, and gene means) and its standard error; the spread is a robust moment estimate
    ``τ² = (1.4826 · MAD(slopes))² − median(se²)``. Centred when the median SE is below ``τ / 2``.
    """
    frame = pd.DataFrame({"g": design.index[by], "x": design.covariates[column], "y": design.y_mean, "w": design.n})
    if GENE in design.index:
        # Remove gene means first, so gene effects do not count as noise.
        frame["y"] = frame["y"] - frame.groupby(design.index[GENE])["y"].transform("mean")
    sxx, slope, resid = _group_wls(frame["g"], frame["x"], frame["y"], frame["w"])
    ok = sxx > 0
    if ok.sum() < 3:
        return False
    slope = slope[ok]
    noise_var = float((frame["w"] * resid**2).sum() / max(frame["w"].sum() - 2 * ok.sum(), 1.0))
    se2 = noise_var / sxx[ok]
    # Robust spread: lines without copy-number variation give pure-noise slopes that would
    # inflate a plain variance.
    spread = 1.4826 * float(np.median(np.abs(slope - slope.median())))
    tau2 = spread**2 - float(se2.median())
    return tau2 > 0 and float(np.sqrt(se2.median())) < 0.5 * np.sqrt(tau2)


def noise_is_data_rich(design: Design, by: str = LINE) -> bool:
    """Whether per-group noise SDs are measured more precisely than they vary between groups.

    Per group, ``s²`` pools the within-observation sums of squares (``Σ S / Σ (n − 1)``); its
    log has standard error ``≈ 1/√(2·df)``. The spread of the true log SDs is the moment
    estimate ``τ² = var(log s) − mean(se²)``. Centred when the median SE is below ``τ / 2``.
    Designs without replicate spread (every ``n = 1``) say no.
    """
    frame = pd.DataFrame({"g": design.index[by], "ss": design.y_ss, "df": design.n - 1.0})
    pooled = frame.groupby("g")[["ss", "df"]].sum()
    pooled = pooled[(pooled["df"] > 1) & (pooled["ss"] > 0)]
    if len(pooled) < 3:
        return False
    log_s = 0.5 * np.log(pooled["ss"] / pooled["df"])
    se2 = 1.0 / (2.0 * pooled["df"])
    tau2 = float(log_s.var(ddof=1) - se2.mean())
    return tau2 > 0 and float(np.sqrt(se2.median())) < 0.5 * np.sqrt(tau2)


def _line_scaling_fit(design: Design) -> tuple[pd.DataFrame, pd.Series, pd.Series, float]:
    """Per line, the weighted least-squares fit of its gene × line means on the genes' mean effects.

    Returns the frame (with the residual ``r`` of each gene × line mean), each line's ``Σ w x²``
    and slope, and the per-row noise variance (a mean of ``n`` rows has variance ``σ²/n``, so
    ``Σ n·r² / (groups − fitted) → σ²``).
    """
    frame = pd.DataFrame({"g": design.index[GENE], "c": design.index[LINE], "y": design.y_mean, "w": design.n})
    frame["x"] = frame.groupby("g")["y"].transform("mean")
    sxx, slope, frame["r"] = _group_wls(frame["c"], frame["x"], frame["y"], frame["w"])
    noise_var = float((frame["w"] * frame["r"] ** 2).sum() / max(len(frame) - 2 * len(slope), 1.0))
    return frame, sxx, slope, noise_var


def quality_is_data_rich(design: Design) -> bool:
    """Whether per-line screen quality (a slope on the gene effects) is measured better than it varies.

    Per line, the weighted least-squares slope of its gene × line means on the genes' mean
    effects (both centred) and its standard error; the spread of log slopes is the moment
    estimate ``τ² = var(log b) − mean((se/b)²)``. Centred when the median relative SE is below
    ``τ / 2``. Lines whose slope is not clearly positive are left out of the estimate.
    """
    _, sxx, slope, noise_var = _line_scaling_fit(design)
    rel_se = np.sqrt(noise_var / sxx) / slope
    ok = (slope > 0) & (rel_se < 0.5)
    if ok.sum() < 3:
        return False
    tau2 = float(np.log(slope[ok]).var(ddof=1) - (rel_se[ok] ** 2).mean())
    return tau2 > 0 and float(rel_se[ok].median()) < 0.5 * np.sqrt(tau2)


def genes_varying_across_lines(design: Design) -> list[str]:
    """Genes whose effects vary across cell lines more than each gene × line mean is uncertain.

    After removing each line's offset and scaling of the gene effects (what screen quality
    explains), per gene: the spread of its residuals across lines, ``τ̂² = var(r_gc) − mean(se²)``
    with ``se² = σ̂²/n_gc``. A gene is listed when its median SE is below ``τ̂ / 2`` — strongly
    selective dependencies, whose gene × line effects the data pin down and which therefore
    sample best centred.
    """
    frame, _, _, noise_var = _line_scaling_fit(design)
    frame["se2"] = noise_var / frame["w"]
    grouped = frame.groupby("g")
    tau2 = grouped["r"].var(ddof=1) - grouped["se2"].mean()
    se = np.sqrt(grouped["se2"].median())
    rich = (tau2 > 0) & (se < 0.5 * np.sqrt(tau2.clip(lower=0)))
    labels = np.asarray(design.coords[GENE])
    return [str(labels[i]) for i in rich.index[rich.to_numpy()]]


def cn_slopes(design: Design, column: str, centred: bool) -> pt.TensorVariable:
    """Copy-number term per group: ``κ_c · cn``, ``κ_c ~ N(μ_κ, σ_κ)``.

    Centred or non-centred as the model decided with :func:`slopes_are_data_rich`: on the Avana sample (883
    genes per line) the non-centred form left ``μ_κ`` at R-hat 1.022 / bulk ESS 289 (centred:
    converged, ESS 4,807), while on a 26-gene × 40-line screen the centred form sat in a funnel
    (bulk ESS 8). Known limit: when few lines show any copy-number variation (26 simulated genes,
    ~12% of lines amplified) ``σ_κ`` is barely identified and mixes slowly (bulk ESS 170–330 of
    4,000 draws, also with 8,000 draws or a boundary-avoiding Gamma(2, 20) prior); the gate then
    marks the fit failed.
    """
    mu = pm.Normal("cn_slope_mu", 0.0, 0.5)
    sd = pm.HalfNormal("cn_slope_sd", 0.2)
    if centred:
        slope = pm.Normal("cn_slope", mu, sd, dims=LINE)
    else:
        z = pm.Normal("cn_slope_z", 0.0, 1.0, dims=LINE)
        slope = pm.Deterministic("cn_slope", mu + sd * z, dims=LINE)
    return per_group(slope, design, LINE) * design.covariates[column]


def library_offsets_are_data_rich(design: Design, reference: int, library: str = "library") -> bool:
    """Whether per-gene differences between libraries are measured more precisely than they vary.

    Per gene and library the weighted mean ``m_gℓ`` of its line-centred group means, with
    standard error ``σ̂/√Σn``. Each other library's means are regressed on those of the
    ``reference`` library (its code in ``design.coords[library]``), which takes out the scale; the residual spread is
    ``τ̂² = var(d_gℓ) − mean(se²_gℓ + b_ℓ² se²_g,ref)``. Centred when the median SE is below
    ``τ̂ / 2``. On the Avana + KY sample (library offsets SD ≈ 0.25, ~80 guide × line
    measurements per gene and library) this says centred; on a simulation whose second library
    only scales the effects, non-centred.
    """
    frame = pd.DataFrame(
        {"g": design.index[GENE], "l": design.index[library], "c": design.index[LINE], "y": design.y_mean,
         "w": design.n}
    )  # fmt: skip
    frame["y"] = frame["y"] - frame.groupby(["c", "l"])["y"].transform("mean")
    frame["wy"] = frame["w"] * frame["y"]
    cell = frame.groupby(["g", "l"])[["wy", "w"]].sum()
    cell["m"] = cell["wy"] / cell["w"]
    frame["r"] = frame["y"] - frame.set_index(["g", "l"]).index.map(cell["m"]).to_numpy()
    # A mean of n rows has variance σ²/n, so Σ n·r² / (groups − cells) estimates the row variance σ².
    noise_var = float((frame["w"] * frame["r"] ** 2).sum() / max(len(frame) - len(cell), 1.0))
    cell["se2"] = noise_var / cell["w"]
    means, se2 = cell["m"].unstack(), cell["se2"].unstack()
    ref = reference
    residuals, errors = [], []
    for lib in means.columns:
        if lib == ref:
            continue
        both = means[[ref, lib]].dropna().index
        x, y = means.loc[both, ref], means.loc[both, lib]
        if len(both) < 3 or float((x**2).sum()) == 0:
            continue
        b = float((x * y).sum() / (x**2).sum())
        residuals.append(y - b * x)
        errors.append(se2.loc[both, lib] + b**2 * se2.loc[both, ref])
    if not residuals:
        return False
    d, e = pd.concat(residuals), pd.concat(errors)
    tau2 = float(d.var(ddof=1) - e.mean())
    return tau2 > 0 and float(np.sqrt(e.median())) < 0.5 * np.sqrt(tau2)
