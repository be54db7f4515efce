"""The shipped CRD schemas, and the validator that reads them as the API server does."""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
from typing import Any

import pytest

from extgen import crd
from extgen.crd import Violation

APPLICATION = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "extgen-dev", "namespace": "argocd"},
    "spec": {
        "project": "default",
        "source": {"repoURL": "https://git.example.com/r.git", "path": "overlays/dev"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps-dev"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    },
}
APPLICATION_SET = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "ApplicationSet",
    "metadata": {"name": "extgen", "namespace": "argocd"},
    "spec": {
        "goTemplate": True,
        "generators": [{"list": {"elements": [{"name": "dev", "anything": {"goes": 1}}]}}],
        "template": {
            "metadata": {"name": "{{.name}}"},
            "spec": {
                "project": "default",
                "source": {"repoURL": "https://git.example.com/r.git", "path": "{{.name}}"},
                "destination": {"server": "https://kubernetes.default.svc"},
            },
        },
        "syncPolicy": {"preserveResourcesOnDeletion": True},
    },
}
APP_PROJECT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AppProject",
    "metadata": {"name": "external-dependencies", "namespace": "argocd"},
    "spec": {
        "sourceRepos": ["https://git.example.com/r.git"],
        "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "apps"}],
        "namespaceResourceWhitelist": [{"group": "", "kind": "Service"}],
    },
}
GIT_REPOSITORY = {
    "apiVersion": "source.toolkit.fluxcd.io/v1",
    "kind": "GitRepository",
    "metadata": {"name": "extgen-repository", "namespace": "flux-system"},
    "spec": {"interval": "10m", "url": "https://git.example.com/r.git", "ref": {"branch": "main"}},
}
KUSTOMIZATION = {
    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
    "kind": "Kustomization",
    "metadata": {"name": "extgen-dev", "namespace": "flux-system"},
    "spec": {
        "interval": "10m",
        "path": "./overlays/dev",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "extgen-repository"},
    },
}
PROBE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "Probe",
    "metadata": {"name": "orders-db", "namespace": "apps-dev"},
    "spec": {
        "prober": {"url": "blackbox-exporter.monitoring.svc:9115"},
        "module": "tcp_connect",
        "interval": "30s",
        "targets": {"staticConfig": {"static": ["orders-db.apps-dev.svc:5432"]}},
    },
}
CILIUM_NETWORK_POLICY = {
    "apiVersion": "cilium.io/v2",
    "kind": "CiliumNetworkPolicy",
    "metadata": {"name": "orders-db", "namespace": "apps-dev"},
    "spec": {
        "endpointSelector": {"matchLabels": {"deps.extgen.io/orders-db": "true"}},
        "egress": [
            {
                "toEndpoints": [
                    {
                        "matchLabels": {
                            "k8s:io.kubernetes.pod.namespace": "kube-system",
                            "k8s:k8s-app": "kube-dns",
                        }
                    }
                ],
                "toPorts": [
                    {
                        "ports": [{"port": "53", "protocol": "ANY"}],
                        "rules": {"dns": [{"matchPattern": "*"}]},
                    }
                ],
            },
            {
                "toFQDNs": [{"matchName": "orders.example.com"}],
                "toPorts": [{"ports": [{"port": "5432", "protocol": "TCP"}]}],
            },
        ],
    },
}
VALID = [
    APPLICATION,
    APPLICATION_SET,
    APP_PROJECT,
    GIT_REPOSITORY,
    KUSTOMIZATION,
    PROBE,
    CILIUM_NETWORK_POLICY,
]


def changed(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with the dotted `path` set to `value` (or removed, for DELETE)."""
    result = copy.deepcopy(body)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = result
    for element in parents:
        node = node[element]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return result


DELETE = object()


@pytest.mark.parametrize("body", VALID, ids=lambda body: body["kind"])
def test_valid_objects_pass(body: dict[str, Any]) -> None:
    assert crd.has_schema(body["apiVersion"], body["kind"])
    assert crd.validate(body) == []


@pytest.mark.parametrize(
    ("body", "path", "value", "message"),
    [
        (APPLICATION, "spec.sourcee", {}, "unknown field"),
        (APPLICATION, "spec.project", 1, "expected string, got integer"),
        (APPLICATION, "spec.destination", DELETE, "required field missing"),
        (APPLICATION_SET, "spec.template.spec.extra", 1, "unknown field"),
        (APPLICATION_SET, "spec.goTemplate", "true", "expected boolean, got string"),
        (APPLICATION_SET, "spec.template", DELETE, "required field missing"),
        (APP_PROJECT, "spec.destinations.0.cluster", "x", "unknown field"),
        (APP_PROJECT, "spec.sourceRepos", "r", "expected array, got string"),
        (APP_PROJECT, "spec.namespaceResourceWhitelist.0.kind", DELETE, "required field missing"),
        (GIT_REPOSITORY, "spec.ref.revision", "main", "unknown field"),
        (GIT_REPOSITORY, "spec.url", "ftp://x", "must match the pattern '^(http|https|ssh)://.*$'"),
        (GIT_REPOSITORY, "spec.interval", DELETE, "required field missing"),
        (
            KUSTOMIZATION,
            "spec.deletionPolicy",
            "Keep",
            "must be one of ['MirrorPrune', 'Delete', 'WaitForTermination', 'Orphan'], got 'Keep'",
        ),
        (KUSTOMIZATION, "spec.prune", "yes", "expected boolean, got string"),
        (
            KUSTOMIZATION,
            "spec.sourceRef.kind",
            "Git",
            "must be one of ['OCIRepository', 'GitRepository', 'Bucket', 'ExternalArtifact'],"
            " got 'Git'",
        ),
        (
            PROBE,
            "spec.prober.scheme",
            "ftp",
            "must be one of ['http', 'https', 'HTTP', 'HTTPS'], got 'ftp'",
        ),
        (PROBE, "spec.target", "x", "unknown field"),
        (PROBE, "spec.prober.url", DELETE, "required field missing"),
        (
            PROBE,
            "spec.interval",
            "30 seconds",
            "must match the pattern '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?"
            "(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'",
        ),
        (CILIUM_NETWORK_POLICY, "spec.egress.1.toFQDNs.0.matchNames", "x", "unknown field"),
        (
            CILIUM_NETWORK_POLICY,
            "spec.egress.0.toPorts.0.ports.0.protocol",
            "ALL",
            "must be one of ['TCP', 'UDP', 'SCTP', 'ANY'], got 'ALL'",
        ),
        (
            CILIUM_NETWORK_POLICY,
            "spec.egress.1.toPorts.0.ports.0.port",
            5432,
            "expected string, got integer",
        ),
    ],
)
def test_refused(body: dict[str, Any], path: str, value: Any, message: str) -> None:
    field = re.sub(r"\.(\d+)", r"[\1]", path)
    assert Violation(field, message) in crd.validate(changed(body, path, value))


def test_cilium_policy_needs_exactly_one_selector() -> None:
    body = changed(CILIUM_NETWORK_POLICY, "spec.endpointSelector", DELETE)
    [violation] = crd.validate(body)
    assert violation.field == "spec"
    assert violation.message.startswith("must match exactly one of")
    assert violation.message.endswith("matches 0")


def test_cilium_policy_takes_one_selector_only() -> None:
    body = changed(CILIUM_NETWORK_POLICY, "spec.nodeSelector", {"matchLabels": {"a": "b"}})
    assert crd.validate(body) == [
        Violation(
            "spec",
            'must match exactly one of {"required": ["endpointSelector"]}'
            ' | {"required": ["nodeSelector"]}, matches 2',
        )
    ]


def test_preserve_unknown_fields_are_open() -> None:
    body = changed(APPLICATION_SET, "spec.generators.0.list.elements.0.nested", {"a": [1]})
    assert crd.validate(body) == []


def test_metadata_is_left_to_the_api_server() -> None:
    body = changed(PROBE, "metadata.labels", {"a": "b"})
    assert crd.validate(changed(body, "metadata.unheard", 1)) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "not a Kubernetes object (apiVersion, kind)"),
        ({"apiVersion": "v1"}, "not a Kubernetes object (apiVersion, kind)"),
        ({"apiVersion": "v1", "kind": "Service"}, "no CRD schema shipped for Service v1"),
        (
            {"apiVersion": "monitoring.coreos.com/v1alpha1", "kind": "Probe"},
            "no CRD schema shipped for Probe monitoring.coreos.com/v1alpha1",
        ),
    ],
)
def test_not_a_shipped_kind(body: Any, message: str) -> None:
    assert crd.validate(body) == [Violation("", message)]
    assert not crd.has_schema("v1", "Service")


# The schema keywords no shipped schema uses today, on small schemas of the same form.
OBJECT = {"type": "object", "properties": {"a": {"type": "string"}}}


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        (OBJECT, {"a": "x"}, []),
        (OBJECT, {"b": "x"}, [Violation("b", "unknown field")]),
        (OBJECT, {"a": None}, [Violation("a", "must not be null")]),
        ({**OBJECT, "properties": {"a": {"type": "string", "nullable": True}}}, {"a": None}, []),
        ({**OBJECT, "additionalProperties": {"type": "integer"}}, {"b": 1}, []),
        (
            {**OBJECT, "additionalProperties": {"type": "integer"}},
            {"b": "1"},
            [Violation("b", "expected integer, got string")],
        ),
        ({**OBJECT, "x-kubernetes-preserve-unknown-fields": True}, {"b": {"c": 1}}, []),
        ({"type": "object"}, {"b": 1}, []),
        ({"x-kubernetes-int-or-string": True}, 80, []),
        ({"x-kubernetes-int-or-string": True}, "http", []),
        (
            {"x-kubernetes-int-or-string": True},
            8.5,
            [Violation("", "expected an integer or a string, got number")],
        ),
        (
            {"x-kubernetes-int-or-string": True},
            True,
            [Violation("", "expected an integer or a string, got boolean")],
        ),
        ({"type": "integer"}, True, [Violation("", "expected integer, got boolean")]),
        ({"type": "integer"}, 1.0, [Violation("", "expected integer, got number")]),
        ({"type": "number"}, 1, []),
        (
            {"type": "integer", "minimum": 1, "maximum": 65535},
            0,
            [Violation("", "must be at least 1, got 0")],
        ),
        (
            {"type": "integer", "minimum": 1, "maximum": 65535},
            65536,
            [Violation("", "must be at most 65535, got 65536")],
        ),
        (
            {"type": "array", "maxItems": 1, "items": {"type": "string"}},
            ["a", 1],
            [
                Violation("", "must have at most 1 items, has 2"),
                Violation("[1]", "expected string, got integer"),
            ],
        ),
        (
            {"type": "string", "minLength": 1},
            "",
            [Violation("", "must have at least 1 characters, has 0")],
        ),
        (
            {
                **OBJECT,
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": False,
            },
            {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "a": "x"},
            [],
        ),
        (
            {**OBJECT, "x-kubernetes-embedded-resource": True},
            {"kind": "Pod", "spec": {}},
            [Violation("spec", "unknown field")],
        ),
        # Inside a junctor, `properties` checks values and does not close the object.
        (
            {**OBJECT, "allOf": [{"properties": {"a": {"maxLength": 1}}}]},
            {"a": "xy"},
            [Violation("a", "must have at most 1 characters, has 2")],
        ),
        (
            {
                **OBJECT,
                "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
                "properties": {"a": {}, "b": {}},
            },
            {"b": 1},
            [],
        ),
        (
            {"type": "string", "not": {"enum": ["x"]}},
            "x",
            [Violation("", 'must not match {"enum": ["x"]}')],
        ),
    ],
)
def test_schema_keywords(schema: dict[str, Any], value: Any, expected: list[Violation]) -> None:
    assert crd.check(value, schema) == expected


def test_every_shipped_schema_is_listed_with_its_source() -> None:
    directory = importlib.resources.files("extgen").joinpath("crds")
    files = {entry.name for entry in directory.iterdir() if entry.name.endswith(".json")}
    listed = {source.file for source in crd.sources().values()}
    assert files - {"index.json"} == listed
    sources_md = directory.joinpath("SOURCES.md").read_text()
    for source in crd.sources().values():
        assert re.fullmatch(r"[0-9a-f]{40}", source.commit)
        assert re.fullmatch(r"v\d+\.\d+\.\d+(-rc\.\d+)?", source.tag)
        assert f"{source.repository}" in sources_md and source.tag in sources_md
        schema = json.loads(directory.joinpath(source.file).read_text())
        assert '"description":"' not in json.dumps(schema, separators=(",", ":"))
        assert crd.schema(source.api_version, source.kind) == schema


def test_violation_format() -> None:
    assert Violation("spec.a", "unknown field").format() == "spec.a: unknown field"
    assert Violation("", "not a Kubernetes object").format() == "not a Kubernetes object"
