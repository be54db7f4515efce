"""`verify` against the real kustomize (kubectl's, or a standalone one), never a mock."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import jsonschema.exceptions
import kubernetes_validate
import pytest
from helpers import sync_into

from extgen.catalog import parse_catalog
from extgen.errors import ExtgenError
from extgen.kustomize import Kustomize, build, find_kustomize, run
from extgen.plan import Plan, plan_catalog
from extgen.verify import (
    Finding,
    VerifyReport,
    _definitions,
    _Shapes,
    _validator,
    default_kubernetes_version,
    differences,
    digest,
    schema_versions,
    verify,
)

CATALOG = """\
environments:
  dev:
    namespace: apps-dev
  prod:
    namespace: apps-prod
    labels: {environment: production}
    annotations: {example.com/window: "12:30", example.com/flag: "on"}
    endpoints: both
dependencies:
  - name: orders-db
    description: Orders PostgreSQL
    ports:
      - {name: postgres, port: 5432}
    targets:
      dev: orders.dev.db.example.com
      prod: orders.abc123.us-east-1.rds.amazonaws.com
  - name: legacy-erp
    namespaces: [erp, finance]
    ports:
      - {name: http, port: 80, targetPort: 8080}
    targets:
      dev: 192.168.10.5
      prod: [10.20.0.11, 10.20.0.12, "2001:db8::11"]
  - name: search
    ports: [{name: http, port: 9200}]
    targets:
      dev: {selector: {app: search}}
      prod: {selector: {app: search, tier: data}, labels: {tier: data}}
"""

KUSTOMIZE_STUB = """\
#!/bin/sh
# A standalone kustomize that delegates the build to kubectl's embedded one.
case "$1" in
  version) echo v5.5.0 ;;
  build) exec "{kubectl}" kustomize "$2" ;;
  *) echo "unexpected arguments: $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture(scope="module")
def kustomize() -> Kustomize:
    # No skip: verify is part of the product and CI must have a kustomize to test it.
    try:
        return find_kustomize()
    except ExtgenError as error:
        pytest.fail(f"these tests need kubectl or kustomize on PATH: {error.message}")


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_catalog(parse_catalog([("catalog.yaml", CATALOG)]))


@pytest.fixture
def out(tmp_path: Path, plan: Plan) -> Path:
    out = tmp_path / "overlays"
    sync_into(out, plan)
    return out


def lines(report: VerifyReport) -> list[str]:
    return [finding.format() for finding in report.findings]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def remove_document(path: Path, kind: str, namespace: str, name: str) -> None:
    documents = path.read_text().split("---\n")
    lines = (f"kind: {kind}\n", f"name: {name}\n", f"namespace: {namespace}\n")
    kept = [doc for doc in documents if not all(line in doc for line in lines)]
    assert len(kept) == len(documents) - 1
    path.write_text("---\n".join(kept))


def test_rendered_overlays_verify_clean(out: Path, plan: Plan, kustomize: Kustomize) -> None:
    report = verify(out, plan, kustomize=kustomize)

    assert lines(report) == []
    assert report.ok
    assert report.environments == 2
    # dev: orders-db, legacy-erp x2 ns (Service + IPv4 slice), search = 6;
    # prod: orders-db, legacy-erp x2 ns (Service + IPv4 + IPv6 slices + Endpoints), search = 10
    assert report.objects == 16 == sum(len(env.manifests()) for env in plan.environments)
    assert report.schema_version == default_kubernetes_version()


def test_each_supported_schema_version_can_be_chosen(
    out: Path, plan: Plan, kustomize: Kustomize
) -> None:
    oldest = schema_versions()[0]
    report = verify(out, plan, kubernetes_version=f"v{oldest}.3", kustomize=kustomize)

    assert (report.schema_version, lines(report)) == (oldest, [])
    with pytest.raises(ExtgenError, match=r"no Kubernetes schema for version '1\.2'"):
        verify(out, plan, kubernetes_version="1.2", kustomize=kustomize)


def test_default_schema_version_is_the_newest_with_endpointslice() -> None:
    version = default_kubernetes_version()
    endpoint_slice = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "db-ipv4", "namespace": "apps"},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["192.0.2.10"]}],
    }

    assert (
        version
        == schema_versions()[-1]
        == ".".join(kubernetes_validate.latest_version().split(".")[:2])
    )
    assert kubernetes_validate.validate(endpoint_slice, version, strict=True) == version


def test_changed_external_name_is_named(out: Path, plan: Plan, kustomize: Kustomize) -> None:
    edit(out / "prod/orders-db.yaml", "orders.abc123.us-east-1", "orders.other.us-east-1")

    assert lines(verify(out, plan, kustomize=kustomize)) == [
        "prod: Service/apps-prod/orders-db: spec.externalName:"
        " expected 'orders.abc123.us-east-1.rds.amazonaws.com',"
        " got 'orders.other.us-east-1.rds.amazonaws.com'"
    ]


def test_removed_endpoint_slice_is_missing(out: Path, plan: Plan, kustomize: Kustomize) -> None:
    remove_document(out / "prod/legacy-erp.yaml", "EndpointSlice", "finance", "legacy-erp-ipv6")

    assert lines(verify(out, plan, kustomize=kustomize)) == [
        "prod: EndpointSlice/finance/legacy-erp-ipv6:"
        " missing: the catalog defines it, the build does not yield it"
    ]


def test_extra_service_is_unexpected(out: Path, plan: Plan, kustomize: Kustomize) -> None:
    extra = "---\napiVersion: v1\nkind: Service\nmetadata: {name: intruder, namespace: apps-dev}\n"
    path = out / "dev/search.yaml"
    path.write_text(path.read_text() + extra)

    assert lines(verify(out, plan, kustomize=kustomize)) == [
        "dev: Service/apps-dev/intruder:"
        " unexpected: the build yields it, the catalog does not define it"
    ]


def test_unknown_field_fails_the_strict_schema(out: Path, plan: Plan, kustomize: Kustomize) -> None:
    edit(out / "dev/orders-db.yaml", "spec:\n", "spec:\n  foo: bar\n")
    version = default_kubernetes_version()

    assert lines(verify(out, plan, kustomize=kustomize)) == [
        f"dev: Service/apps-dev/orders-db: spec.foo: unknown field in the Kubernetes {version}"
        " schema",
        "dev: Service/apps-dev/orders-db: spec.foo: not defined by the catalog, got 'bar'",
    ]


def test_wrong_port_is_named(out: Path, plan: Plan, kustomize: Kustomize) -> None:
    edit(out / "dev/search.yaml", "port: 9200", "port: 9201")

    assert lines(verify(out, plan, kustomize=kustomize)) == [
        "dev: Service/apps-dev/search: spec.ports[0].port: expected 9200, got 9201"
    ]


def test_wrong_type_is_a_schema_error_and_a_difference(
    out: Path, plan: Plan, kustomize: Kustomize
) -> None:
    edit(out / "dev/search.yaml", "port: 9200", 'port: "9200"')

    found = lines(verify(out, plan, kustomize=kustomize))

    assert found[0].startswith("dev: Service/apps-dev/search: spec.ports[0].port: invalid in")
    assert found[1:] == [
        "dev: Service/apps-dev/search: spec.ports[0].port: expected 9200, got '9200'"
    ]


def test_missing_environment_directory_is_a_finding(
    out: Path, plan: Plan, kustomize: Kustomize
) -> None:
    shutil.rmtree(out / "prod")

    assert lines(verify(out, plan, kustomize=kustomize)) == [
        f"prod: {out / 'prod'} does not exist; run `extgen render` first"
    ]


def test_overlay_that_does_not_build_is_a_finding(
    out: Path, plan: Plan, kustomize: Kustomize
) -> None:
    edit(out / "dev/kustomization.yaml", "- search.yaml", "- absent.yaml")

    [finding] = verify(out, plan, kustomize=kustomize).findings

    assert (finding.environment, finding.object) == ("dev", "")
    assert finding.message.startswith("the overlay does not build: `")
    assert "failed with exit code 1" in finding.message
    assert "absent.yaml" in finding.message
    assert "\n" not in finding.format()


def test_build_error_shows_command_exit_code_and_stderr(
    tmp_path: Path, kustomize: Kustomize
) -> None:
    with pytest.raises(ExtgenError) as raised:
        build(kustomize, tmp_path / "nowhere")

    command = " ".join([*kustomize.command, str(tmp_path / "nowhere")])
    assert raised.value.message.startswith(f"`{command}` failed with exit code 1:\n")
    assert "nowhere" in raised.value.message.split("\n", 1)[1]


def test_run_reports_a_timeout() -> None:
    with pytest.raises(ExtgenError, match=r"^`sleep 5` did not finish within 0.2 s"):
        run(["sleep", "5"], timeout=0.2)


def test_run_reports_a_program_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(ExtgenError, match=r"^cannot run `/nonexistent/kustomize build`: "):
        run(["/nonexistent/kustomize", "build"], timeout=5)


def test_neither_kustomize_nor_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(ExtgenError) as raised:
        find_kustomize()

    assert raised.value.lines() == [
        "error: neither kustomize nor kubectl is on PATH: install kubectl"
        " (https://kubernetes.io/docs/tasks/tools/) or kustomize"
        " (https://kubectl.docs.kubernetes.io/installation/kustomize/)"
    ]


def test_standalone_kustomize_is_preferred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: Path, plan: Plan, kustomize: Kustomize
) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("this test needs kubectl on PATH (the stub kustomize delegates to it)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "kustomize"
    stub.write_text(KUSTOMIZE_STUB.replace("{kubectl}", kubectl))
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    found = find_kustomize()
    report = verify(out, plan)

    assert found == Kustomize((str(stub), "build"), f"kustomize v5.5.0 (standalone, {stub})")
    assert (report.kustomize, lines(report)) == (found, [])


def test_kubectl_kustomize_says_so_and_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("this test needs kubectl on PATH")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").symlink_to(kubectl)
    monkeypatch.setenv("PATH", str(bin_dir))

    found = find_kustomize()

    assert found.command == (str(bin_dir / "kubectl"), "kustomize")
    assert found.description.startswith("kubectl kustomize (Kustomize v")


@pytest.mark.parametrize(
    ("expected", "actual", "found"),
    [
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1}, {"a": True}, [("a", "expected 1, got True")]),
        ({"a": {"b": [1, 2]}}, {"a": {"b": [1]}}, [("a.b[1]", "missing, expected 2")]),
        ({"a": []}, {"a": [{"x": 1}]}, [("a[0]", "not defined by the catalog, got {'x': 1}")]),
        (
            {"metadata": {"labels": {"app.kubernetes.io/name": "x"}}},
            {"metadata": {"labels": {"app.kubernetes.io/name": "y"}}},
            [("metadata.labels['app.kubernetes.io/name']", "expected 'x', got 'y'")],
        ),
        ({"a": {"b": 1}}, {"a": "b"}, [("a", "expected {'b': 1}, got 'b'")]),
    ],
)
def test_differences(expected: object, actual: object, found: list[tuple[str, str]]) -> None:
    assert list(differences(expected, actual)) == found


def test_finding_format_leaves_out_empty_parts() -> None:
    assert Finding("prod", "", "", "the overlay does not build").format() == (
        "prod: the overlay does not build"
    )


def _service(**spec: object) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db", "namespace": "apps", "labels": {"team": "a"}},
        "spec": {"type": "ClusterIP", "ports": [{"name": "pg", "port": 5432}], **spec},
    }


def _port(**fields: object) -> dict[str, object]:
    return _service(ports=[{"name": "pg", "port": 5432, **fields}])


# Objects near a valid one in shape; each must get the validator's own verdict even
# after objects of the valid shape have been judged (and remembered) first.
SHAPE_CASES = {
    "valid": _service(),
    "other names and labels": {
        **_service(),
        "metadata": {"name": "x", "namespace": "y", "labels": {"team": "zz"}},
    },
    "port as a string": _port(port="5432"),
    "port as a boolean": _port(port=True),
    "port with a fraction": _port(port=5432.5),
    "port as a whole float": _port(port=5432.0),
    "port missing": _service(ports=[{"name": "pg"}]),
    "unknown key in a port": _port(portt=1),
    "unknown key in spec": _service(clusterIPP="None"),
    "targetPort as a number": _port(targetPort=5432),
    "targetPort as a name": _port(targetPort="pg"),
    "targetPort as a boolean": _port(targetPort=True),
    "targetPort as a list": _port(targetPort=[1]),
    "apiVersion not v1": {**_service(), "apiVersion": "v2"},
    "kind misspelled": {**_service(), "kind": "Servise"},
    "label value a number": {
        **_service(),
        "metadata": {"name": "db", "namespace": "apps", "labels": {"team": 1}},
    },
    "label value null": {
        **_service(),
        "metadata": {"name": "db", "namespace": "apps", "labels": {"team": None}},
    },
    "name a number": {**_service(), "metadata": {"name": 5, "namespace": "apps"}},
    "ports not a list": _service(ports={"name": "pg", "port": 5432}),
    "two ports": _service(ports=[{"name": "a", "port": 1}, {"name": "b", "port": 2}]),
}


@pytest.mark.parametrize("case", SHAPE_CASES)
def test_schema_verdict_per_shape_is_the_validators(case: str) -> None:
    version = default_kubernetes_version()
    shapes = _Shapes(_validator(version, "v1", "Service"), _definitions(version)["$defs"])
    for primer in SHAPE_CASES.values():  # every shape that passes is remembered
        shapes.findings(primer)
    body = SHAPE_CASES[case]
    direct = jsonschema.exceptions.best_match(shapes.validator.iter_errors(body))
    cached = shapes.findings(body)
    assert (cached is None) == (direct is None)
    if direct is not None:
        assert cached is not None and cached.message == direct.message
    # Both verdicts occur in the table: it proves something either way.
    verdicts = {shapes.findings(other) is None for other in SHAPE_CASES.values()}
    assert verdicts == {True, False}


def test_objects_of_one_shape_are_validated_once() -> None:
    version = default_kubernetes_version()
    validator = _validator(version, "v1", "Service")
    calls = []

    class Counting:
        schema = validator.schema

        def iter_errors(self, body: object) -> object:
            calls.append(body)
            return validator.iter_errors(body)

    shapes = _Shapes(Counting(), _definitions(version)["$defs"])
    for index in range(200):
        body = _service()
        body["metadata"] = {"name": f"db-{index}", "namespace": f"ns-{index % 7}"}
        assert shapes.findings(body) is None
    assert len(calls) == 1
    assert shapes.findings(_port(port="5432")) is not None
    assert shapes.findings(_port(port="5432")) is not None
    assert len(calls) == 3, "an object that fails is validated every time"


@pytest.mark.parametrize(
    ("expected", "actual", "same"),
    [
        ({"port": 1}, {"port": 1}, True),
        ({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}, True),  # key order is no difference
        ({"port": 1}, {"port": True}, False),  # equal in Python, not in YAML
        ({"port": 1}, {"port": 1.0}, False),
        ({"port": 1}, {"port": "1"}, False),
        ({"ports": [1, 2]}, {"ports": [2, 1]}, False),
        ({"labels": {}}, {"labels": None}, False),
    ],
)
def test_only_objects_equal_in_value_and_type_skip_the_field_walk(
    expected: object, actual: object, same: bool
) -> None:
    assert (digest(expected) == digest(actual)) is same
    assert bool(list(differences(expected, actual))) is not same
