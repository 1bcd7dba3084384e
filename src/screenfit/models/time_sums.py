"""A time course's guide-level data summed over each guide's time points.

In a time course (``--time-course``) the mean of guide ``s`` in line ``c`` at day ``t`` is
``f(t) · M_sc + o_s`` — ``M_sc`` the model's mean (efficacy-scaled part included), ``o_s`` the
guide (× pDNA batch) offset, which does not grow with time — and the time factor is affine in
the day, ``f(t) = (t − δ) / (t_ref − δ)``. With ``k = t_ref − δ`` and days counted from the
reference day, ``d = t − t_ref``, the mean is a line in ``d``,

``f(t) M + o = d · s + i``,  slope ``s = M / k``, intercept ``i = M + o`` (the reference day's value),

so a guide × line's Gaussian density over its time points depends on the data only through five
sums over them — ``N = Σn``, ``D₁ = Σnd``, ``D₂ = Σnd²``, ``Y₀ = Σnȳ``, ``Y_d = Σndȳ`` — and the
within-line constant ``Σ(S + nȳ²)``:

``Σ_t [S_t + n_t (ȳ_t − d_t s − i)²] = Σ(S + nȳ²) − s (Y_d + g₁) − i (Y₀ + g₀)``,
``g₁ = Y_d − D₂ s − D₁ i``, ``g₀ = Y₀ − D₁ s − N i``

(``g`` the normal equations' residuals; exact, for any ``δ``, learnt or fixed). The model's mean
is then built on the gene × line grid instead of every (line, time point) column, and each
optimiser step and each draw reads five gene × slot × line arrays instead of two per time point.
With gene × line effects integrated out (:mod:`screenfit.models.collapsed`), ``M = M₀ + A z`` and
the effects' statistics are ``Σ_t w a_t r_t = w A (g₁/k + g₀)``, ``Σ_t w a_t² = w A² (D₂/k² +
2D₁/k + N)`` with ``a_t = A f(t)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from screenfit.data.design import DAYS, GENE, LINE, Design
from screenfit.models.guide_grid import GuideGrid


@dataclass(frozen=True)
class TimeSums:
    """Per gene × guide slot × line, the sums over the line's time points of a :class:`GuideGrid`.

    Attributes
    ----------
    design
        The gene × line design (a complete grid) the model's mean is built on. Its statistics
        are each gene × line's least-squares effect at the reference day (``ȳ = Σnfȳ / Σnf²``,
        ``n = Σnf²``; ``f`` with the fixed delay, or a guess when the delay is learnt:
        :meth:`~screenfit.models.base.ScreenModel.sampling_time_sums`): what the model's
        data-driven parametrisation choices read.
    columns
        The grid's gene × (line, time point) design (the noise's parametrisation choice reads it).
    slot_guide
        Guide code of each gene × slot, as in :class:`GuideGrid`.
    n, nd, ndd, ny, ndy
        ``Σn``, ``Σnd``, ``Σnd²``, ``Σnȳ``, ``Σndȳ`` per gene × slot × line, ``d = t − t_ref``.
    yy_line, n_line
        Per line: ``Σ(S + nȳ²)`` over its groups, and its number of rows.
    yy
        ``Σ(S + nȳ²)`` per gene × slot × line, for noise that differs between guides (else ``None``).
    batch_indicator
        ``(batches, lines)``: 1 where the line is screened against the batch.
    """

    design: Design
    columns: Design
    slot_guide: np.ndarray
    n: np.ndarray
    nd: np.ndarray
    ndd: np.ndarray
    ny: np.ndarray
    ndy: np.ndarray
    yy_line: np.ndarray
    n_line: np.ndarray
    batch_indicator: np.ndarray
    yy: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(genes, guide slots, lines)``."""
        return self.n.shape  # type: ignore[return-value]


def time_sums(grid: GuideGrid, reference_days: float, delay: float) -> TimeSums | None:
    """The time-summed form of a time course's guide grid, or ``None`` when it does not apply.

    Applies when the grid's columns are (line, time point) pairs and every covariate but the
    days is constant across a gene × line's time points. ``delay`` (days) only sets the
    reference-day statistics of :attr:`TimeSums.design`.
    """
    if not grid.by_time_point:
        return None
    columns = grid.design
    genes, _, n_columns = grid.shape
    n_lines = len(columns.coords[LINE])
    untimed = replace(columns, covariates={k: v for k, v in columns.covariates.items() if k != DAYS})
    try:
        gene_line = untimed.collapsed((GENE, LINE))
    except ValueError:
        return None  # a covariate that changes over a line's time points
    if gene_line.grid_shape is None:
        return None
    to_line = np.zeros((n_columns, n_lines))
    to_line[np.arange(n_columns), grid.column_line] = 1.0
    days = columns.covariates[DAYS][:n_columns]  # gene-major: gene 0's columns first
    d = days - reference_days
    n, y = grid.n, grid.y_mean
    yy = None
    if grid.y_ss is not None:
        yy = (grid.y_ss + n * y**2) @ to_line
    f = (days - delay) / (reference_days - delay)
    n_col, y_col = columns.n.reshape(genes, n_columns), columns.y_mean.reshape(genes, n_columns)
    nff, nfy = (n_col * f**2) @ to_line, (n_col * f * y_col) @ to_line
    ss_col = columns.y_ss.reshape(genes, n_columns) + n_col * y_col**2
    reference = nfy / nff
    ss = ss_col @ to_line - nfy**2 / nff  # Σ [S + n (ȳ − f·ȳ_ref)²]
    design = replace(gene_line, n=nff.ravel(), y_mean=reference.ravel(), y_ss=np.maximum(ss, 0.0).ravel())
    return TimeSums(
        design=design,
        columns=columns,
        slot_guide=grid.slot_guide,
        n=n @ to_line,
        nd=(n * d) @ to_line,
        ndd=(n * d**2) @ to_line,
        ny=(n * y) @ to_line,
        ndy=(n * d * y) @ to_line,
        yy_line=(grid.y_ss_line + np.sum(n * y**2, axis=(0, 1))) @ to_line,
        n_line=grid.n_line @ to_line,
        batch_indicator=(grid.batch_indicator @ to_line > 0).astype(float),
        yy=yy,
    )
