"""The one error type of extgen and the problems it carries.

Detection and formatting are separate: code that finds a problem builds a `Problem`;
only the command line turns it into text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based place in a catalog file."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Problem:
    position: Position
    message: str

    def format(self) -> str:
        # One problem, one line: tools that read FILE:LINE:COL lines depend on it.
        return f"{self.position}: error: {' '.join(self.message.splitlines())}"


class ExtgenError(Exception):
    """A mistake of the user's (bad catalog, unsafe output directory, missing tool).

    The command line prints it and exits 1; anything else escaping is an internal error.
    """

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = tuple(sorted(problems))

    def lines(self) -> list[str]:
        if self.problems:
            return [problem.format() for problem in self.problems]
        return [f"error: {self.message}"]


class CatalogError(ExtgenError):
    """The catalog has one or more problems; every one of them is carried."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        problems = tuple(problems)
        super().__init__(f"{len(problems)} error(s) in the catalog", problems)
