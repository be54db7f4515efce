"""The guardrail objects (SPEC §9) as planned: their shape, where they go, what they select.

The golden case tests/golden/guardrails holds their text, and test_render builds it with
the real kustomize and verifies it (CRD schemas included); here each object's meaning is
checked on the plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run
from hypothesis import given
from test_catalog_properties import _settings, catalogs

from extgen import admission, crd
from extgen.catalog import Catalog, parse_catalog, read_catalog
from extgen.connections import variable
from extgen.guardrails import module_for
from extgen.layout import ENVIRONMENT_FILE
from extgen.manifest import Manifest
from extgen.model import Port
from extgen.plan import Plan, object_counts, plan_catalog
from extgen.render import Renderer
from extgen.verify import _schema_findings, default_kubernetes_version

GOLDEN = Path(__file__).parent / "golden" / "guardrails" / "catalog"

CATALOG = """\
environments:
  dev:
    namespace: apps-dev
    networkPolicy: true
    probes: {prober: "bb.monitoring.svc:9115"}
    connectionConfig: true
    admissionPolicy: true
  edge:
    namespace: apps-edge
    networkPolicy: {fqdn: cilium}
dependencies:
  - name: erp
    namespaces: [erp, finance]
    ports:
      - {name: http, port: 80, targetPort: 8080}
      - {name: syslog, port: 514, protocol: UDP}
    targets: {dev: ["192.0.2.10", "2001:db8::10"]}
  - name: search
    ports: [{name: web, port: 9200, targetPort: web-port}]
    targets: {dev: {selector: {app: search}}}
  - name: stripe
    ports: [{name: https, port: 443}]
    targets: {dev: api.stripe.com, edge: api.stripe.com.}
  - name: dns-only
    ports: [{name: dns, port: 53, protocol: UDP}]
    targets: {dev: ["192.0.2.53"]}
"""


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_catalog(parse_catalog([("catalog.yaml", CATALOG)]))


def objects(plan: Plan, environment: str, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    env = next(env for env in plan.environments if env.name == environment)
    return {(m.namespace, m.name): m.body for m in env.manifests() if m.kind == kind}


def test_network_policy_of_an_ip_target(plan: Plan) -> None:
    policy = objects(plan, "dev", "NetworkPolicy")["erp", "erp"]
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"deps.extgen.io/erp": "true"}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [
                    {"ipBlock": {"cidr": "192.0.2.10/32"}},
                    {"ipBlock": {"cidr": "2001:db8::10/128"}},
                ],
                # The endpoints' ports: a headless Service forwards nothing.
                "ports": [{"port": 8080, "protocol": "TCP"}, {"port": 514, "protocol": "UDP"}],
            },
            {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                        },
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
            },
        ],
    }
    assert ("finance", "erp") in objects(plan, "dev", "NetworkPolicy")


def test_network_policy_of_a_selector_target(plan: Plan) -> None:
    rule = objects(plan, "dev", "NetworkPolicy")["apps-dev", "search"]["spec"]["egress"][0]
    assert rule == {
        "to": [{"podSelector": {"matchLabels": {"app": "search"}}}],
        "ports": [{"port": "web-port", "protocol": "TCP"}],
    }


def test_a_hostname_gets_no_network_policy_but_a_cilium_one_by_name(plan: Plan) -> None:
    assert ("apps-dev", "stripe") not in objects(plan, "dev", "NetworkPolicy")
    assert objects(plan, "dev", "CiliumNetworkPolicy") == {}
    policy = objects(plan, "edge", "CiliumNetworkPolicy")["apps-edge", "stripe"]
    dns, by_name = policy["spec"]["egress"]
    assert dns["toPorts"][0]["rules"] == {"dns": [{"matchPattern": "*"}]}
    assert by_name == {
        "toFQDNs": [{"matchName": "api.stripe.com"}],
        "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}],
    }


@pytest.mark.parametrize("catalog", ["example", "golden", "here"])
def test_policies_select_only_pods_that_declare_the_dependency(plan: Plan, catalog: str) -> None:
    chosen = {
        "example": lambda: plan_catalog(read_catalog(Path(__file__).parent.parent / "catalog")),
        "golden": lambda: plan_catalog(read_catalog(GOLDEN)),
        "here": lambda: plan,
    }[catalog]()
    seen = 0
    for env in chosen.environments:
        for manifest in env.manifests():
            spec = manifest.body.get("spec", {})
            selector = spec.get("podSelector") or spec.get("endpointSelector")
            if manifest.kind in ("NetworkPolicy", "CiliumNetworkPolicy"):
                seen += 1
                dependency = manifest.body["metadata"]["labels"]["app.kubernetes.io/name"]
                label = f"deps.extgen.io/{dependency}"
                assert selector == {"matchLabels": {label: "true"}}, manifest.key()
    assert seen > 0


@pytest.mark.parametrize(
    ("port", "module"),
    [
        (Port(name="http", port=8000), "http_2xx"),
        (Port(name="http-metrics", port=9100), "http_2xx"),
        (Port(port=80), "http_2xx"),
        (Port(name="web", port=8080), "http_2xx"),
        (Port(name="web", port=8000, app_protocol="http"), "http_2xx"),
        (Port(name="web", port=8000, app_protocol="kubernetes.io/h2c"), "http_2xx"),
        # HTTPS is probed for a connection: the Service's name never matches the certificate.
        (Port(name="https", port=443), "tcp_connect"),
        (Port(name="http", port=80, app_protocol="https"), "tcp_connect"),
        (Port(name="postgres", port=5432), "tcp_connect"),
        (Port(name="grpc", port=80, app_protocol="kubernetes.io/wss"), "tcp_connect"),
    ],
)
def test_probe_module_from_the_protocol(port: Port, module: str) -> None:
    assert module_for(port) == module


def test_probes(plan: Plan) -> None:
    probes = objects(plan, "dev", "Probe")
    # dns-only has no TCP port: blackbox has no generic UDP prober.
    assert sorted(probes) == [
        ("apps-dev", "search"),
        ("apps-dev", "stripe"),
        ("erp", "erp"),
        ("finance", "erp"),
    ]
    assert probes["erp", "erp"]["spec"] == {
        "interval": "30s",
        "module": "http_2xx",
        "prober": {"url": "bb.monitoring.svc:9115"},
        "targets": {
            "staticConfig": {"static": ["erp.erp.svc:8080"], "labels": {"dependency": "erp"}}
        },
    }
    assert probes["apps-dev", "stripe"]["spec"]["module"] == "tcp_connect"
    assert probes["apps-dev", "stripe"]["spec"]["targets"]["staticConfig"]["static"] == [
        "stripe.apps-dev.svc:443"
    ]


def test_connection_config(plan: Plan) -> None:
    maps = objects(plan, "dev", "ConfigMap")
    assert sorted(maps) == [
        ("apps-dev", "extgen-connections"),
        ("erp", "extgen-connections"),
        ("finance", "extgen-connections"),
    ]
    assert maps["apps-dev", "extgen-connections"]["data"] == {
        "DNS_ONLY_HOST": "dns-only.apps-dev.svc.cluster.local",
        "DNS_ONLY_PORT": "53",
        "DNS_ONLY_PORT_DNS": "53",
        "SEARCH_HOST": "search.apps-dev.svc.cluster.local",
        "SEARCH_PORT": "9200",
        "SEARCH_PORT_WEB": "9200",
        "STRIPE_HOST": "stripe.apps-dev.svc.cluster.local",
        "STRIPE_PORT": "443",
        "STRIPE_PORT_HTTPS": "443",
        "STRIPE_TLS_SERVER_NAME": "api.stripe.com",
    }
    assert maps["finance", "extgen-connections"]["data"]["ERP_PORT_HTTP"] == "8080"
    assert variable("orders-db", "port", "http-alt") == "ORDERS_DB_PORT_HTTP_ALT"


def test_admission_policy_is_bound_to_the_environments_namespaces(plan: Plan) -> None:
    env = next(env for env in plan.environments if env.name == "dev")
    policy, binding = env.environment_manifests()[-2:]
    assert (policy.kind, policy.name, policy.namespace) == (
        "ValidatingAdmissionPolicy",
        "extgen-dev",
        "",
    )
    annotations = policy.body["metadata"]["annotations"]
    assert annotations == {admission.MINIMUM_VERSION_ANNOTATION: "1.31"}
    assert binding.body["spec"] == {
        "policyName": "extgen-dev",
        "validationActions": ["Deny"],
        "matchResources": {
            "namespaceSelector": {
                "matchExpressions": [
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "In",
                        "values": ["apps-dev", "erp", "finance"],
                    }
                ]
            }
        },
    }


def test_environment_without_them_has_no_environment_objects(plan: Plan) -> None:
    edge = next(env for env in plan.environments if env.name == "edge")
    assert edge.environment_manifests() == []
    files = Renderer().planned(plan)
    assert "dev/_guardrails.yaml" in files and "edge/_guardrails.yaml" not in files


def test_environment_file_goes_into_the_first_shard() -> None:
    plan = plan_catalog(read_catalog(GOLDEN))
    files = Renderer().render(plan)
    assert f"staging/shard-000/{ENVIRONMENT_FILE}" in files
    assert f'  - "{ENVIRONMENT_FILE}"\n' in files["staging/shard-000/kustomization.yaml"]
    assert not any(path.startswith("staging/shard-001/_") for path in files)


def counted(catalog: Catalog, plan: Plan) -> list[tuple[str, str, int, int]]:
    rows = []
    for env in plan.environments:
        for dep in env.dependencies:
            rows.append((env.name, dep.name, dep.object_count, len(dep.manifests)))
    return rows


@pytest.mark.parametrize("source", ["golden", "here"])
def test_object_counts_match_the_objects_made(source: str) -> None:
    catalog = read_catalog(GOLDEN) if source == "golden" else parse_catalog([("c.yaml", CATALOG)])
    rows = counted(catalog, plan_catalog(catalog))
    assert rows and all(count == made for _, _, count, made in rows), rows


@pytest.mark.parametrize("source", ["golden", "here"])
def test_custom_resources_fit_their_crd_schemas(plan: Plan, source: str) -> None:
    chosen = plan_catalog(read_catalog(GOLDEN)) if source == "golden" else plan
    custom: list[Manifest] = [
        m
        for env in chosen.environments
        for m in env.manifests()
        if crd.has_schema(m.body["apiVersion"], m.kind)
    ]
    assert {m.kind for m in custom} == {"Probe", "CiliumNetworkPolicy"} or source == "here"
    assert [(m.key(), crd.validate(m.built())) for m in custom if crd.validate(m.built())] == []


def test_environment_guardrails_rewrite_no_dependency_file(tmp_path: Path) -> None:
    catalog, out = tmp_path / "catalog.yaml", tmp_path / "out"
    catalog.write_text(CATALOG.replace("    admissionPolicy: true\n", ""))
    assert run("render", "-c", str(catalog), "-o", str(out)).exit_code == 0
    catalog.write_text(CATALOG)
    result = run("render", "-c", str(catalog), "-o", str(out))
    changed = [line.split()[:2] for line in result.output.splitlines() if "out/" in line]
    assert changed == [
        ["update", f"{out}/dev/_guardrails.yaml"],
    ], result.output


ALL_ON = {
    "admissionPolicy": True,
    "connectionConfig": True,
    "networkPolicy": {"fqdn": "cilium"},
    "probes": {"prober": "blackbox.monitoring.svc:9115", "interval": "1m"},
}


@_settings(25)
@given(catalogs())
def test_generated_catalogs_with_every_guardrail(
    catalog: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    """Every object fits its schema (the CRDs', or Kubernetes'), every file renders and
    reads back, and the counts planned without making objects are the objects made."""
    environments, dependencies = catalog
    environments = {name: {**env, **ALL_ON} for name, env in environments.items()}
    text = yaml.safe_dump({"environments": environments, "dependencies": dependencies})
    loaded = parse_catalog([("catalog.yaml", text)])
    plan = plan_catalog(loaded)
    Renderer().render(plan)  # raises if a file does not read back as its objects
    version = default_kubernetes_version()
    made = {}
    for env in plan.environments:
        manifests = env.manifests()
        made[env.name] = len(manifests)
        for manifest in manifests:
            body = manifest.built()
            if crd.has_schema(body["apiVersion"], manifest.kind):
                assert crd.validate(body) == [], manifest.key()
            elif manifest.kind not in ("Service", "EndpointSlice", "Endpoints"):
                assert _schema_findings(env.name, body, version) == [], manifest.key()
    assert object_counts(loaded) == made
