"""Target rules that need the environment: names inside the cluster, allowed targets, sizes.

The API server accepts an ExternalName of `localhost` or `kubernetes.default.svc`, and any
address outside a team's networks; extgen refuses them, because the first are a known way
to reach what a Service should not (CVE-2021-32783) and the second are usually typos.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from extgen import cluster, k8s
from extgen.model import (
    AddressTarget,
    Dependency,
    Environment,
    Fault,
    HostnameTarget,
    TargetOverrides,
)

INTERNAL_HINT = "set allowInternal: true on the dependency if this is intended"
DESCRIPTION_ANNOTATION = "extgen.io/description"
OWNER_ANNOTATION = "extgen.io/owner"
TLS_ANNOTATION = "extgen.io/tls-server-name"


def internal_reason(hostname: str, cluster_domain: str) -> str | None:
    """Why `hostname` resolves inside the cluster rather than outside it, if it does."""
    name = hostname.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return "is the local host of the pod's node or proxy"
    if "." not in name:
        return "is a single label, which resolves through the pod's search path in the cluster"
    if name.endswith(".svc") or name.endswith(f".svc.{cluster_domain}"):
        return "is a Service inside the cluster"
    if name == cluster_domain or name.endswith(f".{cluster_domain}"):
        return f"is inside the cluster domain {cluster_domain!r}"
    return None


def host_allowed(hostname: str, patterns: tuple[str, ...]) -> bool:
    name = hostname.rstrip(".")
    for pattern in patterns:
        if pattern.startswith("*."):
            if name.endswith(pattern[1:]):
                return True
        elif name == pattern:
            return True
    return False


def address_allowed(address: str, patterns: tuple[str, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    for pattern in patterns:
        if "/" in pattern:
            network = ipaddress.ip_network(pattern)
            if ip.version == network.version and ip in network:
                return True
    return False


def object_annotations(
    env: Environment, dep: Dependency, target: TargetOverrides
) -> dict[str, str]:
    """Every annotation of an object, in the order of precedence (later ones win)."""
    merged = {**env.annotations, **dep.annotations, **target.annotations}
    own = {
        DESCRIPTION_ANNOTATION: dep.description,
        OWNER_ANNOTATION: dep.owner,
        TLS_ANNOTATION: dep.tls.server_name if dep.tls else None,
    }
    merged.update({key: value for key, value in own.items() if value is not None})
    return merged


def object_labels(env: Environment, dep: Dependency, target: TargetOverrides) -> dict[str, str]:
    return {**env.labels, **dep.labels, **target.labels}


# Fields whose values end up in an object's annotations.
ANNOTATION_SOURCES = frozenset({"annotations", "description", "owner", "tls"})


def target_problems(
    dep: Dependency,
    env_name: str,
    env: Environment,
    target: TargetOverrides,
    invalid: frozenset[str] = frozenset(),
) -> Iterator[Fault]:
    """Rules for one target in one environment; `invalid` as in Dependency.problems."""
    at = ("targets", env_name)
    if isinstance(target, HostnameTarget):
        yield from _hostname_problems(dep, env_name, env, target, "allowInternal" in invalid)
    if isinstance(target, AddressTarget) and env.allowed_targets is not None:
        for index, address in enumerate(target.addresses):
            if not address_allowed(address, env.allowed_targets):
                yield (
                    (*at, "addresses", index),
                    (
                        f"{address} is outside the allowedTargets of environment {env_name!r}"
                        f" ({_listing(env.allowed_targets)})"
                    ),
                )
    if invalid & ANNOTATION_SOURCES:
        return  # reported where the values are
    annotations = object_annotations(env, dep, target)
    if _certainly_fits(annotations) or k8s.validate_annotation_keys_and_size(env.annotations):
        return  # nothing to report, or reported at the environment
    for reason in k8s.validate_annotation_keys_and_size(annotations):
        where = (*at, "annotations") if target.annotations else ("annotations",)
        yield where, f"in environment {env_name!r}, {reason}"


def _certainly_fits(annotations: dict[str, str]) -> bool:
    """Far below the size limit even at four UTF-8 bytes a character: the usual case, which
    needs no exact count. (Every key was checked where it was written.)"""
    chars = sum(len(key) + len(value) for key, value in annotations.items())
    return 4 * chars <= k8s.TOTAL_ANNOTATION_SIZE_LIMIT_B


def _hostname_problems(
    dep: Dependency,
    env_name: str,
    env: Environment,
    target: HostnameTarget,
    allow_internal_unknown: bool,
) -> Iterator[Fault]:
    at = ("targets", env_name, "externalName")
    name = target.external_name
    reason = internal_reason(name, env.cluster_domain)
    if cluster.self_loop(dep, env, target) is not None:
        yield (
            at,
            (
                f"{name!r} is this Service's own name in the cluster: the ExternalName would point"
                " at itself, a CNAME loop that CoreDNS answers nothing for (allowInternal does"
                " not change that); point it outside the cluster"
            ),
        )
    elif reason and not (dep.allow_internal or allow_internal_unknown):
        yield at, f"{name!r} {reason}; {INTERNAL_HINT}"
    if env.allowed_targets is not None and not host_allowed(name, env.allowed_targets):
        yield (
            at,
            (
                f"{name!r} is not in the allowedTargets of environment {env_name!r}"
                f" ({_listing(env.allowed_targets)})"
            ),
        )


def _listing(patterns: tuple[str, ...]) -> str:
    return ", ".join(patterns) if patterns else "an empty list admits nothing"
