"""The admission policy's CEL, evaluated by a real CEL implementation (cel-python).

Every expression of every generated policy is evaluated: on every object the example,
golden and property-test catalogs produce (all admitted), and on a table of hostile
objects (all denied, by the rules named). The Kubernetes IP and CIDR functions that
cel-python lacks are stand-ins (tests/cel_kubernetes.py), held here to the examples of
the upstream documentation (kubernetes/apiserver pkg/cel/library/ip.go and cidr.go).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from cel_kubernetes import StandInError, Verdict, evaluate, judge
from hypothesis import given
from test_catalog_properties import _settings, catalogs

from extgen import admission
from extgen.catalog import parse_catalog, read_catalog
from extgen.plan import Plan, plan_catalog

ROOT = Path(__file__).parent.parent
USER = "kubernetes-admin"
JUDGED_KINDS = ("Service", "EndpointSlice", "Endpoints")

# The examples of the upstream documentation, each with the value it gives.
UPSTREAM_EXAMPLES = [
    ("isIP('127.0.0.1')", True),
    ("isIP('::1')", True),
    ("isIP('127.0.0.256')", False),
    ("isIP(':::1')", False),
    ("ip('127.0.0.1').family()", 4),
    ("ip('::1').family()", 6),
    ("ip('127.0.0.1').family() == 4", True),
    ("ip('::1').family() == 6", True),
    ("ip('0.0.0.0').isUnspecified()", True),
    ("ip('127.0.0.1').isUnspecified()", False),
    ("ip('::').isUnspecified()", True),
    ("ip('::1').isUnspecified()", False),
    ("ip('127.0.0.1').isLoopback()", True),
    ("ip('192.168.0.1').isLoopback()", False),
    ("ip('::1').isLoopback()", True),
    ("ip('2001:db8::abcd').isLoopback()", False),
    ("ip('224.0.0.1').isLinkLocalMulticast()", True),
    ("ip('224.0.1.1').isLinkLocalMulticast()", False),
    ("ip('ff02::1').isLinkLocalMulticast()", True),
    ("ip('fd00::1').isLinkLocalMulticast()", False),
    ("ip('169.254.169.254').isLinkLocalUnicast()", True),
    ("ip('192.168.0.1').isLinkLocalUnicast()", False),
    ("ip('fe80::1').isLinkLocalUnicast()", True),
    ("ip('fd80::1').isLinkLocalUnicast()", False),
    ("cidr('192.168.0.0/24').containsIP(ip('192.168.0.1'))", True),
    ("cidr('192.168.0.0/24').containsIP(ip('192.168.1.1'))", False),
    ("cidr('192.168.0.0/24').containsIP('192.168.0.1')", True),
    ("cidr('192.168.0.0/24').containsIP('192.168.1.1')", False),
]
# The library's own rules for what is not an address: each is an error.
UPSTREAM_ERRORS = [
    "ip('127.0.0.256')",
    "ip(':::1')",
    "ip('::ffff:1.2.3.4')",  # IPv4-mapped IPv6
    "ip('fe80::1%eth0')",  # a zone
    "ip('010.0.0.1')",  # a leading zero
    "cidr('10.0.0.0')",
    "cidr('10.0.0.0/33')",
]


@pytest.mark.parametrize(("expression", "value"), UPSTREAM_EXAMPLES)
def test_stand_ins_give_the_upstream_examples(expression: str, value: Any) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize("expression", UPSTREAM_ERRORS)
def test_stand_ins_refuse_what_the_library_refuses(expression: str) -> None:
    with pytest.raises(Exception, match=r"parse error|not allowed") as caught:
        evaluate(expression)
    assert isinstance(caught.value, StandInError) or "StandInError" in repr(caught.value)


def policies(plan: Plan) -> dict[str, dict[str, Any]]:
    """Each environment's generated ValidatingAdmissionPolicy, by environment."""
    found = {}
    for env in plan.environments:
        for manifest in env.environment_manifests():
            if manifest.kind == "ValidatingAdmissionPolicy":
                found[env.name] = manifest.built()
    return found


def admitted_everywhere(plan: Plan) -> int:
    """Evaluates every policy on every object of its environment; returns how many."""
    judged = 0
    for env in plan.environments:
        policy = policies(plan).get(env.name)
        if policy is None:
            continue
        for manifest in env.manifests():
            if manifest.kind in JUDGED_KINDS:
                assert judge(policy, manifest.built(), USER) == Verdict(True, ()), manifest.key()
                judged += 1
    return judged


def test_every_object_of_the_example_catalog_is_admitted() -> None:
    plan = plan_catalog(read_catalog(ROOT / "catalog"))
    assert policies(plan), "the example catalog turns the admission policy on somewhere"
    assert admitted_everywhere(plan) > 0


def test_every_object_of_the_golden_catalog_is_admitted() -> None:
    plan = plan_catalog(read_catalog(Path(__file__).parent / "golden" / "guardrails" / "catalog"))
    assert sorted(policies(plan)) == ["prod", "staging"]
    assert admitted_everywhere(plan) > 0


@_settings(60)
@given(catalogs())
def test_every_object_of_generated_catalogs_is_admitted(
    catalog: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    environments, dependencies = catalog
    environments = {name: {**env, "admissionPolicy": True} for name, env in environments.items()}
    text = yaml.safe_dump({"environments": environments, "dependencies": dependencies})
    plan = plan_catalog(parse_catalog([("catalog.yaml", text)]))
    assert len(policies(plan)) == len(environments)
    admitted_everywhere(plan)


HOSTILE_CATALOG = """\
environments:
  open:
    namespace: apps
    admissionPolicy: true
  fenced:
    namespace: fenced
    clusterDomain: k8s.internal
    admissionPolicy: true
    allowedTargets: ["*.example.com", "db.example.net", "10.0.0.0/8", "2001:db8::/32"]
dependencies:
  - name: cache
    allowInternal: true
    targets: {open: cache.platform.svc.cluster.local}
"""


@pytest.fixture(scope="module")
def hostile_policies() -> dict[str, dict[str, Any]]:
    return policies(plan_catalog(parse_catalog([("catalog.yaml", HOSTILE_CATALOG)])))


def service(name: str, external_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"type": "ExternalName", "externalName": external_name},
    }


def endpoint_slice(*addresses: str, address_type: str = "IPv4") -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "db-1", "namespace": "apps"},
        "addressType": address_type,
        "endpoints": [{"addresses": [address]} for address in addresses],
    }


def endpoints(ready: list[str], not_ready: list[str] = []) -> dict[str, Any]:  # noqa: B006
    subset: dict[str, Any] = {"addresses": [{"ip": address} for address in ready]}
    if not_ready:
        subset["notReadyAddresses"] = [{"ip": address} for address in not_ready]
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "db", "namespace": "apps"},
        "subsets": [subset],
    }


# (environment, object, the rules that refuse it)
HOSTILE = [
    ("open", service("a", "10.0.0.1"), ["external-name-address"]),
    ("open", service("a", "1.2.3.4.5"), ["external-name-address"]),
    ("open", service("a", "169.254.169.254."), ["external-name-address"]),
    ("open", service("a", "localhost"), ["internal-name"]),
    ("open", service("a", "db.localhost"), ["internal-name"]),
    ("open", service("a", "kubernetes"), ["internal-name"]),
    ("open", service("a", "kubernetes."), ["internal-name"]),
    ("open", service("a", "kubernetes.default.svc"), ["internal-name"]),
    ("open", service("a", "kubernetes.default.svc.cluster.local"), ["internal-name"]),
    ("open", service("a", "node-1.cluster.local"), ["internal-name"]),
    # allowInternal is the dependency's: another Service may not point inside.
    ("open", service("not-cache", "cache.platform.svc.cluster.local"), ["internal-name"]),
    ("open", service("a", "metadata.google.internal"), ["metadata-name"]),
    ("open", service("a", "metadata.google.internal."), ["metadata-name"]),
    ("open", service("a", "metadata.tencentyun.com"), ["metadata-name"]),
    ("open", endpoint_slice("127.0.0.1"), ["special-address"]),
    ("open", endpoint_slice("0.0.0.0"), ["special-address"]),
    ("open", endpoint_slice("192.0.2.1", "169.254.10.1"), ["special-address"]),
    ("open", endpoint_slice("224.0.0.5"), ["special-address"]),
    ("open", endpoint_slice("::1", address_type="IPv6"), ["special-address"]),
    ("open", endpoint_slice("fe80::1", address_type="IPv6"), ["special-address"]),
    ("open", endpoint_slice("169.254.169.254"), ["special-address", "metadata-address"]),
    ("open", endpoint_slice("100.100.100.200"), ["metadata-address"]),
    ("open", endpoint_slice("fd00:ec2::254", address_type="IPv6"), ["metadata-address"]),
    (
        "open",
        endpoint_slice("db.example.com", address_type="FQDN"),
        ["address-form", "fqdn-endpoints"],
    ),
    ("open", endpoint_slice("010.0.0.1"), ["address-form"]),
    ("open", endpoint_slice("::ffff:10.0.0.1", address_type="IPv6"), ["address-form"]),
    ("open", endpoints(["192.0.2.1"], ["192.0.2.256"]), ["address-form"]),
    ("open", endpoints(["127.0.0.1"]), ["special-address"]),
    ("open", endpoints(["192.0.2.1"], ["168.63.129.16"]), ["metadata-address"]),
    (
        "fenced",
        service("a", "kubernetes.default.svc.k8s.internal"),
        ["internal-name", "allowed-hostname"],
    ),
    ("fenced", service("a", "api.example.org"), ["allowed-hostname"]),
    ("fenced", service("a", "example.com"), ["allowed-hostname"]),
    ("fenced", service("a", "x.db.example.net"), ["allowed-hostname"]),
    ("fenced", service("a", "cache.platform.svc.cluster.local"), ["allowed-hostname"]),
    ("fenced", endpoint_slice("192.0.2.1"), ["allowed-address"]),
    ("fenced", endpoint_slice("2001:db9::1", address_type="IPv6"), ["allowed-address"]),
    ("fenced", endpoints(["10.1.2.3"], ["11.0.0.1"]), ["allowed-address"]),
    (
        "fenced",
        endpoint_slice("fd00:ec2::254", address_type="IPv6"),
        ["metadata-address", "allowed-address"],
    ),
]


@pytest.mark.parametrize(("environment", "body", "rules"), HOSTILE)
def test_hostile_objects_are_denied_by_the_named_rules(
    hostile_policies: dict[str, dict[str, Any]],
    environment: str,
    body: dict[str, Any],
    rules: list[str],
) -> None:
    verdict = judge(hostile_policies[environment], body, USER)
    assert not verdict.admitted
    assert [message.split(":")[0] for message in verdict.messages] == [
        f"extgen rule {rule}" for rule in rules
    ]


@pytest.mark.parametrize(
    ("environment", "body"),
    [
        ("open", service("cache", "cache.platform.svc.cluster.local")),
        ("open", service("a", "db.example.com.")),
        ("open", service("a", "10-0-0-1.example.com")),
        ("open", endpoint_slice("192.0.2.1", "198.51.100.7")),
        ("open", endpoints(["192.0.2.1"], ["192.0.2.2"])),
        ("fenced", service("a", "api.example.com")),
        ("fenced", service("a", "db.example.net.")),
        ("fenced", endpoint_slice("10.1.2.3")),
        ("fenced", endpoint_slice("2001:db8::5", address_type="IPv6")),
        # Services without externalName, and other kinds, are not the policy's concern.
        ("fenced", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}),
        ("fenced", {"apiVersion": "v1", "kind": "Service", "spec": {"clusterIP": "None"}}),
        ("fenced", {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "a"}}),
    ],
)
def test_fine_objects_are_admitted(
    hostile_policies: dict[str, dict[str, Any]], environment: str, body: dict[str, Any]
) -> None:
    assert judge(hostile_policies[environment], body, USER) == Verdict(True, ())


@pytest.mark.parametrize("username", admission.CONTROLLERS)
def test_kubernetes_endpoint_controllers_are_not_judged(
    hostile_policies: dict[str, dict[str, Any]], username: str
) -> None:
    pods = endpoint_slice("192.0.2.40")  # a pod address, outside the allowed CIDRs
    assert judge(hostile_policies["fenced"], pods, username) == Verdict(True, ())
    assert not judge(hostile_policies["fenced"], pods, USER).admitted


def test_messages_name_their_rule_and_are_one_line(
    hostile_policies: dict[str, dict[str, Any]],
) -> None:
    for policy in hostile_policies.values():
        for validation in policy["spec"]["validations"]:
            assert validation["message"].startswith("extgen rule ")
            assert "\n" not in validation["message"]
            assert validation["reason"] == "Invalid"
