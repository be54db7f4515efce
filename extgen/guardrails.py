"""Guardrails in the cluster (SPEC §9): the objects an environment's settings ask for.

Per dependency, in its own file next to its Service (one per namespace): a NetworkPolicy
allowing egress to its IP or in-cluster target, with `{fqdn: cilium}` a
CiliumNetworkPolicy allowing its hostname target by name, and a Prometheus Operator
Probe. Per environment, in `_guardrails.yaml`: a ConfigMap `extgen-connections` in each
namespace used, and the admission policy (`extgen.admission`). Pure: catalog values in,
`Manifest`s out. docs/guardrails.md says what each object does and does not cover.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from extgen import admission, connections
from extgen.guardrail_fields import split_prober
from extgen.manifest import MANAGER, NAME_LABEL, Body, Manifest
from extgen.model import (
    AddressTarget,
    Dependency,
    Environment,
    HostnameTarget,
    Port,
    SelectorTarget,
    TargetOverrides,
)

DEPENDENCY_LABEL_PREFIX = "deps.extgen.io/"
CONNECTIONS = "extgen-connections"
DNS_PORT = 53
# The cluster DNS as kubeadm, kops, EKS, GKE and AKS label it (CoreDNS keeps the name).
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}
HTTP_MODULE = "http_2xx"
TCP_MODULE = "tcp_connect"
_HTTP_APP_PROTOCOLS = ("http", "kubernetes.io/h2c")
_HTTP_PORTS = (80, 8080)


@dataclass(frozen=True)
class ObjectMeta:
    """Name, namespace, labels and annotations of a dependency's objects in one namespace."""

    namespace: str
    labels: dict[str, str]
    annotations: dict[str, str]

    def metadata(self, name: str) -> Body:
        metadata: Body = {"name": name, "namespace": self.namespace}
        metadata["labels"] = dict(sorted(self.labels.items()))
        if self.annotations:
            metadata["annotations"] = dict(sorted(self.annotations.items()))
        return metadata


def wanted(env: Environment) -> bool:
    """Whether the environment asks for any object in its dependencies' files."""
    return env.network_policy is not None or env.probes is not None


def environment_wanted(env: Environment) -> bool:
    """Whether the environment asks for any object of its own (`environment_objects`)."""
    return env.connection_config or env.admission_policy


def dependency_label(dependency: str) -> str:
    return f"{DEPENDENCY_LABEL_PREFIX}{dependency}"


def dependency_objects(
    dep: Dependency, env: Environment, target: TargetOverrides, meta: ObjectMeta
) -> list[Manifest]:
    """The guardrails of one dependency in one namespace, in a fixed order."""
    manifests = []
    if env.network_policy is not None:
        policy = network_policy(dep, target, meta)
        if policy is not None:
            manifests.append(policy)
        if env.network_policy.fqdn == "cilium" and isinstance(target, HostnameTarget):
            manifests.append(cilium_policy(dep, target, meta))
    if env.probes is not None:
        probe_object = probe(dep, env, target, meta)
        if probe_object is not None:
            manifests.append(probe_object)
    return manifests


def object_count(dep: Dependency, env: Environment, target: TargetOverrides) -> int:
    """How many objects `dependency_objects` makes per namespace, without making them."""
    count = 0
    if env.network_policy is not None:
        count += not isinstance(target, HostnameTarget)
        count += env.network_policy.fqdn == "cilium" and isinstance(target, HostnameTarget)
    if env.probes is not None:
        count += probed_port(dep.ports_in(target)) is not None
    return count


def network_policy(dep: Dependency, target: TargetOverrides, meta: ObjectMeta) -> Manifest | None:
    """Egress from the pods labelled for the dependency to its target and the cluster DNS.

    None for a hostname target: a NetworkPolicy has no rule for a name, and one that
    selected the pods would take away their egress to it.
    """
    ports = dep.ports_in(target)
    if isinstance(target, AddressTarget):
        peers: list[Body] = [{"ipBlock": {"cidr": _host_cidr(a)}} for a in target.addresses]
    elif isinstance(target, SelectorTarget):
        peers = [{"podSelector": {"matchLabels": dict(sorted(target.selector.items()))}}]
    else:
        return None
    rule: Body = {"to": peers}
    if ports:
        rule["ports"] = [_destination_port(port, target) for port in ports]
    spec = {
        "podSelector": {"matchLabels": {dependency_label(dep.name): "true"}},
        "policyTypes": ["Egress"],
        "egress": [rule, _dns_rule()],
    }
    body = _object("networking.k8s.io/v1", "NetworkPolicy", meta.metadata(dep.name))
    return Manifest({**body, "spec": spec})


def _host_cidr(address: str) -> str:
    # Addresses are canonical after validation: IPv6 ones, and only they, hold a ':'.
    return f"{address}/128" if ":" in address else f"{address}/32"


def _destination_port(port: Port, target: TargetOverrides) -> Body:
    """The port packets leave for: the endpoint's (targetPort) for IP and selector targets."""
    number: int | str = port.port
    if not isinstance(target, HostnameTarget) and port.target_port is not None:
        number = port.target_port
    return {"port": number, "protocol": port.protocol}


def _dns_rule() -> Body:
    peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": DNS_NAMESPACE}},
        "podSelector": {"matchLabels": dict(DNS_POD_LABELS)},
    }
    ports = [{"port": DNS_PORT, "protocol": protocol} for protocol in ("UDP", "TCP")]
    return {"to": [peer], "ports": ports}


def cilium_policy(dep: Dependency, target: HostnameTarget, meta: ObjectMeta) -> Manifest:
    """Egress to the hostname by name: Cilium learns its addresses from the pods' own DNS
    answers, which its DNS proxy sees through the kube-dns rule (`rules.dns`)."""
    dns = {
        "toEndpoints": [
            {
                "matchLabels": {
                    "k8s:io.kubernetes.pod.namespace": DNS_NAMESPACE,
                    **{f"k8s:{key}": value for key, value in DNS_POD_LABELS.items()},
                }
            }
        ],
        "toPorts": [
            {
                "ports": [{"port": str(DNS_PORT), "protocol": "ANY"}],
                "rules": {"dns": [{"matchPattern": "*"}]},
            }
        ],
    }
    rule: Body = {"toFQDNs": [{"matchName": target.external_name.rstrip(".")}]}
    ports = dep.ports_in(target)
    if ports:
        listed = [{"port": str(port.port), "protocol": port.protocol} for port in ports]
        rule["toPorts"] = [{"ports": listed}]
    spec = {
        "endpointSelector": {"matchLabels": {dependency_label(dep.name): "true"}},
        "egress": [dns, rule],
    }
    body = _object("cilium.io/v2", "CiliumNetworkPolicy", meta.metadata(dep.name))
    return Manifest({**body, "spec": spec})


def probed_port(ports: Iterable[Port]) -> Port | None:
    """The port a Probe watches: the first TCP one (blackbox has no generic UDP prober)."""
    return next((port for port in ports if port.protocol == "TCP"), None)


def module_for(port: Port) -> str:
    """http_2xx for plain HTTP, tcp_connect for everything else, HTTPS included: the
    in-cluster name never matches the target's certificate (extgen doctor checks that)."""
    if port.app_protocol is not None:
        return HTTP_MODULE if port.app_protocol in _HTTP_APP_PROTOCOLS else TCP_MODULE
    name = port.name or ""
    if name == "http" or name.startswith("http-") or port.port in _HTTP_PORTS:
        return HTTP_MODULE
    return TCP_MODULE


def probe(
    dep: Dependency, env: Environment, target: TargetOverrides, meta: ObjectMeta
) -> Manifest | None:
    """A blackbox probe of the Service's in-cluster name, so that cluster DNS, the
    Service and the target are watched together. None without a TCP port."""
    settings = env.probes
    assert settings is not None
    port = probed_port(dep.ports_in(target))
    if port is None:
        return None
    prober = split_prober(settings.prober)
    prober_body: Body = {"url": prober.address}
    if prober.scheme is not None:
        prober_body["scheme"] = prober.scheme
    if prober.path is not None:
        prober_body["path"] = prober.path
    static = {
        "static": [f"{dep.name}.{meta.namespace}.svc:{connections.client_port(port, target)}"],
        "labels": {"dependency": dep.name},
    }
    spec = {
        "interval": settings.interval,
        "module": settings.module or module_for(port),
        "prober": prober_body,
        "targets": {"staticConfig": static},
    }
    body = _object("monitoring.coreos.com/v1", "Probe", meta.metadata(dep.name))
    return Manifest({**body, "spec": spec})


def _object(api_version: str, kind: str, metadata: Body) -> Body:
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def environment_objects(
    environment: str, env: Environment, dependencies: Iterable[Dependency]
) -> list[Manifest]:
    """The environment-level guardrails: ConfigMaps, then the admission policy."""
    if not environment_wanted(env):
        return []
    placed = list(_placed(env, environment, dependencies))
    labels = {**env.labels, NAME_LABEL: MANAGER}
    manifests = []
    if env.connection_config:
        manifests += connections.config_maps(env, placed, labels, dict(env.annotations))
    if env.admission_policy:
        namespaces = {namespace for _, _, spaces in placed for namespace in spaces}
        namespaces.add(env.namespace)
        internal = [dep.name for dep, _, _ in placed if dep.allow_internal]
        manifests += admission.policy_objects(environment, env, namespaces, internal, labels)
    return manifests


def _placed(
    env: Environment, environment: str, dependencies: Iterable[Dependency]
) -> Iterable[tuple[Dependency, TargetOverrides, tuple[str, ...]]]:
    """Each dependency with a target here, the target and its namespaces."""
    for dep in dependencies:
        target = dep.targets.get(environment)
        if target is not None:
            namespaces = target.namespaces or dep.namespaces or (env.namespace,)
            yield dep, target, tuple(sorted(set(namespaces)))
