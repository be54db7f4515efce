"""`extgen doctor`: every target checked from the network where it runs."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING

import click

from extgen.catalog import Catalog, read_catalog
from extgen.commands.common import EXIT_PROBLEM, catalog_option, format_option, reporter
from extgen.report import Issue, Reporter, plural

if TYPE_CHECKING:  # imported by the command itself: other commands need not load it
    from extgen.doctor import Check
    from extgen.doctor_dns import Resolver


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


@click.command(help=DOCTOR_HELP, short_help="Check that every target resolves and answers.")
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
