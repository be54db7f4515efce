"""The Flux objects that deploy the output (see `delivery.py`). Pure.

Per environment a directory OUT/_gitops/flux/<env> with a GitRepository of its own, so
that any set of them can be listed together in one kustomization, and one Kustomization
per deployment.
"""

from __future__ import annotations

from collections.abc import Sequence

from extgen import layout
from extgen.deploy import Deployment, Destination, deployments, flux_ref, metadata_of
from extgen.manifest import Body, DeliveryFile, Manifest
from extgen.model import Environment, Flux, GitOps

FLUX_KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
FLUX_SOURCE_API = "source.toolkit.fluxcd.io/v1"


def flux_files(
    gitops: GitOps, flux: Flux, destinations: Sequence[Destination]
) -> list[DeliveryFile]:
    """Per environment a directory that the Flux of its cluster applies. Each has its own
    GitRepository, so that any of them can be listed together in one kustomization."""
    files = []
    for env in destinations:
        manifests = []
        source = flux.git_repository
        if source is None:
            source = f"{flux.name_prefix}{env.name}"
            manifests.append(_git_repository(gitops, flux, source))
        settings = env.environment
        shards = deployments(gitops, flux.name_prefix, env)
        # The first shard creates the namespaces that the others write into.
        first = shards[0].name if settings.create_namespaces else None
        for deployment in shards:
            after = first if first != deployment.name else None
            manifests.append(_kustomization(flux, deployment, source, settings, after))
        path = f"{layout.delivery_directory('flux', env.name)}/sync.yaml"
        files.append(DeliveryFile(path, tuple(manifests)))
    return files


def _git_repository(gitops: GitOps, flux: Flux, name: str) -> Manifest:
    body: Body = {
        "apiVersion": FLUX_SOURCE_API,
        "kind": "GitRepository",
        "metadata": metadata_of(name, flux.namespace),
        "spec": {
            "interval": flux.interval,
            "url": gitops.repository,
            "ref": flux_ref(gitops.revision),
        },
    }
    return Manifest(body)


def _kustomization(
    flux: Flux, deployment: Deployment, source: str, env: Environment, after: str | None
) -> Manifest:
    """`after`: the Kustomization that must be ready first, if any."""
    spec: Body = {
        "interval": flux.interval,
        "path": f"./{deployment.path}",
        "prune": flux.prune,
        # A Kustomization deleted (a shard gone when the shard count changed) leaves its
        # objects to the Kustomizations that now hold them, as Argo CD's
        # preserveResourcesOnDeletion does. Needs kustomize-controller v1.5 (Flux 2.5).
        "deletionPolicy": "Orphan",
        "wait": flux.wait,
        "timeout": flux.timeout,
        "sourceRef": {"kind": "GitRepository", "name": source},
    }
    if env.cluster is not None and env.cluster.kube_config_secret is not None:
        spec["kubeConfig"] = {"secretRef": {"name": env.cluster.kube_config_secret}}
    if after is not None:
        spec["dependsOn"] = [{"name": after}]
    body: Body = {
        "apiVersion": FLUX_KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": metadata_of(deployment.name, flux.namespace),
        "spec": spec,
    }
    return Manifest(body)
