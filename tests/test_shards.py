"""Sharded environments: stable assignment, each shard builds alone, moves are reported."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import run, snapshot

from extgen.catalog import read_catalog
from extgen.plan import plan_catalog
from extgen.verify import verify
from extgen.yamlio import parse_all_core

COUNT = 700  # over the default shard size of 500: two shards


def catalog_text(names: list[str], settings: str = "") -> str:
    lines = [f"environments:\n  dev:\n    namespace: apps{settings}\ndependencies:"]
    for name in names:
        lines.append(
            f"  - {{name: {name}, ports: [{{port: 443}}], targets: {{dev: {name}.example.com}}}}"
        )
    return "\n".join(lines) + "\n"


def names(count: int = COUNT) -> list[str]:
    return [f"svc-{index:04d}" for index in range(count)]


def render(tmp_path: Path, text: str) -> list[str]:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(text)
    result = run("render", "-c", str(catalog), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def changed(output: list[str]) -> list[str]:
    return sorted(line for line in output if line.split()[0] in ("create", "update", "delete"))


def build(directory: Path) -> list[tuple[str, str]]:
    stream = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True
    ).stdout
    return sorted((d["kind"], d["metadata"]["name"]) for d in parse_all_core(stream, "built") if d)


@pytest.fixture
def sharded(tmp_path: Path) -> Path:
    render(tmp_path, catalog_text(names()))
    return tmp_path


def test_large_environment_is_split_and_every_shard_builds_alone(sharded: Path) -> None:
    out = sharded / "out"
    entry = (out / "dev" / "kustomization.yaml").read_text()
    assert "resources:\n  - shard-000\n  - shard-001\n" in entry
    shards = [build(out / "dev" / f"shard-{i:03d}") for i in range(2)]
    assert all(200 < len(objects) < 500 for objects in shards)
    assert sorted(shards[0] + shards[1]) == build(out / "dev")
    plan = plan_catalog(read_catalog(sharded / "catalog.yaml"))
    report = verify(out, plan)
    assert report.findings == []
    assert report.objects == COUNT


def test_adding_removing_and_renaming_touch_only_their_shards(sharded: Path) -> None:
    out = sharded / "out"
    plan = plan_catalog(read_catalog(sharded / "catalog.yaml"))
    env = plan.environments[0]

    added = render(sharded, catalog_text([*names(), "svc-new"]))
    shard = env.shard_of("svc-new")
    assert changed(added) == [
        f"create    {out}/dev/{shard}/svc-new.yaml",
        f"update    {out}/dev/{shard}/kustomization.yaml",
    ]
    removed = render(sharded, catalog_text([*names()[1:], "svc-new"]))
    shard = env.shard_of("svc-0000")
    assert changed(removed) == [
        f"delete    {out}/dev/{shard}/svc-0000.yaml",
        f"update    {out}/dev/{shard}/kustomization.yaml",
    ]
    renamed = render(sharded, catalog_text([*names()[1:], "svc-renamed"]))
    old, new = env.shard_of("svc-new"), env.shard_of("svc-renamed")
    expected = {
        f"delete    {out}/dev/{old}/svc-new.yaml",
        f"create    {out}/dev/{new}/svc-renamed.yaml",
        f"update    {out}/dev/{old}/kustomization.yaml",
        f"update    {out}/dev/{new}/kustomization.yaml",
    }
    assert changed(renamed) == sorted(expected)


def test_assignment_does_not_depend_on_catalog_order(sharded: Path) -> None:
    before = snapshot(sharded / "out")
    output = render(sharded, catalog_text(list(reversed(names()))))
    assert changed(output) == []
    assert snapshot(sharded / "out") == before


def test_a_change_of_shard_count_reports_the_objects_that_move(sharded: Path) -> None:
    output = render(sharded, catalog_text(names(), "\n    shards: 4"))
    notes = [line for line in output if line.startswith("note:")]
    assert len(notes) == 1
    moved = int(notes[0].split()[1])
    assert 300 < moved < 700
    assert notes[0].endswith(
        f"objects of {moved} dependencies move to another shard of dev: Argo CD and Flux"
        " hand them from one application to another (see docs/sharding.md)"
    )
    assert sorted(p.name for p in (sharded / "out" / "dev").iterdir()) == [
        "kustomization.yaml",
        "shard-000",
        "shard-001",
        "shard-002",
        "shard-003",
    ]


def test_small_environment_is_not_sharded(tmp_path: Path) -> None:
    render(tmp_path, catalog_text(names(10)))
    assert sorted(p.name for p in (tmp_path / "out" / "dev").iterdir())[:2] == [
        "kustomization.yaml",
        "svc-0000.yaml",
    ]


def test_shard_settings_are_validated(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(catalog_text(names(1), "\n    shards: 0\n    shardSize: x"))
    result = run("validate", "-c", str(catalog))
    assert result.exit_code == 1
    assert result.output.splitlines()[:2] == [
        f"{catalog}:4:13: error: must be a whole number of at least 1, got 0",
        f"{catalog}:5:16: error: expected an integer, got the string 'x'",
    ]
