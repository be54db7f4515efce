"""What a hostname target resolves to, asked of real resolvers with dnspython.

CNAME chains are followed here rather than trusted to the resolver, so that a chain a
resolver hands over one link at a time is followed too, and a loop is named as such
whether it comes in one answer or over several.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

import dns._asyncbackend  # the socket and backend types dnspython's asyncio code passes
import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.inet
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from extgen.errors import ExtgenError
from extgen.fields import METADATA_ADDRESSES
from extgen.policy import address_allowed

MAX_CNAMES = 8  # more than any real chain; a longer one is a mistake or a loop
BROADCAST = ipaddress.ip_address("255.255.255.255")


@dataclass(frozen=True)
class Resolver:
    """A resolver given with --resolver: an address and a port."""

    address: str
    port: int = 53

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass
class Resolution:
    """A hostname's addresses (A then AAAA), the CNAMEs on the way, the smallest TTL."""

    addresses: list[str] = field(default_factory=list)
    cnames: list[str] = field(default_factory=list)
    ttl: int | None = None

    def details(self) -> dict[str, Any]:
        return {"addresses": self.addresses, "cnames": self.cnames, "ttl": self.ttl}


class DnsFailure(Exception):
    """A resolution that ended in one of doctor's DNS reasons."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class _Nameserver(dns.nameserver.Do53Nameserver):
    """A DNS server over UDP that keeps its sockets for the next queries, one query at a
    time on each: dnspython opens a socket for every query, a fifth of doctor's CPU time
    on a large catalog. TCP (after a truncated answer) is dnspython's own."""

    def __init__(self, address: str, port: int) -> None:
        super().__init__(address, port)
        self.idle: list[dns._asyncbackend.DatagramSocket] = []

    async def async_query(
        self,
        request: dns.message.QueryMessage,
        timeout: float,
        source: str | None,
        source_port: int,
        max_size: bool,
        backend: dns._asyncbackend.Backend,
        one_rr_per_rrset: bool = False,
        ignore_trailing: bool = False,
    ) -> dns.message.Message:
        if max_size:
            return await super().async_query(
                request, timeout, source, source_port, max_size, backend
            )
        sock = self.idle.pop() if self.idle else await self._socket(backend)
        try:
            response = await dns.asyncquery.udp(
                *(request, self.address, timeout, self.port),
                sock=sock,
                raise_on_truncation=True,
                ignore_errors=True,
                ignore_unexpected=True,  # a late answer to an earlier query on this socket
            )
        except BaseException:
            await _close(sock)
            raise
        self.idle.append(sock)
        return response

    async def _socket(self, backend: Any) -> dns._asyncbackend.DatagramSocket:
        family = dns.inet.af_for_address(self.address)
        wildcard = ("::" if family == socket.AF_INET6 else "0.0.0.0", 0)
        made: dns._asyncbackend.DatagramSocket = await backend.make_socket(
            family, socket.SOCK_DGRAM, 0, wildcard
        )
        return made

    async def close(self) -> None:
        while self.idle:
            await _close(self.idle.pop())


async def _close(sock: Any) -> None:  # dnspython's sockets are not typed
    await sock.close()


def make_resolver(resolvers: tuple[Resolver, ...], timeout: float) -> dns.asyncresolver.Resolver:
    """The resolvers given, else the system's (/etc/resolv.conf); `timeout` for each query."""
    if resolvers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        servers = [(r.address, r.port) for r in resolvers]
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            raise ExtgenError(
                "this machine has no resolver configured (/etc/resolv.conf): give one with"
                " --resolver IP[:PORT]"
            ) from None
        servers = [
            (server.address, server.port)
            for server in resolver.nameservers
            if isinstance(server, dns.nameserver.Do53Nameserver)
        ]
    resolver.nameservers = [_Nameserver(address, port) for address, port in servers]
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None  # every run asks afresh: doctor answers for now
    return resolver


async def resolve(resolver: dns.asyncresolver.Resolver, hostname: str) -> Resolution:
    """A and AAAA of `hostname`, following CNAMEs; raises DnsFailure."""
    result = Resolution()
    for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        await _chase(resolver, hostname, rdtype, result)
    if not result.addresses:
        via = f" (through {' -> '.join(result.cnames)})" if result.cnames else ""
        raise DnsFailure("no-address", f"{hostname} exists but has no A or AAAA record{via}")
    return result


async def _chase(
    resolver: dns.asyncresolver.Resolver,
    hostname: str,
    rdtype: dns.rdatatype.RdataType,
    result: Resolution,
) -> None:
    name = dns.name.from_text(hostname)
    seen = {name}
    chain: list[str] = []
    while True:
        answer = await _ask(resolver, hostname, name, rdtype, chain)
        for rrset in answer.chaining_result.cnames:
            name = next(iter(rrset)).target
            _note_ttl(result, rrset.ttl)
            chain.append(name.to_text(omit_final_dot=True))
            if name in seen or len(chain) > MAX_CNAMES:
                raise _loop(hostname, chain, name in seen)
            seen.add(name)
        if answer.rrset is not None:
            _note_ttl(result, answer.rrset.ttl)
            result.addresses.extend(rdata.to_text() for rdata in answer.rrset)
            break
        if not answer.chaining_result.cnames:
            break  # no record of this type at the end of the chain
        # The answer stopped at an alias without its target's records: ask for them.
    if len(chain) > len(result.cnames):
        result.cnames = chain


async def close_resolver(resolver: dns.asyncresolver.Resolver) -> None:
    for server in resolver.nameservers:
        if isinstance(server, _Nameserver):
            await server.close()


def _note_ttl(result: Resolution, ttl: int) -> None:
    result.ttl = ttl if result.ttl is None else min(result.ttl, ttl)


def _loop(hostname: str, chain: list[str], looped: bool) -> DnsFailure:
    path = " -> ".join([hostname.rstrip("."), *chain])
    if looped:
        return DnsFailure("cname-loop", f"the CNAMEs of {hostname} form a loop: {path}")
    return DnsFailure(
        "cname-loop", f"{hostname} goes through more than {MAX_CNAMES} CNAMEs: {path} ..."
    )


async def _ask(
    resolver: dns.asyncresolver.Resolver,
    hostname: str,
    name: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    chain: list[str],
) -> dns.resolver.Answer:
    """One query; every dnspython outcome becomes an answer or a DnsFailure."""
    shown = name.to_text(omit_final_dot=True)
    alias = f" (an alias of {hostname}, through {' -> '.join(chain)})" if chain else ""
    try:
        return await resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN as error:
        raise _nxdomain(hostname.rstrip("."), shown, chain, error) from None
    except dns.resolver.LifetimeTimeout:
        raise DnsFailure(
            "timeout",
            f"no answer for {shown}{alias} from {_servers(resolver)} within"
            f" {resolver.lifetime:g} s (nothing answered, or nothing that was a DNS answer)",
        ) from None
    except dns.resolver.NoNameservers as error:
        raise _no_nameservers(hostname, shown, error) from None
    except dns.exception.DNSException as error:
        raise DnsFailure("servfail", f"resolving {shown}{alias} failed: {error}") from None


def _nxdomain(
    hostname: str, shown: str, chain: list[str], error: dns.resolver.NXDOMAIN
) -> DnsFailure:
    try:
        last = error.canonical_name.to_text(omit_final_dot=True)
    except (TypeError, KeyError):  # an NXDOMAIN that carries no responses
        last = shown
    path = [*chain, last] if last != shown else chain
    if not path:
        return DnsFailure("nxdomain", f"{hostname} does not exist (NXDOMAIN)")
    through = f" (through {' -> '.join(path[:-1])})" if len(path) > 1 else ""
    message = f"{hostname} is an alias of {path[-1]}{through}, which does not exist (NXDOMAIN)"
    return DnsFailure("nxdomain", message)


def _no_nameservers(hostname: str, shown: str, error: dns.resolver.NoNameservers) -> DnsFailure:
    errors = error.kwargs.get("errors") or []
    if any(isinstance(entry[3], dns.message.ChainTooLong) for entry in errors):
        return DnsFailure(
            "cname-loop", f"the CNAMEs of {hostname} form a loop or a chain too long to follow"
        )
    said = "; ".join(f"{_server(entry[0], entry[2])} {_said(entry[3])}" for entry in errors)
    return DnsFailure("servfail", f"no resolver gave an answer for {shown}: {said or error}")


def _said(outcome: object) -> str:
    if isinstance(outcome, str):
        return f"answered {outcome}"
    if isinstance(outcome, ConnectionRefusedError):
        return "refused the connection (nothing listens there)"
    if isinstance(outcome, OSError):
        return f"cannot be reached ({outcome.strerror or outcome})"
    if isinstance(outcome, dns.exception.DNSException):
        return f"answered something that is not a DNS answer ({outcome})"
    return f"failed ({type(outcome).__name__}: {outcome})"


def _servers(resolver: dns.asyncresolver.Resolver) -> str:
    servers = [_server(str(server), 53) for server in resolver.nameservers]
    return ", ".join(servers) if servers else "the resolver"


def _server(text: str, port: int) -> str:
    """A nameserver as dnspython names it (`Do53:ADDRESS@PORT`), written ADDRESS:PORT."""
    address, _, given = text.removeprefix("Do53:").partition("@")
    return str(Resolver(address, int(given) if given.isdigit() else port))


def forbidden_reason(address: str, allowed_targets: tuple[str, ...] | None) -> str | None:
    """Why extgen would refuse `address` as an endpoint, if it would."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return forbidden_reason(str(ip.ipv4_mapped), allowed_targets)
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata service"
    kinds = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_multicast, "a multicast address"),
        (ip == BROADCAST, "the broadcast address"),
    )
    for applies, kind in kinds:
        if applies:
            return kind
    cidrs = tuple(pattern for pattern in allowed_targets or () if "/" in pattern)
    if cidrs and not address_allowed(address, cidrs):
        return f"outside the environment's allowedTargets ({', '.join(cidrs)})"
    return None
