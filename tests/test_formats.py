"""--format text|github|json: the same problems, exact lines for people, GitHub and programs.

Also the CI examples in examples/ci/, so that they cannot silently rot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from helpers import ORDERS_DB, write_catalog

import extgen.commands.validate
from extgen.cli import cli
from extgen.report import annotation
from extgen.verify import default_kubernetes_version

ROOT = Path(__file__).parent.parent
# Unset, so that the tests mean the same inside GitHub Actions and out.
CLEAN_ENV: dict[str, str | None] = {
    "GITHUB_ACTIONS": None,
    "GITHUB_WORKSPACE": None,
    "EXTGEN_FORMAT": None,
}

ENVIRONMENTS = """\
environments:
  dev: {namespace: apps-dev}
  prod: {namespace: apps-prod}
"""
# A file name with ':' and ',' (escaped in GitHub's properties), a key with '%' (escaped
# everywhere) and messages with ':' and ',' (left alone in GitHub's message).
BAD_FILE = "team:a,b.yaml"
BAD_DEPENDENCIES = """\
dependencies:
  - name: orders-db
    ports: [{name: postgres, port: 5432}]
    colour%: red
    targets:
      dev: orders.dev.example.com
      prdo: orders.prod.example.com
  - name: search
    ports: [{name: http, port: 9200}]
    targets:
      prod: {externalName: 10.0.0.1}
"""
UNKNOWN_KEY = (
    "unknown key 'colour%' (expected one of: name, description, owner, labels, annotations,"
    " namespaces, ports, tls, allowInternal, targets)"
)
UNKNOWN_ENV = "unknown environment 'prdo' (did you mean 'prod'?)"
IP_NOT_HOST = (
    "'10.0.0.1' is an IP address, not a hostname: an ExternalName Service that points at an"
    " IP resolves to nothing in cluster DNS. extgen turns IP targets into a headless Service"
    " with EndpointSlices: write the target as the address itself (`ENV: 10.0.0.1`) or as"
    " `{addresses: [10.0.0.1]}`"
)
GOOD_DEPENDENCIES = ORDERS_DB
STALE = (
    "out of date with the catalog: extgen render would {} this file;"
    " run extgen render and commit the result"
)


def invoke(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={**CLEAN_ENV, **(env or {})})


def lines(text: str) -> list[str]:
    return text.splitlines()


@pytest.fixture
def bad(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A catalog with three problems, in the current directory as `catalog`."""
    monkeypatch.chdir(tmp_path)
    return write_catalog(tmp_path, {"environments.yaml": ENVIRONMENTS, BAD_FILE: BAD_DEPENDENCIES})


@pytest.fixture
def stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Rendered `overlays`, then a catalog change that updates one file and creates two."""
    monkeypatch.chdir(tmp_path)
    catalog = write_catalog(
        tmp_path, {"environments.yaml": ENVIRONMENTS, "deps.yaml": GOOD_DEPENDENCIES}
    )
    assert invoke("render").exit_code == 0
    (catalog / "deps.yaml").write_text(
        GOOD_DEPENDENCIES.replace("orders.prod", "orders2.prod")
        + "  - {name: mail, ports: [{port: 25}], targets: {dev: 192.0.2.25}}\n"
    )
    return tmp_path


@pytest.fixture
def hand_edited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Rendered `overlays` with one object changed by hand."""
    monkeypatch.chdir(tmp_path)
    write_catalog(tmp_path, {"environments.yaml": ENVIRONMENTS, "deps.yaml": GOOD_DEPENDENCIES})
    assert invoke("render").exit_code == 0
    edited = tmp_path / "overlays" / "prod" / "orders-db.yaml"
    edited.write_text(edited.read_text().replace("orders.prod.example.com", "evil.example.com"))
    return tmp_path


# validate


def test_validate_text_is_file_line_col_on_stderr(bad: Path) -> None:
    result = invoke("validate")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert lines(result.stderr) == [
        f"catalog/{BAD_FILE}:4:5: error: {UNKNOWN_KEY}",
        f"catalog/{BAD_FILE}:7:7: error: {UNKNOWN_ENV}",
        f"catalog/{BAD_FILE}:11:28: error: {IP_NOT_HOST}",
        "3 errors; nothing was written",
    ]


def test_validate_github_annotates_lines_with_escaped_properties(bad: Path) -> None:
    result = invoke("--format", "github", "validate")
    assert result.exit_code == 1
    file = "catalog/team%3Aa%2Cb.yaml"
    assert lines(result.stdout) == [
        f"::error file={file},line=4,col=5::{UNKNOWN_KEY.replace('%', '%25')}",
        f"::error file={file},line=7,col=7::{UNKNOWN_ENV}",
        f"::error file={file},line=11,col=28::{IP_NOT_HOST}",
    ]
    assert lines(result.stderr) == ["3 errors; nothing was written"]


def test_validate_json_is_one_document_on_stdout(bad: Path) -> None:
    result = invoke("validate", "--format", "json")
    assert result.exit_code == 1
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document == {
        "command": "validate",
        "ok": False,
        "summary": "3 errors; nothing was written",
        "problems": [
            {"file": f"catalog/{BAD_FILE}", "line": 4, "column": 5, "message": UNKNOWN_KEY},
            {"file": f"catalog/{BAD_FILE}", "line": 7, "column": 7, "message": UNKNOWN_ENV},
            {"file": f"catalog/{BAD_FILE}", "line": 11, "column": 28, "message": IP_NOT_HOST},
        ],
        "notes": [],
    }
    assert list(document) == ["command", "ok", "summary", "problems", "notes"]


def test_validate_json_on_success_has_the_counts(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    result = invoke("--format", "json", "validate", "-c", str(catalog))
    assert result.exit_code == 0
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert list(document.items()) == [
        ("command", "validate"),
        ("ok", True),
        (
            "summary",
            "catalog OK: 2 environments, 3 dependencies; objects per environment: dev 4, prod 5",
        ),
        ("problems", []),
        ("notes", []),
        ("environments", 2),
        ("dependencies", 3),
        ("objectsPerEnvironment", {"dev": 4, "prod": 5}),
    ]


def test_github_success_prints_the_summary_as_text(tmp_path: Path) -> None:
    result = invoke("--format", "github", "validate", "-c", str(write_catalog(tmp_path)))
    assert result.exit_code == 0
    assert result.stdout == (
        "catalog OK: 2 environments, 3 dependencies; objects per environment: dev 4, prod 5\n"
    )
    assert result.stderr == ""


def test_an_error_without_position_is_one_annotation_or_problem(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    github = invoke("--format", "github", "validate", "-c", str(missing))
    assert (github.exit_code, github.stdout, github.stderr) == (
        1,
        f"::error::catalog '{missing}' does not exist\n",
        "",
    )
    document = json.loads(invoke("--format", "json", "validate", "-c", str(missing)).stdout)
    assert document["summary"] == f"catalog '{missing}' does not exist"
    assert document["problems"] == [
        {"file": None, "line": None, "column": None, "message": document["summary"]}
    ]


def test_github_paths_are_relative_to_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A job step with `working-directory: deploy` runs extgen below the checkout.
    deploy = tmp_path / "deploy"
    write_catalog(deploy, {"environments.yaml": ENVIRONMENTS, BAD_FILE: BAD_DEPENDENCIES})
    monkeypatch.chdir(deploy)
    result = invoke("--format", "github", "validate", env={"GITHUB_WORKSPACE": str(tmp_path)})
    assert lines(result.stdout)[1] == (
        f"::error file=deploy/catalog/team%3Aa%2Cb.yaml,line=7,col=7::{UNKNOWN_ENV}"
    )
    absolute = invoke("--format", "github", "validate", "-c", str(deploy / "catalog"))
    assert lines(absolute.stdout)[1].startswith("::error file=catalog/team%3Aa%2Cb.yaml,")


# render --check / --diff


def test_check_text_names_each_stale_file(stale: Path) -> None:
    result = invoke("render", "--check")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert lines(result.stderr) == [
        "would update overlays/dev/kustomization.yaml",
        "would create overlays/dev/mail.yaml",
        "would update overlays/prod/orders-db.yaml",
        "overlays is out of date with the catalog: run extgen render",
    ]


def test_check_github_annotates_each_stale_file(stale: Path) -> None:
    result = invoke("--format", "github", "render", "--check")
    assert result.exit_code == 1
    assert lines(result.stdout) == [
        f"::error file=overlays/dev/kustomization.yaml::{STALE.format('update')}",
        f"::error file=overlays/dev/mail.yaml::{STALE.format('create')}",
        f"::error file=overlays/prod/orders-db.yaml::{STALE.format('update')}",
    ]
    assert lines(result.stderr) == ["overlays is out of date with the catalog: run extgen render"]


def test_diff_github_keeps_the_diff_on_stdout_after_each_annotation(stale: Path) -> None:
    result = invoke("render", "--diff", "--format", "github")
    assert result.exit_code == 1
    out = lines(result.stdout)
    assert out[0] == f"::error file=overlays/dev/kustomization.yaml::{STALE.format('update')}"
    assert out[1:3] == ["--- a/dev/kustomization.yaml", "+++ b/dev/kustomization.yaml"]
    assert "-  externalName: orders.prod.example.com" in out
    assert "+  externalName: orders2.prod.example.com" in out


def test_check_json_lists_problems_and_every_file(stale: Path) -> None:
    result = invoke("--format", "json", "render", "--check")
    assert result.exit_code == 1
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert list(document) == [
        "command",
        "ok",
        "summary",
        "problems",
        "notes",
        "out",
        "check",
        "changes",
    ]
    assert document["summary"] == "overlays is out of date with the catalog: run extgen render"
    assert (document["command"], document["ok"], document["check"]) == ("render", False, True)
    assert document["problems"] == [
        {"file": f"overlays/{path}", "line": None, "column": None, "message": STALE.format(verb)}
        for path, verb in [
            ("dev/kustomization.yaml", "update"),
            ("dev/mail.yaml", "create"),
            ("prod/orders-db.yaml", "update"),
        ]
    ]
    assert [(c["path"], c["action"], c["diff"]) for c in document["changes"]] == [
        ("overlays/base/kustomization.yaml", "unchanged", None),
        ("overlays/dev/kustomization.yaml", "update", None),
        ("overlays/dev/mail.yaml", "create", None),
        ("overlays/dev/orders-db.yaml", "unchanged", None),
        ("overlays/prod/kustomization.yaml", "unchanged", None),
        ("overlays/prod/orders-db.yaml", "update", None),
    ]


def test_diff_json_carries_each_diff(stale: Path) -> None:
    document = json.loads(invoke("--format", "json", "render", "--diff").stdout)
    diffs = {change["path"]: change["diff"] for change in document["changes"]}
    assert diffs["overlays/dev/orders-db.yaml"] is None
    assert diffs["overlays/dev/mail.yaml"].startswith("--- /dev/null\n+++ b/dev/mail.yaml\n")


def test_render_json_lists_what_it_wrote(stale: Path) -> None:
    result = invoke("--format", "json", "render")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["summary"] == "overlays: 1 created, 2 updated, 0 deleted, 3 unchanged"
    assert (document["ok"], document["check"], document["problems"]) == (True, False, [])
    assert invoke("--format", "json", "render", "--check").exit_code == 0


# verify


def test_verify_text_names_the_difference(hand_edited: Path) -> None:
    result = invoke("verify")
    assert result.exit_code == 1
    assert result.stdout == ""
    using, *rest = lines(result.stderr)
    assert using.startswith("using ")
    assert rest == [
        "error: prod: Service/apps-prod/orders-db: spec.externalName: expected"
        " 'orders.prod.example.com', got 'evil.example.com'",
        _verify_failed(),
    ]


def test_verify_github_annotates_without_a_file(hand_edited: Path) -> None:
    result = invoke("--format", "github", "verify")
    assert result.exit_code == 1
    assert lines(result.stdout) == [
        "::error::prod: Service/apps-prod/orders-db: spec.externalName: expected"
        " 'orders.prod.example.com', got 'evil.example.com'"
    ]
    using, failed = lines(result.stderr)
    assert using.startswith("using ")
    assert failed == _verify_failed()


def test_verify_json(hand_edited: Path) -> None:
    result = invoke("verify", "--format", "json")
    assert result.exit_code == 1
    assert result.stderr == ""
    document: dict[str, Any] = json.loads(result.stdout)
    assert document.pop("kustomize").startswith(("kubectl kustomize", "kustomize"))
    version = document.pop("kubernetesVersion")
    assert document == {
        "command": "verify",
        "ok": False,
        "summary": _verify_failed(version),
        "problems": [
            {
                "file": None,
                "line": None,
                "column": None,
                "message": "prod: Service/apps-prod/orders-db: spec.externalName: expected"
                " 'orders.prod.example.com', got 'evil.example.com'",
            }
        ],
        "notes": [],
        "environments": 2,
        "objectsBuilt": 2,
    }


def _verify_failed(version: str | None = None) -> str:
    version = version or default_kubernetes_version()
    return (
        f"verify failed: 1 problem; 2 environments, 2 objects built, schema of Kubernetes {version}"
    )


# choosing the format


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["validate"], {"GITHUB_ACTIONS": "true"}, "github"),
        (["validate"], {"GITHUB_ACTIONS": "false"}, "text"),
        (["validate"], {}, "text"),
        (["--format", "text", "validate"], {"GITHUB_ACTIONS": "true"}, "text"),
        (["validate", "--format", "text"], {"GITHUB_ACTIONS": "true"}, "text"),
        (["validate"], {"GITHUB_ACTIONS": "true", "EXTGEN_FORMAT": "json"}, "json"),
        (["--format", "text", "validate"], {"EXTGEN_FORMAT": "json"}, "text"),
        (["--format", "json", "validate", "--format", "github"], {}, "github"),
    ],
)
def test_format_is_chosen_by_option_then_environment(
    bad: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    result = invoke(*args, env=env)
    assert result.exit_code == 1
    first = {
        "text": f"catalog/{BAD_FILE}:4:5: error: {UNKNOWN_KEY}",
        "github": "::error file=catalog/team%3Aa%2Cb.yaml,line=4,col=5::unknown key 'colour%25'",
        "json": "{",
    }[expected]
    assert result.output.startswith(first)


def test_unknown_format_is_a_usage_error(bad: Path) -> None:
    assert invoke("validate", "--format", "xml").exit_code == 2
    assert invoke("validate", env={"EXTGEN_FORMAT": "xml"}).exit_code == 2


def test_internal_error_keeps_exit_3_and_escapes_newlines(
    bad: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("two\nlines, 100%")

    monkeypatch.setattr(extgen.commands.validate, "read_catalog", broken)
    github = invoke("--format", "github", "validate")
    assert github.exit_code == 3
    assert github.stdout == "::error::extgen: internal error: RuntimeError: two%0Alines, 100%25\n"
    assert github.stderr.startswith("This is a bug in extgen.")
    document = json.loads(invoke("--format", "json", "validate").stdout)
    assert document["ok"] is False
    assert document["problems"][0]["message"] == (
        "extgen: internal error: RuntimeError: two\nlines, 100%"
    )


def test_annotation_escapes_as_the_runner_unescapes() -> None:
    assert annotation("error", "50% done\r\nnext: a, b", "a:b,c%.yaml", 3, 4) == (
        "::error file=a%3Ab%2Cc%25.yaml,line=3,col=4::50%25 done%0D%0Anext: a, b"
    )
    assert annotation("notice", "moved") == "::notice::moved"


# CI examples

COMMANDS = ["extgen validate", "extgen render --check", "extgen verify"]


def _commands(script: list[str]) -> list[str]:
    return [line.strip() for step in script for line in step.splitlines() if line.strip()]


def test_github_actions_example_runs_the_three_checks() -> None:
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "github-actions.yaml").read_text())
    (job,) = workflow["jobs"].values()
    uses = [step["uses"] for step in job["steps"] if "uses" in step]
    assert [use.split("@")[0] for use in uses] == [
        "actions/checkout",
        "actions/setup-python",
        "azure/setup-kubectl",
    ]
    assert all("@v" in use for use in uses)
    commands = _commands([step["run"] for step in job["steps"] if "run" in step])
    assert [line for line in commands if line in COMMANDS] == COMMANDS


def test_gitlab_example_runs_the_three_checks() -> None:
    pipeline = yaml.safe_load((ROOT / "examples" / "ci" / "gitlab-ci.yml").read_text())
    job = pipeline["extgen"]
    assert job["image"].startswith("python:3.")
    assert any("dl.k8s.io" in line for line in _commands(job["before_script"]))
    assert [line for line in _commands(job["script"]) if line in COMMANDS] == COMMANDS


def test_readme_points_at_the_examples() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "examples/ci/github-actions.yaml" in readme
    assert "examples/ci/gitlab-ci.yml" in readme
