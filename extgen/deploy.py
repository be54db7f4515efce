"""What the Argo CD and Flux objects share: the deployments of each environment, the
revision as each tool spells it, and the names of the objects. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from extgen import layout
from extgen.fields import reads_as_version
from extgen.manifest import COMMON_LABELS, Body
from extgen.model import Environment, GitOps, GitRevision

IN_CLUSTER = "https://kubernetes.default.svc"


@dataclass(frozen=True)
class Destination:
    """An environment as delivery sees it: its settings, its shard directories and the
    namespaces its objects are in (known when an AppProject or Namespaces need them)."""

    name: str
    environment: Environment
    shards: list[str]  # empty when the environment is not split
    namespaces: list[str]


@dataclass(frozen=True)
class Deployment:
    """One kustomization that a deployment builds, and what deploys it."""

    environment: str
    name: str  # the application's or Kustomization's name
    path: str  # the kustomization's directory, relative to the repository's root


def deployments(gitops: GitOps, prefix: str, env: Destination) -> list[Deployment]:
    """The environment's entry point, or each of its shards when it is split."""
    if not env.shards:
        path = repository_path(gitops, layout.environment_directory(env.name))
        return [Deployment(env.name, f"{prefix}{env.name}", path)]
    return [
        Deployment(
            env.name,
            f"{prefix}{env.name}-{shard}",
            repository_path(gitops, layout.environment_directory(env.name, shard)),
        )
        for shard in env.shards
    ]


def repository_path(gitops: GitOps, relative: str) -> str:
    """A path below OUT as a path in the repository."""
    return relative if gitops.path == "." else f"{gitops.path}/{relative}"


def group_name(prefix: str) -> str:
    """The name of the objects that stand for all environments: the namePrefix alone."""
    return prefix.rstrip("-") or "extgen"


def metadata_of(name: str, namespace: str) -> Body:
    """An Argo CD or Flux object's metadata."""
    return {"name": name, "namespace": namespace, "labels": dict(COMMON_LABELS)}


def flux_ref(revision: GitRevision) -> Body:
    """GitRepository.spec.ref: one field, named as the revision's kind."""
    return {revision.kind: revision.value}


def argocd_revision(revision: GitRevision) -> str:
    """targetRevision: a full reference where a short name could be read otherwise
    (Argo CD reads a version-like name as a semver range over tags)."""
    kind, value = revision.kind, revision.value
    if kind == "tag" or (kind == "branch" and reads_as_version(value)):
        return f"refs/{'tags' if kind == 'tag' else 'heads'}/{value}"
    return value
