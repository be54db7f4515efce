"""The catalog judged as what it becomes in clusters, and messages that name the fix.

Rows as in test_bad_catalogs.py: (id, catalog text, expected errors as (line, column,
message)), run through `extgen validate`. Most catalogs start with ENVIRONMENTS (lines
1-5: `dev` in apps-dev, `prod` in apps-prod), so their own part begins on line 6.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_bad_catalogs import (
    ENVIRONMENTS,
    INTERNAL_HINT,
    Expected,
    MultiFileExpected,
    Row,
    error_lines,
    expected_lines,
    own_label,
    validate,
    with_environments,
    yaml,
)

KUBERNETES_NAMESPACES = "kube-system, kube-public, kube-node-lease"
TARGET_ALONE = "but a target is a hostname or IP addresses alone"
NEVER = "which extgen never points at"
LOOP_ADVICE = (
    "CoreDNS follows the CNAMEs in circles and answers nothing (allowInternal does not"
    " change that): point one of them outside the loop"
)
GITOPS_ARGOCD = """\
gitops:
  repository: https://git.example.com/platform.git
  argocd: {}
"""


def kubernetes_namespace(namespace: str) -> str:
    return (
        f"namespace {namespace!r} belongs to Kubernetes itself ({KUBERNETES_NAMESPACES}): a"
        " Service there could replace one of the cluster's own, such as kube-dns; choose a"
        " namespace of your own"
    )


def gitops_namespace(namespace: str, owner: str) -> str:
    return (
        f"namespace {namespace!r} is where {owner} runs: objects there could replace its own;"
        " choose another namespace"
    )


def collision(first: str, second: str, cluster: str, namespaces: str) -> str:
    return (
        f"environments {first!r} and {second!r} both deploy to {cluster} and both write the"
        f" Service of dependency 'db' in {namespaces}: their applications would fight over"
        " it; give one of them other namespaces"
    )


# dev and prod on the cluster Argo CD runs in, each in its own namespace, both writing
# extgen-connections ConfigMaps (lines 1-6).
CONNECTED = yaml("""\
    environments:
      dev: {namespace: apps-dev, connectionConfig: true}
      prod: {namespace: apps-prod, connectionConfig: true}
    gitops:
      repository: https://git.example.com/platform.git
      argocd: {}
    """)


def connection_collision(namespace: str, earlier: str) -> str:
    return (
        "environments 'dev' and 'prod' both deploy to the cluster Argo CD or Flux runs in and"
        f" both write the ConfigMap extgen-connections in namespace {namespace!r}"
        f" (connectionConfig), for this dependency and the one at {earlier}: their"
        " applications would fight over it; give one of them other namespaces, or"
        " connectionConfig to one environment only"
    )


def self_loop(name: str) -> str:
    return (
        f"{name!r} is this Service's own name in the cluster: the ExternalName would point at"
        " itself, a CNAME loop that CoreDNS answers nothing for (allowInternal does not change"
        " that); point it outside the cluster"
    )


def resolves(name: str, address: str, how: str, what: str) -> str:
    return f"{name!r} resolves to {address} ({how}): {what}, {NEVER}"


def wildcard(domain: str) -> str:
    return f"{domain} answers with the address written in the name"


LIBC = "libc's inet_aton reads it as that IPv4 address, without asking DNS"
LOCALTEST = "localtest.me answers 127.0.0.1 for every name below it"


def target_row(row_id: str, target: str, message: str, column: int = 12) -> Row:
    """A dependency `db` with `allowInternal: true` (so that only the rule at hand speaks)
    whose only target, `dev: TARGET`, is on line 10."""
    text = with_environments(f"""\
        dependencies:
          - name: db
            allowInternal: true
            targets:
              dev: {target}
        """)
    return (row_id, text, [(10, column, message)])


# --- 1. objects that would replace the cluster's own ------------------------------------

SYSTEM_OBJECTS: list[Row] = [
    (
        "environment-in-kube-system",
        yaml("""\
            environments:
              dev:
                namespace: kube-system
            """),
        [(3, 16, kubernetes_namespace("kube-system"))],
    ),
    (
        # kube-dns in kube-system would take over the cluster's DNS.
        "dependency-namespace-kube-system",
        with_environments("""\
            dependencies:
              - name: kube-dns
                namespaces: [apps, kube-system]
                targets: {dev: dns.example.com}
            """),
        [(8, 24, kubernetes_namespace("kube-system"))],
    ),
    (
        "target-namespace-kube-node-lease",
        with_environments("""\
            dependencies:
              - name: db
                targets:
                  dev: {externalName: db.example.com, namespaces: [kube-node-lease]}
                  prod: {addresses: [10.0.0.1], namespaces: [kube-public]}
            """),
        [
            (9, 56, kubernetes_namespace("kube-node-lease")),
            (10, 50, kubernetes_namespace("kube-public")),
        ],
    ),
    (
        "service-kubernetes-in-default-environment",
        yaml("""\
            environments:
              dev:
                namespace: default
            dependencies:
              - name: kubernetes
                targets: {dev: api.example.com}
            """),
        [
            (
                5,
                11,
                "a Service 'kubernetes' in namespace 'default' would replace the one that leads"
                " to the cluster's API server; rename the dependency",
            )
        ],
    ),
    (
        "service-kubernetes-in-default-by-namespaces",
        with_environments("""\
            dependencies:
              - name: kubernetes
                targets:
                  prod: {externalName: api.example.com, namespaces: [apps, default]}
            """),
        [
            (
                7,
                11,
                "a Service 'kubernetes' in namespace 'default' would replace the one that leads"
                " to the cluster's API server; rename the dependency",
            )
        ],
    ),
    (
        "environment-in-argocd-namespace",
        ENVIRONMENTS.replace("apps-prod", "argocd") + GITOPS_ARGOCD,
        [(5, 16, gitops_namespace("argocd", "the catalog's Argo CD (gitops.argocd.namespace)"))],
    ),
    (
        "dependency-in-flux-namespace",
        with_environments("""\
            gitops:
              repository: https://git.example.com/platform.git
              flux: {namespace: gitops}
            dependencies:
              - name: db
                namespaces: [gitops]
                targets: {dev: db.example.com}
            """),
        [(11, 18, gitops_namespace("gitops", "the catalog's Flux (gitops.flux.namespace)"))],
    ),
]

# --- 2. two environments on one cluster writing the same object -------------------------

COLLISIONS: list[Row] = [
    (
        # Different dependencies, but one connection ConfigMap per namespace for each.
        "connection-configmap-of-a-shared-namespace",
        yaml("""\
            environments:
              dev: {namespace: apps, connectionConfig: true}
              prod: {namespace: apps, connectionConfig: true}
            gitops:
              repository: https://git.example.com/platform.git
              argocd: {}
            dependencies:
              - name: db
                targets: {dev: db.dev.example.com}
              - name: cache
                targets: {prod: cache.prod.example.com}
            """),
        [
            (
                3,
                27,
                "environments 'dev' and 'prod' both deploy to the cluster Argo CD or Flux runs"
                " in and both write the ConfigMap extgen-connections in namespace 'apps'"
                " (connectionConfig): their applications would fight over it; give one of"
                " them another namespace, or connectionConfig to one of them only",
            )
        ],
    ),
    (
        # One ConfigMap per namespace a dependency is in, whichever namespace that is.
        "connection-configmap-of-a-namespace-both-reach-through-namespaces",
        CONNECTED
        + yaml("""\
            dependencies:
              - name: db
                namespaces: [shared]
                targets: {dev: db.dev.example.com}
              - name: cache
                targets:
                  prod: {externalName: cache.prod.example.com, namespaces: [apps-prod, shared]}
            """),
        [(13, 7, connection_collision("shared", "{path}:10:15"))],
    ),
    (
        "connection-configmap-of-one-environments-own-namespace",
        CONNECTED
        + yaml("""\
            dependencies:
              - name: db
                targets: {dev: db.dev.example.com}
              - name: cache
                namespaces: [apps-dev]
                targets: {prod: cache.prod.example.com}
            """),
        [(12, 15, connection_collision("apps-dev", "{path}:9:15"))],
    ),
    (
        # With gitops, environments without a cluster all go where Argo CD runs.
        "same-namespace-both-in-cluster",
        ENVIRONMENTS.replace("apps-prod", "apps-dev")
        + GITOPS_ARGOCD
        + yaml("""\
            dependencies:
              - name: db
                targets:
                  dev: db.dev.example.com
                  prod: [10.0.0.1]
            """),
        [
            (
                13,
                13,
                collision(
                    "dev", "prod", "the cluster Argo CD or Flux runs in", "namespace 'apps-dev'"
                ),
            )
        ],
    ),
    (
        "same-server-overlapping-namespaces",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
                cluster: {server: https://k8s.example.com}
              qa:
                namespace: apps-qa
                cluster: {server: https://k8s.example.com/}
            dependencies:
              - name: db
                namespaces: [shared, erp]
                targets:
                  dev: db.dev.example.com
                  qa: {externalName: db.qa.example.com, namespaces: [erp, qa, shared]}
            """),
        [
            (
                13,
                11,
                collision("dev", "qa", "https://k8s.example.com", "namespaces 'erp', 'shared'"),
            )
        ],
    ),
    (
        "same-cluster-name",
        yaml("""\
            environments:
              dev: {namespace: apps, cluster: {name: east}}
              qa: {namespace: apps, cluster: {name: east}}
              prod: {namespace: apps, cluster: {name: west}}
            dependencies:
              - name: db
                targets: {dev: db.example.com, qa: db.example.com, prod: db.example.com}
            """),
        [(7, 40, collision("dev", "qa", "the cluster named 'east'", "namespace 'apps'"))],
    ),
    (
        # Argo CD's own name for the cluster it runs in is the same as none.
        "in-cluster-server-equals-no-cluster",
        yaml("""\
            environments:
              dev: {namespace: apps}
              qa: {namespace: apps, cluster: {server: 'https://kubernetes.default.svc'}}
            gitops: {repository: 'https://git.example.com/p.git', argocd: {}}
            dependencies:
              - name: db
                targets: {dev: db.example.com, qa: 10.0.0.1}
            """),
        [
            (
                7,
                40,
                collision("dev", "qa", "the cluster Argo CD or Flux runs in", "namespace 'apps'"),
            )
        ],
    ),
]

# --- 3. ExternalName loops ----------------------------------------------------------------

LOOPS: list[Row] = [
    target_row(
        "self-loop-full-name",
        "db.apps-dev.svc.cluster.local",
        self_loop("db.apps-dev.svc.cluster.local"),
    ),
    target_row("self-loop-svc-trailing-dot", "db.apps-dev.svc.", self_loop("db.apps-dev.svc.")),
    (
        # Without allowInternal too: the hint to set it would lead nowhere.
        "self-loop-without-allow-internal-custom-domain",
        yaml("""\
            environments:
              dev: {namespace: apps, clusterDomain: k8s.example}
            dependencies:
              - name: db
                namespaces: [apps, erp]
                targets: {dev: DB.erp.svc.k8s.example}
            """),
        [(6, 20, self_loop("db.erp.svc.k8s.example"))],
    ),
    (
        "chain-of-three-comes-back",
        with_environments("""\
            dependencies:
              - name: a
                allowInternal: true
                targets: {dev: b.apps-dev.svc.cluster.local}
              - name: b
                allowInternal: true
                targets: {dev: {externalName: c.erp.svc, namespaces: [apps-dev]}}
              - name: c
                allowInternal: true
                namespaces: [erp]
                targets: {dev: a.apps-dev.svc.cluster.local., prod: a.apps-prod.svc}
            """),
        [
            (
                9,
                20,
                "ExternalName loop in environment 'dev': a.apps-dev.svc.cluster.local ->"
                " b.apps-dev.svc.cluster.local -> c.erp.svc.cluster.local ->"
                f" a.apps-dev.svc.cluster.local; {LOOP_ADVICE}",
            ),
            (
                12,
                35,
                "ExternalName loop in environment 'dev': b.apps-dev.svc.cluster.local ->"
                " c.erp.svc.cluster.local -> a.apps-dev.svc.cluster.local ->"
                f" b.apps-dev.svc.cluster.local; {LOOP_ADVICE}",
            ),
            (
                16,
                20,
                "ExternalName loop in environment 'dev': c.erp.svc.cluster.local ->"
                " a.apps-dev.svc.cluster.local -> b.apps-dev.svc.cluster.local ->"
                f" c.erp.svc.cluster.local; {LOOP_ADVICE}",
            ),
        ],
    ),
    (
        # The loop is reported with both internal names, and the allowInternal hint stays
        # for each: neither fix alone is enough.
        "two-way-loop-without-allow-internal",
        with_environments("""\
            dependencies:
              - name: a
                targets: {dev: b.apps-dev.svc}
              - name: b
                targets: {dev: a.apps-dev.svc}
            """),
        [
            (8, 20, f"'b.apps-dev.svc' is a Service inside the cluster; {INTERNAL_HINT}"),
            (
                8,
                20,
                "ExternalName loop in environment 'dev': a.apps-dev.svc.cluster.local ->"
                f" b.apps-dev.svc.cluster.local -> a.apps-dev.svc.cluster.local; {LOOP_ADVICE}",
            ),
            (10, 20, f"'a.apps-dev.svc' is a Service inside the cluster; {INTERNAL_HINT}"),
            (
                10,
                20,
                "ExternalName loop in environment 'dev': b.apps-dev.svc.cluster.local ->"
                f" a.apps-dev.svc.cluster.local -> b.apps-dev.svc.cluster.local; {LOOP_ADVICE}",
            ),
        ],
    ),
]

# --- 4. addresses in disguise ----------------------------------------------------------

DISGUISED_ADDRESSES: list[Row] = [
    target_row(
        "nip-io-dotted-metadata",
        "169.254.169.254.nip.io",
        resolves(
            "169.254.169.254.nip.io",
            "169.254.169.254",
            wildcard("nip.io"),
            "a cloud metadata service",
        ),
    ),
    target_row(
        "sslip-io-dashed-loopback-with-prefix",
        "app-127-0-0-1.sslip.io",
        resolves("app-127-0-0-1.sslip.io", "127.0.0.1", wildcard("sslip.io"), "a loopback address"),
    ),
    target_row(
        "nip-io-hex-loopback",
        "app.7f000001.nip.io",
        resolves("app.7f000001.nip.io", "127.0.0.1", wildcard("nip.io"), "a loopback address"),
    ),
    target_row(
        "sslip-io-dashed-ipv6-loopback",
        "'--1.sslip.io'",
        resolves("--1.sslip.io", "::1", wildcard("sslip.io"), "a loopback address"),
    ),
    target_row(
        "sslip-io-dashed-ipv6-link-local",
        "fe80--1.sslip.io",
        resolves("fe80--1.sslip.io", "fe80::1", wildcard("sslip.io"), "a link-local address"),
    ),
    target_row(
        "xip-io-multicast",
        "x.224-0-0-251.xip.io",
        resolves("x.224-0-0-251.xip.io", "224.0.0.251", wildcard("xip.io"), "a multicast address"),
    ),
    target_row(
        "nip-io-unspecified",
        "0.0.0.0.nip.io",
        resolves("0.0.0.0.nip.io", "0.0.0.0", wildcard("nip.io"), "the unspecified address"),
    ),
    target_row(
        "localtest-me",
        "db.localtest.me",
        resolves("db.localtest.me", "127.0.0.1", LOCALTEST, "a loopback address"),
    ),
    target_row(
        "lvh-me-apex",
        "LVH.ME.",
        resolves(
            "LVH.ME.",
            "127.0.0.1",
            "lvh.me answers 127.0.0.1 for every name below it",
            "a loopback address",
        ),
    ),
    target_row(
        "libc-hex-metadata",
        "0xA9FEA9FE",
        resolves("0xA9FEA9FE", "169.254.169.254", LIBC, "a cloud metadata service"),
    ),
    target_row(
        "libc-decimal-metadata",
        "{externalName: 2852039166}",
        resolves("2852039166", "169.254.169.254", LIBC, "a cloud metadata service"),
        27,
    ),
    target_row(
        "libc-octal-metadata",
        "{externalName: 0251.0376.0251.0376}",
        resolves("0251.0376.0251.0376", "169.254.169.254", LIBC, "a cloud metadata service"),
        27,
    ),
    target_row(
        "libc-hex-and-short-loopback",
        "0x7f.1",
        resolves("0x7f.1", "127.0.0.1", LIBC, "a loopback address"),
    ),
    target_row(
        "libc-short-loopback",
        "{externalName: 127.1}",
        resolves("127.1", "127.0.0.1", LIBC, "a loopback address"),
        27,
    ),
    target_row(
        "libc-hex-private-address",
        "0x0a000001",
        "hostname '0x0a000001' is read by libc's inet_aton as the IPv4 address 10.0.0.1:"
        " write the address itself (an IP target)",
    ),
    # GCE's short name, through the search path: allowInternal would not help.
    target_row(
        "bare-metadata",
        "metadata",
        "'metadata' is a cloud metadata service; extgen never points at one",
    ),
]

# --- 14. another notation ---------------------------------------------------------------

NOTATIONS: list[Row] = [
    target_row(
        "url",
        "https://api.example.com/v1",
        "'https://api.example.com/v1' is a URL, but a target is a hostname or IP addresses"
        " alone: write the host 'api.example.com' and its port under ports (ports: [{port:"
        " 443}]); the path '/v1' is not part of a Service: clients keep it",
    ),
    target_row(
        "url-with-port-in-list",
        "['http://10.0.0.1:8080']",
        f"'http://10.0.0.1:8080' is a URL, {TARGET_ALONE}: write the host '10.0.0.1' and its"
        " port under ports (ports: [{port: 8080}])",
        13,
    ),
    target_row(
        "host-and-port",
        "db.example.com:5432",
        f"'db.example.com:5432' is HOST:PORT, {TARGET_ALONE}: write 'db.example.com' and the"
        " port under ports (ports: [{port: 5432}])",
    ),
    target_row(
        "ip-and-port",
        "{addresses: ['10.0.0.2', '10.0.0.1:5432']}",
        f"'10.0.0.1:5432' is HOST:PORT, {TARGET_ALONE}: write '10.0.0.1' and the port under"
        " ports (ports: [{port: 5432}])",
        37,
    ),
    target_row(
        "ipv6-and-port",
        "'[2001:db8::1]:443'",
        f"'[2001:db8::1]:443' is HOST:PORT, {TARGET_ALONE}: write '2001:db8::1' and the port"
        " under ports (ports: [{port: 443}])",
    ),
    target_row(
        "cidr",
        "10.0.0.0/24",
        "'10.0.0.0/24' is a CIDR (a range of addresses), but a target lists single addresses:"
        " write each address (e.g. [10.0.0.1, 10.0.0.2]); CIDRs belong in an environment's"
        " allowedTargets",
    ),
    target_row(
        "cidr-in-list",
        "[10.0.0.1, '2001:db8::/64']",
        "'2001:db8::/64' is a CIDR (a range of addresses), but a target lists single"
        " addresses: write each address (e.g. [2001:db8::1, 2001:db8::2]); CIDRs belong in"
        " an environment's allowedTargets",
        23,
    ),
    target_row(
        "cidr-of-one-address",
        "10.0.0.1/32",
        f"'10.0.0.1/32' is a CIDR of one address, {TARGET_ALONE}: write 10.0.0.1",
    ),
    (
        "tab-in-indentation",
        "environments:\n  dev:\n\tnamespace: apps\n",
        [
            (
                3,
                1,
                "invalid YAML: a tab in the indentation: YAML indents with spaces only;"
                " replace the tab with spaces",
            )
        ],
    ),
    (
        "tab-after-spaces-in-indentation",
        with_environments("""\
            dependencies:
              - name: db
            """)
        + "  \ttargets: {dev: db.example.com}\n",
        [
            (
                8,
                3,
                "invalid YAML: a tab in the indentation: YAML indents with spaces only;"
                " replace the tab with spaces",
            )
        ],
    ),
    (
        "list-item-indented-more",
        with_environments("""\
            dependencies:
              - name: a
                targets: {dev: a.example.com}
               - name: b
                targets: {dev: b.example.com}
            """),
        [
            (
                9,
                4,
                "invalid YAML: this list item ('-' in column 4) is out of line with the one on"
                " line 7 (column 3): indent the items of a list alike",
            )
        ],
    ),
    (
        "list-item-indented-less",
        with_environments("""\
            dependencies:
              - name: a
                ports:
                  - port: 80
                 - port: 81
                targets: {dev: a.example.com}
            """),
        [
            (
                10,
                6,
                "invalid YAML: this list item ('-' in column 6) is out of line with the one on"
                " line 9 (column 7): indent the items of a list alike",
            )
        ],
    ),
]

# --- 15. keys of a target mapping -------------------------------------------------------

TARGET_KEYS: list[Row] = [
    target_row(
        "externalname-lower-case",
        "{externalname: db.example.com}",
        "unknown key 'externalname' (did you mean 'externalName'?)",
        13,
    ),
    target_row(
        "selektor",
        "{selektor: {app: db}, ports: [{port: 80}]}",
        "unknown key 'selektor' (did you mean 'selector'?)",
        13,
    ),
    target_row(
        "adresses",
        "{adresses: [10.0.0.1]}",
        "unknown key 'adresses' (did you mean 'addresses'?)",
        13,
    ),
    target_row(
        "selector-target-lists-its-keys",
        "{selector: {app: db}, ports: [{port: 80}], region: eu}",
        "unknown key 'region' (expected one of: namespaces, labels, annotations, ports, selector)",
        55,
    ),
    target_row(
        "addresses-target-lists-its-keys",
        "{addresses: [10.0.0.1], region: eu}",
        "unknown key 'region' (expected one of: namespaces, labels, annotations, ports, addresses)",
        36,
    ),
]

# --- 16 and 17. hints that lead somewhere; targetPort and extgen's own labels ------------

HINTS_AND_VALUES: list[Row] = [
    # No hint to write it as addresses, which are refused too.
    target_row(
        "external-name-metadata-address",
        "{externalName: 169.254.169.254}",
        "'169.254.169.254' is a cloud metadata service; extgen never points at one",
        27,
    ),
    target_row(
        "external-name-loopback-address",
        "{externalName: 127.0.0.1}",
        "'127.0.0.1' is an IP address, not a hostname, and a loopback address, which extgen"
        " refuses as an endpoint too",
        27,
    ),
    (
        "named-target-port-on-hostname-target-once",
        with_environments("""\
            dependencies:
              - name: db
                ports: [{port: 80, targetPort: http}]
                targets: {dev: db.example.com, prod: db.example.com.}
            """),
        [
            (
                8,
                36,
                "targetPort 'http' differs from port 80, but the target in 'dev' is a hostname:"
                " an ExternalName Service cannot remap ports, clients connect to"
                " db.example.com:80; remove targetPort",
            )
        ],
    ),
    (
        "environment-label-name",
        yaml("""\
            environments:
              dev:
                namespace: apps-dev
                labels: {app.kubernetes.io/name: db, app.kubernetes.io/managed-by: extgen}
            """),
        [
            (
                4,
                38,
                "label 'app.kubernetes.io/name' is set by extgen to each dependency's name, and"
                " an environment's labels apply to every dependency: leave it out",
            )
        ],
    ),
    (
        "target-label-slice-managed-by",
        with_environments("""\
            dependencies:
              - name: db
                targets:
                  dev:
                    addresses: [10.0.0.1]
                    labels:
                      endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
            """),
        [
            (
                12,
                51,
                own_label(
                    "endpointslice.kubernetes.io/managed-by",
                    "extgen",
                    "endpointslice-controller.k8s.io",
                ),
            )
        ],
    ),
]

CLUSTER_ROWS: list[Row] = [
    *SYSTEM_OBJECTS,
    *COLLISIONS,
    *LOOPS,
    *DISGUISED_ADDRESSES,
    *NOTATIONS,
    *TARGET_KEYS,
    *HINTS_AND_VALUES,
]


def test_row_ids_are_unique() -> None:
    ids = [row_id for row_id, _, _ in CLUSTER_ROWS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("text", "expected"),
    [(text, expected) for _, text, expected in CLUSTER_ROWS],
    ids=[row_id for row_id, _, _ in CLUSTER_ROWS],
)
def test_refused(tmp_path: Path, text: str, expected: Expected) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    exit_code, output = validate(path)
    assert "Traceback" not in output
    assert error_lines(output) == expected_lines(path, expected)
    assert exit_code == 1, output


# gitops, environments and dependencies in different files: each file is judged knowing
# the others' gitops namespaces. As test_bad_catalogs.MULTI_FILE: (id, files, errors).
CLUSTER_MULTI_FILE: list[tuple[str, dict[str, str], MultiFileExpected]] = [
    (
        "gitops-namespaces-from-another-file",
        {
            "a-dependencies.yaml": "dependencies:\n"
            "  - name: db\n"
            "    targets: {dev: {externalName: db.example.com, namespaces: [argo]}}\n",
            "b-environments.yaml": "environments:\n  dev: {namespace: flux-system}\n",
            "c-gitops.yaml": "gitops:\n"
            "  repository: https://git.example.com/p.git\n"
            "  argocd: {namespace: argo}\n"
            "  flux: {}\n",
        },
        [
            (
                "a-dependencies.yaml",
                3,
                64,
                gitops_namespace("argo", "the catalog's Argo CD (gitops.argocd.namespace)"),
            ),
            (
                "b-environments.yaml",
                2,
                20,
                gitops_namespace("flux-system", "the catalog's Flux (gitops.flux.namespace)"),
            ),
        ],
    ),
    (
        # The dependencies of both environments in one namespace, written in two files.
        "connection-configmap-across-files",
        {
            "environments.yaml": CONNECTED,
            "a.yaml": "dependencies:\n"
            "  - name: db\n"
            "    namespaces: [shared]\n"
            "    targets: {dev: db.dev.example.com}\n",
            "b.yaml": "dependencies:\n"
            "  - name: cache\n"
            "    namespaces: [shared]\n"
            "    targets: {prod: cache.prod.example.com}\n",
        },
        [("b.yaml", 4, 15, connection_collision("shared", "{root}/a.yaml:4:15"))],
    ),
    (
        "loop-across-files",
        {
            "environments.yaml": ENVIRONMENTS,
            "a.yaml": "dependencies:\n"
            "  - name: a\n"
            "    allowInternal: true\n"
            "    targets: {prod: b.apps-prod.svc.cluster.local}\n",
            "b.yaml": "dependencies:\n"
            "  - name: b\n"
            "    allowInternal: true\n"
            "    targets: {prod: a.apps-prod.svc.cluster.local}\n",
        },
        [
            (
                "a.yaml",
                4,
                21,
                "ExternalName loop in environment 'prod': a.apps-prod.svc.cluster.local ->"
                " b.apps-prod.svc.cluster.local -> a.apps-prod.svc.cluster.local;"
                f" {LOOP_ADVICE}",
            ),
            (
                "b.yaml",
                4,
                21,
                "ExternalName loop in environment 'prod': b.apps-prod.svc.cluster.local ->"
                " a.apps-prod.svc.cluster.local -> b.apps-prod.svc.cluster.local;"
                f" {LOOP_ADVICE}",
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("files", "expected"),
    [(files, expected) for _, files, expected in CLUSTER_MULTI_FILE],
    ids=[row_id for row_id, _, _ in CLUSTER_MULTI_FILE],
)
def test_refused_across_files(
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


ACCEPTED: list[tuple[str, str]] = [
    (
        "connection-configmap-in-a-shared-namespace-of-one-environment",
        yaml("""\
            environments:
              dev: {namespace: apps, connectionConfig: true}
              prod: {namespace: apps}
            gitops:
              repository: https://git.example.com/platform.git
              argocd: {}
            dependencies:
              - name: db
                targets: {dev: db.dev.example.com}
              - name: cache
                targets: {prod: cache.prod.example.com}
            """),
    ),
    (
        "connection-configmaps-of-two-environments-in-namespaces-of-their-own",
        CONNECTED
        + yaml("""\
            dependencies:
              - name: db
                namespaces: [shared-dev, apps-dev]
                targets: {dev: db.dev.example.com}
              - name: cache
                targets:
                  prod: {externalName: cache.prod.example.com, namespaces: [shared-prod]}
            """),
    ),
    (
        "kubernetes-outside-default-and-argocd-namespace-without-gitops",
        yaml("""\
            environments:
              dev: {namespace: argocd}
            dependencies:
              - name: kubernetes
                targets: {dev: api.example.com}
            """),
    ),
    (
        # Every target overrides the dependency's namespaces: nothing lands in kube-system.
        "unused-dependency-namespaces",
        with_environments("""\
            dependencies:
              - name: db
                namespaces: [kube-system]
                targets: {dev: {externalName: db.example.com, namespaces: [erp]}, prod: null}
            """),
    ),
    (
        # Without gitops the catalog does not say where environments go.
        "same-namespace-no-gitops-no-cluster",
        ENVIRONMENTS.replace("apps-prod", "apps-dev")
        + yaml("""\
            dependencies:
              - name: db
                targets: {dev: db.example.com, prod: db.example.com}
            """),
    ),
    (
        "same-namespace-other-clusters-and-same-cluster-other-namespaces",
        yaml("""\
            environments:
              dev: {namespace: apps, cluster: {server: 'https://dev.example.com'}}
              qa: {namespace: apps, cluster: {server: 'https://qa.example.com'}}
              prod: {namespace: apps-prod, cluster: {server: 'https://qa.example.com'}}
            dependencies:
              - name: db
                targets: {dev: db.example.com, qa: db.example.com, prod: db.example.com}
            """),
    ),
    (
        # Chains that end: at a Service with addresses, in another namespace, or in
        # another environment.
        "external-name-chains-that-end",
        with_environments("""\
            dependencies:
              - name: a
                allowInternal: true
                targets: {dev: b.apps-dev.svc.cluster.local, prod: b.apps-dev.svc}
              - name: b
                allowInternal: true
                targets: {dev: 10.0.0.1, prod: a.apps-prod.svc.cluster.local}
              - name: c
                allowInternal: true
                targets: {dev: c.erp.svc.cluster.local}
            """),
    ),
    (
        "wildcard-dns-names-of-ordinary-addresses",
        with_environments("""\
            dependencies:
              - name: db
                targets: {dev: 10.0.0.1.nip.io, prod: app-192-168-1-10.sslip.io}
              - name: cache
                targets: {dev: app.nip.io, prod: '2001-db8--1.sslip.io'}
              - name: web
                targets: {dev: 127.0.0.1.nip.io.example.com}
            """),
    ),
    (
        # As the Kubernetes documentation writes it; and extgen's own labels with extgen's
        # own values, as manifests written by hand carry them.
        "target-port-equal-to-port-and-own-labels-with-own-values",
        with_environments("""\
            dependencies:
              - name: db
                labels:
                  app.kubernetes.io/name: db
                  app.kubernetes.io/managed-by: extgen
                  kubernetes.io/service-name: db
                ports: [{name: pg, port: 5432, targetPort: 5432}]
                targets:
                  dev: db.example.com
                  prod:
                    addresses: [10.0.0.1]
                    labels: {endpointslice.kubernetes.io/managed-by: extgen}
            """).replace(
            "namespace: apps-dev",
            "namespace: apps-dev\n    labels: {app.kubernetes.io/managed-by: extgen}",
        ),
    ),
]


@pytest.mark.parametrize(
    "text", [text for _, text in ACCEPTED], ids=[row_id for row_id, _ in ACCEPTED]
)
def test_accepted(tmp_path: Path, text: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    exit_code, output = validate(path)
    assert error_lines(output) == []
    assert exit_code == 0, output


def test_a_long_loop_is_spelled_out_in_part(tmp_path: Path) -> None:
    count = 12
    dependencies = "".join(
        f"  - {{name: s{index}, allowInternal: true,"
        f" targets: {{dev: s{(index + 1) % count}.apps-dev.svc}}}}\n"
        for index in range(count)
    )
    path = tmp_path / "catalog.yaml"
    path.write_text(ENVIRONMENTS + "dependencies:\n" + dependencies, encoding="utf-8")
    exit_code, output = validate(path)
    lines = error_lines(output)
    assert len(lines) == count and exit_code == 1
    names = " -> ".join(f"s{index}.apps-dev.svc.cluster.local" for index in range(9))
    assert lines[0] == (
        f"{path}:7:52: error: ExternalName loop in environment 'dev': {names} -> ... (12"
        f" Services in all, back to s0.apps-dev.svc.cluster.local); {LOOP_ADVICE}"
    )
