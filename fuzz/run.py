"""Run the catalog properties of tests/test_catalog_properties.py on many cases; record it.

The same three properties and the same kustomize build and verify as the tests, for
`--cases` cases in rounds: in each round hypothesis generates cases for the three
properties in the tests' proportions (150 : 60 : 400), then every catalog extgen accepted
in the round is built with kustomize and verified. Every number printed is counted as
it happens. See fuzz/README.md.

    .venv/bin/python fuzz/run.py --cases 100000 [--seed S] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "fuzz" / "README.md"
FAILURES = ROOT / "fuzz" / "failures"
BEGIN, END = "<!-- fuzz-results:begin -->", "<!-- fuzz-results:end -->"
COLUMNS = [
    "date (UTC)",
    "machine",
    "extgen source",
    "command",
    "cases",
    "accepted / refused",
    "built and verified",
    "crashes and violations",
    "known bug hits",
    "duration",
]

sys.path.insert(0, str(ROOT / "tests"))
import test_catalog_properties as properties  # noqa: E402


@dataclass(frozen=True)
class Property:
    name: str
    share: int  # cases per round, relative to the others (the tests' default examples)
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], properties.Accepted | None]


PROPERTIES = [
    Property("valid catalogs", 150, properties.catalog_sources(), properties.check_valid_catalog),
    Property(
        "tricky text",
        60,
        st.tuples(properties.catalogs(), properties.dumpers()),
        lambda example: properties.check_tricky_text(*example),
    ),
    Property(
        "mutated catalogs", 400, properties.mutated_sources(), properties.check_mutated_catalog
    ),
]


KINDS = ("accepted", "refused")
MAX_SAVED = 100  # failures saved; hypothesis often finds one bug in many near-copies


class Fuzz:
    def __init__(self, work: Path, alone_every: int, failures: Path) -> None:
        self.overlays = properties.Overlays(work, alone_every)
        self.failures = failures
        self.counts: Counter[str] = Counter()
        self.saved: list[Path] = []

    @property
    def cases(self) -> int:
        """Cases checked to the end: accepted, or refused as they should be."""
        return sum(self.counts[f"{p.name}: {kind}"] for p in PROPERTIES for kind in KINDS)

    def run(self, prop: Property, examples: int, seed: int) -> None:
        """`examples` cases of one property; a failure is shrunk by hypothesis and saved."""
        last: list[Any] = []

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            print_blob=True,
        )
        @hypothesis.seed(seed)
        @given(prop.strategy)
        def case(example: Any) -> None:
            last[:] = [example]
            accepted = prop.check(example)
            if accepted is None:
                self.counts[f"{prop.name}: refused"] += 1
                return
            self.counts[f"{prop.name}: accepted"] += 1
            self.overlays.add(accepted)

        try:
            case()
        except Exception as error:  # a crash or a property violated: the point of the run
            self.counts["crashes and violations"] += 1
            self.save(prop.name, seed, _failure_text(error, last))

    def verify(self) -> None:
        for failure in self.overlays.verify():
            self.counts["crashes and violations"] += 1
            self.save("kustomize build and verify", None, failure)

    def save(self, name: str, seed: int | None, text: str) -> None:
        if len(self.saved) >= MAX_SAVED:
            return
        self.failures.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
        path = self.failures / f"{stamp}-{len(self.saved):03d}-{name.replace(' ', '-')}.txt"
        header = f"property: {name}\nhypothesis seed: {seed}\nextgen source: {source_state()}\n"
        path.write_text(header + "\n" + text, encoding="utf-8")
        self.saved.append(path)
        print(f"FAILURE in {name}: saved to {path}", flush=True)


def _failure_text(error: BaseException, last: list[Any]) -> str:
    """The error, and the last case run: after shrinking, the minimal failing example."""
    notes = "\n".join(getattr(error, "__notes__", []))
    trace = "".join(traceback.format_exception(error))
    return f"{trace}\n{notes}\n\nlast case run (the minimal failing one):\n{last[0]!r}\n"


def plan_round(size: int) -> list[tuple[Property, int]]:
    total = sum(p.share for p in PROPERTIES)
    return [(p, max(1, round(size * p.share / total))) for p in PROPERTIES]


def fuzz(args: argparse.Namespace, work: Path) -> tuple[Fuzz, float]:
    seeds = random.Random(args.seed)
    run = Fuzz(work, args.alone_every, args.failures)
    started = time.monotonic()
    rounds = 0
    while run.cases < args.cases:
        size = min(args.round, args.cases - run.cases)
        for prop, examples in plan_round(size):
            run.run(prop, examples, seeds.getrandbits(64))
        run.verify()
        rounds += 1
        elapsed = time.monotonic() - started
        rate = run.cases / elapsed
        left = max(0, args.cases - run.cases) / rate
        print(
            f"round {rounds}: {run.cases} cases, {run.counts['crashes and violations']}"
            f" crashes/violations, {elapsed:.0f} s, {rate:.1f} cases/s, ~{left / 60:.0f} min left",
            flush=True,
        )
    return run, time.monotonic() - started


def summary(run: Fuzz) -> dict[str, Any]:
    counts = {**run.counts, **run.overlays.counts}
    return {
        "cases": run.cases,
        "per property": {
            p.name: {k: run.counts[f"{p.name}: {k}"] for k in KINDS} for p in PROPERTIES
        },
        "accepted": sum(run.counts[f"{p.name}: accepted"] for p in PROPERTIES),
        "refused": sum(run.counts[f"{p.name}: refused"] for p in PROPERTIES),
        "verified": counts.get("catalogs verified", 0),
        "verified alone": counts.get("catalogs also verified with builds of their own", 0),
        "kustomize builds of batches": counts.get("kustomize builds of batches", 0),
        "environments built in batches": counts.get("environments built in batches", 0),
        "batches that fell back": counts.get("batches that did not build", 0)
        + counts.get("batches whose output could not be split", 0),
        "crashes and violations": counts.get("crashes and violations", 0),
        "known bug hits": {
            bug.name: counts.get(f"known bug: {bug.name}", 0) for bug in properties.KNOWN_BUGS
        },
        "failures saved": [str(path) for path in run.saved],
    }


def machine() -> str:
    libyaml = "with libyaml" if yaml.__with_libyaml__ else "without libyaml"
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()},"
        f" PyYAML {yaml.__version__} {libyaml}, hypothesis {hypothesis.__version__}"
    )


def source_state() -> str:
    """The extgen source fuzzed: commit, whether it had uncommitted changes, and a hash."""
    digest = hashlib.sha256()
    for path in sorted([*ROOT.glob("extgen/*.py"), *ROOT.glob("templates/*.j2")]):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    git = ["git", "--no-optional-locks", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "extgen", "templates"], capture_output=True, text=True
    )
    changes = " + uncommitted changes" if dirty.stdout.strip() else ""
    return f"{commit.stdout.strip() or 'no git'}{changes}, sha256 {digest.hexdigest()[:12]}"


def row(result: dict[str, Any], command: str, duration: float, source: str) -> str:
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    verified = (
        f"{result['verified']:,} catalogs ({result['environments built in batches']:,}"
        f" environments in {result['kustomize builds of batches']:,} batched builds;"
        f" {result['verified alone']:,} catalogs also built on their own)"
    )
    cells = [
        date,
        machine(),
        source,
        f"`{command}`",
        f"{result['cases']:,}",
        f"{result['accepted']:,} / {result['refused']:,}",
        verified,
        str(result["crashes and violations"]),
        "; ".join(f"{name}: {n}" for name, n in result["known bug hits"].items()) or "none open",
        f"{duration / 60:.1f} min",
    ]
    return "| " + " | ".join(cells) + " |"


def record(line: str) -> None:
    """Appends a row to the results table between the markers of fuzz/README.md."""
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN + "\n", 1)
    table, tail = rest.split(END, 1)
    rows = [r for r in table.splitlines() if r.startswith("| ") and not r.startswith("| date")]
    header = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    body = header + "".join(r + "\n" for r in [*rows, line])
    README.write_text(f"{head}{BEGIN}\n{body}{END}{tail}", encoding="utf-8")


def recorded() -> dict[str, str] | None:
    """The last row of the results table, by column, or None when there is none."""
    text = README.read_text(encoding="utf-8")
    table = text.split(BEGIN, 1)[1].split(END, 1)[0]
    rows = [r for r in table.splitlines() if r.startswith("| ") and not r.startswith("| date")]
    if not rows:
        return None
    cells = [cell.strip() for cell in rows[-1].strip("|").split(" | ")]
    return dict(zip(COLUMNS, cells, strict=True))


def _stopped(signum: int, frame: object) -> None:
    """Stopped with kill: leave through `finally`, which removes the work directory."""
    print(f"stopped by signal {signum}; nothing recorded", flush=True)
    sys.exit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases in total")
    parser.add_argument("--seed", type=int, help="of the whole run (default: a random one)")
    parser.add_argument("--round", type=int, default=1000, help="cases between builds")
    parser.add_argument(
        "--alone-every",
        type=int,
        default=100,
        help="verify every N-th accepted catalog also with builds of its own",
    )
    parser.add_argument("--failures", type=Path, default=FAILURES, help="where to save them")
    parser.add_argument("--work-dir", type=Path, help="for the rendered output (default: tmp)")
    parser.add_argument("--no-record", action="store_true", help="do not update fuzz/README.md")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stopped)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1_000_000)
    command = f"fuzz/run.py --cases {args.cases} --seed {args.seed}"
    source = source_state()
    print(f"{command}: {machine()}; extgen {source}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="extgen-fuzz-", dir=args.work_dir))
    try:
        run, duration = fuzz(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = summary(run)
    if source_state() != source:  # modules were loaded at the start; templates may reload
        source += f" (changed on disk during the run, to {source_state()})"
    print(json.dumps(result, indent=1) if args.json else row(result, command, duration, source))
    if not args.no_record:
        record(row(result, command, duration, source))
        print(f"recorded in {README.relative_to(ROOT)}")
    return 1 if result["crashes and violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
