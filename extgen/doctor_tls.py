"""TLS and TCP checks of one address and port, each ended within the timeout.

The chain is verified by OpenSSL with the expiry check left out, and the names and the
expiry are judged here: so that an expired certificate is said to be expired (not merely
"untrusted"), and a name mismatch can say which names the certificate holds.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from extgen.errors import ExtgenError
from extgen.fields import parse_ip

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME, which Python's ssl module passes on but does not name.
NO_CHECK_TIME = 0x200000
DAY = 86400.0


Status = Literal["ok", "warning", "error"]


@dataclass
class Outcome:
    """A check's status, reason and message, and what it saw."""

    status: Status
    reason: str | None
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (ssl.SSLError, OSError) as error:
        raise ExtgenError(
            f"--ca-file {ca_file}: not a PEM file of CA certificates ({error})"
        ) from None
    context.check_hostname = False  # judged by `name_covered`, to say what was found
    context.verify_flags |= ssl.VerifyFlags(NO_CHECK_TIME)
    return context


def endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


async def check_connect(address: str, port: int, timeout: float) -> Outcome:
    details = {"address": address, "port": port}
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    except (OSError, TimeoutError) as error:
        why = _why(error, timeout)
        return Outcome(
            "error", "unreachable", f"cannot connect to {endpoint(address, port)}: {why}", details
        )
    writer.transport.abort()
    return Outcome("ok", None, f"{endpoint(address, port)} accepts connections", details)


async def check_tls(
    address: str,
    port: int,
    server_name: str,
    context: ssl.SSLContext,
    timeout: float,
    expiry_days: int,
) -> Outcome:
    """A handshake with SNI `server_name`; the certificate judged against it."""
    where = endpoint(address, port)
    details: dict[str, Any] = {"address": address, "port": port, "serverName": server_name}
    try:
        certificate = await asyncio.wait_for(
            _handshake(address, port, server_name, context), timeout
        )
    except ssl.SSLCertVerificationError as error:
        message = (
            f"the certificate of {where} is not trusted ({error.verify_message}): its chain"
            " leads to no CA trusted here (the system's, or those of --ca-file)"
        )
        return Outcome("error", "tls-untrusted", message, details)
    except (OSError, TimeoutError, ssl.SSLError, EOFError) as error:
        why = _why(error, timeout)
        message = f"no TLS handshake with {where} (server name {server_name}): {why}"
        return Outcome("error", "tls-handshake", message + _inner_tls_hint(port), details)
    names = certificate_names(certificate)
    details["names"] = names
    details["notAfter"] = _date(certificate)
    return judge(where, server_name, names, certificate, expiry_days, details)


async def _handshake(
    address: str, port: int, server_name: str, context: ssl.SSLContext
) -> dict[str, Any]:
    _, writer = await asyncio.open_connection(
        address, port, ssl=context, server_hostname=server_name
    )
    try:
        certificate: dict[str, Any] = writer.get_extra_info("peercert") or {}
    finally:
        writer.transport.abort()  # no close_notify exchange: a silent peer cannot hold us
    return certificate


def judge(
    where: str,
    server_name: str,
    names: list[str],
    certificate: dict[str, Any],
    expiry_days: int,
    details: dict[str, Any],
) -> Outcome:
    if not name_covered(server_name, names):
        held = ", ".join(names) if names else "no names at all"
        message = (
            f"the certificate of {where} does not cover {server_name}, the name sent as SNI"
            f" and that clients must verify; it holds: {held}"
        )
        return Outcome("error", "tls-name-mismatch", message, details)
    expires = ssl.cert_time_to_seconds(certificate["notAfter"])
    day = _date(certificate)
    now = time.time()
    if expires <= now:
        message = f"the certificate of {where} for {server_name} expired on {day}"
        return Outcome("error", "tls-expiring", message, details)
    left = (expires - now) / DAY
    if left <= expiry_days:
        message = (
            f"the certificate of {where} for {server_name} expires on {day}, in"
            f" {left:.1f} days (warning from {expiry_days} days)"
        )
        return Outcome("warning", "tls-expiring", message, details)
    return Outcome(
        "ok", None, f"{where} presents a valid certificate for {server_name} until {day}", details
    )


def certificate_names(certificate: dict[str, Any]) -> list[str]:
    """The subject alternative names (DNS and IP); the common name only when there are none."""
    names = [
        value
        for kind, value in certificate.get("subjectAltName", ())
        if kind in ("DNS", "IP Address")
    ]
    if names:
        return names
    return [
        value for rdn in certificate.get("subject", ()) for key, value in rdn if key == "commonName"
    ]


def name_covered(server_name: str, names: list[str]) -> bool:
    """RFC 6125 as browsers apply it: exact names, a wildcard for one leftmost label only,
    IP addresses compared as addresses."""
    wanted = server_name.rstrip(".").lower()
    if (wanted_ip := parse_ip(wanted)) is not None:
        return any(parse_ip(name) == wanted_ip for name in names)
    for name in names:
        name = name.rstrip(".").lower()
        if name == wanted:
            return True
        if name.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == name[2:]:
            return True
    return False


def _date(certificate: dict[str, Any]) -> str:
    seconds = ssl.cert_time_to_seconds(certificate["notAfter"])
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _why(error: BaseException, timeout: float) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ssl.SSLError):
        return error.reason or str(error)
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return "the connection was closed during the handshake"


def _inner_tls_hint(port: int) -> str:
    # PostgreSQL (5432), SMTP (25, 587) and the like start TLS inside their own protocol.
    if port in (21, 25, 110, 143, 587, 3306, 5432):
        return (
            f"; port {port} usually starts TLS inside its own protocol, which a direct"
            " handshake does not do"
        )
    return ""
