"""One catalog file judged on its own, knowing every environment: every rule but those
between files, which `catalog_merge` applies."""

from __future__ import annotations

import functools
import pickle
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from extgen import cluster, fields, k8s, parallel, policy
from extgen.delivery import settings_problems
from extgen.errors import ExtgenError, Position, Problem
from extgen.fields import is_scp_url
from extgen.locate import pydantic_problems, suggest
from extgen.model import Dependency, Environment, Fault, GitOps
from extgen.records import DependencyRecord, record_of
from extgen.yamlio import NodePath, YamlError, load_document

TOP_LEVEL_KEYS = ("environments", "dependencies", "gitops")
RESERVED_ENVIRONMENTS = frozenset({"base"})
RESERVED_DEPENDENCIES = frozenset({"kustomization"})


@dataclass(frozen=True)
class Source:
    """A catalog file: its name, its size, and its text, given or read when needed (the
    files of a large catalog are never all in memory at once)."""

    name: str
    size: int
    path: FsPath | None = None
    given: str | None = None

    def text(self) -> str:
        if self.given is not None:
            return self.given
        assert self.path is not None
        try:
            return self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise ExtgenError(f"{self.path}: not UTF-8 text ({error.reason})") from None
        except OSError as error:
            raise ExtgenError(f"{self.path}: cannot read: {error.strerror}") from None


# Below this much YAML, a second process costs more than it saves.
PARALLEL_BYTES = 512 * 1024


@dataclass(frozen=True)
class FileContext:
    """What judging one file needs to know of the others."""

    environments: dict[str, Environment | None]
    keep: bool  # keep the dependencies' models (catalog.KEEP_MODELS_BYTES)
    gitops: GitOps | None = None

    @functools.cached_property
    def order(self) -> tuple[str, ...]:
        return tuple(sorted(self.environments))

    @functools.cached_property
    def valid(self) -> dict[str, Environment]:
        """The environments whose settings are valid."""
        return {name: env for name, env in self.environments.items() if env is not None}

    @functools.cached_property
    def shared(self) -> tuple[cluster.SharedCluster, ...]:
        """The pairs of environments that deploy to one cluster."""
        return cluster.shared_clusters(self.valid, self.gitops is not None)

    @functools.cached_property
    def watched(self) -> tuple[str, ...]:
        """The environments whose dependencies' namespaces are compared across files: those
        on one cluster with another, both writing extgen-connections ConfigMaps."""
        pairs = cluster.connection_pairs(self.valid, self.shared)
        return tuple(sorted({name for pair in pairs for name in (pair.first, pair.second)}))


@dataclass
class FileResult:
    """One file, judged: its problems, and the names it defines with their values."""

    problems: list[Problem] = field(default_factory=list)
    environments: list[tuple[str, Environment | None]] = field(default_factory=list)
    # (name, index in the list, record (None for an invalid dependency), targets)
    dependencies: list[tuple[str, int, DependencyRecord | None, int]] = field(default_factory=list)
    gitops: list[GitOps | None] = field(default_factory=list)  # one item if defined here
    count: int = 0  # items in its list of dependencies, named or not
    # ExternalName targets naming a Service in the cluster: the few that may form loops
    in_cluster: list[cluster.InClusterName] = field(default_factory=list)
    # Where the watched environments' Services are (FileContext.watched): the first item
    placed: dict[cluster.Placement, int] = field(default_factory=dict)
    pickled: bytes = b""  # its dependencies' models, unless kept (FileContext.keep)


def read_files(
    sources: Sequence[Source],
    context: FileContext,
    meanwhile: Callable[[], None] | None = None,
) -> list[FileResult]:
    """Each file judged, in order; a large catalog of several files by two processes
    (`parallel.split`: the child sends back its results, records and problems), this one
    doing `meanwhile()` first."""

    def read(items: Sequence[tuple[int, Source]]) -> list[FileResult]:
        return [_FileReader(index, s.name, context).read(s.text()) for index, s in items]

    items = list(enumerate(sources))
    if sum(source.size for source in sources) < PARALLEL_BYTES:
        if meanwhile is not None:
            meanwhile()
        return read(items)
    return parallel.split("parse", items, read, meanwhile=meanwhile)


class _FileReader:
    """Judges one catalog file: every rule but those between files (names defined twice,
    the number of dependencies, delivery names), which `Merged` applies."""

    def __init__(self, index: int, file: str, context: FileContext) -> None:
        self.index = index
        self.file = file
        self.context = context
        self.result = FileResult()
        self.models: list[Dependency | None] = []  # by index, when not kept in records

    def read(self, text: str) -> FileResult:
        try:
            document = load_document(text, self.file)
        except YamlError as error:
            self.result.problems.append(error.problem)
            return self.result
        self.document = document
        self.result.problems.extend(document.problems)
        data = document.data
        if data is None:
            return self.result
        if not isinstance(data, dict):
            self.report([((), _TOP_LEVEL_MESSAGE)], ())
            return self.result
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                message = f"unknown top-level key {key!r}{suggest(key, TOP_LEVEL_KEYS)}"
                self.problem(document.position((key,), key=True), message)
        self.add_environments(data.get("environments"))
        self.add_dependencies(data.get("dependencies"))
        if "gitops" in data:
            self.add_gitops(data["gitops"])
        if self.models:
            pickled = pickle.dumps(self.models, protocol=pickle.HIGHEST_PROTOCOL)
            self.result.pickled = zlib.compress(pickled, 1)
        return self.result

    def problem(self, position: Position, message: str) -> None:
        self.result.problems.append(Problem(position, message))

    def report(self, faults: Iterable[Fault], prefix: NodePath) -> None:
        for path, message in faults:
            self.problem(self.document.position((*prefix, *path)), message)

    def add_gitops(self, section: Any) -> None:
        gitops = self.validate(GitOps, section, ("gitops",))
        self.result.gitops.append(gitops)
        if gitops is not None:
            self.report(gitops_problems(gitops), ("gitops",))

    def add_environments(self, section: Any) -> None:
        if section is None:
            return
        if not isinstance(section, dict):
            message = "'environments' must be a mapping of name: settings"
            self.report([((), message)], ("environments",))
            return
        for name, settings in section.items():
            path = ("environments", name)
            reasons = environment_name_reasons(name)
            for reason in reasons:
                message = f"invalid environment name {name!r}: {reason}"
                self.problem(self.document.position(path, key=True), message)
            if reasons:
                continue
            # An invalid environment still claims its name, so that targets naming it are
            # not also reported as naming an unknown environment.
            environment = self.validate(Environment, settings, path)
            self.result.environments.append((name, environment))
            if environment is not None:
                reasons = k8s.validate_annotation_keys_and_size(environment.annotations)
                self.report([(("annotations",), r) for r in reasons], path)
                self.report(cluster.environment_problems(environment, self.context.gitops), path)
                labels = fields.own_label_problems(environment.labels, None)
                self.report(((("labels", key), message) for key, message in labels), path)

    def add_dependencies(self, section: Any) -> None:
        if section is None:
            return
        if not isinstance(section, tuple):
            message = "'dependencies' must be a list of dependencies"
            self.report([((), message)], ("dependencies",))
            return
        self.result.count = len(section)
        for index, item in enumerate(section):
            path = ("dependencies", index)
            dependency, invalid = self.validate_dependency(item, path)
            if dependency is not None:
                self.report(dependency.problems(invalid), path)
                self.judge_in_clusters(dependency, path)
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            if name in RESERVED_DEPENDENCIES:
                message = f"{name!r} is reserved: it is the name of kustomize's own file"
                self.report([(("name",), message)], path)
            # Even an invalid dependency claims its name and is checked against the
            # environments, so that one run reports all of its problems.
            targets = item.get("targets")
            targets = targets if isinstance(targets, dict) else {}
            self.check_targets(path, tuple(targets))
            record = None
            if dependency is not None:
                plannable = self.check_policy(dependency, path, invalid)
                if plannable and not invalid:
                    record = self.record(dependency, index)
            count = sum(target is not None for target in targets.values())
            self.result.dependencies.append((name, index, record, count))

    def judge_in_clusters(self, dependency: Dependency, path: NodePath) -> None:
        valid, gitops, shared = self.context.valid, self.context.gitops, self.context.shared
        self.report(cluster.dependency_problems(dependency, valid, gitops, shared), path)
        names = cluster.in_cluster_names(dependency, valid, self.index, int(path[-1]))
        if self.context.watched:  # usually not: no two such environments share a cluster
            for place in cluster.placements(dependency, valid, self.context.watched):
                self.result.placed.setdefault(place, int(path[-1]))
        self.result.in_cluster.extend(names)

    def check_targets(self, path: NodePath, target_names: tuple[Any, ...]) -> None:
        environments = self.context.environments
        for env_name in target_names:
            if env_name not in environments:
                names = self.context.order
                hint = suggest(env_name, names, listing="defined")
                message = f"unknown environment {env_name!r}{hint}"
                if not names:
                    message += " (no environments are defined)"
                at = (*path, "targets", env_name)
                self.problem(self.document.position(at, key=True), message)

    def check_policy(self, dependency: Dependency, path: NodePath, invalid: frozenset[str]) -> bool:
        """Judges the targets against their environments; True if all are valid."""
        plannable = True
        for env_name, target in dependency.targets.items():
            if target is None:
                continue
            environment = self.context.environments.get(env_name)
            if environment is None:
                plannable = False
                continue
            faults = list(
                policy.target_problems(dependency, env_name, environment, target, invalid)
            )
            self.report(faults, path)
            plannable = plannable and not faults
        return plannable

    def record(self, dependency: Dependency, index: int) -> DependencyRecord:
        context = self.context
        if not context.keep:
            self.models += [None] * (index - len(self.models)) + [dependency]
        where = (self.index, index)
        return record_of(dependency, where, context.order, context.valid, context.keep)

    def validate(self, model: type[BaseModel], data: Any, path: NodePath) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            details = error.errors(include_url=False)
            self.result.problems.extend(pydantic_problems(model, details, self.document, path))
            return None

    def validate_dependency(
        self, item: Any, path: NodePath
    ) -> tuple[Dependency | None, frozenset[str]]:
        """The dependency, or, when parts of it are invalid, the rest of it.

        The rules between fields and the policy still judge the valid parts, so that one
        run reports every problem; the frozenset names the top-level keys left out.
        """
        try:
            return Dependency.model_validate(item), frozenset()
        except ValidationError as error:
            details = error.errors(include_url=False)
        self.result.problems.extend(pydantic_problems(Dependency, details, self.document, path))
        partial, invalid = _without_invalid(item, [tuple(d["loc"]) for d in details])
        try:
            return Dependency.model_validate(partial), invalid
        except ValidationError:
            return None, invalid


def environment_name_reasons(name: str) -> list[str]:
    if name in RESERVED_ENVIRONMENTS:
        return [f"{name!r} is reserved for the shared base of the output"]
    return k8s.is_dns1123_label(name)


_TOP_LEVEL_MESSAGE = (
    "a catalog file must be a mapping with the keys 'environments', 'dependencies' and/or 'gitops'"
)


def gitops_problems(gitops: GitOps) -> Iterable[Fault]:
    yield from settings_problems(gitops)
    if gitops.argocd is None and gitops.flux is None:
        yield (), "gitops needs 'argocd' and/or 'flux': the objects to write for delivery"
    flux = gitops.flux
    if flux is not None and flux.git_repository is None and is_scp_url(gitops.repository):
        yield (
            ("repository",),
            f"Flux's GitRepository needs an ssh:// or https:// URL, not {gitops.repository!r}"
            " (write ssh://user@host/path), or name an existing one in flux.gitRepository",
        )


# Stands in for an invalid name while the rest of a dependency is checked; never shown.
_PLACEHOLDER_NAME = "invalid-name"


def _without_invalid(item: Any, locs: list[NodePath]) -> tuple[Any, frozenset[str]]:
    """The dependency as written without its invalid parts, and the keys left out."""
    if not isinstance(item, dict) or any(len(loc) == 0 for loc in locs):
        return None, frozenset()
    partial = dict(item)
    targets = dict(item["targets"]) if isinstance(item.get("targets"), dict) else {}
    invalid = set()
    for loc in locs:
        key = str(loc[0])
        invalid.add(key)
        if key == "targets" and len(loc) > 1:
            targets.pop(str(loc[1]), None)
        elif key == "name":
            partial["name"] = _PLACEHOLDER_NAME
        elif key != "targets":
            partial.pop(key, None)
    partial["targets"] = targets
    return partial, frozenset(invalid)
