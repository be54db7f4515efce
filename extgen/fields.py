"""Field types of the catalog: each checks one kind of value the way Kubernetes does.

Every type takes the value as written in YAML (a `SourceScalar` for plain numbers and
booleans) and either returns the canonical value or raises an error whose message says
what is wrong and how to fix it. The pydantic models in `model.py` are built from these.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import idna
from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from extgen import k8s
from extgen.hostforms import Address, embedded_address, libc_address, other_notation
from extgen.yamlio import SourceScalar, other_type

# Hostnames and addresses of cloud instance metadata services: a Service pointing there
# hands the node's credentials to any pod that can reach the Service.
METADATA_HOSTNAMES = frozenset(
    {
        "metadata",  # GCE's short name, through the instance's search path
        "metadata.google.internal",
        "metadata.goog",
        "metadata.tencentyun.com",
        "instance-data.ec2.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, most others
        "fd00:ec2::254",  # AWS over IPv6
        "fd20:ce::254",  # GCP over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer
        "169.254.0.23",  # Tencent Cloud
    )
)
BROADCAST = ipaddress.IPv4Address("255.255.255.255")
# Labels that extgen sets itself and that tie objects together; another value would
# detach an EndpointSlice from its Service or hand it to another controller. The same
# value, as manifests written by hand often carry, changes nothing and is accepted: the
# value of each (None: the dependency's name) is checked where the dependency is known.
OWN_LABELS: dict[str, str | None] = {
    "app.kubernetes.io/managed-by": "extgen",
    "app.kubernetes.io/name": None,
    "kubernetes.io/service-name": None,
    "endpointslice.kubernetes.io/managed-by": "extgen",
}
RESERVED_LABEL_KEYS = frozenset(OWN_LABELS)
RESERVED_LABEL_PREFIX = "endpointslice.kubernetes.io/"
ANNOTATION_PREFIX = "extgen.io/"

_DOTTED_DIGITS = re.compile(r"[0-9]+(\.[0-9]+){3}")
_YAML11_BOOLEANS = frozenset({"yes", "no", "on", "off", "y", "n"})


def fail(message: str) -> PydanticCustomError:
    """An error whose message is final: passed through ctx so braces stay literal."""
    return PydanticCustomError("extgen", "{message}", {"message": message})


# Characters that kustomize's YAML library cannot write back out: most fail the whole
# build ("control characters are not allowed"), and U+0085 is written raw, where every
# YAML reader then takes it for a line break. They are refused in the catalog instead.
_UNWRITABLE = re.compile("[\x7f-\x9f\ufffe\uffff]")


# Numbers too large for a float: kustomize writes them without quotes (Go's parser gives
# up on them, so Go takes them for strings), and every YAML 1.2 reader takes them for
# infinity, extgen's own verify included.
_HUGE_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]{3,}")


def _text(value: Any) -> Any:
    text = value.text if isinstance(value, SourceScalar) else value
    if not isinstance(text, str):
        return text
    if found := _UNWRITABLE.search(text):
        raise fail(
            f"contains the control character U+{ord(found.group()):04X}, which kustomize"
            " cannot write; remove it"
        )
    if _HUGE_NUMBER.fullmatch(text) and math.isinf(float(text)):
        raise fail(
            f"{text!r} is read as infinity by YAML 1.2 readers: kustomize writes it without"
            " quotes; choose another value"
        )
    return text


def _number(value: Any) -> Any:
    if not isinstance(value, SourceScalar):
        return value
    if value.value is None:
        raise fail(
            f"{value.text!r} is ambiguous: YAML 1.1 reads a leading 0 as octal and YAML 1.2"
            " as decimal; write the number without leading zeros"
        )
    if isinstance(value.value, int) and not isinstance(value.value, bool):
        return value.value
    return value  # refused as not an integer, and shown as written


def _boolean(value: Any) -> Any:
    if isinstance(value, SourceScalar) and isinstance(value.value, bool):
        return value.value
    text = _text(value)
    if isinstance(text, str) and text.lower() in _YAML11_BOOLEANS:
        raise fail(
            f"expected true or false, got {text!r}: extgen reads YAML 1.2 (as kustomize,"
            " Argo CD and Flux do), where it is a string; write true or false"
        )
    return text


def non_empty(what: str) -> BeforeValidator:
    """Refuses an empty list or mapping as written (before its items are validated)."""

    def validate(value: Any) -> Any:
        if isinstance(value, tuple | dict) and not value:
            raise fail(f"{what} must not be empty")
        return value

    return BeforeValidator(validate)


def _checked(what: str, check: Callable[[str], list[str]]) -> AfterValidator:
    def validate(value: str) -> str:
        reasons = check(value)
        if reasons:
            raise fail(f"invalid {what} {value!r}: {'; '.join(reasons)}")
        return value

    return AfterValidator(validate)


Text = Annotated[str, BeforeValidator(_text)]
Integer = Annotated[int, BeforeValidator(_number)]
Boolean = Annotated[bool, BeforeValidator(_boolean)]
Namespace = Annotated[Text, _checked("namespace", k8s.is_dns1123_label)]
ServiceName = Annotated[Text, _checked("dependency name", k8s.is_dns1035_label)]
PortName = Annotated[Text, _checked("port name", k8s.is_dns1123_label)]
ClusterDomain = Annotated[Text, _checked("cluster domain", k8s.is_dns1123_subdomain)]
QualifiedName = Annotated[Text, _checked("appProtocol", k8s.is_qualified_name)]
LabelValue = Annotated[Text, _checked("label value", k8s.is_valid_label_value)]
SelectorKey = Annotated[Text, _checked("selector key", k8s.is_qualified_name)]


def _port_number(value: int, what: str = "port") -> int:
    reasons = k8s.is_valid_port_num(value)
    if reasons:
        raise fail(f"invalid {what} {value}: {'; '.join(reasons)}")
    return value


PortNumber = Annotated[Integer, AfterValidator(_port_number)]


def _positive(value: int) -> int:
    if value < 1:
        raise fail(f"must be a whole number of at least 1, got {value}")
    return value


Positive = Annotated[Integer, AfterValidator(_positive)]


def _target_port(value: int | str) -> int | str:
    if isinstance(value, int):
        return _port_number(value, "targetPort")
    reasons = k8s.is_valid_port_name(value)
    if reasons:
        raise fail(
            f"invalid targetPort {value!r}: a number 1-65535 or an IANA service name;"
            f" {'; '.join(reasons)}"
        )
    return value


TargetPort = Annotated[int | str, BeforeValidator(_number), AfterValidator(_target_port)]


def _not_reserved_label(value: str) -> str:
    if value not in OWN_LABELS and value.startswith(RESERVED_LABEL_PREFIX):
        raise fail(
            f"label {value!r} is set by extgen itself and cannot be overridden: it ties"
            " Services, EndpointSlices and their owner together"
        )
    return value


def own_label_problems(labels: dict[str, str], dependency: str | None) -> Iterator[tuple[str, str]]:
    """(key, message) for each of extgen's own labels given another value than extgen's;
    `dependency` is None for an environment's labels, which apply to every dependency."""
    for key, value in labels.items():
        if key not in OWN_LABELS:
            continue
        expected = OWN_LABELS[key] or dependency
        if expected is None:
            yield (
                key,
                (
                    f"label {key!r} is set by extgen to each dependency's name, and an"
                    " environment's labels apply to every dependency: leave it out"
                ),
            )
        elif value != expected:
            yield (
                key,
                (
                    f"label {key!r} is set by extgen itself (to {expected!r}): {value!r} would"
                    " break what ties Services, EndpointSlices and their owner together; leave it"
                    f" out or write {expected!r}"
                ),
            )


def _annotation_key_is_a_string(value: str) -> str:
    taken_for = other_type(value)
    if taken_for is not None:
        raise fail(
            f"annotation key {value!r} is read as {taken_for} by YAML readers, and kustomize"
            " cannot build an object with such a key; add a letter or a prefix"
            f" (example.com/{value})"
        )
    return value


def _annotation_value(value: str) -> str:
    if value.startswith("\t") and ("\n" in value or "\r" in value):
        raise fail(
            "starts with a tab and spans several lines: kustomize writes such an annotation"
            " as a block it cannot read back; remove the leading tab"
        )
    return value


def _not_reserved_annotation(value: str) -> str:
    if value.startswith(ANNOTATION_PREFIX):
        raise fail(
            f"annotation {value!r} is reserved for extgen; use description, owner or"
            " tls.serverName, which extgen writes under that prefix"
        )
    return value


LabelKey = Annotated[
    Text, _checked("label key", k8s.is_qualified_name), AfterValidator(_not_reserved_label)
]
# The API server checks annotation keys in lower case (ValidateAnnotations).
AnnotationKey = Annotated[
    Text,
    _checked("annotation key", lambda key: k8s.is_qualified_name(key.lower())),
    AfterValidator(_not_reserved_annotation),
    AfterValidator(_annotation_key_is_a_string),
]
# Written as annotation values: the annotations, description and owner.
AnnotationText = Annotated[Text, AfterValidator(_annotation_value)]


def looks_like_ip(text: str) -> bool:
    """True for text meant as an IP address (IPv6 has ':', IPv4 is four dotted numbers)."""
    return ":" in text or _DOTTED_DIGITS.fullmatch(text) is not None


def refused_address(address: Address) -> str | None:
    """Why extgen refuses `address` as an endpoint, if it does: what it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refused_address(address.ipv4_mapped)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata service"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address == BROADCAST:
        return "the broadcast address"
    return None


def _ip_in_hostname(text: str, address: Address) -> PydanticCustomError:
    refusal = refused_address(address)
    if refusal == "a cloud metadata service":
        return fail(f"{text!r} is a cloud metadata service; extgen never points at one")
    if refusal is not None:
        return fail(
            f"{text!r} is an IP address, not a hostname, and {refusal}, which extgen refuses"
            " as an endpoint too"
        )
    return fail(
        f"{text!r} is an IP address, not a hostname: an ExternalName Service that points"
        " at an IP resolves to nothing in cluster DNS. extgen turns IP targets into a"
        " headless Service with EndpointSlices: write the target as the address itself"
        f" (`ENV: {text}`) or as `{{addresses: [{text}]}}`"
    )


def parse_ip(text: str) -> Address | None:
    """The IP address `text` is, else None."""
    if not looks_like_ip(text):  # every IP address looks like one; the rest fail fast
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _dns_name(value: str) -> str:
    """The name in lower case, if it is a valid DNS name (one trailing dot allowed)."""
    if not value.isascii():
        raise fail(f"hostname {value!r} is not ASCII: write it as {_punycode(value)!r}")
    name = value.lower()
    bare = name[:-1] if name.endswith(".") else name
    reasons = k8s.is_dns1123_subdomain(bare) if bare else ["must not be empty"]
    reasons += [
        f"label {label[:20]!r}... is longer than 63 characters, the DNS limit"
        for label in bare.split(".")
        if len(label) > 63
    ]
    if reasons:
        raise fail(f"invalid hostname {value!r}: {'; '.join(reasons)}")
    return name


def _hostname(value: str) -> str:
    if notation := other_notation(value):
        raise fail(notation)
    if (address := parse_ip(value.strip("[]"))) is not None:
        raise _ip_in_hostname(value.strip("[]"), address)
    if value.isascii():  # judged as the address first: `--1.sslip.io` is no DNS name
        _refuse_address_in_disguise(value, value.lower().removesuffix("."))
    name = _dns_name(value)
    bare = name.removesuffix(".")
    if bare.rsplit(".", 1)[-1].isdigit():
        raise fail(
            f"hostname {value!r} ends in an all-digit label, which no DNS name does:"
            " a mistyped IP address? IP targets are written as the address or a list"
        )
    if bare in METADATA_HOSTNAMES:
        raise fail(f"{value!r} is a cloud metadata service; extgen never points at one")
    return name


_NEVER = "which extgen never points at"


def _refuse_address_in_disguise(value: str, bare: str) -> None:
    """Judges a name that reaches an address without DNS, or through a wildcard-DNS
    service, as that address: always, as the address itself would be."""
    if (address := libc_address(bare)) is not None:
        how = "libc's inet_aton reads it as that IPv4 address, without asking DNS"
        if (refusal := refused_address(address)) is not None:
            raise fail(f"{value!r} resolves to {address} ({how}): {refusal}, {_NEVER}")
        if not bare.rsplit(".", 1)[-1].isdigit():
            raise fail(
                f"hostname {value!r} is read by libc's inet_aton as the IPv4 address"
                f" {address}: write the address itself (an IP target)"
            )
    if (found := embedded_address(bare)) is not None:
        embedded, how = found
        if (refusal := refused_address(embedded)) is not None:
            raise fail(f"{value!r} resolves to {embedded} ({how}): {refusal}, {_NEVER}")


def _server_name(value: str) -> str:
    if parse_ip(value.strip("[]")) is not None:
        raise fail(
            f"{value.strip('[]')!r} is an IP address, but tls.serverName is the hostname that"
            " clients send in TLS (SNI, which carries no address) and check the target's"
            " certificate against: write that hostname, or leave tls out"
        )
    return _dns_name(value)


def _punycode(value: str) -> str:
    trailing = "." if value.endswith(".") else ""
    try:
        return idna.encode(value.rstrip("."), uts46=True).decode("ascii") + trailing
    except idna.IDNAError:
        return "its ASCII (punycode) form"


Hostname = Annotated[Text, AfterValidator(_hostname)]
ServerName = Annotated[Text, AfterValidator(_server_name)]


def _endpoint_ip(value: str) -> str:
    if notation := other_notation(value):
        raise fail(notation)
    if not looks_like_ip(value):
        raise fail(
            f"{value!r} is a hostname, but this target is a list of IP addresses: a target"
            " is either one hostname (an ExternalName Service) or IP addresses, not both"
        )
    reasons = k8s.validate_endpoint_ip(value)
    if reasons:
        raise fail(f"invalid endpoint address {value!r}: {'; '.join(reasons)}")
    address = ipaddress.ip_address(value)
    if address in METADATA_ADDRESSES:
        raise fail(f"{value!r} is a cloud metadata service; extgen never points at one")
    if address.is_multicast or address == BROADCAST:
        kind = "multicast" if address.is_multicast else "broadcast"
        raise fail(f"endpoint address {value!r} is a {kind} address, not a host")
    return str(address)


EndpointIP = Annotated[Text, AfterValidator(_endpoint_ip)]


# --- delivery settings (Argo CD, Flux) ----------------------------------------------------

# Go durations as Flux's CRDs accept them (kubebuilder pattern of spec.interval/timeout).
_DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(ms|s|m|h))+")
# What Flux's GitRepository accepts (pattern of spec.url), plus the scp-like form
# (git@host:path) that Argo CD and git also take.
_URL = re.compile(r"(https?|ssh)://[^\s/@]+(@[^\s/]+)?(/\S*)?")
_SCP_URL = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+")
_SERVER = re.compile(r"https?://[^\s/]+(/\S*)?")
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_VERSION = re.compile(r"v?[0-9]+(\.[0-9]+)+([-+][0-9A-Za-z.+-]*)?")
_NAME_PREFIX = re.compile(r"([a-z0-9]([-a-z0-9]*)?)?")


def _matching(what: str, pattern: re.Pattern[str], example: str) -> AfterValidator:
    def validate(value: str) -> str:
        if not pattern.fullmatch(value):
            raise fail(f"invalid {what} {value!r}: expected {example}")
        return value

    return AfterValidator(validate)


def _repository_path(value: str) -> str:
    path = value.strip()
    while path.startswith("./"):
        path = path[2:]
    path = path.rstrip("/") or "."
    parts = path.split("/")
    if path.startswith("/") or any(part in ("", "..") for part in parts) or "\\" in path:
        raise fail(
            f"invalid path {value!r}: the output directory's path inside the repository,"
            " relative to its root, with '/' between directories and no '..' (e.g. overlays)"
        )
    return "/".join(part for part in parts if part != ".") or "."


def _revision(value: str) -> str:
    if not value or any(char.isspace() for char in value):
        raise fail(f"invalid revision {value!r}: a branch, tag or commit, without spaces")
    return value


def reads_as_version(name: str) -> bool:
    """`v1.2.0`, `1.2`: a tag, usually, though branches are named so too."""
    return _VERSION.fullmatch(name) is not None


def revision_form(value: Any) -> Any:
    """gitops.revision written as one string -> its explicit mapping form.

    A bare name is a branch, as Flux and Argo CD take it; one that reads as a version
    is refused, since the user most likely means the tag and both tools would follow a
    branch (Flux) or a semver range over tags (Argo CD) instead.
    """
    text = _text(value)
    if not isinstance(text, str):
        return text
    name = _revision(text)
    for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
        if name.startswith(prefix) and len(name) > len(prefix):
            return {kind: name.removeprefix(prefix)}
    if name.startswith("refs/"):
        return {"name": name}
    if _COMMIT.fullmatch(name):
        return {"commit": name}
    if reads_as_version(name):
        raise fail(
            f"revision {name!r} reads as a version: write {{tag: {name}}} for the tag, or"
            f" {{branch: {name}}} for a branch of that name"
        )
    return {"branch": name}


def _commit(value: str) -> str:
    if not _COMMIT.fullmatch(value):
        raise fail(
            f"invalid commit {value!r}: expected its full hash, 40 (SHA-1) or 64 (SHA-256)"
            " lower-case hexadecimal digits"
        )
    return value


def _semver_range(value: str) -> str:
    if not value.strip():
        raise fail(f"invalid semver range {value!r}: a range over tags, e.g. '>=1.2.0 <1.3.0'")
    return value


def _full_reference(value: str) -> str:
    if not value.startswith("refs/"):
        raise fail(f"invalid reference {value!r}: a full Git reference, e.g. refs/pull/1/head")
    return value


def _cluster_name(value: str) -> str:
    if not value.strip() or value != value.strip():
        raise fail(f"invalid cluster name {value!r}: Argo CD's name of the cluster, not blank")
    return value


ObjectName = Annotated[Text, _checked("name", k8s.is_dns1123_subdomain)]
Duration = Annotated[
    Text, _matching("duration", _DURATION, "a Go duration such as 30s, 5m or 1h30m")
]
RepositoryUrl = Annotated[
    Text,
    AfterValidator(str.strip),
    _matching(
        "repository URL",
        re.compile(f"{_URL.pattern}|{_SCP_URL.pattern}"),
        "https://, http:// or ssh:// URL, or git@host:path",
    ),
]
RepositoryPath = Annotated[Text, AfterValidator(_repository_path)]
Revision = Annotated[Text, AfterValidator(_revision)]
CommitId = Annotated[Text, AfterValidator(_commit)]
SemverRange = Annotated[Text, AfterValidator(_semver_range)]
FullReference = Annotated[Text, AfterValidator(_revision), AfterValidator(_full_reference)]
ClusterServer = Annotated[
    Text, _matching("cluster server", _SERVER, "the API server's https:// URL")
]
ClusterName = Annotated[Text, AfterValidator(_cluster_name)]
NamePrefix = Annotated[
    Text,
    _matching("namePrefix", _NAME_PREFIX, "lower-case letters, digits and '-', e.g. extgen-"),
]


def is_scp_url(url: str) -> bool:
    return _SCP_URL.fullmatch(url) is not None
