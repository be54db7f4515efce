"""What every command shares: the run's options, its reporter, the usual options."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click

from extgen.report import FORMATS, Reporter, choose_format

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


@dataclass
class Options:
    """What the whole command line was asked for, shared by the group and its command."""

    debug: bool = False
    format: str | None = None  # as given, by --format or EXTGEN_FORMAT; None: not given
    reporter: Reporter | None = None


def reporter(ctx: click.Context) -> Reporter:
    """The command's one reporter, in the format chosen once its options are parsed."""
    options = ctx.find_root().ensure_object(Options)
    if options.reporter is None:
        command = ctx.find_root().invoked_subcommand or "extgen"
        options.reporter = Reporter(command, choose_format(options.format, os.environ))
    return options.reporter


catalog_option = click.option(
    "-c",
    "--catalog",
    type=click.Path(path_type=Path),
    default=Path("catalog"),
    show_default=True,
    help="Catalog directory (every *.yaml/*.yml below it) or one file.",
)
out_option = click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("overlays"),
    show_default=True,
    help="Output directory of the Kustomize base and overlays.",
)
FORMAT_HELP = (
    "How to report problems: text (FILE:LINE:COL: error: MESSAGE), github (GitHub Actions"
    " annotations) or json (one document on stdout). Default: github when GITHUB_ACTIONS"
    " is true, else text."
)


def _remember_format(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.find_root().ensure_object(Options).format = value


# Also accepted after the command, so that pre-commit's `args:` (appended to the hook's
# `extgen render`) can choose it; the one given there wins over the group's.
format_option = click.option(
    "--format",
    type=click.Choice(FORMATS),
    expose_value=False,
    callback=_remember_format,
    help=FORMAT_HELP,
)
