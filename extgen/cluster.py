"""Rules about the objects as they land in clusters: whose namespace, whose name, which loop.

The API server accepts a Service `kubernetes` in `default` or `kube-dns` in `kube-system`,
two environments' applications writing the same object, and an ExternalName that names
itself; each replaces or breaks something in the cluster, so extgen refuses them. The
rules of one dependency are judged with it; the only rule across dependencies (loops of
ExternalNames) keeps only the rare targets that name a Service in the cluster.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from extgen.model import Dependency, Environment, Fault, GitOps, HostnameTarget, TargetOverrides

# Namespaces of Kubernetes itself: kube-dns, kube-proxy's and the control plane's objects.
KUBERNETES_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
# Argo CD's name and server for the cluster it runs in, the same as no cluster at all.
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"


def gitops_namespaces(gitops: GitOps | None) -> dict[str, str]:
    """Namespace -> what runs there, for the catalog's own Argo CD and Flux."""
    found = {}
    if gitops is not None and gitops.flux is not None:
        found[gitops.flux.namespace] = "the catalog's Flux (gitops.flux.namespace)"
    if gitops is not None and gitops.argocd is not None:
        found[gitops.argocd.namespace] = "the catalog's Argo CD (gitops.argocd.namespace)"
    return found


def namespace_problem(namespace: str, gitops: GitOps | None) -> str | None:
    """Why extgen must not write into `namespace`, if it must not."""
    if namespace in KUBERNETES_NAMESPACES:
        return (
            f"namespace {namespace!r} belongs to Kubernetes itself"
            f" ({', '.join(KUBERNETES_NAMESPACES)}):"
            " a Service there could replace one of the cluster's own, such as kube-dns;"
            " choose a namespace of your own"
        )
    owner = gitops_namespaces(gitops).get(namespace)
    if owner is not None:
        return (
            f"namespace {namespace!r} is where {owner} runs: objects there could replace"
            " its own; choose another namespace"
        )
    return None


def environment_problems(env: Environment, gitops: GitOps | None) -> Iterator[Fault]:
    if (message := namespace_problem(env.namespace, gitops)) is not None:
        yield ("namespace",), message


def namespaces_of(dep: Dependency, env: Environment, target: TargetOverrides) -> tuple[str, ...]:
    return target.namespaces or dep.namespaces or (env.namespace,)


def dependency_problems(
    dep: Dependency,
    environments: Mapping[str, Environment],
    gitops: GitOps | None,
    shared: Iterable[SharedCluster] = (),
) -> Iterator[Fault]:
    """The dependency's objects against the clusters: namespaces it must not write into,
    the API server's own Service, objects two environments on one cluster both write
    (`shared`: the pairs of environments on one cluster, from `shared_clusters`)."""
    targets = {
        name: target
        for name, target in dep.targets.items()
        if target is not None and name in environments
    }
    if dep.namespaces and any(target.namespaces is None for target in targets.values()):
        for index, namespace in enumerate(dep.namespaces):
            if (message := namespace_problem(namespace, gitops)) is not None:
                yield ("namespaces", index), message
    for name, target in targets.items():
        for index, namespace in enumerate(target.namespaces or ()):
            if (message := namespace_problem(namespace, gitops)) is not None:
                yield ("targets", name, "namespaces", index), message
    if dep.name == "kubernetes" and any(
        "default" in namespaces_of(dep, environments[name], target)
        for name, target in targets.items()
    ):
        yield (
            ("name",),
            (
                "a Service 'kubernetes' in namespace 'default' would replace the one that leads"
                " to the cluster's API server; rename the dependency"
            ),
        )
    for pair in shared:
        first, second = targets.get(pair.first), targets.get(pair.second)
        if first is None or second is None:
            continue
        in_own_namespaces = first.namespaces is None and second.namespaces is None
        if in_own_namespaces and dep.namespaces is None and not pair.same_namespace:
            continue  # the usual case, decided once for the pair
        yield from _collision(dep, environments, targets, pair)


@dataclass(frozen=True)
class SharedCluster:
    """Two environments (in name order) that deploy to one cluster."""

    first: str
    second: str
    description: str
    same_namespace: bool  # the environments' own namespaces


def shared_clusters(
    environments: Mapping[str, Environment], with_gitops: bool
) -> tuple[SharedCluster, ...]:
    """Every pair of environments on one cluster: judged once for the whole catalog, so
    that each dependency only compares its targets in those pairs (usually none)."""
    placed = []
    for name in sorted(environments):
        found = cluster_of(environments[name], with_gitops)
        if found is not None:
            placed.append((name, found))
    return tuple(
        SharedCluster(
            first,
            second,
            cluster.description,
            environments[first].namespace == environments[second].namespace,
        )
        for (first, cluster), (second, other) in itertools.combinations(placed, 2)
        if cluster.key == other.key
    )


@dataclass(frozen=True)
class _Cluster:
    key: tuple[str, str]
    description: str


def cluster_of(env: Environment, with_gitops: bool) -> _Cluster | None:
    """The cluster an environment deploys to, as far as the catalog says (None: unknown).

    Without a cluster, an environment goes to the cluster Argo CD or Flux runs in, which
    Argo CD also calls `in-cluster` or https://kubernetes.default.svc; without gitops
    either, the catalog does not say where it goes.
    """
    cluster = env.cluster
    local = _Cluster(("local", ""), "the cluster Argo CD or Flux runs in")
    if cluster is None or (cluster.server, cluster.name, cluster.kube_config_secret) == (
        None,
        None,
        None,
    ):
        return local if with_gitops else None
    if cluster.server is not None:
        if cluster.server.rstrip("/") == IN_CLUSTER_SERVER:
            return local
        return _Cluster(("server", cluster.server.rstrip("/")), cluster.server)
    if cluster.name is not None:
        if cluster.name == IN_CLUSTER_NAME:
            return local
        return _Cluster(("name", cluster.name), f"the cluster named {cluster.name!r}")
    secret = str(cluster.kube_config_secret)
    return _Cluster(("kubeconfig", secret), f"the cluster of kubeConfigSecret {secret!r}")


def environment_collisions(
    environments: Mapping[str, Environment], pairs: Iterable[SharedCluster]
) -> Iterator[tuple[str, str]]:
    """(environment, message) for the objects of its own that two environments on one
    cluster would both write: the `extgen-connections` ConfigMap of the namespace they
    share (the Namespace itself is written by the first of them, see namespaces.py).
    `pairs`: those of `connection_pairs`."""
    for pair in pairs:
        if pair.same_namespace:
            first = environments[pair.first]
            yield (
                pair.second,
                f"environments {pair.first!r} and {pair.second!r} both deploy to"
                f" {pair.description} and both write the ConfigMap extgen-connections in"
                f" namespace {first.namespace!r} (connectionConfig): their applications would"
                " fight over it; give one of them another namespace, or connectionConfig"
                " to one of them only",
            )


def connection_pairs(
    environments: Mapping[str, Environment], shared: Iterable[SharedCluster]
) -> tuple[SharedCluster, ...]:
    """The pairs of environments on one cluster that both write extgen-connections
    ConfigMaps (connectionConfig): one in every namespace a dependency of theirs is in."""
    return tuple(
        pair
        for pair in shared
        if environments[pair.first].connection_config
        and environments[pair.second].connection_config
    )


Placement = tuple[str, str]  # (environment, namespace): a dependency's Service is there


def placements(
    dep: Dependency, environments: Mapping[str, Environment], watched: Iterable[str]
) -> Iterator[Placement]:
    """The namespaces the dependency's Services are in, in the `watched` environments
    (valid ones, of `environments`)."""
    for name in watched:
        target = dep.targets.get(name)
        if target is not None:
            for namespace in namespaces_of(dep, environments[name], target):
                yield name, namespace


def connection_collisions(
    pairs: Iterable[SharedCluster],
    placed: Mapping[Placement, Any],
    environments: Mapping[str, Environment],
) -> Iterator[tuple[SharedCluster, str]]:
    """(pair, namespace) where both environments of a pair place a dependency, and so
    write the namespace's extgen-connections ConfigMap; their own shared namespace is
    `environment_collisions`'s."""
    for pair in pairs:
        own = environments[pair.first].namespace if pair.same_namespace else None
        theirs = sorted(namespace for env_name, namespace in placed if env_name == pair.second)
        for namespace in theirs:
            if namespace != own and (pair.first, namespace) in placed:
                yield pair, namespace


def _collision(
    dep: Dependency,
    environments: Mapping[str, Environment],
    targets: Mapping[str, TargetOverrides],
    pair: SharedCluster,
) -> Iterator[Fault]:
    mine = namespaces_of(dep, environments[pair.first], targets[pair.first])
    theirs = namespaces_of(dep, environments[pair.second], targets[pair.second])
    shared = sorted(set(mine) & set(theirs))
    if shared:
        where = ", ".join(repr(namespace) for namespace in shared)
        yield (
            ("targets", pair.second),
            (
                f"environments {pair.first!r} and {pair.second!r} both deploy to"
                f" {pair.description} and both write the Service of dependency {dep.name!r} in"
                f" namespace{'s' if len(shared) > 1 else ''} {where}: their applications would"
                " fight over it; give one of them other namespaces"
            ),
        )


# --- ExternalName loops ---------------------------------------------------------------


def service_named(hostname: str, cluster_domain: str) -> tuple[str, str] | None:
    """(name, namespace) of the Service a hostname names in the cluster, if it names one.

    CoreDNS answers `NAME.NS.svc.<clusterDomain>` from the cluster when it follows an
    ExternalName's CNAME there; `NAME.NS.svc` is the same Service wherever a resolver
    completes it (a search path, CoreDNS's autopath). Shorter forms (`NAME`, `NAME.NS`)
    depend on the namespace of the client and are not taken for a Service.
    """
    if ".svc" not in hostname:
        return None  # most targets: no need to look further
    name = hostname.rstrip(".")
    name = name.removesuffix(f".{cluster_domain}")
    labels = name.split(".")
    if len(labels) == 3 and labels[2] == "svc":
        return labels[0], labels[1]
    return None


def self_loop(dep: Dependency, env: Environment, target: HostnameTarget) -> tuple[str, str] | None:
    """The Service in the cluster that the target names, if it is this one."""
    named = service_named(target.external_name, env.cluster_domain)
    if named is not None and named[0] == dep.name and named[1] in namespaces_of(dep, env, target):
        return named
    return None


@dataclass(frozen=True)
class InClusterName:
    """An ExternalName target that names a Service of its environment: an edge of a chain.

    `source` and `item` find the dependency again (file index, index in its list).
    """

    environment: str
    namespace: str
    service: str
    target_namespace: str
    target_service: str
    source: int
    item: int


def in_cluster_names(
    dep: Dependency, environments: Mapping[str, Environment], source: int, item: int
) -> Iterator[InClusterName]:
    for env_name, target in dep.targets.items():
        env = environments.get(env_name)
        if env is None or not isinstance(target, HostnameTarget):
            continue
        named = service_named(target.external_name, env.cluster_domain)
        if named is None or self_loop(dep, env, target) is not None:
            continue  # a self loop is reported with the dependency
        for namespace in namespaces_of(dep, env, target):
            yield InClusterName(env_name, namespace, dep.name, named[1], named[0], source, item)


Node = tuple[str, str, str]  # environment, namespace, Service


def loops(
    edges: Iterable[InClusterName], cluster_domains: Mapping[str, str]
) -> Iterator[tuple[InClusterName, str]]:
    """Each ExternalName that takes part in a loop, with the loop as the names it follows,
    starting from itself (once per target, whatever its namespaces)."""
    following = {(e.environment, e.namespace, e.service): e for e in edges}
    reported = set()
    for node, length in sorted(_in_loops(following).items()):
        edge = following[node]
        if (edge.source, edge.item, edge.environment) not in reported:
            reported.add((edge.source, edge.item, edge.environment))
            names = _spelled(node, length, following, cluster_domains[edge.environment])
            yield (
                edge,
                (
                    f"ExternalName loop in environment {edge.environment!r}: {names}; CoreDNS"
                    " follows the CNAMEs in circles and answers nothing (allowInternal does not"
                    " change that): point one of them outside the loop"
                ),
            )


def _next(edge: InClusterName) -> Node:
    return (edge.environment, edge.target_namespace, edge.target_service)


def _in_loops(following: Mapping[Node, InClusterName]) -> dict[Node, int]:
    """The nodes on a loop, with the length of their loop. Each Service has at most one
    successor, so every walk ends at a Service that is no ExternalName into the cluster,
    or comes back; each node is walked once."""
    done: set[Node] = set()
    found: dict[Node, int] = {}
    for start in following:
        walk: dict[Node, int] = {}
        node = start
        while node in following and node not in done and node not in walk:
            walk[node] = len(walk)
            node = _next(following[node])
        if node in walk:
            members = list(walk)[walk[node] :]
            found.update(dict.fromkeys(members, len(members)))
        done.update(walk)
    return found


# A loop is spelled out up to this many names; a longer one by its length.
_LOOP_NAMES = 8


def _spelled(node: Node, length: int, following: Mapping[Node, InClusterName], domain: str) -> str:
    chain = [node]
    for _ in range(min(length, _LOOP_NAMES)):
        chain.append(_next(following[chain[-1]]))
    names = [f"{service}.{namespace}.svc.{domain}" for _, namespace, service in chain]
    if length <= _LOOP_NAMES:
        return " -> ".join(names)
    return f"{' -> '.join(names)} -> ... ({length} Services in all, back to {names[0]})"
