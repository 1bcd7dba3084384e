"""What a model term is: one part of a model beyond its structure, declared as data.

A term states which structures it can join (:meth:`Term.conflict`), what it needs of a screen
(:meth:`Term.missing`), the variables it adds and the tables it reports, and the model options
it sets. A :class:`~screenfit.models.spec.ModelSpec` is a structure plus a tuple of terms; it
refuses combinations that make no sense when it is made, so they cannot be written.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from screenfit.models.base import ScreenModel


@dataclass(frozen=True)
class Term(ABC):
    """A model term: immutable settings plus what the term declares about itself."""

    #: The term's name in configuration files, ``config.json`` and messages.
    key: ClassVar[str]
    #: One line for ``screenfit presets`` and the docs.
    title: ClassVar[str]

    @abstractmethod
    def conflict(self, structure: type[ScreenModel]) -> str | None:
        """Why the term cannot join ``structure`` (in words), or ``None`` when it can."""

    def missing(self, columns: Collection[str]) -> str | None:
        """What a screen with these (non-empty) columns lacks for the term, in words; ``None`` if nothing."""
        return None

    @abstractmethod
    def variables(self) -> tuple[str, ...]:
        """Names of the model variables the term adds."""

    def reports(self) -> tuple[str, ...]:
        """Tables (file stems) whose rows the term's variables appear in."""
        return ()

    @abstractmethod
    def options(self) -> dict[str, object]:
        """The :class:`~screenfit.models.base.ModelOptions` fields that switch the term on."""

    def settings(self) -> dict[str, object]:
        """The term's settings as plain data (for TOML, ``config.json`` and :func:`term_from_settings`)."""
        return asdict(self)

    def describe(self) -> str:
        """``key`` with its settings, e.g. ``guide_offsets(nu=learn)``."""
        shown = ", ".join(f"{k}={v}" for k, v in self.settings().items())
        return f"{self.key}({shown})" if shown else self.key


def lfc_with_default_noise(structure: type[ScreenModel]) -> bool:
    """Whether ``structure`` models LFC with screenfit's own noise (the seed's models keep their priors)."""
    from screenfit.models.base import ScreenModel

    return structure.observed == "lfc" and structure.noise is ScreenModel.noise
