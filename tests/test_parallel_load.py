"""Large catalogs are parsed by two processes (catalog_file.read_files): the result,
problems and their positions included, must be what one process gives; the caller's
work done meanwhile (render's scan of OUT) is done once, in this process."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import count_forks

import extgen.catalog_file
import extgen.parallel
from extgen.catalog import parse_catalog, read_catalog
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


def fail_in_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the catalog is read by two processes, and the child fails as it sends
    back its results."""
    parent = os.getpid()
    real_dump = extgen.parallel.pickle.dump

    def dump_failing_in_child(*args: Any, **kwargs: Any) -> None:
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        real_dump(*args, **kwargs)

    monkeypatch.setattr(extgen.catalog_file, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(extgen.parallel.pickle, "dump", dump_failing_in_child)


def test_a_failing_second_process_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extgen.catalog_file, "PARALLEL_BYTES", 10**12)
    alone = load(INVALID)
    fail_in_child(monkeypatch)
    assert load(INVALID) == alone


def write_files(root: Path, sources: list[tuple[str, str]]) -> Path:
    for name, text in sources:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root / "catalog"


def test_meanwhile_is_done_once_here_while_the_child_takes_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = write_files(tmp_path, VALID)
    alone = read_catalog(catalog)
    readers = tmp_path / "readers"  # the pid that judged each file, one line each
    real_read = extgen.catalog_file._FileReader.read

    def recording_read(self: Any, text: str) -> Any:
        with readers.open("a") as record:
            record.write(f"{os.getpid()} {self.file}\n")
        return real_read(self, text)

    done_by: list[int] = []

    def meanwhile() -> None:
        done_by.append(os.getpid())
        deadline = time.monotonic() + 30
        # Until the child has judged every file (it takes them as this process is busy).
        while time.monotonic() < deadline:
            if readers.exists() and len(readers.read_text().splitlines()) == len(VALID):
                break
            time.sleep(0.02)

    monkeypatch.setattr(extgen.catalog_file, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(extgen.catalog_file._FileReader, "read", recording_read)
    forks = count_forks(monkeypatch)
    assert read_catalog(catalog, meanwhile) == alone
    assert done_by == [os.getpid()]
    assert len(forks) == 1
    lines = readers.read_text().splitlines()
    assert sorted(line.split()[1] for line in lines) == [str(tmp_path / n) for n, _ in VALID]
    assert {line.split()[0] for line in lines} == {str(forks[0])}


def test_with_meanwhile_a_failing_second_process_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = write_files(tmp_path, INVALID)
    monkeypatch.setattr(extgen.catalog_file, "PARALLEL_BYTES", 10**12)
    alone = read_problems(catalog)
    fail_in_child(monkeypatch)
    done_by: list[int] = []
    assert read_problems(catalog, lambda: done_by.append(os.getpid())) == alone
    assert done_by == [os.getpid()]


def read_problems(catalog: Path, meanwhile: Any = None) -> list[str]:
    with pytest.raises(CatalogError) as raised:
        read_catalog(catalog, meanwhile)
    return [problem.format() for problem in raised.value.problems]
