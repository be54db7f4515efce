"""DNS servers for doctor's tests, serving one test zone: Twisted Names (from the test
extras) and, where it is installed, Debian's dnsmasq.

Run as a program, it serves the zone with Twisted on the address given and prints the
port it listens on (UDP and TCP) as its first line:

    python tests/dns_server.py 127.0.0.1 [PORT]

The zone has a name for each outcome doctor knows. As a recursive resolver does, the
server answers a name with its whole CNAME chain, the loop included.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ZONE = "doctor.test"

# name -> ("A"|"AAAA"|"CNAME"|"TXT", value, ttl); a name may have several records.
RECORDS: dict[str, list[tuple[str, str, int]]] = {
    "v4": [("A", "192.0.2.10", 300)],
    "v6": [("AAAA", "2001:db8::10", 300)],
    "dual": [("A", "192.0.2.11", 300), ("AAAA", "2001:db8::11", 120)],
    "alias": [("CNAME", "v4", 60)],
    "chain": [("CNAME", "chain2", 600)],
    "chain2": [("CNAME", "chain3", 30)],
    "chain3": [("CNAME", "v4", 600)],
    "dangling": [("CNAME", "gone", 300)],
    "loop-a": [("CNAME", "loop-b", 300)],
    "loop-b": [("CNAME", "loop-a", 300)],
    "text-only": [("TXT", "no address here", 300)],
    "metadata": [("A", "169.254.169.254", 300)],
    "loopback": [("A", "127.0.0.1", 300)],
    "outside": [("A", "198.51.100.7", 300)],
    # Names the TLS tests connect to, inside their own network namespace.
    "good": [("A", "192.0.2.10", 300)],
    "wrong": [("A", "192.0.2.11", 300)],
    "untrusted": [("A", "192.0.2.12", 300)],
    "expiring": [("A", "192.0.2.13", 300)],
    "expired": [("A", "192.0.2.14", 300)],
    "hanging": [("A", "192.0.2.15", 300)],
}
# A chain of ten aliases, hop0 -> hop1 -> ... -> hop9 -> v4: longer than doctor follows.
RECORDS.update({f"hop{i}": [("CNAME", f"hop{i + 1}", 300)] for i in range(9)})
RECORDS["hop9"] = [("CNAME", "v4", 300)]
BENCH = "bench"  # every name below bench.doctor.test has an A and an AAAA record
BENCH_ADDRESSES = ("192.0.2.10", "2001:db8::10")
SERVFAIL = "broken"  # the server fails
DROPPED = "slow"  # the server never answers


def fqdn(name: str) -> str:
    return f"{name}.{ZONE}"


LOOP = ("loop-a", "loop-b")


def dnsmasq_config(port: int, silent_port: int) -> list[str]:
    """dnsmasq's options for the same zone: served locally, except the cases dnsmasq cannot
    serve itself, forwarded as a resolver forwards them: the loop (which dnsmasq refuses
    in its own configuration) and the failing name to the Twisted server at `port`, and
    the slow one to a socket that never answers."""
    options = [f"--local=/{ZONE}/"]
    options += [f"--address=/{BENCH}.{ZONE}/{address}" for address in BENCH_ADDRESSES]
    for name, records in RECORDS.items():
        for kind, value, ttl in records:
            if name in LOOP:
                continue
            if kind == "CNAME":
                options.append(f"--cname={fqdn(name)},{fqdn(value)},{ttl}")
            elif kind == "TXT":
                options.append(f"--txt-record={fqdn(name)},{value}")
            else:
                options.append(f"--host-record={fqdn(name)},{value},{ttl}")
    options += [
        *(f"--server=/{fqdn(name)}/127.0.0.1#{port}" for name in (*LOOP, SERVFAIL)),
        f"--server=/{DROPPED}.{ZONE}/127.0.0.1#{silent_port}",
    ]
    return options


class ServerError(Exception):
    """A test DNS server that did not start."""


def start_twisted() -> tuple[subprocess.Popen[str], int]:
    """The Twisted server on 127.0.0.1, and its port."""
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline().strip()
    if not line.isdigit():
        server.kill()
        raise ServerError(f"the Twisted DNS server did not start (it printed {line!r})")
    return server, int(line)


def start_dnsmasq(
    dnsmasq: str, twisted_port: int, silent_port: int
) -> tuple[subprocess.Popen[str], int]:
    """dnsmasq on 127.0.0.1 serving the zone, and its port, once it answers."""
    port = free_udp_port()
    command = [
        dnsmasq,
        *("--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts"),
        *("--listen-address=127.0.0.1", "--bind-interfaces", f"--port={port}"),
        *("--log-facility=-", "--cache-size=0"),
        *(["--user=root"] if os.geteuid() == 0 else []),
        *dnsmasq_config(twisted_port, silent_port),
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_until_answering(port, server)
    except ServerError:
        server.kill()
        raise
    return server, port


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_answering(port: int, server: subprocess.Popen[str], seconds: float = 10) -> None:
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.lifetime = 0.5
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read() if server.stdout else ""
            raise ServerError(f"dnsmasq exited with {server.returncode}: {output}")
        try:
            resolver.resolve(fqdn("v4"), "A")
            return
        except dns.exception.DNSException:
            time.sleep(0.1)
    raise ServerError(f"dnsmasq did not answer on 127.0.0.1:{port} within {seconds:g} s")


def serve(address: str, port: int) -> None:
    from twisted.internet import reactor
    from twisted.names import dns, server

    factory = server.DNSServerFactory(authorities=[_ZoneResolver()])
    udp = reactor.listenUDP(port, dns.DNSDatagramProtocol(factory), interface=address)
    port = udp.getHost().port
    reactor.listenTCP(port, factory, interface=address)
    print(port, flush=True)
    reactor.run()


class _ZoneResolver:
    """Answers from RECORDS, with the whole CNAME chain as recursive resolvers give it."""

    def query(self, query: Any, timeout: Any = None) -> Any:
        from twisted.internet import defer
        from twisted.names import dns, error

        name = query.name.name.decode().lower().rstrip(".")
        label = name.removesuffix(f".{ZONE}")
        if label == DROPPED:
            return defer.Deferred()  # never fires: the query is dropped
        if label == SERVFAIL:
            # Any error but a DomainError (all of twisted.names.error) is a SERVFAIL.
            return defer.fail(RuntimeError(f"{name} fails on purpose"))
        if label.endswith(f".{BENCH}"):
            kind = dns.QUERY_TYPES.get(query.type)
            records = [("A", BENCH_ADDRESSES[0], 300), ("AAAA", BENCH_ADDRESSES[1], 300)]
            return defer.succeed(
                ([_record(dns, label, r) for r in records if r[0] == kind], [], [])
            )
        if label == name or label not in RECORDS:
            return defer.fail(error.DomainError(name))
        answers: list[Any] = []
        seen: set[str] = set()
        while label in RECORDS and label not in seen:
            seen.add(label)
            records = RECORDS[label]
            cname = [value for kind, value, _ in records if kind == "CNAME"]
            if cname:
                answers.append(_record(dns, label, records[0]))
                label = cname[0]
                continue
            wanted = dns.QUERY_TYPES.get(query.type)
            answers += [_record(dns, label, r) for r in records if r[0] == wanted]
            break
        return defer.succeed((answers, [], []))


def _record(dns: Any, label: str, record: tuple[str, str, int]) -> Any:
    kind, value, ttl = record
    payload = {
        "A": lambda: dns.Record_A(value, ttl),
        "AAAA": lambda: dns.Record_AAAA(value, ttl),
        "CNAME": lambda: dns.Record_CNAME(fqdn(value), ttl),
        "TXT": lambda: dns.Record_TXT(value.encode(), ttl=ttl),
    }[kind]()
    return dns.RRHeader(fqdn(label), payload.TYPE, dns.IN, ttl, payload, auth=True)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
