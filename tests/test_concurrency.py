"""Two renders into one OUT never interleave: OUT's lock, and what happens when a holder dies."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from helpers import run, snapshot, write_catalog
from test_faults import catalog_text, restore

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


@dataclass
class Pairs:
    """Pairs of renders of two different catalogs started together into one OUT."""

    pairs: int = 0
    overlapped: int = 0  # both were running when the first of them took OUT's lock
    failed: int = 0  # a render exited non-zero
    mixed: int = 0  # OUT afterwards was neither catalog's complete output


def concurrent_pairs(work: Path, pairs: int, dependencies: int = 100) -> Pairs:
    """Each pair starts from a third catalog's output, so both renders rewrite every file;
    the two catalogs share some dependencies (files both write, differently) and not others
    (files one creates and the other deletes). Whichever ends last wins, entirely."""
    # "two" has the dependencies of "one" but the first quarter, and half as many more.
    dropped = {f"name: svc-{index:04d}," for index in range(dependencies // 4)}
    two = catalog_text(dependencies + dependencies // 2, "two").splitlines(keepends=True)
    catalogs = {
        "zero": catalog_text(dependencies, "zero"),
        "one": catalog_text(dependencies, "one"),
        "two": "".join(line for line in two if not any(name in line for name in dropped)),
    }
    trees = {}
    for name, text in catalogs.items():
        (work / f"{name}.yaml").write_text(text)
        command = render_command(work / f"{name}.yaml", work / name)
        subprocess.run(command, check=True, capture_output=True)
        trees[name] = snapshot(work / name)
    assert set(trees["one"]) - set(trees["two"]) and set(trees["two"]) - set(trees["one"])
    out = work / "out"
    order = random.Random(20261122)
    result = Pairs()
    for _ in range(pairs):
        restore(out, trees["zero"])
        names = order.sample(["one", "two"], 2)
        renders = [
            subprocess.Popen(render_command(work / f"{name}.yaml", out), stderr=subprocess.DEVNULL)
            for name in names
        ]
        while not (out / LOCK_NAME).exists() and any(r.poll() is None for r in renders):
            time.sleep(0.002)
        result.overlapped += all(r.poll() is None for r in renders)
        result.failed += sum(r.wait() != 0 for r in renders)
        result.mixed += snapshot(out) not in (trees["one"], trees["two"])
        result.pairs += 1
    return result


def test_concurrent_renders_of_different_catalogs_never_mix(tmp_path: Path) -> None:
    pairs = concurrent_pairs(tmp_path, 2, dependencies=20)
    assert pairs.failed == pairs.mixed == 0
    assert pairs.overlapped > 0
