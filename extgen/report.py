"""How a command's result reaches the user: as text, as GitHub annotations, or as JSON.

Commands say what they found (issues, notes, details, a summary); a `Reporter` prints
it in the chosen format, and nothing else formats a problem:

- text: one problem per line, `FILE:LINE:COL: error: MESSAGE`, on stderr (what compilers
  and linters print, and what editors jump to);
- github: GitHub Actions workflow commands (`::error file=F,line=L,col=C::MESSAGE`) on
  stdout, which the runner turns into annotations on the pull request's lines; the
  human lines stay on stderr as in text;
- json: one JSON document on stdout, and nothing else, for other programs.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import click

from extgen.errors import Problem

Format = Literal["text", "json", "github"]
FORMATS: tuple[Format, ...] = ("text", "json", "github")


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """ "1 environment", "2 environments"; `nouns` when the plural is not noun + s."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def choose_format(chosen: str | None, environ: Mapping[str, str]) -> Format:
    """The format asked for, else `github` inside GitHub Actions, else `text`."""
    if chosen is not None:
        return cast(Format, chosen)
    return "github" if environ.get("GITHUB_ACTIONS") == "true" else "text"


@dataclass(frozen=True)
class Issue:
    """One problem as reported: where (as far as known) and what.

    `text` is its line in the text format, which predates the other formats and stays
    exactly as it was.
    """

    message: str
    text: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    level: Literal["error", "warning"] = "error"

    @classmethod
    def of(cls, problem: Problem) -> Issue:
        position = problem.position
        return cls(problem.message, problem.format(), position.file, position.line, position.column)

    @classmethod
    def error(cls, message: str, file: str | None = None) -> Issue:
        return cls(message, f"error: {message}", file)

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


SAY_BATCH = 4096  # lines per write


class Reporter:
    """Collects or prints one command's result in one format; JSON is printed at the end."""

    def __init__(self, command: str, format: Format) -> None:
        self.command = command
        self.format = format
        self.issues: list[Issue] = []
        self.notes: list[str] = []
        self.details: dict[str, Any] = {}
        self.finished = False

    def issue(self, issue: Issue) -> None:
        self.issues.append(issue)
        self.show(issue)

    def show(self, issue: Issue) -> None:
        """Prints an issue that the command lists in a JSON member of its own (doctor's
        checks), and so not among the problems."""
        if self.format == "text":
            click.echo(issue.text, err=True)
        elif self.format == "github":
            where = (issue.file, issue.line, issue.column)
            click.echo(annotation(issue.level, issue.message, *where))

    def note(self, message: str) -> None:
        self.notes.append(message)
        if self.format == "text":
            click.echo(f"note: {message}", err=True)
        elif self.format == "github":
            click.echo(annotation("notice", message))

    def say(self, lines: Iterable[str]) -> None:
        """Lines for the people reading the log; JSON has the same in its details.

        Written a few thousand at a time: one write for many, never all at once.
        """
        if self.format == "json":
            return
        lines = iter(lines)
        while chunk := list(itertools.islice(lines, SAY_BATCH)):
            click.echo("\n".join(chunk), err=True)

    def diff(self, text: str) -> None:
        if self.format != "json":
            click.echo(text, nl=False)

    def detail(self, key: str, value: Any) -> None:
        """A command-specific member of the JSON document, in the order given.

        `value` may be a function that makes it, called only if JSON is written: a list
        of 40,000 files is not worth making for a log that does not show it.
        """
        self.details[key] = value

    def finish(self, ok: bool, summary: str, *, stdout: bool = False, quiet: bool = False) -> None:
        """The last word: `summary` on stderr (stdout with `stdout`), or the JSON document.

        `quiet` when the one issue printed already says it all (except in JSON).
        """
        if self.finished:
            return
        self.finished = True
        if self.format != "json":
            if not quiet:
                click.echo(summary, err=not stdout)
            return
        document = {
            "command": self.command,
            "ok": ok,
            "summary": summary,
            "problems": [issue.as_json() for issue in self.issues],
            "notes": self.notes,
            **{key: value() if callable(value) else value for key, value in self.details.items()},
        }
        click.echo(json.dumps(document, indent=2))


def annotation(
    level: Literal["error", "warning", "notice"],
    message: str,
    file: str | None = None,
    line: int | None = None,
    column: int | None = None,
) -> str:
    """A GitHub Actions workflow command that annotates FILE (at LINE:COLUMN) with MESSAGE."""
    properties = {"file": github_path(file) if file else None, "line": line, "col": column}
    given = ",".join(
        f"{key}={_escape_property(str(value))}"
        for key, value in properties.items()
        if value is not None
    )
    return f"::{level}{' ' + given if given else ''}::{_escape_data(message)}"


def github_path(file: str, environ: Mapping[str, str] | None = None) -> str:
    """FILE relative to the repository when it lies inside it, as GitHub matches paths.

    The runner's checkout is GITHUB_WORKSPACE; a job with a `working-directory` runs
    extgen below it, so paths are made relative to the workspace first, else to the
    current directory. A path outside both is left as given.
    """
    environ = os.environ if environ is None else environ
    path = Path(os.path.abspath(file))
    for root in (environ.get("GITHUB_WORKSPACE"), os.getcwd()):
        if root and path.is_relative_to(os.path.abspath(root)):
            return path.relative_to(os.path.abspath(root)).as_posix()
    return Path(file).as_posix()


def _escape_data(text: str) -> str:
    # '%' first, or the escapes themselves would be escaped again.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
