"""Large catalogs are parsed by two processes (catalog_file.read_files): the result,
problems and their positions included, must be what one process gives."""

from __future__ import annotations

import os
from typing import Any

import pytest
from helpers import count_forks

import extgen.catalog_file
import extgen.parallel
from extgen.catalog import parse_catalog
from extgen.errors import CatalogError

ENVIRONMENTS = "environments:\n  dev: {namespace: apps}\n  prod: {namespace: apps}\n"


def dependencies(first: int, count: int) -> str:
    lines = ["dependencies:"]
    for index in range(first, first + count):
        lines.append(f"  - name: svc-{index:04d}")
        lines.append(
            f"    targets: {{dev: svc-{index}.example.com, prod: [10.0.0.{index % 250 + 1}]}}"
        )
    return "\n".join(lines) + "\n"


VALID = [
    ("catalog/0-environments.yaml", ENVIRONMENTS),
    *((f"catalog/{n}-deps.yaml", dependencies(n * 100, 100)) for n in range(1, 6)),
]
# Problems in files of both processes: YAML that does not parse, a value refused at its
# position, a name defined twice across files.
INVALID = [
    VALID[0],
    ("catalog/1-broken.yaml", "dependencies:\n  - name: [unclosed\n"),
    VALID[2],
    (
        "catalog/3-bad-port.yaml",
        dependencies(200, 3).replace("targets:", "ports: [{port: 0}]\n    targets:", 1),
    ),
    ("catalog/4-dup.yaml", dependencies(200, 2)),
    VALID[5],
]


def load(sources: list[tuple[str, str]]) -> Any:
    try:
        return parse_catalog(sources)
    except CatalogError as error:
        return [problem.format() for problem in error.problems]


@pytest.mark.parametrize("sources", [VALID, INVALID], ids=["valid", "invalid"])
def test_two_processes_load_what_one_does(
    sources: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extgen.catalog_file, "PARALLEL_BYTES", 10**12)
    alone = load(sources)

    monkeypatch.setattr(extgen.catalog_file, "PARALLEL_BYTES", 0)
    forks = count_forks(monkeypatch)
    assert load(sources) == alone
    assert len(forks) == 1
    if sources is INVALID:
        assert any("1-broken.yaml:3:1:" in problem for problem in alone), alone
        assert any("3-bad-port.yaml:" in problem for problem in alone), alone
        # Which definition comes first is a matter of file order.
        assert any("3-bad-port.yaml" in p and "first at catalog/2-deps" in p for p in alone)


def test_a_failing_second_process_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extgen.catalog_file, "PARALLEL_BYTES", 10**12)
    alone = load(INVALID)
    parent = os.getpid()
    real_dump = extgen.parallel.pickle.dump

    def dump_failing_in_child(*args: Any, **kwargs: Any) -> None:
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        real_dump(*args, **kwargs)

    monkeypatch.setattr(extgen.catalog_file, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(extgen.parallel.pickle, "dump", dump_failing_in_child)
    assert load(INVALID) == alone
