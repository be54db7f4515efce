"""`extgen verify`: OUT built with the real kustomize and checked against the catalog."""

from __future__ import annotations

from pathlib import Path

import click

from extgen.catalog import read_catalog
from extgen.commands.common import EXIT_PROBLEM, catalog_option, format_option, out_option, reporter
from extgen.plan import plan_catalog
from extgen.report import Issue, plural


@click.command("verify")
@catalog_option
@out_option
@click.option(
    "--kubernetes-version",
    metavar="X.Y",
    help="Kubernetes version of the OpenAPI schema (default: the newest one installed).",
)
@format_option
@click.pass_context
def verify_command(
    ctx: click.Context, catalog: Path, out: Path, kubernetes_version: str | None
) -> None:
    """Build every overlay and check what it yields.

    Each environment (each shard of a sharded one) and each directory of delivery objects
    is built with kustomize; every object is checked against the Kubernetes OpenAPI schema
    and must equal what the catalog defines. Needs a `kustomize` binary on PATH, else
    `kubectl` (its embedded kustomize), and says which it used.
    """
    # Imported here: the schema machinery takes a sixth of a second to import, which
    # every other command would pay for nothing.
    from extgen.kustomize import find_kustomize
    from extgen.verify import verify

    report = reporter(ctx)
    plan = plan_catalog(read_catalog(catalog))
    kustomize = find_kustomize()
    report.say([f"using {kustomize.description}"])
    report.detail("kustomize", kustomize.description)
    result = verify(out, plan, kubernetes_version, kustomize)
    # A finding names the environment and object, not a file: it is about what kustomize
    # builds, which any file of the overlay may have changed.
    for finding in result.findings:
        report.issue(Issue.error(finding.format()))
    report.detail("kubernetesVersion", result.schema_version)
    report.detail("environments", result.environments)
    report.detail("objectsBuilt", result.objects)
    summary = (
        f"{plural(result.environments, 'environment')},"
        f" {plural(result.objects, 'object')} built, schema of Kubernetes {result.schema_version}"
    )
    if result.findings:
        problems = plural(len(result.findings), "problem")
        report.finish(False, f"verify failed: {problems}; {summary}")
        raise click.exceptions.Exit(EXIT_PROBLEM)
    report.finish(True, f"verify OK: {summary}, all equal to the catalog")
