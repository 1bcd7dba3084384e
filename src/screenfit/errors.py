"""Errors that screenfit raises for problems a user can fix.

A :class:`ScreenfitInputError` is a user mistake (a bad file, a missing column, a bad
request). The CLI prints its message as one paragraph and exits with code 1, without a
traceback. Anything else that escapes is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def describe_rows(rows: Sequence[object], limit: int = 5) -> str:
    """Render row labels as ``'3, 7, 9 and 12 more'`` for error messages."""
    shown = ", ".join(str(r) for r in list(rows)[:limit])
    extra = len(rows) - limit
    return f"{shown} and {extra} more" if extra > 0 else shown


class ScreenfitError(Exception):
    """Base class of every error screenfit raises on purpose."""


class ScreenfitInputError(ScreenfitError):
    """A problem with the user's input, stated as what, where and how to fix it.

    Parameters
    ----------
    problem
        What is wrong, in one sentence.
    file
        The file the problem is in, if any.
    column
        The column the problem is in, if any.
    rows
        Row labels (1-based data rows or index labels) that show the problem.
    fix
        What the user should do.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        column: str | None = None,
        rows: Sequence[object] | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = None if file is None else str(file)
        self.column = column
        self.rows = list(rows) if rows is not None else None
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The full one-paragraph message."""
        parts = []
        if self.file:
            parts.append(f"In {self.file}")
        if self.column:
            parts.append(f"column '{self.column}'")
        where = ", ".join(parts)
        text = f"{where}: {self.problem}" if where else self.problem
        if self.rows:
            text += f" (rows: {describe_rows(self.rows)}; {len(self.rows)} in all)"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text


class OutputExistsError(ScreenfitInputError):
    """Refusal to overwrite an existing result without ``force``."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(
            "the output already exists and screenfit never overwrites results silently.",
            file=path,
            fix="choose another --out, or pass --force to replace it.",
        )
