"""`extgen render`: OUT brought in line with the catalog, or with --check and --diff, what
that would change."""

from __future__ import annotations

from pathlib import Path

import click

from extgen.catalog import read_catalog
from extgen.commands.common import EXIT_PROBLEM, catalog_option, format_option, out_option, reporter
from extgen.delivery import check_output_path
from extgen.output import Existing, locked, scan
from extgen.plan import plan_catalog
from extgen.render import Renderer
from extgen.report import Issue, Reporter, plural
from extgen.sync import Changes, apply_changes, plan_changes


@click.command()
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
    scanned = _Scan(out)
    loaded = read_catalog(catalog, meanwhile=scanned)
    check_output_path(loaded.gitops, out)  # the delivery objects must point at OUT
    plan = plan_catalog(loaded)
    return plan_changes(out, plan, Renderer(templates), scanned.result())


class _Scan:
    """OUT scanned while the catalog is read (on two cores, beside the second process's
    share of the files); an error of the scan is raised only once the catalog is read,
    so that the catalog's problems come first, as if OUT were scanned after it."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.existing: Existing | None = None
        self.error: Exception | None = None

    def __call__(self) -> None:
        try:
            self.existing = scan(self.out)
        except Exception as error:  # raised again by result()
            self.error = error

    def result(self) -> Existing:
        if self.error is not None:
            raise self.error
        if self.existing is None:
            self.existing = scan(self.out)
        return self.existing


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
