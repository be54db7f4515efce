"""Rendering (SPEC §2): golden output, the real kustomize build, hostile values, determinism."""

from __future__ import annotations

import difflib
import ipaddress
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run, sync_into, write_catalog

from extgen.catalog import parse_catalog, read_catalog
from extgen.plan import object_counts, plan_catalog
from extgen.quoting import quote
from extgen.verify import verify
from extgen.yamlio import parse_all

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
ROOT = Path(__file__).parent.parent
UPDATE = os.environ.get("EXTGEN_UPDATE_GOLDEN") == "1"


def tree(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def golden_mismatch(expected: dict[str, str], actual: dict[str, str]) -> str:
    lines = []
    for path in sorted(set(expected) | set(actual)):
        old, new = expected.get(path, ""), actual.get(path, "")
        if old != new:
            lines += difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                f"expected/{path}",
                f"actual/{path}",
            )
    return "".join(lines)


@pytest.mark.parametrize("case", CASES)
def test_golden_output(case: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("render", "-c", str(GOLDEN / case / "catalog"), "-o", str(out))
    assert result.exit_code == 0, result.output
    expected_dir = GOLDEN / case / "expected"
    if UPDATE:
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(out, expected_dir)
    mismatch = golden_mismatch(tree(expected_dir), tree(out))
    assert not mismatch, (
        f"rendered output differs from {expected_dir} (EXTGEN_UPDATE_GOLDEN=1 to accept):\n"
        + mismatch
    )


@pytest.mark.parametrize("case", [*CASES, "example"])
def test_every_environment_builds_with_kustomize_and_equals_the_plan(
    case: str, tmp_path: Path
) -> None:
    catalog = ROOT / "catalog" if case == "example" else GOLDEN / case / "catalog"
    out = tmp_path / "out"
    assert run("render", "-c", str(catalog), "-o", str(out)).exit_code == 0
    plan = plan_catalog(read_catalog(catalog))
    report = verify(out, plan)
    assert [finding.format() for finding in report.findings] == []
    assert report.environments == len(plan.environments)
    delivered = sum(len(file.manifests) for file in plan.delivery)
    # The environments' own objects too (their Namespaces, with createNamespaces).
    delivered += sum(len(file.manifests) for env in plan.environments for file in env.files)
    assert report.objects == sum(len(env.manifests()) for env in plan.environments) + delivered


def test_committed_example_overlays_are_current() -> None:
    result = run("render", "--check", "-c", str(ROOT / "catalog"), "-o", str(ROOT / "overlays"))
    assert result.exit_code == 0, result.output


HOSTILE = GOLDEN / "hostile" / "catalog" / "catalog.yaml"


def test_hostile_values_survive_render_and_kustomize_as_the_same_strings(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    assert run("render", "-c", str(HOSTILE), "-o", str(out)).exit_code == 0
    catalog = read_catalog(HOSTILE)
    env = catalog.environments["dev"]
    built = subprocess.run(
        ["kubectl", "kustomize", str(out / "dev")], capture_output=True, text=True, check=True
    ).stdout
    objects = [doc for doc in parse_all(built) if doc]
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Service", "hostile"),
        ("EndpointSlice", "hostile-ipv4"),
    ]
    for obj in objects:
        annotations = obj["metadata"]["annotations"]
        for key, value in env.annotations.items():
            assert annotations[key] == value, key
        assert annotations["extgen.io/description"] == "multi-line\n---\nkind: Secret\n"
        assert annotations["extgen.io/owner"] == "{{ owner }}"
        assert annotations["example.com/per-target"] == "}}{{"
        labels = obj["metadata"]["labels"]
        assert {k: labels[k] for k in ("yes-label", "on-label", "null-label")} == {
            "yes-label": "yes",
            "on-label": "on",
            "null-label": "null",
        }
        assert {k: labels[k] for k in ("version", "build", "enabled", "ok")} == {
            "version": "1.10",
            "build": "0755",
            "enabled": "true",
            "ok": "False",
        }


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "n",
        "true",
        "null",
        "~",
        "",
        "1e3",
        "0o17",
        "0x1F",
        "12:30",
        "1_000",
        ".inf",
        "-.NaN",
        "2001-12-14",
        "=",
        "<<",
        "- a",
        "a: b",
        "a #b",
        "!!str",
        "&a",
        "*a",
        "|",
        ">",
        "%x",
        "@x",
        "`x",
        "None",
        "\ufeffx",
        "a\u2028b",
        "\U0001f600",
        "\x00\x1f",
    ],
)
def test_quote_reads_back_as_the_same_string(value: str) -> None:
    assert parse_all(f"key: {quote(value)}\n") == [{"key": value}]


def test_quote_writes_names_plain_and_numbers_as_numbers() -> None:
    assert quote("orders-db") == "orders-db"
    assert quote("app.kubernetes.io/name") == "app.kubernetes.io/name"
    assert quote("10.0.0.1") == '"10.0.0.1"'
    assert quote(5432) == "5432"


def test_one_environment_change_touches_only_that_environment(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    out = tmp_path / "out"
    assert run("render", "-c", str(catalog), "-o", str(out)).exit_code == 0
    text = (catalog / "dependencies.yaml").read_text()
    (catalog / "dependencies.yaml").write_text(text.replace("10.20.0.11", "10.20.0.13"))
    result = run("render", "-c", str(catalog), "-o", str(out))
    changed = [line.split()[1] for line in result.output.splitlines() if line.startswith("update")]
    assert changed == [f"{out}/prod/legacy-erp.yaml"]


def test_large_address_list_is_split_into_slices_of_1000(tmp_path: Path) -> None:
    v4 = [str(ipaddress.IPv4Address("10.0.0.1") + i) for i in range(2500)]
    v6 = ["2001:db8::1", "2001:db8::2", "2001:db8::3"]
    text = "environments:\n  dev: {namespace: apps}\ndependencies:\n  - name: big\n"
    text += (
        "    ports: [{port: 80}]\n    targets:\n      dev: ["
        + ", ".join(f'"{a}"' for a in reversed(v4 + v6))
        + "]\n"
    )
    plan = plan_catalog(parse_catalog([("big.yaml", text)]))
    manifests = plan.environments[0].manifests()
    slices = [(m.name, len(m.body["endpoints"])) for m in manifests if m.kind == "EndpointSlice"]
    assert slices == [
        ("big-ipv4", 1000),
        ("big-ipv4-2", 1000),
        ("big-ipv4-3", 500),
        ("big-ipv6", 3),
    ]
    first = manifests[1].body
    assert first["endpoints"][0] == {"addresses": ["10.0.0.1"]}
    assert first["ports"] == [{"name": "", "port": 80, "protocol": "TCP"}]
    out = tmp_path / "out"
    sync_into(out, plan)
    assert verify(out, plan).findings == []


def _render_in_subprocess(catalog: Path, out: Path, env: dict[str, str]) -> dict[str, str]:
    command = [sys.executable, "-m", "extgen", "render", "-c", str(catalog), "-o", str(out)]
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, **env})
    return tree(out)


def test_output_is_identical_whatever_the_hash_seed_locale_timezone_and_file_order(
    tmp_path: Path,
) -> None:
    source = ROOT / "catalog"
    reference = _render_in_subprocess(source, tmp_path / "a", {"PYTHONHASHSEED": "0"})
    # The same files created in the opposite order, under other process settings.
    copy = tmp_path / "catalog"
    copy.mkdir()
    for path in sorted(source.iterdir(), reverse=True):
        (copy / path.name).write_bytes(path.read_bytes())
    settings = {"PYTHONHASHSEED": "4242", "LC_ALL": "C", "TZ": "Pacific/Kiritimati"}
    assert _render_in_subprocess(copy, tmp_path / "b", settings) == reference
    settings = {"PYTHONHASHSEED": "random", "LANG": "C.UTF-8", "TZ": "America/St_Johns"}
    assert _render_in_subprocess(copy, tmp_path / "c", settings) == reference
    assert reference == tree(ROOT / "overlays")


def test_installed_wheel_carries_its_templates(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("extgen-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "work"  # no templates/ here: they must come from the wheel
    work.mkdir()
    shutil.copytree(ROOT / "catalog", work / "catalog")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import extgen, extgen.cli;"
        " assert extgen.__file__.startswith(sys.argv[1]), extgen.__file__;"
        " sys.argv = ['extgen', 'render']; extgen.cli.main()"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(site)], cwd=work, check=True, capture_output=True
    )
    assert tree(work / "overlays") == tree(ROOT / "overlays")


def test_templates_override_changes_layout_file_by_file(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "marker.j2").write_text(
        "# Generated by extgen for team X. DO NOT EDIT: see the catalog repository.\n"
    )
    out = tmp_path / "out"
    result = run("render", "-c", str(catalog), "-o", str(out), "--templates", str(templates))
    assert result.exit_code == 0, result.output
    text = (out / "dev" / "orders-db.yaml").read_text()
    assert text.startswith("# Generated by extgen for team X. DO NOT EDIT")
    assert "externalName: orders.dev.example.com" in text


def test_templates_that_change_the_objects_are_refused_before_writing(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    templates = tmp_path / "templates"
    templates.mkdir()
    service = (ROOT / "templates" / "Service.yaml.j2").read_text()
    (templates / "Service.yaml.j2").write_text(service + "  sessionAffinity: ClientIP\n")
    out = tmp_path / "out"
    result = run("render", "-c", str(catalog), "-o", str(out), "--templates", str(templates))
    assert result.exit_code == 1
    assert result.output == (
        "error: rendered dev/legacy-erp.yaml does not read back as the planned objects"
        " (2 documents, 2 planned): check the templates\n"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("written", "why"),
    [
        # YAML 1.1 readers take these for a boolean and a base-8 number, YAML 1.2 not.
        ("{{ spec.type }}\n  publishNotReadyAddresses: yes", "plain scalar 'yes'"),
        ("{{ spec.type }}\n  publishNotReadyAddresses: 0755", "plain scalar '0755'"),
        ("{{ spec.type }}\n  x: &a 1", "tags, anchors, aliases or duplicate keys"),
    ],
    ids=["yaml-1.1-boolean", "leading-zero", "anchor"],
)
def test_template_text_that_readers_could_read_otherwise_is_refused(
    tmp_path: Path, written: str, why: str
) -> None:
    catalog = write_catalog(tmp_path)
    templates = tmp_path / "templates"
    templates.mkdir()
    service = (ROOT / "templates" / "Service.yaml.j2").read_text()
    changed = service.replace("{{ spec.type | q }}", written, 1)
    assert changed != service
    (templates / "Service.yaml.j2").write_text(changed)
    out = tmp_path / "out"
    result = run("render", "-c", str(catalog), "-o", str(out), "--templates", str(templates))
    assert result.exit_code == 1
    assert result.output.startswith("error: rendered dev/orders-db.yaml is not valid YAML: ")
    assert why in result.output
    assert not out.exists()


def test_template_errors_name_the_template_and_line(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "metadata.j2").write_text("metadata:\n  name: {{ meta.nosuchfield | q }}\n")
    result = run(
        "render", "-c", str(catalog), "-o", str(tmp_path / "out"), "--templates", str(templates)
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: template metadata.j2:2: ")
    (templates / "metadata.j2").write_text("metadata:\n  {% if %}\n")
    result = run(
        "render", "-c", str(catalog), "-o", str(tmp_path / "out"), "--templates", str(templates)
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: template metadata.j2:2: ")


def _addresses(count: int, family: int) -> str:
    base = ipaddress.ip_address("10.0.0.0" if family == 4 else "2001:db8::")
    return ", ".join(f'"{base + index}"' for index in range(1, count + 1))


COUNTED_CATALOGS = {
    # Past 1,000 addresses per family a second and third slice.
    "many-addresses": f"""\
environments:
  dev: {{namespace: a}}
  prod: {{namespace: b, endpoints: both}}
  dr: {{namespace: c, endpoints: Endpoints}}
dependencies:
  - name: big
    targets:
      dev: [{_addresses(2500, 4)}, {_addresses(1001, 6)}]
      prod: [{_addresses(1000, 4)}]
      dr: [{_addresses(3, 6)}]
  - name: spread
    namespaces: [x, y]
    targets:
      dev: {{addresses: ["10.1.0.1", "2001:db8:1::1"], namespaces: [p, q]}}
      prod: spread.example.com
      dr: {{selector: {{app: spread}}, ports: [{{port: 80}}]}}
""",
}


@pytest.mark.parametrize(
    "catalog", [*CASES, "example", *COUNTED_CATALOGS], ids=[*CASES, "example", *COUNTED_CATALOGS]
)
def test_validate_counts_the_objects_render_writes(catalog: str) -> None:
    if catalog in COUNTED_CATALOGS:
        loaded = parse_catalog([("catalog.yaml", COUNTED_CATALOGS[catalog])])
    else:
        directory = ROOT / "catalog" if catalog == "example" else GOLDEN / catalog / "catalog"
        loaded = read_catalog(directory)
    planned = {env.name: len(env.manifests()) for env in plan_catalog(loaded).environments}
    assert object_counts(loaded) == planned
    if catalog == "many-addresses":
        assert planned == {"dev": 6 + 2 * 3, "dr": 2 + 2, "prod": 3 + 2}
