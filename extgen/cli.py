"""The command line: the only place that prints and chooses exit codes.

Exit codes: 0 success, 1 a problem the user can fix (bad catalog, drift, failed
verification), 2 wrong usage, 3 an internal error of extgen.
"""

from __future__ import annotations

import json
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import click

from extgen import __version__
from extgen.catalog import read_catalog
from extgen.errors import ExtgenError
from extgen.kustomize import find_kustomize
from extgen.model import Catalog
from extgen.output import Change, apply, compare, locked, moves
from extgen.plan import Plan, plan_catalog
from extgen.render import Renderer
from extgen.schema import catalog_schema
from extgen.verify import verify

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
ISSUES_URL = "https://github.com/extgen/extgen/issues"


class Commands(click.Group):
    """Turns extgen's errors into exit codes, whether run as a program or in tests."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ExtgenError as error:
            for line in error.lines():
                click.echo(line, err=True)
            if error.problems:
                click.echo(f"{len(error.problems)} error(s); nothing was written", err=True)
            ctx.exit(EXIT_PROBLEM)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:  # the one place that reports extgen's own bugs
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(
                f"extgen: internal error: {type(error).__name__}: {error}\n"
                f"This is a bug in extgen. Run again with --debug and report the output at"
                f" {ISSUES_URL}",
                err=True,
            )
            ctx.exit(EXIT_INTERNAL)


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


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="extgen")
@click.option("--debug", is_flag=True, help="Show the traceback of an internal error.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Kustomize bases and overlays for external dependencies, from one catalog."""
    ctx.obj = {"debug": debug}


@cli.command()
@catalog_option
def validate(catalog: Path) -> None:
    """Validate the catalog; print every problem as FILE:LINE:COL: error: MESSAGE."""
    loaded = read_catalog(catalog)
    click.echo(_summary(loaded, plan_catalog(loaded)))


def _summary(catalog: Catalog, plan: Plan) -> str:
    counts = ", ".join(f"{env.name} {len(env.manifests())}" for env in plan.environments)
    return (
        f"catalog OK: {len(catalog.environments)} environments,"
        f" {len(catalog.dependencies)} dependencies; objects per environment: {counts or 'none'}"
    )


@cli.command()
@catalog_option
@out_option
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if OUT is not up to date.")
@click.option("--diff", is_flag=True, help="Like --check, and print a unified diff.")
@click.option(
    "--templates",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Directory of templates that replace extgen's own, file by file.",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait while another render holds OUT's lock.",
)
def render(
    catalog: Path,
    out: Path,
    check: bool,
    diff: bool,
    templates: Path | None,
    lock_timeout: float,
) -> None:
    """Validate the catalog and write OUT (or, with --check/--diff, compare only)."""
    plan = plan_catalog(read_catalog(catalog))
    files = Renderer(templates).render(plan)
    if check or diff:
        _report(out, plan, compare(out, files), diff)
        return
    with locked(out, lock_timeout):
        changes = compare(out, files)
        _report_moves(plan, changes)
        apply(out, changes)
    for change in changes:
        click.echo(f"{change.action:<9} {out / change.path}", err=True)
    click.echo(_tally(out, changes), err=True)


def _report(out: Path, plan: Plan, changes: list[Change], diff: bool) -> None:
    """--check and --diff: what render would change, and exit 1 if anything."""
    _report_moves(plan, changes)
    stale = [change for change in changes if change.action != "unchanged"]
    for change in stale:
        click.echo(f"would {change.action} {out / change.path}", err=True)
        if diff:
            click.echo(change.diff(), nl=False)
    if stale:
        click.echo(f"{out} is out of date with the catalog: run extgen render", err=True)
        raise click.exceptions.Exit(EXIT_PROBLEM)
    click.echo(f"{out} is up to date ({len(changes)} files)", err=True)


def _report_moves(plan: Plan, changes: list[Change]) -> None:
    for env_name, names in moves(changes).items():
        env = next(env for env in plan.environments if env.name == env_name)
        objects = sum(len(dep.manifests) for dep in env.dependencies if dep.name in names)
        click.echo(
            f"note: {objects} objects of {len(names)} dependencies move to another shard of"
            f" {env_name}: Argo CD and Flux hand them from one application to another"
            " (see the README, Sharding)",
            err=True,
        )


def _tally(out: Path, changes: list[Change]) -> str:
    counts = Counter(change.action for change in changes)
    parts = [f"{counts[a]} {a}d" for a in ("create", "update", "delete")]
    return f"{out}: {', '.join(parts)}, {counts['unchanged']} unchanged"


@cli.command("verify")
@catalog_option
@out_option
@click.option(
    "--kubernetes-version",
    metavar="X.Y",
    help="Kubernetes version of the OpenAPI schema (default: the newest one installed).",
)
def verify_command(catalog: Path, out: Path, kubernetes_version: str | None) -> None:
    """Build every overlay with kustomize; check it against the schema and the catalog."""
    plan = plan_catalog(read_catalog(catalog))
    kustomize = find_kustomize()
    click.echo(f"using {kustomize.description}", err=True)
    report = verify(out, plan, kubernetes_version, kustomize)
    for finding in report.findings:
        click.echo(f"error: {finding.format()}", err=True)
    summary = (
        f"{report.environments} environments, {report.objects} objects built,"
        f" schema of Kubernetes {report.schema_version}"
    )
    if report.findings:
        click.echo(f"verify failed: {len(report.findings)} problem(s); {summary}", err=True)
        raise click.exceptions.Exit(EXIT_PROBLEM)
    click.echo(f"verify OK: {summary}, all equal to the catalog", err=True)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of a catalog file (for editors)."""
    click.echo(json.dumps(catalog_schema(), indent=2, sort_keys=False))


def main() -> None:
    cli(prog_name="extgen")
