"""The Argo CD objects that deploy the output (see `delivery.py`). Pure.

A root application syncs OUT/_gitops/argocd, itself included, with prune; an AppProject
of least privilege holds extgen's applications: an ApplicationSet's, or Applications.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from extgen import layout
from extgen.deploy import (
    IN_CLUSTER,
    Deployment,
    Destination,
    argocd_revision,
    deployments,
    group_name,
    metadata_of,
    repository_path,
)
from extgen.manifest import COMMON_LABELS, Body, DeliveryFile, Manifest
from extgen.model import ArgoCD, Environment, GitOps

ARGOCD_API = "argoproj.io/v1alpha1"
RETRY: Body = {"limit": 5, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "5m"}}
# The project extgen's root application is in: Argo CD's own, referred to, never written.
# It must not be extgen's AppProject, whose applications could then write Argo CD objects.
ROOT_PROJECT = "default"
# What the AppProject lets extgen's applications write: the kinds extgen generates, each
# with the environment setting that makes extgen write it. Extend these lists when extgen
# generates more kinds.
Wanted = Callable[[Environment], bool]
PROJECT_NAMESPACED_KINDS: list[tuple[str, str, Wanted]] = [
    ("", "Service", lambda env: True),
    ("discovery.k8s.io", "EndpointSlice", lambda env: True),
    ("", "Endpoints", lambda env: True),
    ("", "ConfigMap", lambda env: env.connection_config),
    ("networking.k8s.io", "NetworkPolicy", lambda env: env.network_policy is not None),
    (
        "cilium.io",
        "CiliumNetworkPolicy",
        lambda env: env.network_policy is not None and env.network_policy.fqdn == "cilium",
    ),
    ("monitoring.coreos.com", "Probe", lambda env: env.probes is not None),
]
PROJECT_CLUSTER_KINDS: list[tuple[str, str, Wanted]] = [
    ("", "Namespace", lambda env: env.create_namespaces),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy", lambda env: env.admission_policy),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        lambda env: env.admission_policy,
    ),
]


def argocd_files(
    gitops: GitOps, argocd: ArgoCD, destinations: Sequence[Destination]
) -> list[DeliveryFile]:
    directory = layout.delivery_directory("argocd")
    group = group_name(argocd.name_prefix)
    project = argocd.project or group
    elements = [
        _element(deployment, env.environment)
        for env in destinations
        for deployment in deployments(gitops, argocd.name_prefix, env)
    ]
    files = [DeliveryFile(f"{directory}/root.yaml", (_root_application(gitops, argocd),))]
    if argocd.project is None:
        appproject = _app_project(gitops, argocd, destinations, elements)
        files.append(DeliveryFile(f"{directory}/appproject.yaml", (appproject,)))
    if argocd.applications == "ApplicationSet":
        appset = _application_set(gitops, argocd, project, elements)
        return [*files, DeliveryFile(f"{directory}/applicationset.yaml", (appset,))]
    for env in destinations:
        applications = tuple(
            _application(gitops, argocd, project, element)
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


def _destination(element: dict[str, str], namespace: str) -> Body:
    if element["server"]:
        return {"server": element["server"], "namespace": namespace}
    return {"name": element["cluster"], "namespace": namespace}


def _application_spec(
    gitops: GitOps, project: str, destination: Body, path: str, automated: Body
) -> Body:
    revision = argocd_revision(gitops.revision)
    return {
        "project": project,
        "source": {"repoURL": gitops.repository, "targetRevision": revision, "path": path},
        "destination": destination,
        # Argo CD syncs by hand and never prunes unless told: both are stated. A failed
        # sync is retried (Argo CD does not retry one of the same commit unless told):
        # a shard may be synced before the shard that creates its namespaces.
        "syncPolicy": {"automated": automated, "retry": RETRY},
    }


def _automated(argocd: ArgoCD) -> Body:
    return {"prune": argocd.prune, "selfHeal": argocd.self_heal}


def _application(gitops: GitOps, argocd: ArgoCD, project: str, element: dict[str, str]) -> Manifest:
    destination = _destination(element, element["namespace"])
    spec = _application_spec(gitops, project, destination, element["path"], _automated(argocd))
    body: Body = {
        "apiVersion": ARGOCD_API,
        "kind": "Application",
        "metadata": metadata_of(element["name"], argocd.namespace),
        "spec": spec,
    }
    return Manifest(body)


def _root_application(gitops: GitOps, argocd: ArgoCD) -> Manifest:
    """The application that syncs OUT/_gitops/argocd, itself included: applied once by
    hand, it then brings every commit's projects and applications. Pruning removes the
    applications of vanished environments and shards; they carry no resources
    finalizer, so their objects stay for the deployments that now hold them."""
    destination = {"server": IN_CLUSTER, "namespace": argocd.namespace}
    path = repository_path(gitops, layout.delivery_directory("argocd"))
    automated = {"prune": True, "selfHeal": argocd.self_heal}
    body: Body = {
        "apiVersion": ARGOCD_API,
        "kind": "Application",
        "metadata": metadata_of(group_name(argocd.name_prefix), argocd.namespace),
        "spec": _application_spec(gitops, ROOT_PROJECT, destination, path, automated),
    }
    return Manifest(body)


def _application_set(
    gitops: GitOps, argocd: ArgoCD, project: str, elements: list[dict[str, str]]
) -> Manifest:
    # Go templates: an element's empty server or cluster leaves that field unset, so each
    # application has exactly one of them, as Argo CD requires.
    destination = {"server": "{{.server}}", "name": "{{.cluster}}", "namespace": "{{.namespace}}"}
    spec = _application_spec(gitops, project, destination, "{{.path}}", _automated(argocd))
    template = {"metadata": {"name": "{{.name}}", "labels": dict(COMMON_LABELS)}, "spec": spec}
    body: Body = {
        "apiVersion": ARGOCD_API,
        "kind": "ApplicationSet",
        "metadata": metadata_of(group_name(argocd.name_prefix), argocd.namespace),
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


def _app_project(
    gitops: GitOps,
    argocd: ArgoCD,
    environments: Sequence[Destination],
    elements: list[dict[str, str]],
) -> Manifest:
    """Least privilege: the catalog's repository, the environments' (cluster, namespace)
    pairs, and the kinds extgen generates, nothing else."""
    destinations: dict[tuple[str, str, str], Body] = {}
    namespaces = {env.name: env.namespaces for env in environments}
    for element in elements:
        for namespace in namespaces[element["environment"]]:
            key = (element["server"], element["cluster"], namespace)
            destinations[key] = _destination(element, namespace)
    settings = [env.environment for env in environments]
    metadata = metadata_of(group_name(argocd.name_prefix), argocd.namespace)
    # Before the applications that name it: the root application syncs in waves.
    metadata["annotations"] = {"argocd.argoproj.io/sync-wave": "-1"}
    spec: Body = {
        "description": "External dependencies written by extgen",
        "sourceRepos": [gitops.repository],
        "destinations": [destinations[key] for key in sorted(destinations)],
        "clusterResourceWhitelist": _kinds(PROJECT_CLUSTER_KINDS, settings),
        "namespaceResourceWhitelist": _kinds(PROJECT_NAMESPACED_KINDS, settings),
    }
    body: Body = {
        "apiVersion": ARGOCD_API,
        "kind": "AppProject",
        "metadata": metadata,
        "spec": spec,
    }
    return Manifest(body)


def _kinds(kinds: list[tuple[str, str, Wanted]], settings: list[Environment]) -> list[Body]:
    """The kinds that at least one environment makes extgen write."""
    return [
        {"group": group, "kind": kind}
        for group, kind, wanted in kinds
        if any(wanted(environment) for environment in settings)
    ]
