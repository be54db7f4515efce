"""Kubernetes' own validation test cases, replayed against extgen.k8s.

Every row names the upstream Go test function and the case (or the Go variable holding
the list) it comes from, so a reader can find it in kubernetes/kubernetes:

  A  = staging/src/k8s.io/apimachinery/pkg/util/validation/validation_test.go @008b3652
  IP = staging/src/k8s.io/apimachinery/pkg/util/validation/ip_test.go @73ac1386
  OM = staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta_test.go @08928a0d
  C  = pkg/apis/core/validation/validation_test.go @000f2605
  D  = pkg/apis/discovery/validation/validation_test.go @462f6168

Cases from C and D validate whole objects; each is reduced to the single value the case
varies, checked with the function the API server applies to that field.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import pytest

from extgen import k8s

T = TypeVar("T")
Row = tuple[str, str, T, bool]
FragmentRow = tuple[str, str, T, bool, str | None]


def _cases(test: str, case: str, values: Iterable[T], valid: bool) -> list[Row[T]]:
    """Rows for one upstream list, kept verbatim so it can be compared with the Go source."""
    return [(test, case, value, valid) for value in values]


def _flat(*groups: list[T]) -> list[T]:
    """Join lists, keeping upstream's line grouping visible in the source."""
    return [value for group in groups for value in group]


def _ids(rows: Iterable[tuple[object, ...]]) -> list[str]:
    return [f"{row[0]}:{row[1]}:{row[2]!r}"[:90] for row in rows]


# --- DNS-1123 labels: namespaces, port names, endpoint hostnames ----------------------

DNS1123_LABEL_ROWS: list[Row[str]] = [
    *_cases(
        "A TestIsDNS1123Label",
        "goodValues",
        _flat(
            ["a", "ab", "abc", "a1", "a-1", "a--1--2--b"],
            ["0", "01", "012", "1a", "1-a", "1--a--b--2", "a" * 63],
        ),
        True,
    ),
    *_cases(
        "A TestIsDNS1123Label",
        "badValues",
        _flat(
            ["", "A", "ABC", "aBc", "A1", "A-1", "1-A"],
            ["-", "a-", "-a", "1-", "-1"],
            ["_", "a_", "_a", "a_b", "1_", "_1", "1_2"],
            [".", "a.", ".a", "a.b", "1.", ".1", "1.2"],
            [" ", "a ", " a", "a b", "1 ", " 1", "1 2", "a" * 64],
        ),
        False,
    ),
    ("C TestValidateServiceCreate", "invalid namespace", "-123", False),
    ("C TestValidateServiceCreate", "invalid port name", "INVALID", False),
    ("C TestValidateServiceCreate", "dup port name", "p", True),
    *_cases("C TestValidateServiceCreate", "valid duplicate ports", ["q", "r", "s"], True),
    ("C TestValidateServiceCreate", "valid port type=LoadBalancer", "kubelet", True),
    *_cases("C TestValidateServiceCreate", "invalid public service", ["p1", "p2"], True),
    ("C TestValidateEndpointsCreate", "invalid namespace", 'no@#invalid.;chars"allowed', False),
    *_cases("C TestValidateEndpointsCreate", "simple endpoint", ["a", "b"], True),
    ("D TestValidateEndpointSlice", "good-slice (namespace)", "world", True),
    ("D TestValidateEndpointSlice", "good-slice (port name)", "http", True),
    ("D TestValidateEndpointSlice", "good-slice (hostname)", "valid-123", True),
    *_cases("D TestValidateEndpointSlice", "all-protocols", ["tcp", "udp", "sctp"], True),
    *_cases("D TestValidateEndpointSlice", "app-protocols", ["one", "two", "three"], True),
    ("D TestValidateEndpointSlice", "long-port-name", "a" * 63, True),
    # generatePorts(maxPorts) names ports http-0 .. http-19999.
    *_cases("D TestValidateEndpointSlice", "max-ports", ["http-0", "http-19999"], True),
    ("D TestValidateEndpointSlice", "bad-port-name-caps", "aCapital", False),
    ("D TestValidateEndpointSlice", "bad-port-name-chars", "almost_valid", False),
    ("D TestValidateEndpointSlice", "bad-port-name-length", "a" * 64, False),
    ("D TestValidateEndpointSlice", "bad-hostname", "--INVALID", False),
]


@pytest.mark.parametrize(
    ("test", "case", "value", "valid"), DNS1123_LABEL_ROWS, ids=_ids(DNS1123_LABEL_ROWS)
)
def test_dns1123_label(test: str, case: str, value: str, valid: bool) -> None:
    assert (k8s.is_dns1123_label(value) == []) is valid, k8s.is_dns1123_label(value)


# --- DNS-1035 labels: Service names -------------------------------------------------

DNS1035_LABEL_ROWS: list[Row[str]] = [
    *_cases(
        "A TestIsDNS1035Label",
        "goodValues",
        ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "a" * 63],
        True,
    ),
    *_cases(
        "A TestIsDNS1035Label",
        "badValues",
        _flat(
            ["0", "01", "012", "1a", "1-a", "1--a--b--2"],
            ["", "A", "ABC", "aBc", "A1", "A-1", "1-A"],
            ["-", "a-", "-a", "1-", "-1"],
            ["_", "a_", "_a", "a_b", "1_", "_1", "1_2"],
            [".", "a.", ".a", "a.b", "1.", ".1", "1.2"],
            [" ", "a ", " a", "a b", "1 ", " 1", "1 2", "a" * 64],
        ),
        False,
    ),
    ("C TestValidateServiceCreate", "invalid name", "-123", False),
    ("C TestValidateServiceCreate", "too long name", "a" * 64, False),
    # generateName is checked with a trailing '-' masked; neither value ends in '-'.
    ("C TestValidateServiceCreate", "invalid generateName", "-123", False),
    ("C TestValidateServiceCreate", "too long generateName", "a" * 64, False),
]


@pytest.mark.parametrize(
    ("test", "case", "value", "valid"), DNS1035_LABEL_ROWS, ids=_ids(DNS1035_LABEL_ROWS)
)
def test_dns1035_label(test: str, case: str, value: str, valid: bool) -> None:
    assert (k8s.is_dns1035_label(value) == []) is valid, k8s.is_dns1035_label(value)


# --- DNS-1123 subdomains: object names, node names ----------------------------------

DNS1123_SUBDOMAIN_ROWS: list[Row[str]] = [
    *_cases(
        "A TestIsDNS1123Subdomain",
        "goodValues",
        _flat(
            ["a", "ab", "abc", "a1", "a-1", "a--1--2--b"],
            ["0", "01", "012", "1a", "1-a", "1--a--b--2"],
            ["a.a", "ab.a", "abc.a", "a1.a", "a-1.a", "a--1--2--b.a"],
            ["a.1", "ab.1", "abc.1", "a1.1", "a-1.1", "a--1--2--b.1"],
            ["0.a", "01.a", "012.a", "1a.a", "1-a.a", "1--a--b--2"],
            ["0.1", "01.1", "012.1", "1a.1", "1-a.1", "1--a--b--2.1"],
            ["a.b.c.d.e", "aa.bb.cc.dd.ee", "1.2.3.4.5", "11.22.33.44.55", "a" * 253],
        ),
        True,
    ),
    *_cases(
        "A TestIsDNS1123Subdomain",
        "badValues",
        _flat(
            ["", "A", "ABC", "aBc", "A1", "A-1", "1-A"],
            ["-", "a-", "-a", "1-", "-1"],
            ["_", "a_", "_a", "a_b", "1_", "_1", "1_2"],
            [".", "a.", ".a", "a..b", "1.", ".1", "1..2"],
            [" ", "a ", " a", "a b", "1 ", " 1", "1 2"],
            ["A.a", "aB.a", "ab.A", "A1.a", "a1.A"],
            ["A.1", "aB.1", "A1.1", "1A.1"],
            ["0.A", "01.A", "012.A", "1A.a", "1a.A"],
            ["A.B.C.D.E", "AA.BB.CC.DD.EE", "a.B.c.d.e", "aa.bB.cc.dd.ee"],
            ["a@b", "a,b", "a_b", "a;b", "a:b", "a%b", "a?b", "a$b", "a" * 254],
        ),
        False,
    ),
    ("C TestValidateEndpointsCreate", "invalid name", "-_Invliad^&Characters", False),
    ("D TestValidateEndpointSlice", "good-slice (name)", "hello", True),
    ("D TestValidateEndpointSlice", "bad-meta", "*&^", False),
    ("D TestValidateEndpointSliceCreate", "good-slice-node-name", "valid-node-name", True),
    ("D TestValidateEndpointSliceCreate", "bad-node-name", "INvalid-node-name", False),
    ("D TestValidateEndpointSliceUpdate", "invalid node name set", "INVALID foo", False),
]


@pytest.mark.parametrize(
    ("test", "case", "value", "valid"), DNS1123_SUBDOMAIN_ROWS, ids=_ids(DNS1123_SUBDOMAIN_ROWS)
)
def test_dns1123_subdomain(test: str, case: str, value: str, valid: bool) -> None:
    assert (k8s.is_dns1123_subdomain(value) == []) is valid, k8s.is_dns1123_subdomain(value)


# --- Hostnames with an optional trailing dot: externalName, FQDN addresses ----------
# ValidateService and IsFullyQualifiedDomainName both strip exactly one trailing '.'
# and then apply IsDNS1123Subdomain, which is what the test below does.
# IsFullyQualifiedDomainName's extra "at least two labels" rule is not ported.

TRAILING_DOT_HOSTNAME_ROWS: list[Row[str]] = [
    ("C TestValidateServiceCreate", "valid ExternalName", "foo.bar.example.com", True),
    (
        "C TestValidateServiceCreate",
        "valid ExternalName (trailing dot)",
        "foo.bar.example.com.",
        True,
    ),
    ("C TestValidateServiceCreate", "invalid ExternalName (not a DNS name)", "-123", False),
    ("C TestValidateServiceCreate", "internalTrafficPolicy nil, ExternalName", "foo.bar.com", True),
    ("C TestValidateServiceUpdate", "valid: convert to ExternalName", "foo", True),
    *_cases(
        "D TestValidateEndpointSlice",
        "good-fqdns",
        ["foo.example.com", "example.com", "example.com.", "hyphens-are-good.example.com"],
        True,
    ),
    *_cases(
        "D TestValidateEndpointSlice",
        "bad-fqdns",
        ["foo.*", "FOO.example.com", "underscores_are_bad.example.com", "*.example.com"],
        False,
    ),
]


@pytest.mark.parametrize(
    ("test", "case", "value", "valid"),
    TRAILING_DOT_HOSTNAME_ROWS,
    ids=_ids(TRAILING_DOT_HOSTNAME_ROWS),
)
def test_hostname_with_trailing_dot(test: str, case: str, value: str, valid: bool) -> None:
    errs = k8s.is_dns1123_subdomain(value.removesuffix("."))
    assert (errs == []) is valid, errs


# --- Qualified names: label keys, selector keys, appProtocol ------------------------

QUALIFIED_NAME_ROWS: list[Row[str]] = [
    *_cases(
        "A TestIsQualifiedName",
        "successCases",
        [
            "simple",
            "now-with-dashes",
            "1-starts-with-num",
            "1234",
            "simple/simple",
            "now-with-dashes/simple",
            "now-with-dashes/now-with-dashes",
            "now.with.dots/simple",
            "now-with.dashes-and.dots/simple",
            "1-num.2-num/3-num",
            "1234/5678",
            "1.2.3.4/5678",
            "Uppercase_Is_OK_123",
            "example.com/Uppercase_Is_OK_123",
            "requests.storage-foo",
            "a" * 63,
            "a" * 253 + "/" + "b" * 63,
        ],
        True,
    ),
    *_cases(
        "A TestIsQualifiedName",
        "errorCases",
        [
            "nospecialchars%^=@",
            "cantendwithadash-",
            "-cantstartwithadash-",
            "only/one/slash",
            "Example.com/abc",
            "example_com/abc",
            "example.com/",
            "/simple",
            "a" * 64,
            "a" * 254 + "/abc",
        ],
        False,
    ),
    ("C TestValidateServiceCreate", "invalid label", "NoUppercaseOrSpecialCharsLike=Equals", False),
    ("C TestValidateServiceCreate", "invalid selector", "NoSpecialCharsLike=Equals", False),
    ("C TestValidateServiceCreate", "valid appProtocol", "HTTP", True),
    ("C TestValidateServiceCreate", "valid custom appProtocol", "example.com/protocol", True),
    (
        "C TestValidateServiceCreate",
        "invalid appProtocol",
        "example.com/protocol_with{invalid}[characters]",
        False,
    ),
    ("C TestValidateEndpointsCreate", "valid appProtocol", "HTTP", True),
    ("C TestValidateEndpointsCreate", "Invalid AppProtocol", "lots-of[invalid]-{chars}", False),
    ("C TestValidateEndpointsUpdate", "update to valid app protocol", "https", True),
    ("C TestValidateEndpointsUpdate", "update to invalid app protocol", "~https", False),
    *_cases(
        "D TestValidateEndpointSlice",
        "app-protocols",
        ["HTTP", "https", "my-protocol", "example.com/custom-protocol"],
        True,
    ),
    ("D TestValidateEndpointSlice", "bad-app-protocol", "--", False),
    # generateTopology(maxTopologyLabels) uses keys topology-0 .. topology-15.
    *_cases(
        "D TestValidateEndpointSlice", "max-topology-keys", ["topology-0", "topology-15"], True
    ),
    ("D TestValidateEndpointSlice", "bad-topology-key", "--INVALID", False),
]


@pytest.mark.parametrize(
    ("test", "case", "value", "valid"), QUALIFIED_NAME_ROWS, ids=_ids(QUALIFIED_NAME_ROWS)
)
def test_qualified_name(test: str, case: str, value: str, valid: bool) -> None:
    assert (k8s.is_qualified_name(value) == []) is valid, k8s.is_qualified_name(value)


# --- Label values ---------------------------------------------------------------------

LABEL_VALUE_ROWS: list[Row[str]] = [
    *_cases(
        "A TestIsValidLabelValue",
        "successCases",
        ["simple", "now-with-dashes", "1-starts-with-num", "end-with-num-1", "1234", "a" * 63, ""],
        True,
    ),
    *_cases(
        "A TestIsValidLabelValue",
        "errorCases",
        [
            "nospecialchars%^=@",
            "Tama-nui-te-rā.is.Māori.sun",
            "\\backslashes\\are\\bad",
            "-starts-with-dash",
            "ends-with-dash-",
            ".starts.with.dot",
            "ends.with.dot.",
            "a" * 64,
        ],
        False,
    ),
    ("D TestValidateEndpointSlice", "max-topology-keys (value)", "example", True),
    ("D TestValidateEndpointSlice", "valid-hints", "zone-a", True),
    ("D TestValidateEndpointSlice", "invalid-hints", "inv@lid", False),
]


@pytest.mark.parametrize(
    ("test", "case", "value", "valid"), LABEL_VALUE_ROWS, ids=_ids(LABEL_VALUE_ROWS)
)
def test_label_value(test: str, case: str, value: str, valid: bool) -> None:
    assert (k8s.is_valid_label_value(value) == []) is valid, k8s.is_valid_label_value(value)


# --- Port numbers: port, targetPort (int), endpoint ports -----------------------------

PORT_NUM_ROWS: list[Row[int]] = [
    *_cases("A TestIsValidPortNum", "goodValues", [1, 2, 1000, 16384, 32768, 65535], True),
    *_cases("A TestIsValidPortNum", "badValues", [0, -1, 65536, 100000], False),
    ("C TestValidateServiceCreate", "missing port", 0, False),
    ("C TestValidateServiceCreate", "invalid port", 65536, False),
    ("C TestValidateServiceCreate", "invalid TargetPort int", 65536, False),
    ("C TestValidateServiceCreate", "valid port headless", 11722, True),
    ("C TestValidateServiceCreate", "valid 2", 12345, True),
    ("C TestValidateServiceCreate", "valid port type=LoadBalancer", 10250, True),
    *_cases("C TestValidateEndpointsCreate", "simple endpoint", [8675, 309, 93, 76], True),
    ("C TestValidateEndpointsCreate", "Invalid port number", 66000, False),
    ("C TestValidateEndpointsCreate", "Port missing number", 0, False),
]


@pytest.mark.parametrize(("test", "case", "value", "valid"), PORT_NUM_ROWS, ids=_ids(PORT_NUM_ROWS))
def test_port_num(test: str, case: str, value: int, valid: bool) -> None:
    assert (k8s.is_valid_port_num(value) == []) is valid, k8s.is_valid_port_num(value)


# --- IANA service names: named targetPort -------------------------------------------

PORT_NAME_ROWS: list[Row[str]] = [
    *_cases(
        "A TestIsValidPortName",
        "goodValues",
        ["telnet", "re-mail-ck", "pop3", "a", "a-1", "1-a", "a-1-b-2-c", "1-a-2-b-3"],
        True,
    ),
    *_cases(
        "A TestIsValidPortName",
        "badValues",
        _flat(
            ["longerthan15characters", "", "a" * 16, "12345", "1-2-3-4"],
            ["-begin", "end-", "two--hyphens", "whois++"],
        ),
        False,
    ),
    ("C TestValidateServiceCreate", "valid 3", "http", True),
    ("C TestValidateServiceCreate", "invalid port headless 2", "target", True),
]


@pytest.mark.parametrize(
    ("test", "case", "value", "valid"), PORT_NAME_ROWS, ids=_ids(PORT_NAME_ROWS)
)
def test_port_name(test: str, case: str, value: str, valid: bool) -> None:
    assert (k8s.is_valid_port_name(value) == []) is valid, k8s.is_valid_port_name(value)


# --- Endpoint IPs (Endpoints, EndpointSlice, and externalIPs, which share the checks) --
# IP rows follow IsValidIPForLegacyField with strictValidation=true (the legacyStrictErr
# column), then ValidateNonSpecialIP. IsValidIP's canonical-form errors apply to new
# fields only, so non-canonical IPv6 stays valid here, as for Endpoints.

_VALID_IP = "must be a valid IP address"
_UNSPECIFIED = "may not be unspecified"

ENDPOINT_IP_ROWS: list[FragmentRow[str]] = [
    ("IP TestIsValidIP", "ipv4", "1.2.3.4", True, None),
    # A valid IP, but ValidateNonSpecialIP refuses it (fragment from that function).
    ("IP TestIsValidIP", "ipv4, all zeros", "0.0.0.0", False, _UNSPECIFIED),
    ("IP TestIsValidIP", "ipv4, max", "255.255.255.255", True, None),
    ("IP TestIsValidIP", "ipv6", "1234::abcd", True, None),
    # As for 0.0.0.0: a valid IP refused by ValidateNonSpecialIP.
    ("IP TestIsValidIP", "ipv6, all zeros, collapsed", "::", False, _UNSPECIFIED),
    ("IP TestIsValidIP", "ipv6, max", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", True, None),
    # Non-canonical but valid for a legacy field; refused as unspecified, as above.
    ("IP TestIsValidIP", "ipv6, all zeros, expanded", "0:0:0:0:0:0:0:0", False, _UNSPECIFIED),
    ("IP TestIsValidIP", "ipv6, leading 0s (non-canonical)", "0001:002:03:4::", True, None),
    ("IP TestIsValidIP", "ipv6, capital letters (non-canonical)", "1234::ABCD", True, None),
    # Valid with legacy validation, refused by strict validation, which extgen follows.
    ("IP TestIsValidIP", "ipv4 with leading 0s", "1.1.1.01", False, "must not have leading 0s"),
    (
        "IP TestIsValidIP",
        "ipv4-in-ipv6 value",
        "::ffff:1.1.1.1",
        False,
        "must not be an IPv4-mapped IPv6 address",
    ),
    ("IP TestIsValidIP", "empty string", "", False, _VALID_IP),
    ("IP TestIsValidIP", "junk", "aaaaaaa", False, _VALID_IP),
    ("IP TestIsValidIP", "domain name", "myhost.mydomain", False, _VALID_IP),
    ("IP TestIsValidIP", "cidr", "1.2.3.0/24", False, _VALID_IP),
    ("IP TestIsValidIP", "ipv4 with out-of-range octets", "1.2.3.400", False, _VALID_IP),
    ("IP TestIsValidIP", "ipv4 with negative octets", "-1.0.0.0", False, _VALID_IP),
    ("IP TestIsValidIP", "ipv6 with out-of-range segment", "2001:db8::10005", False, _VALID_IP),
    ("IP TestIsValidIP", "ipv4:port", "1.2.3.4:80", False, _VALID_IP),
    ("IP TestIsValidIP", "ipv6 with brackets", "[2001:db8::1]", False, _VALID_IP),
    ("IP TestIsValidIP", "[ipv6]:port", "[2001:db8::1]:80", False, _VALID_IP),
    ("IP TestIsValidIP", "host:port", "example.com:80", False, _VALID_IP),
    ("IP TestIsValidIP", "ipv6 with zone", "1234::abcd%eth0", False, _VALID_IP),
    ("IP TestIsValidIP", "ipv4 with zone", "169.254.0.0%eth0", False, _VALID_IP),
    ("IP TestGetWarningsForIP", "IPv4 No failures", "192.12.2.2", True, None),
    ("IP TestGetWarningsForIP", "IPv6 No failures", "2001:db8::2", True, None),
    # Upstream only warns here (legacy mode); strict validation refuses both.
    ("IP TestGetWarningsForIP", "IPv4 with leading zeros", "192.012.2.2", False, None),
    ("IP TestGetWarningsForIP", "IPv4-mapped IPv6", "::ffff:192.12.2.2", False, None),
    ("IP TestGetWarningsForIP", "IPv6 non-canonical format", "2001:db8:0:0::2", True, None),
    *[
        ("C TestValidateEndpointsCreate", "simple endpoint", ip, True, None)
        for ip in ("10.10.1.1", "10.10.2.2", "10.10.3.3")
    ],
    (
        "C TestValidateEndpointsCreate",
        "invalid IP",
        "[2001:0db8:85a3:0042:1000:8a2e:0370:7334]",
        False,
        None,
    ),
    ("C TestValidateEndpointsCreate", "Address missing IP", "", False, None),
    ("C TestValidateEndpointsCreate", "Address is loopback", "127.0.0.1", False, None),
    ("C TestValidateEndpointsCreate", "Address is link-local", "169.254.169.254", False, None),
    ("C TestValidateEndpointsCreate", "Address is link-local multicast", "224.0.0.1", False, None),
    ("C TestValidateServiceCreate", "invalid publicIPs localhost", "127.0.0.1", False, None),
    ("C TestValidateServiceCreate", "invalid publicIPs unspecified", "0.0.0.0", False, None),
    ("C TestValidateServiceCreate", "invalid publicIPs host", "myhost.mydomain", False, None),
    ("C TestValidateServiceCreate", "valid publicIPs", "1.2.3.4", True, None),
    # generateIPAddresses(1) yields 10.1.2.0.
    ("D TestValidateEndpointSlice", "good-slice", "10.1.2.0", True, None),
    ("D TestValidateEndpointSlice", "good-ipv6", "a00:100::4", True, None),
    ("D TestValidateEndpointSlice", "bad-ip", "123.456.789.012", False, None),
    # The slice fails only because its addressType is IPv4 (IsValidIPv4Address); the
    # address itself passes ValidateEndpointIP, which is family-agnostic.
    ("D TestValidateEndpointSlice", "bad-ipv4", "2001:4860:4860::8888", True, None),
    ("D TestValidateEndpointSlice", "bad-ipv6", "2001:4860:4860:defg", False, None),
    ("D TestValidateEndpointSlice", "special-ipv4", "127.0.0.1", False, None),
    ("D TestValidateEndpointSlice", "special-ipv6", "fe80::9656:d028:8652:66b6", False, None),
]


@pytest.mark.parametrize(
    ("test", "case", "value", "valid", "fragment"), ENDPOINT_IP_ROWS, ids=_ids(ENDPOINT_IP_ROWS)
)
def test_endpoint_ip(test: str, case: str, value: str, valid: bool, fragment: str | None) -> None:
    errs = k8s.validate_endpoint_ip(value)
    assert (errs == []) is valid, errs
    if fragment is not None:
        assert any(fragment in err for err in errs), errs


# --- Annotations --------------------------------------------------------------------

_LIMIT = k8s.TOTAL_ANNOTATION_SIZE_LIMIT_B
# Fragments from TestValidateAnnotations (maxLengthErrMsg, namePartErrMsg, nameErrMsg).
_MAX_LEN = "must be no more than"
_NAME_PART = "name part must consist of"
_NAME = "a valid label key must consist of"

_ANNOTATION_SUCCESS: list[dict[str, str]] = [
    {"simple": "bar"},
    {"now-with-dashes": "bar"},
    {"1-starts-with-num": "bar"},
    {"1234": "bar"},
    {"simple/simple": "bar"},
    {"now-with-dashes/simple": "bar"},
    {"now-with-dashes/now-with-dashes": "bar"},
    {"now.with.dots/simple": "bar"},
    {"now-with.dashes-and.dots/simple": "bar"},
    {"1-num.2-num/3-num": "bar"},
    {"1234/5678": "bar"},
    {"1.2.3.4/5678": "bar"},
    {"UpperCase123": "bar"},
    {"a": "b" * (_LIMIT - 1)},
    {"a": "b" * (_LIMIT // 2 - 1), "c": "d" * (_LIMIT // 2 - 1)},
]

ANNOTATION_ROWS: list[FragmentRow[Mapping[str, str]]] = [
    *[
        ("OM TestValidateAnnotations", f"successCases[{i}]", annotations, True, None)
        for i, annotations in enumerate(_ANNOTATION_SUCCESS)
    ],
    (
        "OM TestValidateAnnotations",
        "nameErrorCases[0]",
        {"nospecialchars^=@": "bar"},
        False,
        _NAME_PART,
    ),
    (
        "OM TestValidateAnnotations",
        "nameErrorCases[1]",
        {"cantendwithadash-": "bar"},
        False,
        _NAME_PART,
    ),
    ("OM TestValidateAnnotations", "nameErrorCases[2]", {"only/one/slash": "bar"}, False, _NAME),
    ("OM TestValidateAnnotations", "nameErrorCases[3]", {"a" * 254: "bar"}, False, _MAX_LEN),
    ("OM TestValidateAnnotations", "totalSizeErrorCases[0]", {"a": "b" * _LIMIT}, False, None),
    (
        "OM TestValidateAnnotations",
        "totalSizeErrorCases[1]",
        {"a": "b" * (_LIMIT // 2), "c": "d" * (_LIMIT // 2)},
        False,
        None,
    ),
    (
        "OM TestValidateObjectMetaDeclaratively",
        "invalid annotation key",
        {"-invalid": "val"},
        False,
        None,
    ),
    (
        "C TestValidateServiceCreate",
        "invalid annotation",
        {"NoSpecialCharsLike=Equals": "bar"},
        False,
        None,
    ),
]


def _annotation_ids(rows: Iterable[FragmentRow[Mapping[str, str]]]) -> list[str]:
    return [f"{row[0]}:{row[1]}" for row in rows]


@pytest.mark.parametrize(
    ("test", "case", "annotations", "valid", "fragment"),
    ANNOTATION_ROWS,
    ids=_annotation_ids(ANNOTATION_ROWS),
)
def test_annotations(
    test: str, case: str, annotations: Mapping[str, str], valid: bool, fragment: str | None
) -> None:
    errs = k8s.validate_annotation_keys_and_size(annotations)
    assert (errs == []) is valid, errs
    if not valid:
        # Every upstream error case here expects exactly one error.
        assert len(errs) == 1, errs
    if fragment is not None:
        assert fragment in errs[0], errs


ALL_TABLES: Mapping[str, list[tuple[object, ...]]] = {
    "dns1123_label": list(DNS1123_LABEL_ROWS),
    "dns1035_label": list(DNS1035_LABEL_ROWS),
    "dns1123_subdomain": list(DNS1123_SUBDOMAIN_ROWS),
    "trailing_dot_hostname": list(TRAILING_DOT_HOSTNAME_ROWS),
    "qualified_name": list(QUALIFIED_NAME_ROWS),
    "label_value": list(LABEL_VALUE_ROWS),
    "port_num": list(PORT_NUM_ROWS),
    "port_name": list(PORT_NAME_ROWS),
    "endpoint_ip": list(ENDPOINT_IP_ROWS),
    "annotations": list(ANNOTATION_ROWS),
}


def test_every_table_has_both_outcomes() -> None:
    """A table with only valid (or only invalid) rows would not notice a check that is off."""
    outcome: Callable[[tuple[object, ...]], object] = lambda row: row[3]  # noqa: E731
    for name, rows in ALL_TABLES.items():
        assert {outcome(row) for row in rows} == {True, False}, name
