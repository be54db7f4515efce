"""One environment's objects -> its Services as targets (`Found`), its namespace and the
kind of endpoint objects it writes; whatever cannot be expressed is reported."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from extgen.cluster import namespace_problem
from extgen.errors import Problem
from extgen.import_endpoints import CONTROLLER, MIRRORING, attach, slice_manager, slice_service
from extgen.import_meta import Findings, plain
from extgen.import_read import Input, Place, Resource
from extgen.import_services import Found, read_service

# When Services of one environment disagree, the most common kind wins; on a tie, the
# first here (EndpointSlice is what Kubernetes recommends).
MODES = ("EndpointSlice", "both", "Endpoints")
Key = tuple[str, str]  # (namespace, name)


@dataclass
class ImportedEnvironment:
    name: str
    namespace: str
    namespace_source: Place | None
    endpoints: str  # the kind of endpoint objects of its IP targets
    found: list[Found] = field(default_factory=list)


def read_environment(name: str, given: Input, findings: Findings) -> ImportedEnvironment:
    findings.problems.extend(given.problems)
    unplaced = [r for r in given.resources if not r.metadata.get("namespace")]
    if unplaced:
        findings.notes.append(
            f"{len(unplaced)} object(s) of environment {name!r} name no namespace and are taken"
            f" to be in 'default', where kubectl applies them without -n, the first"
            f" {unplaced[0].describe()} ({unplaced[0].position()})"
        )
    resources = _without_duplicates(given.resources, findings)
    services = [r for r in resources if r.kind == "Service"]
    slices: dict[Key, list[Resource]] = defaultdict(list)
    for resource in resources:
        if resource.kind == "EndpointSlice":
            slices[(resource.namespace, slice_service(resource))].append(resource)
    endpoints = {(r.namespace, r.name): r for r in resources if r.kind == "Endpoints"}
    found = []
    for service in services:
        key = (service.namespace, service.name)
        result = _target(service, slices.pop(key, []), endpoints.pop(key, None), findings)
        if result is not None:
            found.append(result)
    _refuse_orphans(slices, endpoints, findings)
    namespace, source = _namespace(found, resources)
    environment = ImportedEnvironment(name, namespace, source, _mode(found), found)
    _refuse_other_modes(environment, findings)
    return environment


def _without_duplicates(resources: list[Resource], findings: Findings) -> list[Resource]:
    """Each object once: the same object given twice (the same file, say) is one; two
    different objects of the same kind, namespace and name are both left out."""
    first: dict[tuple[str, str, str], Resource] = {}
    clashing: set[tuple[str, str, str]] = set()
    for resource in resources:
        key = (resource.kind, resource.namespace, resource.name)
        seen = first.setdefault(key, resource)
        if seen is not resource and plain(seen.body) != plain(resource.body):
            clashing.add(key)
            findings.refuse(
                resource,
                (),
                f"defined twice in this environment, differently (first at {seen.position()})",
                "both are left out",
            )
    return [r for key, r in first.items() if key not in clashing]


def _target(
    service: Resource, slices: list[Resource], endpoints: Resource | None, findings: Findings
) -> Found | None:
    own = [s for s in slices if slice_manager(s) not in (CONTROLLER, MIRRORING)]
    mirrored = [s for s in slices if slice_manager(s) == MIRRORING]
    found = read_service(service, findings)
    if found is None:
        return None
    if found.form == "addresses":
        return found if attach(found, own, mirrored, endpoints, findings) else None
    # The endpoints of a selector Service are Kubernetes' own; an ExternalName has none.
    strays = [*own, *([endpoints] if endpoints and found.form == "externalName" else [])]
    for resource in strays:
        findings.refuse(
            resource,
            ("metadata", "labels"),
            f"{resource.kind} of Service {service.name}, which is not headless without a"
            " selector: extgen writes endpoint objects for IP targets only",
        )
    return found


def _refuse_orphans(
    slices: dict[Key, list[Resource]], endpoints: dict[Key, Resource], findings: Findings
) -> None:
    for (_, service), listed in slices.items():
        for resource in listed:
            if slice_manager(resource) in (CONTROLLER, MIRRORING):
                continue  # Kubernetes' own, of a Service not imported
            reason = (
                f"its Service {service} (label kubernetes.io/service-name) is not in the input"
                if service
                else "it has no label kubernetes.io/service-name, so it belongs to no Service"
            )
            findings.refuse(resource, ("metadata",), reason)
    for resource in endpoints.values():
        findings.refuse(resource, ("metadata", "name"), "its Service is not in the input")


def _namespace(found: list[Found], resources: list[Resource]) -> tuple[str, Place | None]:
    """The namespace of most of the environment's Services (on a tie, the first by name)."""
    counts = Counter(f.namespace for f in found) or Counter(r.namespace for r in resources)
    if not counts:
        return "default", None
    # Not one of Kubernetes' own namespaces, where there is another: a Service there is
    # refused on its own, rather than the whole environment with it.
    namespace = min(
        counts, key=lambda ns: (namespace_problem(ns, None) is not None, -counts[ns], ns)
    )
    holders = [f.service for f in found if f.namespace == namespace] or resources
    return namespace, holders[0].place("metadata", "namespace")


def _mode(found: list[Found]) -> str:
    counts = Counter(f.mode for f in found if f.mode is not None)
    return min(MODES, key=lambda mode: (-counts[mode], MODES.index(mode)))


def _refuse_other_modes(environment: ImportedEnvironment, findings: Findings) -> None:
    kept = []
    for found in environment.found:
        if found.mode not in (None, environment.endpoints):
            findings.refuse(
                found.service,
                (),
                f"its endpoints are {_said(found.mode)}, but most IP Services of environment"
                f" {environment.name!r} have {_said(environment.endpoints)}, and the catalog"
                " says per environment which extgen writes (endpoints:"
                f" {environment.endpoints}); import it as another environment",
            )
        else:
            kept.append(found)
    environment.found = kept


def _said(mode: str | None) -> str:
    return {
        "EndpointSlice": "EndpointSlices",
        "Endpoints": "an Endpoints object",
        "both": "EndpointSlices and an Endpoints object labelled skip-mirror",
    }.get(mode or "", "none")


def problems_of(findings: Findings) -> list[Problem]:
    return sorted(set(findings.problems))
