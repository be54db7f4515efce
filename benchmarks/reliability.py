"""The figures of the "Reliability" section of docs/performance.md, measured anew.

- every row of the bad-catalog tables in tests/test_bad_catalogs.py and
  tests/test_cluster_rules.py through the real `extgen validate` (one process per row):
  refused, with exactly the expected errors at the expected file:line:column;
- fuzzing: the result recorded in fuzz/README.md by fuzz/run.py, or, with --fuzz-cases N,
  a run of N cases now;
- `kill -9` of renders while they write (tests/test_faults.py's machinery): partial files
  after the kill, files left over after the next render;
- pairs of renders of different catalogs started together into one OUT
  (tests/test_concurrency.py's machinery): trees that are not one render's complete output.

    .venv/bin/python benchmarks/reliability.py [--kills 200] [--pairs 50] [--update-readme]

Prints a Markdown table; --update-readme also writes it into docs/performance.md between the
reliability markers. Exits 1 if any figure shows a failure.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- reliability:begin -->", "<!-- reliability:end -->"

sys.path.insert(0, str(ROOT / "tests"))
import test_bad_catalogs as bad  # noqa: E402
import test_cluster_rules as cluster  # noqa: E402
from test_concurrency import concurrent_pairs  # noqa: E402
from test_faults import kill_renders  # noqa: E402


@dataclass(frozen=True)
class Figure:
    check: str
    result: str
    how: str
    failures: int


Judge = Callable[[Path, list[str]], tuple[bool, bool]]


@dataclass(frozen=True)
class Hostile:
    """A bad catalog: its files (one file, or a directory's), and how to judge the errors
    printed for it: (every error at the expected place, exactly the expected lines)."""

    name: str
    files: dict[str, str]
    single_file: bool
    judge: Judge


def _exactly(expected: Callable[[Path], list[str]]) -> Judge:
    def judge(path: Path, lines: list[str]) -> tuple[bool, bool]:
        wanted = expected(path)
        return positions(lines) == positions(wanted), lines == wanted

    return judge


def _alias_bomb(path: Path, lines: list[str]) -> tuple[bool, bool]:
    """As test_alias_bomb_fails_fast: where the expansion stops depends on the budget."""
    message = r":(\d+):\d+: error: YAML aliases expand to too many values \(an alias bomb\?\)"
    match = re.fullmatch(re.escape(str(path)) + message, lines[0]) if len(lines) == 1 else None
    ok = match is not None and 6 <= int(match[1]) <= 14
    return ok, ok


def _oversized(path: Path) -> list[str]:
    size = path.stat().st_size
    limit = "catalog files are limited to 10485760 bytes"
    return [f"{path}:1:1: error: file is {size} bytes; {limit}"]


def hostile_catalogs() -> list[Hostile]:
    rows = [
        Hostile(
            name, {"catalog.yaml": text}, True, _exactly(partial(bad.expected_lines, expected=e))
        )
        for name, text, e in [*bad.BAD_CATALOGS, *cluster.CLUSTER_ROWS]
    ]
    rows += [
        Hostile(name, files, False, _exactly(partial(_multi_file, expected=e)))
        for name, files, e in [*bad.MULTI_FILE, *cluster.CLUSTER_MULTI_FILE]
    ]
    big = bad.ENVIRONMENTS + "# " + "x" * (10 * 1024 * 1024) + "\n"
    return [
        *rows,
        Hostile(
            "alias-bomb",
            {"catalog.yaml": bad.with_environments(bad.BILLION_LAUGHS)},
            True,
            _alias_bomb,
        ),
        Hostile("file-over-10-mib", {"catalog.yaml": big}, True, _exactly(_oversized)),
    ]


def _multi_file(root: Path, expected: bad.MultiFileExpected) -> list[str]:
    return [
        f"{root / name}:{line}:{column}: error: {message.replace('{root}', str(root))}"
        for name, line, column, message in expected
    ]


def extgen_command() -> list[str]:
    script = Path(sys.executable).parent / "extgen"
    return [str(script)] if script.exists() else [sys.executable, "-m", "extgen"]


def positions(lines: list[str]) -> list[str]:
    return [line.split(": error: ", 1)[0] for line in lines]


def measure_hostile(work: Path, limit: int | None) -> Figure:
    rows = hostile_catalogs()[:limit]
    at_position = exact = 0
    wrong = []
    for index, row in enumerate(rows):
        root = work / f"hostile-{index:03d}"
        for name, text in row.files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
        catalog = root / "catalog.yaml" if row.single_file else root
        result = subprocess.run(
            [*extgen_command(), "validate", "-c", str(catalog)], capture_output=True, text=True
        )
        output = result.stdout + result.stderr
        refused = result.returncode == 1 and "Traceback" not in output
        placed, same = row.judge(catalog, bad.error_lines(output)) if refused else (False, False)
        at_position += placed
        exact += same
        if not same:
            wrong.append(row.name)
    if wrong:
        print(f"not refused exactly as expected: {', '.join(wrong)}", file=sys.stderr)
    return Figure(
        "hostile and bad catalogs, through `extgen validate`",
        f"{at_position} of {len(rows)} refused with every error at the expected"
        f" file:line:column ({exact} with exactly the expected messages too)",
        "every row of the tables of tests/test_bad_catalogs.py (injected YAML, tags, merge"
        " keys, loopback and metadata targets, ...) and tests/test_cluster_rules.py (system"
        " namespaces, collisions, ExternalName loops, wildcard-DNS and numeric addresses,"
        " URLs), an alias bomb and a file over 10 MiB; one process each",
        len(rows) - at_position,
    )


def fuzz_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_run", ROOT / "fuzz" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # for its dataclasses
    spec.loader.exec_module(module)
    return module


def measure_fuzz(cases: int | None) -> Figure:
    check = "fuzzing the catalog properties (fuzz/README.md)"
    if cases:
        command = [sys.executable, str(ROOT / "fuzz" / "run.py"), "--cases", str(cases)]
        run = subprocess.run([*command, "--no-record", "--json"], capture_output=True, text=True)
        result = json.loads(run.stdout[run.stdout.index("\n{") :])
        crashes = int(result["crashes and violations"])
        return Figure(
            check,
            f"{result['cases']:,} cases, {crashes} crashes or violations",
            f"run now: `fuzz/run.py --cases {cases}`; {result['verified']:,} accepted catalogs"
            " built with kustomize and verified",
            crashes,
        )
    row = fuzz_module().recorded()
    if row is None:
        return Figure(check, "no run recorded yet", "see fuzz/README.md", 1)
    crashes = int(row["crashes and violations"])
    return Figure(
        check,
        f"{row['cases']} cases, {crashes} crashes or violations",
        f"recorded {row['date (UTC)']} UTC by {row['command']} in {row['duration']};"
        f" {row['built and verified'].split(' (')[0]} built with kustomize and verified;"
        f" catalogs that hit known bugs (counted apart): {row['known bug hits']}",
        crashes,
    )


def measure_kills(work: Path, iterations: int, dependencies: int) -> Figure:
    kills = kill_renders(work, iterations, dependencies)
    failures = kills.partial_files + kills.not_repaired + kills.left_over
    return Figure(
        "`kill -9` of `extgen render` while it writes",
        f"{kills.iterations} kills ({kills.mid_write} while files were being replaced):"
        f" {kills.partial_files} partial files; after the next render"
        f" {kills.left_over} files left over, {kills.not_repaired} trees not repaired",
        f"{dependencies} dependencies x 2 environments ({kills.files} files), each"
        f" kill at a random moment while the render holds OUT's lock;"
        f" {kills.temporary_files} temporary files the kills left were cleaned up",
        failures,
    )


def measure_pairs(work: Path, pairs: int, dependencies: int) -> Figure:
    found = concurrent_pairs(work, pairs, dependencies)
    return Figure(
        "concurrent `extgen render` of different catalogs into one OUT",
        f"{found.pairs} pairs ({found.overlapped} overlapping): {found.mixed} trees mixing"
        f" the two renders, {found.failed} renders failed",
        f"two catalogs of {dependencies} and {dependencies * 5 // 4} dependencies that"
        " share some files; each final tree must be one render's complete output",
        found.mixed + found.failed,
    )


def machine() -> str:
    libyaml = "with libyaml" if yaml.__with_libyaml__ else "without libyaml"
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()},"
        f" PyYAML {yaml.__version__} {libyaml}"
    )


def table(figures: list[Figure]) -> str:
    lines = ["| check | result | how |", "|---|---|---|"]
    lines += [f"| {f.check} | {f.result} | {f.how} |" for f in figures]
    return "\n".join(lines) + "\n"


def update_readme(block: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{DOC} has no {BEGIN} ... {END} block")
    DOC.write_text(pattern.sub(lambda _: f"{BEGIN}\n{block}{END}", text), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, help="only the first N bad catalogs")
    parser.add_argument("--kills", type=int, default=200, help="kill -9 iterations")
    parser.add_argument("--kill-deps", type=int, default=400, help="dependencies of that catalog")
    parser.add_argument("--pairs", type=int, default=50, help="pairs of concurrent renders")
    parser.add_argument("--pair-deps", type=int, default=100, help="dependencies of those")
    parser.add_argument("--fuzz-cases", type=int, help="run the fuzzer now, for N cases")
    parser.add_argument(
        "--update-readme", action="store_true", help="write the figures into docs/performance.md"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="extgen-reliability-") as directory:
        work = Path(directory)
        for name in ("hostile", "kills", "pairs"):
            (work / name).mkdir()
        figures = [
            measure_hostile(work / "hostile", args.rows),
            measure_fuzz(args.fuzz_cases),
            measure_kills(work / "kills", args.kills, args.kill_deps),
            measure_pairs(work / "pairs", args.pairs, args.pair_deps),
        ]
    options = [arg for arg in (argv or sys.argv[1:]) if arg != "--update-readme"]
    command = " ".join(["benchmarks/reliability.py", *options])
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    block = (
        table(figures) + f"\nMeasured {date} on {machine()} by `{command}`"
        f" in {(time.monotonic() - started) / 60:.1f} min.\n"
    )
    print(block, end="")
    if args.update_readme:
        update_readme(block)
    return 1 if any(figure.failures for figure in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
