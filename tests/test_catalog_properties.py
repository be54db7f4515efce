"""Property-based tests of catalog loading, planning and rendering.

1. Any valid catalog, however it is written out by a YAML dumper, loads, plans and renders,
   deterministically, and every rendered file starts with the extgen marker line.
2. A valid catalog text damaged by small edits (lines deleted or duplicated, characters
   inserted, scalars replaced by values that YAML or extgen find tricky, values swapped)
   either still loads and renders, or fails with a CatalogError whose every problem points
   into the files given, at a line and column that exist, with a one-line message.

Run longer with EXTGEN_FUZZ_EXAMPLES=5000 (examples per test).
"""

from __future__ import annotations

import ipaddress
import os
import re
import string
from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from extgen.catalog import parse_catalog
from extgen.errors import CatalogError, Problem
from extgen.model import Catalog
from extgen.plan import plan_catalog
from extgen.render import Renderer

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _settings(default_examples: int) -> settings:
    examples = int(os.environ.get("EXTGEN_FUZZ_EXAMPLES") or default_examples)
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- names -------------------------------------------------------------------------------

LOWER = string.ascii_lowercase
LOWER_ALNUM = LOWER + string.digits
ALNUM = string.ascii_letters + string.digits


def names(first: str, middle: str, last: str, max_size: int) -> st.SearchStrategy[str]:
    """`first`, then up to max_size - 1 characters of `middle` that end in one of `last`.

    Built from st.text rather than st.from_regex, which is several times slower.
    """
    return st.builds(
        lambda head, body, tail: head + (body + tail if tail else ""),
        st.sampled_from(first),
        st.text(middle, max_size=max_size - 2),
        st.just("") | st.sampled_from(last),
    )


DNS1123_LABEL = names(LOWER_ALNUM, LOWER_ALNUM + "-", LOWER_ALNUM, 63)
SHORT_LABEL = names(LOWER_ALNUM, LOWER_ALNUM + "-", LOWER_ALNUM, 20)
DNS1035_LABEL = names(LOWER, LOWER_ALNUM + "-", LOWER_ALNUM, 63)
ENVIRONMENT_NAMES = DNS1123_LABEL.filter(lambda name: name != "base")
DEPENDENCY_NAMES = DNS1035_LABEL.filter(lambda name: name != "kustomization")
NAMESPACES = DNS1123_LABEL
# IANA service names: at most 15 characters, a letter, no leading, trailing or double '-'.
IANA_SERVICE_NAMES = st.builds(
    lambda head, body, tail: head + body + (f"-{tail}" if tail else ""),
    st.sampled_from(LOWER),
    st.text(LOWER_ALNUM, max_size=6),
    st.text(LOWER_ALNUM, max_size=6),
)
NAME_PART = names(ALNUM, ALNUM + "-_.", ALNUM, 63)
SUBDOMAIN = st.lists(SHORT_LABEL, min_size=1, max_size=3).map(".".join)
QUALIFIED_NAMES = st.builds(
    lambda prefix, name: f"{prefix}/{name}" if prefix else name,
    st.none() | SUBDOMAIN,
    NAME_PART,
)
RESERVED_LABEL_KEYS = {
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/name",
    "kubernetes.io/service-name",
}
LABEL_KEYS = QUALIFIED_NAMES.filter(
    lambda key: (
        key not in RESERVED_LABEL_KEYS and not key.startswith("endpointslice.kubernetes.io/")
    )
)
LABEL_VALUES = st.just("") | NAME_PART
ANNOTATION_KEYS = QUALIFIED_NAMES.filter(lambda key: not key.startswith("extgen.io/"))

# Pieces of text that break naive YAML or template handling.
TRICKY_PIECES = [
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    '"',
    "'",
    "\\",
    "{",
    "}",
    "[",
    "]",
    "{{ x }}",
    "{% if x %}",
    "{#",
    "---",
    "\n---\nkind: ClusterRole\n",
    "...",
    "# ",
    ": ",
    "- ",
    "? ",
    "&a",
    "*a",
    "!!python/object:os.system",
    "%YAML 1.1",
    "yes",
    "null",
    "~",
    "0755",
    "1e3",
    "12:30",
    "ÿ",
    "日本語",
    "\U0001f642",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\x00",
    "\x1b",
]
# extgen refuses these characters in catalog text: kustomize cannot write them back out.
UNWRITABLE = re.compile("[\x7f-\x9f\ufffe\uffff]")
TRICKY_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(TRICKY_PIECES),
    st.lists(st.sampled_from(TRICKY_PIECES) | st.text(max_size=4), max_size=8).map("".join),
).map(lambda text: UNWRITABLE.sub("", text))

# Hostnames end in a top-level domain that no generated cluster domain uses, so they are
# never inside the cluster; cluster domains end in one of their own.
PUBLIC_TLDS = ["com", "net", "org", "io", "example", "test", "de"]
CLUSTER_TLDS = ["local", "cluster", "kube", "internal"]
METADATA_HOSTNAMES = {"metadata.google.internal", "metadata.goog", "metadata.tencentyun.com"}
HOST_LABEL = names(LOWER_ALNUM, LOWER_ALNUM + "-", LOWER_ALNUM, 50)


@st.composite
def hostnames(draw: Draw) -> str:
    labels = draw(st.lists(HOST_LABEL, min_size=1, max_size=4))
    name = ".".join([*labels, draw(st.sampled_from(PUBLIC_TLDS))])
    if name in METADATA_HOSTNAMES:
        name = "not-" + name
    name = draw(st.sampled_from([str.lower, str.upper, str.title]))(name)
    return name + draw(st.sampled_from(["", "."]))


CLUSTER_DOMAINS = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(SHORT_LABEL, max_size=2),
    st.sampled_from(CLUSTER_TLDS),
)

# Ordinary unicast addresses: none is loopback, link-local, multicast or metadata.
IPV4_NETWORKS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "192.168.0.0/16")]
IPV6_NETWORK = ipaddress.ip_network("2001:db8::/32")


@st.composite
def ip_addresses(draw: Draw) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    network = draw(st.sampled_from([*IPV4_NETWORKS, IPV6_NETWORK]))
    offset = draw(st.integers(1, network.num_addresses - 2))
    return network[offset]


def written(draw: Draw, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """An address as a user may write it: IPv6 compressed, in full or in upper case."""
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    return draw(st.sampled_from([str(address), address.exploded, str(address).upper()]))


@st.composite
def address_lists(draw: Draw) -> list[str]:
    addresses = draw(st.lists(ip_addresses(), min_size=1, max_size=4, unique=True))
    return [written(draw, address) for address in addresses]


def mappings(keys: st.SearchStrategy[str], values: st.SearchStrategy[Any]) -> Any:
    return st.dictionaries(keys, values, max_size=3)


LABELS = mappings(LABEL_KEYS, LABEL_VALUES)
ANNOTATIONS = mappings(ANNOTATION_KEYS, TRICKY_TEXT)


def optional(draw: Draw, into: dict[str, Any], key: str, values: st.SearchStrategy[Any]) -> None:
    if draw(st.booleans()):
        into[key] = draw(values)


# --- catalogs ----------------------------------------------------------------------------


@st.composite
def environments(draw: Draw) -> dict[str, Any]:
    env_names = draw(st.lists(ENVIRONMENT_NAMES, min_size=1, max_size=3, unique=True))
    result = {}
    for name in env_names:
        settings_: dict[str, Any] = {"namespace": draw(NAMESPACES)}
        optional(draw, settings_, "labels", LABELS)
        optional(draw, settings_, "annotations", ANNOTATIONS)
        optional(draw, settings_, "clusterDomain", CLUSTER_DOMAINS)
        optional(
            draw, settings_, "endpoints", st.sampled_from(["EndpointSlice", "Endpoints", "both"])
        )
        # An allow list that admits every generated target, to exercise the checks.
        allowed = [
            *(f"*.{tld}" for tld in PUBLIC_TLDS),
            *map(str, IPV4_NETWORKS),
            str(IPV6_NETWORK),
        ]
        optional(draw, settings_, "allowedTargets", st.just(allowed))
        result[name] = settings_
    return result


@st.composite
def port_lists(draw: Draw, target_ports: str, min_size: int = 0) -> list[dict[str, Any]]:
    """Valid ports; `target_ports` is 'none', 'number' or 'any' (a number or a name)."""
    count = draw(st.integers(min_size, 4))
    port_names = draw(st.lists(DNS1123_LABEL, min_size=count, max_size=count, unique=True))
    numbers = draw(
        st.lists(
            st.tuples(st.integers(1, 65535), st.sampled_from([None, "TCP", "UDP", "SCTP"])),
            min_size=count,
            max_size=count,
            unique_by=lambda pair: (pair[0], pair[1] or "TCP"),
        )
    )
    target_port = {
        "none": st.nothing(),
        "number": st.integers(1, 65535),
        "any": st.integers(1, 65535) | IANA_SERVICE_NAMES,
    }[target_ports]
    ports = []
    for name, (number, protocol) in zip(port_names, numbers, strict=True):
        port: dict[str, Any] = {}
        if count > 1 or draw(st.booleans()):
            port["name"] = name
        port["port"] = number
        if protocol is not None:
            port["protocol"] = protocol
        optional(draw, port, "appProtocol", QUALIFIED_NAMES)
        if target_ports != "none":
            optional(draw, port, "targetPort", target_port)
        ports.append(port)
    return ports


TARGET_KINDS = ["absent", "null", "host", "ip", "ips", "selector", "externalName", "addresses"]
TARGET_PORTS = {
    "host": "none",
    "externalName": "none",
    "ip": "number",
    "ips": "number",
    "addresses": "number",
}


@st.composite
def targets(draw: Draw, env_names: list[str]) -> tuple[dict[str, Any], set[str]]:
    """Targets, and the kinds of those that use the dependency's own ports."""
    result: dict[str, Any] = {}
    users: set[str] = set()
    for env in env_names:
        kind = draw(st.sampled_from(TARGET_KINDS))
        if kind == "absent":
            continue
        target = _target(draw, kind)
        if isinstance(target, dict):
            optional(
                draw,
                target,
                "namespaces",
                st.lists(NAMESPACES, min_size=1, max_size=3, unique=True),
            )
            optional(draw, target, "labels", LABELS)
            optional(draw, target, "annotations", ANNOTATIONS)
            min_size = 1 if kind == "selector" else 0
            ports = port_lists(TARGET_PORTS.get(kind, "any"), min_size)
            optional(draw, target, "ports", ports)
        if target is not None and not (isinstance(target, dict) and "ports" in target):
            users.add(kind)
        result[env] = target
    return result, users


def _target(draw: Draw, kind: str) -> Any:
    if kind == "null":
        return None
    if kind == "host":
        return draw(hostnames())
    if kind == "ip":
        return written(draw, draw(ip_addresses()))
    if kind == "ips":
        return draw(address_lists())
    if kind == "externalName":
        return {"externalName": draw(hostnames())}
    if kind == "addresses":
        return {"addresses": draw(address_lists())}
    return {
        "selector": draw(st.dictionaries(QUALIFIED_NAMES, LABEL_VALUES, min_size=1, max_size=3))
    }


@st.composite
def dependencies(draw: Draw, env_names: list[str]) -> list[dict[str, Any]]:
    dependency_names = draw(st.lists(DEPENDENCY_NAMES, min_size=1, max_size=8, unique=True))
    result = []
    for name in dependency_names:
        dependency: dict[str, Any] = {"name": name}
        optional(draw, dependency, "description", TRICKY_TEXT)
        optional(draw, dependency, "owner", TRICKY_TEXT)
        optional(draw, dependency, "labels", LABELS)
        optional(draw, dependency, "annotations", ANNOTATIONS)
        optional(
            draw,
            dependency,
            "namespaces",
            st.lists(NAMESPACES, min_size=1, max_size=3, unique=True),
        )
        optional(draw, dependency, "tls", st.builds(lambda host: {"serverName": host}, hostnames()))
        optional(draw, dependency, "allowInternal", st.booleans())
        dependency_targets, users = draw(targets(env_names))
        kinds = {TARGET_PORTS.get(kind, "any") for kind in users}
        target_ports = "none" if "none" in kinds else "number" if "number" in kinds else "any"
        min_size = 1 if "selector" in users else 0
        if min_size or draw(st.booleans()):
            dependency["ports"] = draw(port_lists(target_ports, min_size))
        dependency["targets"] = dependency_targets
        result.append(dependency)
    return result


@st.composite
def catalogs(draw: Draw) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    envs = draw(environments())
    return envs, draw(dependencies(list(envs)))


@st.composite
def dumpers(draw: Draw) -> Callable[[Any], str]:
    options = {
        "sort_keys": draw(st.booleans()),
        "default_flow_style": draw(st.sampled_from([False, None, True])),
        "allow_unicode": draw(st.booleans()),
        "width": draw(st.sampled_from([20, 80, 10_000])),
        "indent": draw(st.sampled_from([2, 4])),
    }
    return lambda data: yaml.safe_dump(data, **options)


@st.composite
def catalog_sources(draw: Draw) -> list[tuple[str, str]]:
    """A valid catalog as one, two or more files."""
    envs, deps = draw(catalogs())
    dump = draw(dumpers())
    layout = draw(st.sampled_from(["one", "two", "per-dependency"]))
    if layout == "one":
        return [("catalog.yaml", dump({"environments": envs, "dependencies": deps}))]
    files = [("catalog/environments.yaml", dump({"environments": envs}))]
    if layout == "two":
        return [*files, ("catalog/dependencies.yaml", dump({"dependencies": deps}))]
    return files + [(f"catalog/deps/{d['name']}.yml", dump({"dependencies": [d]})) for d in deps]


# --- properties --------------------------------------------------------------------------


def render(catalog: Catalog) -> dict[str, str]:
    return Renderer().render(plan_catalog(catalog))


def check_renders(catalog: Catalog) -> dict[str, str]:
    files = render(catalog)
    assert render(catalog) == files, "rendering twice gave different output"
    for path, text in files.items():
        first_line = text.split("\n", 1)[0]
        assert "extgen" in first_line and "DO NOT EDIT" in first_line, path
    return files


@_settings(default_examples=150)
@given(catalog_sources())
def test_valid_catalogs_render_deterministically(sources: list[tuple[str, str]]) -> None:
    for file, text in sources:
        note(f"--- {file}\n{text}")
    catalog = parse_catalog(sources)
    files = check_renders(catalog)
    assert set(catalog.environments) == {path.split("/")[0] for path in files} - {"base"}
    for env in catalog.environments:
        assert f"{env}/kustomization.yaml" in files
    reparsed = parse_catalog(list(reversed(sources)))
    assert render(reparsed) == files, "the order of catalog files changed the output"


@_settings(default_examples=60)
@given(catalogs(), dumpers())
def test_tricky_text_survives_loading(
    catalog: tuple[dict[str, Any], list[dict[str, Any]]], dump: Callable[[Any], str]
) -> None:
    """Description and owner reach the catalog as exactly the strings that were dumped."""
    envs, deps = catalog
    text = dump({"environments": envs, "dependencies": deps})
    note(text)
    loaded = {d.name: d for d in parse_catalog([("catalog.yaml", text)]).dependencies}
    for dep in deps:
        assert loaded[dep["name"]].description == dep.get("description")
        assert loaded[dep["name"]].owner == dep.get("owner")


# --- mutations ---------------------------------------------------------------------------

NASTY_SCALARS = [
    "yes",
    "on",
    "~",
    "null",
    "0755",
    "1e3",
    "12:30",
    "-",
    "[",
    "{",
    "*x",
    "&x",
    "!!python/object:os.system",
    '"\\n---\\nkind: ClusterRole"',
    "\n---\nkind: ClusterRole",
    "10.0.0.1",
    "localhost",
    "x" * 300,
    "ÿ",
    "a..b",
    "2001:db8::1",
]
INSERTED = st.one_of(
    st.text(min_size=1, max_size=4),
    st.sampled_from(
        [
            ":",
            ": ",
            "- ",
            "\n",
            "\n  ",
            "  ",
            "\t",
            "#",
            "{",
            "}",
            "[",
            "]",
            ",",
            "&a ",
            "*a",
            "!",
            "!!str ",
            "'",
            '"',
            "|",
            ">",
            "%",
            "@",
            "`",
            "? ",
            "\x00",
            "\ufeff",
            "\x85",
            "\u2028",
            "\r",
            "<<: ",
            "---\n",
            "...\n",
        ]
    ),
)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or [""]


def delete_line(draw: Draw, text: str) -> str:
    lines = _lines(text)
    index = draw(st.integers(0, len(lines) - 1))
    return "".join(lines[:index] + lines[index + 1 :])


def duplicate_line(draw: Draw, text: str) -> str:
    lines = _lines(text)
    index = draw(st.integers(0, len(lines) - 1))
    return "".join(lines[: index + 1] + lines[index:])


def insert_characters(draw: Draw, text: str) -> str:
    index = draw(st.integers(0, len(text)))
    return text[:index] + draw(INSERTED) + text[index:]


def _nodes(text: str) -> list[Any]:
    """Every node of the text, with start and end marks (character offsets)."""
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return []
    nodes, stack = [], [root] if root is not None else []
    while stack:
        node = stack.pop()
        nodes.append(node)
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in node.value for part in pair)
    return nodes


def replace_scalar(draw: Draw, text: str) -> str:
    scalars = [node for node in _nodes(text) if isinstance(node, yaml.ScalarNode)]
    if not scalars:
        return insert_characters(draw, text)
    node = draw(st.sampled_from(scalars))
    start, end = node.start_mark.index, node.end_mark.index
    return text[:start] + draw(st.sampled_from(NASTY_SCALARS)) + text[end:]


def swap_values(draw: Draw, text: str) -> str:
    maps = [n for n in _nodes(text) if isinstance(n, yaml.MappingNode) and len(n.value) > 1]
    if not maps:
        return duplicate_line(draw, text)
    pairs = draw(st.sampled_from(maps)).value
    first, second = sorted(
        draw(st.lists(st.sampled_from(range(len(pairs))), min_size=2, max_size=2, unique=True))
    )
    a, b = pairs[first][1], pairs[second][1]
    a0, a1, b0, b1 = a.start_mark.index, a.end_mark.index, b.start_mark.index, b.end_mark.index
    return text[:a0] + text[b0:b1] + text[a1:b0] + text[a0:a1] + text[b1:]


MUTATIONS = [delete_line, duplicate_line, insert_characters, replace_scalar, swap_values]


@st.composite
def mutated_sources(draw: Draw) -> list[tuple[str, str]]:
    """A valid catalog in two files, with one to three mutations in one or both of them."""
    envs, deps = draw(catalogs())
    dump = draw(dumpers())
    sources = {
        "catalog/environments.yaml": dump({"environments": envs}),
        "catalog/dependencies.yaml": dump({"dependencies": deps}),
    }
    for _ in range(draw(st.integers(1, 3))):
        file = draw(st.sampled_from(sorted(sources)))
        mutation = draw(st.sampled_from(MUTATIONS))
        sources[file] = mutation(draw, sources[file])
    return list(sources.items())


# Line breaks as YAML 1.1 readers (PyYAML, libyaml) count them, and as most editors do.
LINE_BREAKS = [re.compile(r"\r\n|[\r\n\x85\u2028\u2029]"), re.compile(r"\n")]


def position_error(problem: Problem, texts: dict[str, str]) -> str | None:
    """Why the problem's position is not a place in the files given, if it is not."""
    position = problem.position
    if position.file not in texts:
        return f"names file {position.file!r}, not one of {sorted(texts)}"
    if (position.line, position.column) == (1, 1):
        return None
    reasons = [
        _outside(position.line, position.column, b.split(texts[position.file])) for b in LINE_BREAKS
    ]
    return None if None in reasons else " / ".join(map(str, reasons))


def _outside(line: int, column: int, lines: list[str]) -> str | None:
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    if not 1 <= line <= len(lines) + 1:
        return f"line {line} is outside 1..{len(lines) + 1}"
    text = lines[line - 1] if line <= len(lines) else ""
    if not 1 <= column <= len(text) + 2:
        return f"column {column} is outside 1..{len(text) + 2} of line {text!r}"
    return None


@_settings(default_examples=400)
@given(mutated_sources())
def test_mutated_catalogs_fail_only_with_catalog_errors(sources: list[tuple[str, str]]) -> None:
    for file, text in sources:
        note(f"--- {file}\n{text!r}")
    try:
        catalog = parse_catalog(sources)
    except CatalogError as error:
        event("CatalogError")
        assert error.problems, "a CatalogError without problems"
        texts = dict(sources)
        for problem in error.problems:
            assert position_error(problem, texts) is None, (
                f"{problem.format()!r}: {position_error(problem, texts)}"
            )
            assert problem.message.strip(), f"empty message at {problem.position}"
            assert len(problem.message.splitlines()) == 1, f"multi-line: {problem.format()!r}"
        return
    event("still valid")
    check_renders(catalog)
