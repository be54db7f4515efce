"""Targets of several environments -> catalog data: one dependency per Service name, with
what all its environments share hoisted to the dependency (and what all of an
environment's Services share to the environment), the rest as target overrides."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from extgen.fields import looks_like_ip
from extgen.import_environment import ImportedEnvironment
from extgen.import_meta import Findings
from extgen.import_read import Place
from extgen.import_services import Found
from extgen.yamlio import NodePath

Sources = dict[NodePath, Place]


@dataclass
class Target:
    """One dependency in one environment: a Service, in one namespace or several."""

    environment: str
    found: Found  # the first of its copies
    namespaces: list[str]

    def source(self, *path: str | int) -> Place:
        return self.found.sources.get(path, self.found.service.place())


@dataclass
class Draft:
    """A dependency to be written: its targets by environment, in environment order."""

    name: str
    targets: dict[str, Target]


def merge(environments: list[ImportedEnvironment], findings: Findings) -> list[Draft]:
    """One draft per Service name, in name order."""
    drafts: dict[str, Draft] = {}
    for environment in environments:
        copies: dict[str, list[Found]] = {}
        for found in environment.found:
            copies.setdefault(found.name, []).append(found)
        for name, listed in copies.items():
            target = _target(environment.name, listed, findings)
            if target is not None:
                drafts.setdefault(name, Draft(name, {})).targets[environment.name] = target
    for draft in drafts.values():
        _one_own(draft, findings)
    return [drafts[name] for name in sorted(drafts)]


def _target(environment: str, copies: list[Found], findings: Findings) -> Target | None:
    """The copies of a Service in several namespaces are one target if they are alike."""
    first = copies[0]
    differing = [found for found in copies[1:] if found.content() != first.content()]
    for found in differing:
        findings.refuse(
            found.service,
            (),
            f"it differs from the Service of the same name in namespace {first.namespace}"
            f" ({first.service.position()}): extgen writes the same objects in every namespace"
            " of a dependency; import the namespaces as separate environments",
            "all its copies in this environment are left out",
        )
    if differing:
        return None
    return Target(environment, first, sorted({found.namespace for found in copies}))


def _one_own(draft: Draft, findings: Findings) -> None:
    """description, owner and tls.serverName are the dependency's, the same everywhere."""
    targets = list(draft.targets.values())
    first = targets[0].found.meta.own
    for target in targets[1:]:
        own = target.found.meta.own
        if own != first:
            findings.refuse(
                target.found.service,
                ("metadata", "annotations"),
                f"its extgen.io annotations differ from those in environment"
                f" {targets[0].environment!r}: the catalog has one description, owner and"
                " tls.serverName per dependency",
                "they are left out",
            )
    if any(target.found.meta.own != first for target in targets):
        for target in targets:
            target.found.meta.own = {}


def catalog_data(
    environments: list[ImportedEnvironment], drafts: list[Draft]
) -> tuple[dict[str, Any], Sources]:
    """The catalog's data, and where each of its paths was read."""
    sources: Sources = {}
    env_data: dict[str, Any] = {}
    shared: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for environment in environments:
        targets = [d.targets[environment.name] for d in drafts if environment.name in d.targets]
        labels = _common([t.found.meta.labels for t in targets]) if len(targets) > 1 else {}
        notes = _common([t.found.meta.annotations for t in targets]) if len(targets) > 1 else {}
        shared[environment.name] = (labels, notes)
        data: dict[str, Any] = {"namespace": environment.namespace}
        at: NodePath = ("environments", environment.name)
        if environment.namespace_source is not None:
            sources[at] = sources[(*at, "namespace")] = environment.namespace_source
        for key, values in (("labels", labels), ("annotations", notes)):
            if values:
                data[key] = values
                for name in values:
                    sources[(*at, key, name)] = targets[0].source(key, name)
        if environment.endpoints != "EndpointSlice" and any(t.found.mode for t in targets):
            data["endpoints"] = environment.endpoints
        env_data[environment.name] = data
    namespaces = {environment.name: environment.namespace for environment in environments}
    dependencies = []
    for index, draft in enumerate(drafts):
        entry, found_at = _dependency(draft, namespaces, shared)
        dependencies.append(entry)
        sources[("dependencies", index)] = found_at[("name",)]
        sources.update({("dependencies", index, *path): where for path, where in found_at.items()})
    return {"environments": env_data, "dependencies": dependencies}, sources


def _common(mappings: list[dict[str, Any]]) -> dict[str, Any]:
    """The entries every mapping has, with the same value."""
    first, rest = mappings[0], mappings[1:]
    return {k: v for k, v in first.items() if all(k in m and m[k] == v for m in rest)}


def _without(mapping: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in common}


@dataclass
class _Hoisted:
    """What a dependency says for all its environments, and each environment's rest."""

    labels: dict[str, Any]
    annotations: dict[str, Any]
    namespaces: list[str] | None
    ports: tuple[dict[str, Any], ...]
    own_labels: dict[str, dict[str, Any]]  # by environment: labels not hoisted
    own_annotations: dict[str, dict[str, Any]]


def _hoisted(
    targets: list[Target],
    namespaces: dict[str, str],
    shared: dict[str, tuple[dict[str, Any], dict[str, Any]]],
) -> _Hoisted:
    labels = {
        t.environment: _without(t.found.meta.labels, shared[t.environment][0]) for t in targets
    }
    notes = {
        t.environment: _without(t.found.meta.annotations, shared[t.environment][1]) for t in targets
    }
    common_labels, common_notes = _common(list(labels.values())), _common(list(notes.values()))
    return _Hoisted(
        common_labels,
        common_notes,
        _namespaces(targets, namespaces),
        _ports(targets),
        {env: _without(values, common_labels) for env, values in labels.items()},
        {env: _without(values, common_notes) for env, values in notes.items()},
    )


def _dependency(
    draft: Draft,
    namespaces: dict[str, str],
    shared: dict[str, tuple[dict[str, Any], dict[str, Any]]],
) -> tuple[dict[str, Any], Sources]:
    targets = list(draft.targets.values())
    first = targets[0]
    entry: dict[str, Any] = {"name": draft.name}
    sources: Sources = {("name",): first.found.service.place("metadata", "name")}
    for path, value in sorted(first.found.meta.own.items()):
        if len(path) == 1:
            entry[str(path[0])] = value
        else:
            entry.setdefault(str(path[0]), {})[path[1]] = value
        sources[path] = first.source(*path)
    hoisted = _hoisted(targets, namespaces, shared)
    for key, values in (("labels", hoisted.labels), ("annotations", hoisted.annotations)):
        if values:
            entry[key] = values
            sources.update({(key, name): first.source(key, name) for name in values})
    if hoisted.namespaces is not None:
        entry["namespaces"] = hoisted.namespaces
        holder = next(t for t in targets if t.namespaces == hoisted.namespaces)
        for index in range(len(hoisted.namespaces)):
            sources[("namespaces", index)] = holder.found.service.place("metadata", "namespace")
    if hoisted.ports:
        entry["ports"] = list(hoisted.ports)
        holder = next(t for t in targets if t.found.ports == hoisted.ports)
        sources.update({p: where for p, where in holder.found.sources.items() if p[0] == "ports"})
    entry["targets"] = {}
    for target in targets:
        overrides = _overrides(target, hoisted, namespaces[target.environment])
        entry["targets"][target.environment] = _target_entry(target, overrides, sources)
    return entry, sources


def _overrides(target: Target, hoisted: _Hoisted, namespace: str) -> dict[str, Any]:
    """What a target says beyond its dependency (and its environment)."""
    overrides: dict[str, Any] = {}
    if target.namespaces != (hoisted.namespaces or [namespace]):
        overrides["namespaces"] = target.namespaces
    if hoisted.own_labels[target.environment]:
        overrides["labels"] = hoisted.own_labels[target.environment]
    if hoisted.own_annotations[target.environment]:
        overrides["annotations"] = hoisted.own_annotations[target.environment]
    if target.found.ports != hoisted.ports:
        overrides["ports"] = list(target.found.ports)
    return overrides


def _namespaces(targets: list[Target], namespaces: dict[str, str]) -> list[str] | None:
    """The dependency's namespaces, if giving them saves overrides."""
    counts = Counter(json.dumps(t.namespaces) for t in targets)
    listed = json.loads(min(counts, key=lambda key: (-counts[key], key)))
    without = sum(t.namespaces != [namespaces[t.environment]] for t in targets)
    return listed if counts[json.dumps(listed)] + without > len(targets) else None


def _ports(targets: list[Target]) -> tuple[dict[str, Any], ...]:
    """The ports of most environments (on a tie, of the first)."""
    keys = [json.dumps(t.found.ports) for t in targets]
    counts = Counter(keys)
    best = min(range(len(keys)), key=lambda i: (-counts[keys[i]], i))
    return targets[best].found.ports


def _target_entry(target: Target, overrides: dict[str, Any], sources: Sources) -> Any:
    found = target.found
    at: NodePath = ("targets", target.environment)
    sources[at] = found.service.place("spec")
    for path, where in found.sources.items():
        if path[0] in ("externalName", "addresses", "selector") or path[0] in overrides:
            sources[(*at, *path)] = where
    for index in range(len(target.namespaces)):
        sources[(*at, "namespaces", index)] = found.service.place("metadata", "namespace")
    value = found.value
    short = isinstance(value, str) and not looks_like_ip(value)
    if not overrides and found.form == "externalName" and short:
        sources[at] = target.source("externalName")
        return value
    if not overrides and found.form == "addresses" and all(looks_like_ip(a) for a in value):
        for index in range(len(value)):
            sources[(*at, index)] = target.source("addresses", index)
        sources[at] = target.source("addresses", 0)
        return value[0] if len(value) == 1 else list(value)
    return {found.form: list(value) if isinstance(value, tuple) else value, **overrides}
