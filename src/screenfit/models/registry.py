"""The model registry: names → model classes, for the API and the CLI.

Adding a model is one new module with a :class:`~screenfit.models.base.ScreenModel` subclass
and one line here.
"""

from __future__ import annotations

from screenfit.errors import ScreenfitInputError
from screenfit.models.base import ModelOptions, ScreenModel
from screenfit.models.condition import Condition
from screenfit.models.copy_number import CopyNumber
from screenfit.models.counts import Counts
from screenfit.models.gene_by_line import GeneByLine
from screenfit.models.gene_by_line_lineage import GeneByLineLineage
from screenfit.models.gene_cellline import GeneCellLine
from screenfit.models.guide import Guide
from screenfit.models.library import MultiLibrary
from screenfit.models.lineage import Lineage
from screenfit.models.seed import SeedM1, SeedM2

MODELS: dict[str, type[ScreenModel]] = {
    cls.name: cls
    for cls in (
        SeedM1,
        SeedM2,
        GeneCellLine,
        Guide,
        CopyNumber,
        GeneByLine,
        GeneByLineLineage,
        Lineage,
        Counts,
        Condition,
        MultiLibrary,
    )
}


def model_class(name: str) -> type[ScreenModel]:
    """The registered model class of ``name``; unknown names get the list of known ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise ScreenfitInputError(
            f"unknown model '{name}'. Known models: {', '.join(MODELS)}.",
            fix="pick one of those (`screenfit models` describes them).",
        ) from None


def get_model(name: str, options: ModelOptions | None = None) -> ScreenModel:
    """Instantiate a registered model by name; unknown names get the list of known ones."""
    return model_class(name)(options)
