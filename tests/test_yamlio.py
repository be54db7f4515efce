"""Bounds on what a catalog may hold, each with a clear message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import extgen.catalog
from extgen.catalog import parse_catalog
from extgen.errors import CatalogError


def test_total_dependencies_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extgen.catalog, "MAX_DEPENDENCIES", 3)
    env = "environments: {dev: {namespace: a}}\n"
    deps = "dependencies:\n" + "".join(
        f"  - {{name: d{i}, targets: {{dev: d{i}.example.com}}}}\n" for i in range(2)
    )
    more = deps.replace("d0", "e0").replace("d1", "e1")
    with pytest.raises(CatalogError) as raised:
        parse_catalog([("a.yaml", env + deps), ("b.yaml", more)])
    assert [p.format() for p in raised.value.problems] == [
        "b.yaml:3:5: error: the catalog has more than 3 dependencies"
    ]


def test_nesting_depth_is_bounded() -> None:
    text = "environments: " + "[" * 100 + "]" * 100 + "\n"
    with pytest.raises(CatalogError) as raised:
        parse_catalog([("deep.yaml", text)])
    (problem,) = raised.value.problems
    assert problem.message == "YAML nesting is deeper than 64 levels"


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 200_000 + "]" * 200_000 + "\n",
        "a: " + "{b: " * 100_000 + "c" + "}" * 100_000 + "\n",
        "a:\n" + "- " * 1_000_000 + "x\n",
    ],
    ids=["flow-sequences", "flow-mappings", "compact-block-sequences"],
)
def test_hostile_nesting_is_refused_without_crashing(text: str, tmp_path: Path) -> None:
    # Deep enough to overflow libyaml's recursive composer: run in a child process, so
    # that a crash shows as a failure here rather than killing the test run.
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "extgen", "validate", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr[-500:]
    assert "error: YAML nesting is deeper than 64 levels" in result.stderr
