"""Catalog + Plan -> the Argo CD and Flux objects that deploy the output. Pure.

They are written below OUT/_gitops, a name no environment can have (environment names
are DNS labels). Every kustomization a deployment builds gets one application (Argo CD)
or Kustomization (Flux): the environment's entry point, or each of its shards.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from extgen import layout
from extgen.manifest import COMMON_LABELS, Body, DeliveryFile, Manifest
from extgen.model import ArgoCD, Environment, Flux, GitOps

ARGOCD_API = "argoproj.io/v1alpha1"
FLUX_KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
FLUX_SOURCE_API = "source.toolkit.fluxcd.io/v1"
IN_CLUSTER = "https://kubernetes.default.svc"
_COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Destination:
    """An environment as delivery sees it: its settings and its shard directories."""

    name: str
    environment: Environment
    shards: list[str]  # empty when the environment is not split


@dataclass(frozen=True)
class Deployment:
    """One kustomization that a deployment builds, and what deploys it."""

    environment: str
    name: str  # the application's or Kustomization's name
    path: str  # the kustomization's directory, relative to the repository's root


def plan_delivery(
    gitops: GitOps | None, destinations: Sequence[Destination]
) -> tuple[DeliveryFile, ...]:
    if gitops is None:
        return ()
    files: list[DeliveryFile] = []
    if gitops.argocd is not None:
        files.extend(_argocd_files(gitops, gitops.argocd, destinations))
    if gitops.flux is not None:
        files.extend(_flux_files(gitops, gitops.flux, destinations))
    return tuple(files)


def deployments(gitops: GitOps, prefix: str, env: Destination) -> list[Deployment]:
    """The environment's entry point, or each of its shards when it is split."""
    base = "" if gitops.path == "." else f"{gitops.path}/"
    if not env.shards:
        path = layout.environment_directory(env.name)
        return [Deployment(env.name, f"{prefix}{env.name}", f"{base}{path}")]
    return [
        Deployment(
            env.name,
            f"{prefix}{env.name}-{shard}",
            f"{base}{layout.environment_directory(env.name, shard)}",
        )
        for shard in env.shards
    ]


def _metadata(name: str, namespace: str) -> Body:
    return {"name": name, "namespace": namespace, "labels": dict(COMMON_LABELS)}


# --- Argo CD ---------------------------------------------------------------------------------


def _argocd_files(
    gitops: GitOps, argocd: ArgoCD, destinations: Sequence[Destination]
) -> list[DeliveryFile]:
    directory = layout.delivery_directory("argocd")
    elements = [
        _element(deployment, env.environment)
        for env in destinations
        for deployment in deployments(gitops, argocd.name_prefix, env)
    ]
    if argocd.applications == "ApplicationSet":
        appset = _application_set(gitops, argocd, elements)
        return [DeliveryFile(f"{directory}/applicationset.yaml", (appset,))]
    files = []
    for env in destinations:
        applications = tuple(
            _application(gitops, argocd, element)
            for element in elements
            if element["environment"] == env.name
        )
        files.append(DeliveryFile(f"{directory}/{env.name}.yaml", applications))
    return files


def _element(deployment: Deployment, env: Environment) -> dict[str, str]:
    """One application's parameters: its destination has a server or a name, never both."""
    cluster = env.cluster
    name = cluster.name if cluster is not None and cluster.name is not None else ""
    server = cluster.server if cluster is not None and cluster.server is not None else ""
    return {
        "name": deployment.name,
        "environment": deployment.environment,
        "path": deployment.path,
        "server": server if server or name else IN_CLUSTER,
        "cluster": name,
        "namespace": env.namespace,
    }


def _application_spec(gitops: GitOps, argocd: ArgoCD, destination: Body, path: str) -> Body:
    return {
        "project": argocd.project,
        "source": {"repoURL": gitops.repository, "targetRevision": gitops.revision, "path": path},
        "destination": destination,
        # Argo CD syncs by hand and never prunes unless told: both are stated.
        "syncPolicy": {"automated": {"prune": argocd.prune, "selfHeal": argocd.self_heal}},
    }


def _application(gitops: GitOps, argocd: ArgoCD, element: dict[str, str]) -> Manifest:
    destination: Body = {}
    if element["server"]:
        destination["server"] = element["server"]
    else:
        destination["name"] = element["cluster"]
    destination["namespace"] = element["namespace"]
    body: Body = {
        "apiVersion": ARGOCD_API,
        "kind": "Application",
        "metadata": _metadata(element["name"], argocd.namespace),
        "spec": _application_spec(gitops, argocd, destination, element["path"]),
    }
    return Manifest(body)


def _application_set(gitops: GitOps, argocd: ArgoCD, elements: list[dict[str, str]]) -> Manifest:
    # Go templates: an element's empty server or cluster leaves that field unset, so each
    # application has exactly one of them, as Argo CD requires.
    destination = {"server": "{{.server}}", "name": "{{.cluster}}", "namespace": "{{.namespace}}"}
    template = {
        "metadata": {"name": "{{.name}}", "labels": dict(COMMON_LABELS)},
        "spec": _application_spec(gitops, argocd, destination, "{{.path}}"),
    }
    prefix = argocd.name_prefix.rstrip("-") or "extgen"
    body: Body = {
        "apiVersion": ARGOCD_API,
        "kind": "ApplicationSet",
        "metadata": _metadata(prefix, argocd.namespace),
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": elements}}],
            "template": template,
            # A shard that goes away (the shard count changed) must not take its objects
            # with it: the shards that now hold them apply them again.
            "syncPolicy": {"preserveResourcesOnDeletion": True},
        },
    }
    return Manifest(body)


# --- Flux ------------------------------------------------------------------------------------


def _flux_files(
    gitops: GitOps, flux: Flux, destinations: Sequence[Destination]
) -> list[DeliveryFile]:
    """Per environment a directory that the Flux of its cluster applies."""
    files = []
    for env in destinations:
        manifests = []
        source = flux.git_repository
        if source is None:
            source = f"{flux.name_prefix}repository"
            manifests.append(_git_repository(gitops, flux, source))
        for deployment in deployments(gitops, flux.name_prefix, env):
            manifests.append(_kustomization(flux, deployment, source, env.environment))
        path = f"{layout.delivery_directory('flux', env.name)}/sync.yaml"
        files.append(DeliveryFile(path, tuple(manifests)))
    return files


def _git_repository(gitops: GitOps, flux: Flux, name: str) -> Manifest:
    body: Body = {
        "apiVersion": FLUX_SOURCE_API,
        "kind": "GitRepository",
        "metadata": _metadata(name, flux.namespace),
        "spec": {"interval": flux.interval, "url": gitops.repository, "ref": _ref(gitops)},
    }
    return Manifest(body)


def _ref(gitops: GitOps) -> Body:
    revision = gitops.revision
    if revision.startswith("refs/"):
        return {"name": revision}
    if _COMMIT.fullmatch(revision):
        return {"commit": revision}
    return {"branch": revision}


def _kustomization(flux: Flux, deployment: Deployment, source: str, env: Environment) -> Manifest:
    spec: Body = {
        "interval": flux.interval,
        "path": f"./{deployment.path}",
        "prune": flux.prune,
        "wait": flux.wait,
        "timeout": flux.timeout,
        "sourceRef": {"kind": "GitRepository", "name": source},
    }
    if env.cluster is not None and env.cluster.kube_config_secret is not None:
        spec["kubeConfig"] = {"secretRef": {"name": env.cluster.kube_config_secret}}
    body: Body = {
        "apiVersion": FLUX_KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": _metadata(deployment.name, flux.namespace),
        "spec": spec,
    }
    return Manifest(body)
