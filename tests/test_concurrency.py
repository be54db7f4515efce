"""Two renders into one OUT never interleave: OUT's lock, and what happens when a holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import run, snapshot, write_catalog

from extgen.output import LOCK_NAME, locked

HOLD = """
import sys, time
from pathlib import Path
from extgen.output import locked
with locked(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def render_command(catalog: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "extgen", "render", "-c", str(catalog), "-o", str(out), *extra]


def test_render_waits_for_the_lock_then_fails_clearly(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    out = tmp_path / "out"
    with locked(out):
        result = run("render", "-c", str(catalog), "-o", str(out), "--lock-timeout", "0.3")
        assert result.exit_code == 1
        assert result.output == (
            f"error: another extgen render is writing {out} (lock {out / LOCK_NAME}); waited 0 s\n"
        )
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]
    assert not (out / LOCK_NAME).exists()
    assert run("render", "-c", str(catalog), "-o", str(out)).exit_code == 0
    assert not (out / LOCK_NAME).exists()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (out / LOCK_NAME).exists()  # left behind, but no longer locked
    started = time.monotonic()
    result = subprocess.run(render_command(catalog, out, "--lock-timeout", "5"), check=False)
    assert result.returncode == 0
    assert time.monotonic() - started < 5


def test_concurrent_renders_serialise_and_agree(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    reference = tmp_path / "reference"
    assert run("render", "-c", str(catalog), "-o", str(reference)).exit_code == 0
    out = tmp_path / "out"
    for _ in range(5):
        renders = [subprocess.Popen(render_command(catalog, out)) for _ in range(4)]
        assert [process.wait() for process in renders] == [0, 0, 0, 0]
        assert snapshot(out) == snapshot(reference)
