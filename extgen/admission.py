"""The admission policy of an environment: `validate`'s target rules, in the cluster.

A ValidatingAdmissionPolicy and its binding (admissionregistration.k8s.io/v1), named
`extgen-<environment>` and bound to the environment's namespaces, refuse Services,
EndpointSlices and Endpoints that `extgen validate` would refuse in the catalog: a hand
edit with kubectl meets the rules the catalog met. Each rule is one CEL expression whose
message names it. The expressions use the Kubernetes IP and CIDR libraries (`isIP`,
`ip()`, `cidr()`), which the API server offers from Kubernetes 1.31, and `matches` (RE2),
which every version has; names are matched with `[.]` for a dot, so the patterns need no
escapes in CEL or RE2. tests/test_admission.py evaluates every expression.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from extgen.fields import METADATA_ADDRESSES, METADATA_HOSTNAMES
from extgen.manifest import Body, Manifest
from extgen.model import Environment

MINIMUM_KUBERNETES = "1.31"
MINIMUM_VERSION_ANNOTATION = "extgen.io/minimum-kubernetes-version"
API_VERSION = "admissionregistration.k8s.io/v1"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# Kubernetes' own controllers write Endpoints and EndpointSlices for selector Services
# (pod addresses, outside any allowedTargets): their requests are not judged.
CONTROLLERS = (
    "system:kube-controller-manager",
    "system:serviceaccount:kube-system:endpoint-controller",
    "system:serviceaccount:kube-system:endpointslice-controller",
    "system:serviceaccount:kube-system:endpointslicemirroring-controller",
)


@dataclass(frozen=True)
class Rule:
    name: str
    expression: str  # true admits
    message: str


def policy_name(environment: str) -> str:
    return f"extgen-{environment}"


def match_condition() -> str:
    """Admits to the rules every request but those of Kubernetes' endpoint controllers."""
    return f"!(request.userInfo.username in {_list(CONTROLLERS)})"


def rules(env: Environment, allow_internal: Iterable[str] = ()) -> list[Rule]:
    """Every rule for the environment, in a fixed order.

    `allow_internal`: the Services (dependency names) whose catalog entry sets
    `allowInternal: true`, which may point inside the cluster as the catalog allows.
    """
    found = [
        Rule(
            "external-name-address",
            _on_external_name("!n.matches('(^|[.])[0-9]+[.]?$')"),
            "extgen rule external-name-address: externalName must be a DNS name, not an IP"
            " address (its last label is all digits); an IP target is a headless Service"
            " with EndpointSlices",
        ),
        _internal_rule(env.cluster_domain, sorted(set(allow_internal))),
        Rule(
            "metadata-name",
            _on_external_name(f"!n.matches({_quoted(_names_pattern(METADATA_HOSTNAMES))})"),
            "extgen rule metadata-name: externalName is a cloud metadata service",
        ),
        Rule(
            "address-form",
            _on_addresses("isIP(a)"),
            "extgen rule address-form: an endpoint address must be an IP address as the API"
            " server's strict parsing reads it (no leading zeros, no IPv4-mapped IPv6)",
        ),
        Rule(
            "special-address",
            _on_addresses(
                "!isIP(a) || !(ip(a).isLoopback() || ip(a).isUnspecified()"
                " || ip(a).isLinkLocalUnicast() || ip(a).isLinkLocalMulticast())"
            ),
            "extgen rule special-address: an endpoint address may not be loopback,"
            " unspecified, link-local or link-local multicast",
        ),
        Rule(
            "metadata-address",
            _on_addresses(f"!isIP(a) || !{_in_cidrs(_host_cidrs(METADATA_ADDRESSES))}"),
            "extgen rule metadata-address: an endpoint address is a cloud metadata service",
        ),
        Rule(
            "fqdn-endpoints",
            "object.kind != 'EndpointSlice' || !has(object.addressType)"
            " || object.addressType != 'FQDN'",
            "extgen rule fqdn-endpoints: FQDN EndpointSlices are not judged by these rules;"
            " point an ExternalName Service at the name instead",
        ),
    ]
    if env.allowed_targets is not None:
        found += _allowed_rules(env.allowed_targets)
    return found


def _internal_rule(cluster_domain: str, allow_internal: list[str]) -> Rule:
    domain = cluster_domain.replace(".", "[.]")
    inside = f"^(localhost|[^.]+|.+[.]localhost|.+[.]svc|.+[.]svc[.]{domain}|(.+[.])?{domain})[.]?$"
    condition = f"!n.matches({_quoted(inside)})"
    if allow_internal:
        condition = f"object.metadata.name in {_list(allow_internal)} || {condition}"
    return Rule(
        "internal-name",
        _on_external_name(condition),
        "extgen rule internal-name: externalName is a name inside the cluster (localhost,"
        f" a single label, *.svc, *.{cluster_domain}); the catalog must set allowInternal",
    )


def _allowed_rules(allowed: tuple[str, ...]) -> list[Rule]:
    hosts = [pattern for pattern in allowed if "/" not in pattern]
    cidrs = [pattern for pattern in allowed if "/" in pattern]
    host_condition = f"n.matches({_quoted(_hosts_pattern(hosts))})" if hosts else "false"
    listing = ", ".join(allowed) or "an empty list admits nothing"
    return [
        Rule(
            "allowed-hostname",
            _on_external_name(host_condition),
            f"extgen rule allowed-hostname: externalName is not in allowedTargets ({listing})",
        ),
        Rule(
            "allowed-address",
            _on_addresses(f"!isIP(a) || {_in_cidrs(cidrs)}" if cidrs else "!isIP(a)"),
            f"extgen rule allowed-address: an endpoint address is outside allowedTargets"
            f" ({listing})",
        ),
    ]


def _on_external_name(condition: str) -> str:
    """`condition` on `n`, the Service's externalName; true for anything else."""
    return (
        "object.kind != 'Service' || !has(object.spec) || !has(object.spec.externalName)"
        f" || [object.spec.externalName].all(n, {condition})"
    )


def _on_addresses(condition: str) -> str:
    """`condition` on `a`, each address of an EndpointSlice or Endpoints; true for
    anything else."""
    legacy = f"[x.ip].all(a, {condition})"
    slices = f"!has(object.endpoints) || object.endpoints.all(e, e.addresses.all(a, {condition}))"
    subsets = (
        "!has(object.subsets) || object.subsets.all(s,"
        f" (!has(s.addresses) || s.addresses.all(x, {legacy}))"
        f" && (!has(s.notReadyAddresses) || s.notReadyAddresses.all(x, {legacy})))"
    )
    return (
        f"object.kind == 'EndpointSlice' ? ({slices})"
        f" : object.kind == 'Endpoints' ? ({subsets}) : true"
    )


def _names_pattern(names: Iterable[str]) -> str:
    return "^(" + "|".join(sorted(name.replace(".", "[.]") for name in names)) + ")[.]?$"


def _hosts_pattern(patterns: list[str]) -> str:
    """`*.example.com` admits any name below example.com, as `policy.host_allowed` does."""
    alternatives = []
    for pattern in patterns:
        if pattern.startswith("*."):
            alternatives.append(".+" + pattern[1:].replace(".", "[.]"))
        else:
            alternatives.append(pattern.replace(".", "[.]"))
    return "^(" + "|".join(alternatives) + ")[.]?$"


def _host_cidrs(addresses: Iterable[object]) -> list[str]:
    texts = sorted(str(address) for address in addresses)
    return [f"{text}/128" if ":" in text else f"{text}/32" for text in texts]


def _in_cidrs(cidrs: list[str]) -> str:
    return f"{_list(cidrs)}.exists(c, cidr(c).containsIP(a))"


def _quoted(text: str) -> str:
    # Every value here is a name, pattern or CIDR checked by the catalog: no quote, no
    # backslash, nothing CEL would read as an escape.
    assert "'" not in text and "\\" not in text, text
    return f"'{text}'"


def _list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_quoted(value) for value in values) + "]"


def policy_objects(
    environment: str,
    env: Environment,
    namespaces: Iterable[str],
    allow_internal: Iterable[str],
    labels: dict[str, str],
) -> list[Manifest]:
    """The policy and its binding, scoped to `namespaces`."""
    name = policy_name(environment)
    validations = [
        {"expression": rule.expression, "message": rule.message, "reason": "Invalid"}
        for rule in rules(env, allow_internal)
    ]
    operations = ["CREATE", "UPDATE"]
    spec: Body = {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": operations,
                    "resources": ["services", "endpoints"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "apiVersions": ["v1"],
                    "operations": operations,
                    "resources": ["endpointslices"],
                },
            ]
        },
        "matchConditions": [{"name": "not-endpoint-controllers", "expression": match_condition()}],
        "validations": validations,
    }
    annotations = {MINIMUM_VERSION_ANNOTATION: MINIMUM_KUBERNETES}
    policy = _cluster_object("ValidatingAdmissionPolicy", name, labels, annotations, spec)
    selector = {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(set(namespaces))}
    binding_spec: Body = {
        "policyName": name,
        "validationActions": ["Deny"],
        "matchResources": {"namespaceSelector": {"matchExpressions": [selector]}},
    }
    binding = _cluster_object("ValidatingAdmissionPolicyBinding", name, labels, {}, binding_spec)
    return [policy, binding]


def _cluster_object(
    kind: str, name: str, labels: dict[str, str], annotations: dict[str, str], spec: Body
) -> Manifest:
    metadata: Body = {"name": name, "labels": dict(sorted(labels.items()))}
    if annotations:
        metadata["annotations"] = dict(sorted(annotations.items()))
    return Manifest({"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec})
