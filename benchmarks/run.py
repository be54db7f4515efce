"""Benchmark extgen against the floor of the work it does, on a synthetic catalog.

Every measured command runs as a child process of this script, timed from start to exit
and with its peak RSS from GNU time (else `os.wait4`); the commands alternate within each
repetition and the table shows medians. See benchmarks/README.md for the columns and the targets.

    python benchmarks/run.py --deps 10000 --envs 4 [--reps 3] [--skip-verify] [--no-record]
    python benchmarks/run.py --deps 50000 --envs 4 --consumer-only --reps 1
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import pickle
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from generate import DEPENDENCIES_PER_FILE, Shape, dependency_name, write_catalog

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
WORK = HERE / "work"
MIB = 1024.0  # ru_maxrss and GNU time's %M are in KiB
RSS_TARGET_MIB = 300.0
CHANGED_SUFFIX = " (changed)"
# Children compile Python once and keep the bytecode here, as an installed extgen would
# have it; with PYTHONDONTWRITEBYTECODE set, the editable extgen would be compiled anew
# in every run. (A prefix keeps the .pyc files out of the source tree.)
PYCACHE = WORK / "pycache"
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else ""
RSS_SOURCE = (
    "GNU time (%M) of each command"
    if GNU_TIME
    else "os.wait4 ru_maxrss (includes this runner's own peak: an upper bound)"
)

# The floor: what any tool reading this catalog and writing this output must do. Run
# with the same interpreter as extgen, so interpreter start-up counts on both sides.
PARSE_CODE = """\
import pathlib, sys, yaml
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.yaml")):
    yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
"""
WRITE_CODE = """\
import os, pickle
with open(sys.argv[2], "rb") as handle:
    files = pickle.load(handle)
made = set()
for relative, data in files:
    path = os.path.join(sys.argv[3], relative)
    parent = os.path.dirname(path)
    if parent not in made:
        os.makedirs(parent, exist_ok=True)
        made.add(parent)
    with open(path, "wb") as handle:
        handle.write(data)
"""
FLOOR_CODE = PARSE_CODE + WRITE_CODE


class BenchmarkError(Exception):
    """A measured command failed or misbehaved: the numbers would mean nothing."""


@dataclass(frozen=True)
class Run:
    seconds: float
    rss_mib: float
    stdout: bytes


def run_timed(args: Sequence[str], ok: Sequence[int] = (0,)) -> Run:
    """Runs a program to completion: wall time and peak RSS (its own or a waited-for child's).

    The peak comes from GNU time when installed: a child exec'd straight from this
    process would start its `ru_maxrss` at this process's own high-water mark (Linux
    records the old address space's peak at exec), and this process holds the output.
    """
    with tempfile.TemporaryFile() as stderr, tempfile.NamedTemporaryFile("r") as peak:
        wrapper = [GNU_TIME, "-f", "%M", "-o", peak.name] if GNU_TIME else []
        start = time.perf_counter()
        process = subprocess.Popen(
            [*wrapper, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=child_environment(),
        )
        assert process.stdout is not None
        stdout = process.stdout.read()
        process.stdout.close()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in ok:
            stderr.seek(0)
            message = stderr.read().decode("utf-8", "replace")[-3000:]
            raise BenchmarkError(
                f"`{shlex.join(args)}` exited with {process.returncode}:\n{message}"
            )
        kib = int(peak.read().split()[-1]) if GNU_TIME else usage.ru_maxrss
    return Run(seconds, kib / MIB, stdout)


def child_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": str(PYCACHE)}


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_mib: float
    written: int | None = None  # files whose inode or mtime changed
    only_expected: bool | None = None  # the one-change render wrote only that dependency
    largest: float = 0.0  # the slowest single kustomize build (sequential builds)
    largest_dir: str = ""


@dataclass
class Measurement:
    key: str
    label: str
    measure: Callable[[int], Sample]
    samples: list[Sample] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(sample.seconds for sample in self.samples)

    def spread(self) -> str:
        times = [sample.seconds for sample in self.samples]
        return f"{min(times):.2f}-{max(times):.2f}"

    def peak_mib(self) -> float:
        return max(sample.rss_mib for sample in self.samples)


Snapshot = dict[str, tuple[int, int]]


def snapshot(root: Path) -> Snapshot:
    """(inode, mtime) of every file below root: a rename or a rewrite changes one."""
    found: Snapshot = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            found[os.path.relpath(path, root)] = (info.st_ino, info.st_mtime_ns)
    return found


def rewritten(before: Snapshot, after: Snapshot) -> set[str]:
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def read_output(root: Path) -> list[tuple[str, bytes]]:
    return [(path, (root / path).read_bytes()) for path in sorted(snapshot(root))]


def kustomize_command() -> list[str]:
    """The same choice as `extgen verify`: a standalone kustomize first, else kubectl's."""
    standalone = shutil.which("kustomize")
    if standalone:
        return [standalone, "build"]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    raise BenchmarkError("neither kustomize nor kubectl is on PATH")


def kustomizations(out: Path) -> list[Path]:
    """What a deployment builds (and verify builds): each shard, else the environment."""
    builds: list[Path] = []
    for env in sorted(path for path in out.iterdir() if path.is_dir() and path.name != "base"):
        shards = sorted(p for p in env.iterdir() if p.is_dir() and p.name.startswith("shard-"))
        builds += shards or [env]
    return builds


def filesystem(path: Path) -> str:
    """The type and mount point of the file system holding path, from /proc/mounts."""
    best = ("unknown file system", "")
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return best[0]
    resolved = path.resolve().as_posix()
    for line in mounts:
        _, point, kind, *_ = line.split()
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[1]):
            best = (kind, point)
    return f"{best[0]} ({best[1]})"


def extgen_command() -> list[str]:
    script = Path(sys.executable).parent / "extgen"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "extgen"]


class Bench:
    """The work directory, the catalog and OUT, and one function per measured command."""

    def __init__(self, work: Path, shape: Shape) -> None:
        self.work = work
        self.shape = shape
        self.catalog = work / "catalog"
        self.out = work / "out"
        self.blob = work / "output.pickle"
        self.extgen = extgen_command()
        self.kustomize = kustomize_command()
        self.workers = 1
        self.builds: list[Path] = []
        changed = shape.dependencies // 2
        self.changed_name = dependency_name(changed, shape)
        self.changed_line = re.compile(
            rf"^(    description: Synthetic \w+ dependency number {changed})"
            rf"({re.escape(CHANGED_SUFFIX)})?$",
            re.MULTILINE,
        )
        self.changed_file = self.catalog / f"deps-{changed // DEPENDENCIES_PER_FILE:03d}.yaml"
        self.changed_expected: set[str] = set()

    def kustomize_label(self) -> str:
        return " ".join([Path(self.kustomize[0]).name, *self.kustomize[1:]])

    def setup(self) -> None:
        write_catalog(self.shape, self.catalog)
        run_timed([*self.extgen, "render", "-c", str(self.catalog), "-o", str(self.out)])
        files = read_output(self.out)
        with self.blob.open("wb") as handle:
            pickle.dump(files, handle, protocol=pickle.HIGHEST_PROTOCOL)
        for warm_up in (self.parse, self.floor, self.validate):  # compile bytecode, fill caches
            warm_up(-1)
        self.builds = kustomizations(self.out)
        self.workers = max(1, min(len(self.builds), os.cpu_count() or 1))
        target = f"{self.changed_name}.yaml"
        self.changed_expected = {path for path, _ in files if Path(path).name == target}

    def python(self, code: str, *args: str) -> Run:
        return run_timed([sys.executable, "-c", code, *args])

    def parse(self, rep: int) -> Sample:
        run = self.python(PARSE_CODE, str(self.catalog))
        return Sample(run.seconds, run.rss_mib)

    def floor(self, rep: int) -> Sample:
        dest = self.work / f"floor-{rep}"
        run = self.python(FLOOR_CODE, str(self.catalog), str(self.blob), str(dest))
        written = len(snapshot(dest))
        shutil.rmtree(dest)
        return Sample(run.seconds, run.rss_mib, written)

    def extgen_run(self, *args: str, ok: Sequence[int] = (0,)) -> Run:
        return run_timed([*self.extgen, *args, "-c", str(self.catalog)], ok)

    def validate(self, rep: int) -> Sample:
        run = self.extgen_run("validate")
        return Sample(run.seconds, run.rss_mib)

    def render_empty(self, rep: int) -> Sample:
        dest = self.work / f"empty-{rep}"
        dest.mkdir()
        run = self.extgen_run("render", "-o", str(dest))
        written = len(snapshot(dest))
        shutil.rmtree(dest)
        return Sample(run.seconds, run.rss_mib, written)

    def render_noop(self, rep: int) -> Sample:
        before = snapshot(self.out)
        run = self.extgen_run("render", "-o", str(self.out))
        return Sample(run.seconds, run.rss_mib, len(rewritten(before, snapshot(self.out))))

    def render_one_change(self, rep: int) -> Sample:
        self.toggle_dependency()
        before = snapshot(self.out)
        run = self.extgen_run("render", "-o", str(self.out))
        changed = rewritten(before, snapshot(self.out))
        return Sample(run.seconds, run.rss_mib, len(changed), changed == self.changed_expected)

    def toggle_dependency(self) -> None:
        """Changes the description of one dependency, or changes it back."""
        text = self.changed_file.read_text(encoding="utf-8")
        found = list(self.changed_line.finditer(text))
        if len(found) != 1:
            raise BenchmarkError(f"cannot find {self.changed_name} in {self.changed_file}")
        line, suffix = found[0].group(1), found[0].group(2)
        new = line if suffix else line + CHANGED_SUFFIX
        start, end = found[0].span()
        self.changed_file.write_text(text[:start] + new + text[end:], encoding="utf-8")

    def render_check(self, rep: int) -> Sample:
        run = self.extgen_run("render", "--check", "-o", str(self.out))
        return Sample(run.seconds, run.rss_mib)

    def verify(self, rep: int) -> Sample:
        run = self.extgen_run("verify", "-o", str(self.out))
        return Sample(run.seconds, run.rss_mib)

    def kustomize_sequential(self, rep: int) -> Sample:
        runs = [run_timed([*self.kustomize, str(d)]) for d in self.builds]
        slowest = max(range(len(runs)), key=lambda index: runs[index].seconds)
        return Sample(
            sum(run.seconds for run in runs),
            max(run.rss_mib for run in runs),
            largest=runs[slowest].seconds,
            largest_dir=self.builds[slowest].relative_to(self.out).as_posix(),
        )

    def kustomize_parallel(self, rep: int) -> Sample:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            runs = list(pool.map(lambda d: run_timed([*self.kustomize, str(d)]), self.builds))
        return Sample(time.perf_counter() - start, max(run.rss_mib for run in runs))

    def measurements(self, skip_verify: bool, consumer_only: bool = False) -> list[Measurement]:
        builds = len(self.builds)
        sequential = Measurement(
            "kseq", f"kustomize builds, sequential ({builds})", self.kustomize_sequential
        )
        if consumer_only:
            return [sequential]
        rows = [
            Measurement("parse", "parse alone (PyYAML C loader)", self.parse),
            Measurement("floor", "**floor** (parse + write output)", self.floor),
            Measurement("validate", "`extgen validate`", self.validate),
            Measurement("render", "`extgen render` (empty OUT)", self.render_empty),
            Measurement("noop", "`extgen render` (no change)", self.render_noop),
            Measurement(
                "change", "`extgen render` (one dependency changed)", self.render_one_change
            ),
            Measurement("check", "`extgen render --check`", self.render_check),
        ]
        if not skip_verify:
            rows += [
                Measurement("verify", "`extgen verify`", self.verify),
                sequential,
                Measurement(
                    "kpar",
                    f"kustomize builds, {self.workers} at a time ({builds})",
                    self.kustomize_parallel,
                ),
            ]
        return rows


def measure(bench: Bench, rows: list[Measurement], reps: int) -> None:
    """Round robin: every command once per repetition, in the same order."""
    for rep in range(reps):
        for row in rows:
            os.sync()  # so that no command waits for the writeback of an earlier one
            sample = row.measure(rep)
            row.samples.append(sample)
            print(
                f"rep {rep + 1}/{reps} {row.key:<9} {sample.seconds:8.2f} s"
                f" {sample.rss_mib:7.1f} MiB",
                file=sys.stderr,
                flush=True,
            )


@dataclass(frozen=True)
class Verdict:
    target: str
    passed: bool
    value: str


def verdicts(rows: dict[str, Measurement], expected_changed: int) -> dict[str, Verdict]:
    found: dict[str, Verdict] = {}
    if "floor" not in rows:  # --consumer-only
        return found
    floor = rows["floor"].median()

    def ratio(key: str, base: float, limit: float, what: str, extra: bool = True) -> None:
        value = rows[key].median() / base
        found[key] = Verdict(f"<= {limit}x {what}", value <= limit and extra, f"{value:.2f}x")

    ratio("validate", rows["parse"].median(), 1.5, "parse alone")
    ratio("render", floor, 2.0, "floor")
    noop_written = max(sample.written or 0 for sample in rows["noop"].samples)
    ratio("noop", floor, 1.3, "floor, 0 files written", noop_written == 0)
    only = all(sample.only_expected for sample in rows["change"].samples)
    ratio("change", floor, 1.3, f"floor, only its {expected_changed} files written", only)
    ratio("check", floor, 1.3, "floor")
    if "verify" in rows:
        ratio("verify", rows["kpar"].median(), 1.5, "its kustomize builds (same parallelism)")
    return found


def table(rows: list[Measurement], found: dict[str, Verdict], deps: int) -> str:
    floor = next((row.median() for row in rows if row.key == "floor"), None)
    lines = [
        "| measurement | median s | min-max s | x floor | ms / dep | peak RSS MiB | files"
        " written | target | result |",
        "|---|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for row in rows:
        verdict = found.get(row.key)
        written = [s.written for s in row.samples if s.written is not None]
        cells = [
            row.label,
            f"{row.median():.2f}",
            row.spread(),
            f"{row.median() / floor:.2f}" if floor else "",
            f"{row.median() * 1000 / deps:.3f}",
            f"{row.peak_mib():.0f}",
            str(max(written)) if written else "",
            verdict.target if verdict else "",
            f"{'PASS' if verdict.passed else 'FAIL'} ({verdict.value})" if verdict else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(bench: Bench, rows: dict[str, Measurement]) -> list[str]:
    extgen_rows = [
        row for key, row in rows.items() if key not in ("parse", "floor", "kseq", "kpar")
    ]
    if not extgen_rows:  # --consumer-only
        return [consumer(bench, rows["kseq"])]
    heaviest = max(extgen_rows, key=lambda row: row.peak_mib())
    rss_ok = heaviest.peak_mib() <= RSS_TARGET_MIB
    lines = [
        f"- peak RSS of every extgen command <= {RSS_TARGET_MIB:.0f} MiB:"
        f" {'PASS' if rss_ok else 'FAIL'}"
        f" (largest: {heaviest.label}, {heaviest.peak_mib():.0f} MiB)"
    ]
    change = rows["change"].samples
    lines.append(
        f"- one-change render: {bench.changed_name} changed; files rewritten per repetition"
        f" {[s.written for s in change]}, expected exactly {len(bench.changed_expected)}"
        f" ({'only' if all(s.only_expected for s in change) else 'NOT only'} that"
        " dependency's files)"
    )
    if "verify" in rows:
        sequential, parallel = rows["kseq"].median(), rows["kpar"].median()
        verify = rows["verify"].median()
        lines += [
            f"- verify builds {len(bench.builds)} kustomizations on"
            f" {bench.workers} threads (min(builds, os.cpu_count()={os.cpu_count()})); the same"
            f" builds take {sequential:.2f} s one after another and {parallel:.2f} s"
            f" {bench.workers} at a time (speed-up {sequential / parallel:.2f}x); verify takes"
            f" {verify / parallel:.2f}x the parallel builds and {verify / sequential:.2f}x the"
            " sequential ones",
            consumer(bench, rows["kseq"]),
        ]
    return lines


def consumer(bench: Bench, sequential: Measurement) -> str:
    """What a deployment pays: every kustomization built once, and the slowest one alone."""
    largest = statistics.median(sample.largest for sample in sequential.samples)
    where = max(sequential.samples, key=lambda sample: sample.largest).largest_dir
    return (
        f"- consumer (`{bench.kustomize_label()}` of each kustomization a deployment builds,"
        " one after another):"
        f" {len(bench.builds)} kustomizations, total {sequential.median():.2f} s,"
        f" largest {largest:.2f} s ({where})"
    )


def machine() -> str:
    memory = "unknown memory"
    cpu = platform.processor() or "unknown CPU"
    try:
        meminfo = Path("/proc/meminfo").read_text()
        kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
        memory = f"{kib / 1024 / 1024:.1f} GiB memory"
        model = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = model.group(1).strip() if model else cpu
    except (OSError, AttributeError):
        pass
    libyaml = "with libyaml (CSafeLoader)" if yaml.__with_libyaml__ else "pure Python, no libyaml"
    return (
        f"{os.cpu_count()} cores (os.cpu_count), {memory}, {cpu}; Python"
        f" {platform.python_version()}; PyYAML {yaml.__version__} {libyaml}"
    )


def source_state() -> str:
    """The extgen source measured: commit, uncommitted changes, and a hash of the files."""
    root = HERE.parent
    digest = hashlib.sha256()
    for path in sorted([*root.glob("extgen/*.py"), *root.glob("templates/*.j2")]):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    fingerprint = f"source sha256 {digest.hexdigest()[:12]}"

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(root), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return f"not a git checkout, {fingerprint}"
    dirty = git("status", "--porcelain", "--", "extgen", "templates")
    changes = " with uncommitted changes in extgen/ or templates/" if dirty else ""
    return f"commit {commit}{changes}, {fingerprint}"


def source_changes(at_start: str) -> str:
    """The source state, and a warning when it changed while the benchmark ran."""
    at_end = source_state()
    if at_end == at_start:
        return at_start
    return (
        f"**changed during the run** (another edit landed; the numbers mix versions):"
        f" at the start {at_start}, at the end {at_end}"
    )


def kustomize_version(command: list[str]) -> str:
    args = (
        [command[0], "version", "--client"]
        if command[1] == "kustomize"
        else [command[0], "version"]
    )
    output = subprocess.run(args, capture_output=True, text=True, check=False).stdout
    found = re.search(r"Kustomize Version:\s*(\S+)", output) or re.search(r"v\d+\.\d+\.\d+", output)
    return found.group(found.lastindex or 0) if found else "version unknown"


def report(bench: Bench, rows: list[Measurement], reps: int, source: str) -> str:
    by_key = {row.key: row for row in rows}
    found = verdicts(by_key, len(bench.changed_expected))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    shape = bench.shape
    files = sum(1 for _ in snapshot(bench.out))
    shards = sum(1 for build in bench.builds if build.name.startswith("shard-"))
    kustomize = bench.kustomize_label()
    lines = [
        f"## {now}: N={shape.dependencies:,} dependencies x E={shape.environments} environments,"
        f" {reps} rep(s)",
        "",
        f"- command: `{shlex.join(sys.orig_argv)}`",
        f"- machine: {machine()}",
        f"- extgen: {source_changes(source)};"
        f" kustomize: `{kustomize}` ({kustomize_version(bench.kustomize)})",
        f"- N={shape.dependencies}, E={shape.environments}, reps={reps}, seed={shape.seed};"
        f" output: {files} files, {len(bench.builds)} kustomizations"
        f" ({shards} shard directories); work directory on {filesystem(bench.work)};"
        f" peak RSS from {RSS_SOURCE}",
        "",
        table(rows, found, shape.dependencies),
        "",
        *summary(bench, by_key),
    ]
    return "\n".join(lines) + "\n"


def record(text: str) -> None:
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nThe current records; earlier ones are in git history.\n"
        )
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write("\n" + text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deps", type=int, required=True, help="number of dependencies")
    parser.add_argument("--envs", type=int, required=True, help="number of environments")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="catalog seed (default 0)")
    parser.add_argument("--skip-verify", action="store_true", help="no verify, no kustomize")
    parser.add_argument(
        "--consumer-only",
        action="store_true",
        help="only the consumer column: every kustomization a deployment builds, one at a time",
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=WORK,
        help="where to make the work directory (default benchmarks/work; /dev/shm for tmpfs)",
    )
    args = parser.parse_args(argv)
    if args.deps < 1 or args.envs < 1 or args.reps < 1:
        parser.error("--deps, --envs and --reps must be at least 1")
    WORK.mkdir(exist_ok=True)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"n{args.deps}-e{args.envs}-", dir=args.work_dir))
    source = source_state()
    try:
        bench = Bench(work, Shape(args.deps, args.envs, args.seed))
        bench.setup()
        rows = bench.measurements(args.skip_verify, args.consumer_only)
        measure(bench, rows, args.reps)
        text = report(bench, rows, args.reps, source)
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(text)
    if not args.no_record:
        record(text)
        print(f"appended to {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
