"""A catalog too large to keep its models (catalog.KEEP_MODELS_BYTES) is judged file by file
and rendered from its models pickled by file, OUT a directory at a time (sync.py): the
output, the log and every check must be what a small catalog's way gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import count_forks, run, snapshot, write_catalog

import extgen.catalog
import extgen.catalog_file
import extgen.parallel
import extgen.sync
from extgen.catalog import parse_catalog, read_catalog
from extgen.errors import CatalogError

ENVIRONMENTS = """\
environments:
  dev: {namespace: apps, shardSize: 40}
  dev-eu: {namespace: apps-eu}
  prod: {namespace: apps, endpoints: both, cluster: {server: "https://prod.example.com"}}
gitops:
  repository: https://github.com/example/gitops.git
  path: deploy  # OUT is a temporary directory: any name
  argocd: {}
  flux: {}
"""


def dependencies(file: int, count: int = 25) -> str:
    lines = ["dependencies:"]
    for index in range(count):
        name = f"svc-{file}-{index:02d}"
        lines.append(f"  - name: {name}")
        lines.append("    ports: [{name: https, port: 443}, {name: http, port: 80}]")
        if index % 5 == 0:
            lines.append(
                f"    targets: {{dev: [10.{file}.0.{index + 1}], prod: [10.9.{file}.{index + 1}]}}"
            )
        elif index % 7 == 0:
            selector = "{selector: {app: " + name + "}}"
            lines.append(f"    targets: {{dev: {selector}, prod: {name}.example.com}}")
        else:
            lines.append(
                f"    targets: {{dev: {name}.dev.example.com, dev-eu: {name}.eu.example.com,"
                f" prod: {name}.example.com}}"
            )
    return "\n".join(lines) + "\n"


ACTIONS = ("create", "update", "delete", "unchanged")
FILES = {
    "deps-0.yaml": dependencies(0),
    "deps-1.yaml": dependencies(1),
    "deps-2.yaml": dependencies(2),
    "environments.yaml": ENVIRONMENTS,
}


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every catalog is 'large', and everything that can take two processes takes them."""
    monkeypatch.setattr(extgen.catalog, "KEEP_MODELS_BYTES", 0)
    monkeypatch.setattr(extgen.catalog_file, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(extgen.sync, "PARALLEL_WRITES", 2)
    yield


def render(catalog: Path, out: Path, *extra: str) -> tuple[int, str]:
    result = run("render", "-c", str(catalog), "-o", str(out), *extra)
    return result.exit_code, result.output.replace(str(out), "OUT")


def test_large_catalogs_keep_records_and_pickled_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = write_catalog(tmp_path, FILES)
    small = read_catalog(catalog)
    assert all(record.model is not None for record in small.records)
    monkeypatch.setattr(extgen.catalog, "KEEP_MODELS_BYTES", 0)
    large = read_catalog(catalog)
    assert all(record.model is None for record in large.records)
    assert [len(pickled) > 0 for pickled in large.pickled] == [True, True, True, False]
    assert [r.name for r in large.records] == sorted(r.name for r in large.records)
    assert large == small  # the same models, unpickled by file


def test_a_large_catalog_renders_the_same_files_and_log(
    tmp_path: Path, large: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = write_catalog(tmp_path, FILES)
    forks = count_forks(monkeypatch)
    monkeypatch.setattr(extgen.sync, "GROUP", 2)
    got = render(catalog, tmp_path / "large")
    monkeypatch.undo()
    # parse and write in two processes
    assert len(forks) >= 2
    want = render(catalog, tmp_path / "small")
    assert got == want and got[0] == 0
    assert snapshot(tmp_path / "large") == snapshot(tmp_path / "small")
    paths = [line.split()[1] for line in got[1].splitlines()[:-1]]
    assert paths == sorted(paths) and len(paths) == len(snapshot(tmp_path / "small"))
    assert any("/dev/shard-001/" in path for path in paths)


def test_a_large_catalog_is_checked_diffed_and_updated_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = write_catalog(tmp_path, FILES)
    for out in ("large", "small"):
        assert render(catalog, tmp_path / out)[0] == 0
    (catalog / "deps-1.yaml").write_text(
        FILES["deps-1.yaml"].replace("svc-1-03.example.com", "svc-1-03.example.org")
    )
    (catalog / "deps-2.yaml").unlink()  # every dependency of a file, gone
    results = {}
    for out in ("large", "small"):
        if out == "large":
            monkeypatch.setattr(extgen.catalog, "KEEP_MODELS_BYTES", 0)
            monkeypatch.setattr(extgen.catalog_file, "PARALLEL_BYTES", 0)
            monkeypatch.setattr(extgen.sync, "PARALLEL_WRITES", 2)
        results[out] = [
            render(catalog, tmp_path / out, *flag) for flag in (["--check"], ["--diff"], ["-v"])
        ]
        monkeypatch.undo()
    assert results["large"] == results["small"]
    check, diff, written = results["large"]
    assert check[0] == 1 and diff[0] == 1 and written[0] == 0
    assert "+  externalName: svc-1-03.example.org" in diff[1]
    assert "would delete OUT/prod/svc-2-00.yaml" in check[1]
    lines = written[1].splitlines()
    tally = {action: sum(line.startswith(f"{action} ") for line in lines) for action in ACTIONS}
    summary = "OUT: {create} created, {update} updated, {delete} deleted, {unchanged} unchanged"
    assert lines[-1] == summary.format(**tally)
    assert lines[0].startswith("note: ") and "move to another shard of dev" in lines[0]
    assert snapshot(tmp_path / "large") == snapshot(tmp_path / "small")


def test_a_large_catalog_verifies_and_names_a_field_edited_by_hand(
    tmp_path: Path, large: None
) -> None:
    catalog = write_catalog(tmp_path, FILES)
    out = tmp_path / "out"
    assert render(catalog, out)[0] == 0
    assert run("verify", "-c", str(catalog), "-o", str(out)).exit_code == 0
    path = out / "prod" / "svc-1-03.yaml"
    path.write_text(path.read_text().replace("port: 443", "port: 444"))
    result = run("verify", "-c", str(catalog), "-o", str(out))
    assert result.exit_code == 1
    assert "prod: Service/apps/svc-1-03: spec.ports[0].port: expected 443, got 444" in result.output


def test_lines_are_in_path_order_whatever_the_directories(tmp_path: Path, large: None) -> None:
    """A directory's own files and its subdirectories interleave by path, and names that
    share a prefix ('dev', 'dev-eu') are in path order too."""
    catalog = write_catalog(tmp_path, FILES)
    out = tmp_path / "out"
    assert render(catalog, out)[0] == 0
    marker = (out / "dev" / "kustomization.yaml").read_text().split("\n", 1)[0]
    for stray in ("dev-a.yaml", "zzz.yaml", "dev/shard-000x.yaml", "old/a/b.yaml", "old/c.yaml"):
        (out / stray).parent.mkdir(parents=True, exist_ok=True)
        (out / stray).write_text(f"{marker}\nkind: ConfigMap\n")
    code, output = render(catalog, out)
    lines = output.splitlines()[:-1]
    paths = [line.split()[1] for line in lines]
    assert code == 0 and paths == sorted(paths)
    deleted = [line.split()[1] for line in lines if line.startswith("delete")]
    assert deleted == [
        "OUT/dev-a.yaml",
        "OUT/dev/shard-000x.yaml",
        "OUT/old/a/b.yaml",
        "OUT/old/c.yaml",
        "OUT/zzz.yaml",
    ]


@pytest.mark.parametrize("files", ["valid", "invalid"])
def test_environments_missed_by_the_first_look_are_found_anyway(
    monkeypatch: pytest.MonkeyPatch, files: str
) -> None:
    """The first look at environments only skips work: were it to miss one, the files are
    judged again, knowing it."""
    sources = [(f"c/{name}", text) for name, text in FILES.items()]
    if files == "invalid":
        sources.append(("c/z.yaml", dependencies(0, 2) + "  - {name: x, targets: {qa: x.io}}\n"))

    def load() -> Any:
        try:
            return parse_catalog(sources)
        except CatalogError as error:
            return [problem.format() for problem in error.problems]

    seen = load()
    monkeypatch.setattr(extgen.catalog, "_may_define_environments", lambda text: False)
    assert load() == seen


def test_the_first_look_finds_environments_spelled_with_escapes() -> None:
    text = '"\\x65nvironments": {dev: {namespace: a}}\n'
    text += "dependencies: [{name: a, targets: {dev: a.example.com}}]\n"
    assert extgen.catalog._may_define_environments(text)
    catalog = parse_catalog([("c.yaml", text)])
    assert list(catalog.environments) == ["dev"]
