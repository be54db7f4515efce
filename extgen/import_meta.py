"""What `extgen import` keeps of an object's metadata, and what it drops: the fields the
cluster adds, extgen's own labels and annotations, and the GitOps tools' tracking marks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from extgen.errors import Problem
from extgen.import_read import Place, Resource, text_of
from extgen.manifest import (
    MANAGED_BY_LABEL,
    MANAGER,
    NAME_LABEL,
    SERVICE_NAME_LABEL,
    SKIP_MIRROR_LABEL,
    SLICE_MANAGED_BY_LABEL,
)
from extgen.policy import DESCRIPTION_ANNOTATION, OWNER_ANNOTATION, TLS_ANNOTATION
from extgen.yamlio import NodePath, SourceScalar

# Written by the API server, never by a person (kubectl-neat drops the same).
CLUSTER_METADATA = frozenset(
    {
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "ownerReferences",
        "finalizers",
        "generateName",
        "selfLink",
    }
)
# Metadata a cluster object has and a hand-written manifest does not.
CLUSTER_MARKS = ("uid", "resourceVersion", "creationTimestamp", "managedFields")
DROPPED_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        "endpoints.kubernetes.io/last-change-trigger-time",
        "argocd.argoproj.io/tracking-id",  # Argo CD's, added again when extgen's is synced
    }
)
DROPPED_LABELS = frozenset(
    {
        "kustomize.toolkit.fluxcd.io/name",  # Flux's, added again by its Kustomization
        "kustomize.toolkit.fluxcd.io/namespace",
        SERVICE_NAME_LABEL,
        SLICE_MANAGED_BY_LABEL,
        SKIP_MIRROR_LABEL,
        "endpoints.kubernetes.io/managed-by",
    }
)
# extgen's own annotations, read back into the dependency's fields.
OWN_ANNOTATIONS: dict[str, NodePath] = {
    DESCRIPTION_ANNOTATION: ("description",),
    OWNER_ANNOTATION: ("owner",),
    TLS_ANNOTATION: ("tls", "serverName"),
}
METADATA_KEYS = frozenset({"name", "namespace", "labels", "annotations"}) | CLUSTER_METADATA


def plain(value: Any) -> Any:
    """A value as Kubernetes reads it: numbers and booleans as such, the rest as written."""
    if isinstance(value, SourceScalar):
        return value.text if value.value is None else value.value
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def from_cluster(resource: Resource) -> bool:
    """Whether the object was read back from a cluster (`kubectl get -o yaml`)."""
    return any(mark in resource.metadata for mark in CLUSTER_MARKS)


@dataclass
class Findings:
    """Problems (something was left out) and notes (something changed on the way)."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    renamed: list[Resource] = field(default_factory=list)  # EndpointSlices given extgen's names

    def refuse(
        self,
        resource: Resource,
        path: NodePath,
        reason: str,
        what: str = "left out",
        *,
        key: bool = False,
    ) -> None:
        """A problem at the node at `path` (at its key with `key`): something left out."""
        where = resource.position(*path, key=key)
        self.problems.append(Problem(where, f"{resource.describe()}: {reason}; {what}"))


@dataclass
class Metadata:
    """The labels and annotations kept, the dependency's own fields, and their sources."""

    labels: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    own: dict[NodePath, Any] = field(default_factory=dict)  # ("description",) -> text, ...
    sources: dict[NodePath, Place] = field(default_factory=dict)


def unknown_keys(resource: Resource, allowed: frozenset[str]) -> Iterator[str]:
    yield from (key for key in resource.body if key not in allowed)
    yield from (f"metadata.{key}" for key in resource.metadata if key not in METADATA_KEYS)


def read_metadata(resource: Resource, findings: Findings, *, service: str) -> Metadata:
    """The metadata kept; notes extgen's own labels with another value, which it replaces."""
    meta = Metadata()
    for key, value in _mapping(resource.metadata.get("labels")).items():
        where = resource.place("metadata", "labels", key, key=True)
        if key in (NAME_LABEL, MANAGED_BY_LABEL):
            own = service if key == NAME_LABEL else MANAGER
            if text_of(value) != own:
                findings.notes.append(
                    f"{where}: {resource.describe()}: label {key}: {text_of(value)} becomes"
                    f" {key}: {own}, extgen's own"
                )
        elif key not in DROPPED_LABELS:
            meta.labels[key] = plain(value)
            meta.sources[("labels", key)] = where
    for key, value in _mapping(resource.metadata.get("annotations")).items():
        where = resource.place("metadata", "annotations", key, key=True)
        if key in OWN_ANNOTATIONS:
            meta.own[OWN_ANNOTATIONS[key]] = plain(value)
            meta.sources[OWN_ANNOTATIONS[key]] = where
        elif key not in DROPPED_ANNOTATIONS:
            meta.annotations[key] = plain(value)
            meta.sources[("annotations", key)] = where
    return meta


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
