"""The command line: the only place that prints (through `extgen.report`, in the format
the user chose) and chooses exit codes.

Exit codes: 0 success, 1 a problem the user can fix (bad catalog, drift, failed
verification), 2 wrong usage, 3 an internal error of extgen.
"""

from __future__ import annotations

import gc
import ipaddress
import json
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from extgen import __version__
from extgen.catalog import Catalog, read_catalog
from extgen.delivery import check_output_path
from extgen.errors import ExtgenError
from extgen.output import locked, scan
from extgen.plan import object_counts, plan_catalog
from extgen.render import Renderer
from extgen.report import FORMATS, Issue, Reporter, choose_format, plural
from extgen.schema import catalog_schema
from extgen.sync import Changes, apply_changes, plan_changes

if TYPE_CHECKING:  # imported by the command itself: other commands need not load it
    from extgen.doctor import Check
    from extgen.doctor_dns import Resolver

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
ISSUES_URL = "https://github.com/extgen/extgen/issues"


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


@cli.command()
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


@cli.command()
@catalog_option
@out_option
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if OUT is not up to date.")
@click.option("--diff", is_flag=True, help="Like --check, and print a unified diff.")
@click.option("-v", "--verbose", is_flag=True, help="List every file, the unchanged ones too.")
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
@format_option
@click.pass_context
def render(
    ctx: click.Context,
    catalog: Path,
    out: Path,
    check: bool,
    diff: bool,
    verbose: bool,
    templates: Path | None,
    lock_timeout: float,
) -> None:
    """Validate the catalog and write OUT.

    Prints each file created, updated or deleted (every file with --verbose) and a
    summary. With --check or --diff, writes nothing and exits 1 if OUT is out of date.
    """
    report = reporter(ctx)
    report.detail("out", str(out))
    report.detail("check", check or diff)
    if check or diff:
        changes = _planned_changes(catalog, out, templates)
        apply_changes(changes, write=False, diff=diff)
        _report_drift(report, changes, diff)
        return
    # The lock is held from the scan of OUT to the last write.
    with locked(out, lock_timeout):
        changes = _planned_changes(catalog, out, templates)
        _report_moves(report, changes)
        apply_changes(changes, write=True)
    report.say(
        f"{action:<9} {out}/{path}"
        for path, action in changes.entries()
        if verbose or action != "unchanged"
    )
    report.detail("changes", lambda: _changes(changes, diff=False))
    report.finish(True, _tally(out, changes.counts()))


def _planned_changes(catalog: Path, out: Path, templates: Path | None) -> Changes:
    """What rendering the catalog into OUT changes."""
    loaded = read_catalog(catalog)
    check_output_path(loaded.gitops, out)  # the delivery objects must point at OUT
    plan = plan_catalog(loaded)
    return plan_changes(out, plan, Renderer(templates), scan(out))


def _report_drift(report: Reporter, changes: Changes, diff: bool) -> None:
    """--check and --diff: what render would change, and exit 1 if anything."""
    _report_moves(report, changes)
    out, stale, files = changes.out, 0, 0
    for path, action in changes.entries():
        files += 1
        if action == "unchanged":
            continue
        stale += 1
        message = (
            f"out of date with the catalog: extgen render would {action} this file;"
            " run extgen render and commit the result"
        )
        report.issue(Issue(message, f"would {action} {out}/{path}", f"{out}/{path}"))
        if diff:
            report.diff(changes.diffs[path])
    report.detail("changes", lambda: _changes(changes, diff))
    if stale:
        report.finish(False, f"{out} is out of date with the catalog: run extgen render")
        raise click.exceptions.Exit(EXIT_PROBLEM)
    report.finish(True, f"{out} is up to date ({files} files)")


def _changes(changes: Changes, diff: bool) -> list[dict[str, str | None]]:
    """Every file and its action (and diff), for JSON."""
    return [
        {
            "path": f"{changes.out}/{path}",
            "action": action,
            "diff": changes.diffs.get(path) if diff and action != "unchanged" else None,
        }
        for path, action in changes.entries()
    ]


def _report_moves(report: Reporter, changes: Changes) -> None:
    for env_name, names in changes.moved.items():
        env = next(env for env in changes.plan.environments if env.name == env_name)
        moved = set(names)
        objects = sum(dep.object_count for dep in env.dependencies if dep.name in moved)
        dependencies = plural(len(names), "dependency", "dependencies")
        verb = "moves" if objects == 1 else "move"
        report.note(
            f"{plural(objects, 'object')} of {dependencies} {verb} to another shard of"
            f" {env_name}: Argo CD and Flux hand them from one application to another"
            " (see docs/sharding.md)"
        )


def _tally(out: Path, counts: dict[str, int]) -> str:
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


@cli.command()
def schema() -> None:
    """Print the catalog's JSON Schema (for editors)."""
    click.echo(json.dumps(catalog_schema(), indent=2, sort_keys=False))


DOCTOR_HELP = """Check that every target works, from the network where this runs.

\b
Hostname targets: DNS (A and AAAA, CNAMEs followed, answers extgen would refuse as an
endpoint reported); their TLS ports: handshake, chain, names and expiry. IP targets: a
TCP connection to each port (TLS where the port speaks it).

It contacts nothing but the resolvers (--resolver, else the system's) and the catalog's
own targets, at the addresses DNS gave for them. It answers for the network where it
runs, not for the cluster's: a pod may see other resolvers, routes and firewalls.

Exit 0 when no check failed (warnings allowed), 1 when any did, 2 on usage errors.
"""


def _resolver(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[Resolver, ...]:
    from extgen.doctor_dns import Resolver

    resolvers = []
    for value in values:
        host, port = value, "53"
        if value.startswith("["):
            host, _, rest = value[1:].partition("]")
            port = rest.removeprefix(":") or "53"
        elif value.count(":") == 1:
            host, port = value.split(":")
        try:
            ipaddress.ip_address(host)
            if not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(port)
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is not IP[:PORT] (an IPv6 address with a port is [IP]:PORT)"
            ) from None
        resolvers.append(Resolver(host, int(port)))
    return tuple(resolvers)


@cli.command(help=DOCTOR_HELP, short_help="Check that every target resolves and answers.")
@catalog_option
@click.option(
    "-e",
    "--environment",
    "environments",
    multiple=True,
    metavar="ENV",
    help="Check this environment (repeatable; default: all).",
)
@click.option(
    "--resolver",
    "resolvers",
    multiple=True,
    metavar="IP[:PORT]",
    callback=_resolver,
    help="Ask this DNS resolver (repeatable; default: the system's, /etc/resolv.conf).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.01),
    metavar="SECONDS",
    default=5.0,
    show_default=True,
    help="Seconds allowed to each DNS query, connection and TLS handshake.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=4096),
    metavar="N",
    default=64,
    show_default=True,
    help="Checks in flight at once.",
)
@click.option(
    "--ca-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    metavar="PEM",
    help="PEM file of the CAs to trust (default: the system's).",
)
@click.option(
    "--expiry-days",
    type=click.IntRange(min=0),
    metavar="DAYS",
    default=14,
    show_default=True,
    help="Warn about certificates that expire within this many days.",
)
@click.option("--no-tls", is_flag=True, help="Check DNS and connections only, no TLS.")
@format_option
@click.pass_context
def doctor(
    ctx: click.Context,
    catalog: Path,
    environments: tuple[str, ...],
    resolvers: tuple[Resolver, ...],
    timeout: float,
    concurrency: int,
    ca_file: Path | None,
    expiry_days: int,
    no_tls: bool,
) -> None:
    from extgen.doctor import Settings, diagnose

    report = reporter(ctx)
    report.detail("checks", [])
    loaded = read_catalog(catalog)
    chosen = _chosen_environments(loaded, environments)
    settings = Settings(
        chosen, resolvers, timeout, concurrency, ca_file, expiry_days, tls=not no_tls
    )
    findings = diagnose(loaded, settings)
    for skipped in findings.skipped:
        report.note(skipped)
    counts = dict.fromkeys(("ok", "warning", "error"), 0)
    for check in findings.checks:
        counts[check.outcome.status] += 1
        _report_check(report, check)
    report.detail("checks", lambda: [check.as_json() for check in findings.checks])
    summary = (
        f"doctor: {plural(len(findings.checks), 'check')} in"
        f" {plural(len(chosen), 'environment')}: {counts['ok']} ok,"
        f" {plural(counts['warning'], 'warning')}, {plural(counts['error'], 'error')}"
    )
    report.finish(counts["error"] == 0, summary)
    if counts["error"]:
        raise click.exceptions.Exit(EXIT_PROBLEM)


def _chosen_environments(catalog: Catalog, names: tuple[str, ...]) -> tuple[str, ...]:
    """The environments named with -e (each once, in catalog order), else all."""
    defined = list(catalog.environments)
    unknown = [name for name in names if name not in catalog.environments]
    if unknown:
        raise click.BadParameter(
            f"unknown environment {unknown[0]!r}; the catalog defines:"
            f" {', '.join(defined) or 'none'}",
            param_hint="'-e' / '--environment'",
        )
    return tuple(name for name in defined if not names or name in names)


def _report_check(report: Reporter, check: Check) -> None:
    outcome = check.outcome
    line = f"{outcome.status:<7} {check.check:<7} {check.environment}/{check.dependency}:"
    if outcome.status == "ok":
        report.say([f"{line} {outcome.message}"])
        return
    message = f"{check.dependency} in {check.environment}: {outcome.message} [{outcome.reason}]"
    where = check.position
    prefix = f"{where}: " if where else ""
    report.show(
        Issue(
            message,
            f"{prefix}{outcome.status}: {message}",
            where.file if where else None,
            where.line if where else None,
            where.column if where else None,
            level=outcome.status,
        )
    )


@cli.command("import")
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


# extgen builds hundreds of thousands of small objects that live until it exits, and
# almost none of them form reference cycles; at the default thresholds Python's cyclic
# collector walks them again and again, about a third of a run at 10,000 dependencies.
GC_THRESHOLDS = (100_000, 50, 100)


def main() -> None:
    gc.freeze()  # what the imports made is never garbage
    gc.set_threshold(*GC_THRESHOLDS)
    cli(prog_name="extgen")
