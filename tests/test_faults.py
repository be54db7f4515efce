"""Faults while writing: a render killed at any moment, and disk errors.

After a kill every file holds its old or its new content, never a partial one, and the
next render repairs the tree (temporary files carry the marker, so it prunes them).
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run, snapshot

import extgen.output
from extgen.output import LOCK_NAME, TEMP_PREFIX

KILLS = int(os.environ.get("EXTGEN_KILL_ITERATIONS", "8"))


def catalog_text(count: int, marker: str) -> str:
    lines = [
        "environments:",
        f"  dev: {{namespace: apps, annotations: {{example.com/version: {marker}}}}}",
        f"  prod: {{namespace: apps, annotations: {{example.com/version: {marker}}}}}",
        "dependencies:",
    ]
    for index in range(count):
        address = f"10.0.{index // 250}.{index % 250 + 1}"
        lines.append(
            f"  - {{name: svc-{index:04d}, ports: [{{port: 443}}],"
            f" targets: {{dev: svc-{index}.example.com, prod: [{address}]}}}}"
        )
    return "\n".join(lines) + "\n"


def render_command(catalog: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "extgen", "render", "-c", str(catalog), "-o", str(out)]


def wait_for_lock(out: Path, process: subprocess.Popen[bytes]) -> float:
    """When the render took OUT's lock, i.e. is about to compare and write."""
    while not (out / LOCK_NAME).exists():
        assert process.poll() is None, "the render ended before it took the lock"
        time.sleep(0.002)
    return time.monotonic()


def settled(out: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(out).items() if not Path(k).name.startswith(".extgen")}


def test_a_killed_render_leaves_every_file_old_or_new(tmp_path: Path) -> None:
    old_catalog, new_catalog = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old_catalog.write_text(catalog_text(400, "one"))
    new_catalog.write_text(catalog_text(400, "two"))
    old_tree, new_tree = tmp_path / "old", tmp_path / "new"
    for catalog, tree in ((old_catalog, old_tree), (new_catalog, new_tree)):
        subprocess.run(render_command(catalog, tree), check=True, capture_output=True)
    old, new = snapshot(old_tree), snapshot(new_tree)
    out = tmp_path / "out"
    # How long the render holds OUT's lock (compare and write), to kill it inside that.
    subprocess.run(render_command(old_catalog, out), check=True, capture_output=True)
    process = subprocess.Popen(render_command(new_catalog, out), stderr=subprocess.DEVNULL)
    window = wait_for_lock(out, process)
    process.wait()
    window = time.monotonic() - window
    chance = random.Random(20261121)
    mixed = 0  # kills that landed while files were being replaced
    for _ in range(KILLS):
        subprocess.run(render_command(old_catalog, out), check=True, capture_output=True)
        process = subprocess.Popen(render_command(new_catalog, out), stderr=subprocess.DEVNULL)
        wait_for_lock(out, process)
        time.sleep(chance.uniform(0.2, 0.9) * window)
        process.send_signal(signal.SIGKILL)
        process.wait()
        after = settled(out)
        for path, content in after.items():
            assert content in (old.get(path), new.get(path)), f"{path} is partial"
        mixed += after != old and after != new
        subprocess.run(render_command(new_catalog, out), check=True, capture_output=True)
        assert snapshot(out) == new  # repaired: no temporary file, no lock file left
    assert mixed > 0, "no kill landed during the writes: the test proved nothing"


def _failing_on_call(number: int, error: int, real: object) -> object:
    calls = {"n": 0}

    def fail(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == number:
            raise OSError(error, os.strerror(error))
        return real(*args, **kwargs)  # type: ignore[operator]

    return fail


@pytest.mark.parametrize(
    ("target", "error", "call"),
    [
        ("replace", errno.ENOSPC, 3),
        ("replace", errno.EIO, 1),
        ("fdopen", errno.EROFS, 2),
    ],
)
def test_disk_errors_stop_with_a_clear_error_and_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, error: int, call: int
) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(catalog_text(5, "one"))
    out = tmp_path / "out"
    assert run("render", "-c", str(catalog), "-o", str(out)).exit_code == 0
    old = snapshot(out)
    catalog.write_text(catalog_text(5, "two"))
    monkeypatch.setattr(
        extgen.output.os, target, _failing_on_call(call, error, getattr(os, target))
    )
    result = run("render", "-c", str(catalog), "-o", str(out))
    monkeypatch.undo()
    assert result.exit_code == 1
    assert f": {os.strerror(error)}" in result.output
    assert result.output.startswith(f"error: cannot write {out}/")
    assert "Traceback" not in result.output
    after = snapshot(out)
    assert not [p for p in after if Path(p).name.startswith((TEMP_PREFIX, LOCK_NAME))]
    new = snapshot_after_render(catalog, tmp_path / "new")
    for path, content in after.items():
        assert content in (old.get(path), new.get(path)), f"{path} is partial"


def snapshot_after_render(catalog: Path, out: Path) -> dict[str, bytes]:
    assert run("render", "-c", str(catalog), "-o", str(out)).exit_code == 0
    return snapshot(out)
