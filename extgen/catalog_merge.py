"""The catalog's files, judged one by one (`catalog_file`), merged in order: names defined
twice, the number of dependencies and targets, the delivery names, and the rules between
environments and across files (collisions, ExternalName loops)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from extgen import cluster
from extgen.catalog_file import FileResult, Source
from extgen.delivery import environment_name_problems
from extgen.errors import Position, Problem
from extgen.layout import LONGEST_SHARD_SUFFIX
from extgen.model import Environment, GitOps
from extgen.records import DependencyRecord
from extgen.yamlio import Document, NodePath, load_document

# Far above any real catalog (the benchmarks go to 100,000 x 4 environments); they bound
# time and memory. A target is one dependency in one environment: one output file.
MAX_DEPENDENCIES = 100_000
MAX_TARGETS = 1_000_000


class Merged:
    """The files' results, merged in order: names defined twice, the number of
    dependencies and the delivery names are judged here."""

    def __init__(self, sources: Sequence[Source]) -> None:
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
        self.placed: dict[cluster.Placement, tuple[int, int]] = {}  # -> (file, item), first
        self._documents: dict[int, Document] = {}

    def position(self, source: int, path: NodePath, *, key: bool = False) -> Position:
        """A position in a file (judged already, and so read without error)."""
        if source not in self._documents:
            file, text = self.sources[source].name, self.sources[source].text()
            self._documents[source] = load_document(text, file)
        return self._documents[source].position(path, key=key)

    def add(self, source: int, result: FileResult) -> None:
        self.problems.extend(result.problems)
        self.pickled.append(result.pickled)
        self.in_cluster.extend(result.in_cluster)
        for place, item in result.placed.items():
            self.placed.setdefault(place, (source, item))
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
        shared = cluster.shared_clusters(valid, self.gitops is not None)
        pairs = cluster.connection_pairs(valid, shared)
        for name, message in cluster.environment_collisions(valid, pairs):
            source = self.environments[name][1]
            at = self.position(source, ("environments", name, "connectionConfig"), key=True)
            self.problems.append(Problem(at, message))
        self.check_connections(valid, pairs)
        if gitops is None:
            return
        for name, (_, source) in self.environments.items():
            for message in _delivery_name_problems(gitops, name):
                at = self.position(source, ("environments", name), key=True)
                self.problems.append(Problem(at, message))

    def check_connections(
        self, valid: dict[str, Environment], pairs: tuple[cluster.SharedCluster, ...]
    ) -> None:
        """Two environments on one cluster with connectionConfig (`pairs`), whose
        dependencies are in one namespace: both would write its extgen-connections
        ConfigMap."""
        for pair, namespace in cluster.connection_collisions(pairs, self.placed, valid):
            first, item = self.placed[(pair.first, namespace)]
            earlier = self.position(first, ("dependencies", item, "targets", pair.first), key=True)
            source, item = self.placed[(pair.second, namespace)]
            message = (
                f"environments {pair.first!r} and {pair.second!r} both deploy to"
                f" {pair.description} and both write the ConfigMap extgen-connections in"
                f" namespace {namespace!r} (connectionConfig), for this dependency and the one"
                f" at {earlier}: their applications would fight over it; give one of them"
                " other namespaces, or connectionConfig to one environment only"
            )
            at = self.position(source, ("dependencies", item, "targets", pair.second), key=True)
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

    def parts(
        self,
    ) -> tuple[
        dict[str, Environment], GitOps | None, tuple[DependencyRecord, ...], tuple[bytes, ...]
    ]:
        """What the catalog is made of: its environments, gitops, records and pickles.

        Only called without problems, so every definition holds a validated model."""
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
        return environments, gitops, records, tuple(self.pickled)


# Argo CD and Flux put the application's name in a label value on every object they apply.
_MAX_DELIVERY_NAME = 63


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
