"""`extgen import`: a catalog written from the Services a team already has."""

from __future__ import annotations

from pathlib import Path

import click

from extgen.commands.common import EXIT_PROBLEM, format_option, reporter
from extgen.errors import ExtgenError
from extgen.report import Issue, plural


@click.command("import")
@click.option(
    "--env",
    "sources",
    type=(str, str),
    multiple=True,
    required=True,
    metavar="ENV PATH",
    help="Environment ENV's objects: a file, a directory (every *.yaml/*.yml below it) or -"
    " for standard input. Repeat for other environments, or for more paths of one.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the catalog to FILE (default: standard output).",
)
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@format_option
@click.pass_context
def import_command(
    ctx: click.Context, sources: tuple[tuple[str, str], ...], output: Path | None, force: bool
) -> None:
    """Write a catalog from existing Services.

    Reads Services, EndpointSlices and Endpoints from Kubernetes YAML (manifests,
    `kustomize build` output, `kubectl get svc,endpointslices,endpoints -o yaml`), one
    environment per --env, and writes one dependency per Service name. Whatever the
    catalog cannot express is reported at its FILE:LINE:COL and left out (exit 1); the
    rest is written all the same.
    """
    from extgen.importer import import_catalog, usage_problem, write_catalog

    problem = usage_problem(sources)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="--env")
    if output is not None and output.exists() and not force:
        raise ExtgenError(f"{str(output)!r} exists; choose another file, or --force to replace it")
    report = reporter(ctx)
    if output is None and report.format == "github":
        # Standard output carries the catalog: GitHub's workflow commands would mix with it.
        report.format = "text"
    imported = import_catalog(list(sources))
    for found in imported.problems:
        report.issue(Issue.of(found))
    for note in imported.notes:
        report.note(note)
    if imported.ignored:
        kinds = ", ".join(f"{kind} {count}" for kind, count in imported.ignored.items())
        report.note(f"objects of other kinds are not imported: {kinds}")
    if output is not None:
        write_catalog(output, imported.text, force=force)
    elif report.format == "json":
        report.detail("catalog", imported.text)
    else:
        click.echo(imported.text, nl=False)
    report.detail("environments", imported.environments)
    report.detail("dependencies", imported.dependencies)
    summary = (
        f"imported {plural(imported.dependencies, 'dependency', 'dependencies')} in"
        f" {plural(imported.environments, 'environment')}"
        + (f" into {output}" if output is not None else "")
    )
    if imported.problems:
        report.finish(False, f"{summary}; {len(imported.problems)} problem(s), left out")
        raise click.exceptions.Exit(EXIT_PROBLEM)
    report.finish(True, summary)
