"""The words every stage shares: a Kubernetes object as extgen writes it (`Manifest`), a
file of delivery objects (`DeliveryFile`), and the labels extgen sets itself. Plain data."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MANAGER = "extgen"
NAME_LABEL = "app.kubernetes.io/name"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SLICE_MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
MAX_ENDPOINTS_PER_SLICE = 1000  # the API server's limit per EndpointSlice
# Added to every object by the shared base (a kustomize Component), not written per file.
COMMON_LABELS = {MANAGED_BY_LABEL: MANAGER}

TEMPLATE_PREFIXES = {
    "argoproj.io": "argocd-",
    "kustomize.toolkit.fluxcd.io": "flux-",
    "source.toolkit.fluxcd.io": "flux-",
}

Body = dict[str, Any]
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def field_path(path: Sequence[str | int]) -> str:
    """`spec.ports[0].port`; keys that are not plain words are quoted: `labels['a/b']`."""
    text = ""
    for element in path:
        if isinstance(element, int):
            text += f"[{element}]"
        elif _IDENTIFIER.fullmatch(element):
            text += f".{element}" if text else element
        else:
            text += f"[{element!r}]"
    return text


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object as extgen writes it (before the base adds COMMON_LABELS)."""

    body: Body

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def namespace(self) -> str:
        """ "" for a cluster-scoped object."""
        return str(self.body["metadata"].get("namespace", ""))

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def template(self) -> str:
        """The template that writes it: KIND.yaml.j2, with a tool prefix for Argo CD and Flux
        objects (Flux's Kustomization.yaml.j2 and kustomization.yaml.j2 would be one file on
        a case-insensitive file system)."""
        group = str(self.body["apiVersion"]).split("/")[0]
        return f"{TEMPLATE_PREFIXES.get(group, '')}{self.kind}.yaml.j2"

    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)

    def built(self) -> Body:
        """The object as `kustomize build` yields it: with the base's labels added."""
        metadata = self.body["metadata"]
        labels = {**metadata.get("labels", {}), **COMMON_LABELS}
        return {**self.body, "metadata": {**metadata, "labels": labels}}


@dataclass(frozen=True)
class DeliveryFile:
    """A file of objects other than a dependency's (Argo CD and Flux objects, see
    `delivery.py`; an environment's own, see `namespaces.py`), at a path relative to OUT."""

    path: str
    manifests: tuple[Manifest, ...]
