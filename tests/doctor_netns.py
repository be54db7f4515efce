"""Runs `extgen doctor` against real TLS and TCP servers at TEST-NET addresses, inside a
network namespace of its own: run it as `unshare -rn python tests/doctor_netns.py CATALOG`.

doctor refuses DNS answers in 127.0.0.0/8, so the servers listen on 192.0.2.x, added to
the namespace's own loopback interface; the host's network is never touched. Prints one
JSON document: doctor's exit code, stdout and stderr, and how long it took.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import trustme

HERE = Path(__file__).parent
TLS_PORT = 443
# name in the zone -> (its address, the names on its certificate, issued by the good CA?,
# days of validity left)
SERVERS = {
    "good": ("192.0.2.10", ["good.doctor.test"], True, 300),
    "wrong": ("192.0.2.11", ["other.example.com", "*.other.example.com"], True, 300),
    "untrusted": ("192.0.2.12", ["untrusted.doctor.test"], False, 300),
    "expiring": ("192.0.2.13", ["expiring.doctor.test"], True, 1),
    "expired": ("192.0.2.14", ["expired.doctor.test"], True, -2),
}
HANGING = "192.0.2.15"  # accepts, then says nothing
OPEN_TCP = ("192.0.2.20", 5432)  # an IP target's port that accepts
CLOSED_TCP = ("192.0.2.20", 5433)  # and one where nothing listens


def main(catalog: str, workdir: str) -> None:
    addresses = [address for address, *_ in SERVERS.values()] + [HANGING, OPEN_TCP[0]]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for address in addresses:
        subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)
    ca_file = Path(workdir) / "ca.pem"
    _start_tls_servers(ca_file)
    _listen(HANGING, TLS_PORT, hang=True)
    _listen(*OPEN_TCP, hang=False)
    dns = subprocess.Popen(
        [sys.executable, str(HERE / "dns_server.py"), "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert dns.stdout is not None
        port = dns.stdout.readline().strip()
        started = time.monotonic()
        doctor = subprocess.run(
            [
                *(sys.executable, "-m", "extgen", "--format", "json", "doctor", "-c", catalog),
                *("--resolver", f"127.0.0.1:{port}", "--ca-file", str(ca_file)),
                *("--timeout", "1", *sys.argv[3:]),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        took = time.monotonic() - started
    finally:
        dns.kill()
    print(
        json.dumps(
            {
                "exit": doctor.returncode,
                "stdout": doctor.stdout,
                "stderr": doctor.stderr,
                "seconds": took,
            }
        )
    )


def _start_tls_servers(ca_file: Path) -> None:
    good, other = trustme.CA(), trustme.CA()
    good.cert_pem.write_to_path(str(ca_file))
    now = datetime.datetime.now(datetime.UTC)
    for address, names, trusted, days in SERVERS.values():
        ca = good if trusted else other
        not_after = now + datetime.timedelta(days=days)
        certificate = ca.issue_cert(
            *names, not_before=now - datetime.timedelta(days=30), not_after=not_after
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        _listen(address, TLS_PORT, hang=False, context=context)


def _listen(address: str, port: int, *, hang: bool, context: ssl.SSLContext | None = None) -> None:
    server = socket.create_server((address, port))
    held: list[socket.socket] = []  # a hanging server keeps its connections open

    def serve() -> None:
        while True:
            connection, _ = server.accept()
            if hang:
                held.append(connection)
                continue
            if context is not None:
                threading.Thread(target=_handshake, args=(context, connection), daemon=True).start()
            else:
                connection.close()

    threading.Thread(target=serve, daemon=True).start()


def _handshake(context: ssl.SSLContext, connection: socket.socket) -> None:
    connection.settimeout(5)
    try:
        with context.wrap_socket(connection, server_side=True) as tls:
            tls.recv(1)
    except (OSError, ssl.SSLError):
        pass  # the client gave up, as doctor does once it has seen the certificate


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
