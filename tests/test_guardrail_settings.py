"""The guardrail settings of an environment (SPEC §9): what is accepted, and bad input
through the real command line with exact positions and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run
from test_bad_catalogs import Expected, error_lines, expected_lines, validate

from extgen.catalog import parse_catalog
from extgen.guardrail_fields import Prober, split_prober
from extgen.model import NetworkPolicy, Probes

HEADER = """\
environments:
  dev:
    namespace: apps-dev
"""  # the settings under test begin on line 4
BOOLEAN_11 = (
    "expected true or false, got 'yes': extgen reads YAML 1.2 (as kustomize, Argo CD and Flux"
    " do), where it is a string; write true or false"
)
PROBER_HINT = (
    "expected the blackbox exporter as host:port or http(s)://host:port[/path]"
    " (e.g. blackbox-exporter.monitoring.svc:9115)"
)
INTERVAL = (
    "expected a Prometheus duration above zero such as 30s, 1m or 1h30m"
    " (whole numbers of y, w, d, h, m, s, ms)"
)
SWITCH = "expected true, false or a mapping such as {fqdn: cilium}, got"

BAD: list[tuple[str, str, Expected]] = [
    ("admission-policy-yes", "    admissionPolicy: yes\n", [(4, 22, BOOLEAN_11)]),
    (
        "admission-policy-mapping",
        "    admissionPolicy: {enabled: true}\n",
        [(4, 22, "expected true or false, got a mapping")],
    ),
    (
        "connection-config-string",
        '    connectionConfig: "true"\n',
        [(4, 23, "expected true or false, got the string 'true'")],
    ),
    (
        "connection-config-number",
        "    connectionConfig: 1\n",
        [(4, 23, "expected true or false, got the string '1'")],
    ),
    ("network-policy-word", "    networkPolicy: cilium\n", [(4, 20, f"{SWITCH} 'cilium'")]),
    ("network-policy-list", "    networkPolicy: [cilium]\n", [(4, 20, f"{SWITCH} a list")]),
    (
        "fqdn-not-cilium",
        "    networkPolicy: {fqdn: calico}\n",
        [(4, 27, "expected 'cilium', got 'calico'")],
    ),
    (
        "fqdn-true",
        "    networkPolicy: {fqdn: true}\n",
        [(4, 27, "expected 'cilium', got 'true'")],
    ),
    (
        "network-policy-unknown-key",
        "    networkPolicy:\n      fqdn: cilium\n      egress: all\n",
        [(6, 7, "unknown key 'egress' (expected one of: fqdn)")],
    ),
    ("probes-without-prober", "    probes: {interval: 30s}\n", [(4, 13, "missing key 'prober'")]),
    (
        "probes-true",
        "    probes: true\n",
        [
            (
                4,
                13,
                "expected a mapping such as {prober: HOST:PORT, interval: 30s}, got 'true':"
                " probes need to know where the blackbox exporter is",
            )
        ],
    ),
    (
        "probes-unknown-key",
        "    probes:\n      prober: bb:9115\n      timeout: 5s\n",
        [(6, 7, "unknown key 'timeout' (expected one of: prober, interval, module)")],
    ),
    (
        "probes-typo",
        "    probes:\n      probr: bb:9115\n",
        [(5, 7, "unknown key 'probr' (did you mean 'prober'?)")],
    ),
    (
        "prober-scheme",
        "    probes: {prober: 'ftp://bb:9115'}\n",
        [(4, 22, "invalid prober 'ftp://bb:9115': the scheme must be http or https")],
    ),
    (
        "prober-port",
        "    probes: {prober: 'bb.monitoring.svc:99999'}\n",
        [(4, 22, "invalid prober 'bb.monitoring.svc:99999': the port must be a number 1-65535")],
    ),
    (
        "prober-upper-case",
        "    probes: {prober: 'Blackbox:9115'}\n",
        [(4, 22, f"invalid prober 'Blackbox:9115': {PROBER_HINT}")],
    ),
    (
        "prober-query",
        "    probes: {prober: 'https://bb:9115/probe?x=1'}\n",
        [
            (
                4,
                22,
                f"invalid prober 'https://bb:9115/probe?x=1': {PROBER_HINT},"
                " without user, query or #",
            )
        ],
    ),
    (
        "prober-number",
        "    probes: {prober: 9115}\n",
        [(4, 22, f"invalid prober '9115': {PROBER_HINT}")],
    ),
    (
        "interval-fraction",
        "    probes: {prober: 'bb:9115', interval: 1.5m}\n",
        [(4, 43, f"invalid interval '1.5m': {INTERVAL}")],
    ),
    (
        "interval-zero",
        "    probes: {prober: 'bb:9115', interval: 0s}\n",
        [(4, 43, f"invalid interval '0s': {INTERVAL}")],
    ),
    (
        "module-space",
        "    probes: {prober: 'bb:9115', module: 'http 2xx'}\n",
        [(4, 41, "invalid module 'http 2xx': the name of a blackbox exporter module")],
    ),
    (
        "several",
        "    networkPolicy: {fqdn: calico}\n    probes: {interval: 1.5m}\n",
        [
            (4, 27, "expected 'cilium', got 'calico'"),
            (5, 13, "missing key 'prober'"),
            (5, 24, f"invalid interval '1.5m': {INTERVAL}"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [(text, expected) for _, text, expected in BAD],
    ids=[row_id for row_id, _, _ in BAD],
)
def test_bad_setting(tmp_path: Path, text: str, expected: Expected) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(HEADER + text, encoding="utf-8")
    exit_code, output = validate(path)
    assert "Traceback" not in output
    assert error_lines(output) == expected_lines(path, expected)
    assert exit_code == 1


def test_render_writes_nothing_on_a_bad_setting(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(HEADER + "    probes: {interval: 30s}\n", encoding="utf-8")
    result = run("render", "-c", str(path), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert not (tmp_path / "out").exists()


def environment(text: str) -> object:
    return parse_catalog([("catalog.yaml", HEADER + text)]).environments["dev"]


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("", "network_policy", None),
        ("    networkPolicy: true\n", "network_policy", NetworkPolicy()),
        ("    networkPolicy: false\n", "network_policy", None),
        ("    networkPolicy: null\n", "network_policy", None),
        ("    networkPolicy: {}\n", "network_policy", NetworkPolicy()),
        ("    networkPolicy: {fqdn: cilium}\n", "network_policy", NetworkPolicy(fqdn="cilium")),
        ("", "admission_policy", False),
        ("    admissionPolicy: true\n", "admission_policy", True),
        ("    connectionConfig: true\n", "connection_config", True),
        ("", "probes", None),
        ("    probes: {prober: 'bb:9115'}\n", "probes", Probes(prober="bb:9115", interval="30s")),
        (
            "    probes: {prober: 'bb:9115', interval: 1m, module: tcp_connect}\n",
            "probes",
            Probes(prober="bb:9115", interval="1m", module="tcp_connect"),
        ),
    ],
)
def test_accepted_settings(text: str, field: str, value: object) -> None:
    assert getattr(environment(text), field) == value


@pytest.mark.parametrize(
    ("value", "prober"),
    [
        ("blackbox-exporter.monitoring.svc:9115", Prober("blackbox-exporter.monitoring.svc:9115")),
        ("blackbox", Prober("blackbox")),
        ("10.0.0.5:9115", Prober("10.0.0.5:9115")),
        ("[2001:db8::5]:9115", Prober("[2001:db8::5]:9115")),
        ("http://bb.monitoring.svc:9115", Prober("bb.monitoring.svc:9115", "http")),
        ("https://bb:9115/", Prober("bb:9115", "https")),
        ("https://bb:9115/blackbox/probe", Prober("bb:9115", "https", "/blackbox/probe")),
    ],
)
def test_prober_parts(value: str, prober: Prober) -> None:
    assert split_prober(value) == prober


@pytest.mark.parametrize(
    "value",
    [
        "",
        "bb 9115",
        "bb:",
        "bb:port",
        "::1:9115",
        "[10.0.0.1]:80",
        "bb:0",
        "a/b:1",
        "10.0.0.256:80",
    ],
)
def test_prober_refused(value: str) -> None:
    with pytest.raises(ValueError, match="invalid prober"):
        split_prober(value)


def test_schema_lists_the_settings() -> None:
    result = run("schema")
    schema = json.loads(result.output)
    properties = schema["$defs"]["Environment"]["properties"]
    assert properties["admissionPolicy"]["type"] == "boolean"
    assert properties["connectionConfig"]["type"] == "boolean"
    assert properties["networkPolicy"]["anyOf"] == [
        {"$ref": "#/$defs/NetworkPolicy"},
        {"type": "boolean"},
        {"type": "null"},
    ]
    assert schema["$defs"]["NetworkPolicy"]["properties"]["fqdn"]["anyOf"][0] == {
        "const": "cilium",
        "type": "string",
    }
    assert schema["$defs"]["Probes"]["required"] == ["prober"]
    assert schema["$defs"]["Probes"]["additionalProperties"] is False
