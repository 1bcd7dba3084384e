"""Guide-level observations as dense gene × guide-slot × line arrays, for models with guide offsets.

A model whose mean depends on gene and line only, plus an offset per guide (× pDNA batch),
has the Gaussian log-likelihood, per line ``c`` with noise ``σ_c`` and batch ``b(c)``,

``−N_c log σ_c − Σ_s [S_sc + n_sc (ȳ_sc − m_g(s)c − γ_s,b(c))²] / (2σ_c²)`` (+ const),

with ``n, ȳ, S`` the sufficient statistics of each guide × line. Laid out densely — genes ×
guide slots × lines, slots past a gene's last guide (and unobserved guide × lines) with ``n = 0``
— the mean broadcasts over a gene's guides and the offsets spread over lines by a product with
the batch indicator, so the density needs no gather or scatter of guide × line size (its
gradient takes about a quarter of the per-group form's time). :class:`GuideGrid`
holds the layout; :func:`guide_grid` builds it or says ``None`` when a design does not fit it.

In a time course (``days`` in the design's level: a line read at several time points) the last
axis is every (line, time point) read — a *column* — instead of every line, and the mean is
built on the gene × column design; each column knows its line (noise, pDNA batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from screenfit.data.design import DAYS, GENE, GUIDE, LINE, PDNA_BATCH, Design

#: Most padding accepted: guide slots (genes × the largest guide count) over guides.
MAX_PADDING = 1.5


@dataclass(frozen=True)
class GuideGrid:
    """Dense guide-level statistics of a design and the gene × line design they collapse to.

    Attributes
    ----------
    design
        The observations collapsed to gene × column (a complete grid, gene-major): the design
        the model's mean is built on. Columns are lines, or (line, time point) in a time course.
    slot_guide
        Guide code of each gene × slot (genes × slots, flattened); padded slots point at guide 0
        and carry ``n = 0``.
    n, y_mean
        Rows and mean LFC per gene × slot × column (``0`` where nothing was observed).
    y_ss_line, n_line
        Per column: the summed within-group sums of squares and the number of rows.
    y_ss
        Within-group sums of squares per gene × slot × column, for noise that differs between
        guides (built only on request; ``None`` otherwise).
    batch_indicator
        ``(batches, columns)``: 1 where the column's line is screened against the batch (one batch
        per line); a single row of ones when offsets are per guide only.
    column_line
        The line (code) of each column.
    """

    design: Design
    slot_guide: np.ndarray
    n: np.ndarray
    y_mean: np.ndarray
    y_ss_line: np.ndarray
    n_line: np.ndarray
    batch_indicator: np.ndarray
    column_line: np.ndarray
    y_ss: np.ndarray | None = None

    @property
    def by_time_point(self) -> bool:
        """Whether columns are (line, time point) pairs rather than lines."""
        return DAYS in self.design.level

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(genes, guide slots, columns)``."""
        return self.n.shape  # type: ignore[return-value]


def _batch_indicator(design: Design, column_line: np.ndarray) -> np.ndarray | None:
    """Batches × columns, 1 where the column's line was screened against the batch; ``None`` when
    a line was screened against several batches."""
    line, batch = design.index[LINE], design.index[PDNA_BATCH]
    line_batch = np.full(len(design.coords[LINE]), -1)
    line_batch[line] = batch
    if np.any(line_batch[line] != batch):
        return None
    return batch_indicator(line_batch, len(design.coords[PDNA_BATCH]), column_line)


def slot_layout(guide_gene: np.ndarray, n_genes: int) -> tuple[int, np.ndarray, np.ndarray] | None:
    """``(slots, rank, slot_guide)``: the guide slots per gene (its largest guide count), each
    guide's slot within its gene, and the guide in each gene × slot (padded slots: guide 0);
    ``None`` when padding costs more than :data:`MAX_PADDING` times the guides."""
    n_guides = len(guide_gene)
    per_gene = np.bincount(guide_gene, minlength=n_genes)
    slots = int(per_gene.max())
    if slots * n_genes > MAX_PADDING * n_guides:
        return None
    order = np.argsort(guide_gene, kind="stable")
    rank = np.empty(n_guides, dtype=np.int64)
    rank[order] = np.arange(n_guides) - np.repeat(np.cumsum(per_gene) - per_gene, per_gene)
    slot_guide = np.zeros(n_genes * slots, dtype=np.int64)
    slot_guide[guide_gene * slots + rank] = np.arange(n_guides)
    return slots, rank, slot_guide


def batch_indicator(line_batch: np.ndarray, n_batches: int, column_line: np.ndarray) -> np.ndarray:
    """Batches × columns, 1 where the column's line is screened against the batch (``-1``: none)."""
    column_batch = line_batch[column_line]
    indicator = np.zeros((n_batches, len(column_line)))
    seen = column_batch >= 0
    indicator[column_batch[seen], np.flatnonzero(seen)] = 1.0
    return indicator


def guide_grid(design: Design, by_batch: bool, per_guide_ss: bool = False) -> GuideGrid | None:
    """The dense layout of a guide-level design, or ``None`` when it does not fit one.

    Fits when the groups are guide × line (× batch, one batch per line; × time point in a time
    course), covariates are constant per gene × column, the gene × column collapse is a complete
    grid, and padding every gene to the largest guide count costs at most :data:`MAX_PADDING`
    times the guides. ``per_guide_ss`` also lays out each group's within-group sum of squares.
    """
    factors = {GENE, LINE, GUIDE} | ({PDNA_BATCH} if by_batch else set())
    timed = DAYS in design.level
    if set(design.level) != factors | ({DAYS} if timed else set()) or not factors <= set(design.index):
        return None
    if design.counts is not None:
        return None
    guide, line = design.index[GUIDE], design.index[LINE]
    n_lines = len(design.coords[LINE])
    if timed:
        day_values, day = np.unique(design.covariates[DAYS], return_inverse=True)
        pairs, column = np.unique(np.stack([line, day.ravel()]), axis=1, return_inverse=True)
        column, column_line = column.ravel(), pairs[0]
    else:
        column, column_line = line, np.arange(n_lines)
    n_columns = len(column_line)
    if len(np.unique(guide * n_columns + column)) != design.n_groups:
        return None  # a guide × column in several batches
    try:
        gene_column = design.collapsed((GENE, LINE, DAYS) if timed else (GENE, LINE))
    except ValueError:
        return None  # a covariate that varies between a gene's guides in a column
    n_genes = len(design.coords[GENE])
    if timed:
        # Complete and gene-major: group i is gene i // columns at column i % columns.
        code = np.searchsorted(day_values, gene_column.covariates[DAYS])
        if gene_column.n_groups != n_genes * n_columns or not (
            np.array_equal(gene_column.index[GENE], np.repeat(np.arange(n_genes), n_columns))
            and np.array_equal(np.stack([gene_column.index[LINE], code]), np.tile(pairs, n_genes))
        ):
            return None
    elif gene_column.grid_shape is None:
        return None
    guide_gene = design.guide_gene
    layout = slot_layout(guide_gene, n_genes)
    if layout is None:
        return None
    slots, rank, slot_guide = layout
    n = np.zeros((n_genes, slots, n_columns))
    y_mean = np.zeros_like(n)
    n[guide_gene[guide], rank[guide], column] = design.n
    y_mean[guide_gene[guide], rank[guide], column] = design.y_mean
    y_ss = None
    if per_guide_ss:
        y_ss = np.zeros_like(n)
        y_ss[guide_gene[guide], rank[guide], column] = design.y_ss
    indicator = _batch_indicator(design, column_line) if by_batch else np.ones((1, n_columns))
    if indicator is None:
        return None  # a line screened against several batches
    return GuideGrid(
        design=gene_column,
        slot_guide=slot_guide,
        n=n,
        y_mean=y_mean,
        y_ss_line=np.bincount(column, weights=design.y_ss, minlength=n_columns),
        n_line=np.bincount(column, weights=design.n, minlength=n_columns),
        batch_indicator=indicator,
        column_line=column_line,
        y_ss=y_ss,
    )
