"""Catalog -> records: what planning keeps of each valid dependency, without its model.

A record holds a dependency's name, where it is written (file and index), its place
among shards, and per environment the number of objects it makes there and a digest of
everything they are made from. Plans, renders and verifications of large catalogs run on
records; a dependency's model is read again only when one of its files must be rendered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from extgen import guardrails
from extgen.manifest import MAX_ENDPOINTS_PER_SLICE
from extgen.model import AddressTarget, Dependency, Environment, TargetOverrides


@dataclass(eq=False, slots=True)  # slots: 100,000 of them for the largest catalog
class DependencyRecord:
    """What planning needs of one valid dependency, without its model.

    `counts` and `digests` follow the order of `Catalog.environments`: the objects the
    dependency makes in each environment (0 where it has no target) and, DIGEST_SIZE bytes
    each, a digest of what its file there is made from (`summarize`).
    """

    name: str
    source: int  # its file's index in the catalog
    item: int  # its index in that file's list of dependencies
    shard_key: int  # where it falls among an environment's shards (`shard_key`)
    counts: tuple[int, ...]
    digests: bytes
    model: Dependency | None = None  # kept for catalogs of up to KEEP_MODELS_BYTES, else pickled
    rank: int = -1  # its index in Catalog.records (name order)


# Settings that only validation or the delivery objects read: they never change what an
# environment's dependency files hold, so they are left out of the digests of `summarize`.
_NOT_IN_DEPENDENCY_FILES = {
    "environment": {
        "allowed_targets",
        "cluster",
        "cluster_domain",
        "shard_size",
        "shards",
        # guardrails written to the environment's own file, not to its dependencies'
        "admission_policy",
        "connection_config",
        "create_namespaces",
        "namespace_labels",
    },
    "dependency": {"allow_internal", "targets"},
}
DIGEST_SIZE = 16  # of a target's inputs: a seal has 64 bits
_NO_TARGET = bytes(DIGEST_SIZE)


def summarize(
    dep: Dependency, order: Sequence[str], environments: Mapping[str, Environment]
) -> tuple[tuple[int, ...], bytes]:
    """Per environment in `order`: the objects `dep` makes there (0 where it has no
    target), and, DIGEST_SIZE bytes each, a digest of the dependency and its target there.

    With the environment's own settings (`EnvironmentPlan.environment_json`) the digest
    covers everything the objects are made from: equal digests mean equal objects.
    Whatever is not listed in _NOT_IN_DEPENDENCY_FILES is in, so that a setting added to
    the models is never forgotten here (at worst a file is rendered once more).
    """
    counts, digests = [], []
    common = b""
    for name in order:
        target = dep.targets.get(name)
        env = environments.get(name)
        if target is None or env is None:
            counts.append(0)
            digests.append(_NO_TARGET)
            continue
        if not common:
            common = dep.model_dump_json(exclude=_NOT_IN_DEPENDENCY_FILES["dependency"]).encode()
        counts.append(object_count(dep, env, target))
        part = f"\n{type(target).__name__}:{target.model_dump_json()}\n".encode()
        digests.append(hashlib.blake2b(common + part, digest_size=DIGEST_SIZE).digest())
    return tuple(counts), b"".join(digests)


def record_of(
    dependency: Dependency,
    where: tuple[int, int],
    order: Sequence[str],
    environments: Mapping[str, Environment],
    keep_model: bool,
) -> DependencyRecord:
    """The record of a valid dependency, written at `where` (file index, item index)."""
    counts, digests = summarize(dependency, order, environments)
    model = dependency if keep_model else None
    key = shard_key(dependency.name)
    return DependencyRecord(dependency.name, *where, key, counts, digests, model)


def environment_inputs(env: Environment) -> bytes:
    """The settings of an environment that its dependency files are made from, as bytes
    (a digest's input, with `summarize`'s)."""
    json = env.model_dump_json(exclude=_NOT_IN_DEPENDENCY_FILES["environment"])
    return f"{json}\n".encode()


def source_order(records: Iterable[DependencyRecord]) -> list[DependencyRecord]:
    """Records in the order of their files: `Catalog.dependency` reads each file once."""
    return sorted(records, key=lambda record: (record.source, record.item))


def shard_key(dependency: str) -> int:
    """A dependency's place among shards, from its name alone."""
    return int.from_bytes(hashlib.sha256(dependency.encode("utf-8")).digest()[:8], "big")


def object_count(dep: Dependency, env: Environment, target: TargetOverrides) -> int:
    listed = target.namespaces or dep.namespaces
    namespaces = len(set(listed)) if listed else 1
    guarded = 0
    if guardrails.wanted(env):
        guarded = namespaces * guardrails.object_count(dep, env, target)
    return guarded + _own_object_count(env, target, namespaces)


def _own_object_count(env: Environment, target: TargetOverrides, namespaces: int) -> int:
    if not isinstance(target, AddressTarget):
        return namespaces  # the Service
    # Addresses are canonical after validation: IPv6 ones, and only they, hold a ':'.
    unique = set(target.addresses)
    ipv6 = sum(1 for address in unique if ":" in address)
    endpoints = 0
    if env.endpoints in ("EndpointSlice", "both"):
        endpoints += _slice_count(len(unique) - ipv6) + _slice_count(ipv6)
    if env.endpoints in ("Endpoints", "both"):
        endpoints += 1
    return namespaces * (1 + endpoints)


def _slice_count(addresses: int) -> int:
    return -(-addresses // MAX_ENDPOINTS_PER_SLICE)
