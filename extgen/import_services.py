"""One Service read by `extgen import` -> the target it is in one environment, or the
reasons it cannot be one (each at its FILE:LINE:COLUMN)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from extgen.import_meta import Findings, Metadata, from_cluster, plain, read_metadata, unknown_keys
from extgen.import_read import Place, Resource, text_of
from extgen.import_write import flow
from extgen.yamlio import NodePath

SERVICE_KEYS = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
PORT_KEYS = frozenset({"name", "port", "protocol", "appProtocol", "targetPort"})
# Spec fields at the value Kubernetes gives them when they are not written.
DEFAULTS: dict[str, Any] = {
    "sessionAffinity": "None",
    "internalTrafficPolicy": "Cluster",
    "publishNotReadyAddresses": False,
    "externalIPs": [],
}
# Chosen by the cluster whatever the manifest says (for these Services).
CLUSTER_CHOSEN = frozenset({"ipFamilies", "ipFamilyPolicy"})
WHY: dict[str, str] = {
    "externalIPs": "extgen never writes externalIPs, with which a Service captures traffic"
    " to any address (CVE-2020-8554)",
    "sessionAffinity": "extgen writes Services with the default sessionAffinity None",
    "internalTrafficPolicy": "extgen writes Services with the default internalTrafficPolicy"
    " Cluster",
    "publishNotReadyAddresses": "extgen writes Services that publish ready addresses only",
}


@dataclass
class Found:
    """One Service of one environment in one namespace, as a catalog target."""

    service: Resource
    form: str  # externalName, addresses or selector
    value: Any  # a hostname, a tuple of addresses, or a selector
    ports: tuple[dict[str, Any], ...]
    meta: Metadata
    mode: str | None = None  # for addresses: EndpointSlice, Endpoints or both
    sources: dict[NodePath, Place] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def namespace(self) -> str:
        return self.service.namespace

    def content(self) -> tuple[Any, ...]:
        """What the catalog writes of it, but for the namespace."""
        meta = self.meta
        return (
            self.form,
            self.value,
            self.ports,
            meta.labels,
            meta.annotations,
            meta.own,
            self.mode,
        )


def read_service(service: Resource, findings: Findings) -> Found | None:
    """The target a Service is, as far as the Service says (addresses come later)."""
    before = len(findings.problems)
    for key in unknown_keys(service, SERVICE_KEYS):
        findings.refuse(service, tuple(key.split(".")), f"extgen cannot write {key}")
    spec = service.body.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    form = _form(service, spec, findings)
    if form is None:  # what else it says follows from its type, and is not reported
        return None
    _refuse_settings(service, spec, findings)
    ports, sources = _ports(service, spec, findings)
    if len(findings.problems) > before:
        return None
    meta = read_metadata(service, findings, service=service.name)
    found = Found(service, form, None, ports, meta, sources={**sources, **meta.sources})
    if form == "externalName":
        found.value = plain(spec.get("externalName"))
        found.sources[("externalName",)] = service.place("spec", "externalName")
    elif form == "selector":
        found.value = plain(spec.get("selector"))
        # Not a mapping: validation refuses it, at the selector.
        for key in found.value if isinstance(found.value, dict) else ():
            found.sources[("selector", key)] = service.place("spec", "selector", key)
    return found


SPEC_KEYS = frozenset(
    {"type", "externalName", "clusterIP", "clusterIPs", "ports", "selector"}
    | DEFAULTS.keys()
    | CLUSTER_CHOSEN
    | {"sessionAffinityConfig"}
)


def _form(service: Resource, spec: dict[str, Any], findings: Findings) -> str | None:
    kind = text_of(spec.get("type")) or "ClusterIP"
    headless = text_of(spec.get("clusterIP")) == "None"
    selector = bool(spec.get("selector"))
    if kind == "ExternalName":
        if selector:
            findings.refuse(
                service,
                ("spec", "selector"),
                "an ExternalName Service with a selector, which Kubernetes ignores and extgen"
                " does not write",
            )
        return "externalName"
    if kind != "ClusterIP":
        findings.refuse(
            service,
            ("spec", "type"),
            f"type {kind}: extgen writes ExternalName, headless (clusterIP: None) and"
            " ClusterIP Services only",
        )
        return None
    if headless and selector:
        findings.refuse(
            service,
            ("spec", "selector"),
            "a headless Service with a selector: extgen writes a selector target as a"
            " ClusterIP Service with a cluster IP, and IP targets as headless Services"
            " without a selector",
        )
        return None
    if selector:
        _refuse_pinned_ip(service, spec, findings)
        return "selector"
    if not headless:
        findings.refuse(
            service,
            ("spec",),
            "a ClusterIP Service without a selector that is not headless: extgen writes IP"
            " targets as headless Services (clusterIP: None) with EndpointSlices",
        )
        return None
    return "addresses"


def _refuse_pinned_ip(service: Resource, spec: dict[str, Any], findings: Findings) -> None:
    """A cluster IP in a manifest is a choice; in a cluster's object, the cluster's."""
    address = text_of(spec.get("clusterIP"))
    if address and not from_cluster(service):
        findings.refuse(
            service,
            ("spec", "clusterIP"),
            f"spec.clusterIP {address} is fixed: extgen leaves the cluster IP to the cluster",
        )


def _refuse_settings(service: Resource, spec: dict[str, Any], findings: Findings) -> None:
    for key, value in spec.items():
        if key in ("type", "externalName", "clusterIP", "clusterIPs", "ports", "selector"):
            continue
        # sessionAffinityConfig only means something with a sessionAffinity, refused itself.
        if key in CLUSTER_CHOSEN or key == "sessionAffinityConfig":
            continue
        if plain(value) == DEFAULTS.get(key, object()):
            continue
        reason = WHY.get(key, "extgen cannot write it")
        findings.refuse(service, ("spec", key), f"spec.{key} {_show(value)}: {reason}")


def _show(value: Any) -> str:
    return flow(plain(value))


def _ports(
    service: Resource, spec: dict[str, Any], findings: Findings
) -> tuple[tuple[dict[str, Any], ...], dict[NodePath, Place]]:
    ports: list[dict[str, Any]] = []
    sources: dict[NodePath, Place] = {}
    listed = spec.get("ports") or ()
    for index, item in enumerate(listed if isinstance(listed, tuple) else ()):
        at = ("spec", "ports", index)
        if not isinstance(item, dict):
            findings.refuse(service, at, "a port must be a mapping")
            continue
        for key in item:
            if key not in PORT_KEYS:
                findings.refuse(
                    service, (*at, key), f"spec.ports[{index}].{key}: extgen cannot write it"
                )
        ports.append(_port(plain(item)))
        sources[("ports", index)] = service.place(*at)
        for key in item:
            sources[("ports", index, key)] = service.place(*at, key)
    return tuple(ports), sources


def _port(item: dict[str, Any]) -> dict[str, Any]:
    """A catalog port: the defaults (protocol TCP, targetPort = port) left out."""
    port: dict[str, Any] = {}
    for key in ("name", "port", "protocol", "appProtocol", "targetPort"):
        if key in item and item[key] is not None:
            port[key] = item[key]
    if port.get("name") == "":  # how kubectl shows a Service's one unnamed port
        del port["name"]
    if port.get("protocol") == "TCP":
        del port["protocol"]
    if "targetPort" in port and port["targetPort"] == port.get("port"):
        del port["targetPort"]
    return port
