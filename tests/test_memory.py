"""What a large catalog keeps in memory: shared empty mappings and field sets, values let
go once read, texts not kept once written, files in OUT known by a stamp of 24 bytes.

Memory itself is measured by benchmarks/run.py (peak RSS); these tests hold the design
that keeps it down, and that sharing never changes a value.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from helpers import run, sync_into, write_catalog

import extgen.model
from extgen.catalog import read_catalog
from extgen.model import Dependency, HostnameTarget
from extgen.output import scan
from extgen.plan import plan_catalog
from extgen.render import PlannedFile, Renderer
from extgen.sync import Change
from extgen.yamlio import load_document


def test_models_share_their_empty_mappings_and_sets_of_fields() -> None:
    first = Dependency.model_validate({"name": "a", "targets": {"dev": "a.example.com"}})
    second = Dependency.model_validate({"name": "b", "targets": {"dev": "b.example.com"}})
    assert first.labels is second.labels is extgen.model._EMPTY
    one, two = first.targets["dev"], second.targets["dev"]
    assert isinstance(one, HostnameTarget) and isinstance(two, HostnameTarget)
    assert one.annotations is two.labels is extgen.model._EMPTY
    assert first.model_fields_set is second.model_fields_set == {"name", "targets"}
    # Given fields differ: the sets differ, and each stays right.
    third = Dependency.model_validate(
        {"name": "c", "labels": {"team": "x"}, "targets": {"dev": "c.example.com"}}
    )
    assert third.model_fields_set == {"name", "labels", "targets"}
    assert third.labels == {"team": "x"} and third.labels is not extgen.model._EMPTY
    assert first.model_fields_set == {"name", "targets"}


def test_the_shared_empty_mapping_stays_empty_through_a_render(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    result = run("render", "-c", str(catalog), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert extgen.model._EMPTY == {}
    # The JSON the seals digest is the same as with mappings of their own.
    shared = Dependency.model_validate({"name": "a", "targets": {"dev": "a.example.com"}})
    own = Dependency.model_construct(**dict(shared))
    object.__setattr__(own, "labels", {})
    assert own.labels is not shared.labels
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a serializer warning would mean a wrong union
        assert own.model_dump_json() == shared.model_dump_json()
    assert '"targets":{"dev":{"namespaces":null,"labels":{}' in shared.model_dump_json()


def test_catalog_values_are_let_go_once_read_and_positions_still_found(tmp_path: Path) -> None:
    document = load_document("dependencies:\n  - name: a\n    targets: {dev: x}\n", "a.yaml")
    assert document.data is not None
    document.drop_values()
    assert document.data is None
    assert str(document.position(("dependencies", 0, "targets", "dev"))) == "a.yaml:3:20"
    empty = load_document("# nothing\n", "b.yaml")
    empty.drop_values()
    assert str(empty.position(("dependencies",))) == "b.yaml:1:1"


def test_a_written_file_does_not_keep_its_text(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    out = tmp_path / "out"
    plan = plan_catalog(read_catalog(catalog))
    changes = sync_into(out, plan)
    assert changes.diffs == {} and all(
        change.action == "create" for others in changes.others.values() for change in others
    )
    files = Renderer().planned(plan)
    dependency_files = [file for file in files.values() if file.renders_safely]
    assert dependency_files, "dependency files are rendered when written"
    for planned in dependency_files:
        text = planned.rendered()
        assert planned._text is None, planned.path
        assert (out / planned.path).read_text() == text == planned.text  # rendered alike


@pytest.mark.parametrize(
    ("edit", "current", "sealed"),
    [
        (lambda text: text, True, True),
        (lambda text: text.replace("orders.dev.example.com", "evil.example.com"), False, True),
        (lambda text: text.replace("[extgen:", "[extgen:0"), False, False),
        (lambda text: text.replace("\n", " \n", 1), False, False),
    ],
    ids=["as-written", "edited-below-the-seal", "seal-changed", "marker-line-changed"],
)
def test_files_in_out_are_known_by_a_stamp_of_24_bytes_at_most(
    tmp_path: Path, edit: object, current: bool, sealed: bool
) -> None:
    """A digest of 16 bytes of the text below the marker line, and the seal's 8 bytes if
    the line ends in one."""
    catalog = write_catalog(tmp_path)
    out = tmp_path / "out"
    assert run("render", "-c", str(catalog), "-o", str(out)).exit_code == 0
    path = out / "dev" / "orders-db.yaml"
    assert callable(edit)
    path.write_text(edit(path.read_text()))
    found = scan(out)
    sizes = {name: len(stamp) for name, stamp in found.owned.items()}
    assert sizes.pop("dev/orders-db.yaml") == (24 if sealed else 16)
    assert set(sizes.values()) == {24}
    planned = Renderer().planned(plan_catalog(read_catalog(catalog)))["dev/orders-db.yaml"]
    assert isinstance(planned, PlannedFile)
    assert planned.is_current(found.owned["dev/orders-db.yaml"]) is current


def test_objects_made_per_file_have_no_dict_of_their_own(tmp_path: Path) -> None:
    change = Change("a.yaml", "unchanged")
    assert not hasattr(change, "__dict__")
    files = Renderer().planned(plan_catalog(read_catalog(write_catalog(tmp_path))))
    planned = files["dev/orders-db.yaml"]
    assert isinstance(planned, PlannedFile) and planned.dependency is not None
    assert not hasattr(planned, "__dict__") and not hasattr(planned.dependency, "__dict__")
    assert planned.fingerprint is planned.fingerprint  # made once
