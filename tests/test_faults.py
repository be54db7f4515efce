"""Faults while writing: a render killed at any moment, and disk errors.

After a kill every file holds its old or its new content, never a partial one, and the
next render repairs the tree (temporary files carry the marker, so it prunes them).
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import run, snapshot

import extgen.output
import extgen.sync
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


def restore(out: Path, files: dict[str, bytes]) -> None:
    """OUT as a render left it (the same bytes), quicker than running that render again."""
    shutil.rmtree(out, ignore_errors=True)
    for relative, content in files.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_bytes(content)


@dataclass
class Kills:
    """What `kill -9` of renders left behind, counted over all iterations."""

    files: int = 0  # in the new output
    iterations: int = 0
    mid_write: int = 0  # kills after which OUT held some old and some new files
    partial_files: int = 0  # files holding neither their old nor their new content
    temporary_files: int = 0  # left by a kill, for the next render to clean up
    not_repaired: int = 0  # iterations after which the next render did not give the new tree
    left_over: int = 0  # files other than the new output after that render (temp, lock)


def kill_renders(work: Path, iterations: int, dependencies: int = 400) -> Kills:
    """Kills a render of a changed catalog at a random moment while it writes, then
    renders again; every iteration starts from the old catalog's output."""
    old_catalog, new_catalog = work / "old.yaml", work / "new.yaml"
    old_catalog.write_text(catalog_text(dependencies, "one"))
    new_catalog.write_text(catalog_text(dependencies, "two"))
    old_tree, new_tree = work / "old", work / "new"
    for catalog, tree in ((old_catalog, old_tree), (new_catalog, new_tree)):
        subprocess.run(render_command(catalog, tree), check=True, capture_output=True)
    old, new = snapshot(old_tree), snapshot(new_tree)
    out = work / "out"
    # How long the render holds OUT's lock (compare and write), to kill it inside that.
    restore(out, old)
    process = subprocess.Popen(render_command(new_catalog, out), stderr=subprocess.DEVNULL)
    window = wait_for_lock(out, process)
    process.wait()
    window = time.monotonic() - window
    chance = random.Random(20261121)
    kills = Kills(files=len(new))
    for _ in range(iterations):
        restore(out, old)
        process = subprocess.Popen(render_command(new_catalog, out), stderr=subprocess.DEVNULL)
        wait_for_lock(out, process)
        time.sleep(chance.uniform(0.2, 0.9) * window)
        process.send_signal(signal.SIGKILL)
        process.wait()
        after = settled(out)
        kills.iterations += 1
        kills.partial_files += sum(c not in (old.get(p), new.get(p)) for p, c in after.items())
        kills.temporary_files += sum(Path(p).name.startswith(TEMP_PREFIX) for p in snapshot(out))
        kills.mid_write += after != old and after != new
        subprocess.run(render_command(new_catalog, out), check=True, capture_output=True)
        repaired = snapshot(out)
        kills.not_repaired += repaired != new
        kills.left_over += len(set(repaired) - set(new))
    return kills


@pytest.mark.parametrize(
    ("dependencies", "iterations"),
    [(400, KILLS), (1100, max(1, KILLS // 2))],
    ids=["one-process", "two-processes"],  # 2,200 files: written by two (sync.apply_changes)
)
def test_a_killed_render_leaves_every_file_old_or_new(
    tmp_path: Path, dependencies: int, iterations: int
) -> None:
    assert (dependencies * 2 >= extgen.sync.PARALLEL_WRITES) == (dependencies > 400)
    kills = kill_renders(tmp_path, iterations, dependencies)
    assert kills.partial_files == 0
    # repaired: the new tree, and no temporary file or lock file left
    assert kills.not_repaired == kills.left_over == 0
    assert kills.mid_write > 0, "no kill landed during the writes: the test proved nothing"


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
        ("write", errno.EROFS, 2),
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


def test_reliability_script_measures_at_tiny_counts() -> None:
    """benchmarks/reliability.py, which measures docs/performance.md's figures, keeps working."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "reliability.py"
    tiny = ["--rows", "3", "--kills", "1", "--kill-deps", "20", "--pairs", "1", "--pair-deps", "8"]
    result = subprocess.run(
        [sys.executable, str(script), *tiny], capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "| 3 of 3 refused with every error at the expected file:line:column" in result.stdout
    assert "): 0 partial files; after the next render 0 files left over, 0 trees" in result.stdout
    assert "): 0 trees mixing the two renders, 0 renders failed" in result.stdout


def test_a_failure_in_the_second_writing_process_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many files are written by two processes; the child's failure stops the render."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(catalog_text(20, "one"))
    out = tmp_path / "out"
    assert run("render", "-c", str(catalog), "-o", str(out)).exit_code == 0
    old = snapshot(out)
    catalog.write_text(catalog_text(20, "two"))
    parent, real_replace = os.getpid(), os.replace

    def replace_failing_in_child(source: str, target: str) -> None:
        if os.getpid() != parent:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(source, target)

    monkeypatch.setattr(extgen.sync, "PARALLEL_WRITES", 2)
    monkeypatch.setattr(extgen.sync, "GROUP", 2)
    monkeypatch.setattr(extgen.output.os, "replace", replace_failing_in_child)
    result = run("render", "-c", str(catalog), "-o", str(out))
    monkeypatch.undo()
    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot write {out}/")
    assert f": {os.strerror(errno.ENOSPC)}" in result.output
    after = snapshot(out)
    assert not [p for p in after if Path(p).name.startswith((TEMP_PREFIX, LOCK_NAME))]
    new = snapshot_after_render(catalog, tmp_path / "new")
    assert any(after[path] == new[path] != old[path] for path in after), "parent wrote none"
    for path, content in after.items():
        assert content in (old.get(path), new.get(path)), f"{path} is partial"
