"""A model as data: a structure (what varies) plus a tuple of terms, checked when it is made.

The structure is a registered model (gene; gene + line; gene × line; lineage pooling; condition;
library; the seed's models); the terms are the parts beyond it (:mod:`screenfit.models.terms`).
A :class:`ModelSpec` refuses a combination that makes no sense when it is constructed, speaks of
terms and options (never of command-line flags), and turns into the engine's flat
:class:`~screenfit.models.base.ModelOptions` (:meth:`ModelSpec.options`) and back
(:meth:`ModelSpec.from_options`: the translation table that keeps the old option names working).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, TypeVar

from screenfit.errors import ScreenfitInputError
from screenfit.models.terms import (
    TERMS,
    CopyNumber,
    GuideEfficacy,
    Term,
    term_from_settings,
    terms_from_options,
)

if TYPE_CHECKING:
    from screenfit.models.base import ModelOptions, ScreenModel

T = TypeVar("T", bound=Term)

#: What a lineage-pooled structure becomes on a screen without lineage annotations.
WITHOUT_LINEAGE = {"gene-by-line-lineage": "gene-by-line", "lineage": "gene-cellline"}


@dataclass(frozen=True)
class ModelSpec:
    """A structure plus terms, and the settings that shape what is reported.

    Attributes
    ----------
    structure
        A registered model name (``screenfit models``).
    terms
        Terms beyond the structure, at most one of each kind.
    dependency_threshold
        Effects below this count as a dependency in the probability columns.
    reference_condition, min_difference
        Condition structures: the reference arm (default: the one named vehicle, control, DMSO,
        …) and the smallest difference in LFC that counts in ``lfdr`` and ``qvalue``.
    collapse_gene_line
        Collapsible structures: integrate the gene × line effects out of the likelihood (same
        posterior); ``None`` decides by sampler (on for SVI).
    """

    structure: str = "gene-cellline"
    terms: tuple[Term, ...] = ()
    dependency_threshold: float = -0.5
    reference_condition: str | None = None
    min_difference: float = 0.1
    collapse_gene_line: bool | None = None

    def __post_init__(self) -> None:
        cls = self.model_class()
        order = list(TERMS)  # one canonical order, so equal specs compare equal
        object.__setattr__(self, "terms", tuple(sorted(self.terms, key=lambda t: order.index(t.key))))
        kinds = [type(t) for t in self.terms]
        twice = sorted({k.key for k in kinds if kinds.count(k) > 1})
        if twice:
            raise ScreenfitInputError(
                f"the model has more than one {', '.join(twice)} term.", fix="keep one of each kind of term."
            )
        for term in self.terms:
            why = term.conflict(cls)
            if why:
                raise ScreenfitInputError(
                    f"the {term.key} term cannot join structure '{self.structure}': {why}.",
                    fix=f"drop {term.key}, or pick a structure it applies to (`screenfit models`).",
                )
        efficacy = self.term(GuideEfficacy)
        if efficacy is not None and efficacy.copy_number and self.term(CopyNumber) is None:
            raise ScreenfitInputError(
                "guide_efficacy(copy_number=True) scales the copy-number term, but the model has none.",
                fix="add a copy_number term, or set guide_efficacy's copy_number to false.",
            )
        if cls.uses_cn and not cls.cn_optional and self.term(CopyNumber) is None:
            raise ScreenfitInputError(
                f"structure '{self.structure}' is built around copy number; it needs a copy_number term.",
                fix="add copy_number (column gene_cn_z or cn_excess), or pick gene-cellline.",
            )

    def model_class(self) -> type[ScreenModel]:
        """The registered class of :attr:`structure` (an error listing the known ones otherwise)."""
        from screenfit.models.registry import model_class

        return model_class(self.structure)

    def term(self, kind: type[T]) -> T | None:
        """The spec's term of this kind, or ``None``."""
        return next((t for t in self.terms if isinstance(t, kind)), None)

    def with_term(self, term: Term) -> ModelSpec:
        """This spec with ``term`` added, replacing one of its kind."""
        return replace(self, terms=(*[t for t in self.terms if type(t) is not type(term)], term))

    def without(self, kind: type[Term]) -> ModelSpec:
        """This spec without its term of this kind (and, for copy number, without efficacy's coupling to it)."""
        return replace(self, terms=_uncoupled(t for t in self.terms if not isinstance(t, kind)))

    def options(self) -> ModelOptions:
        """The engine's flat options for this spec."""
        from screenfit.models.base import ModelOptions

        values: dict[str, object] = {
            "dependency_threshold": self.dependency_threshold, "reference_condition": self.reference_condition,
            "min_difference": self.min_difference, "collapse_gene_line": self.collapse_gene_line,
        }  # fmt: skip
        if self.model_class().uses_cn:
            values["cn_column"] = None
        for term in self.terms:
            values.update(term.options())
        return ModelOptions(**values)  # type: ignore[arg-type]

    def build(self) -> ScreenModel:
        """The model instance this spec describes."""
        return self.model_class()(self.options())

    @classmethod
    def from_options(cls, structure: str, options: ModelOptions | None = None) -> ModelSpec:
        """The spec of a model named with the flat options (the translation table of the old names)."""
        from screenfit.models.base import ModelOptions
        from screenfit.models.registry import model_class

        o = options or ModelOptions()
        model = model_class(structure)
        if o.guide_offset_nu is not None and not o.guide_offsets:
            raise ScreenfitInputError(
                "guide_offset_nu sets the guide offsets' tails, but guide_offsets is off.",
                fix="turn guide_offsets on, or leave guide_offset_nu out.",
            )
        if o.cn_efficacy and not o.guide_efficacy:
            raise ScreenfitInputError(
                "cn_efficacy scales the copy-number term by each guide's efficacy, but guide_efficacy is off.",
                fix="turn guide_efficacy on, or leave cn_efficacy out.",
            )
        terms = terms_from_options(o, model.uses_cn)
        return cls(
            structure, tuple(terms), o.dependency_threshold, o.reference_condition, o.min_difference,
            o.collapse_gene_line,
        )  # fmt: skip

    def adapted_to(self, columns: Collection[str], has_lineage: bool) -> tuple[ModelSpec, list[str]]:
        """This spec with what ``columns`` cannot support left out, and a note for each.

        For presets: a term whose data the screen lacks (no copy number, no mutation calls) is
        dropped, and a lineage-pooled structure on a screen without lineages (``has_lineage``)
        becomes its unpooled form. A spec the user wrote is checked, not adapted.
        """
        spec, notes = self, []
        if self.structure in WITHOUT_LINEAGE and not has_lineage:
            plain = WITHOUT_LINEAGE[self.structure]
            kept = tuple(t for t in self.terms if t.conflict(ModelSpec(plain).model_class()) is None)
            spec = replace(spec, structure=plain, terms=kept)
            notes.append(f"lineage pooling left out: the screen has no cell-line lineages ({self.structure} → {plain})")
        for term in spec.terms:
            why = term.missing(columns)
            if why:
                spec = spec.without(type(term))
                notes.append(f"{term.key} term left out: the screen has {why}")
        return spec, notes

    def describe(self) -> str:
        """One line: the structure and its terms."""
        return " + ".join([self.structure, *(t.describe() for t in self.terms)])

    def to_dict(self) -> dict[str, object]:
        """Plain data for ``config.json`` and TOML: ``structure``, ``terms`` (key → settings) and the rest."""
        out: dict[str, object] = {"structure": self.structure, "terms": {t.key: t.settings() for t in self.terms}}
        for f in fields(self):
            if f.name not in ("structure", "terms"):
                out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object], base: ModelSpec | None = None) -> ModelSpec:
        """A spec from :meth:`to_dict`'s form, or overrides of ``base`` in that form.

        ``terms`` maps a term key to its settings (a table; ``true`` for its defaults) or ``false``
        to leave it out of ``base``. Unknown keys get an error naming the known ones.
        """
        base = base or ModelSpec()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ScreenfitInputError(
                f"unknown model setting(s) {', '.join(unknown)}.", fix=f"use {', '.join(sorted(known))}."
            )
        terms = {t.key: t for t in base.terms}
        raw_terms = data.get("terms") or {}
        if not isinstance(raw_terms, Mapping):
            raise ScreenfitInputError("'terms' must be a table of term → settings.", fix="see docs/cli.md.")
        for key, value in raw_terms.items():
            if value is False:
                if key not in TERMS:
                    term_from_settings(key)  # the error naming the known terms
                terms.pop(key, None)
            else:
                terms[key] = term_from_settings(key, {} if value is True else value)  # type: ignore[arg-type]
        rest = {k: v for k, v in data.items() if k not in ("structure", "terms")}
        structure = str(data.get("structure", base.structure))
        return replace(base, structure=structure, terms=_uncoupled(terms.values()), **rest)  # type: ignore[arg-type]


def _uncoupled(terms: Iterable[Term]) -> tuple[Term, ...]:
    """``terms`` with guide efficacy no longer coupled to copy number where no copy-number term is left."""
    terms = tuple(terms)
    if any(isinstance(t, CopyNumber) for t in terms):
        return terms
    return tuple(GuideEfficacy(copy_number=False) if isinstance(t, GuideEfficacy) else t for t in terms)
