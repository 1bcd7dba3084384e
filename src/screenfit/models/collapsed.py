"""Gene × line effects integrated out of the likelihood: each ``θ_gc`` is conditionally Gaussian.

In gene-by-line (and its lineage variant) the mean is linear in the standardised gene × line
effect: ``θ_gc = centre_gc + τ_g z_gc``, ``z_gc ~ N(0, 1)``, and every group ``i`` of gene ``g``
in line ``c`` has mean ``b_i + a_i z_gc`` (``a_i`` is ``τ_g`` times the screen quality, the
guide's efficacy and the time factor that multiply the effect). With the Gaussian likelihood on
sufficient statistics, ``r_i = ȳ_i − b_i`` and ``w_i = n_i / σ_i²``,

``∫ p(y | z) N(z | 0, 1) dz = p(y | z = 0) · exp(B_gc² / (2 P_gc)) / √P_gc``,
``B_gc = Σ_i w_i a_i r_i``, ``P_gc = 1 + Σ_i w_i a_i²``,

and ``z_gc | y, rest ~ N(B_gc / P_gc, 1 / P_gc)``. The collapsed model samples the other
parameters from their marginal posterior and writes ``θ_gc = centre_gc + τ_g (B_gc / P_gc +
ε_gc / √P_gc)`` with ``ε_gc ~ N(0, 1)`` a free variable that enters no likelihood: an exact
reparametrisation (``ε`` is a posteriori independent of everything else), so the joint
posterior of every parameter, ``θ`` included, is unchanged.

What it buys: the spread ``τ_g`` meets the data through its marginal likelihood instead of
through ``z``. A mean-field approximation cannot represent the posterior coupling of ``τ_g``
and the ``z_gc`` and shrinks ``τ_g`` (0.060 against NUTS's 0.070, truth 0.08, on the realistic
simulation); integrated out, that coupling is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.graph.basic import Variable
from pytensor.graph.replace import graph_replace

from screenfit.data.design import GENE, LINE

#: Name of the free standard-normal variable of the reparametrisation.
EPSILON = "gene_line_eps"


@dataclass(frozen=True)
class CollapsedEffects:
    """``θ = centre + τ z`` with ``z`` a placeholder the likelihood integrates out.

    ``z`` is a symbolic input (genes × lines) that never reaches a compiled graph: the
    likelihood replaces it by 0 and 1 to read off each group's residual and coefficient.
    """

    z: pt.TensorVariable
    centre: pt.TensorVariable
    tau: pt.TensorVariable
    name: str

    @classmethod
    def declare(
        cls, centre: pt.TensorVariable, tau: pt.TensorVariable, shape: tuple[int, int], name: str
    ) -> CollapsedEffects:
        """A placeholder for the gene × line effects ``name`` of the given ``(genes, lines)`` shape."""
        z = pt.tensor(f"{name}_collapsed_z", shape=shape, dtype=pytensor.config.floatX)
        return cls(z=z, centre=centre, tau=tau, name=name)

    @property
    def theta(self) -> pt.TensorVariable:
        """The effects as the mean uses them, ``centre + τ z`` (``z`` still symbolic)."""
        return self.centre + self.tau[:, None] * self.z

    def at(self, expr: pt.TensorVariable, value: float) -> pt.TensorVariable:
        """``expr`` with every ``z`` set to ``value``."""
        constant = pt.constant(np.full(self.z.type.shape, value, dtype=self.z.dtype))
        replacements: dict[Variable, Variable] = {self.z: constant}
        replaced = graph_replace(expr, replacements, strict=False)
        return pt.as_tensor_variable(replaced)

    def split(self, resid: pt.TensorVariable) -> tuple[pt.TensorVariable, pt.TensorVariable]:
        """``(r, a)`` of a residual ``ȳ − mean`` that is affine in ``z``: ``resid = r − a z``."""
        r, slope = self.coefficients(resid)
        return r, -slope

    def coefficients(self, expr: pt.TensorVariable) -> tuple[pt.TensorVariable, pt.TensorVariable]:
        """``(e₀, A)`` of an expression affine in ``z``: ``expr = e₀ + A z``."""
        e0 = self.at(expr, 0.0)
        return e0, self.at(expr, 1.0) - e0

    def integrate(
        self,
        r: pt.TensorVariable,
        a: pt.TensorVariable,
        weight: pt.TensorVariable,
        per_gene_line: Callable[[pt.TensorVariable], pt.TensorVariable],
    ) -> None:
        """Add the marginal likelihood's correction and declare ``ε`` and the effects.

        ``r, a``: each group's residual at ``z = 0`` and coefficient; ``weight`` its ``n / σ²``;
        ``per_gene_line`` sums a per-group array into genes × lines.
        """
        self.marginalise(per_gene_line(weight * a * r), 1.0 + per_gene_line(weight * a**2))

    def marginalise(self, b: pt.TensorVariable, precision: pt.TensorVariable) -> None:
        """:meth:`integrate` from the summed statistics: ``B`` and ``P`` per gene × line."""
        pm.Potential(f"{self.name}_marginal", pt.sum(0.5 * b**2 / precision - 0.5 * pt.log(precision)))
        eps = pm.Normal(EPSILON, 0.0, 1.0, dims=(GENE, LINE))
        z = (b + pt.sqrt(precision) * eps) / precision
        pm.Deterministic(self.name, self.centre + self.tau[:, None] * z, dims=(GENE, LINE))


def segment_sum(values: pt.TensorVariable, codes: pt.TensorVariable, shape: tuple[int, ...]) -> pt.TensorVariable:
    """Per-group ``values`` summed by flat ``codes`` (e.g. gene × line, or genes) into a ``shape`` array."""
    flat = pt.zeros(int(np.prod(shape)), dtype=values.dtype)
    return pt.inc_subtensor(flat[codes], values).reshape(shape)


def columns_to_lines(
    summed: pt.TensorVariable, n_genes: int, column_line: np.ndarray, n_lines: int
) -> pt.TensorVariable:
    """A genes × columns matrix summed into genes × lines, ``column_line`` the line of each column.

    Where every line has the same number of columns, line-major (a time course read at the same
    days in every line), a reshape and a sum; otherwise a scatter-add (:func:`segment_sum`),
    whose gradient and draws cost about half as much again on CPU.
    """
    per_line = len(column_line) // n_lines
    if per_line * n_lines == len(column_line) and np.array_equal(column_line, np.repeat(np.arange(n_lines), per_line)):
        return pt.sum(summed.reshape((n_genes, n_lines, per_line)), axis=2)
    codes = np.arange(n_genes)[:, None] * n_lines + np.asarray(column_line)[None, :]
    return segment_sum(summed.ravel(), pt.constant(codes.ravel()), (n_genes, n_lines))
