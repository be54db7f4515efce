"""extgen.writer writes the dependency files byte for byte as the Jinja templates do.

1. Every dependency file of the example catalog and of the golden catalogs, with every
   kind of object the planner makes among them.
2. Every dependency file of generated catalogs (the strategies of
   test_catalog_properties), whose text must also read back as the plan.
3. A table of edge cases: values that need quotes or escapes, optional keys present and
   absent, ports of every shape, both endpoint kinds, two slices of one family, IPv6.
4. Files of Argo CD, Flux or unknown objects are left to Jinja: objects_text gives None.

Run longer with EXTGEN_FUZZ_EXAMPLES=2000 (examples of the generated catalogs).
"""

from __future__ import annotations

import difflib
import ipaddress
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from test_catalog_properties import _settings, catalog_sources, mutated_sources

from extgen.catalog import parse_catalog, read_catalog
from extgen.errors import CatalogError
from extgen.manifest import Manifest
from extgen.plan import Plan, plan_catalog
from extgen.render import Renderer, _check
from extgen.writer import MARKER_TEXT, objects_text

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
CATALOGS = [ROOT / "catalog", *sorted(p / "catalog" for p in GOLDEN.iterdir() if p.is_dir())]
RENDERER = Renderer()
WRITER_KINDS = {"Service", "EndpointSlice", "Endpoints"}
# What the planner makes, as `shapes` names it: every one must be compared somewhere.
SHAPES = {
    "Service ExternalName",
    "Service ClusterIP selector",
    "Service headless",
    "EndpointSlice IPv4",
    "EndpointSlice IPv6",
    "EndpointSlice without ports",
    "Endpoints",
    "Endpoints skip-mirror",
    "Endpoints without ports",
    "annotations",
    "no annotations",
    "appProtocol",
    "targetPort number",
    "targetPort name",
    "unnamed port",
}


def jinja_text(manifests: Sequence[Manifest]) -> str:
    return RENDERER.template("objects.yaml.j2", manifests=manifests)


def dependency_files(plan: Plan) -> Iterator[tuple[str, tuple[Manifest, ...]]]:
    for env in plan.environments:
        for dep in env.dependencies:
            yield f"{env.name}/{dep.name}.yaml", dep.manifests


def assert_written_as_jinja(path: str, manifests: Sequence[Manifest]) -> str:
    """The writer's text is Jinja's and reads back as the planned objects; it is returned."""
    written = objects_text(manifests)
    rendered = jinja_text(manifests)
    assert written is not None, f"{path}: the writer declined {[m.template for m in manifests]}"
    diff = difflib.unified_diff(
        rendered.splitlines(keepends=True), written.splitlines(keepends=True), "jinja", "writer"
    )
    assert written == rendered, f"{path}:\n{''.join(diff)}"
    _check(path, written, [manifest.body for manifest in manifests])
    return written


def shapes(manifests: Sequence[Manifest]) -> set[str]:
    """Which of SHAPES the manifests show."""
    found = set()
    for manifest in manifests:
        body = manifest.body
        spec = body.get("spec", {})
        if manifest.kind == "Service":
            kind = spec.get("type") or "headless"
            found.add(f"Service {kind}" + (" selector" if "selector" in spec else ""))
        elif manifest.kind == "EndpointSlice":
            found.add(f"EndpointSlice {body['addressType']}")
        else:
            found.add(manifest.kind)
            if "endpointslice.kubernetes.io/skip-mirror" in body["metadata"]["labels"]:
                found.add("Endpoints skip-mirror")
        ports = spec.get("ports") or body.get("ports") or body.get("subsets", [{}])[0].get("ports")
        found |= _port_shapes(manifest.kind, ports or [])
        found.add("annotations" if "annotations" in body["metadata"] else "no annotations")
    return found


def _port_shapes(kind: str, ports: list[dict[str, Any]]) -> set[str]:
    found = {f"{kind} without ports"} if not ports else set()
    for port in ports:
        if "appProtocol" in port:
            found.add("appProtocol")
        if "targetPort" in port:
            found.add(f"targetPort {'number' if isinstance(port['targetPort'], int) else 'name'}")
        if not port.get("name", ""):
            found.add("unnamed port")
    return found


# --- 1. the example and golden catalogs ---------------------------------------------------


def test_every_dependency_file_of_the_example_catalogs() -> None:
    seen: set[str] = set()
    files = 0
    for catalog in CATALOGS:
        for path, manifests in dependency_files(plan_catalog(read_catalog(catalog))):
            if any(manifest.kind not in WRITER_KINDS for manifest in manifests):
                # Guardrail objects: Jinja writes the file, and render reads it back.
                assert objects_text(manifests) is None, path
                files += 1
                continue
            assert_written_as_jinja(path, manifests)
            seen |= shapes(manifests)
            files += 1
    assert files >= 40
    assert seen >= SHAPES, f"not covered: {sorted(SHAPES - seen)}"


def test_the_marker_is_the_one_of_marker_j2() -> None:
    assert MARKER_TEXT is not None
    assert MARKER_TEXT == jinja_text([]) == objects_text([])
    assert MARKER_TEXT.count("\n") == 1 and MARKER_TEXT.endswith("\n")
    assert "extgen" in MARKER_TEXT and "DO NOT EDIT" in MARKER_TEXT


# --- 2. generated catalogs ------------------------------------------------------------------


def test_every_dependency_file_of_generated_catalogs() -> None:
    seen: set[str] = set()
    counts = {"catalogs": 0, "files": 0}

    @_settings(default_examples=300)
    @given(catalog_sources() | mutated_sources())
    def same_text(sources: list[tuple[str, str]]) -> None:
        try:
            plan = plan_catalog(parse_catalog(sources))
        except CatalogError:
            return  # a damaged catalog that extgen refuses: nothing to render
        counts["catalogs"] += 1
        for path, manifests in dependency_files(plan):
            assert_written_as_jinja(path, manifests)
            seen.update(shapes(manifests))
            counts["files"] += 1

    same_text()
    assert counts["catalogs"] > 0 and counts["files"] > 0
    # Every kind of object, at least; a rarer shape (no annotations at all) may be missed,
    # as may any with few examples (EXTGEN_FUZZ_EXAMPLES).
    kinds = {
        shape for shape in SHAPES if shape.split()[0] in ("Service", "EndpointSlice", "Endpoints")
    }
    if counts["catalogs"] >= 100:
        assert seen >= kinds, f"not covered: {sorted(kinds - seen)}"


# --- 3. edge cases, through the planner -----------------------------------------------------

TRICKY = 'say "hi" \\ C:\\path\nnext line\ttab \r ÿ 日本語 \U0001f642\u2028\x1b'
ADDRESSES_1001 = [str(ipaddress.ip_address("10.1.0.1") + i) for i in range(1001)]


def catalog(dependency: dict[str, Any], **environment: Any) -> list[tuple[str, str]]:
    """One environment `dev` (namespace apps) and one dependency, as JSON (valid YAML)."""
    environments = {"dev": {"namespace": "apps", **environment}}
    text = json.dumps(
        {"environments": environments, "dependencies": [dependency]}, ensure_ascii=False
    )
    return [("catalog.yaml", text)]


# id -> (catalog, text the file must hold)
PLANNED: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "escapes-in-annotations": (
        catalog(
            {"name": "db", "description": TRICKY, "owner": '"', "targets": {"dev": "h.com"}},
            annotations={"example.com/back": "\\", "example.com/json": '{"a": [1]}'},
        ),
        [
            '"say \\"hi\\" \\\\ C:\\\\path\\nnext line\\ttab \\r ÿ 日本語 '
            '\\U0001f642\\u2028\\u001b"',
            'extgen.io/owner: "\\""',
            'example.com/back: "\\\\"',
            'example.com/json: "{\\"a\\": [1]}"',
        ],
    ),
    "yaml-words-and-numbers-as-strings": (
        catalog(
            {
                "name": "db",
                "labels": {"flag": "yes", "none": "null", "port": "8080", "off": "Off"},
                "annotations": {"example.com/tilde": "~", "example.com/time": "12:30"},
                "description": "true",
                "owner": "0755",
                "targets": {"dev": "h.com"},
            }
        ),
        [
            'flag: "yes"',
            'none: "null"',
            'port: "8080"',
            '"off": "Off"',
            'example.com/tilde: "~"',
            'example.com/time: "12:30"',
            'extgen.io/description: "true"',
            'extgen.io/owner: "0755"',
        ],
    ),
    "no-annotations-no-ports": (
        catalog({"name": "db", "targets": {"dev": "h.com"}}),
        ["  labels:\n    app.kubernetes.io/name: db\nspec:\n  type: ExternalName\n"],
    ),
    "environment-labels-and-annotations": (
        catalog(
            {"name": "db", "labels": {"tier": "data"}, "targets": {"dev": "h.com"}},
            labels={"environment": "dev"},
            annotations={"example.com/oncall": "sre"},
        ),
        ["    environment: dev\n    tier: data\n", "  annotations:\n    example.com/oncall: sre\n"],
    ),
    "unnamed-port-everywhere": (
        catalog(
            {"name": "db", "ports": [{"port": 5432}], "targets": {"dev": ["10.0.0.1"]}},
            endpoints="both",
        ),
        [
            "  ports:\n    - port: 5432\n      protocol: TCP\n---\n",
            'ports:\n  - name: ""\n    port: 5432\n',
            "    ports:\n      - port: 5432\n        protocol: TCP\n",
        ],
    ),
    "named-target-port-and-selector": (
        catalog(
            {
                "name": "search",
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "web", "appProtocol": "http"},
                    {"name": "metrics", "port": 9090, "targetPort": 19090, "protocol": "UDP"},
                ],
                "targets": {
                    "dev": {"selector": {"app.kubernetes.io/name": "search", "tier": "yes"}}
                },
            }
        ),
        [
            '  type: ClusterIP\n  selector:\n    app.kubernetes.io/name: search\n    tier: "yes"\n',
            "      targetPort: web\n",
            "      targetPort: 19090\n",
            "      appProtocol: http\n",
        ],
    ),
    "app-protocol-on-endpoints": (
        catalog(
            {
                "name": "api",
                "ports": [{"name": "h2", "port": 8443, "appProtocol": "kubernetes.io/h2c"}],
                "targets": {"dev": {"addresses": ["10.0.0.1"]}},
            },
            endpoints="both",
        ),
        [
            "  - name: h2\n    port: 8443\n    protocol: TCP\n    appProtocol: kubernetes.io/h2c\n",
            "      - name: h2\n        port: 8443\n",
        ],
    ),
    "endpoints-with-ports": (
        catalog(
            {
                "name": "erp",
                "ports": [
                    {"name": "http", "port": 80, "targetPort": 8080},
                    {"name": "rfc", "port": 3300},
                ],
                "targets": {"dev": ["10.0.0.2", "10.0.0.1", "2001:db8::1"]},
            },
            endpoints="Endpoints",
        ),
        [
            'subsets:\n  - addresses:\n      - ip: "10.0.0.1"\n      - ip: "10.0.0.2"\n',
            '      - ip: "2001:db8::1"\n    ports:\n      - name: http\n        port: 8080\n',
        ],
    ),
    "both-endpoint-kinds": (
        catalog({"name": "erp", "targets": {"dev": "10.0.0.1"}}, endpoints="both"),
        ["kind: EndpointSlice\n", 'endpointslice.kubernetes.io/skip-mirror: "true"\n'],
    ),
    "two-slices-of-one-family": (
        catalog(
            {
                "name": "fleet",
                "ports": [{"name": "http", "port": 80}],
                "targets": {"dev": [*ADDRESSES_1001, "2001:db8::1"]},
            }
        ),
        [
            "name: fleet-ipv4\n",
            "name: fleet-ipv4-2\n",
            "name: fleet-ipv6\n",
            'endpoints:\n  - addresses: ["10.1.3.233"]\nports:\n',
        ],
    ),
    "ipv6-only": (
        catalog(
            {
                "name": "v6",
                "namespaces": ["b-ns", "a-ns"],
                "targets": {"dev": ["2001:DB8::2", "2001:db8:0:0:0:0:0:1"]},
            }
        ),
        ['addressType: IPv6\nendpoints:\n  - addresses: ["2001:db8::1"]\n', "namespace: b-ns\n"],
    ),
}


@pytest.mark.parametrize(("sources", "expected"), PLANNED.values(), ids=PLANNED)
def test_planned_edge_cases(sources: list[tuple[str, str]], expected: list[str]) -> None:
    [(path, manifests)] = dependency_files(plan_catalog(parse_catalog(sources)))
    text = assert_written_as_jinja(path, manifests)
    for part in expected:
        assert part in text


# --- 3. edge cases, bodies the planner does not make ----------------------------------------


def service(spec: dict[str, Any], **metadata: Any) -> Manifest:
    meta = {"name": "db", "namespace": "apps", **metadata}
    return Manifest({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec})


def endpoints(subset: dict[str, Any]) -> Manifest:
    meta = {"name": "db", "namespace": "apps"}
    return Manifest(
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta, "subsets": [subset]}
    )


BUILT: dict[str, list[Manifest]] = {
    "no-labels": [service({"clusterIP": "None"})],
    "empty-labels-and-annotations": [service({}, labels={}, annotations={})],
    "empty-optional-spec-values": [
        service({"type": "", "externalName": "", "selector": {}, "ports": []})
    ],
    "port-keys-in-their-order": [
        service({"ports": [{"targetPort": "web", "name": "x", "port": 1}]})
    ],
    "boolean-and-string-port-values": [service({"ports": [{"name": "8080", "port": True}]})],
    # The indent filter indents an empty block too: the writer copies that.
    "empty-port-mappings": [
        service({"ports": [{}]}),
        endpoints({"addresses": [], "ports": [{}, {}]}),
    ],
    "several-objects": [service({"clusterIP": "None"}), endpoints({"addresses": [{"ip": "::1"}]})],
}


@pytest.mark.parametrize("manifests", BUILT.values(), ids=BUILT)
def test_built_edge_cases(manifests: list[Manifest]) -> None:
    written = objects_text(manifests)
    assert written is not None
    assert written == jinja_text(manifests)


# --- 4. files the writer leaves to Jinja ----------------------------------------------------

GITOPS = {"repository": "https://git.example.com/gitops.git", "flux": {}}


def delivery_manifests(applications: str) -> dict[str, tuple[Manifest, ...]]:
    gitops = {**GITOPS, "argocd": {"applications": applications}}
    [(name, text)] = catalog({"name": "db", "targets": {"dev": "h.com"}})
    sources = [(name, text), ("gitops.yaml", json.dumps({"gitops": gitops}))]
    plan = plan_catalog(parse_catalog(sources))
    return {file.path: file.manifests for file in plan.delivery}


UNKNOWN_KIND = Manifest(
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "db", "namespace": "apps"}}
)


@pytest.mark.parametrize("applications", ["Application", "ApplicationSet"])
def test_argocd_and_flux_files_are_left_to_jinja(applications: str) -> None:
    files = delivery_manifests(applications)
    kinds = {manifest.kind for manifests in files.values() for manifest in manifests}
    # The root application is an Application in both variants.
    assert kinds == {applications, "Application", "AppProject", "GitRepository", "Kustomization"}
    for manifests in files.values():
        assert objects_text(manifests) is None


def test_an_unknown_kind_is_left_to_jinja() -> None:
    assert objects_text([UNKNOWN_KIND]) is None
    # Even after objects the writer knows: the whole file goes through Jinja.
    assert objects_text([service({"clusterIP": "None"}), UNKNOWN_KIND]) is None
    [application] = delivery_manifests("Application")["_gitops/argocd/dev.yaml"]
    assert objects_text([service({"clusterIP": "None"}), application]) is None
