"""The ConfigMap `extgen-connections`: how applications reach their dependencies.

One per namespace that holds a dependency's Service, ready for `envFrom`. Per dependency
DEP (upper case, `-` as `_`): `DEP_HOST`, the Service's in-cluster name; `DEP_PORT`, its
first port, and `DEP_PORT_NAME` for each named port (for an IP target, whose Service is
headless, the endpoints' port); `DEP_TLS_SERVER_NAME`, the name a
client must send as SNI and Host and verify the certificate against (`tls.serverName`,
else the hostname target), since the Service's name never matches the certificate.
"""

from __future__ import annotations

from collections.abc import Iterable

from extgen.manifest import Body, Manifest
from extgen.model import (
    AddressTarget,
    Dependency,
    Environment,
    HostnameTarget,
    Port,
    TargetOverrides,
)

NAME = "extgen-connections"


def variable(*parts: str) -> str:
    """`orders-db`, `port`, `http-alt` -> `ORDERS_DB_PORT_HTTP_ALT`."""
    return "_".join(part.upper().replace("-", "_") for part in parts)


def connection_data(
    dep: Dependency, target: TargetOverrides, namespace: str, cluster_domain: str
) -> dict[str, str]:
    data = {variable(dep.name, "host"): f"{dep.name}.{namespace}.svc.{cluster_domain}"}
    ports = dep.ports_in(target)
    if ports:
        data[variable(dep.name, "port")] = str(client_port(ports[0], target))
    for port in ports:
        if port.name is not None:
            data[variable(dep.name, "port", port.name)] = str(client_port(port, target))
    server_name = tls_server_name(dep, target)
    if server_name is not None:
        data[variable(dep.name, "tls-server-name")] = server_name
    return data


def client_port(port: Port, target: TargetOverrides) -> int:
    """The port clients connect to: a headless Service (IP target) forwards nothing, so its
    clients reach the endpoints' port (targetPort) directly."""
    if isinstance(target, AddressTarget) and isinstance(port.target_port, int):
        return port.target_port
    return port.port


def tls_server_name(dep: Dependency, target: TargetOverrides) -> str | None:
    if dep.tls is not None:
        return dep.tls.server_name.rstrip(".")
    if isinstance(target, HostnameTarget):
        return target.external_name.rstrip(".")
    return None


def config_maps(
    env: Environment,
    placed: Iterable[tuple[Dependency, TargetOverrides, tuple[str, ...]]],
    labels: dict[str, str],
    annotations: dict[str, str],
) -> list[Manifest]:
    """One ConfigMap per namespace used, in namespace order, keys sorted."""
    data: dict[str, dict[str, str]] = {}
    for dep, target, namespaces in placed:
        for namespace in namespaces:
            values = connection_data(dep, target, namespace, env.cluster_domain)
            data.setdefault(namespace, {}).update(values)
    manifests = []
    for namespace in sorted(data):
        metadata: Body = {"name": NAME, "namespace": namespace}
        metadata["labels"] = dict(sorted(labels.items()))
        if annotations:
            metadata["annotations"] = dict(sorted(annotations.items()))
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
        manifests.append(Manifest({**body, "data": dict(sorted(data[namespace].items()))}))
    return manifests
