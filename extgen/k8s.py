"""Kubernetes API server syntax checks used by extgen, ported from Go.

Each function returns the messages its Go counterpart returns (empty means valid), in
upstream wording minus the trailing "regex used for validation is ..." part. Sources in
kubernetes/kubernetes:
  staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go @008b3652 (DNS, ports)
  staging/src/k8s.io/apimachinery/pkg/api/validate/content/kube.go @26c03096 (label keys, values)
  staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go @008b3652 (annotations)
  staging/src/k8s.io/apimachinery/pkg/util/validation/ip.go @692785d2 (strict IP form)
  pkg/apis/core/validation/validation.go @000f2605 (ValidateNonSpecialIP, which the
  discovery validation @76f16841 calls as ValidateEndpointIP)
"""

import ipaddress
import re
from collections.abc import Mapping

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
QUALIFIED_NAME_MAX_LENGTH = 63
TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * (1 << 10)
_PORT_NAME_MAX_LENGTH = 15

_DNS1123_LABEL_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + r")*"
_LABEL_KEY_FMT = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

# Compiled once and always used with fullmatch: Go's "^...$" anchors the whole
# string, whereas Python's "$" would also accept a trailing newline.
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_LABEL_KEY_RE = re.compile(_LABEL_KEY_FMT)
_LABEL_VALUE_RE = re.compile("(" + _LABEL_KEY_FMT + ")?")
_PORT_NAME_CHARSET_RE = re.compile(r"[-a-z0-9]+")
_PORT_NAME_ONE_LETTER_RE = re.compile(r"[a-z]")
# An IPv4 address, possibly the tail of an IPv6 one, as Go's sloppy parser reads it.
_DOTTED_QUAD_RE = re.compile(r"(?P<head>(?:.*:)?)(?P<quad>[0-9]+(?:\.[0-9]+){3})")

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc')"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
)
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character "
    "(e.g. 'my-name' or 'abc-123')"
)
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName', 'my.name' or '123-abc')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character "
    "(e.g. 'MyValue', 'my_value' or '12345')"
)
_INVALID_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_LOOPBACK_MSG = "may not be in the loopback range (127.0.0.0/8, ::1/128)"
_LINK_LOCAL_MSG = "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
_LINK_LOCAL_MULTICAST_MSG = "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _go_len(value: str) -> int:
    """Go's len(): UTF-8 bytes, not characters."""
    return len(value.encode("utf-8", "surrogatepass"))


def _max_len_chars(limit: int) -> str:
    # validation.go says "characters"; the content package (label keys and values) "bytes".
    return f"must be no more than {limit} characters"


def is_dns1123_label(value: str) -> list[str]:
    """IsDNS1123Label: namespaces, port names, endpoint hostnames."""
    errs = []
    if _go_len(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(_max_len_chars(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        # Upstream singles out the common mistake of writing a subdomain.
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            errs.append("must not contain dots")
        else:
            errs.append(_DNS1123_LABEL_MSG)
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """IsDNS1123Subdomain: like upstream, no per-label length limit."""
    errs = []
    if _go_len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(_max_len_chars(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(_DNS1123_SUBDOMAIN_MSG)
    return errs


def is_dns1035_label(value: str) -> list[str]:
    """IsDNS1035Label: Service names, which must start with a letter."""
    errs = []
    if _go_len(value) > DNS1035_LABEL_MAX_LENGTH:
        errs.append(_max_len_chars(DNS1035_LABEL_MAX_LENGTH))
    if not _DNS1035_LABEL_RE.fullmatch(value):
        errs.append(_DNS1035_LABEL_MSG)
    return errs


def is_qualified_name(value: str) -> list[str]:
    """IsQualifiedName / IsLabelKey: label keys, annotation keys, appProtocol."""
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a valid label key " + _LABEL_KEY_MSG + " with an optional DNS subdomain prefix "
            "and '/' (e.g. 'example.com/MyName')"
        ]
    errs = _prefix_errors(parts[0]) if len(parts) == 2 else []
    return errs + _name_part_errors(parts[-1])


def _prefix_errors(prefix: str) -> list[str]:
    if not prefix:
        return ["prefix part must be non-empty"]
    return ["prefix part " + msg for msg in is_dns1123_subdomain(prefix)]


def _name_part_errors(name: str) -> list[str]:
    errs = []
    if not name:
        errs.append("name part must be non-empty")
    elif _go_len(name) > QUALIFIED_NAME_MAX_LENGTH:
        errs.append(f"name part must be no more than {QUALIFIED_NAME_MAX_LENGTH} bytes")
    if not _LABEL_KEY_RE.fullmatch(name):
        errs.append("name part " + _LABEL_KEY_MSG)
    return errs


def is_valid_label_value(value: str) -> list[str]:
    """IsValidLabelValue / IsLabelValue: empty is allowed."""
    errs = []
    if _go_len(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(f"must be no more than {LABEL_VALUE_MAX_LENGTH} bytes")
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(_LABEL_VALUE_MSG)
    return errs


def is_valid_port_num(port: int) -> list[str]:
    """IsValidPortNum: 0 is not a port."""
    if 1 <= port <= 65535:
        return []
    return ["must be between 1 and 65535, inclusive"]


def is_valid_port_name(name: str) -> list[str]:
    """IsValidPortName (IANA_SVC_NAME): named targetPorts; lower case only, unlike RFC 6335."""
    errs = []
    if _go_len(name) > _PORT_NAME_MAX_LENGTH:
        errs.append(_max_len_chars(_PORT_NAME_MAX_LENGTH))
    if not _PORT_NAME_CHARSET_RE.fullmatch(name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_ONE_LETTER_RE.search(name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name.startswith("-") or name.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def validate_annotation_keys_and_size(annotations: Mapping[str, str]) -> list[str]:
    """ValidateAnnotations: keys are case-insensitive qualified names; 256 KiB in total."""
    errs = [
        f'annotation key "{key}": {msg}'
        for key in sorted(annotations)
        for msg in is_qualified_name(key.lower())
    ]
    size = sum(_go_len(key) + _go_len(value) for key, value in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT_B:
        errs.append(
            f"annotations: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT_B} bytes (found {size})"
        )
    return errs


def validate_endpoint_ip(value: str) -> list[str]:
    """Strict IsValidIPForLegacyField followed by ValidateEndpointIP (ValidateNonSpecialIP)."""
    # Go's parser has no zones; Python's would accept "fe80::1%eth0".
    if "%" in value:
        return [_INVALID_IP_MSG]
    unpadded, had_leading_zeros = _strip_ipv4_leading_zeros(value)
    try:
        addr = ipaddress.ip_address(unpadded)
    except ValueError:
        return [_INVALID_IP_MSG]
    return _strict_form_errors(addr, had_leading_zeros) + _special_range_errors(addr, value)


def _strip_ipv4_leading_zeros(value: str) -> tuple[str, bool]:
    """Rewrite "010.1.1.1" as "10.1.1.1", as Go's sloppy parser reads it.

    Python refuses leading zeros outright; recognising them here lets the caller
    give upstream's specific message instead of "must be a valid IP address".
    """
    match = _DOTTED_QUAD_RE.fullmatch(value)
    if match is None:
        return value, False
    octets = [octet.lstrip("0") or "0" for octet in match["quad"].split(".")]
    if any(len(octet) > 3 or int(octet) > 255 for octet in octets):
        return value, False
    unpadded = match["head"] + ".".join(octets)
    return unpadded, unpadded != value


def _strict_form_errors(addr: IPAddress, had_leading_zeros: bool) -> list[str]:
    # Leading zeros make netip.ParseAddr fail, so upstream never gets to the
    # IPv4-mapped check for such a value; mirror that.
    if had_leading_zeros:
        return ["must not have leading 0s"]
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return ["must not be an IPv4-mapped IPv6 address"]
    return []


def _special_range_errors(addr: IPAddress, value: str) -> list[str]:
    """Go's net.IP range tests, which treat ::ffff:a.b.c.d as IPv4."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    raw = addr.packed
    checks = (
        (int(addr) == 0, f"may not be unspecified ({value})"),
        (_is_loopback(raw), _LOOPBACK_MSG),
        (_is_link_local_unicast(raw), _LINK_LOCAL_MSG),
        (_is_link_local_multicast(raw), _LINK_LOCAL_MULTICAST_MSG),
    )
    return [msg for hit, msg in checks if hit]


def _is_loopback(raw: bytes) -> bool:
    return raw[0] == 127 if len(raw) == 4 else int.from_bytes(raw) == 1


def _is_link_local_unicast(raw: bytes) -> bool:
    if len(raw) == 4:
        return raw[:2] == bytes((169, 254))
    return raw[0] == 0xFE and raw[1] & 0xC0 == 0x80


def _is_link_local_multicast(raw: bytes) -> bool:
    if len(raw) == 4:
        return raw[:3] == bytes((224, 0, 0))
    # Go tests only the scope nibble, so ff12:: counts as well as ff02::.
    return raw[0] == 0xFF and raw[1] & 0x0F == 0x02
