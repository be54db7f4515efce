"""Catalog files -> `Catalog`, with every problem reported at the YAML node that caused it."""

from __future__ import annotations

import difflib
import functools
import pickle
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from extgen import cluster, fields, k8s, parallel, policy
from extgen.delivery import environment_name_problems, settings_problems
from extgen.errors import CatalogError, ExtgenError, Position, Problem
from extgen.fields import is_scp_url
from extgen.layout import LONGEST_SHARD_SUFFIX
from extgen.locate import allowed_keys, strip_tags
from extgen.model import Dependency, Environment, Fault, GitOps
from extgen.records import DependencyRecord, record_of, source_order
from extgen.yamlio import Document, NodePath, SourceScalar, YamlError, load_document

TOP_LEVEL_KEYS = ("environments", "dependencies", "gitops")
RESERVED_ENVIRONMENTS = frozenset({"base"})
RESERVED_DEPENDENCIES = frozenset({"kustomization"})
# Far above any real catalog (the benchmarks go to 100,000 x 4 environments); they bound
# time and memory. A target is one dependency in one environment: one output file.
MAX_DEPENDENCIES = 100_000
MAX_TARGETS = 1_000_000


def catalog_files(root: FsPath) -> list[FsPath]:
    """Every *.yaml / *.yml below a directory, in sorted order; or the one file given."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise ExtgenError(f"catalog {str(root)!r} does not exist")
    files = [p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    if not files:
        raise ExtgenError(f"catalog directory {str(root)!r} has no *.yaml or *.yml files")
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def read_catalog(root: FsPath) -> Catalog:
    sources = []
    for path in catalog_files(root):
        try:
            size = path.stat().st_size
        except OSError as error:
            raise ExtgenError(f"{path}: cannot read: {error.strerror}") from None
        sources.append(_Source(str(path), size, path))
    return _parse(sources)


@dataclass(frozen=True)
class _Source:
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


# Catalogs of up to this much YAML keep their dependencies' models from validation to
# rendering (about seven times the YAML); larger ones keep a record of each (a few hundred
# bytes) and their models pickled and compressed, file by file (about a sixth of the
# YAML), to be unpickled when one of their output files must be rendered.
KEEP_MODELS_BYTES = 8 * 1024 * 1024


class Catalog:
    """The union of all catalog files, in a canonical order.

    Environments and gitops are models; dependencies are records, in name order, whose
    models are kept for small catalogs and, for large ones, pickled and compressed a file
    at a time (`pickled`, by file index): what is rendered is what was validated.
    """

    def __init__(
        self,
        environments: dict[str, Environment],
        gitops: GitOps | None,
        records: tuple[DependencyRecord, ...],
        pickled: tuple[bytes, ...],
        sources: tuple[_Source, ...] = (),
    ) -> None:
        self.environments = environments
        self.gitops = gitops
        self.records = records
        self.pickled = pickled
        self.sources = sources  # the catalog's files, by `DependencyRecord.source`
        self._unpickled: tuple[int, list[Dependency]] | None = None  # the last file's models

    def position(self, record: DependencyRecord, *path: str | int) -> Position:
        """Where a dependency's node at `path` (e.g. "targets", ENV) is written: the file
        is read and composed again, for the few positions a command reports after
        loading."""
        source = self.sources[record.source]
        document = load_document(source.text(), source.name)
        return document.position(("dependencies", record.item, *path))

    def dependency(self, record: DependencyRecord) -> Dependency:
        """The dependency's model: kept, or unpickled with the rest of its file's."""
        if record.model is not None:
            return record.model
        unpickled = self._unpickled  # once: verify's threads may unpickle others meanwhile
        if unpickled is None or unpickled[0] != record.source:
            # Pickled by this process or its own child (_FileReader.read).
            unpickled = (record.source, pickle.loads(zlib.decompress(self.pickled[record.source])))
            self._unpickled = unpickled
        return unpickled[1][record.item]

    @property
    def dependencies(self) -> tuple[Dependency, ...]:
        """Every dependency's model, in name order."""
        models = {id(record): self.dependency(record) for record in source_order(self.records)}
        return tuple(models[id(record)] for record in self.records)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Catalog):
            return NotImplemented
        mine = (self.environments, self.gitops, self.dependencies)
        return mine == (other.environments, other.gitops, other.dependencies)

    __hash__ = None  # type: ignore[assignment]


def parse_catalog(sources: Iterable[tuple[str, str]]) -> Catalog:
    """(file name, text) pairs -> Catalog; raises CatalogError listing every problem."""
    return _parse([_Source(name, len(text), given=text) for name, text in sources])


def _parse(sources: Sequence[_Source]) -> Catalog:
    """Each file is judged whole on its own, knowing every environment (`_first_look`),
    so that it can be let go before the next; only names are compared across files."""
    environments, gitops = _first_look(sources)
    keep = sum(source.size for source in sources) <= KEEP_MODELS_BYTES
    while True:
        merged = _Merged(sources)
        context = _Context(environments, keep, gitops)
        for index, result in enumerate(_read_files(sources, context)):
            merged.add(index, result)
        found = {name: model for name, (model, _) in merged.environments.items()}
        found_gitops = merged.gitops[0] if merged.gitops is not None else None
        if found == environments and found_gitops == gitops:
            break
        # A file defined environments that _may_define_environments passed over (it
        # cannot), or a file changed since the first look: the files are judged again
        # rather than judged wrongly.
        environments, gitops = found, found_gitops
    merged.check()
    merged.check_loops()
    if merged.problems:
        raise CatalogError(merged.problems)
    return merged.catalog()


def _first_look(
    sources: Sequence[_Source],
) -> tuple[dict[str, Environment | None], GitOps | None]:
    """Every environment as its first valid definition gives it (None: invalid), and the
    gitops settings likewise (their namespaces are the catalog's own Argo CD's or Flux's).

    A first look at the files that may define them, before the files are judged one by
    one; their problems are reported when they are.
    """
    found: dict[str, Environment | None] = {}
    gitops: list[GitOps | None] = []
    for source in sources:
        text = source.text()
        if not _may_define_environments(text):
            continue
        try:
            data = load_document(text, source.name).data
        except YamlError:
            continue
        if not isinstance(data, dict):
            continue
        if "gitops" in data and not gitops:
            gitops.append(_valid_or_none(GitOps, data["gitops"]))
        section = data.get("environments")
        if not isinstance(section, dict):
            continue
        for name, settings in section.items():
            if name not in found and not _environment_name_reasons(name):
                found[name] = _valid_or_none(Environment, settings)
    return found, gitops[0] if gitops else None


def _may_define_environments(text: str) -> bool:
    # The key is spelled out, or written with escapes in double quotes (a backslash).
    return "environments" in text or "gitops" in text or "\\" in text


def _valid_or_none(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _environment_name_reasons(name: str) -> list[str]:
    if name in RESERVED_ENVIRONMENTS:
        return [f"{name!r} is reserved for the shared base of the output"]
    return k8s.is_dns1123_label(name)


# Below this much YAML, a second process costs more than it saves.
PARALLEL_BYTES = 512 * 1024


@dataclass(frozen=True)
class _Context:
    """What judging one file needs to know of the others."""

    environments: dict[str, Environment | None]
    keep: bool  # keep the dependencies' models (KEEP_MODELS_BYTES)
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


@dataclass
class _FileResult:
    """One file, judged: its problems, and the names it defines with their values."""

    problems: list[Problem] = field(default_factory=list)
    environments: list[tuple[str, Environment | None]] = field(default_factory=list)
    # (name, index in the list, record (None for an invalid dependency), targets)
    dependencies: list[tuple[str, int, DependencyRecord | None, int]] = field(default_factory=list)
    gitops: list[GitOps | None] = field(default_factory=list)  # one item if defined here
    count: int = 0  # items in its list of dependencies, named or not
    # ExternalName targets naming a Service in the cluster: the few that may form loops
    in_cluster: list[cluster.InClusterName] = field(default_factory=list)
    pickled: bytes = b""  # its dependencies' models, unless kept (_Context.keep)


def _read_files(sources: Sequence[_Source], context: _Context) -> list[_FileResult]:
    """Each file judged, in order; a large catalog of several files by two processes
    (`in_two_processes`: the child sends back its results, records and problems)."""

    def read(items: Sequence[tuple[int, _Source]]) -> list[_FileResult]:
        return [_FileReader(index, s.name, context).read(s.text()) for index, s in items]

    items = list(enumerate(sources))
    if sum(source.size for source in sources) < PARALLEL_BYTES:
        return read(items)
    return parallel.split("parse", items, read)


class _FileReader:
    """Judges one catalog file: every rule but those between files (names defined twice,
    the number of dependencies, delivery names), which `_Merged` applies."""

    def __init__(self, index: int, file: str, context: _Context) -> None:
        self.index = index
        self.file = file
        self.context = context
        self.result = _FileResult()
        self.models: list[Dependency | None] = []  # by index, when not kept in records

    def read(self, text: str) -> _FileResult:
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
                message = f"unknown top-level key {key!r}{_suggest(key, TOP_LEVEL_KEYS)}"
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
            self.report(_gitops_problems(gitops), ("gitops",))

    def add_environments(self, section: Any) -> None:
        if section is None:
            return
        if not isinstance(section, dict):
            message = "'environments' must be a mapping of name: settings"
            self.report([((), message)], ("environments",))
            return
        for name, settings in section.items():
            path = ("environments", name)
            reasons = _environment_name_reasons(name)
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
        self.result.in_cluster.extend(names)

    def check_targets(self, path: NodePath, target_names: tuple[Any, ...]) -> None:
        environments = self.context.environments
        for env_name in target_names:
            if env_name not in environments:
                names = self.context.order
                hint = _suggest(env_name, names, listing="defined")
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
            self.result.problems.extend(_problems(model, details, self.document, path))
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
        self.result.problems.extend(_problems(Dependency, details, self.document, path))
        partial, invalid = _without_invalid(item, [tuple(d["loc"]) for d in details])
        try:
            return Dependency.model_validate(partial), invalid
        except ValidationError:
            return None, invalid


class _Merged:
    """The files' results, merged in order: names defined twice, the number of
    dependencies and the delivery names are judged here."""

    def __init__(self, sources: Sequence[_Source]) -> None:
        self.sources = sources
        self.problems: list[Problem] = []
        self.environments: dict[str, tuple[Environment | None, int]] = {}
        self.dependencies: dict[str, tuple[int, int]] = {}  # name -> (file, index)
        self.records: list[DependencyRecord] = []
        self.plannable = True
        self.gitops: tuple[GitOps | None, int] | None = None
        self.count = 0
        self.targets = 0
        self.pickled: list[bytes] = []  # by file
        self.in_cluster: list[cluster.InClusterName] = []
        self._documents: dict[int, Document] = {}

    def position(self, source: int, path: NodePath, *, key: bool = False) -> Position:
        """A position in a file (judged already, and so read without error)."""
        if source not in self._documents:
            file, text = self.sources[source].name, self.sources[source].text()
            self._documents[source] = load_document(text, file)
        return self._documents[source].position(path, key=key)

    def add(self, source: int, result: _FileResult) -> None:
        self.problems.extend(result.problems)
        self.pickled.append(result.pickled)
        self.in_cluster.extend(result.in_cluster)
        for name, environment in result.environments:
            path: NodePath = ("environments", name)
            if name in self.environments:
                first = (self.environments[name][1], path)
                self.twice(f"environment {name!r}", first, (source, path), key=True)
            else:
                self.environments[name] = (environment, source)
        if result.count and self.count >= MAX_DEPENDENCIES:
            self.too_many(source, 0)
            return
        limit = MAX_DEPENDENCIES - self.count
        self.count += result.count
        for name, index, record, targets in result.dependencies:
            if index >= limit:
                break
            if name in self.dependencies:
                first_source, first_index = self.dependencies[name]
                first = (first_source, ("dependencies", first_index, "name"))
                here = (source, ("dependencies", index, "name"))
                self.twice(f"dependency {name!r}", first, here, key=False)
                continue
            self.dependencies[name] = (source, index)
            self.targets += targets
            if self.targets > MAX_TARGETS >= self.targets - targets:
                message = (
                    f"the catalog has more than {MAX_TARGETS} targets (a target is one"
                    " dependency in one environment: one output file)"
                )
                at = self.position(source, ("dependencies", index, "targets"))
                self.problems.append(Problem(at, message))
            if record is None:
                self.plannable = False
            else:
                self.records.append(record)
        if result.count > limit:
            self.too_many(source, limit)
        for gitops in result.gitops:
            if self.gitops is not None:
                first = (self.gitops[1], ("gitops",))
                hint = "; define it in one file"
                self.twice("'gitops'", first, (source, ("gitops",)), key=True, hint=hint)
            else:
                self.gitops = (gitops, source)

    def too_many(self, source: int, index: int) -> None:
        message = f"the catalog has more than {MAX_DEPENDENCIES} dependencies"
        self.problems.append(Problem(self.position(source, ("dependencies", index)), message))

    def twice(
        self,
        what: str,
        first: tuple[int, NodePath],
        here: tuple[int, NodePath],
        *,
        key: bool,
        hint: str = "",
    ) -> None:
        """`what` is defined at `here` (file, path) after `first`."""
        earlier = self.position(*first, key=key)
        message = f"{what} is defined twice (first at {earlier}){hint}"
        self.problems.append(Problem(self.position(*here, key=key), message))

    def check(self) -> None:
        """Rules between environments, and between the gitops settings and the
        environments, once all are read."""
        gitops = self.gitops[0] if self.gitops is not None else None
        valid = {name: env for name, (env, _) in self.environments.items() if env is not None}
        for name, message in cluster.environment_collisions(valid, self.gitops is not None):
            source = self.environments[name][1]
            at = self.position(source, ("environments", name, "connectionConfig"), key=True)
            self.problems.append(Problem(at, message))
        if gitops is None:
            return
        for name, (_, source) in self.environments.items():
            for message in _delivery_name_problems(gitops, name):
                at = self.position(source, ("environments", name), key=True)
                self.problems.append(Problem(at, message))

    def check_loops(self) -> None:
        """ExternalName chains through the cluster that come back, once all are read."""
        domains = {
            name: environment.cluster_domain
            for name, (environment, _) in self.environments.items()
            if environment is not None
        }
        for edge, message in cluster.loops(self.in_cluster, domains):
            path = ("dependencies", edge.item, "targets", edge.environment, "externalName")
            self.problems.append(Problem(self.position(edge.source, path), message))

    def catalog(self) -> Catalog:
        # Only called without problems, so every definition holds a validated model.
        assert self.plannable
        environments = {}
        for name in sorted(self.environments):
            environment = self.environments[name][0]
            assert environment is not None
            environments[name] = environment
        records = tuple(sorted(self.records, key=lambda record: record.name))
        for rank, record in enumerate(records):
            record.rank = rank
        gitops = self.gitops[0] if self.gitops is not None else None
        return Catalog(environments, gitops, records, tuple(self.pickled), tuple(self.sources))


_TOP_LEVEL_MESSAGE = (
    "a catalog file must be a mapping with the keys 'environments', 'dependencies' and/or 'gitops'"
)
# Argo CD and Flux put the application's name in a label value on every object they apply.
_MAX_DELIVERY_NAME = 63


def _gitops_problems(gitops: GitOps) -> Iterable[Fault]:
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


def _delivery_name_problems(gitops: GitOps, environment: str) -> Iterable[str]:
    yield from environment_name_problems(gitops, environment)
    for tool, settings in (("Argo CD", gitops.argocd), ("Flux", gitops.flux)):
        if settings is None:
            continue
        name = f"{settings.name_prefix}{environment}{LONGEST_SHARD_SUFFIX}"
        if len(name) > _MAX_DELIVERY_NAME:
            yield (
                f"the {tool} object names of environment {environment!r} (up to {name!r})"
                f" would be longer than {_MAX_DELIVERY_NAME} characters, which {tool} puts in"
                " a label value: shorten the environment name or namePrefix"
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


def _suggest(word: str, candidates: Iterable[str], *, listing: str = "") -> str:
    candidates = list(candidates)
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if listing and candidates:
        return f" ({listing}: {', '.join(candidates)})"
    return ""


def _problems(
    model: type[BaseModel], details: list[Any], document: Document, prefix: NodePath
) -> list[Problem]:
    """Each error at its node; a missing key is left unsaid when an unknown key next to it
    is reported as its misspelling ("did you mean")."""
    meant = set()
    for detail in details:
        if detail["type"] == "extra_forbidden":
            loc = tuple(detail["loc"])
            close = _close_key(model, loc)
            if close is not None:
                meant.add((*strip_tags(model, loc[:-1]), close))
    return [
        _problem(model, detail, document, prefix)
        for detail in details
        if detail["type"] != "missing" or strip_tags(model, tuple(detail["loc"])) not in meant
    ]


def _close_key(model: type[BaseModel], loc: NodePath) -> str | None:
    # The location with its union tags picks the form of a target (addresses, selector).
    close = difflib.get_close_matches(str(loc[-1]), allowed_keys(model, loc[:-1]), n=1, cutoff=0.6)
    return close[0] if close else None


def _problem(model: type[BaseModel], detail: Any, document: Document, prefix: NodePath) -> Problem:
    raw: NodePath = tuple(detail["loc"])
    loc: NodePath = strip_tags(model, raw)
    kind = detail["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = _suggest(key, allowed_keys(model, raw[:-1]), listing="expected one of")
        message = f"unknown key {key!r}{hint}"
        return Problem(document.position((*prefix, *loc), key=True), message)
    if kind == "missing":
        return Problem(document.position((*prefix, *loc[:-1])), f"missing key {loc[-1]!r}")
    on_key = bool(loc) and loc[-1] == "[key]"
    if on_key:
        loc = loc[:-1]
    position = document.position((*prefix, *loc), key=on_key)
    return Problem(position, _message(kind, detail))


def _message(kind: str, detail: Any) -> str:
    got = _describe(detail.get("input"))
    expected = _EXPECTED.get(kind)
    if expected:
        return f"expected {expected}, got {got}"
    if kind == "literal_error":
        return f"expected {detail['ctx']['expected']}, got {got.removeprefix('the string ')}"
    return str(detail["msg"])


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "tuple_type": "a list",
    "union_tag_not_found": "a hostname, an IP address, a list of IPs or a mapping",
    "union_tag_invalid": "a hostname, an IP address, a list of IPs or a mapping",
}


def _describe(value: Any) -> str:
    if isinstance(value, SourceScalar):
        return repr(value.text)
    if value is None:
        return "null"
    if isinstance(value, str):
        # Said in full: "got '80'" would read as if the number 80 had been refused.
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, tuple):
        return "a list"
    return repr(value)
