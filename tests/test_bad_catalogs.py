"""Bad catalogs through the real command line, each with the exact errors a user should see.

Every row is (id, catalog text, expected errors as (line, column, message)). The catalog is
written to `tmp_path / "catalog.yaml"` and run through `extgen validate -c`; the error lines
of the output must be exactly the expected ones, in order. In a message, `{path}` stands
for the catalog file. Most catalogs start with `ENVIRONMENTS` (lines 1-5), so their own part
begins on line 6.
"""

from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from extgen.cli import cli

ENVIRONMENTS = """\
environments:
  dev:
    namespace: apps-dev
  prod:
    namespace: apps-prod
"""

Expected = list[tuple[int, int, str]]
Row = tuple[str, str, Expected]

# Kubernetes' own wording (k8s.io/apimachinery validation), as extgen repeats it.
LABEL_1123 = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-',"
    " and must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc')"
)
SUBDOMAIN_1123 = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters,"
    " '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
)
LABEL_1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with"
    " an alphabetic character, and end with an alphanumeric character"
    " (e.g. 'my-name' or 'abc-123')"
)
NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and"
    " end with an alphanumeric character (e.g. 'MyName', 'my.name' or '123-abc')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_'"
    " or '.', and must start and end with an alphanumeric character"
    " (e.g. 'MyValue', 'my_value' or '12345')"
)
INVALID_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
LOOPBACK = "may not be in the loopback range (127.0.0.0/8, ::1/128)"
LINK_LOCAL = "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
LINK_LOCAL_MULTICAST = "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
PORT_RANGE = "must be between 1 and 65535, inclusive"
INTERNAL_HINT = "set allowInternal: true on the dependency if this is intended"
TARGET_FORMS = "a target mapping needs exactly one of externalName, addresses, selector"
MIXED = (
    "is a hostname, but this target is a list of IP addresses: a target is either one"
    " hostname (an ExternalName Service) or IP addresses, not both"
)
ALL_DIGITS = (
    "ends in an all-digit label, which no DNS name does: a mistyped IP address? IP targets"
    " are written as the address or a list"
)
BIG = "x" * (130 * 1024)  # two of these exceed the 256 KiB annotation total


def reserved_label(key: str) -> str:
    return (
        f"label {key!r} is set by extgen itself and cannot be overridden: it ties Services,"
        " EndpointSlices and their owner together"
    )


def ip_not_hostname(ip: str) -> str:
    return (
        f"{ip!r} is an IP address, not a hostname: an ExternalName Service that points at an"
        " IP resolves to nothing in cluster DNS. extgen turns IP targets into a headless"
        " Service with EndpointSlices: write the target as the address itself"
        f" (`ENV: {ip}`) or as `{{addresses: [{ip}]}}`"
    )


def own_label(key: str, expected: str, value: str) -> str:
    return (
        f"label {key!r} is set by extgen itself (to {expected!r}): {value!r} would break what"
        " ties Services, EndpointSlices and their owner together; leave it out or write"
        f" {expected!r}"
    )


def metadata(target: str) -> str:
    return f"{target!r} is a cloud metadata service; extgen never points at one"


def with_environments(text: str) -> str:
    """ENVIRONMENTS (lines 1-5) followed by `text`, which starts on line 6."""
    return ENVIRONMENTS + textwrap.dedent(text)


def yaml(text: str) -> str:
    return textwrap.dedent(text)


# --- unknown keys, unknown environments, duplicate keys and definitions --------------------

UNKNOWN_AND_DUPLICATE: list[Row] = [
    (
        "top-level-unknown-key",
        with_environments("dependecies: []\n"),
        [(6, 1, "unknown top-level key 'dependecies' (did you mean 'dependencies'?)")],
    ),
    (
        "environment-unknown-key",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
                lables: {tier: web}
            """),
        [(4, 5, "unknown key 'lables' (did you mean 'labels'?)")],
    ),
    (
        "dependency-unknown-key",
        with_environments("""\
            dependencies:
              - name: db
                descripton: Orders database
                targets: {dev: db.example.com}
            """),
        [(8, 5, "unknown key 'descripton' (did you mean 'description'?)")],
    ),
    (
        "port-unknown-key",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: pg, port: 5432, targetport: 5433}
                targets: {dev: 10.0.0.1}
            """),
        [(9, 32, "unknown key 'targetport' (did you mean 'targetPort'?)")],
    ),
    (
        "target-mapping-unknown-key",
        with_environments("""\
            dependencies:
              - name: db
                targets:
                  dev: {externalName: db.example.com, label: {tier: data}}
            """),
        [(9, 43, "unknown key 'label' (did you mean 'labels'?)")],
    ),
    (
        "target-addresses-unknown-key",
        with_environments("""\
            dependencies:
              - name: db
                targets:
                  dev: {addresses: [10.0.0.1], namespace: erp}
            """),
        [(9, 36, "unknown key 'namespace' (did you mean 'namespaces'?)")],
    ),
    (
        "target-selector-unknown-key",
        with_environments("""\
            dependencies:
              - name: db
                ports: [{port: 80}]
                targets:
                  dev: {selector: {app: search}, annotation: {a: b}}
            """),
        [(10, 38, "unknown key 'annotation' (did you mean 'annotations'?)")],
    ),
    (
        "tls-unknown-key",
        with_environments("""\
            dependencies:
              - name: db
                tls: {servername: db.example.com}
                targets: {dev: db.example.com}
            """),
        # The missing key is the misspelt one: said once.
        [(8, 11, "unknown key 'servername' (did you mean 'serverName'?)")],
    ),
    (
        "unknown-key-without-close-match-lists-keys",
        with_environments("""\
            dependencies:
              - name: db
                region: eu
                targets: {dev: db.example.com}
            """),
        [
            (
                8,
                5,
                "unknown key 'region' (expected one of: name, description, owner, labels,"
                " annotations, namespaces, ports, tls, allowInternal, targets)",
            )
        ],
    ),
    (
        "unknown-environment-prdo",
        with_environments("""\
            dependencies:
              - name: db
                targets:
                  dev: db.example.com
                  prdo: db.example.com
            """),
        [(10, 7, "unknown environment 'prdo' (did you mean 'prod'?)")],
    ),
    (
        "unknown-environment-none-defined",
        yaml("""\
            dependencies:
              - name: db
                targets: {dev: db.example.com}
            """),
        [(3, 15, "unknown environment 'dev' (no environments are defined)")],
    ),
    (
        "duplicate-yaml-key-in-dependency",
        with_environments("""\
            dependencies:
              - name: db
                name: orders-db
                targets: {dev: db.example.com}
            """),
        [(8, 5, "duplicate key 'name' (first defined at {path}:7:5)")],
    ),
    (
        "duplicate-yaml-key-environment",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
              dev:
                namespace: other
            """),
        [(4, 3, "duplicate key 'dev' (first defined at {path}:2:3)")],
    ),
    (
        "duplicate-yaml-key-in-flow-mapping",
        with_environments("""\
            dependencies:
              - name: db
                ports: [{name: http, port: 80, port: 81}]
                targets: {dev: db.example.com}
            """),
        [(8, 36, "duplicate key 'port' (first defined at {path}:8:26)")],
    ),
    (
        # A duplicate key is not a syntax error: the rest of the file can still be checked.
        "duplicate-yaml-key-does-not-hide-other-errors",
        with_environments("""\
            dependencies:
              - name: db
                owner: data-team
                owner: sre
                targets: {dev: db.example.com}
              - name: Cache
                targets: {dev: cache.example.com}
            """),
        [
            (9, 5, "duplicate key 'owner' (first defined at {path}:8:5)"),
            (11, 11, f"invalid dependency name 'Cache': {LABEL_1035}"),
        ],
    ),
    (
        "dependency-defined-twice-in-one-file",
        with_environments("""\
            dependencies:
              - name: db
                targets: {dev: db.example.com}
              - name: db
                targets: {prod: db.example.com}
            """),
        [(9, 11, "dependency 'db' is defined twice (first at {path}:7:11)")],
    ),
]

# --- names: environments, Services, namespaces --------------------------------------------

NAMES: list[Row] = [
    (
        "environment-name-base-reserved",
        yaml("""\
            environments:
              base:
                namespace: apps
            """),
        [
            (
                2,
                3,
                "invalid environment name 'base': 'base' is reserved for the shared base of"
                " the output",
            )
        ],
    ),
    (
        "environment-name-uppercase",
        yaml("""\
            environments:
              Dev:
                namespace: apps-dev
            """),
        [(2, 3, f"invalid environment name 'Dev': {LABEL_1123}")],
    ),
    (
        "environment-name-underscore",
        yaml("""\
            environments:
              dev_eu:
                namespace: apps-dev
            """),
        [(2, 3, f"invalid environment name 'dev_eu': {LABEL_1123}")],
    ),
    (
        "environment-name-dot",
        yaml("""\
            environments:
              dev.eu:
                namespace: apps-dev
            """),
        [(2, 3, "invalid environment name 'dev.eu': must not contain dots")],
    ),
    (
        "environment-name-too-long",
        yaml(f"""\
            environments:
              {"e" * 64}:
                namespace: apps-dev
            """),
        [(2, 3, f"invalid environment name '{'e' * 64}': must be no more than 63 characters")],
    ),
    (
        "service-name-uppercase",
        with_environments("""\
            dependencies:
              - name: OrdersDB
                targets: {dev: db.example.com}
            """),
        [(7, 11, f"invalid dependency name 'OrdersDB': {LABEL_1035}")],
    ),
    (
        "service-name-leading-digit",
        with_environments("""\
            dependencies:
              - name: 1db
                targets: {dev: db.example.com}
            """),
        [(7, 11, f"invalid dependency name '1db': {LABEL_1035}")],
    ),
    (
        "service-name-64-characters",
        with_environments(f"""\
            dependencies:
              - name: {"d" * 64}
                targets: {{dev: db.example.com}}
            """),
        [(7, 11, f"invalid dependency name '{'d' * 64}': must be no more than 63 characters")],
    ),
    (
        "service-name-underscore",
        with_environments("""\
            dependencies:
              - name: orders_db
                targets: {dev: db.example.com}
            """),
        [(7, 11, f"invalid dependency name 'orders_db': {LABEL_1035}")],
    ),
    (
        "service-name-kustomization-reserved",
        with_environments("""\
            dependencies:
              - name: kustomization
                targets: {dev: db.example.com}
            """),
        [(7, 11, "'kustomization' is reserved: it is the name of kustomize's own file")],
    ),
    (
        "environment-namespace-invalid",
        yaml("""\
            environments:
              dev:
                namespace: Apps
            """),
        [(3, 16, f"invalid namespace 'Apps': {LABEL_1123}")],
    ),
    (
        "dependency-namespace-invalid",
        with_environments("""\
            dependencies:
              - name: db
                namespaces: [erp, Fin_ance]
                targets: {dev: db.example.com}
            """),
        [(8, 23, f"invalid namespace 'Fin_ance': {LABEL_1123}")],
    ),
    (
        "dependency-namespace-duplicate",
        with_environments("""\
            dependencies:
              - name: db
                namespaces: [erp, erp]
                targets: {dev: db.example.com}
            """),
        [(8, 23, "duplicate namespace 'erp'")],
    ),
    (
        "dependency-namespaces-empty",
        with_environments("""\
            dependencies:
              - name: db
                namespaces: []
                targets: {dev: db.example.com}
            """),
        [(8, 17, "namespaces must not be empty")],
    ),
    (
        # The list is not empty: its only entry is invalid.
        "target-namespace-invalid",
        with_environments("""\
            dependencies:
              - name: db
                targets:
                  dev: {externalName: db.example.com, namespaces: [Erp]}
            """),
        [(9, 56, f"invalid namespace 'Erp': {LABEL_1123}")],
    ),
]

# --- ports -------------------------------------------------------------------------------

PORTS: list[Row] = [
    (
        "port-name-uppercase",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: HTTP, port: 80}
                targets: {dev: db.example.com}
            """),
        [(9, 16, f"invalid port name 'HTTP': {LABEL_1123}")],
    ),
    (
        "port-name-too-long",
        with_environments(f"""\
            dependencies:
              - name: db
                ports:
                  - {{name: {"p" * 64}, port: 80}}
                targets: {{dev: db.example.com}}
            """),
        [(9, 16, f"invalid port name '{'p' * 64}': must be no more than 63 characters")],
    ),
    (
        "port-name-missing-with-two-ports",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http, port: 80}
                  - {port: 443}
                targets: {dev: db.example.com}
            """),
        [(10, 9, "each port needs a name when there is more than one port")],
    ),
    (
        "port-name-duplicate",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http, port: 80}
                  - {name: http, port: 443}
                targets: {dev: db.example.com}
            """),
        [(10, 16, "duplicate port name 'http'")],
    ),
    (
        "port-and-protocol-duplicate",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http, port: 80}
                  - {name: web, port: 80, protocol: TCP}
                targets: {dev: db.example.com}
            """),
        [(10, 27, "duplicate port and protocol '80/TCP'")],
    ),
    (
        "port-0",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http, port: 0}
                targets: {dev: db.example.com}
            """),
        [(9, 28, f"invalid port 0: {PORT_RANGE}")],
    ),
    (
        "port-65536",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http, port: 65536}
                targets: {dev: db.example.com}
            """),
        [(9, 28, f"invalid port 65536: {PORT_RANGE}")],
    ),
    (
        "protocol-lowercase",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http, port: 80, protocol: tcp}
                targets: {dev: db.example.com}
            """),
        [(9, 42, "expected 'TCP', 'UDP' or 'SCTP', got 'tcp'")],
    ),
    (
        # The message names the field the user wrote: targetPort, not port.
        "target-port-0",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http, port: 80, targetPort: 0}
                targets: {dev: 10.0.0.1}
            """),
        [(9, 44, f"invalid targetPort 0: {PORT_RANGE}")],
    ),
    (
        "target-port-consecutive-hyphens",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http, port: 80, targetPort: two--hyphens}
                targets: {dev: {selector: {app: db}}}
            """),
        [
            (
                9,
                44,
                "invalid targetPort 'two--hyphens': a number 1-65535 or an IANA service name;"
                " must not contain consecutive hyphens",
            )
        ],
    ),
    (
        "target-port-name-too-long",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http, port: 80, targetPort: longerthan15characters}
                targets: {dev: {selector: {app: db}}}
            """),
        [
            (
                9,
                44,
                "invalid targetPort 'longerthan15characters': a number 1-65535 or an IANA"
                " service name; must be no more than 15 characters",
            )
        ],
    ),
    (
        "app-protocol-invalid",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http, port: 80, appProtocol: 'HTTP 2'}
                targets: {dev: db.example.com}
            """),
        [(9, 45, f"invalid appProtocol 'HTTP 2': {NAME_PART}")],
    ),
    (
        "port-number-missing",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http}
                targets: {dev: db.example.com}
            """),
        [(9, 9, "missing key 'port'")],
    ),
    (
        "target-override-port-name-invalid",
        with_environments("""\
            dependencies:
              - name: db
                targets:
                  dev: {externalName: db.example.com, ports: [{name: HTTP, port: 80}]}
            """),
        [(9, 58, f"invalid port name 'HTTP': {LABEL_1123}")],
    ),
]

# --- labels and annotations --------------------------------------------------------------

LABELS_AND_ANNOTATIONS: list[Row] = [
    # Found by the catalog fuzzer: values kustomize cannot build or writes ambiguously.
    *[
        (
            f"annotation-key-read-as-{key}",
            with_environments(f"""\
                dependencies:
                  - name: db
                    annotations: {{'{key}': x}}
                    targets: {{dev: db.example.com}}
                """),
            [
                (
                    8,
                    19,
                    f"annotation key '{key}' is read as {what} by YAML readers, and kustomize"
                    " cannot build an object with such a key; add a letter or a prefix"
                    f" (example.com/{key})",
                )
            ],
        )
        for key, what in [
            ("61", "a number (int)"),
            ("1e3", "a number (float)"),
            ("0x1F", "a number (int)"),
            ("0755", "a number (int)"),
            ("true", "a boolean"),
            ("null", "null"),
            ("2001-12-14", "a date"),
        ]
    ],
    (
        "description-tab-and-line-break",
        with_environments("""\
            dependencies:
              - name: db
                description: "\\tkind: x\\n"
                targets: {dev: db.example.com}
            """),
        [
            (
                8,
                18,
                "starts with a tab and spans several lines: kustomize writes such an"
                " annotation as a block it cannot read back; remove the leading tab",
            )
        ],
    ),
    *[
        (
            f"{field}-read-as-infinity",
            with_environments(f"""\
                dependencies:
                  - name: db
                    {text}
                    targets: {{dev: 10.0.0.1}}
                """),
            [
                (
                    8,
                    column,
                    f"'{value}' is read as infinity by YAML 1.2 readers: kustomize writes it"
                    " without quotes; choose another value",
                )
            ],
        )
        for field, text, value, column in [
            ("namespace", "namespaces: ['71e1008']", "71e1008", 18),
            ("port-name", "ports: [{name: '9e999', port: 80}]", "9e999", 20),
            ("owner", "owner: 1e400", "1e400", 12),
        ]
    ],
    (
        "label-key-invalid",
        with_environments("""\
            dependencies:
              - name: db
                labels: {-team: data}
                targets: {dev: db.example.com}
            """),
        [(8, 14, f"invalid label key '-team': {NAME_PART}")],
    ),
    (
        "label-value-invalid",
        with_environments("""\
            dependencies:
              - name: db
                labels: {team: data team}
                targets: {dev: db.example.com}
            """),
        [(8, 20, f"invalid label value 'data team': {LABEL_VALUE}")],
    ),
    (
        "label-value-too-long",
        with_environments(f"""\
            dependencies:
              - name: db
                labels: {{team: {"t" * 64}}}
                targets: {{dev: db.example.com}}
            """),
        [(8, 20, f"invalid label value '{'t' * 64}': must be no more than 63 bytes")],
    ),
    (
        "label-reserved-managed-by-on-environment",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
                labels: {app.kubernetes.io/managed-by: helm}
            """),
        [(4, 44, own_label("app.kubernetes.io/managed-by", "extgen", "helm"))],
    ),
    (
        "label-reserved-service-name",
        with_environments("""\
            dependencies:
              - name: db
                labels: {kubernetes.io/service-name: other}
                targets: {dev: db.example.com}
            """),
        [(8, 42, own_label("kubernetes.io/service-name", "db", "other"))],
    ),
    (
        "label-reserved-endpointslice-prefix",
        with_environments("""\
            dependencies:
              - name: db
                labels: {endpointslice.kubernetes.io/anything: x}
                targets: {dev: db.example.com}
            """),
        [(8, 14, reserved_label("endpointslice.kubernetes.io/anything"))],
    ),
    (
        "label-reserved-name-on-target",
        with_environments("""\
            dependencies:
              - name: db
                targets:
                  dev: {addresses: [10.0.0.1], labels: {app.kubernetes.io/name: x}}
            """),
        [(9, 69, own_label("app.kubernetes.io/name", "db", "x"))],
    ),
    (
        "annotation-key-invalid",
        with_environments("""\
            dependencies:
              - name: db
                annotations: {bad key: x}
                targets: {dev: db.example.com}
            """),
        [(8, 19, f"invalid annotation key 'bad key': {NAME_PART}")],
    ),
    (
        "annotation-extgen-prefix-reserved",
        with_environments("""\
            dependencies:
              - name: db
                annotations: {extgen.io/owner: me}
                targets: {dev: db.example.com}
            """),
        [
            (
                8,
                19,
                "annotation 'extgen.io/owner' is reserved for extgen; use description, owner"
                " or tls.serverName, which extgen writes under that prefix",
            )
        ],
    ),
    (
        "annotations-over-256-kib",
        with_environments(f"""\
            dependencies:
              - name: db
                annotations: {{a: {BIG}, b: {BIG}}}
                targets: {{dev: db.example.com}}
            """),
        [
            (
                8,
                18,
                "in environment 'dev', annotations: must have at most 262144 bytes (found 266242)",
            )
        ],
    ),
    (
        # The dependency has no annotations at all: the environment's are at fault.
        "annotations-over-256-kib-from-environment",
        yaml(f"""\
            environments:
              dev:
                namespace: apps-dev
                annotations: {{a: {BIG}, b: {BIG}}}
            dependencies:
              - name: db
                targets: {{dev: db.example.com}}
            """),
        [
            (
                4,
                18,
                "annotations: must have at most 262144 bytes (found 266242)",
            )
        ],
    ),
]

# --- hostname targets ------------------------------------------------------------------


def hostname_row(row_id: str, target: str, message: str, column: int = 12) -> Row:
    """A dependency whose only target, `dev: TARGET`, is on line 9."""
    text = with_environments(f"""\
        dependencies:
          - name: db
            targets:
              dev: {target}
        """)
    return (row_id, text, [(9, column, message)])


HOSTNAMES: list[Row] = [
    hostname_row("external-name-ipv4", "{externalName: 10.0.0.1}", ip_not_hostname("10.0.0.1"), 27),
    hostname_row(
        "external-name-ipv6",
        "{externalName: '2001:db8::1'}",
        ip_not_hostname("2001:db8::1"),
        27,
    ),
    hostname_row(
        "hostname-all-digit-last-label", "1.2.3.4.5", f"hostname '1.2.3.4.5' {ALL_DIGITS}"
    ),
    hostname_row(
        "external-name-ipv4-with-leading-zero",
        "{externalName: 010.1.1.1}",
        f"hostname '010.1.1.1' {ALL_DIGITS}",
        27,
    ),
    hostname_row("hostname-empty-label", "a..b", f"invalid hostname 'a..b': {SUBDOMAIN_1123}"),
    hostname_row(
        "hostname-underscore",
        "a_b.example.com",
        f"invalid hostname 'a_b.example.com': {SUBDOMAIN_1123}",
    ),
    hostname_row(
        "hostname-label-64",
        f"{'h' * 64}.example.com",
        f"invalid hostname '{'h' * 64}.example.com': label '{'h' * 20}'... is longer than 63"
        " characters, the DNS limit",
    ),
    hostname_row(
        "hostname-over-253",
        f"{'.'.join(['h' * 50] * 5)}.example.com",
        f"invalid hostname '{'.'.join(['h' * 50] * 5)}.example.com': must be no more than 253"
        " characters",
    ),
    hostname_row(
        "hostname-non-ascii",
        "bücher.example.com",
        "hostname 'bücher.example.com' is not ASCII: write it as 'xn--bcher-kva.example.com'",
    ),
    hostname_row(
        "hostname-localhost",
        "localhost",
        f"'localhost' is the local host of the pod's node or proxy; {INTERNAL_HINT}",
    ),
    hostname_row(
        "hostname-below-localhost",
        "db.localhost",
        f"'db.localhost' is the local host of the pod's node or proxy; {INTERNAL_HINT}",
    ),
    hostname_row(
        "hostname-single-label",
        "db",
        "'db' is a single label, which resolves through the pod's search path in the cluster;"
        f" {INTERNAL_HINT}",
    ),
    hostname_row(
        "hostname-svc",
        "db.default.svc",
        f"'db.default.svc' is a Service inside the cluster; {INTERNAL_HINT}",
    ),
    hostname_row(
        "hostname-svc-cluster-local",
        "db.default.svc.cluster.local",
        f"'db.default.svc.cluster.local' is a Service inside the cluster; {INTERNAL_HINT}",
    ),
    hostname_row(
        "hostname-cluster-local",
        "db.cluster.local",
        f"'db.cluster.local' is inside the cluster domain 'cluster.local'; {INTERNAL_HINT}",
    ),
    (
        "hostname-custom-cluster-domain",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
                clusterDomain: k8s.example
            dependencies:
              - name: db
                targets: {dev: db.ns.svc.k8s.example}
              - name: cache
                targets: {dev: cache.k8s.example}
            """),
        [
            (7, 20, f"'db.ns.svc.k8s.example' is a Service inside the cluster; {INTERNAL_HINT}"),
            (
                9,
                20,
                f"'cache.k8s.example' is inside the cluster domain 'k8s.example'; {INTERNAL_HINT}",
            ),
        ],
    ),
    (
        # Metadata services are refused always, allowInternal or not.
        "hostname-metadata-google-internal",
        with_environments("""\
            dependencies:
              - name: db
                allowInternal: true
                targets: {dev: metadata.google.internal}
            """),
        [(9, 20, metadata("metadata.google.internal"))],
    ),
    (
        "tls-server-name-ip",
        with_environments("""\
            dependencies:
              - name: db
                tls: {serverName: 10.0.0.1}
                targets: {dev: db.example.com}
            """),
        [
            (
                8,
                23,
                "'10.0.0.1' is an IP address, but tls.serverName is the hostname that clients"
                " send in TLS (SNI, which carries no address) and check the target's"
                " certificate against: write that hostname, or leave tls out",
            )
        ],
    ),
]

# --- IP targets --------------------------------------------------------------------------


def address_row(row_id: str, target: str, message: str, column: int = 12) -> Row:
    """A dependency whose only target, `dev: TARGET`, is on line 9."""
    return hostname_row(row_id, target, message, column)


def bad_ip(address: str, reason: str) -> str:
    return f"invalid endpoint address {address!r}: {reason}"


ADDRESSES: list[Row] = [
    # A single address that is invalid is just that: the list is not empty.
    address_row("ip-loopback", "127.0.0.1", bad_ip("127.0.0.1", LOOPBACK)),
    address_row("ip-loopback-ipv6", "[10.0.0.1, '::1']", bad_ip("::1", LOOPBACK), 23),
    address_row("ip-unspecified", "0.0.0.0", bad_ip("0.0.0.0", "may not be unspecified (0.0.0.0)")),
    address_row(
        "ip-unspecified-ipv6", "[10.0.0.1, '::']", bad_ip("::", "may not be unspecified (::)"), 23
    ),
    address_row("ip-metadata-link-local", "169.254.169.254", bad_ip("169.254.169.254", LINK_LOCAL)),
    address_row("ip-link-local-ipv6", "[10.0.0.1, 'fe80::1']", bad_ip("fe80::1", LINK_LOCAL), 23),
    address_row(
        "ip-link-local-multicast",
        "[10.0.0.1, 224.0.0.1]",
        bad_ip("224.0.0.1", LINK_LOCAL_MULTICAST),
        23,
    ),
    address_row(
        "ip-multicast",
        "[10.0.0.1, 239.1.2.3]",
        "endpoint address '239.1.2.3' is a multicast address, not a host",
        23,
    ),
    address_row(
        "ip-multicast-ipv6",
        "[10.0.0.1, 'ff05::1']",
        "endpoint address 'ff05::1' is a multicast address, not a host",
        23,
    ),
    address_row(
        "ip-broadcast",
        "[10.0.0.1, 255.255.255.255]",
        "endpoint address '255.255.255.255' is a broadcast address, not a host",
        23,
    ),
    address_row("ip-leading-zeros", "10.0.0.01", bad_ip("10.0.0.01", "must not have leading 0s")),
    address_row(
        "ip-leading-zeros-looks-like-hostname",
        "010.1.1.1",
        bad_ip("010.1.1.1", "must not have leading 0s"),
    ),
    address_row(
        "ip-ipv4-mapped-ipv6",
        "[10.0.0.1, '::ffff:10.0.0.1']",
        bad_ip("::ffff:10.0.0.1", "must not be an IPv4-mapped IPv6 address"),
        23,
    ),
    address_row("ip-metadata-aws-ipv6", "'fd00:ec2::254'", metadata("fd00:ec2::254")),
    address_row(
        "ip-metadata-alibaba", "[10.0.0.1, 100.100.100.200]", metadata("100.100.100.200"), 23
    ),
    address_row("ip-invalid", "[10.0.0.1, 10.0.0.256]", bad_ip("10.0.0.256", INVALID_IP), 23),
    address_row(
        "ip-explicit-form-loopback",
        "{addresses: [127.0.0.1]}",
        bad_ip("127.0.0.1", LOOPBACK),
        25,
    ),
    address_row(
        "ip-duplicate", "[10.0.0.1, 10.0.0.2, 10.0.0.1]", "duplicate address '10.0.0.1'", 33
    ),
    address_row(
        "ip-duplicate-after-canonicalisation",
        "['2001:db8::1', '2001:DB8:0::1']",
        "duplicate address '2001:db8::1'",
        28,
    ),
    address_row("ip-list-empty", "[]", "addresses must not be empty"),
    address_row("ip-explicit-list-empty", "{addresses: []}", "addresses must not be empty", 24),
    address_row(
        "ip-list-with-hostname", "[10.0.0.1, db.example.com]", f"'db.example.com' {MIXED}", 23
    ),
]

# --- allowedTargets ----------------------------------------------------------------------


def allowed_row(row_id: str, allowed: str, target: str, message: str, column: int = 12) -> Row:
    """Environment `dev` allows ALLOWED (line 4); the target `dev: TARGET` is on line 8."""
    text = yaml(f"""\
        environments:
          dev:
            namespace: apps-dev
            allowedTargets: {allowed}
        dependencies:
          - name: db
            targets:
              dev: {target}
        """)
    return (row_id, text, [(8, column, message)])


ALLOWED_TARGETS: list[Row] = [
    allowed_row(
        "allowed-hostname-not-matching",
        "['*.example.com', 10.0.0.0/8]",
        "db.example.org",
        "'db.example.org' is not in the allowedTargets of environment 'dev'"
        " (*.example.com, 10.0.0.0/8)",
    ),
    allowed_row(
        "allowed-ip-outside-cidr",
        "['*.example.com', 10.0.0.0/8]",
        "[10.0.0.1, 192.168.1.1]",
        "192.168.1.1 is outside the allowedTargets of environment 'dev'"
        " (*.example.com, 10.0.0.0/8)",
        23,
    ),
    allowed_row(
        "allowed-only-cidrs-refuses-hostname",
        "[10.0.0.0/8, '2001:db8::/32']",
        "db.example.com",
        "'db.example.com' is not in the allowedTargets of environment 'dev'"
        " (10.0.0.0/8, 2001:db8::/32)",
    ),
    allowed_row(
        "allowed-only-hosts-refuses-ip",
        "['*.example.com']",
        "10.0.0.1",
        "10.0.0.1 is outside the allowedTargets of environment 'dev' (*.example.com)",
    ),
    allowed_row(
        "allowed-wildcard-does-not-match-apex",
        "['*.example.com']",
        "example.com",
        "'example.com' is not in the allowedTargets of environment 'dev' (*.example.com)",
    ),
    allowed_row(
        "allowed-empty-list-admits-nothing",
        "[]",
        "db.example.com",
        "'db.example.com' is not in the allowedTargets of environment 'dev'"
        " (an empty list admits nothing)",
    ),
    (
        "allow-internal-does-not-bypass-allowed-targets",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
                allowedTargets: ['*.example.com']
            dependencies:
              - name: db
                allowInternal: true
                targets:
                  dev: db.default.svc.cluster.local
            """),
        [
            (
                9,
                12,
                "'db.default.svc.cluster.local' is not in the allowedTargets of environment"
                " 'dev' (*.example.com)",
            )
        ],
    ),
    (
        "allowed-cidr-with-host-bits",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
                allowedTargets: [10.0.0.1/8]
            """),
        [(4, 22, "invalid CIDR '10.0.0.1/8' in allowedTargets: 10.0.0.1/8 has host bits set")],
    ),
    (
        # An environment with an error is still defined: its dependencies' targets in it
        # are not "unknown environments".
        "invalid-environment-is-still-defined",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
                allowedTargets: [10.0.0.1/8]
            dependencies:
              - name: db
                targets:
                  dev: 10.0.0.2
            """),
        [(4, 22, "invalid CIDR '10.0.0.1/8' in allowedTargets: 10.0.0.1/8 has host bits set")],
    ),
    (
        "invalid-environment-namespace-is-still-defined",
        with_environments("""\
            dependencies:
              - name: db
                targets:
                  prod: db.example.com
            """).replace("namespace: apps-prod", "namespace: Apps"),
        [(5, 16, f"invalid namespace 'Apps': {LABEL_1123}")],
    ),
]

# --- target forms and the rules between ports and targets -------------------------------

TARGET_FORMS_AND_PORTS: list[Row] = [
    (
        "selector-target-without-ports",
        with_environments("""\
            dependencies:
              - name: search
                targets:
                  dev: {selector: {app: search}}
            """),
        [(9, 12, "the selector target in 'dev' needs ports: a ClusterIP Service has some")],
    ),
    (
        "target-port-on-hostname-target",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http, port: 80, targetPort: 8080}
                targets:
                  dev: db.example.com
            """),
        [
            (
                9,
                44,
                "targetPort 8080 differs from port 80, but the target in 'dev' is a hostname:"
                " an ExternalName Service cannot remap ports, clients connect to"
                " db.example.com:80; remove targetPort, and write port: 8080 if that is where"
                " the target listens",
            )
        ],
    ),
    (
        "named-target-port-on-ip-target",
        with_environments("""\
            dependencies:
              - name: db
                ports:
                  - {name: http, port: 80, targetPort: web}
                targets:
                  dev: 10.0.0.1
            """),
        [
            (
                9,
                44,
                "targetPort 'web' is a port name, but the target in 'dev' is a list of IPs,"
                " whose endpoints have no named ports; use a number",
            )
        ],
    ),
    (
        "target-mapping-with-two-forms",
        with_environments("""\
            dependencies:
              - name: db
                targets:
                  dev: {externalName: db.example.com, addresses: [10.0.0.1]}
            """),
        [(9, 12, f"{TARGET_FORMS}; it has externalName and addresses")],
    ),
    (
        "target-mapping-with-no-form",
        with_environments("""\
            dependencies:
              - name: db
                targets:
                  dev: {labels: {tier: data}}
            """),
        [(9, 12, f"{TARGET_FORMS}; it has none")],
    ),
]

# --- YAML 1.1 values, wrong types, YAML itself, missing keys -----------------------------

YAML_AND_TYPES: list[Row] = [
    (
        "allow-internal-yes",
        with_environments("""\
            dependencies:
              - name: db
                allowInternal: yes
                targets: {dev: db.example.com}
            """),
        [
            (
                8,
                20,
                "expected true or false, got 'yes': extgen reads YAML 1.2 (as kustomize,"
                " Argo CD and Flux do), where it is a string; write true or false",
            )
        ],
    ),
    (
        "port-octal-looking",
        with_environments("""\
            dependencies:
              - name: db
                ports: [{port: 0755}]
                targets: {dev: db.example.com}
            """),
        [
            (
                8,
                20,
                "'0755' is ambiguous: YAML 1.1 reads a leading 0 as octal and YAML 1.2 as"
                " decimal; write the number without leading zeros",
            )
        ],
    ),
    (
        # '80' alone reads like a number: say that a quoted string was written.
        "port-quoted-string",
        with_environments("""\
            dependencies:
              - name: db
                ports: [{port: "80"}]
                targets: {dev: db.example.com}
            """),
        [(8, 20, "expected an integer, got the string '80'")],
    ),
    (
        "port-exponent",
        with_environments("""\
            dependencies:
              - name: db
                ports: [{port: 1e3}]
                targets: {dev: db.example.com}
            """),
        [(8, 20, "expected an integer, got '1e3'")],
    ),
    (
        "dependencies-as-mapping",
        with_environments("""\
            dependencies:
              db:
                targets: {dev: db.example.com}
            """),
        [(7, 3, "'dependencies' must be a list of dependencies")],
    ),
    (
        "environments-as-list",
        yaml("""\
            environments:
              - dev
            """),
        [(2, 3, "'environments' must be a mapping of name: settings")],
    ),
    (
        "port-as-string",
        with_environments("""\
            dependencies:
              - name: db
                ports: [http]
                targets: {dev: db.example.com}
            """),
        [(8, 13, "expected a mapping, got the string 'http'")],
    ),
    (
        "ports-as-mapping",
        with_environments("""\
            dependencies:
              - name: db
                ports: {http: 80}
                targets: {dev: db.example.com}
            """),
        [(8, 12, "expected a list, got a mapping")],
    ),
    (
        "targets-as-list",
        with_environments("""\
            dependencies:
              - name: db
                targets: [dev]
            """),
        [(8, 14, "expected a mapping, got a list")],
    ),
    (
        "file-is-a-list",
        yaml("""\
            - environments
            """),
        [
            (
                1,
                1,
                "a catalog file must be a mapping with the keys 'environments',"
                " 'dependencies' and/or 'gitops'",
            )
        ],
    ),
    (
        "yaml-syntax-error",
        with_environments("""\
            dependencies:
              - name: db
                targets: {dev: db.example.com
            """),
        [(9, 1, "invalid YAML: while parsing a flow mapping did not find expected ',' or '}'")],
    ),
    (
        "yaml-two-documents",
        with_environments("---\n" + ENVIRONMENTS),
        [
            (
                6,
                1,
                "invalid YAML: expected a single document in the stream but found another document",
            )
        ],
    ),
    (
        "yaml-python-object-tag",
        with_environments("""\
            dependencies:
              - name: !!python/object:os.system db
                targets: {dev: db.example.com}
            """),
        [
            (
                7,
                11,
                "YAML tag 'tag:yaml.org,2002:python/object:os.system' is not supported; remove it",
            )
        ],
    ),
    (
        "yaml-python-object-apply-tag-on-a-list",
        with_environments("""\
            dependencies: !!python/object/apply:os.system [echo hello]
            """),
        [
            (
                6,
                15,
                "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not supported;"
                " remove it",
            )
        ],
    ),
    (
        "yaml-custom-tag",
        with_environments("""\
            dependencies:
              - name: !foo db
                targets: {dev: db.example.com}
            """),
        [(7, 11, "YAML tag '!foo' is not supported; remove it")],
    ),
    (
        "yaml-merge-key",
        with_environments("""\
            dependencies:
              - name: db
                labels: &team {team: data}
                targets: {dev: db.example.com}
              - name: cache
                <<: {labels: *team}
                targets: {dev: cache.example.com}
            """),
        [(11, 5, "YAML merge keys ('<<') are not supported; repeat the values")],
    ),
    (
        "yaml-nesting-too-deep",
        with_environments(f"x: {'[' * 70}{']' * 70}\n"),
        [(6, 68, "YAML nesting is deeper than 64 levels")],
    ),
    (
        "missing-dependency-name",
        with_environments("""\
            dependencies:
              - targets: {dev: db.example.com}
            """),
        [(7, 5, "missing key 'name'")],
    ),
    (
        "missing-dependency-targets",
        with_environments("""\
            dependencies:
              - name: db
                ports: [{port: 5432}]
            """),
        [(7, 5, "missing key 'targets'")],
    ),
    (
        "missing-environment-namespace",
        yaml("""\
            environments:
              dev:
                labels: {tier: web}
            """),
        [(3, 5, "missing key 'namespace'")],
    ),
]

# --- several independent errors in one run -----------------------------------------------

SEVERAL: list[Row] = [
    (
        # Each dependency has an error in a field of its own; that must not hide the
        # errors found by the rules between fields and environments.
        "several-independent-errors-all-reported",
        with_environments("""\
            dependencies:
              - name: Orders
                ports:
                  - {name: http, port: 0}
                targets:
                  dev: localhost
                  prdo: db.example.com
              - name: cache
                labels: {app.kubernetes.io/name: x}
                targets:
                  dev: [10.0.0.1, 10.0.0.1]
                  prod: {externalName: 10.0.0.2}
            """),
        [
            (7, 11, f"invalid dependency name 'Orders': {LABEL_1035}"),
            (9, 28, f"invalid port 0: {PORT_RANGE}"),
            (11, 12, f"'localhost' is the local host of the pod's node or proxy; {INTERNAL_HINT}"),
            (12, 7, "unknown environment 'prdo' (did you mean 'prod'?)"),
            (14, 38, own_label("app.kubernetes.io/name", "cache", "x")),
            (16, 23, "duplicate address '10.0.0.1'"),
            (17, 28, ip_not_hostname("10.0.0.2")),
        ],
    ),
    (
        "several-errors-in-independent-dependencies",
        with_environments("""\
            dependencies:
              - name: a
                targets: {dev: db}
              - name: b
                targets: {dev: 127.0.0.1, prod: ['::1', 10.0.0.1]}
              - name: c
                ports: [{port: 80}, {port: 80}]
                targets: {staging: c.example.com}
            """),
        [
            (
                8,
                20,
                "'db' is a single label, which resolves through the pod's search path in the"
                f" cluster; {INTERNAL_HINT}",
            ),
            (10, 20, bad_ip("127.0.0.1", LOOPBACK)),
            (10, 38, bad_ip("::1", LOOPBACK)),
            (12, 13, "each port needs a name when there is more than one port"),
            (12, 25, "each port needs a name when there is more than one port"),
            (12, 32, "duplicate port and protocol '80/TCP'"),
            (13, 15, "unknown environment 'staging' (defined: dev, prod)"),
        ],
    ),
]

BAD_CATALOGS: list[Row] = [
    *UNKNOWN_AND_DUPLICATE,
    *NAMES,
    *PORTS,
    *LABELS_AND_ANNOTATIONS,
    *HOSTNAMES,
    *ADDRESSES,
    *ALLOWED_TARGETS,
    *TARGET_FORMS_AND_PORTS,
    *YAML_AND_TYPES,
    *SEVERAL,
]


def validate(catalog: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", "-c", str(catalog)])
    return result.exit_code, result.output


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if ": error: " in line]


def expected_lines(path: Path, expected: Expected) -> list[str]:
    return [
        f"{path}:{line}:{column}: error: {message.replace('{path}', str(path))}"
        for line, column, message in expected
    ]


def test_table_ids_are_unique() -> None:
    ids = [row_id for row_id, _, _ in BAD_CATALOGS]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 70


@pytest.mark.parametrize(
    ("text", "expected"),
    [(text, expected) for _, text, expected in BAD_CATALOGS],
    ids=[row_id for row_id, _, _ in BAD_CATALOGS],
)
def test_bad_catalog(tmp_path: Path, text: str, expected: Expected) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    exit_code, output = validate(path)
    assert "Traceback" not in output
    assert error_lines(output) == expected_lines(path, expected)
    assert exit_code == 1, output


# --- several files -----------------------------------------------------------------------

MultiFileExpected = list[tuple[str, int, int, str]]

MULTI_FILE: list[tuple[str, dict[str, str], MultiFileExpected]] = [
    (
        "environment-defined-in-two-files",
        {
            "a.yaml": ENVIRONMENTS,
            "b.yaml": "environments:\n  dev:\n    namespace: other\n",
        },
        [("b.yaml", 2, 3, "environment 'dev' is defined twice (first at {root}/a.yaml:2:3)")],
    ),
    (
        "dependency-defined-in-two-files",
        {
            "environments.yaml": ENVIRONMENTS,
            "databases.yaml": "dependencies:\n  - name: db\n    targets: {dev: db.example.com}\n",
            "legacy.yml": "dependencies:\n  - name: erp\n    targets: {dev: erp.example.com}\n"
            "  - name: db\n    targets: {prod: db2.example.com}\n",
        },
        [
            (
                "legacy.yml",
                4,
                11,
                "dependency 'db' is defined twice (first at {root}/databases.yaml:2:11)",
            )
        ],
    ),
    (
        "dependency-defined-twice-in-subdirectories",
        {
            "environments.yaml": ENVIRONMENTS,
            "team-a/db.yaml": "dependencies:\n  - name: db\n    targets: {dev: a.example.com}\n",
            "team-b/db.yaml": "dependencies:\n  - name: db\n    targets: {dev: b.example.com}\n",
        },
        [
            (
                "team-b/db.yaml",
                2,
                11,
                "dependency 'db' is defined twice (first at {root}/team-a/db.yaml:2:11)",
            )
        ],
    ),
    (
        # The second definition is invalid, and it is still a second definition.
        "invalid-environment-defined-twice",
        {
            "a.yaml": ENVIRONMENTS,
            "b.yaml": "environments:\n  dev:\n    namespace: Other\n",
        },
        [
            ("b.yaml", 2, 3, "environment 'dev' is defined twice (first at {root}/a.yaml:2:3)"),
            ("b.yaml", 3, 16, f"invalid namespace 'Other': {LABEL_1123}"),
        ],
    ),
    (
        "errors-in-several-files-all-reported",
        {
            "environments.yaml": ENVIRONMENTS,
            "broken.yaml": "dependencies:\n  - name: db\n    targets: {dev: db.example.com\n",
            "cache.yaml": "dependencies:\n  - name: Cache\n    targets: {prdo: c.example.com}\n",
        },
        [
            (
                "broken.yaml",
                4,
                1,
                "invalid YAML: while parsing a flow mapping did not find expected ',' or '}'",
            ),
            ("cache.yaml", 2, 11, f"invalid dependency name 'Cache': {LABEL_1035}"),
            ("cache.yaml", 3, 15, "unknown environment 'prdo' (did you mean 'prod'?)"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("files", "expected"),
    [(files, expected) for _, files, expected in MULTI_FILE],
    ids=[row_id for row_id, _, _ in MULTI_FILE],
)
def test_bad_catalog_directory(
    tmp_path: Path, files: dict[str, str], expected: MultiFileExpected
) -> None:
    root = tmp_path / "catalog"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    exit_code, output = validate(root)
    assert "Traceback" not in output
    assert error_lines(output) == [
        f"{root / name}:{line}:{column}: error: {message.replace('{root}', str(root))}"
        for name, line, column, message in expected
    ]
    assert exit_code == 1, output


# --- limits on the input -----------------------------------------------------------------

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_alias_bomb_fails_fast(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(with_environments(BILLION_LAUGHS), encoding="utf-8")
    start = time.monotonic()
    exit_code, output = validate(path)
    elapsed = time.monotonic() - start
    assert elapsed < 2, f"took {elapsed:.1f} s"
    assert "Traceback" not in output
    # Where the expansion stops depends on the budget, so only the place is left open;
    # it must be a node of the bomb (lines 6-14).
    pattern = (
        re.escape(str(path))
        + r":(\d+):\d+: error: YAML aliases expand to too many values \(an alias bomb\?\)"
    )
    [line] = error_lines(output)
    match = re.fullmatch(pattern, line)
    assert match is not None, line
    assert 6 <= int(match[1]) <= 14
    assert exit_code == 1, output


def test_file_over_10_mib(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(ENVIRONMENTS + "# " + "x" * (10 * 1024 * 1024) + "\n", encoding="utf-8")
    size = path.stat().st_size
    exit_code, output = validate(path)
    assert "Traceback" not in output
    assert error_lines(output) == [
        f"{path}:1:1: error: file is {size} bytes; catalog files are limited to 10485760 bytes"
    ]
    assert exit_code == 1, output


# --- valid catalogs that look wrong ------------------------------------------------------


def assert_valid(tmp_path: Path, text: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    exit_code, output = validate(path)
    assert "Traceback" not in output
    assert error_lines(output) == []
    assert exit_code == 0, output
    assert "catalog OK" in output


def test_allow_internal_lets_internal_names_pass(tmp_path: Path) -> None:
    assert_valid(
        tmp_path,
        with_environments("""\
            dependencies:
              - name: search
                allowInternal: true
                targets:
                  dev: search.search.svc.cluster.local
                  prod: localhost
              - name: proxy
                allowInternal: true
                targets: {dev: proxy, prod: proxy.cluster.local}
            """),
    )


VALID_CATALOGS: list[tuple[str, str]] = [
    (
        # YAML 1.1 would read these as booleans and a sexagesimal number; extgen reads 1.2.
        "yaml11-looking-strings",
        with_environments("""\
            dependencies:
              - name: db
                description: yes
                owner: 12:30
                labels: {a: on, b: yes, c: no, d: off, e: y, f: 'true', g: ''}
                annotations: {example.com/at: 12:30, example.com/none: 'null'}
                targets: {dev: db.example.com}
            """),
    ),
    (
        # YAML 1.1 reads 2001:10:0:0:0:0:0:1 as a sexagesimal integer.
        "unquoted-ipv6-sexagesimal-looking",
        with_environments("""\
            dependencies:
              - name: db
                targets:
                  dev: 2001:10:0:0:0:0:0:1
                  prod: [2001:db8::1, 10.0.0.1]
            """),
    ),
    (
        "hostname-upper-case-and-trailing-dot",
        with_environments("""\
            dependencies:
              - name: db
                targets: {dev: Orders.DB.Example.COM.}
            """),
    ),
    (
        "allow-internal-with-custom-cluster-domain",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
                clusterDomain: k8s.example
            dependencies:
              - name: db
                allowInternal: true
                targets: {dev: foo.svc.k8s.example}
            """),
    ),
    (
        "allowed-ipv6-cidr-and-wildcard",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
                allowedTargets: ['*.example.com', '2001:db8::/32', 10.0.0.0/8]
            dependencies:
              - name: db
                targets: {dev: ['2001:DB8::11', 10.1.2.3]}
              - name: api
                targets: {dev: a.b.example.com}
            """),
    ),
    (
        "allowed-exact-hostname-with-trailing-dot",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
                allowedTargets: [db.example.com.]
            dependencies:
              - name: db
                targets: {dev: DB.EXAMPLE.COM.}
            """),
    ),
    (
        # Selector targets are not subject to allowedTargets; a named targetPort is fine.
        "selector-target-outside-allowed-targets",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
                allowedTargets: ['*.example.com']
            dependencies:
              - name: search
                ports: [{port: 9200, targetPort: http-alt}]
                targets: {dev: {selector: {app.kubernetes.io/name: search, tier: 'yes'}}}
            """),
    ),
    (
        "same-port-two-protocols-and-unnamed-single-port",
        with_environments("""\
            dependencies:
              - name: dns
                ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53}]
                targets: {dev: [10.0.0.53, '2001:db8::53']}
              - name: web
                ports: [{port: 80, targetPort: 8080, appProtocol: kubernetes.io/h2c}]
                targets: {dev: 10.0.0.80}
            """),
    ),
    (
        "null-target-and-unlisted-environment",
        with_environments("""\
            dependencies:
              - name: db
                targets: {dev: db.example.com, prod: null}
              - name: cache
                targets: {prod: ~}
            """),
    ),
    (
        "anchors-and-aliases",
        with_environments("""\
            dependencies:
              - name: db
                ports: &ports [{name: http, port: 80}, {name: https, port: 443}]
                labels: &labels {team: data}
                targets: {dev: db.example.com}
              - name: cache
                ports: *ports
                labels: *labels
                targets: {dev: cache.example.com}
            """),
    ),
    (
        "names-at-their-length-limits",
        with_environments(f"""\
            dependencies:
              - name: {"d" * 63}
                namespaces: [{"n" * 63}]
                labels: {{team: {"t" * 63}}}
                targets: {{dev: {".".join(["h" * 63] * 3 + ["i" * 61])}}}
            """),
    ),
    (
        "target-overrides-and-endpoints-both",
        with_environments("""\
            dependencies:
              - name: erp
                namespaces: [erp, finance]
                ports: [{name: http, port: 80}]
                targets:
                  dev:
                    externalName: erp.example.com
                    namespaces: [other]
                    ports: [{name: https, port: 443}, {name: http, port: 80}]
                  prod: {addresses: [10.0.0.1], labels: {tier: data}}
            """).replace("namespace: apps-prod", "namespace: apps-prod\n    endpoints: both"),
    ),
    (
        "punycode-hostname-and-digits-in-labels",
        with_environments("""\
            dependencies:
              - name: db
                targets: {dev: xn--bcher-kva.example.com, prod: 1password.10.example.net}
            """),
    ),
    (
        # Strings that would change the structure of the output if pasted unquoted.
        "yaml-special-strings-in-text",
        with_environments("""\
            dependencies:
              - name: db
                description: |
                  line one
                  ---
                  key: {value: !!python/object x}
                annotations: {example.com/note: "a: b # c"}
                targets: {dev: db.example.com}
            """),
    ),
    ("comment-only-file", "# no environments yet\n"),
]


def test_valid_table_is_large_enough() -> None:
    assert len(VALID_CATALOGS) >= 10


@pytest.mark.parametrize(
    "text", [text for _, text in VALID_CATALOGS], ids=[row_id for row_id, _ in VALID_CATALOGS]
)
def test_valid_tricky_catalog(tmp_path: Path, text: str) -> None:
    assert_valid(tmp_path, text)
