"""The addresses of a headless Service without selector, from its EndpointSlices (matched
by the label kubernetes.io/service-name) or its Endpoints (the same name).

EndpointSlices that Kubernetes makes itself are not the user's: the EndpointSlice
controller's belong to Services with a selector, and the mirroring controller's are
copies of an Endpoints object, which is the one imported (the cluster mirrors it again).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from extgen.import_meta import Findings, plain, read_metadata, unknown_keys
from extgen.import_read import Place, Resource, text_of
from extgen.import_services import Found
from extgen.manifest import SERVICE_NAME_LABEL, SKIP_MIRROR_LABEL, SLICE_MANAGED_BY_LABEL

CONTROLLER = "endpointslice-controller.k8s.io"
MIRRORING = "endpointslicemirroring-controller.k8s.io"
SLICE_KEYS = frozenset({"apiVersion", "kind", "metadata", "addressType", "endpoints", "ports"})
ENDPOINTS_KEYS = frozenset({"apiVersion", "kind", "metadata", "subsets"})
# What an endpoint may say beyond its address: that it is ready, as nothing is the same.
READY = {"ready": True, "serving": True, "terminating": False}
Address = tuple[str, Place]
PortKey = tuple[str, Any, Any, Any]


def slice_manager(resource: Resource) -> str:
    labels = resource.metadata.get("labels")
    return text_of(labels.get(SLICE_MANAGED_BY_LABEL)) if isinstance(labels, dict) else ""


def slice_service(resource: Resource) -> str:
    labels = resource.metadata.get("labels")
    return text_of(labels.get(SERVICE_NAME_LABEL)) if isinstance(labels, dict) else ""


def _skips_mirror(endpoints: Resource) -> bool:
    labels = endpoints.metadata.get("labels")
    return isinstance(labels, dict) and text_of(labels.get(SKIP_MIRROR_LABEL)) == "true"


def attach(
    found: Found,
    slices: list[Resource],
    mirrored: list[Resource],
    endpoints: Resource | None,
    findings: Findings,
) -> bool:
    """Sets the addresses and the kind of endpoint objects of `found`; False when they
    cannot be expressed (every reason reported)."""
    mode = _mode(found, slices, mirrored, endpoints, findings)
    if mode is None:
        return False
    before = len(findings.problems)
    from_slices = _slice_addresses(found, slices, findings) if slices else None
    from_endpoints = _endpoints_addresses(found, endpoints, findings) if endpoints else None
    if len(findings.problems) > before:
        return False
    both = from_slices is not None and from_endpoints is not None
    if both and endpoints is not None and not _same(from_slices, from_endpoints):
        findings.refuse(
            endpoints,
            ("subsets",),
            "its addresses are not those of the EndpointSlices of the same Service:"
            " extgen writes the same addresses in both",
            f"left out with Service {found.namespace}/{found.name}",
        )
        return False
    # What only the metadata says leaves out a label or an annotation, not the Service.
    for resource in [*slices, *([endpoints] if endpoints else [])]:
        _check_metadata(found, resource, findings)
    addresses = _unique(from_slices if from_slices is not None else from_endpoints or [])
    found.value = tuple(address for address, _ in addresses)
    for index, (_, where) in enumerate(addresses):
        found.sources[("addresses", index)] = where
    found.mode = mode
    return True


def _same(first: list[Address] | None, second: list[Address] | None) -> bool:
    return {a for a, _ in first or ()} == {a for a, _ in second or ()}


def _mode(
    found: Found,
    slices: list[Resource],
    mirrored: list[Resource],
    endpoints: Resource | None,
    findings: Findings,
) -> str | None:
    with_service = f"left out with Service {found.namespace}/{found.name}"
    if mirrored and endpoints is None:
        findings.refuse(
            mirrored[0],
            ("metadata", "labels", SLICE_MANAGED_BY_LABEL),
            f"it is Kubernetes' copy of Endpoints {found.name}, which is not in the input:"
            " import the Endpoints object too (kubectl get endpoints)",
            with_service,
        )
        return None
    if endpoints is not None and slices:
        if _skips_mirror(endpoints):
            return "both"
        findings.refuse(
            endpoints,
            ("metadata",),
            "the Service has both this Endpoints object and EndpointSlices of its own, and"
            " Kubernetes mirrors the Endpoints into duplicate slices: extgen writes both"
            f' only with the label {SKIP_MIRROR_LABEL}: "true" on the Endpoints; add it,'
            " or remove one of them",
            with_service,
        )
        return None
    if slices:
        return "EndpointSlice"
    if endpoints is not None:
        if not _skips_mirror(endpoints):
            return "Endpoints"
        findings.refuse(
            endpoints,
            ("metadata", "labels", SKIP_MIRROR_LABEL),
            f"labelled {SKIP_MIRROR_LABEL} without EndpointSlices of its own, so that cluster"
            " DNS has no address for the Service: extgen writes that label only next to its"
            " own EndpointSlices",
            with_service,
        )
        return None
    findings.refuse(
        found.service,
        ("spec",),
        "a headless Service without selector, and no EndpointSlice or Endpoints of it in"
        " the input: an IP target needs its addresses",
    )
    return None


def _expected_ports(found: Found) -> list[PortKey] | None:
    """The endpoint ports extgen writes for the Service's; None while a targetPort is a
    name (which validation refuses for IP targets, saying so)."""
    keys = []
    for port in found.ports:
        target = port.get("targetPort", port.get("port"))
        if not isinstance(target, int):
            return None
        keys.append(
            (port.get("name", ""), target, port.get("protocol", "TCP"), port.get("appProtocol"))
        )
    return sorted(keys, key=repr)


def _port_keys(ports: Any) -> list[PortKey]:
    keys = []
    for port in plain(_items(ports)):
        if isinstance(port, dict):
            name = port.get("name") or ""
            keys.append(
                (name, port.get("port"), port.get("protocol", "TCP"), port.get("appProtocol"))
            )
    return sorted(keys, key=repr)


def _check_ports(
    found: Found, resource: Resource, at: tuple[str | int, ...], ports: Any, findings: Findings
) -> None:
    expected = _expected_ports(found)
    if expected is None or _port_keys(ports) == expected:
        return
    findings.refuse(
        resource,
        at,
        f"its ports {_listing(_port_keys(ports))} are not those extgen writes for the ports"
        f" of Service {found.name} ({_listing(expected)}): the same names, protocols and"
        " appProtocols, and targetPort (else port) as the number",
        f"left out with Service {found.namespace}/{found.name}",
    )


def _listing(keys: list[PortKey]) -> str:
    if not keys:
        return "none"
    return ", ".join(f"{name or '(unnamed)'} {port}/{protocol}" for name, port, protocol, _ in keys)


def _check_metadata(found: Found, resource: Resource, findings: Findings) -> None:
    """An endpoint object carries its Service's labels and annotations, as extgen writes them."""
    meta = read_metadata(resource, findings, service=found.name)
    for what, mine, service in (
        ("label", meta.labels, found.meta.labels),
        ("annotation", meta.annotations, found.meta.annotations),
    ):
        for key, value in mine.items():
            if service.get(key) != value:
                findings.refuse(
                    resource,
                    ("metadata", f"{what}s", key),
                    f"{what} {key} is not on Service {found.name} with this value: extgen gives"
                    f" every object of a dependency the same {what}s",
                    f"the {what} is left out",
                    key=True,
                )
        missing = sorted(set(service) - set(mine))
        if missing:
            findings.notes.append(
                f"{resource.position()}: {resource.describe()}: gets the {what}s of its"
                f" Service too ({', '.join(missing)})"
            )


def _slice_addresses(found: Found, slices: list[Resource], findings: Findings) -> list[Address]:
    addresses: list[Address] = []
    pattern = re.compile(rf"{re.escape(found.name)}-ipv[46](-[0-9]+)?")
    for resource in slices:
        for key in unknown_keys(resource, SLICE_KEYS):
            findings.refuse(resource, tuple(key.split(".")), f"extgen cannot write {key}")
        family = text_of(resource.body.get("addressType"))
        if family not in ("IPv4", "IPv6"):
            findings.refuse(
                resource,
                ("addressType",),
                f"addressType {family or '(none)'}: extgen writes IPv4 and IPv6 addresses",
                f"left out with Service {found.namespace}/{found.name}",
            )
            continue
        _check_ports(found, resource, ("ports",), resource.body.get("ports"), findings)
        endpoints = resource.body.get("endpoints") or ()
        for index, endpoint in enumerate(endpoints if isinstance(endpoints, tuple) else ()):
            address = _slice_endpoint(found, resource, index, endpoint, findings)
            if address is not None:
                addresses.append(address)
        if not pattern.fullmatch(resource.name):
            findings.renamed.append(resource)
    return addresses


def _slice_endpoint(
    found: Found, resource: Resource, index: int, endpoint: Any, findings: Findings
) -> Address | None:
    at = ("endpoints", index)
    with_service = f"left out with Service {found.namespace}/{found.name}"
    if not isinstance(endpoint, dict):
        findings.refuse(resource, at, "an endpoint must be a mapping", with_service)
        return None
    for key, value in endpoint.items():
        conditions = plain(value) if key == "conditions" else None
        if key == "addresses" or (
            isinstance(conditions, dict) and all(READY.get(k) == v for k, v in conditions.items())
        ):
            continue
        findings.refuse(
            resource,
            (*at, key),
            f"endpoints[{index}].{key}: extgen writes endpoints with one address, ready",
            with_service,
        )
        return None
    listed = endpoint.get("addresses")
    if not isinstance(listed, tuple) or len(listed) != 1:
        findings.refuse(
            resource,
            (*at, "addresses"),
            f"endpoints[{index}] has {len(listed) if isinstance(listed, tuple) else 'no'}"
            " addresses: extgen writes one address per endpoint (kube-proxy uses only the"
            " first)",
            with_service,
        )
        return None
    return text_of(listed[0]), resource.place(*at, "addresses", 0)


def _endpoints_addresses(found: Found, endpoints: Resource, findings: Findings) -> list[Address]:
    with_service = f"left out with Service {found.namespace}/{found.name}"
    for key in unknown_keys(endpoints, ENDPOINTS_KEYS):
        findings.refuse(
            endpoints, tuple(key.split(".")), f"extgen cannot write {key}", with_service
        )
    # What is not a list or a mapping where one is expected Kubernetes refuses: nothing
    # is read from it.
    subsets = [s if isinstance(s, dict) else {} for s in _items(endpoints.body.get("subsets"))]
    addresses: list[Address] = []
    for index, subset in enumerate(subsets):
        at = ("subsets", index)
        if index and _port_keys(subset.get("ports")) != _port_keys(subsets[0].get("ports")):
            findings.refuse(
                endpoints,
                (*at, "ports"),
                "several subsets with different ports: extgen writes one subset, with the"
                " Service's ports",
                with_service,
            )
            return []
        for key in subset:
            if key not in ("addresses", "ports") and subset[key]:
                reason = f"subsets[{index}].{key}: extgen writes ready addresses only"
                findings.refuse(endpoints, (*at, key), reason, with_service)
        for number, item in enumerate(_items(subset.get("addresses"))):
            extra = [key for key in item if key != "ip"] if isinstance(item, dict) else ["ip"]
            extra = extra or ([] if "ip" in item else ["ip"])
            if extra:
                reason = (
                    f"subsets[{index}].addresses[{number}].{extra[0]}: extgen writes addresses only"
                )
                findings.refuse(endpoints, (*at, "addresses", number), reason, with_service)
                continue
            addresses.append((text_of(item["ip"]), endpoints.place(*at, "addresses", number, "ip")))
    if subsets:
        _check_ports(found, endpoints, ("subsets", 0, "ports"), subsets[0].get("ports"), findings)
    return addresses


def _items(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else ()


def _unique(addresses: Iterable[Address]) -> list[Address]:
    """Each address once, in extgen's order (IPv4 first, by number; unparsable ones last,
    for validation to report)."""
    first: dict[str, Place] = {}
    for address, where in addresses:
        first.setdefault(address, where)

    def order(address: str) -> tuple[int, int, str]:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return (9, 0, address)
        return (ip.version, int(ip), address)

    return [(address, first[address]) for address in sorted(first, key=order)]
