"""What each of extgen's second-process sites (extgen/parallel.py) is worth.

Runs validate, render into an empty OUT, the no-op render and `render --check` on a
synthetic catalog with every site on, with each site off alone, and with all of them off
(EXTGEN_PROCESSES=1), alternating within each repetition; prints the median and minimum
times and what each site saves, and appends the table to benchmarks/RESULTS.md.

    python benchmarks/parallel.py --deps 10000 --envs 4 --reps 5 --work-dir /dev/shm
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from generate import Shape, write_catalog
from run import WORK, machine, record, run_timed, source_state

SITES = ("parse", "write")
# Each variant: the sites turned off (None: all, through the switch users have).
VARIANTS: list[tuple[str, tuple[str, ...] | None]] = [
    ("all on", ()),
    *[(f"{site} off", (site,)) for site in SITES],
    ("all off (EXTGEN_PROCESSES=1)", None),
]
COMMANDS = ("validate", "render (empty OUT)", "render (no change)", "render --check")


def command(off: tuple[str, ...] | None, args: list[str]) -> list[str]:
    if off is None:
        return ["env", "EXTGEN_PROCESSES=1", sys.executable, "-m", "extgen", *args]
    code = (
        "import sys, extgen.parallel as p; p.off.update(sys.argv[1].split(',') if sys.argv[1]"
        " else ()); from extgen.cli import cli; cli(sys.argv[2:], prog_name='extgen')"
    )
    return [sys.executable, "-c", code, ",".join(off), *args]


def measure(work: Path, reps: int) -> dict[tuple[str, str], list[float]]:
    catalog, out = work / "catalog", work / "out"
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(reps):
        for name, off in VARIANTS:
            shutil.rmtree(out, ignore_errors=True)
            runs = {
                "validate": ["validate", "-c", str(catalog)],
                "render (empty OUT)": ["render", "-c", str(catalog), "-o", str(out)],
                "render (no change)": ["render", "-c", str(catalog), "-o", str(out)],
                "render --check": ["render", "--check", "-c", str(catalog), "-o", str(out)],
            }
            for label, args in runs.items():
                seconds = run_timed(command(off, args)).seconds
                times.setdefault((name, label), []).append(seconds)
    return times


def table(times: dict[tuple[str, str], list[float]]) -> list[str]:
    lines = [
        "| variant | " + " | ".join(f"{c} median (min) s" for c in COMMANDS) + " |",
        "|---|" + "--:|" * len(COMMANDS),
    ]
    for name, _ in VARIANTS:
        cells = []
        for label in COMMANDS:
            samples = times[(name, label)]
            cells.append(f"{statistics.median(samples):.2f} ({min(samples):.2f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    for site in SITES:
        saved = []
        for label in COMMANDS:
            on = statistics.median(times[("all on", label)])
            off = statistics.median(times[(f"{site} off", label)])
            saved.append(f"{label} {100 * (off - on) / off:+.0f}%")
        lines.append(f"- `{site}` saves (median, of the time with it off): {', '.join(saved)}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deps", type=int, default=10000)
    parser.add_argument("--envs", type=int, default=4)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--work-dir", type=Path, default=WORK)
    parser.add_argument("--no-record", action="store_true")
    options = parser.parse_args()
    options.work_dir.mkdir(parents=True, exist_ok=True)
    source = source_state()
    with tempfile.TemporaryDirectory(dir=options.work_dir) as directory:
        work = Path(directory)
        write_catalog(Shape(options.deps, options.envs), work / "catalog")
        times = measure(work, options.reps)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            f"## Second-process sites ({now}): N={options.deps:,} x E={options.envs},"
            f" {options.reps} rep(s)",
            "",
            f"- command: `{shlex.join(sys.orig_argv)}`",
            f"- machine: {machine()}",
            f"- extgen: {source}",
            "",
            *table(times),
        ]
    )
    print(text)
    if not options.no_record:
        record(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
