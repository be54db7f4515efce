"""extgen doctor against real DNS servers on loopback and real TLS servers in a network
namespace of the test's own, with throwaway certificates.

The DNS cases run against Twisted Names (from the test extras) and, where it is installed,
Debian's dnsmasq; in CI (CI=true), where .ci/run installs dnsmasq, its absence fails.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns_server
import pytest
import yaml
from click.testing import CliRunner, Result
from helpers import count_forks, write_catalog

from extgen.catalog import read_catalog
from extgen.cli import cli
from extgen.doctor import Settings, diagnose
from extgen.doctor_dns import Resolver

HERE = Path(__file__).parent
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
DNSMASQ = shutil.which("dnsmasq", path=SBIN)
SERVERS = ["twisted"] + (["dnsmasq"] if DNSMASQ or os.environ.get("CI") == "true" else [])
START_SECONDS = 10


def _stop(server: subprocess.Popen[str]) -> None:
    server.kill()
    server.wait(5)
    if server.stdout is not None:
        server.stdout.close()


@pytest.fixture(scope="module")
def twisted_port() -> Iterator[int]:
    try:
        server, port = dns_server.start_twisted()
    except dns_server.ServerError as error:
        pytest.fail(str(error))
    yield port
    _stop(server)


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A UDP port where a socket is bound but nothing ever answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        yield int(silent.getsockname()[1])


@pytest.fixture(scope="module")
def dnsmasq_port(twisted_port: int, silent_port: int) -> Iterator[int]:
    if DNSMASQ is None:
        pytest.fail("CI=true but dnsmasq is not installed: .ci/run installs it with apt-get")
    try:
        server, port = dns_server.start_dnsmasq(DNSMASQ, twisted_port, silent_port)
    except dns_server.ServerError as error:
        pytest.fail(str(error))
    yield port
    _stop(server)


@pytest.fixture(scope="module", params=SERVERS)
def resolver(request: pytest.FixtureRequest) -> str:
    port = request.getfixturevalue(f"{request.param}_port")
    return f"127.0.0.1:{port}"


ENVIRONMENTS = """\
environments:
  dev: {namespace: apps-dev}
  prod:
    namespace: apps-prod
    allowedTargets: ["*.doctor.test", "192.0.2.0/24", "2001:db8::/32"]
"""
# label in the zone -> (environment, status, reason, message, details)
DNS_CASES: dict[str, tuple[str, str, str | None, str, dict[str, Any]]] = {
    "v4": (
        "dev",
        "ok",
        None,
        "v4.doctor.test resolves to 192.0.2.10 (TTL 300)",
        {"addresses": ["192.0.2.10"], "cnames": [], "ttl": 300},
    ),
    "v6": (
        "dev",
        "ok",
        None,
        "v6.doctor.test resolves to 2001:db8::10 (TTL 300)",
        {"addresses": ["2001:db8::10"], "cnames": [], "ttl": 300},
    ),
    "dual": (
        "prod",
        "ok",
        None,
        "dual.doctor.test resolves to 192.0.2.11, 2001:db8::11 (TTL 120)",
        {"addresses": ["192.0.2.11", "2001:db8::11"], "cnames": [], "ttl": 120},
    ),
    "alias": (
        "dev",
        "ok",
        None,
        "alias.doctor.test resolves through v4.doctor.test to 192.0.2.10 (TTL 60)",
        {"addresses": ["192.0.2.10"], "cnames": ["v4.doctor.test"], "ttl": 60},
    ),
    "chain": (
        "prod",
        "ok",
        None,
        "chain.doctor.test resolves through chain2.doctor.test -> chain3.doctor.test"
        " -> v4.doctor.test to 192.0.2.10 (TTL 30)",
        {
            "addresses": ["192.0.2.10"],
            "cnames": ["chain2.doctor.test", "chain3.doctor.test", "v4.doctor.test"],
            "ttl": 30,
        },
    ),
    "gone": ("dev", "error", "nxdomain", "gone.doctor.test does not exist (NXDOMAIN)", {}),
    "dangling": (
        "dev",
        "error",
        "nxdomain",
        "dangling.doctor.test is an alias of gone.doctor.test, which does not exist (NXDOMAIN)",
        {},
    ),
    "text-only": (
        "dev",
        "error",
        "no-address",
        "text-only.doctor.test exists but has no A or AAAA record",
        {},
    ),
    "loop-a": (
        "dev",
        "error",
        "cname-loop",
        "the CNAMEs of loop-a.doctor.test form a loop or a chain too long to follow",
        {},
    ),
    "hop0": (
        "dev",
        "error",
        "cname-loop",
        "hop0.doctor.test goes through more than 8 CNAMEs: hop0.doctor.test -> "
        + " -> ".join(f"hop{i}.doctor.test" for i in range(1, 10))
        + " ...",
        {},
    ),
    "metadata": (
        "prod",
        "error",
        "forbidden-address",
        "metadata.doctor.test resolves to 169.254.169.254, a cloud metadata service: extgen"
        " refuses such an endpoint, and doctor contacts it no further",
        {"addresses": ["169.254.169.254"], "cnames": [], "ttl": 300},
    ),
    "loopback": (
        "dev",
        "error",
        "forbidden-address",
        "loopback.doctor.test resolves to 127.0.0.1, a loopback address: extgen refuses such"
        " an endpoint, and doctor contacts it no further",
        {"addresses": ["127.0.0.1"], "cnames": [], "ttl": 300},
    ),
    "outside": (
        "prod",
        "error",
        "forbidden-address",
        "outside.doctor.test resolves to 198.51.100.7, outside the environment's"
        " allowedTargets (192.0.2.0/24, 2001:db8::/32): extgen refuses such an endpoint,"
        " and doctor contacts it no further",
        {"addresses": ["198.51.100.7"], "cnames": [], "ttl": 300},
    ),
    "broken": ("dev", "error", "servfail", "answered SERVFAIL", {}),
    "slow": ("dev", "error", "timeout", "no answer for slow.doctor.test from 127.0.0.1:", {}),
}


def _dns_catalog(root: Path) -> Path:
    lines = ["dependencies:"]
    for label, (env, *_) in DNS_CASES.items():
        name = "dep-" + label.replace("-", "")
        lines.append(f"  - {{name: {name}, targets: {{{env}: {dns_server.fqdn(label)}}}}}")
    files = {"environments.yaml": ENVIRONMENTS, "dependencies.yaml": "\n".join(lines) + "\n"}
    return write_catalog(root, files)


def doctor(*args: str) -> Result:
    return CliRunner().invoke(cli, ["doctor", *args])


@pytest.fixture(scope="module")
def dns_run(resolver: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, float]:
    catalog = _dns_catalog(tmp_path_factory.mktemp("dns"))
    started = time.monotonic()
    result = doctor(
        "-c", str(catalog), "--resolver", resolver, "--timeout", "1", "--format", "json"
    )
    return result, time.monotonic() - started


@pytest.mark.parametrize("label", list(DNS_CASES))
def test_dns_outcomes(dns_run: tuple[Result, float], label: str) -> None:
    result, _ = dns_run
    env, status, reason, message, details = DNS_CASES[label]
    checks = json.loads(result.stdout)["checks"]
    check = next(c for c in checks if c["target"] == dns_server.fqdn(label))
    assert (check["environment"], check["check"]) == (env, "dns")
    assert (check["status"], check["reason"]) == (status, reason), check["message"]
    if status == "ok" or reason == "forbidden-address":
        assert check["message"] == message
        assert check["details"] == details
    elif label in ("broken", "slow"):
        assert message in check["message"]
    else:
        assert check["message"] == message
        assert check["details"]["addresses"] == []


def test_dns_run_shape_exit_and_time(dns_run: tuple[Result, float]) -> None:
    result, seconds = dns_run
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert len(document["checks"]) == len(DNS_CASES)
    keys = [
        *("environment", "dependency", "target", "check", "status", "reason", "message"),
        *("file", "line", "column", "details"),
    ]
    for check in document["checks"]:
        assert list(check) == keys
        assert check["file"].endswith("dependencies.yaml")
        assert check["line"] == 2 + list(DNS_CASES).index(check["target"].split(".")[0])
    assert document["problems"] == []
    assert seconds < 10  # the slowest check (a dropped answer) ends at --timeout


def test_text_and_github_point_at_the_target(tmp_path: Path, twisted_port: int) -> None:
    catalog = write_catalog(
        tmp_path,
        {
            "environments.yaml": ENVIRONMENTS,
            "dependencies.yaml": """\
            dependencies:
              - name: orders-db
                targets:
                  dev: v4.doctor.test
                  prod: gone.doctor.test
            """,
        },
    )
    file = catalog / "dependencies.yaml"
    args = ("-c", str(catalog), "--resolver", f"127.0.0.1:{twisted_port}")
    text = doctor(*args)
    assert text.exit_code == 1
    assert text.stderr.splitlines() == [
        "ok      dns     dev/orders-db: v4.doctor.test resolves to 192.0.2.10 (TTL 300)",
        f"{file}:5:13: error: orders-db in prod: gone.doctor.test does not exist (NXDOMAIN)"
        " [nxdomain]",
        "doctor: 2 checks in 2 environments: 1 ok, 0 warnings, 1 error",
    ]
    github = doctor(*args, "--format", "github")
    assert github.stdout == (
        f"::error file={file},line=5,col=13::orders-db in prod: gone.doctor.test does not"
        " exist (NXDOMAIN) [nxdomain]\n"
    )
    only_dev = doctor(*args, "-e", "dev")
    assert only_dev.exit_code == 0
    assert only_dev.stderr.splitlines()[-1] == (
        "doctor: 1 check in 1 environment: 1 ok, 0 warnings, 0 errors"
    )


def test_a_second_process_gives_the_same_checks(
    tmp_path: Path, twisted_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = read_catalog(_dns_catalog(tmp_path))
    resolvers = (Resolver("127.0.0.1", twisted_port),)
    environments = tuple(catalog.environments)
    forks = count_forks(monkeypatch)
    runs = [
        diagnose(catalog, Settings(environments, resolvers, timeout=1, split_from=split_from))
        for split_from in (len(DNS_CASES) + 1, 1)
    ]
    assert len(forks) == 1  # the second run only
    one, two = ([check.as_json() for check in run.checks] for run in runs)
    assert one == two
    assert len(one) == len(DNS_CASES)


USAGE = [
    (["-e", "stage"], "unknown environment 'stage'; the catalog defines: dev, prod"),
    (["--resolver", "dns.example.com"], "'dns.example.com' is not IP[:PORT]"),
    (["--resolver", "127.0.0.1:99999"], "'127.0.0.1:99999' is not IP[:PORT]"),
    (["--timeout", "0"], "0 is not in the range x>=0.01"),
    (["--concurrency", "0"], "0 is not in the range 1<=x<=4096"),
]


@pytest.mark.parametrize(("args", "message"), USAGE)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    catalog = _dns_catalog(tmp_path)
    result = doctor("-c", str(catalog), *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_ca_file_that_is_not_pem_is_a_clear_error(tmp_path: Path) -> None:
    catalog = _dns_catalog(tmp_path)
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("hello\n", encoding="utf-8")
    result = doctor("-c", str(catalog), "--ca-file", str(not_pem), "--resolver", "192.0.2.1")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: --ca-file {not_pem}: not a PEM file of CA")
    assert "Traceback" not in result.output


def test_catalog_with_errors_is_reported_and_nothing_checked(tmp_path: Path) -> None:
    catalog = write_catalog(
        tmp_path,
        {
            "environments.yaml": ENVIRONMENTS,
            "dependencies.yaml": """\
            dependencies:
              - name: orders-db
                targets: {prdo: v4.doctor.test, dev: 10.0.0.1.nip.io}
            """,
        },
    )
    # A resolver that is never asked: nothing is checked.
    args = ("-c", str(catalog), "--resolver", "192.0.2.1", "--format", "json")
    result = doctor(*args)
    validate = CliRunner().invoke(cli, ["validate", "-c", str(catalog), "--format", "json"])
    assert result.exit_code == validate.exit_code == 1
    document = json.loads(result.stdout)
    assert document["problems"] == json.loads(validate.stdout)["problems"]
    assert len(document["problems"]) == 1
    assert "unknown environment 'prdo'" in document["problems"][0]["message"]
    assert document["checks"] == []
    text = doctor(*args[:-2])
    assert "Traceback" not in text.output
    assert text.stderr.splitlines()[0].startswith(f"{catalog / 'dependencies.yaml'}:3:")


@pytest.fixture
def garbage_port() -> Iterator[int]:
    """A resolver that answers every query with random bytes (for at most 30 s)."""
    script = textwrap.dedent(
        """\
        import os, socket, sys, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1], flush=True)
        s.settimeout(30)
        for _ in range(10000):
            data, peer = s.recvfrom(4096)
            s.sendto(os.urandom(len(data)), peer)
        """
    )
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield int(server.stdout.readline())
    finally:
        _stop(server)


@pytest.mark.parametrize("which", ["unreachable", "garbage"])
def test_bad_resolvers_end_in_time_with_a_clear_message(
    tmp_path: Path, which: str, request: pytest.FixtureRequest
) -> None:
    if which == "unreachable":
        port = dns_server.free_udp_port()
    else:
        port = request.getfixturevalue("garbage_port")
    catalog = write_catalog(
        tmp_path,
        {
            "environments.yaml": ENVIRONMENTS,
            "dependencies.yaml": "dependencies:\n  - {name: a, targets: {dev: v4.doctor.test}}\n",
        },
    )
    started = time.monotonic()
    result = doctor("-c", str(catalog), "--resolver", f"127.0.0.1:{port}", "--timeout", "0.5")
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert (
        f"error: a in dev: no answer for v4.doctor.test from 127.0.0.1:{port} within 0.5 s"
        " (nothing answered, or nothing that was a DNS answer) [timeout]"
    ) in result.stderr


def test_in_cluster_targets_are_noted_not_checked(tmp_path: Path) -> None:
    catalog = write_catalog(
        tmp_path,
        {
            "environments.yaml": ENVIRONMENTS,
            "dependencies.yaml": """\
            dependencies:
              - name: search
                allowInternal: true
                targets: {dev: search.data.svc.cluster.local}
            """,
        },
    )
    result = doctor("-c", str(catalog), "--resolver", "192.0.2.1", "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["checks"] == []
    assert document["notes"] == [
        "search in dev: search.data.svc.cluster.local is a Service inside the cluster,"
        " which only the cluster can check"
    ]


def test_help_says_what_it_contacts() -> None:
    result = doctor("--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "It contacts nothing but the resolvers" in text
    assert "not for the cluster's" in text


# --- TLS and TCP, inside a network namespace ------------------------------------------

TLS_CATALOG = """\
environments:
  prod: {namespace: apps, allowedTargets: ["*.doctor.test", "192.0.2.0/24"]}
dependencies:
  - name: good
    ports: [{name: https, port: 443}]
    targets: {prod: good.doctor.test}
  - name: wrong
    ports: [{name: web, port: 443}]
    targets: {prod: wrong.doctor.test}
  - name: untrusted
    ports: [{name: api, port: 443, appProtocol: https}]
    targets: {prod: untrusted.doctor.test}
  - name: expiring
    ports: [{name: https, port: 443}]
    targets: {prod: expiring.doctor.test}
  - name: expired
    ports: [{name: https, port: 443}]
    targets: {prod: expired.doctor.test}
  - name: hanging
    ports: [{port: 443}]
    targets: {prod: hanging.doctor.test}
  - name: named
    ports: [{name: web, port: 8443, targetPort: 443}]
    tls: {serverName: good.doctor.test}
    targets: {prod: 192.0.2.10}
  - name: erp
    ports: [{name: pg, port: 5432}, {name: other, port: 5433}]
    targets: {prod: 192.0.2.20}
"""
# (dependency, check) -> (status, reason, message)
TLS_CASES = {
    ("erp", "connect", 5432): ("ok", None, "192.0.2.20:5432 accepts connections"),
    ("erp", "connect", 5433): (
        "error",
        "unreachable",
        "cannot connect to 192.0.2.20:5433: connection refused",
    ),
    ("expired", "tls", 443): (
        "error",
        "tls-expiring",
        "the certificate of 192.0.2.14:443 for expired.doctor.test expired on ",
    ),
    ("expiring", "tls", 443): (
        "warning",
        "tls-expiring",
        "the certificate of 192.0.2.13:443 for expiring.doctor.test expires on ",
    ),
    ("good", "tls", 443): (
        "ok",
        None,
        "192.0.2.10:443 presents a valid certificate for good.doctor.test until ",
    ),
    ("hanging", "tls", 443): (
        "error",
        "tls-handshake",
        "no TLS handshake with 192.0.2.15:443 (server name hanging.doctor.test):"
        " no answer within 1 s",
    ),
    ("named", "tls", 443): (
        "ok",
        None,
        "192.0.2.10:443 presents a valid certificate for good.doctor.test until ",
    ),
    ("untrusted", "tls", 443): (
        "error",
        "tls-untrusted",
        "the certificate of 192.0.2.12:443 is not trusted (unable to get local issuer"
        " certificate): its chain leads to no CA trusted here (the system's, or those of"
        " --ca-file)",
    ),
    ("wrong", "tls", 443): (
        "error",
        "tls-name-mismatch",
        "the certificate of 192.0.2.11:443 does not cover wrong.doctor.test, the name sent"
        " as SNI and that clients must verify; it holds: other.example.com,"
        " *.other.example.com",
    ),
}


def _in_namespace(tmp_path: Path, *args: str) -> dict[str, Any]:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(TLS_CATALOG, encoding="utf-8")
    script = [sys.executable, str(HERE / "doctor_netns.py"), str(catalog), str(tmp_path), *args]
    run = subprocess.run(
        ["unshare", "-rn", *script], capture_output=True, text=True, timeout=90, check=False
    )
    assert run.returncode == 0, (
        "the TLS tests run in a network namespace of their own: they need `unshare -rn`"
        " (unprivileged user namespaces) and `ip` (iproute2); it failed with:\n" + run.stderr
    )
    result: dict[str, Any] = json.loads(run.stdout)
    return result


@pytest.fixture(scope="module")
def tls_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _in_namespace(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("case", list(TLS_CASES), ids=lambda case: f"{case[0]}-{case[1]}")
def test_tls_and_connect_outcomes(tls_run: dict[str, Any], case: tuple[str, str, int]) -> None:
    dependency, kind, port = case
    status, reason, message = TLS_CASES[case]
    checks = json.loads(tls_run["stdout"])["checks"]
    check = next(
        c
        for c in checks
        if (c["dependency"], c["check"], c["details"].get("port")) == (dependency, kind, port)
    )
    assert (check["status"], check["reason"]) == (status, reason), check["message"]
    assert check["message"].startswith(message)
    if kind == "tls" and reason not in ("tls-handshake", "tls-untrusted"):
        assert check["details"]["notAfter"].endswith(" UTC")


def test_tls_run_exit_and_bounded_time(tls_run: dict[str, Any]) -> None:
    assert tls_run["exit"] == 1, tls_run["stderr"]
    document = json.loads(tls_run["stdout"])
    kinds = [(c["dependency"], c["check"]) for c in document["checks"]]
    # Every hostname is resolved first; tls and connect are checked where it answered.
    assert len(kinds) == len(TLS_CASES) + 6
    assert tls_run["seconds"] < 10  # the hanging server costs one --timeout


def test_no_tls_checks_dns_and_connections_only(tmp_path: Path) -> None:
    run = _in_namespace(tmp_path, "--no-tls")
    checks = json.loads(run["stdout"])["checks"]
    assert {c["check"] for c in checks} == {"dns", "connect"}
    assert run["exit"] == 1  # port 5433 of erp refuses connections


# --- docs and CI examples -------------------------------------------------------------

REASONS = [
    *("nxdomain", "no-address", "servfail", "timeout", "cname-loop", "forbidden-address"),
    *("tls-untrusted", "tls-name-mismatch", "tls-expiring", "tls-handshake", "unreachable"),
]


def test_docs_say_what_every_reason_means() -> None:
    docs = (HERE.parent / "docs" / "doctor.md").read_text(encoding="utf-8")
    rows = [line for line in docs.splitlines() if line.startswith("| `")]
    for reason in REASONS:
        assert any(f"| `{reason}` |" in row for row in rows), reason
    assert "docs/doctor.md" in (HERE.parent / "README.md").read_text(encoding="utf-8")


def test_ci_examples_run_doctor_on_a_schedule() -> None:
    examples = HERE.parent / "examples" / "ci"
    workflow = yaml.safe_load((examples / "github-actions-doctor.yaml").read_text())
    assert workflow[True]["schedule"][0]["cron"]  # PyYAML reads the key `on` as True
    (job,) = workflow["jobs"].values()
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert any(run.startswith("extgen doctor") for run in runs)
    pipeline = yaml.safe_load((examples / "gitlab-ci-doctor.yml").read_text())
    job = pipeline["extgen-doctor"]
    assert any(line.startswith("extgen doctor") for line in job["script"])
    assert {"if": '$CI_PIPELINE_SOURCE == "schedule"'} in job["rules"]
