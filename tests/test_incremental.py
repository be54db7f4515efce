"""A render into an existing OUT gives the same files as a render into an empty one.

Files whose seal matches are kept without being planned again (extgen/render.py): this
holds only if a dependency file's seal covers every setting its objects depend on. Each
example draws a catalog, changes it (one environment or dependency redrawn under the same
name, shard sizes changed), renders the first into OUT and then the second, and compares
OUT with the second rendered alone.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from helpers import sync_into
from hypothesis import assume, given, note
from hypothesis import strategies as st
from test_catalog_properties import Draw, _settings, catalogs, dependencies, environments

from extgen.catalog import Catalog, parse_catalog
from extgen.errors import CatalogError
from extgen.plan import plan_catalog

Settings = tuple[dict[str, Any], list[dict[str, Any]]]


@st.composite
def changed(draw: Draw, catalog: Settings) -> Settings:
    envs, deps = copy.deepcopy(catalog)
    for _ in range(draw(st.integers(1, 3))):
        change = draw(st.sampled_from(["environment", "dependency", "shards"]))
        if change == "environment":
            name = draw(st.sampled_from(sorted(envs)))
            redraw_one_setting(draw, envs[name], next(iter(draw(environments()).values())))
        elif change == "dependency" and deps:
            index = draw(st.integers(0, len(deps) - 1))
            drawn = draw(dependencies(list(envs)))
            assume(drawn)
            redraw_one_setting(draw, deps[index], {**drawn[0], "name": deps[index]["name"]})
        else:
            name = draw(st.sampled_from(sorted(envs)))
            envs[name]["shardSize"] = draw(st.integers(1, 4))
    return envs, deps


def redraw_one_setting(draw: Draw, settings: dict[str, Any], drawn: dict[str, Any]) -> None:
    """One key takes its value from `drawn` (or goes, if `drawn` has none): one change
    at a time, so that a setting the seal missed is not hidden by another that it has."""
    key = draw(st.sampled_from(sorted(set(settings) | set(drawn))))
    if key in drawn:
        settings[key] = drawn[key]
    else:
        settings.pop(key)


@st.composite
def catalog_pairs(draw: Draw) -> tuple[Settings, Settings]:
    first = draw(catalogs())
    return first, draw(changed(first))


def load(settings: Settings) -> Catalog:
    envs, deps = settings
    text = yaml.safe_dump({"environments": envs, "dependencies": deps}, sort_keys=False)
    note(text)
    return parse_catalog([("catalog.yaml", text)])


def render_into(out: Path, catalog: Catalog) -> None:
    sync_into(out, plan_catalog(catalog))


def tree(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file()
    }


def test_rendering_over_an_older_output_equals_rendering_alone(tmp_path: Path) -> None:
    counts = {"pairs": 0, "files kept": 0, "files changed": 0}

    @_settings(default_examples=120)
    @given(catalog_pairs())
    def over_older_output(pair: tuple[Settings, Settings]) -> None:
        try:
            first, second = load(pair[0]), load(pair[1])
        except CatalogError:
            assume(False)
            raise
        counts["pairs"] += 1
        out, alone = tmp_path / f"out-{counts['pairs']}", tmp_path / f"alone-{counts['pairs']}"
        render_into(out, first)
        before = tree(out)
        render_into(out, second)
        render_into(alone, second)
        after = tree(out)
        assert after == tree(alone)
        counts["files kept"] += sum(1 for p, data in after.items() if before.get(p) == data)
        counts["files changed"] += sum(1 for p, data in after.items() if before.get(p) != data)

    over_older_output()
    # The property is only worth something if both kinds of files occurred.
    assert counts["pairs"] > 20 and counts["files kept"] > 0 and counts["files changed"] > 0, counts
