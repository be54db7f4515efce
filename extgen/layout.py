"""OUT's layout: the one place that knows where each file extgen writes lives, and how a
directory of OUT splits back into its environment and shard.

    OUT/
      base/kustomization.yaml             the shared base (a kustomize Component)
      ENV/kustomization.yaml              an environment's entry point
      ENV/DEPENDENCY.yaml                 one dependency's objects in ENV
      ENV/_guardrails.yaml                ENV's own objects (guardrails), if any
      ENV/shard-NNN/...                   the same, per shard, when ENV is split
      _gitops/argocd/..., _gitops/flux/ENV/...   the delivery objects

Environment names are DNS labels, so none is `_gitops`, and `base` is reserved.
"""

from __future__ import annotations

import functools

BASE_DIR = "base"
DELIVERY_DIR = "_gitops"
KUSTOMIZATION = "kustomization.yaml"
# An environment's own objects (guardrails), in its first kustomization; dependency names
# cannot start with "_".
ENVIRONMENT_FILE = "_guardrails.yaml"
_SHARD_PREFIX = "shard-"


@functools.cache
def shard_directory(index: int) -> str:
    """The name of a shard's directory inside its environment's."""
    return f"{_SHARD_PREFIX}{index:03d}"


# The longest name a shard adds to an application's or Kustomization's name.
LONGEST_SHARD_SUFFIX = f"-{shard_directory(0)}"


def environment_directory(environment: str, shard: str | None = None) -> str:
    """An environment's directory, or one of its shards', relative to OUT."""
    return f"{environment}/{shard}" if shard else environment


def split_directory(directory: str) -> tuple[str, str | None]:
    """(environment, shard or None) of a directory made by `environment_directory`."""
    environment, _, shard = directory.partition("/")
    return environment, shard or None


def dependency_file(environment: str, shard: str | None, dependency: str) -> str:
    """Where a dependency's file of an environment is, relative to OUT."""
    return f"{environment_directory(environment, shard)}/{dependency}.yaml"


def environment_file(environment: str, shard: str | None) -> str:
    """Where an environment's own objects are, relative to OUT."""
    return f"{environment_directory(environment, shard)}/{ENVIRONMENT_FILE}"


def kustomization_file(directory: str) -> str:
    return f"{directory}/{KUSTOMIZATION}"


def base_reference(shard: str | None) -> str:
    """The base, as the kustomization of an environment (or of a shard) refers to it."""
    return f"../../{BASE_DIR}" if shard else f"../{BASE_DIR}"


def directory_of(path: str) -> str:
    """The directory of a file of OUT ("" for OUT itself)."""
    return path.rpartition("/")[0]


def dependency_in(path: str) -> tuple[str, str] | None:
    """(environment, dependency) of a dependency's file, else None."""
    parts = path.split("/")
    if len(parts) < 2 or parts[0] in (BASE_DIR, DELIVERY_DIR):
        return None
    if parts[-1] in (KUSTOMIZATION, ENVIRONMENT_FILE):
        return None
    return parts[0], parts[-1].removesuffix(".yaml")


def delivery_directory(tool: str, environment: str | None = None) -> str:
    """Where the Argo CD ("argocd") or Flux ("flux") objects are written."""
    base = f"{DELIVERY_DIR}/{tool}"
    return f"{base}/{environment}" if environment else base


def is_delivery(directory: str) -> bool:
    return directory.startswith(f"{DELIVERY_DIR}/")
