"""Field types of the guardrail settings (SPEC §9): the prober, its interval, its module."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from extgen import k8s
from extgen.fields import Text, fail, parse_ip

# Prometheus' duration as the Probe CRD's pattern spells it (monitoring.coreos.com/v1).
_PROMETHEUS_DURATION = re.compile(
    r"(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?"
)
# A blackbox exporter module is a key of its configuration file.
_MODULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_PROBER_HINT = (
    "expected the blackbox exporter as host:port or http(s)://host:port[/path]"
    " (e.g. blackbox-exporter.monitoring.svc:9115)"
)


@dataclass(frozen=True)
class Prober:
    """Where Prometheus reaches the blackbox exporter, as a Probe's `spec.prober` says it."""

    address: str  # host:port, or host alone
    scheme: str | None = None  # http or https; the Probe's default (http) when not given
    path: str | None = None  # the Probe's default (/probe) when not given


def split_prober(value: str) -> Prober:
    """The parts of a prober setting, or a message-carrying error."""
    if any(char.isspace() for char in value) or not value:
        raise fail(f"invalid prober {value!r}: {_PROBER_HINT}")
    scheme = path = None
    if "://" in value:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https"):
            raise fail(f"invalid prober {value!r}: the scheme must be http or https")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise fail(f"invalid prober {value!r}: {_PROBER_HINT}, without user, query or #")
        scheme, address = parts.scheme, parts.netloc
        path = parts.path if parts.path not in ("", "/") else None
    else:
        address = value
    _check_address(value, address)
    return Prober(address, scheme, path)


def _check_address(value: str, address: str) -> None:
    host, port = _host_and_port(address)
    if port is not None and (not port.isdigit() or k8s.is_valid_port_num(int(port))):
        raise fail(f"invalid prober {value!r}: the port must be a number 1-65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        valid = parse_ip(host) is not None and ":" in host
    elif ":" in host:  # an IPv6 address needs brackets before its port
        valid = False
    elif parse_ip(host) is not None:
        valid = True
    else:  # a name whose last label is all digits is a mistyped address, or a port alone
        valid = not k8s.is_dns1123_subdomain(host) and not host.rsplit(".", 1)[-1].isdigit()
    if not valid:
        raise fail(f"invalid prober {value!r}: {_PROBER_HINT}")


def _host_and_port(address: str) -> tuple[str, str | None]:
    if address.startswith("["):
        host, _, rest = address.partition("]")
        return host + "]", rest.removeprefix(":") if rest else None
    host, colon, port = address.rpartition(":")
    return (host, port) if colon else (address, None)


def _prober(value: str) -> str:
    split_prober(value)
    return value


def _prometheus_duration(value: str) -> str:
    if not value or not _PROMETHEUS_DURATION.fullmatch(value) or not re.search("[1-9]", value):
        raise fail(
            f"invalid interval {value!r}: expected a Prometheus duration above zero such as"
            " 30s, 1m or 1h30m (whole numbers of y, w, d, h, m, s, ms)"
        )
    return value


def _module(value: str) -> str:
    if not _MODULE.fullmatch(value):
        raise fail(f"invalid module {value!r}: the name of a blackbox exporter module")
    return value


ProberUrl = Annotated[Text, AfterValidator(_prober)]
PrometheusDuration = Annotated[Text, AfterValidator(_prometheus_duration)]
BlackboxModule = Annotated[Text, AfterValidator(_module)]
