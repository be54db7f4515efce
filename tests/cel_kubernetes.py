"""CEL as a ValidatingAdmissionPolicy evaluates it, for tests: cel-python (`celpy`) plus
small stand-ins for the Kubernetes IP and CIDR libraries, which cel-python lacks.

The stand-ins follow kubernetes/apiserver pkg/cel/library/ip.go and cidr.go: an address
is parsed as Go's netip.ParseAddr does (no leading zeros), and, as the library adds,
without a zone and not IPv4-mapped IPv6; tests/test_admission.py holds them to the
examples of those files' documentation. Any stand-in error is an evaluation error, as
it is in the API server (where the policy's failurePolicy then applies).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import celpy
import celpy.celtypes as cel

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_LINK_LOCAL_MULTICAST = (
    ipaddress.ip_network("224.0.0.0/24"),
    ipaddress.ip_network("ff02::/16"),
)


class StandInError(ValueError):
    """What the Kubernetes library function returns as an error."""


@dataclass(frozen=True)
class IP:
    """A value of the Kubernetes `net.IP` type."""

    address: Address


@dataclass(frozen=True)
class CIDR:
    """A value of the Kubernetes `net.CIDR` type."""

    network: Network


def parse_ip(text: str) -> Address:
    try:
        address = ipaddress.ip_address(str(text))
    except ValueError as error:
        raise StandInError(f"IP Address {text!r} parse error: {error}") from None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            raise StandInError(f"IP address {text!r} with zone value is not allowed")
        if address.ipv4_mapped is not None:
            raise StandInError(f"IPv4-mapped IPv6 address {text!r} is not allowed")
    return address


def is_ip(text: str) -> cel.BoolType:
    try:
        parse_ip(text)
    except StandInError:
        return cel.BoolType(False)
    return cel.BoolType(True)


def ip(text: str) -> IP:
    return IP(parse_ip(text))


def family(value: IP) -> cel.IntType:
    return cel.IntType(value.address.version)


def is_loopback(value: IP) -> cel.BoolType:
    return cel.BoolType(value.address.is_loopback)


def is_unspecified(value: IP) -> cel.BoolType:
    return cel.BoolType(value.address.is_unspecified)


def is_link_local_unicast(value: IP) -> cel.BoolType:
    return cel.BoolType(value.address.is_link_local and not value.address.is_multicast)


def is_link_local_multicast(value: IP) -> cel.BoolType:
    address = value.address
    return cel.BoolType(
        any(
            address in network
            for network in _LINK_LOCAL_MULTICAST
            if network.version == address.version
        )
    )


def cidr(text: str) -> CIDR:
    address, slash, bits = str(text).partition("/")
    if not slash or not bits.isdigit():
        raise StandInError(f"network address {text!r} parse error: no '/'")
    parse_ip(address)
    try:
        return CIDR(ipaddress.ip_network(str(text), strict=False))
    except ValueError as error:
        raise StandInError(f"network address {text!r} parse error: {error}") from None


def contains_ip(network: CIDR, value: IP | str) -> cel.BoolType:
    address = value.address if isinstance(value, IP) else parse_ip(value)
    if address.version != network.network.version:
        return cel.BoolType(False)
    return cel.BoolType(address in network.network)


FUNCTIONS = {
    "isIP": is_ip,
    "ip": ip,
    "family": family,
    "isLoopback": is_loopback,
    "isUnspecified": is_unspecified,
    "isLinkLocalUnicast": is_link_local_unicast,
    "isLinkLocalMulticast": is_link_local_multicast,
    "cidr": cidr,
    "containsIP": contains_ip,
}
_ENVIRONMENT = celpy.Environment()


@functools.lru_cache(maxsize=256)
def program(expression: str) -> Any:
    """Compiled once per expression: a syntax error fails here, in the test that uses it."""
    return _ENVIRONMENT.program(_ENVIRONMENT.compile(expression), functions=FUNCTIONS)


def evaluate(expression: str, **variables: Any) -> Any:
    """The expression's value, with `variables` (JSON-like data) bound; an evaluation error
    (CEL's own, or a stand-in's) is raised."""
    activation = {name: celpy.json_to_cel(value) for name, value in variables.items()}
    result = program(expression).evaluate(activation)
    if isinstance(result, celpy.CELEvalError):
        raise StandInError(str(result))
    return result


@dataclass(frozen=True)
class Verdict:
    admitted: bool
    messages: tuple[str, ...]  # of the validations that refused


def judge(policy: Mapping[str, Any], body: Mapping[str, Any], username: str) -> Verdict:
    """What the policy decides for a CREATE of `body` by `username`: every match condition
    must hold for the validations to run; each false validation refuses with its message."""
    request = {"userInfo": {"username": username}, "operation": "CREATE"}
    spec = policy["spec"]
    for condition in spec.get("matchConditions", ()):
        if not evaluate(condition["expression"], object=dict(body), request=request):
            return Verdict(True, ())
    refused = tuple(
        validation["message"]
        for validation in spec["validations"]
        if not evaluate(validation["expression"], object=dict(body), request=request)
    )
    return Verdict(not refused, refused)
