"""RENDER_FORMAT must change whenever extgen writes other text for the same catalog.

A file in OUT whose seal matches is taken as current without being planned or rendered
again (extgen/render.py, PlannedFile), and for a dependency's file the seal digests the
catalog settings, not the objects. So if extgen's planning or writing changed and
RENDER_FORMAT did not, files rendered by the older code would be kept as they are.
This test digests what extgen renders, below the marker lines, for every golden catalog
and the example catalog, and holds the digest against the one recorded for the current
RENDER_FORMAT.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from helpers import run

from extgen.render import RENDER_FORMAT

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden"
RECORD = GOLDEN / "render-format.txt"
UPDATE = os.environ.get("EXTGEN_UPDATE_GOLDEN") == "1"


def output_digest(tmp_path: Path) -> str:
    catalogs = [GOLDEN / case / "catalog" for case in sorted(os.listdir(GOLDEN))]
    catalogs = [path for path in catalogs if path.is_dir()] + [ROOT / "catalog"]
    digest = hashlib.sha256()
    for index, catalog in enumerate(catalogs):
        out = tmp_path / f"out-{index}"
        result = run("render", "-c", str(catalog), "-o", str(out))
        assert result.exit_code == 0, result.output
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            marker, rest = path.read_text(encoding="utf-8").split("\n", 1)
            assert "[extgen:" in marker, f"{path}: no seal on the marker line"
            digest.update(f"{path.relative_to(tmp_path).as_posix()}\n{rest}\0".encode())
    return digest.hexdigest()


def test_output_changes_only_with_render_format(tmp_path: Path) -> None:
    digest = output_digest(tmp_path)
    recorded_format, recorded_digest = RECORD.read_text(encoding="utf-8").split()
    if digest == recorded_digest and int(recorded_format) == RENDER_FORMAT:
        return
    if int(recorded_format) == RENDER_FORMAT:
        raise AssertionError(
            "extgen now writes other text for the same catalogs, but RENDER_FORMAT is still"
            f" {RENDER_FORMAT}: outputs rendered before would be kept as current. Increase"
            " RENDER_FORMAT in extgen/render.py, then run the tests with EXTGEN_UPDATE_GOLDEN=1"
        )
    if UPDATE:
        RECORD.write_text(f"{RENDER_FORMAT} {digest}\n", encoding="utf-8")
        return
    raise AssertionError(
        f"RENDER_FORMAT is {RENDER_FORMAT}, {RECORD.name} records {recorded_format}:"
        " run the tests with EXTGEN_UPDATE_GOLDEN=1 to record this format's output"
    )
