"""The command line: the group that gathers extgen's commands (`extgen.commands`, one
module each) and the one place that chooses exit codes. Only the commands print, through
`extgen.report`, in the format the user chose.

Exit codes: 0 success, 1 a problem the user can fix (bad catalog, drift, failed
verification), 2 wrong usage, 3 an internal error of extgen.
"""

from __future__ import annotations

import gc
import traceback
from typing import Any

import click

from extgen import __version__
from extgen.commands.common import (
    EXIT_INTERNAL,
    EXIT_PROBLEM,
    FORMAT_HELP,
    Options,
    reporter,
)
from extgen.commands.doctor import doctor
from extgen.commands.import_ import import_command
from extgen.commands.render import render
from extgen.commands.validate import schema, validate
from extgen.commands.verify import verify_command
from extgen.errors import ExtgenError
from extgen.report import FORMATS, Issue, Reporter, plural

ISSUES_URL = "https://github.com/extgen/extgen/issues"


class Commands(click.Group):
    """Turns extgen's errors into exit codes, whether run as a program or in tests."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ExtgenError as error:
            _report_error(reporter(ctx), error)
            ctx.exit(EXIT_PROBLEM)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:  # the one place that reports extgen's own bugs
            if ctx.find_root().ensure_object(Options).debug:
                traceback.print_exc()
            headline = f"extgen: internal error: {type(error).__name__}: {error}"
            report = reporter(ctx)
            report.issue(Issue(headline, headline))
            report.finish(
                False,
                "This is a bug in extgen. Run again with --debug and report the output at"
                f" {ISSUES_URL}",
            )
            ctx.exit(EXIT_INTERNAL)


def _report_error(report: Reporter, error: ExtgenError) -> None:
    if not error.problems:
        report.issue(Issue.error(error.message))
        report.finish(False, error.message, quiet=True)
        return
    for problem in error.problems:
        report.issue(Issue.of(problem))
    report.finish(False, f"{plural(len(error.problems), 'error')}; nothing was written")


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="extgen")
@click.option("--debug", is_flag=True, help="Show the traceback of an internal error.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    envvar="EXTGEN_FORMAT",
    show_envvar=True,
    help=FORMAT_HELP,
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, output_format: str | None) -> None:
    """Kustomize bases and overlays for external dependencies, from one catalog."""
    ctx.obj = Options(debug=debug, format=output_format)


for command in (validate, render, verify_command, schema, doctor, import_command):
    cli.add_command(command)

# extgen builds hundreds of thousands of small objects that live until it exits, and
# almost none of them form reference cycles; at the default thresholds Python's cyclic
# collector walks them again and again, about a third of a run at 10,000 dependencies.
GC_THRESHOLDS = (100_000, 50, 100)


def main() -> None:
    gc.freeze()  # what the imports made is never garbage
    gc.set_threshold(*GC_THRESHOLDS)
    cli(prog_name="extgen")
