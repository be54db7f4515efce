"""extgen import: Kubernetes manifests -> a catalog whose render gives them back.

The round trip is checked with the real `kubectl kustomize`: import, validate, render,
build each environment, and compare the built objects with the imported ones as data
(extgen's own labels and annotations, and what the cluster adds, aside).
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from helpers import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extgen.cli import cli

FIXTURES = Path(__file__).parent / "import_fixtures"
KUBECTL = shutil.which("kubectl") or "kubectl"
OWN_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/managed-by",
    "endpointslice.kubernetes.io/managed-by",
    "endpointslice.kubernetes.io/skip-mirror",
}
CLUSTER_METADATA = {
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "ownerReferences",
    "generateName",
}
CLUSTER_ANNOTATIONS = {
    "kubectl.kubernetes.io/last-applied-configuration",
    "endpoints.kubernetes.io/last-change-trigger-time",
}
# Kubernetes' own endpoint objects, which import leaves to the cluster.
KUBERNETES_SLICE_MANAGERS = {
    "endpointslice-controller.k8s.io",
    "endpointslicemirroring-controller.k8s.io",
}


def kustomize(directory: Path) -> str:
    result = subprocess.run(
        [KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, check=True
    )
    return result.stdout


def objects_of(text: str) -> list[dict[str, Any]]:
    found = []
    for document in yaml.safe_load_all(text):
        if document is None:
            continue
        if str(document.get("kind", "")).endswith("List"):
            found.extend(document["items"])
        else:
            found.append(document)
    return found


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    metadata = body.get("metadata", {})
    labels = {k: v for k, v in metadata.get("labels", {}).items() if k not in OWN_LABELS}
    notes = metadata.get("annotations", {})
    notes = {k: v for k, v in notes.items() if k not in CLUSTER_ANNOTATIONS}
    notes = {k: v for k, v in notes.items() if not k.startswith("extgen.io/")}
    return {"namespace": metadata.get("namespace", "default"), "labels": labels, "notes": notes}


def _service(body: dict[str, Any]) -> dict[str, Any]:
    spec = body["spec"]
    kind = spec.get("type", "ClusterIP")
    ports = []
    for port in spec.get("ports", []):
        port = {"protocol": "TCP", **port}
        if kind == "ExternalName":
            port.pop("targetPort", None)  # ignored: ExternalName clients connect to port
        else:
            port.setdefault("targetPort", port["port"])
        ports.append(port)
    return {
        "type": kind,
        "externalName": spec.get("externalName"),
        "headless": spec.get("clusterIP") == "None",
        "selector": spec.get("selector"),
        "ports": ports,
    }


def _endpoint_ports(ports: Iterable[dict[str, Any]] | None) -> list[Any]:
    return sorted(
        (p.get("name", ""), p["port"], p.get("protocol", "TCP"), p.get("appProtocol"))
        for p in ports or []
    )


def comparable(objects: Iterable[dict[str, Any]]) -> dict[Any, Any]:
    """Objects as data, by what identifies them: a Service by namespace and name, its
    EndpointSlices (whatever their names) by Service and address type, merged."""
    found: dict[Any, Any] = {}
    for body in objects:
        meta = _metadata(body)
        name = body["metadata"]["name"]
        if body["kind"] == "Service":
            found[("Service", meta["namespace"], name)] = (meta, _service(body))
        elif body["kind"] == "EndpointSlice":
            labels = body["metadata"].get("labels", {})
            if labels.get("endpointslice.kubernetes.io/managed-by") in KUBERNETES_SLICE_MANAGERS:
                continue
            service = labels["kubernetes.io/service-name"]
            meta["labels"].pop("kubernetes.io/service-name")
            key = ("EndpointSlice", meta["namespace"], service, body["addressType"])
            addresses = [a for e in body.get("endpoints", []) for a in e["addresses"]]
            _, before, _ = found.get(key, (None, [], None))
            ports = _endpoint_ports(body.get("ports"))
            found[key] = (meta, sorted({*before, *addresses}), ports)
        elif body["kind"] == "Endpoints":
            subsets = body.get("subsets", [])
            addresses = sorted(a["ip"] for s in subsets for a in s.get("addresses", []))
            ports = _endpoint_ports(subsets[0].get("ports")) if subsets else []
            found[("Endpoints", meta["namespace"], name)] = (meta, addresses, ports)
    return found


def import_(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["import", *args], input=stdin, catch_exceptions=False)


def rendered(tmp_path: Path, catalog: str, environments: Iterable[str]) -> dict[str, str]:
    """`extgen render` of the catalog, then kustomize's build of each environment."""
    path = tmp_path / "imported.yaml"
    path.write_text(catalog, encoding="utf-8")
    assert run("validate", "-c", str(path)).exit_code == 0
    out = tmp_path / "overlays"
    result = run("render", "-c", str(path), "-o", str(out))
    assert result.exit_code == 0, result.output
    return {env: kustomize(out / env) for env in environments}


def write(path: Path, objects: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(f"---\n{json.dumps(o)}\n" for o in objects), encoding="utf-8")
    return path


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# --- realistic fixtures ------------------------------------------------------------------


def test_a_repository_with_per_environment_patches_round_trips(tmp_path: Path) -> None:
    built = {env: kustomize(FIXTURES / "repo" / "overlays" / env) for env in ("dev", "prod")}
    args = []
    for env, text in built.items():
        (tmp_path / f"{env}.yaml").write_text(text, encoding="utf-8")
        args += ["--env", env, str(tmp_path / f"{env}.yaml")]
    result = import_(*args)
    assert result.stderr == "imported 3 dependencies in 2 environments\n"
    assert result.exit_code == 0
    assert result.stdout == (FIXTURES / "repo-catalog.yaml").read_text(encoding="utf-8")
    again = rendered(tmp_path, result.stdout, built)
    for env, text in built.items():
        assert comparable(objects_of(again[env])) == comparable(objects_of(text))


def test_a_cluster_listing_drops_what_the_cluster_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURES)
    result = import_("--env", "staging", "cluster-staging.yaml")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "cluster-staging.yaml:119:11: error: Service apps-staging/ingress: type LoadBalancer:"
        " extgen writes ExternalName, headless (clusterIP: None) and ClusterIP Services only;"
        " left out",
        "cluster-staging.yaml:143:22: error: Service apps-staging/sticky: spec.sessionAffinity"
        " ClientIP: extgen writes Services with the default sessionAffinity None; left out",
        "imported 3 dependencies in 1 environment; 2 problem(s), left out",
    ]
    assert result.stdout == (FIXTURES / "cluster-catalog.yaml").read_text(encoding="utf-8")
    listing = objects_of((FIXTURES / "cluster-staging.yaml").read_text(encoding="utf-8"))
    left_out = {
        ("Service", "apps-staging", "ingress"),
        ("Service", "apps-staging", "sticky"),
        ("Endpoints", "apps-staging", "search"),  # the Endpoints controller's
    }
    expected = {k: v for k, v in comparable(listing).items() if k not in left_out}
    again = rendered(tmp_path, result.stdout, ["staging"])
    assert comparable(objects_of(again["staging"])) == expected
    # Headless with an Endpoints object: the cluster mirrors it into a slice, which is
    # not imported; the Endpoints object is, and the environment writes Endpoints.
    assert "endpoints: Endpoints" in result.stdout


def test_standard_input_directories_and_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    built = kustomize(FIXTURES / "repo" / "overlays" / "dev")
    directory = tmp_path / "manifests" / "nested"
    directory.mkdir(parents=True)
    for index, body in enumerate(objects_of(built)):
        write(directory / f"{index}.yml", [body])
    (directory / "kustomization.yaml").write_text("resources: [0.yml]\n", encoding="utf-8")
    (directory / "notes.txt").write_text("not read", encoding="utf-8")
    listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects_of(built)})
    from_dir = import_("--env", "dev", "manifests")
    from_stdin = import_("--env", "dev", "-", stdin=built)
    from_list = import_("--env", "dev", "-", stdin=listing)
    assert from_dir.exit_code == from_stdin.exit_code == from_list.exit_code == 0
    assert from_dir.stdout == from_stdin.stdout == from_list.stdout
    assert "  dev: {namespace: apps-dev}\n" in from_dir.stdout


def test_several_paths_of_one_environment_are_read_together(tmp_path: Path) -> None:
    objects = objects_of(kustomize(FIXTURES / "repo" / "overlays" / "dev"))
    first = write(tmp_path / "a.yaml", objects[:2])
    second = write(tmp_path / "b.yaml", objects[2:])
    together = import_("--env", "dev", str(first), "--env", "dev", str(second))
    whole_file = write(tmp_path / "all.yaml", objects)
    whole = import_("--env", "dev", str(whole_file))
    # The same object read twice is one object.
    twice = import_("--env", "dev", str(whole_file), "--env", "dev", str(first))
    assert together.exit_code == whole.exit_code == twice.exit_code == 0
    assert together.stdout == whole.stdout == twice.stdout


# --- what cannot be expressed ------------------------------------------------------------

# (name, manifest of environment dev in in.yaml, the errors as printed)
REFUSED = [
    (
        "a-namespace-of-kubernetes",
        """\
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  selector: {k8s-app: kube-dns}
  ports: [{name: dns, port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: metrics, namespace: kube-system}
spec:
  selector: {k8s-app: metrics}
  ports: [{name: https, port: 443}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: apps}
spec: {type: ExternalName, externalName: api.example.com}
""",
        [
            "in.yaml:3:39: error: Service kube-system/kube-dns: namespace 'kube-system' belongs"
            " to Kubernetes itself (kube-system, kube-public, kube-node-lease): a Service there"
            " could replace one of the cluster's own, such as kube-dns; choose a namespace of"
            " your own; left out",
            "in.yaml:10:38: error: Service kube-system/metrics: namespace 'kube-system' belongs"
            " to Kubernetes itself (kube-system, kube-public, kube-node-lease): a Service there"
            " could replace one of the cluster's own, such as kube-dns; choose a namespace of"
            " your own; left out",
        ],
    ),
    (
        "external-name-to-itself",
        """\
apiVersion: v1
kind: Service
metadata: {name: loop, namespace: apps}
spec:
  type: ExternalName
  externalName: loop.apps.svc.cluster.local
""",
        [
            "in.yaml:6:17: error: Service apps/loop: 'loop.apps.svc.cluster.local' is this"
            " Service's own name in the cluster: the ExternalName would point at itself, a"
            " CNAME loop that CoreDNS answers nothing for (allowInternal does not change that);"
            " point it outside the cluster; left out",
        ],
    ),
    (
        "external-ips",
        """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  selector: {app: web}
  ports: [{port: 80}]
  externalIPs: [198.51.100.7]
""",
        [
            "in.yaml:7:16: error: Service apps/web: spec.externalIPs [198.51.100.7]: extgen "
            "never writes externalIPs, with which a Service captures traffic to any address "
            "(CVE-2020-8554); left out",
        ],
    ),
    (
        "node-port",
        """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, nodePort: 30080}]
""",
        [
            "in.yaml:5:9: error: Service apps/web: type NodePort: extgen writes ExternalName, "
            "headless (clusterIP: None) and ClusterIP Services only; left out",
        ],
    ),
    (
        "headless-with-selector",
        """\
apiVersion: v1
kind: Service
metadata: {name: db, namespace: apps}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
""",
        [
            "in.yaml:6:13: error: Service apps/db: a headless Service with a selector: extgen "
            "writes a selector target as a ClusterIP Service with a cluster IP, and IP targets "
            "as headless Services without a selector; left out",
        ],
    ),
    (
        "clusterip-without-selector",
        """\
apiVersion: v1
kind: Service
metadata: {name: erp, namespace: apps}
spec:
  ports: [{port: 80}]
""",
        [
            "in.yaml:5:3: error: Service apps/erp: a ClusterIP Service without a selector that "
            "is not headless: extgen writes IP targets as headless Services (clusterIP: None) "
            "with EndpointSlices; left out",
        ],
    ),
    (
        "pinned-cluster-ip",
        """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  clusterIP: 10.96.0.50
  selector: {app: web}
  ports: [{port: 80}]
""",
        [
            "in.yaml:5:14: error: Service apps/web: spec.clusterIP 10.96.0.50 is fixed: extgen "
            "leaves the cluster IP to the cluster; left out",
        ],
    ),
    (
        "internal-traffic-policy",
        """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  selector: {app: web}
  internalTrafficPolicy: Local
  ports: [{port: 80}]
""",
        [
            "in.yaml:6:26: error: Service apps/web: spec.internalTrafficPolicy Local: extgen "
            "writes Services with the default internalTrafficPolicy Cluster; left out",
        ],
    ),
    (
        "publish-not-ready",
        """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  selector: {app: web}
  publishNotReadyAddresses: true
  ports: [{port: 80}]
""",
        [
            "in.yaml:6:29: error: Service apps/web: spec.publishNotReadyAddresses true: extgen "
            "writes Services that publish ready addresses only; left out",
        ],
    ),
    (
        "external-name-with-selector",
        """\
apiVersion: v1
kind: Service
metadata: {name: api, namespace: apps}
spec:
  type: ExternalName
  externalName: api.example.com
  selector: {app: api}
""",
        [
            "in.yaml:7:13: error: Service apps/api: an ExternalName Service with a selector, "
            "which Kubernetes ignores and extgen does not write; left out",
        ],
    ),
    (
        "external-name-ip",
        """\
apiVersion: v1
kind: Service
metadata: {name: api, namespace: apps}
spec:
  type: ExternalName
  externalName: 10.0.0.1
""",
        [
            "in.yaml:6:17: error: Service apps/api: '10.0.0.1' is an IP address, not a hostname: "
            "an ExternalName Service that points at an IP resolves to nothing in cluster DNS. "
            "extgen turns IP targets into a headless Service with EndpointSlices: write the "
            "target as the address itself (`ENV: 10.0.0.1`) or as `{addresses: [10.0.0.1]}`; "
            "left out",
        ],
    ),
    (
        "external-name-metadata",
        """\
apiVersion: v1
kind: Service
metadata: {name: api, namespace: apps}
spec:
  type: ExternalName
  externalName: metadata.google.internal
""",
        [
            "in.yaml:6:17: error: Service apps/api: 'metadata.google.internal' is a cloud "
            "metadata service; extgen never points at one; left out",
        ],
    ),
    (
        "external-name-in-cluster",
        """\
apiVersion: v1
kind: Service
metadata: {name: api, namespace: apps}
spec:
  type: ExternalName
  externalName: kubernetes.default.svc.cluster.local
""",
        [
            "in.yaml:6:17: error: Service apps/api: 'kubernetes.default.svc.cluster.local' is a "
            "Service inside the cluster; set allowInternal: true on the dependency if this is "
            "intended; left out",
        ],
    ),
    (
        "metadata-address",
        """\
apiVersion: v1
kind: Service
metadata: {name: erp, namespace: apps}
spec:
  clusterIP: None
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: erp-ipv4
  namespace: apps
  labels: {kubernetes.io/service-name: erp}
addressType: IPv4
endpoints:
  - addresses: [10.1.0.1]
  - addresses: [169.254.169.254]
""",
        [
            "in.yaml:16:17: error: Service apps/erp: invalid endpoint address '169.254.169.254': "
            "may not be in the link-local range (169.254.0.0/16, fe80::/10); left out",
        ],
    ),
    (
        "subsets-of-different-ports",
        """\
apiVersion: v1
kind: Service
metadata: {name: erp, namespace: apps}
spec:
  clusterIP: None
  ports: [{name: http, port: 80}, {name: admin, port: 9000}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: erp, namespace: apps}
subsets:
  - addresses: [{ip: 10.1.0.1}]
    ports: [{name: http, port: 80}]
  - addresses: [{ip: 10.1.0.2}]
    ports: [{name: admin, port: 9000}]
""",
        [
            "in.yaml:15:12: error: Endpoints apps/erp: several subsets with different ports: "
            "extgen writes one subset, with the Service's ports; left out with Service apps/erp",
        ],
    ),
    (
        "not-ready-addresses",
        """\
apiVersion: v1
kind: Service
metadata: {name: erp, namespace: apps}
spec:
  clusterIP: None
---
apiVersion: v1
kind: Endpoints
metadata: {name: erp, namespace: apps}
subsets:
  - addresses: [{ip: 10.1.0.1}]
    notReadyAddresses: [{ip: 10.1.0.2}]
""",
        [
            "in.yaml:12:24: error: Endpoints apps/erp: subsets[0].notReadyAddresses: extgen "
            "writes ready addresses only; left out with Service apps/erp",
        ],
    ),
    (
        "no-endpoints",
        """\
apiVersion: v1
kind: Service
metadata: {name: erp, namespace: apps}
spec:
  clusterIP: None
""",
        [
            "in.yaml:5:3: error: Service apps/erp: a headless Service without selector, and no "
            "EndpointSlice or Endpoints of it in the input: an IP target needs its addresses; "
            "left out",
        ],
    ),
    (
        "orphan-slice",
        """\
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: erp-ipv4
  namespace: apps
  labels: {kubernetes.io/service-name: erp}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1]}]
""",
        [
            "in.yaml:4:3: error: EndpointSlice apps/erp-ipv4: its Service erp (label "
            "kubernetes.io/service-name) is not in the input; left out",
        ],
    ),
    (
        "fqdn-slice",
        """\
apiVersion: v1
kind: Service
metadata: {name: erp, namespace: apps}
spec:
  clusterIP: None
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: erp-fqdn
  namespace: apps
  labels: {kubernetes.io/service-name: erp}
addressType: FQDN
endpoints: [{addresses: [erp.example.com]}]
""",
        [
            "in.yaml:13:14: error: EndpointSlice apps/erp-fqdn: addressType FQDN: extgen writes "
            "IPv4 and IPv6 addresses; left out with Service apps/erp",
        ],
    ),
    (
        "two-addresses-in-one-endpoint",
        """\
apiVersion: v1
kind: Service
metadata: {name: erp, namespace: apps}
spec:
  clusterIP: None
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: erp-ipv4
  namespace: apps
  labels: {kubernetes.io/service-name: erp}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1, 10.1.0.2]}]
""",
        [
            "in.yaml:14:25: error: EndpointSlice apps/erp-ipv4: endpoints[0] has 2 addresses: "
            "extgen writes one address per endpoint (kube-proxy uses only the first); left out "
            "with Service apps/erp",
        ],
    ),
    (
        "endpoint-not-ready",
        """\
apiVersion: v1
kind: Service
metadata: {name: erp, namespace: apps}
spec:
  clusterIP: None
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: erp-ipv4
  namespace: apps
  labels: {kubernetes.io/service-name: erp}
addressType: IPv4
endpoints:
  - addresses: [10.1.0.1]
    conditions: {ready: false}
""",
        [
            "in.yaml:16:17: error: EndpointSlice apps/erp-ipv4: endpoints[0].conditions: extgen "
            "writes endpoints with one address, ready; left out with Service apps/erp",
        ],
    ),
    (
        "slice-ports-differ",
        """\
apiVersion: v1
kind: Service
metadata: {name: erp, namespace: apps}
spec:
  clusterIP: None
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: erp-ipv4
  namespace: apps
  labels: {kubernetes.io/service-name: erp}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1]}]
ports: [{name: http, port: 8080, protocol: TCP}]
""",
        [
            "in.yaml:16:8: error: EndpointSlice apps/erp-ipv4: its ports http 8080/TCP are not "
            "those extgen writes for the ports of Service erp (http 80/TCP): the same names, "
            "protocols and appProtocols, and targetPort (else port) as the number; left out with "
            "Service apps/erp",
        ],
    ),
    (
        "endpoints-and-slices-without-skip-mirror",
        """\
apiVersion: v1
kind: Service
metadata: {name: erp, namespace: apps}
spec:
  clusterIP: None
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: erp-ipv4
  namespace: apps
  labels: {kubernetes.io/service-name: erp}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1]}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: erp, namespace: apps}
subsets: [{addresses: [{ip: 10.1.0.1}]}]
""",
        [
            "in.yaml:18:11: error: Endpoints apps/erp: the Service has both this Endpoints "
            "object and EndpointSlices of its own, and Kubernetes mirrors the Endpoints into "
            "duplicate slices: extgen writes both only with the label "
            'endpointslice.kubernetes.io/skip-mirror: "true" on the Endpoints; add it, or remove '
            "one of them; left out with Service apps/erp",
        ],
    ),
    (
        "not-an-object",
        """\
- just
- a list
""",
        [
            "in.yaml:1:1: error: not a Kubernetes object (no kind); left out",
        ],
    ),
    (
        "old-endpointslice-version",
        """\
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata: {name: erp-ipv4, namespace: apps}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1]}]
""",
        [
            "in.yaml:1:13: error: EndpointSlice of apiVersion 'discovery.k8s.io/v1beta1': extgen "
            "import reads EndpointSlice of discovery.k8s.io/v1; left out",
        ],
    ),
    (
        "defined-twice-differently",
        """\
apiVersion: v1
kind: Service
metadata: {name: api, namespace: apps}
spec: {type: ExternalName, externalName: api.example.com}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: apps}
spec: {type: ExternalName, externalName: api.example.org}
""",
        [
            "in.yaml:6:1: error: Service apps/api: defined twice in this environment, "
            "differently (first at in.yaml:1:1); both are left out",
        ],
    ),
    (
        "namespaces-differ",
        """\
apiVersion: v1
kind: Service
metadata: {name: api, namespace: apps}
spec: {type: ExternalName, externalName: api.example.com}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: other}
spec: {type: ExternalName, externalName: api.example.org}
""",
        [
            "in.yaml:6:1: error: Service other/api: it differs from the Service of the same name "
            "in namespace apps (in.yaml:1:1): extgen writes the same objects in every namespace "
            "of a dependency; import the namespaces as separate environments; all its copies in "
            "this environment are left out",
        ],
    ),
    (
        "invalid-yaml",
        """\
apiVersion: v1
kind: Service
metadata: {name: api
""",
        [
            "in.yaml:4:1: error: invalid YAML: while parsing a flow mapping did not find "
            "expected ',' or '}'; the file is left out",
        ],
    ),
    (
        "reserved-annotation",
        """\
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: apps
  annotations: {extgen.io/team: payments}
spec: {type: ExternalName, externalName: api.example.com}
""",
        [
            "in.yaml:6:17: error: Service apps/api: annotation 'extgen.io/team' is reserved for "
            "extgen; use description, owner or tls.serverName, which extgen writes under that "
            "prefix; left out",
        ],
    ),
    (
        "unknown-spec-field",
        """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  selector: {app: web}
  trafficDistribution: PreferClose
  ports: [{port: 80}]
""",
        [
            "in.yaml:6:24: error: Service apps/web: spec.trafficDistribution PreferClose: extgen "
            "cannot write it; left out",
        ],
    ),
    (
        "selector-without-ports",
        """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  selector: {app: web}
""",
        [
            "in.yaml:5:3: error: Service apps/web: the selector target in 'dev' needs ports: a "
            "ClusterIP Service has some; left out",
        ],
    ),
    (
        "named-target-port-on-ip-target",
        """\
apiVersion: v1
kind: Service
metadata: {name: erp, namespace: apps}
spec:
  clusterIP: None
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: erp-ipv4
  namespace: apps
  labels: {kubernetes.io/service-name: erp}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1]}]
ports: [{name: http, port: 80, protocol: TCP}]
""",
        [
            "in.yaml:6:46: error: Service apps/erp: targetPort 'http' is a port name, but the "
            "target in 'dev' is a list of IPs, whose endpoints have no named ports; use a "
            "number; left out",
        ],
    ),
]


@pytest.mark.parametrize(
    ("manifest", "errors"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_what_cannot_be_expressed_is_reported_and_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, manifest: str, errors: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.yaml").write_text(manifest, encoding="utf-8")
    result = import_("--env", "dev", "in.yaml")
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if ": error: " in line] == errors
    assert "Traceback" not in result.output
    # The rest is still written, and valid.
    assert result.stdout.startswith("# Written by extgen import")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(result.stdout, encoding="utf-8")
    assert run("validate", "-c", str(catalog)).exit_code == 0


def test_the_rest_of_a_file_is_imported_beside_what_is_left_out(tmp_path: Path) -> None:
    manifest = (
        next(row[1] for row in REFUSED if row[0] == "external-ips")
        + "---\n"
        + dedent(
            """
        apiVersion: v1
        kind: Service
        metadata: {name: api, namespace: apps}
        spec: {type: ExternalName, externalName: api.example.com}
        """
        )
    )
    result = import_("--env", "dev", str(write_text(tmp_path / "in.yaml", manifest)))
    assert result.exit_code == 1
    assert "dependencies:\n  - name: api\n    targets:\n      dev: api.example.com\n" in (
        result.stdout
    )
    assert result.stderr.endswith(
        "imported 1 dependency in 1 environment; 1 problem(s), left out\n"
    )


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- round trip over generated manifests -------------------------------------------------

ENVIRONMENTS = ("dev", "prod")
NAMES = ("alpha", "beta", "gamma")
HOSTS = ("db.example.com", "api.example.org", "queue.eu-west-1.example.net", "search.example.com.")
IPV4 = ("10.0.0.1", "10.0.0.2", "192.168.10.5", "172.16.4.20")
IPV6 = ("2001:db8::1", "2001:db8::a", "fd12:3456::7")
MODES = ("EndpointSlice", "Endpoints", "both")


@st.composite
def generated_ports(draw: st.DrawFn, kind: str) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=1 if kind == "selector" else 0, max_value=2))
    names = draw(
        st.lists(
            st.sampled_from(["http", "grpc", "admin"]), min_size=count, max_size=count, unique=True
        )
    )
    numbers = draw(
        st.lists(
            st.sampled_from([80, 443, 8080, 9000]), min_size=count, max_size=count, unique=True
        )
    )
    ports = []
    for name, number in zip(names, numbers, strict=True):
        port: dict[str, Any] = {"port": number}
        if count > 1 or draw(st.booleans()):
            port["name"] = name
        port["protocol"] = draw(st.sampled_from(["TCP", "UDP"]))
        if draw(st.booleans()):
            port["appProtocol"] = "http"
        if kind != "hostname" and draw(st.booleans()):
            port["targetPort"] = draw(st.sampled_from([number, 8443, 10000]))
        ports.append(port)
    return ports


def _endpoint_port(port: dict[str, Any], *, named: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"name": port.get("name", "")} if named or "name" in port else {}
    body.update({"port": port.get("targetPort", port["port"]), "protocol": port["protocol"]})
    if "appProtocol" in port:
        body["appProtocol"] = port["appProtocol"]
    return body


def _with_cluster_fields(body: dict[str, Any], number: int) -> dict[str, Any]:
    """As `kubectl get -o yaml` shows the object."""
    metadata = {
        **body["metadata"],
        "uid": f"00000000-0000-4000-8000-{number:012d}",
        "resourceVersion": str(1000 + number),
        "creationTimestamp": "2026-11-02T09:14:51Z",
        "annotations": {
            **body["metadata"].get("annotations", {}),
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps(body) + "\n",
        },
    }
    body = {**body, "metadata": metadata}
    if body["kind"] == "Service":
        spec = {**body["spec"], "sessionAffinity": "None"}
        if "selector" in spec:
            spec.update(
                clusterIP=f"10.96.0.{number % 250 + 1}", clusterIPs=[f"10.96.0.{number % 250 + 1}"]
            )
            spec.update(
                ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack", internalTrafficPolicy="Cluster"
            )
        for port in spec.get("ports", []):
            port.setdefault("targetPort", port["port"])
        body.update(spec=spec, status={"loadBalancer": {}})
    return body


@st.composite
def dependency_objects(
    draw: st.DrawFn, name: str, env: str, mode: str, description: str | None
) -> list[dict[str, Any]]:
    kind = draw(st.sampled_from(["hostname", "addresses", "selector"]))
    ports = draw(generated_ports(kind))
    labels = {"team": "data"} if draw(st.booleans()) else {}
    if draw(st.booleans()):
        labels["environment"] = env
    annotations = {"extgen.io/description": description} if description else {}
    if draw(st.booleans()):
        annotations["team.example.com/runbook"] = f"https://runbooks.example.com/{name}"
    metadata: dict[str, Any] = {"name": name, "labels": labels, "annotations": annotations}
    objects: list[dict[str, Any]] = []
    if kind == "hostname":
        spec: dict[str, Any] = {
            "type": "ExternalName",
            "externalName": draw(st.sampled_from(HOSTS)),
        }
    elif kind == "selector":
        spec = {"selector": {"app": name}}
    else:
        spec = {"clusterIP": "None"}
        addresses = draw(
            st.lists(st.sampled_from(IPV4 + IPV6), min_size=1, max_size=4, unique=True)
        )
        objects = _endpoint_objects(draw, metadata, mode, addresses, ports)
    if ports:
        spec["ports"] = ports
    service = {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}
    return [service, *objects]


def _endpoint_objects(
    draw: st.DrawFn,
    metadata: dict[str, Any],
    mode: str,
    addresses: list[str],
    ports: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    name, objects = metadata["name"], []
    if mode in ("EndpointSlice", "both"):
        for family in ("IPv4", "IPv6"):
            members = [a for a in addresses if (":" in a) == (family == "IPv6")]
            if not members:
                continue
            labels = {**metadata["labels"], "kubernetes.io/service-name": name}
            if draw(st.booleans()):
                labels["endpointslice.kubernetes.io/managed-by"] = "platform.example.com"
            slice_name = draw(
                st.sampled_from([f"{name}-{family.lower()}", f"{name}-{family.lower()}-x7k2p"])
            )
            body: dict[str, Any] = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {**metadata, "name": slice_name, "labels": labels},
                "addressType": family,
                "endpoints": [{"addresses": [a]} for a in members],
            }
            if ports:
                body["ports"] = [_endpoint_port(p, named=True) for p in ports]
            objects.append(body)
    if mode in ("Endpoints", "both"):
        labels = dict(metadata["labels"])
        if mode == "both":
            labels["endpointslice.kubernetes.io/skip-mirror"] = "true"
        subset: dict[str, Any] = {"addresses": [{"ip": a} for a in addresses]}
        if ports:
            subset["ports"] = [_endpoint_port(p, named=False) for p in ports]
        metadata = {**metadata, "labels": labels}
        objects.append(
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata, "subsets": [subset]}
        )
    return objects


@st.composite
def environments_objects(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    """Per environment, the objects of some dependencies: each in the environment's
    namespace, sometimes also in a second one, sometimes as read from a cluster."""
    descriptions = {name: draw(st.sampled_from([None, f"The {name} service"])) for name in NAMES}
    found: dict[str, list[dict[str, Any]]] = {}
    for env in ENVIRONMENTS:
        mode = draw(st.sampled_from(MODES))
        names = draw(st.lists(st.sampled_from(NAMES), min_size=1, unique=True))
        objects = []
        for name in sorted(names):
            made = draw(dependency_objects(name, env, mode, descriptions[name]))
            namespaces = [f"apps-{env}"] + ([f"shared-{env}"] if draw(st.booleans()) else [])
            for namespace in namespaces:
                for body in made:
                    copy = json.loads(json.dumps(body))
                    copy["metadata"]["namespace"] = namespace
                    objects.append(copy)
        if draw(st.booleans()):
            objects = [_with_cluster_fields(body, number) for number, body in enumerate(objects)]
        found[env] = objects
    return found


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(environments_objects())
def test_import_then_render_gives_the_objects_back(
    objects: dict[str, list[dict[str, Any]]],
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        args = []
        for env, listed in objects.items():
            args += ["--env", env, str(write(root / f"{env}.yaml", listed))]
        result = import_(*args)
        assert result.exit_code == 0, result.stderr
        again = rendered(root, result.stdout, objects)
        for env, listed in objects.items():
            assert comparable(objects_of(again[env])) == comparable(listed)


# --- merging environments ----------------------------------------------------------------


def service(name: str, namespace: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "spec": spec,
    }


def _external(host: str, ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "ExternalName", "externalName": host, **({"ports": ports} if ports else {})}


def test_environments_share_what_is_the_same_and_override_the_rest(tmp_path: Path) -> None:
    http = [{"name": "http", "port": 80}]
    dev = [
        service("api", "apps-dev", _external("api.dev.example.com", http), labels={"team": "a"}),
        service("api", "extra", _external("api.dev.example.com", http), labels={"team": "a"}),
        service("cache", "apps-dev", _external("cache.dev.example.com", http)),
    ]
    prod = [
        service(
            "api",
            "apps-prod",
            _external("api.example.com", [{"name": "https", "port": 443}]),
            labels={"team": "a", "tier": "edge"},
        ),
        service("cache", "apps-prod", _external("cache.example.com", http)),
        service("queue", "apps-prod", _external("queue.example.com")),
    ]
    args = ["--env", "dev", str(write(tmp_path / "dev.yaml", dev))]
    args += ["--env", "prod", str(write(tmp_path / "prod.yaml", prod))]
    result = import_(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == dedent(
        """
        # Written by extgen import: review it, then run extgen validate and extgen render.
        environments:
          dev: {namespace: apps-dev}
          prod: {namespace: apps-prod}
        dependencies:
          - name: api
            labels: {team: a}
            ports:
              - {name: http, port: 80}
            targets:
              dev: {externalName: api.dev.example.com, namespaces: [apps-dev, extra]}
              prod:
                externalName: api.example.com
                labels: {tier: edge}
                ports:
                  - {name: https, port: 443}
          - name: cache
            ports:
              - {name: http, port: 80}
            targets:
              dev: cache.dev.example.com
              prod: cache.example.com
          - name: queue
            targets:
              prod: queue.example.com
        """
    )
    again = rendered(tmp_path, result.stdout, ["dev", "prod"])
    assert comparable(objects_of(again["dev"])) == comparable(dev)
    assert comparable(objects_of(again["prod"])) == comparable(prod)


def test_labels_of_every_service_of_an_environment_go_to_the_environment(tmp_path: Path) -> None:
    prod = [
        service(
            name, "apps", _external(f"{name}.example.com"), labels={"environment": "production"}
        )
        for name in ("api", "cache")
    ]
    result = import_("--env", "prod", str(write(tmp_path / "prod.yaml", prod)))
    assert result.exit_code == 0
    assert "  prod: {namespace: apps, labels: {environment: production}}\n" in result.stdout
    assert "labels" not in result.stdout.split("dependencies:")[1]


def test_a_description_that_differs_between_environments_is_left_out(tmp_path: Path) -> None:
    def described(text: str, namespace: str) -> dict[str, Any]:
        notes = {"extgen.io/description": text, "extgen.io/owner": "data-team@example.com"}
        return service("api", namespace, _external("api.example.com"), annotations=notes)

    dev = write(tmp_path / "dev.yaml", [described("Orders API", "apps-dev")])
    prod = write(tmp_path / "prod.yaml", [described("The orders API", "apps-prod")])
    result = import_("--env", "dev", str(dev), "--env", "prod", str(prod))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{prod}:2:110: error: Service apps-prod/api: its extgen.io annotations differ from those"
        " in environment 'dev': the catalog has one description, owner and tls.serverName per"
        " dependency; they are left out"
    )
    assert "description" not in result.stdout
    assert "owner" not in result.stdout


def test_extgen_own_annotations_become_the_dependency_fields(tmp_path: Path) -> None:
    notes = {
        "extgen.io/description": "Orders PostgreSQL",
        "extgen.io/owner": "data-team@example.com",
        "extgen.io/tls-server-name": "orders.abc123.us-east-1.rds.amazonaws.com",
    }
    objects = [service("orders-db", "apps", _external("orders.example.com"), annotations=notes)]
    result = import_("--env", "prod", str(write(tmp_path / "prod.yaml", objects)))
    assert result.exit_code == 0
    assert result.stdout.endswith(
        dedent(
            """
        dependencies:
          - name: orders-db
            description: "Orders PostgreSQL"
            owner: data-team@example.com
            tls: {serverName: orders.abc123.us-east-1.rds.amazonaws.com}
            targets:
              prod: orders.example.com
        """
        )
    )


def test_ip_services_of_one_environment_with_other_endpoint_objects_are_left_out(
    tmp_path: Path,
) -> None:
    headless_with_endpoints = """\
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: {name}, namespace: apps}}
        spec: {{clusterIP: None}}
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {{name: {name}, namespace: apps}}
        subsets: [{{addresses: [{{ip: {ip}}}]}}]
        """
    manifest = (
        dedent(headless_with_endpoints.format(name="erp", ip="10.0.0.1"))
        + dedent(headless_with_endpoints.format(name="crm", ip="10.0.0.2"))
        + dedent("""\
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: wiki, namespace: apps}
        spec: {clusterIP: None}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: wiki-ipv4
          namespace: apps
          labels: {kubernetes.io/service-name: wiki, team: a}
        addressType: IPv4
        endpoints: [{addresses: [10.0.0.3]}]
        """)
    )
    path = write_text(tmp_path / "in.yaml", manifest)
    result = import_("--env", "dev", str(path))
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if ": error: " in line] == [
        f"{path}:22:1: error: Service apps/wiki: its endpoints are EndpointSlices, but most IP"
        " Services of environment 'dev' have an Endpoints object, and the catalog says per"
        " environment which extgen writes (endpoints: Endpoints); import it as another"
        " environment; left out",
        f"{path}:32:46: error: EndpointSlice apps/wiki-ipv4: label team is not on Service wiki"
        " with this value: extgen gives every object of a dependency the same labels; the"
        " label is left out",
    ]
    assert "  dev: {namespace: apps, endpoints: Endpoints}\n" in result.stdout
    assert "wiki" not in result.stdout


# --- the command line --------------------------------------------------------------------


def test_output_file_is_written_and_never_overwritten_unless_forced(tmp_path: Path) -> None:
    objects = write(tmp_path / "in.yaml", [service("api", "apps", _external("api.example.com"))])
    output = tmp_path / "catalog.yaml"
    first = import_("--env", "dev", str(objects), "-o", str(output))
    assert first.exit_code == 0
    assert first.stdout == ""
    assert first.stderr == f"imported 1 dependency in 1 environment into {output}\n"
    written = output.read_text(encoding="utf-8")
    assert "dev: api.example.com" in written
    output.write_text("# edited by hand\n", encoding="utf-8")
    again = import_("--env", "dev", str(objects), "-o", str(output))
    assert again.exit_code == 1
    assert again.stderr == (
        f"error: '{output}' exists; choose another file, or --force to replace it\n"
    )
    assert output.read_text(encoding="utf-8") == "# edited by hand\n"
    forced = import_("--env", "dev", str(objects), "-o", str(output), "--force")
    assert forced.exit_code == 0
    assert output.read_text(encoding="utf-8") == written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.yaml", "in.yaml"]
    # With something left out, what could be imported is written all the same.
    stray = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "api", "namespace": "apps"},
    }
    write(objects, [service("api", "apps", _external("api.example.com")), stray])
    partly = import_("--env", "dev", str(objects), "-o", str(output), "--force")
    assert partly.exit_code == 1
    assert partly.stderr.splitlines()[0] == (
        f"{objects}:4:55: error: Endpoints apps/api: Endpoints of Service api, which is not"
        " headless without a selector: extgen writes endpoint objects for IP targets only;"
        " left out"
    )
    assert output.read_text(encoding="utf-8") == written


def test_help() -> None:
    result = import_("--help")
    assert result.exit_code == 0
    assert "--env ENV PATH" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "Prod", "x.yaml"], "environment name 'Prod' is not valid"),
        (["--env", "base", "x.yaml"], "'base' is reserved"),
        (["--env", "dev", "-", "--env", "prod", "-"], "standard input (-) can be read once only"),
        ([], "Missing option '--env'"),
        (["--env", "dev"], "Option '--env' requires 2 arguments"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = import_(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_missing_path_is_a_user_error(tmp_path: Path) -> None:
    result = import_("--env", "dev", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert result.stderr == f"error: '{tmp_path / 'nope.yaml'}' does not exist\n"


def test_notes_say_what_changed_on_the_way(tmp_path: Path) -> None:
    objects = [
        service(
            "api",
            "apps",
            _external("api.example.com"),
            labels={"app.kubernetes.io/managed-by": "Helm"},
        ),
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}},
    ]
    path = write(tmp_path / "in.yaml", objects)
    result = import_("--env", "dev", str(path))
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f"note: {path}:2:101: Service apps/api: label app.kubernetes.io/managed-by: Helm becomes"
        " app.kubernetes.io/managed-by: extgen, extgen's own",
        "note: objects of other kinds are not imported: ConfigMap 2, Deployment 1",
        "imported 1 dependency in 1 environment",
    ]


def test_json_format_carries_the_catalog(tmp_path: Path) -> None:
    path = write(tmp_path / "in.yaml", [service("api", "apps", _external("10.0.0.1"))])
    result = import_("--format", "json", "--env", "dev", str(path))
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["command"] == "import"
    assert document["ok"] is False
    assert [(p["line"], p["column"]) for p in document["problems"]] == [(2, 140)]
    assert document["catalog"].startswith("# Written by extgen import")
    assert document["dependencies"] == 0
    assert result.stderr == ""


def test_notes_for_objects_without_namespace_and_slices_given_new_names(tmp_path: Path) -> None:
    manifest = dedent(
        """
        apiVersion: v1
        kind: Service
        metadata: {name: erp}
        spec: {clusterIP: None}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: erp-x7k2p
          labels: {kubernetes.io/service-name: erp}
        addressType: IPv4
        endpoints: [{addresses: [10.0.0.1]}]
        """
    )
    path = write_text(tmp_path / "in.yaml", manifest)
    result = import_("--env", "dev", str(path))
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "note: 2 object(s) of environment 'dev' name no namespace and are taken to be in"
        " 'default', where kubectl applies them without -n, the first Service default/erp"
        f" ({path}:1:1)",
        "note: 1 EndpointSlice(s) are written under extgen's names, <service>-ipv4 and"
        f" <service>-ipv6, the first EndpointSlice default/erp-x7k2p ({path}:6:1)",
        "imported 1 dependency in 1 environment",
    ]
    assert "  dev: {namespace: default}\n" in result.stdout


# --- robustness --------------------------------------------------------------------------

ODD_VALUES = (
    None,
    1,
    True,
    "x",
    "",
    "None",
    "10.0.0.1",
    [],
    {},
    [1],
    {"a": 1},
    [{}],
    [{"ip": None}],
)


@functools.cache
def realistic_objects() -> list[dict[str, Any]]:
    texts = [kustomize(FIXTURES / "repo" / "overlays" / env) for env in ("dev", "prod")]
    texts.append((FIXTURES / "cluster-staging.yaml").read_text(encoding="utf-8"))
    return [body for text in texts for body in objects_of(text)]


@st.composite
def damaged(draw: st.DrawFn, body: Any) -> Any:
    """`body` with one value somewhere removed or replaced by one of another shape."""
    if isinstance(body, dict) and body:
        key = draw(st.sampled_from(sorted(body)))
        action = draw(st.sampled_from(["remove", "replace", "descend"]))
        rest = {k: v for k, v in body.items() if k != key}
        if action == "remove":
            return rest
        value = (
            draw(st.sampled_from(ODD_VALUES)) if action == "replace" else draw(damaged(body[key]))
        )
        return {**rest, key: value}
    if isinstance(body, list) and body:
        index = draw(st.integers(0, len(body) - 1))
        value = draw(st.one_of(st.sampled_from(ODD_VALUES), damaged(body[index])))
        return [*body[:index], value, *body[index + 1 :]]
    return draw(st.sampled_from(ODD_VALUES))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_objects_are_reported_never_a_crash(data: st.DataObject) -> None:
    objects = data.draw(st.lists(st.sampled_from(realistic_objects()), min_size=1, max_size=8))
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(objects) - 1))
        objects[index] = data.draw(damaged(objects[index]))
    with tempfile.TemporaryDirectory() as directory:
        path = write(Path(directory) / "in.yaml", objects)
        result = import_("--env", "dev", str(path), "--env", "prod", str(path))
        assert result.exit_code in (0, 1), result.output
        assert "internal error" not in result.stderr
        catalog = write_text(Path(directory) / "catalog.yaml", result.stdout)
        assert run("validate", "-c", str(catalog)).exit_code == 0


def test_github_format_goes_to_stdout_only_when_the_catalog_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "in.yaml", [service("api", "apps", _external("10.0.0.1"))])
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    to_stdout = import_("--env", "dev", "in.yaml")
    assert to_stdout.exit_code == 1
    assert to_stdout.stdout.startswith("# Written by extgen import")
    assert "::error" not in to_stdout.stdout
    assert to_stdout.stderr.startswith("in.yaml:2:140: error: Service apps/api: '10.0.0.1'")
    to_file = import_("--env", "dev", "in.yaml", "-o", "catalog.yaml")
    assert to_file.exit_code == 1
    assert to_file.stdout.startswith("::error file=in.yaml,line=2,col=140::Service apps/api:")
