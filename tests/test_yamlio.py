"""Bounds on what a catalog may hold, each with a clear message."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import extgen.catalog_merge
from extgen import yamlio
from extgen.catalog import parse_catalog
from extgen.errors import CatalogError


def test_total_dependencies_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extgen.catalog_merge, "MAX_DEPENDENCIES", 3)
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


def test_total_targets_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Environments are not bounded; targets (output files) are."""
    monkeypatch.setattr(extgen.catalog_merge, "MAX_TARGETS", 3)
    env = "environments: {dev: {namespace: a}, prod: {namespace: a}}\n"
    deps = (
        "dependencies:\n  - {name: d0, targets: {dev: d.example.com, prod: null}}\n"
        "  - {name: d1, targets: {dev: d.example.com, prod: d.example.com}}\n"
    )
    more = deps.replace("d0", "e0").replace("d1", "e1")
    assert parse_catalog([("a.yaml", env + deps)])  # 3 targets: the most allowed
    with pytest.raises(CatalogError) as raised:
        parse_catalog([("a.yaml", env + deps), ("b.yaml", more)])
    assert [p.format() for p in raised.value.problems] == [
        "b.yaml:2:25: error: the catalog has more than 3 targets (a target is one"
        " dependency in one environment: one output file)"
    ]


def test_nesting_depth_is_bounded() -> None:
    text = "environments: " + "[" * 100 + "]" * 100 + "\n"
    with pytest.raises(CatalogError) as raised:
        parse_catalog([("deep.yaml", text)])
    (problem,) = raised.value.problems
    assert problem.message == "YAML nesting is deeper than 64 levels"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a: " + "[" * 200_000 + "]" * 200_000 + "\n", "1:67"),
        ("a: " + "{b: " * 100_000 + "c" + "}" * 100_000 + "\n", "1:256"),
        ("a:\n" + "- " * 1_000_000 + "x\n", "2:127"),
        # Past libyaml's own limit of 1,000 levels (libyaml 0.2.6) but too shallow for
        # the exact count before composing: libyaml's error is reported as extgen's.
        ("a: " + "[" * 1_500 + "]" * 1_500 + "\n", "1:67"),
        ("a: " + "{b: " * 1_500 + "c" + "}" * 1_500 + "\n", "1:256"),
    ],
    ids=[
        "flow-sequences",
        "flow-mappings",
        "compact-block-sequences",
        "flow-sequences-1500",
        "flow-mappings-1500",
    ],
)
def test_hostile_nesting_is_refused_without_crashing(text: str, where: str, tmp_path: Path) -> None:
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
    assert f"deep.yaml:{where}: error: YAML nesting is deeper than 64 levels" in result.stderr


EDITS = ["\t", " ", "\n", ":", "- ", "#", "&a ", "*a", "!!str ", "'", '"', "{", "]", "\x85", "\r"]


# --- two ways to build values: from events (ordinary files), from nodes (the rest) --------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
    st.sampled_from(["yes", "on", "0755", "0o17", "0x1F", "1e3", "12:30", "~", "<<", ".inf"]),
)
KEYS = st.one_of(st.text(max_size=8), st.sampled_from(["<<", "~", "1", "true", "a b"]))
DATA = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)
STYLES = st.fixed_dictionaries(
    {
        "default_flow_style": st.sampled_from([False, True, None]),
        "default_style": st.sampled_from([None, '"', "'", "|", ">"]),
        "allow_unicode": st.booleans(),
        "width": st.sampled_from([8, 80]),
    }
)


def built_from_nodes(text: str) -> Any:
    root = yaml.compose(text, Loader=yamlio._Loader)
    return None if root is None else yamlio._Builder("f", 10**9).build(root)


def same_values(text: str) -> None:
    try:
        from_nodes = built_from_nodes(text)
    except (yaml.YAMLError, yamlio.YamlError):
        from_nodes = "refused"
    try:
        from_events = yamlio._values_from_events(text)
    except (yamlio._Unusual, yaml.YAMLError):
        return  # composed and built from nodes: one way only
    assert repr(from_events) == repr(from_nodes)  # repr: nan == nan


@settings(max_examples=int(os.environ.get("EXTGEN_FUZZ_EXAMPLES") or 400), deadline=None)
@given(DATA, STYLES, st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(EDITS))))
def test_values_from_events_equal_values_from_nodes(
    data: Any, style: dict[str, Any], edits: list[tuple[int, str]]
) -> None:
    text = yaml.safe_dump({"key": data, "other": [1, "x"]}, **style)
    same_values(text)
    for where, piece in edits:  # damaged text: either both refuse, or they agree
        at = where % (len(text) + 1)
        text = text[:at] + piece + text[at:]
        same_values(text)


def test_unusual_files_are_built_from_nodes_with_positions() -> None:
    for text in (
        "a: &x [1]\nb: *x\n",
        "a: !!str 010\n",
        "a: 1\na: 2\n",
        "<<: {a: 1}\n",
        "a: 1\n---\nb: 2\n",
        "? [a]\n: 1\n",
    ):
        with contextlib.suppress(yamlio._Unusual):
            yamlio._values_from_events(text)
            raise AssertionError(f"not declined: {text!r}")
    document = yamlio.load_document("a: 1\na: 2\n", "f.yaml")
    assert [p.format() for p in document.problems] == [
        "f.yaml:2:1: error: duplicate key 'a' (first defined at f.yaml:1:1)"
    ]
