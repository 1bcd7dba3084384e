"""What a fit decides about its model from the data, once, and keeps for every later build.

The sampled model, the unit-level model of the pointwise log-likelihood and the folds of a
K-fold comparison must have the same parameters: so a parametrisation chosen on the first design
(centred or not, and for which groups) is decided once and reused, and what the screen says about
its layout (lines read against several pDNA batches or at several time points) is noted when the
screen is checked. The plan goes into ``config.json`` and the compiled model's key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class ModelPlan:
    """The data-driven decisions of one model's fit.

    Attributes
    ----------
    parametrisation
        Per term, whether it is centred.
    centred_groups
        Per term, the labels of the groups that are centred (the rest non-centred).
    guide_offsets_by_batch
        Whether guide offsets are per guide × pDNA batch (``None`` until the first design).
    batches_within_line, days_within_line
        Whether some line was read against several pDNA batches, or at several time points
        (time courses): the evaluation unit is split by them.
    reference_level
        The reference condition or library its contrasts are taken against (``None`` until decided).
    reads_noise
        Whether the noise grows with fewer reads (the screen has final read counts; condition model).
    """

    parametrisation: dict[str, bool] = field(default_factory=dict)
    centred_groups: dict[str, frozenset[str]] = field(default_factory=dict)
    guide_offsets_by_batch: bool | None = None
    batches_within_line: bool = False
    days_within_line: bool = False
    reference_level: str | None = None
    reads_noise: bool = False

    def reference(self, decide: Callable[[], str]) -> str:
        """The reference level of the model's contrasts: decided once (on the first design built), then reused."""
        if self.reference_level is None:
            self.reference_level = decide()
        return self.reference_level

    def centred(self, term: str, decide: Callable[[], bool]) -> bool:
        """Whether ``term`` is centred: decided once (on the first design built), then reused."""
        if term not in self.parametrisation:
            self.parametrisation[term] = bool(decide())
        return self.parametrisation[term]

    def centred_subset(self, term: str, decide: Callable[[], Sequence[str]]) -> frozenset[str]:
        """Labels of the groups whose ``term`` is centred, decided once; kept by label, so a design
        over a subset of lines (K-fold) gets the same split."""
        if term not in self.centred_groups:
            self.centred_groups[term] = frozenset(decide())
        return self.centred_groups[term]

    def to_dict(self) -> dict[str, object]:
        """Plain data for ``config.json`` and the compiled model's key."""
        return {
            "parametrisation": dict(self.parametrisation),
            "centred_groups": {k: sorted(v) for k, v in self.centred_groups.items()},
            "guide_offsets_by_batch": self.guide_offsets_by_batch,
            "batches_within_line": self.batches_within_line,
            "days_within_line": self.days_within_line,
            "reference_level": self.reference_level,
            "reads_noise": self.reads_noise,
        }
