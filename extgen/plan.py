"""Catalog -> Plan: the Kubernetes objects of every environment. Pure.

The plan is the single truth about what extgen generates: render writes it, the written
text is parsed back and compared with it, and `verify` compares kustomize's build with it.
It is made of the catalog's records (`records.py`) and says, per environment, which
dependencies it holds and in which shard; the objects themselves are made from a
dependency's model only when asked for, and the model is read through the catalog
(`Catalog.dependency`), since a large catalog keeps its models pickled until then.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from extgen import guardrails, layout, namespaces, policy
from extgen.delivery import plan_delivery
from extgen.deploy import Destination
from extgen.manifest import (
    MANAGER,
    MAX_ENDPOINTS_PER_SLICE,
    NAME_LABEL,
    SERVICE_NAME_LABEL,
    SKIP_MIRROR_LABEL,
    SLICE_MANAGED_BY_LABEL,
    Body,
    DeliveryFile,
    Manifest,
)
from extgen.model import (
    AddressTarget,
    Dependency,
    Environment,
    HostnameTarget,
    Port,
    SelectorTarget,
    TargetOverrides,
)
from extgen.records import (
    DIGEST_SIZE,
    DependencyRecord,
    environment_inputs,
    shard_key,
    source_order,
)

if TYPE_CHECKING:
    from extgen.catalog import Catalog

SHARD_FILL = 0.8


# Not frozen: one per file, and a frozen __init__ costs twice as much; slots: 400,000 of
# them for the largest catalog.
@dataclass(eq=False, slots=True)
class DependencyPlan:
    """Every object of one dependency in one environment: one file of the output.

    The objects are made when asked for, and not kept: a render that finds a file
    current by its `inputs_digest` never makes them, and every other use needs them once.
    """

    record: DependencyRecord
    environment_plan: EnvironmentPlan

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def dependency(self) -> Dependency:
        """The model (unpickled from the catalog if it was not kept)."""
        return self.environment_plan.catalog.dependency(self.record)

    @property
    def manifests(self) -> tuple[Manifest, ...]:
        return self.make_manifests()

    def make_manifests(self) -> tuple[Manifest, ...]:
        """The objects, made anew."""
        dep, env = self.dependency, self.environment_plan
        target = dep.targets[env.name]
        assert target is not None  # planned only where it has a target
        return tuple(_manifests(dep, env.environment, target))

    @property
    def object_count(self) -> int:
        return self.record.counts[self.environment_plan.index]

    def inputs_digest(self, seed: bytes, extra: str) -> bytes:
        """A digest of `seed`, everything the objects are made from (`summarize`) and
        `extra`: equal digests mean equal objects."""
        env = self.environment_plan
        start = env.index * DIGEST_SIZE
        digest = hashlib.sha256(seed + self.record.digests[start : start + DIGEST_SIZE])
        digest.update(env.environment_json)
        digest.update(extra.encode("utf-8"))
        return digest.digest()


@dataclass(frozen=True, eq=False)
class EnvironmentPlan:
    name: str
    environment: Environment
    index: int  # in the catalog's environments, and in its records' counts and digests
    catalog: Catalog = field(repr=False)
    shards: int = 1
    # Its own objects (e.g. Namespaces), in files of its first deployment's directory.
    files: tuple[DeliveryFile, ...] = ()

    @property
    def dependencies(self) -> tuple[DependencyPlan, ...]:
        """Its dependencies, in name order; made anew each time, not kept."""
        index = self.index
        return tuple(
            DependencyPlan(record, self) for record in self.catalog.records if record.counts[index]
        )

    def shard_members(self, shard: int) -> tuple[DependencyPlan, ...]:
        """The dependencies in one shard (the only one, 0, when not split), in name order."""
        return tuple(DependencyPlan(record, self) for record in self._shards[shard])

    @cached_property
    def _shards(self) -> list[list[DependencyRecord]]:
        shards: list[list[DependencyRecord]] = [[] for _ in range(self.shards)]
        index = self.index
        for record in self.catalog.records:
            if record.counts[index]:
                shards[record.shard_key % self.shards].append(record)
        return shards

    def in_source_order(self) -> list[DependencyPlan]:
        """Its dependencies in the order of their files (see `Catalog.dependency`)."""
        index = self.index
        records = source_order(r for r in self.catalog.records if r.counts[index])
        return [DependencyPlan(record, self) for record in records]

    @cached_property
    def environment_json(self) -> bytes:
        return environment_inputs(self.environment)

    def manifests(self) -> list[Manifest]:
        """Every object, by dependency in name order, then the environment's own."""
        made = {dep.name: dep.manifests for dep in self.in_source_order()}
        own = self.environment_manifests()
        return [manifest for name in sorted(made) for manifest in made[name]] + own

    def environment_manifests(self) -> list[Manifest]:
        """The objects of the environment as a whole (guardrails), not of one dependency."""
        if not guardrails.environment_wanted(self.environment):
            return []
        dependencies = sorted((dep.dependency for dep in self.in_source_order()), key=_name)
        return guardrails.environment_objects(self.name, self.environment, dependencies)

    def shard_of(self, dependency: str | DependencyPlan) -> str | None:
        """The shard directory of a dependency, or None when the environment is not split.

        It depends on the dependency's name and the shard count only, never on the rest
        of the catalog, so adding or removing one dependency moves no other.
        """
        if self.shards == 1:
            return None
        if isinstance(dependency, str):
            return layout.shard_directory(shard_key(dependency) % self.shards)
        return layout.shard_directory(self.shard_index(dependency))

    def shard_index(self, dependency: DependencyPlan) -> int:
        """The index of a dependency's shard (0 when the environment is not split)."""
        return dependency.record.shard_key % self.shards

    def shard_directories(self) -> list[str]:
        return [layout.shard_directory(i) for i in range(self.shards)] if self.shards > 1 else []


def shard_count(objects: int, env: Environment) -> int:
    """How many shards an environment is split into.

    Unless pinned with `shards`, the count is the smallest power of two that keeps the
    average shard at 80% of shardSize (hashing is not perfectly even); powers of two
    change seldom as an environment grows.
    """
    if env.shards is not None:
        return env.shards
    if objects <= env.shard_size:
        return 1
    count = 2
    while objects > count * env.shard_size * SHARD_FILL:
        count *= 2
    return count


@dataclass(frozen=True, eq=False)
class Plan:
    environments: tuple[EnvironmentPlan, ...]
    delivery: tuple[DeliveryFile, ...] = ()

    @property
    def records(self) -> tuple[DependencyRecord, ...]:
        """The catalog's dependencies, in name order (`DependencyRecord.rank`)."""
        return self.environments[0].catalog.records if self.environments else ()


def plan_catalog(catalog: Catalog) -> Plan:
    environments = []
    totals = object_counts(catalog)
    used = namespaces.used(catalog) if namespaces.wanted(catalog) else {}
    created = namespaces.created(catalog, used)
    for index, (name, env) in enumerate(catalog.environments.items()):
        shards = shard_count(totals[name], env)
        files = namespaces.environment_files(name, env, shards, created.get(name, []))
        environments.append(EnvironmentPlan(name, env, index, catalog, shards, files))
    # The delivery objects address the environments' kustomizations and namespaces.
    destinations = [
        Destination(e.name, e.environment, e.shard_directories(), used.get(e.name, []))
        for e in environments
    ]
    return Plan(tuple(environments), plan_delivery(catalog.gitops, destinations))


def object_counts(catalog: Catalog) -> dict[str, int]:
    """Objects per environment, as plan_catalog makes them, without making them."""
    totals = [0] * len(catalog.environments)
    for record in catalog.records:
        for index, count in enumerate(record.counts):
            totals[index] += count
    for index, (name, env) in enumerate(catalog.environments.items()):
        if guardrails.environment_wanted(env):
            totals[index] += len(guardrails.environment_objects(name, env, catalog.dependencies))
    return dict(zip(catalog.environments, totals, strict=True))


def _name(dependency: Dependency) -> str:
    return dependency.name


def _manifests(dep: Dependency, env: Environment, target: TargetOverrides) -> list[Manifest]:
    namespaces = target.namespaces or dep.namespaces or (env.namespace,)
    labels = {**policy.object_labels(env, dep, target), NAME_LABEL: dep.name}
    annotations = policy.object_annotations(env, dep, target)
    ports = dep.ports_in(target)
    manifests = []
    for namespace in sorted(set(namespaces)):
        meta = _Meta(dep.name, namespace, labels, annotations)
        manifests.extend(_objects(meta, env, target, ports))
        if guardrails.wanted(env):
            guarded = guardrails.ObjectMeta(namespace, labels, annotations)
            manifests.extend(guardrails.dependency_objects(dep, env, target, guarded))
    return manifests


@dataclass(frozen=True)
class _Meta:
    service: str
    namespace: str
    labels: dict[str, str]
    annotations: dict[str, str]

    def metadata(self, name: str, extra_labels: dict[str, str] | None = None) -> Body:
        metadata: Body = {"name": name, "namespace": self.namespace}
        metadata["labels"] = dict(sorted({**self.labels, **(extra_labels or {})}.items()))
        if self.annotations:
            metadata["annotations"] = dict(sorted(self.annotations.items()))
        return metadata


def _objects(
    meta: _Meta, env: Environment, target: TargetOverrides, ports: tuple[Port, ...]
) -> list[Manifest]:
    if isinstance(target, HostnameTarget):
        spec: Body = {"type": "ExternalName", "externalName": target.external_name}
        return [_service(meta, spec, [_service_port(p, with_target=False) for p in ports])]
    if isinstance(target, SelectorTarget):
        spec = {"type": "ClusterIP", "selector": dict(sorted(target.selector.items()))}
        return [_service(meta, spec, [_service_port(p) for p in ports])]
    assert isinstance(target, AddressTarget)
    spec = {"clusterIP": "None"}
    service = _service(meta, spec, [_service_port(p) for p in ports])
    return [service, *_endpoints(meta, env, target.addresses, ports)]


def _service(meta: _Meta, spec: Body, ports: list[Body]) -> Manifest:
    if ports:
        spec = {**spec, "ports": ports}
    body = {"apiVersion": "v1", "kind": "Service", "metadata": meta.metadata(meta.service)}
    return Manifest({**body, "spec": spec})


def _service_port(port: Port, *, with_target: bool = True) -> Body:
    body: Body = {}
    if port.name is not None:
        body["name"] = port.name
    body["port"] = port.port
    body["protocol"] = port.protocol
    if port.app_protocol is not None:
        body["appProtocol"] = port.app_protocol
    if with_target and port.target_port is not None:
        body["targetPort"] = port.target_port
    return body


def _endpoint_port(port: Port, *, named: bool) -> Body:
    # EndpointSlice ports match Service ports by name, and an unnamed Service port is
    # matched by the name "" (as Kubernetes' own controller writes it).
    target = port.target_port if isinstance(port.target_port, int) else port.port
    body: Body = {"name": port.name or ""} if named or port.name else {}
    body.update({"port": target, "protocol": port.protocol})
    if port.app_protocol is not None:
        body["appProtocol"] = port.app_protocol
    return body


def _endpoints(
    meta: _Meta, env: Environment, addresses: tuple[str, ...], ports: tuple[Port, ...]
) -> list[Manifest]:
    ordered = sorted((ipaddress.ip_address(a) for a in set(addresses)), key=_ip_order)
    manifests = []
    if env.endpoints in ("EndpointSlice", "both"):
        for family in (4, 6):
            members = [str(ip) for ip in ordered if ip.version == family]
            manifests.extend(_slices(meta, family, members, ports))
    if env.endpoints in ("Endpoints", "both"):
        skip = {SKIP_MIRROR_LABEL: "true"} if env.endpoints == "both" else None
        manifests.append(_legacy_endpoints(meta, [str(ip) for ip in ordered], ports, skip))
    return manifests


def _ip_order(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[int, int]:
    return (ip.version, int(ip))


def _slices(
    meta: _Meta, family: int, addresses: list[str], ports: tuple[Port, ...]
) -> list[Manifest]:
    labels = {SERVICE_NAME_LABEL: meta.service, SLICE_MANAGED_BY_LABEL: MANAGER}
    manifests = []
    for index in range(0, len(addresses), MAX_ENDPOINTS_PER_SLICE):
        number = index // MAX_ENDPOINTS_PER_SLICE + 1
        name = f"{meta.service}-ipv{family}" + (f"-{number}" if number > 1 else "")
        chunk = addresses[index : index + MAX_ENDPOINTS_PER_SLICE]
        body: Body = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": meta.metadata(name, labels),
            "addressType": f"IPv{family}",
            "endpoints": [{"addresses": [address]} for address in chunk],
        }
        if ports:
            body["ports"] = [_endpoint_port(port, named=True) for port in ports]
        manifests.append(Manifest(body))
    return manifests


def _legacy_endpoints(
    meta: _Meta, addresses: list[str], ports: tuple[Port, ...], extra: dict[str, str] | None
) -> Manifest:
    subset: Body = {"addresses": [{"ip": address} for address in addresses]}
    if ports:
        subset["ports"] = [_endpoint_port(port, named=False) for port in ports]
    body: Body = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": meta.metadata(meta.service, extra),
        "subsets": [subset],
    }
    return Manifest(body)
