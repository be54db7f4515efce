"""Profile `extgen render` into an empty OUT with pyinstrument; list the hot spots.

Needs pyinstrument in the same environment (`.venv/bin/pip install pyinstrument`; it is
not a dependency of extgen). The command runs under `python -m pyinstrument`, so imports
and interpreter start-up are in the profile too.

    python benchmarks/profile_render.py --deps 10000 --envs 4 [--top 15] [--record]
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generate import Shape, write_catalog
from run import RESULTS, WORK, filesystem, machine, record, source_state


@dataclass(frozen=True)
class HotSpot:
    function: str
    where: str
    self_seconds: float
    total_seconds: float


def frames(frame: Any, stack: tuple[str, ...] = ()) -> Iterator[tuple[Any, bool]]:
    """Every frame, and whether it is the outermost call of its function on the stack."""
    key = _key(frame)
    yield frame, key not in stack
    for child in frame.children:
        yield from frames(child, (*stack, key))


def _key(frame: Any) -> str:
    return f"{frame.function}\0{frame.file_path}\0{frame.line_no}"


def _where(frame: Any) -> str:
    path = str(frame.file_path or "")
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{frame.line_no}"


def hot_spots(root: Any) -> list[HotSpot]:
    """Self and inclusive time per function (recursion counted once)."""
    own: dict[str, float] = defaultdict(float)
    total: dict[str, float] = defaultdict(float)
    where: dict[str, tuple[str, str]] = {}
    for frame, outermost in frames(root):
        if frame.is_synthetic:
            continue
        key = _key(frame)
        own[key] += frame.total_self_time
        if outermost:
            total[key] += frame.time
        where[key] = (frame.function, _where(frame))
    return [HotSpot(*where[key], own[key], total[key]) for key in where]


def profile(catalog: Path, out: Path, session: Path) -> list[str]:
    command = [sys.executable, "-m", "pyinstrument", "-r", "pyisession", "-o", str(session)]
    command += ["-m", "extgen", "render", "-c", str(catalog), "-o", str(out)]
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return command


def report(spots: list[HotSpot], duration: float, top: int, command: str, where: str) -> str:
    def rows(ranked: list[HotSpot], value: str, count: int = top) -> list[str]:
        lines = ["| function | where | share |", "|---|---|--:|"]
        for spot in ranked[:count]:
            seconds = spot.self_seconds if value == "self" else spot.total_seconds
            lines.append(f"| `{spot.function}` | {spot.where} | {seconds / duration:.1%} |")
        return lines

    by_self = sorted(spots, key=lambda spot: -spot.self_seconds)
    extgen = [spot for spot in spots if spot.where.startswith(("extgen/", "templates/"))]
    by_total = sorted(extgen, key=lambda spot: -spot.total_seconds)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"## Profile: `extgen render` into an empty OUT ({now})",
            "",
            f"- command: `{command}`",
            f"- machine: {machine()}",
            f"- extgen: {source_state()}; profiled wall time {duration:.1f} s;"
            f" work directory on {where}",
            "",
            "Self time (time in the function itself), share of the whole run:",
            "",
            *rows(by_self, "self"),
            "",
            "extgen's functions by inclusive time (the function and what it calls):",
            "",
            *rows(by_total, "total", top + 10),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    from pyinstrument.session import Session  # optional: only this script needs it

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deps", type=int, default=10000, help="dependencies (default 10000)")
    parser.add_argument("--envs", type=int, default=4, help="environments (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="catalog seed (default 0)")
    parser.add_argument("--top", type=int, default=15, help="rows per table (default 15)")
    parser.add_argument("--record", action="store_true", help=f"append to {RESULTS.name}")
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML report here")
    parser.add_argument(
        "--work-dir", type=Path, default=WORK, help="where to make the work directory"
    )
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="profile-", dir=args.work_dir))
    try:
        write_catalog(Shape(args.deps, args.envs, args.seed), work / "catalog")
        session_file = work / "render.pyisession"
        command = profile(work / "catalog", work / "out", session_file)
        session = Session.load(session_file)
        if args.html:
            from pyinstrument.renderers import HTMLRenderer

            args.html.write_text(HTMLRenderer().render(session), encoding="utf-8")
        root = session.root_frame()
        assert root is not None
        shown = shlex.join([Path(command[0]).name, *command[1:]]).replace(str(work), "WORK")
        text = report(hot_spots(root), session.duration, args.top, shown, filesystem(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(text)
    if args.record:
        record(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
