"""How long `extgen doctor` takes, and how much memory, for N hostname targets.

A catalog of N dependencies, each with one hostname target below bench.doctor.test, is
checked against the test DNS server on loopback (dnsmasq when installed, else Twisted
Names: tests/dns_server.py), at doctor's default concurrency. Each N is run once:

    .venv/bin/python benchmarks/doctor.py [--sizes 1000 2000 5000 10000] [--no-record]

Prints a Markdown table and appends it to benchmarks/RESULTS.md. Targets: 10,000 within
10 s, peak RSS within 200 MiB.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
sys.path.insert(0, str(ROOT / "tests"))
import dns_server  # noqa: E402

TIME = "/usr/bin/time"
SECONDS_TARGET, RSS_TARGET_MIB, TARGET_N = 10.0, 200, 10_000


def catalog(directory: Path, n: int) -> Path:
    lines = ["environments:", "  prod: {namespace: apps}", "dependencies:"]
    host = f"{dns_server.BENCH}.{dns_server.ZONE}"
    lines += [f"  - {{name: d{i:05d}, targets: {{prod: t{i}.{host}}}}}" for i in range(n)]
    path = directory / f"catalog-{n}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure(path: Path, resolver: str, one_process: bool = False) -> tuple[float, float, int, int]:
    """Wall seconds, CPU seconds (user + system, every process), peak RSS in KiB and exit
    code of one doctor run."""
    command = [str(ROOT / ".venv/bin/extgen"), "--format", "json", "doctor", "-c", str(path)]
    command += ["--resolver", resolver]
    if os.access(TIME, os.X_OK):
        command = [TIME, "-f", "%M", *command]
    started = time.monotonic()
    env = {**os.environ, "EXTGEN_PROCESSES": "1"} if one_process else None
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    stderr = process.stderr.read() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    kib = int(last) if os.access(TIME, os.X_OK) and last.isdigit() else usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, kib, process.returncode


def servers() -> tuple[str, list[subprocess.Popen[str]]]:
    twisted, twisted_port = dns_server.start_twisted()
    dnsmasq = shutil.which("dnsmasq", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if dnsmasq is None:
        return f"Twisted Names at 127.0.0.1:{twisted_port}", [twisted]
    silent = dns_server.free_udp_port()
    server, port = dns_server.start_dnsmasq(dnsmasq, twisted_port, silent)
    return f"dnsmasq at 127.0.0.1:{port}", [twisted, server]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000, 10_000])
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    load = os.getloadavg()
    which, started = servers()
    resolver = which.rsplit(" ", 1)[1]
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory() as directory:
            for n in args.sizes:
                path = catalog(Path(directory), n)
                for one_process in (False, True) if n == max(args.sizes) else (False,):
                    seconds, cpu, kib, code = measure(path, resolver, one_process)
                    rows.append((n, seconds, cpu, kib, code, one_process))
                    alone = " (one process)" if one_process else ""
                    print(f"{n} targets{alone}: {seconds:.2f} s, {kib / 1024:.0f} MiB, exit {code}")
    finally:
        for server in started:
            server.kill()
    record = report(rows, which, " ".join(["benchmarks/doctor.py", *sys.argv[1:]]), load)
    print(record)
    if not args.no_record:
        with RESULTS.open("a", encoding="utf-8") as results:
            results.write("\n" + record)


Row = tuple[int, float, float, int, int, bool]


def report(rows: list[Row], which: str, given: str, load: tuple[float, ...]) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    lines = [
        f"## {now}: extgen doctor, hostname targets against a local DNS server",
        "",
        f"- command: `.venv/bin/python {given}`",
        f"- machine: {os.cpu_count()} cores, Python {platform.python_version()}; extgen commit"
        f" {commit}; resolver: {which}; default concurrency (64), one run per size",
        "- each target is two queries (A and AAAA), the catalog one file",
        "- peak RSS: of the largest process (GNU time's %M); from 1,000 targets two"
        " processes share them, `EXTGEN_PROCESSES=1` keeps one",
        f"- load average (1 min) at start and end: {load[0]:.1f}, {os.getloadavg()[0]:.1f}"
        " (the machine is shared: wall time grows with the load, CPU time much less)",
        "",
        "| targets | processes | wall s | CPU s | ms wall / target | peak RSS MiB | exit |",
        "|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for n, seconds, cpu, kib, code, one in rows:
        processes = 1 if one or n < 1000 else 2
        lines.append(
            f"| {n:,} | {processes} | {seconds:.2f} | {cpu:.2f} | {1000 * seconds / n:.3f}"
            f" | {kib / 1024:.0f} | {code} |"
        )
    target = [row for row in rows if row[0] == TARGET_N and not row[5]]
    if target:
        _, seconds, _, kib, _, _ = target[0]
        met = seconds <= SECONDS_TARGET and kib / 1024 <= RSS_TARGET_MIB
        lines += [
            "",
            f"- 10,000 targets within {SECONDS_TARGET:g} s and {RSS_TARGET_MIB} MiB:"
            f" {'met' if met else 'NOT met'} ({seconds:.2f} s, {kib / 1024:.0f} MiB)",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
