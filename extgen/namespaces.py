"""An environment's own objects: the Namespaces that `createNamespaces` asks for. Pure.

They go into a file whose name starts with an underscore (no dependency can be named so)
in the directory of the environment's first deployment: the environment's directory, or
its first shard's, since kustomize refuses files outside a kustomization's root and each
shard is deployed on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from extgen import layout
from extgen.cluster import cluster_of
from extgen.manifest import Body, DeliveryFile, Manifest
from extgen.model import Environment
from extgen.records import source_order

if TYPE_CHECKING:
    from extgen.catalog import Catalog

NAMESPACES_FILE = "_namespaces.yaml"
# Neither controller may ever delete a Namespace: that deletes everything in it, also
# what extgen did not write. Argo CD: neither when pruning nor with its application;
# Flux reads this as a label or an annotation, when pruning and on deletion.
ARGOCD_KEEP = {"argocd.argoproj.io/sync-options": "Delete=false,Prune=false"}
FLUX_KEEP = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}


def wanted(catalog: Catalog) -> bool:
    """Whether the namespaces of the environments are needed (they cost a pass over
    every dependency): for Namespaces, or for the destinations of an AppProject."""
    gitops = catalog.gitops
    project = gitops is not None and gitops.argocd is not None and gitops.argocd.project is None
    return project or any(env.create_namespaces for env in catalog.environments.values())


def used(catalog: Catalog) -> dict[str, list[str]]:
    """Per environment, every namespace its objects are in, sorted."""
    found = {name: {env.namespace} for name, env in catalog.environments.items()}
    for record in source_order(catalog.records):
        dependency = catalog.dependency(record)
        for name, target in dependency.targets.items():
            if target is not None and name in found:
                found[name].update(target.namespaces or dependency.namespaces or ())
    return {name: sorted(namespaces) for name, namespaces in found.items()}


def created(catalog: Catalog, used: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per environment with createNamespaces, the Namespaces it writes: those it uses,
    less any that an environment before it (in name order) on the same cluster writes,
    so that no two applications hold one Namespace."""
    claimed: set[tuple[object, str]] = set()
    written = {}
    for name, environment in sorted(catalog.environments.items()):
        if not environment.create_namespaces:
            continue
        cluster = cluster_of(environment, with_gitops=True)
        key = cluster.key if cluster is not None else name
        written[name] = [ns for ns in used.get(name, []) if (key, ns) not in claimed]
        claimed.update((key, ns) for ns in written[name])
    return written


def environment_files(
    name: str, environment: Environment, shards: int, namespaces: list[str]
) -> tuple[DeliveryFile, ...]:
    """The environment's own files, at paths relative to OUT."""
    if not namespaces:
        return ()
    first = None if shards == 1 else layout.shard_directory(0)
    directory = layout.environment_directory(name, first)
    manifests = tuple(_namespace(namespace, environment) for namespace in namespaces)
    return (DeliveryFile(f"{directory}/{NAMESPACES_FILE}", manifests),)


def _namespace(name: str, environment: Environment) -> Manifest:
    labels = {**environment.labels, **environment.namespace_labels, **FLUX_KEEP}
    metadata: Body = {
        "name": name,
        "labels": labels,
        "annotations": {**environment.annotations, **ARGOCD_KEEP},
    }
    return Manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
