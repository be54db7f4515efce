"""Catalog settings -> the Argo CD and Flux objects that deploy the output. Pure.

They are written below OUT/_gitops, a name no environment can have (environment names
are DNS labels). Every kustomization a deployment builds gets one application (Argo CD,
`argocd.py`) or Kustomization (Flux, `flux.py`): the environment's entry point, or each
of its shards.

After a one-time bootstrap nothing is applied by hand again. Argo CD: a root application
syncs OUT/_gitops/argocd itself, with prune, so that the AppProject's destinations, the
ApplicationSet's elements (or the Applications) follow each commit together. Flux: each
OUT/_gitops/flux/<env> is listed once in the Flux configuration of its cluster, whose
Kustomization (with prune) then follows the commits.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from extgen.argocd import argocd_files
from extgen.deploy import Destination, group_name
from extgen.errors import ExtgenError
from extgen.flux import flux_files
from extgen.manifest import DeliveryFile
from extgen.model import Fault, GitOps

# Names the controllers give their own objects: `flux bootstrap` makes a GitRepository
# and a Kustomization `flux-system`; Argo CD makes the AppProject `default`.
FLUX_OWN_NAMES = frozenset({"flux-system"})
ARGOCD_OWN_PROJECTS = frozenset({"default"})


def plan_delivery(
    gitops: GitOps | None, destinations: Sequence[Destination]
) -> tuple[DeliveryFile, ...]:
    if gitops is None:
        return ()
    files: list[DeliveryFile] = []
    if gitops.argocd is not None:
        files.extend(argocd_files(gitops, gitops.argocd, destinations))
    if gitops.flux is not None:
        files.extend(flux_files(gitops, gitops.flux, destinations))
    return tuple(files)


def settings_problems(gitops: GitOps) -> Iterable[Fault]:
    """Delivery settings that would give an object the name of one the controllers own."""
    argocd = gitops.argocd
    if argocd is not None and argocd.project is None:
        name = group_name(argocd.name_prefix)
        if name in ARGOCD_OWN_PROJECTS:
            yield (
                ("argocd", "namePrefix"),
                f"the AppProject extgen writes would be named {name!r}, which is Argo CD's"
                f" own project: change namePrefix, or set project: {name} to use that one",
            )


def environment_name_problems(gitops: GitOps, environment: str) -> Iterable[str]:
    """An environment whose delivery objects would take a name already taken."""
    flux, argocd = gitops.flux, gitops.argocd
    if flux is not None and f"{flux.name_prefix}{environment}" in FLUX_OWN_NAMES:
        yield (
            f"the Flux objects of environment {environment!r} would be named"
            f" '{flux.name_prefix}{environment}', which Flux names its own objects:"
            " rename the environment or change flux.namePrefix"
        )
    if argocd is not None and f"{argocd.name_prefix}{environment}" == group_name(
        argocd.name_prefix
    ):
        yield (
            f"the Argo CD application of environment {environment!r} would be named"
            f" {environment!r}, as extgen's root application is: set argocd.namePrefix"
        )


def check_output_path(gitops: GitOps | None, out: Path) -> None:
    """Refuses a render whose Argo CD and Flux objects would point elsewhere than OUT.

    gitops.path is OUT's path in the repository; by default `overlays`, which a render
    to another directory cannot be: unless the path was set, OUT must end with it.
    """
    if gitops is None or "path" in gitops.model_fields_set:
        return
    wanted = PurePosixPath(gitops.path).parts
    if Path(os.path.abspath(out)).parts[-len(wanted) :] != wanted:
        raise ExtgenError(
            f"the Argo CD and Flux objects point at {gitops.path}/ in the repository (the"
            f" default gitops.path), but the output directory is {out}: set gitops.path to"
            " the output directory's path in the repository, or render into"
            f" a directory named {gitops.path}"
        )
