"""The command line as users meet it: exit codes, messages, the installed entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import run, write_catalog

import extgen.commands.render
import extgen.commands.validate
import extgen.errors
from extgen.cli import cli

ROOT = Path(__file__).parent.parent
ORDERS_DB_DEV = """\
dependencies:
  - name: orders-db
    targets: {dev: orders.dev.example.com}
"""


def test_validate_prints_a_summary_for_a_valid_catalog(tmp_path: Path) -> None:
    result = run("validate", "-c", str(write_catalog(tmp_path)))
    assert result.exit_code == 0
    assert result.output == (
        "catalog OK: 2 environments, 3 dependencies; objects per environment: dev 4, prod 5\n"
    )


def test_counts_of_one_are_singular(tmp_path: Path) -> None:
    environments = "environments:\n  dev: {namespace: apps-dev}\n"
    one = {"environments.yaml": environments, "dependencies.yaml": ORDERS_DB_DEV}
    result = run("validate", "-c", str(write_catalog(tmp_path, one)))
    assert result.output == (
        "catalog OK: 1 environment, 1 dependency; objects per environment: dev 1\n"
    )
    bad = {"environments.yaml": environments, "dependencies.yaml": "dependencies: 1\n"}
    result = run("validate", "-c", str(write_catalog(tmp_path / "bad", bad)))
    assert result.output.splitlines()[-1] == "1 error; nothing was written"


def test_help_texts_are_whole_and_verify_names_what_it_needs() -> None:
    listing = run("--help").output.split("Commands:")[1]
    assert "..." not in listing and "\u2026" not in listing
    for command in ("validate", "render", "verify", "schema", "import"):
        assert f"  {command} " in listing
    verify_help = " ".join(run("verify", "--help").output.split())
    assert "Needs a `kustomize` binary on PATH, else `kubectl`" in verify_help
    assert "--verbose" in run("render", "--help").output


@pytest.mark.parametrize(
    "args",
    [["validate", "--bogus"], ["render", "--out"], ["nosuchcommand"], ["verify", "-c"]],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "Error: " in result.output


def test_missing_catalog_is_a_user_error(tmp_path: Path) -> None:
    result = run("validate", "-c", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert result.output == f"error: catalog '{tmp_path / 'nope'}' does not exist\n"


def test_internal_error_exits_3_with_one_line_and_traceback_only_with_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(extgen.commands.validate, "object_counts", broken)
    catalog = str(write_catalog(tmp_path))
    result = CliRunner().invoke(cli, ["validate", "-c", catalog])
    assert result.exit_code == 3
    assert result.output.splitlines()[0] == "extgen: internal error: RuntimeError: boom"
    assert "Traceback" not in result.output
    debug = CliRunner().invoke(cli, ["--debug", "validate", "-c", catalog])
    assert debug.exit_code == 3
    assert "Traceback (most recent call last)" in debug.output


def test_verify_passes_on_fresh_output_and_names_the_kustomize_used(tmp_path: Path) -> None:
    catalog = str(write_catalog(tmp_path))
    out = str(tmp_path / "out")
    assert run("render", "-c", catalog, "-o", out).exit_code == 0
    result = run("verify", "-c", catalog, "-o", out)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("using ")
    assert "Kustomize v" in result.output.splitlines()[0] or "kustomize v" in result.output
    assert result.output.splitlines()[-1].startswith("verify OK: 2 environments, 9 objects built")


def test_verify_names_environment_object_and_field_on_a_hand_edit(tmp_path: Path) -> None:
    catalog = str(write_catalog(tmp_path))
    out = tmp_path / "out"
    assert run("render", "-c", catalog, "-o", str(out)).exit_code == 0
    edited = out / "prod" / "orders-db.yaml"
    edited.write_text(edited.read_text().replace("orders.prod.example.com", "evil.example.com"))
    result = run("verify", "-c", catalog, "-o", str(out))
    assert result.exit_code == 1
    assert (
        "error: prod: Service/apps-prod/orders-db: spec.externalName: expected"
        " 'orders.prod.example.com', got 'evil.example.com'"
    ) in result.output


def test_verify_without_kustomize_or_kubectl_says_so_in_one_line(tmp_path: Path) -> None:
    catalog = str(write_catalog(tmp_path))
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    result = subprocess.run(
        [sys.executable, "-m", "extgen", "verify", "-c", catalog, "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: neither kustomize nor kubectl is on PATH")
    assert "Traceback" not in result.stderr


def test_schema_is_json_schema_2020_12_with_descriptions() -> None:
    result = run("schema")
    schema = json.loads(result.output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for name, definition in schema["$defs"].items():
        for key, field in definition["properties"].items():
            assert field.get("description"), f"{name}.{key} has no description"
    assert set(schema["properties"]) == {"environments", "dependencies", "gitops"}


def test_committed_schema_is_current_and_example_files_point_at_it() -> None:
    committed = (ROOT / "catalog" / "catalog.schema.json").read_text()
    assert committed == run("schema").output
    for path in (ROOT / "catalog").glob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=catalog.schema.json", path


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "extgen"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("extgen, version ")


def test_render_reports_the_catalog_before_an_error_of_scanning_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OUT is scanned while the catalog is read; what goes wrong there waits for the catalog.
    def broken_scan(out: Path) -> None:
        raise extgen.errors.ExtgenError(f"cannot read {out}: broken")

    monkeypatch.setattr(extgen.commands.render, "scan", broken_scan)
    out = str(tmp_path / "out")
    bad = write_catalog(tmp_path / "bad", {"deps.yaml": ORDERS_DB_DEV})
    result = CliRunner().invoke(cli, ["render", "-c", str(bad), "-o", out])
    assert result.exit_code == 1
    assert "unknown environment 'dev'" in result.output
    assert "broken" not in result.output
    good = str(write_catalog(tmp_path / "good"))
    for args in (["render"], ["render", "--check"]):
        result = CliRunner().invoke(cli, [*args, "-c", good, "-o", out])
        assert (result.exit_code, result.output) == (1, f"error: cannot read {out}: broken\n")
