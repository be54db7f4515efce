"""Targets that are something else than they look: an address in disguise, or another notation.

A name under a wildcard-DNS service (`169.254.169.254.nip.io`) and a number that libc reads
as IPv4 (`0xA9FEA9FE`) both reach an address without writing it, so extgen judges them as
that address. A URL, `HOST:PORT` or a CIDR written as a target is told apart from a bad
hostname, so that the message names the notation and the fix.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Services that answer every name below them with the address written in the name:
# dotted or dashed IPv4 (`10.0.0.1.nip.io`, `app-10-0-0-1.nip.io`), eight hex digits
# (`app-0a000001.nip.io`) and, on sslip.io, dashed IPv6 (`--1.sslip.io` is ::1).
ADDRESS_IN_NAME_DOMAINS = frozenset({"nip.io", "sslip.io", "xip.io"})
# Services that answer 127.0.0.1 for every name below them. No list is complete; doctor's
# check of the resolved addresses covers the others.
LOOPBACK_DOMAINS = frozenset(
    {"localtest.me", "lvh.me", "vcap.me", "lacolhost.com", "fuf.me", "localhost.direct"}
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_OR_DASHED = re.compile(rf"(?:^|[.-])({_OCTET}(?:[.-]{_OCTET}){{3}})$")
_HEX = re.compile(r"(?:^|[.-])([0-9a-f]{8})$")
_LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


def embedded_address(name: str) -> tuple[Address, str] | None:
    """The address a wildcard-DNS name resolves to, and the service that says so.

    `name` is in lower case without a trailing dot.
    """
    domain = ".".join(name.rsplit(".", 2)[-2:])  # every service's domain has two labels
    if domain in LOOPBACK_DOMAINS:
        return _LOOPBACK, f"{domain} answers 127.0.0.1 for every name below it"
    if domain in ADDRESS_IN_NAME_DOMAINS and name != domain:
        address = _decode(name.removesuffix(f".{domain}"))
        if address is not None:
            return address, f"{domain} answers with the address written in the name"
    return None


def _decode(prefix: str) -> Address | None:
    if match := _DOTTED_OR_DASHED.search(prefix):
        return ipaddress.IPv4Address(re.sub("-", ".", match[1]))
    label = prefix.rsplit(".", 1)[-1]
    if "-" in label:
        try:
            return ipaddress.IPv6Address(label.replace("-", ":"))
        except ValueError:
            pass
    if match := _HEX.search(prefix):
        return ipaddress.IPv4Address(int(match[1], 16))
    return None


_HEX_PART = re.compile(r"0x[0-9a-f]+")
_OCTAL_PART = re.compile(r"0[0-7]*")
_DECIMAL_PART = re.compile(r"[1-9][0-9]*")


def libc_address(name: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address libc's inet_aton reads `name` as, if it reads one.

    inet_aton takes one to four parts, each decimal, octal (leading 0) or hex (0x); the
    last part fills the bytes left: `127.1` is 127.0.0.1, `0xA9FEA9FE` is 169.254.169.254.
    Resolvers call it before asking DNS, so such a name never reaches DNS.
    """
    parts = name.lower().split(".")
    if len(parts) > 4:
        return None
    values = []
    for part in parts:
        if _HEX_PART.fullmatch(part):
            values.append(int(part, 16))
        elif _OCTAL_PART.fullmatch(part):
            values.append(int(part, 8))
        elif _DECIMAL_PART.fullmatch(part):
            values.append(int(part))
        else:
            return None
    *head, last = values
    if any(value > 255 for value in head) or last >= 256 ** (4 - len(head)):
        return None
    number = sum(value << (8 * (3 - index)) for index, value in enumerate(head))
    return ipaddress.IPv4Address(number + last)


# Ports of the URL schemes a target is most often copied from, for the fix's example.
_DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "postgres": 5432,
    "postgresql": 5432,
    "mysql": 3306,
    "redis": 6379,
    "rediss": 6379,
    "mongodb": 27017,
    "amqp": 5672,
    "amqps": 5671,
    "ldap": 389,
    "ldaps": 636,
}
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_HOST_PORT = re.compile(r"(\[[0-9a-f:.]+\]|[^\s:/\[\]]+):([0-9]{1,5})", re.IGNORECASE)
_ALONE = "but a target is a hostname or IP addresses alone"


def other_notation(text: str) -> str | None:
    """What to write instead, when `text` is a URL, HOST:PORT or a CIDR."""
    if ":" not in text and "/" not in text:
        return None  # every hostname and IPv4 address: no need to look further
    try:
        ipaddress.ip_address(text)
        return None
    except ValueError:
        pass
    if _URL.fullmatch(text):
        return _url(text)
    if match := _HOST_PORT.fullmatch(text):
        host = match[1].strip("[]")
        return (
            f"{text!r} is HOST:PORT, {_ALONE}: write {host!r} and the port under ports"
            f" (ports: [{{port: {int(match[2])}}}])"
        )
    if "/" in text:
        return _cidr(text)
    return None


def _url(text: str) -> str:
    parts = urllib.parse.urlsplit(text)
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        port = None
    ports = f" (ports: [{{port: {port}}}])" if port else ""
    message = (
        f"{text!r} is a URL, {_ALONE}: write the host {parts.hostname or 'HOST'!r} and its"
        f" port under ports{ports}"
    )
    tail = urllib.parse.urlunsplit(("", "", parts.path, parts.query, parts.fragment))
    if tail.strip("/"):
        message += f"; the path {tail!r} is not part of a Service: clients keep it"
    return message


def _cidr(text: str) -> str | None:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if network.num_addresses == 1:
        return f"{text!r} is a CIDR of one address, {_ALONE}: write {network.network_address}"
    first, second = network[1], network[2] if network.num_addresses > 2 else network[-1]
    return (
        f"{text!r} is a CIDR (a range of addresses), but a target lists single addresses:"
        f" write each address (e.g. [{first}, {second}]); CIDRs belong in an environment's"
        " allowedTargets"
    )
