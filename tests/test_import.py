"""extgen import: Kubernetes manifests -> a catalog whose render gives them back.

The round trip is checked with the real `kubectl kustomize`: import, validate, render,
build each environment, and compare the built objects with the imported ones as data
(extgen's own labels and annotations, and what the cluster adds, aside).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from helpers import run

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
