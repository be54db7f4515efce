"""`extgen doctor`: whether every target of the catalog resolves, answers and presents the
right certificate, seen from the network where it runs.

Hostname targets are resolved (`doctor_dns`); their TLS ports are checked at the first
address that resolution gave (IPv4 first). IP targets are connected to, port by port, or
checked for TLS where the port speaks it. Nothing else is contacted: no address that
resolution refused, and nothing but the resolvers and the targets.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dns.asyncresolver

from extgen import parallel
from extgen.catalog import Catalog
from extgen.doctor_dns import (
    DnsFailure,
    Resolver,
    close_resolver,
    forbidden_reason,
    make_resolver,
    resolve,
)
from extgen.doctor_tls import Outcome, check_connect, check_tls, tls_context
from extgen.errors import Position
from extgen.model import AddressTarget, Dependency, Environment, HostnameTarget, Port
from extgen.policy import internal_reason
from extgen.records import DependencyRecord, source_order
from extgen.yamlio import Document, load_document

TLS_APP_PROTOCOLS = frozenset({"https", "tls"})
# Most of a DNS check is dnspython's CPU work (about half a millisecond a query), so a
# large catalog's targets are shared with a second process (extgen.parallel), each
# process with half of --concurrency. Below this many, a fork costs more than it saves.
SPLIT_FROM = 1000


@dataclass(frozen=True)
class Settings:
    """What the command line asked for."""

    environments: tuple[str, ...]
    resolvers: tuple[Resolver, ...] = ()
    timeout: float = 5.0
    concurrency: int = 64
    ca_file: Path | None = None
    expiry_days: int = 14
    tls: bool = True
    split_from: int = SPLIT_FROM  # targets from which a second process shares the work


@dataclass
class Check:
    """One check of one target, as reported."""

    environment: str
    dependency: str
    target: str
    check: str  # dns, tls, connect
    outcome: Outcome
    position: Position | None = None

    def as_json(self) -> dict[str, Any]:
        where = self.position
        return {
            "environment": self.environment,
            "dependency": self.dependency,
            "target": self.target,
            "check": self.check,
            "status": self.outcome.status,
            "reason": self.outcome.reason,
            "message": self.outcome.message,
            "file": where.file if where else None,
            "line": where.line if where else None,
            "column": where.column if where else None,
            "details": self.outcome.details,
        }


@dataclass(frozen=True)
class Target:
    """A hostname or IP target of a dependency in an environment."""

    environment: str
    env: Environment
    record: DependencyRecord
    dependency: Dependency
    spec: HostnameTarget | AddressTarget

    def check(self, kind: str, target: str, outcome: Outcome) -> Check:
        return Check(self.environment, self.dependency.name, target, kind, outcome)


@dataclass
class Findings:
    checks: list[Check] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # in-cluster targets, not reachable here


def diagnose(catalog: Catalog, settings: Settings) -> Findings:
    """Every check of the selected environments, in catalog order, with its position."""
    findings = Findings()
    targets = []
    for target in _targets(catalog, settings.environments):
        reason = _in_cluster(target)
        if reason:
            findings.skipped.append(reason)
        else:
            targets.append(target)
    results = _check_in_workers(targets, settings)
    positions = _Positions(catalog)
    for target, checks in zip(targets, results, strict=True):
        where = positions.of(target.record, target.environment)
        for check in checks:
            check.position = where
            findings.checks.append(check)
    return findings


def _targets(catalog: Catalog, environments: tuple[str, ...]) -> list[Target]:
    """Every hostname and IP target, by environment, then dependency name."""
    targets = []
    # In the order of the files, so that a large catalog's models are unpickled once.
    for record in source_order(catalog.records):
        dependency = catalog.dependency(record)
        for name in environments:
            spec = dependency.targets.get(name)
            if isinstance(spec, HostnameTarget | AddressTarget):
                env = catalog.environments[name]
                targets.append(Target(name, env, record, dependency, spec))
    order = {name: index for index, name in enumerate(environments)}
    return sorted(targets, key=lambda target: (order[target.environment], target.record.rank))


def _in_cluster(target: Target) -> str | None:
    if not isinstance(target.spec, HostnameTarget):
        return None
    reason = internal_reason(target.spec.external_name, target.env.cluster_domain)
    if reason is None:
        return None
    return (
        f"{target.dependency.name} in {target.environment}: {target.spec.external_name}"
        f" {reason}, which only the cluster can check"
    )


def _check_in_workers(targets: list[Target], settings: Settings) -> list[list[Check]]:
    if len(targets) < settings.split_from or not parallel.enabled("doctor"):
        return asyncio.run(_check_all(targets, settings))
    half = replace(settings, concurrency=max(1, settings.concurrency // 2))
    return parallel.split(
        "doctor", targets, lambda share: asyncio.run(_check_all(list(share), half))
    )


async def _check_all(targets: list[Target], settings: Settings) -> list[list[Check]]:
    doctor = _Doctor(settings)
    try:
        return await asyncio.gather(*(doctor.target(target) for target in targets))
    finally:
        await close_resolver(doctor.resolver)


class _Doctor:
    """The shared parts of one run: the resolver, the TLS context, the concurrency bound."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.resolver: dns.asyncresolver.Resolver = make_resolver(
            settings.resolvers, settings.timeout
        )
        self.context: ssl.SSLContext = tls_context(settings.ca_file)
        self.slots = asyncio.Semaphore(settings.concurrency)

    async def bounded(self, work: Awaitable[Outcome]) -> Outcome:
        async with self.slots:
            return await work

    async def target(self, target: Target) -> list[Check]:
        if isinstance(target.spec, HostnameTarget):
            return await self.hostname(target, target.spec.external_name)
        assert isinstance(target.spec, AddressTarget)
        return await self.addresses(target, target.spec.addresses)

    async def hostname(self, target: Target, hostname: str) -> list[Check]:
        outcome = await self.bounded(self.dns(target, hostname))
        checks = [target.check("dns", hostname, outcome)]
        if outcome.status != "ok":
            return checks
        addresses = outcome.details["addresses"]
        ipv4 = [address for address in addresses if ":" not in address]
        address = (ipv4 or addresses)[0]
        server_name = _server_name(target.dependency, hostname)
        ports = [port for port in self.tls_ports(target) if port.protocol == "TCP"]
        tls = [self.bounded(self.tls(address, port.port, server_name)) for port in ports]
        for outcome in await asyncio.gather(*tls):
            checks.append(target.check("tls", hostname, outcome))
        return checks

    async def addresses(self, target: Target, addresses: tuple[str, ...]) -> list[Check]:
        tls_ports = {id(port) for port in self.tls_ports(target)}
        ports = [port for port in target.dependency.ports_in(target.spec) if port.protocol == "TCP"]
        kinds, work = [], []
        for address in addresses:
            for port in ports:
                number = port.target_port if isinstance(port.target_port, int) else port.port
                if id(port) in tls_ports:
                    server_name = _server_name(target.dependency, address)
                    kinds.append(("tls", address))
                    work.append(self.bounded(self.tls(address, number, server_name)))
                else:
                    kinds.append(("connect", address))
                    work.append(self.bounded(check_connect(address, number, self.settings.timeout)))
        outcomes = await asyncio.gather(*work)
        return [
            target.check(kind, shown, o) for (kind, shown), o in zip(kinds, outcomes, strict=True)
        ]

    def tls_ports(self, target: Target) -> list[Port]:
        if not self.settings.tls:
            return []
        dependency = target.dependency
        return [
            port
            for port in dependency.ports_in(target.spec)
            if dependency.tls is not None
            or (port.app_protocol or "").lower() in TLS_APP_PROTOCOLS
            or port.name == "https"
            or port.port == 443
        ]

    async def dns(self, target: Target, hostname: str) -> Outcome:
        try:
            resolution = await resolve(self.resolver, hostname)
        except DnsFailure as failure:
            return Outcome(
                "error",
                failure.reason,
                failure.message,
                {"addresses": [], "cnames": [], "ttl": None},
            )
        details = resolution.details()
        for address in resolution.addresses:
            why = forbidden_reason(address, target.env.allowed_targets)
            if why:
                message = (
                    f"{hostname} resolves to {address}, {why}: extgen refuses such an endpoint,"
                    " and doctor contacts it no further"
                )
                return Outcome("error", "forbidden-address", message, details)
        shown = ", ".join(resolution.addresses)
        via = f" through {' -> '.join(resolution.cnames)}" if resolution.cnames else ""
        return Outcome(
            "ok", None, f"{hostname} resolves{via} to {shown} (TTL {resolution.ttl})", details
        )

    async def tls(self, address: str, port: int, server_name: str) -> Outcome:
        settings = self.settings
        return await check_tls(
            address, port, server_name, self.context, settings.timeout, settings.expiry_days
        )


def _server_name(dependency: Dependency, target: str) -> str:
    """The name clients must verify: tls.serverName, else the target itself."""
    return dependency.tls.server_name if dependency.tls else target


class _Positions:
    """Positions of targets, each catalog file composed once however many it holds."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.documents: dict[int, Document] = {}

    def of(self, record: DependencyRecord, environment: str) -> Position:
        document = self.documents.get(record.source)
        if document is None:
            source = self.catalog.sources[record.source]
            document = self.documents[record.source] = load_document(source.text(), source.name)
        return document.position(("dependencies", record.item, "targets", environment))
