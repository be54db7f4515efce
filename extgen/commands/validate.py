"""`extgen validate` and `extgen schema`: the catalog checked, and its JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import click

from extgen.catalog import Catalog, read_catalog
from extgen.commands.common import catalog_option, format_option, reporter
from extgen.plan import object_counts
from extgen.report import plural
from extgen.schema import catalog_schema


@click.command()
@catalog_option
@format_option
@click.pass_context
def validate(ctx: click.Context, catalog: Path) -> None:
    """Validate the catalog.

    Prints every problem as FILE:LINE:COL: error: MESSAGE, else a summary.
    """
    report = reporter(ctx)
    loaded = read_catalog(catalog)
    # Counted, not planned: building every object would cost a fifth of validate.
    objects = object_counts(loaded)
    report.detail("environments", len(loaded.environments))
    report.detail("dependencies", len(loaded.records))
    report.detail("objectsPerEnvironment", objects)
    report.finish(True, _summary(loaded, objects), stdout=True)


def _summary(catalog: Catalog, objects: dict[str, int]) -> str:
    counts = ", ".join(f"{name} {count}" for name, count in objects.items())
    return (
        f"catalog OK: {plural(len(catalog.environments), 'environment')},"
        f" {plural(len(catalog.records), 'dependency', 'dependencies')};"
        f" objects per environment: {counts or 'none'}"
    )


@click.command()
def schema() -> None:
    """Print the catalog's JSON Schema (for editors)."""
    click.echo(json.dumps(catalog_schema(), indent=2, sort_keys=False))
