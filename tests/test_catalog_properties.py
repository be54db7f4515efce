"""Property-based tests of catalog loading, planning, rendering, kustomize build and verify.

1. Any valid catalog, however it is written out by a YAML dumper and split into files,
   loads, plans and renders, deterministically and whatever the order of its files, and
   every rendered file starts with the extgen marker line.
2. Text with YAML and template syntax, control characters and non-ASCII reaches the
   catalog (description, owner) as exactly the string that was dumped.
3. A valid catalog text damaged by small edits (lines deleted or duplicated, characters
   inserted, scalars replaced by values that YAML or extgen find tricky, values swapped)
   either still loads and renders, or fails with a CatalogError whose every problem points
   into the files given, at a line and column that exist, with a one-line message.

Every catalog accepted in 1-3 is also written to disk as `extgen render` writes it (a
second write must change nothing), built with kustomize and verified by
extgen.verify.verify (`extgen verify`: the Kubernetes schema, and equality with the plan).
The builds are batched (see `Overlays`); every 50th accepted catalog of a test is also
built and verified on its own.

Run longer with EXTGEN_FUZZ_EXAMPLES=5000 (examples per test), or with fuzz/run.py.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import os
import re
import shlex
import shutil
import string
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import note as hypothesis_note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import extgen.catalog
from extgen.catalog import Catalog, parse_catalog
from extgen.errors import CatalogError, ExtgenError, Problem
from extgen.kustomize import Kustomize, build, find_kustomize
from extgen.output import scan
from extgen.plan import Plan, plan_catalog
from extgen.render import Renderer
from extgen.sync import apply_changes, plan_changes
from extgen.verify import verify
from extgen.yamlio import other_type, parse_all_core

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


# extgen refuses numbers too large for a float (`71e1008`) wherever text is written:
# kustomize writes them unquoted, and YAML 1.2 readers take them for infinity.
HUGE_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+")


def huge_number(text: str) -> bool:
    return HUGE_NUMBER.fullmatch(text) is not None and math.isinf(float(text))


def names(first: str, middle: str, last: str, max_size: int) -> st.SearchStrategy[str]:
    """`first`, then up to max_size - 1 characters of `middle` that end in one of `last`.

    Built from st.text rather than st.from_regex, which is several times slower.
    """
    return st.builds(
        lambda head, body, tail: head + (body + tail if tail else ""),
        st.sampled_from(first),
        st.text(middle, max_size=max_size - 2),
        st.just("") | st.sampled_from(last),
    ).filter(lambda name: not huge_number(name))


DNS1123_LABEL = names(LOWER_ALNUM, LOWER_ALNUM + "-", LOWER_ALNUM, 63)
SHORT_LABEL = names(LOWER_ALNUM, LOWER_ALNUM + "-", LOWER_ALNUM, 20)
DNS1035_LABEL = names(LOWER, LOWER_ALNUM + "-", LOWER_ALNUM, 63)
ENVIRONMENT_NAMES = DNS1123_LABEL.filter(lambda name: name != "base")
DEPENDENCY_NAMES = DNS1035_LABEL.filter(lambda name: name not in ("kustomization", "kubernetes"))
# Kubernetes' own namespaces are refused (the catalog's gitops is never generated).
NAMESPACES = DNS1123_LABEL.filter(
    lambda name: name not in ("kube-system", "kube-public", "kube-node-lease")
)
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

# extgen refuses annotation keys that YAML readers take for a number, boolean, null or
# date (kustomize cannot build them), by the rule below. Should the rule miss one, the
# kustomize build of the generated catalogs fails.
ANNOTATION_KEYS = QUALIFIED_NAMES.filter(
    lambda key: not key.startswith("extgen.io/") and other_type(key) is None
)

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
# extgen also refuses text that kustomize writes so that it cannot be read back as it was:
# an annotation that starts with a tab and spans lines, a number too large for a float.


def _writable(text: str) -> bool:
    spans_lines = "\n" in text or "\r" in text
    return not (text.startswith("\t") and spans_lines) and not huge_number(text)


TRICKY_TEXT = (
    st.one_of(
        st.text(max_size=30),
        st.sampled_from(TRICKY_PIECES),
        st.lists(st.sampled_from(TRICKY_PIECES) | st.text(max_size=4), max_size=8).map("".join),
    )
    .map(lambda text: UNWRITABLE.sub("", text))
    .filter(_writable)
)

# Hostnames end in a top-level domain that no generated cluster domain uses, so they are
# never inside the cluster; cluster domains end in one of their own.
PUBLIC_TLDS = ["com", "net", "org", "io", "example", "test", "de"]
CLUSTER_TLDS = ["local", "cluster", "kube", "internal"]
METADATA_HOSTNAMES = {"metadata.google.internal", "metadata.goog", "metadata.tencentyun.com"}
WILDCARD_DNS_DOMAINS = ("nip.io", "sslip.io", "xip.io", "lacolhost.com")
HOST_LABEL = names(LOWER_ALNUM, LOWER_ALNUM + "-", LOWER_ALNUM, 50)


HOST_LABELS = st.lists(HOST_LABEL, min_size=1, max_size=4)
TLDS = st.sampled_from(PUBLIC_TLDS)
CASES = st.sampled_from([str.lower, str.upper, str.title])
TRAILING_DOTS = st.sampled_from(["", "."])


@st.composite
def hostnames(draw: Draw) -> str:
    name = ".".join([*draw(HOST_LABELS), draw(TLDS)])
    if name in METADATA_HOSTNAMES:
        name = "not-" + name
    # Wildcard-DNS services resolve to the address in the name, maybe a refused one.
    if name.endswith(WILDCARD_DNS_DOMAINS):
        name = name + ".com"
    return draw(CASES)(name) + draw(TRAILING_DOTS)


HOSTNAMES = hostnames()


CLUSTER_DOMAINS = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(SHORT_LABEL, max_size=2),
    st.sampled_from(CLUSTER_TLDS),
)

# Ordinary unicast addresses: none is loopback, link-local, multicast or metadata.
IPV4_NETWORKS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "192.168.0.0/16")]
IPV6_NETWORK = ipaddress.ip_network("2001:db8::/32")


IP_ADDRESSES = st.one_of(
    [
        st.builds(network.__getitem__, st.integers(1, network.num_addresses - 2))
        for network in [*IPV4_NETWORKS, IPV6_NETWORK]
    ]
)
IPV6_SPELLINGS = st.sampled_from(
    [str, lambda address: address.exploded, lambda address: str(address).upper()]
)


def written(draw: Draw, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """An address as a user may write it: IPv6 compressed, in full or in upper case."""
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    return str(draw(IPV6_SPELLINGS)(address))


ADDRESS_SETS = st.lists(IP_ADDRESSES, min_size=1, max_size=4, unique=True)


@st.composite
def address_lists(draw: Draw) -> list[str]:
    return [written(draw, address) for address in draw(ADDRESS_SETS)]


ADDRESS_LISTS = address_lists()


def mappings(keys: st.SearchStrategy[str], values: st.SearchStrategy[Any]) -> Any:
    return st.dictionaries(keys, values, max_size=3)


LABELS = mappings(LABEL_KEYS, LABEL_VALUES)
ANNOTATIONS = mappings(ANNOTATION_KEYS, TRICKY_TEXT)


def optional(draw: Draw, into: dict[str, Any], key: str, values: st.SearchStrategy[Any]) -> None:
    if draw(st.booleans()):
        into[key] = draw(values)


# --- catalogs ----------------------------------------------------------------------------

ENVIRONMENT_NAME_LISTS = st.lists(ENVIRONMENT_NAMES, min_size=1, max_size=3, unique=True)
ENDPOINTS = st.sampled_from(["EndpointSlice", "Endpoints", "both"])
# An allow list that admits every generated target, to exercise the checks.
ALLOW_EVERY_TARGET = st.just(
    [*(f"*.{tld}" for tld in PUBLIC_TLDS), *map(str, IPV4_NETWORKS), str(IPV6_NETWORK)]
)


@st.composite
def environments(draw: Draw) -> dict[str, Any]:
    result = {}
    for name in draw(ENVIRONMENT_NAME_LISTS):
        settings_: dict[str, Any] = {"namespace": draw(NAMESPACES)}
        optional(draw, settings_, "labels", LABELS)
        optional(draw, settings_, "annotations", ANNOTATIONS)
        optional(draw, settings_, "clusterDomain", CLUSTER_DOMAINS)
        optional(draw, settings_, "endpoints", ENDPOINTS)
        optional(draw, settings_, "allowedTargets", ALLOW_EVERY_TARGET)
        result[name] = settings_
    return result


PORT_AND_PROTOCOL = st.tuples(st.integers(1, 65535), st.sampled_from([None, "TCP", "UDP", "SCTP"]))
TARGET_PORT_VALUES = {
    "none": st.nothing(),
    "number": st.integers(1, 65535),
    "any": st.integers(1, 65535) | IANA_SERVICE_NAMES,
}


def _port_key(pair: tuple[int, str | None]) -> tuple[int, str]:
    return (pair[0], pair[1] or "TCP")


@st.composite
def port_lists(draw: Draw, target_ports: str, min_size: int = 0) -> list[dict[str, Any]]:
    """Valid ports; `target_ports` is 'none', 'number' or 'any' (a number or a name)."""
    count = draw(st.integers(min_size, 4))
    port_names = draw(st.lists(DNS1123_LABEL, min_size=count, max_size=count, unique=True))
    numbers = draw(st.lists(PORT_AND_PROTOCOL, min_size=count, max_size=count, unique_by=_port_key))
    target_port = TARGET_PORT_VALUES[target_ports]
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
KINDS = st.sampled_from(TARGET_KINDS)
PORT_LISTS = {
    (target_ports, min_size): port_lists(target_ports, min_size)
    for target_ports in TARGET_PORT_VALUES
    for min_size in (0, 1)
}
NAMESPACE_LISTS = st.lists(NAMESPACES, min_size=1, max_size=3, unique=True)
SELECTORS = st.dictionaries(QUALIFIED_NAMES, LABEL_VALUES, min_size=1, max_size=3)


@st.composite
def targets(draw: Draw, env_names: list[str]) -> tuple[dict[str, Any], set[str]]:
    """Targets, and the kinds of those that use the dependency's own ports."""
    result: dict[str, Any] = {}
    users: set[str] = set()
    for env in env_names:
        kind = draw(KINDS)
        if kind == "absent":
            continue
        target = _target(draw, kind)
        if isinstance(target, dict):
            optional(draw, target, "namespaces", NAMESPACE_LISTS)
            optional(draw, target, "labels", LABELS)
            optional(draw, target, "annotations", ANNOTATIONS)
            min_size = 1 if kind == "selector" else 0
            optional(draw, target, "ports", PORT_LISTS[TARGET_PORTS.get(kind, "any"), min_size])
        if target is not None and not (isinstance(target, dict) and "ports" in target):
            users.add(kind)
        result[env] = target
    return result, users


def _target(draw: Draw, kind: str) -> Any:
    if kind == "null":
        return None
    if kind == "host":
        return draw(HOSTNAMES)
    if kind == "ip":
        return written(draw, draw(IP_ADDRESSES))
    if kind == "ips":
        return draw(ADDRESS_LISTS)
    if kind == "externalName":
        return {"externalName": draw(HOSTNAMES)}
    if kind == "addresses":
        return {"addresses": draw(ADDRESS_LISTS)}
    return {"selector": draw(SELECTORS)}


DEPENDENCY_NAME_LISTS = st.lists(DEPENDENCY_NAMES, min_size=1, max_size=8, unique=True)
TLS = st.builds(lambda host: {"serverName": host}, HOSTNAMES)


@st.composite
def dependencies(draw: Draw, env_names: list[str]) -> list[dict[str, Any]]:
    result = []
    for name in draw(DEPENDENCY_NAME_LISTS):
        dependency: dict[str, Any] = {"name": name}
        optional(draw, dependency, "description", TRICKY_TEXT)
        optional(draw, dependency, "owner", TRICKY_TEXT)
        optional(draw, dependency, "labels", LABELS)
        optional(draw, dependency, "annotations", ANNOTATIONS)
        optional(draw, dependency, "namespaces", NAMESPACE_LISTS)
        optional(draw, dependency, "tls", TLS)
        optional(draw, dependency, "allowInternal", st.booleans())
        dependency_targets, users = draw(targets(env_names))
        kinds = {TARGET_PORTS.get(kind, "any") for kind in users}
        target_ports = "none" if "none" in kinds else "number" if "number" in kinds else "any"
        min_size = 1 if "selector" in users else 0
        if min_size or draw(st.booleans()):
            dependency["ports"] = draw(PORT_LISTS[target_ports, min_size])
        dependency["targets"] = dependency_targets
        result.append(dependency)
    return result


@st.composite
def catalogs(draw: Draw) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    envs = draw(environments())
    return envs, draw(dependencies(list(envs)))


# PyYAML's own emitter and, when PyYAML has it, libyaml's: they lay text out differently.
DUMPERS = st.sampled_from(
    [yaml.SafeDumper, *([yaml.CSafeDumper] if hasattr(yaml, "CSafeDumper") else [])]
)
FLOW_STYLES = st.sampled_from([False, None, True])
WIDTHS = st.sampled_from([20, 80, 10_000])
INDENTS = st.sampled_from([2, 4])


@st.composite
def dumpers(draw: Draw) -> Callable[[Any], str]:
    options = {
        "Dumper": draw(DUMPERS),
        "sort_keys": draw(st.booleans()),
        "default_flow_style": draw(FLOW_STYLES),
        "allow_unicode": draw(st.booleans()),
        "width": draw(WIDTHS),
        "indent": draw(INDENTS),
    }
    return lambda data: yaml.dump(data, **options)


LAYOUTS = st.sampled_from(["one", "two", "per-dependency"])


@st.composite
def catalog_sources(draw: Draw) -> list[tuple[str, str]]:
    """A valid catalog as one, two or more files."""
    envs, deps = draw(catalogs())
    dump = draw(dumpers())
    layout = draw(LAYOUTS)
    if layout == "one":
        return [("catalog.yaml", dump({"environments": envs, "dependencies": deps}))]
    files = [("catalog/environments.yaml", dump({"environments": envs}))]
    if layout == "two":
        return [*files, ("catalog/dependencies.yaml", dump({"dependencies": deps}))]
    return files + [(f"catalog/deps/{d['name']}.yml", dump({"dependencies": [d]})) for d in deps]


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
MUTATION_KINDS = st.sampled_from(MUTATIONS)
SOURCE_FILES = st.sampled_from(["catalog/dependencies.yaml", "catalog/environments.yaml"])


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
        file = draw(SOURCE_FILES)
        mutation = draw(MUTATION_KINDS)
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


# --- properties ----------------------------------------------------------------------------
# What every generated catalog must satisfy; fuzz/run.py checks the same on many more cases.

# One jinja2 environment for all renders: compiling the templates costs more than rendering.
RENDERER = Renderer()


@dataclass(frozen=True)
class Accepted:
    """A catalog extgen accepted: its files, plan and rendered output."""

    sources: tuple[tuple[str, str], ...]
    plan: Plan
    files: dict[str, str]

    def describe(self) -> str:
        return "\n".join(f"--- {file}\n{text!r}" for file, text in self.sources)


def note(text: str) -> None:
    """hypothesis.note, and nothing outside a test: the checks also run on their own."""
    if currently_in_test_context():
        hypothesis_note(text)


def event(text: str) -> None:
    if currently_in_test_context():
        hypothesis_event(text)


def render(catalog: Catalog) -> tuple[Plan, dict[str, str]]:
    plan = plan_catalog(catalog)
    return plan, RENDERER.render(plan)


def check_renders(
    sources: list[tuple[str, str]], catalog: Catalog, again: Catalog | None = None
) -> Accepted:
    """Renders the catalog twice (the second time `again`, the same catalog read anew,
    whose plan is kept: the valid catalogs' is of models pickled)."""
    plan, files = render(catalog)
    plan, again_files = render(again or catalog)
    assert again_files == files, "rendering twice gave different output"
    for path, text in files.items():
        first_line = text.split("\n", 1)[0]
        assert "extgen" in first_line and "DO NOT EDIT" in first_line, path
    return Accepted(tuple(sources), plan, files)


def check_valid_catalog(sources: list[tuple[str, str]]) -> Accepted:
    """A valid catalog loads and renders, the same whatever the order of its files."""
    for file, text in sources:
        note(f"--- {file}\n{text}")
    catalog = parse_catalog(sources)
    # The second render is of the files read in the reverse order, and as a catalog too
    # large to keep its models is read (pickled by file): the same bytes again.
    with models_pickled():
        again = parse_catalog(list(reversed(sources)))
    assert all(record.model is None for record in again.records)
    accepted = check_renders(sources, catalog, again)
    files = accepted.files
    assert set(catalog.environments) == {path.split("/")[0] for path in files} - {"base"}
    for env in catalog.environments:
        assert f"{env}/kustomization.yaml" in files
    return accepted


@contextlib.contextmanager
def models_pickled() -> Iterator[None]:
    """Catalogs read meanwhile keep their models pickled, as large ones do."""
    kept, extgen.catalog.KEEP_MODELS_BYTES = extgen.catalog.KEEP_MODELS_BYTES, -1
    try:
        yield
    finally:
        extgen.catalog.KEEP_MODELS_BYTES = kept


def check_tricky_text(
    catalog: tuple[dict[str, Any], list[dict[str, Any]]], dump: Callable[[Any], str]
) -> Accepted:
    """Description and owner reach the catalog as exactly the strings that were dumped."""
    envs, deps = catalog
    sources = [("catalog.yaml", dump({"environments": envs, "dependencies": deps}))]
    note(sources[0][1])
    loaded = parse_catalog(sources)
    by_name = {d.name: d for d in loaded.dependencies}
    for dep in deps:
        assert by_name[dep["name"]].description == dep.get("description")
        assert by_name[dep["name"]].owner == dep.get("owner")
    return check_renders(sources, loaded)


def check_mutated_catalog(sources: list[tuple[str, str]]) -> Accepted | None:
    """A damaged catalog still loads and renders, or fails with a CatalogError whose every
    problem points into the files given, at a line and column that exist, in one line."""
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
        return None
    event("still valid")
    return check_renders(sources, catalog)


# --- known bugs -----------------------------------------------------------------------------
# A bug these properties find, while it is open, can be listed here: a catalog it affects,
# whose build or verify fails only with findings it explains, is then counted apart (and
# built outside the batches) instead of failing every run. None is open: the three found
# so far are refused by extgen since commit 5a88158, see FOUND_BY_FUZZING below.


@dataclass(frozen=True)
class KnownBug:
    name: str
    affects: Callable[[Plan], bool]
    explains: Callable[[Plan, str], bool]  # whether a finding of extgen verify is its doing


KNOWN_BUGS: list[KnownBug] = []


def known_bugs(plan: Plan) -> list[KnownBug]:
    return [bug for bug in KNOWN_BUGS if bug.affects(plan)]


# --- kustomize build and extgen verify, many catalogs per build ----------------------------

Key = tuple[str, str, str]


# A `kustomize build` as extgen.verify runs it, answered from the batch's output when the
# batch built; any other directory is built by kustomize itself.
FROM_BATCH = 'if [ -f "$0.built" ]; then exec cat -- "$0.built"; fi; exec {} "$0"'


@dataclass
class Batch:
    """Environment directories of several catalogs, built by one kustomization."""

    directories: list[str] = field(default_factory=list)  # relative to the round's directory
    owners: dict[Key, str] = field(default_factory=dict)  # which directory yields an object
    objects: int = 0


class Overlays:
    """Accepted catalogs' output written to disk, built with kustomize and checked by
    extgen.verify.verify, which is `extgen verify`: schema, and equality with the plan.

    A kustomize build costs about 0.05 s however small it is, more than the rest of a
    case, so one kustomization lists environment directories of many catalogs as its
    resources (never two that yield an object of the same kind, namespace and name, which
    kustomize refuses), and its output is split back by object. verify() then checks each
    catalog with that output in place of its own builds. An environment whose batch does
    not build, or whose output cannot be split, is built on its own by verify(). Every
    `alone_every`-th catalog is also verified with builds of its own, as a check of the
    batching.
    """

    def __init__(self, root: Path, alone_every: int, batch_objects: int = 300) -> None:
        self.root = root
        self.alone_every = alone_every
        self.batch_objects = batch_objects
        self.kustomize = find_kustomize()
        self.from_batch = Kustomize(
            ("/bin/sh", "-c", FROM_BATCH.format(shlex.join(self.kustomize.command))),
            f"{self.kustomize.description}, many catalogs per build",
        )
        self.counts: Counter[str] = Counter()
        self.rounds = 0
        self.pending: list[tuple[Path, Accepted, bool]] = []

    def add(self, accepted: Accepted) -> None:
        """Writes the output as `extgen render` does; writing it again must change nothing."""
        out = self.root / f"round-{self.rounds}" / f"catalog-{len(self.pending):05d}"
        changes = plan_changes(out, accepted.plan, RENDERER, scan(out))
        apply_changes(changes, write=True)
        written = {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*.yaml")}
        assert written == accepted.files, "the files written are not the files rendered"
        again = plan_changes(out, accepted.plan, RENDERER, scan(out)).counts()
        assert again["unchanged"] == len(written), f"a second render changes files: {again}"
        alone = self.alone_every > 0 and self.counts["catalogs written"] % self.alone_every == 0
        self.counts["catalogs written"] += 1
        self.pending.append((out, accepted, alone))

    def verify(self) -> list[str]:
        """Builds and verifies every catalog added since the last call: what failed, if any."""
        directory = self.root / f"round-{self.rounds}"
        pending, self.pending = self.pending, []
        self.rounds += 1
        for index, batch in enumerate(self._batches(pending)):
            self._build(directory / f"batch-{index:04d}", batch)
        failures = [failure for item in pending for failure in self._verify(*item)]
        shutil.rmtree(directory, ignore_errors=True)
        return failures

    def _batches(self, pending: list[tuple[Path, Accepted, bool]]) -> list[Batch]:
        batches: list[Batch] = []
        for out, accepted, _ in pending:
            if known_bugs(accepted.plan):
                continue  # it could fail the batch; verify() builds it on its own
            for env in accepted.plan.environments:
                if env.shards > 1:
                    continue  # verify() builds it shard by shard
                keys = [manifest.key() for manifest in env.manifests()]
                batch = next(
                    (
                        b
                        for b in batches
                        if b.objects + len(keys) <= self.batch_objects
                        and b.owners.keys().isdisjoint(keys)
                    ),
                    None,
                )
                if batch is None:
                    batch = Batch()
                    batches.append(batch)
                batch.directories.append(f"{out.name}/{env.name}")
                batch.owners.update(dict.fromkeys(keys, f"{out.name}/{env.name}"))
                batch.objects += len(keys)
        return batches

    def _build(self, directory: Path, batch: Batch) -> None:
        directory.mkdir(parents=True)
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [f"../{name}" for name in batch.directories],
        }
        (directory / "kustomization.yaml").write_text(json.dumps(kustomization, indent=1))
        try:
            stream = build(self.kustomize, directory)
        except ExtgenError:
            self.counts["batches that did not build"] += 1
            return
        documents = _split(stream, batch)
        if documents is None:
            self.counts["batches whose output could not be split"] += 1
            return
        for name, texts in documents.items():
            (directory.parent / f"{name}.built").write_text("---\n".join(texts))
        self.counts["kustomize builds of batches"] += 1
        self.counts["environments built in batches"] += len(batch.directories)

    def _verify(self, out: Path, accepted: Accepted, alone: bool) -> list[str]:
        findings = [f.format() for f in verify(out, accepted.plan, None, self.from_batch).findings]
        self.counts["catalogs verified"] += 1
        if alone:
            report = verify(out, accepted.plan, None, self.kustomize)
            findings += [f"(built on its own) {finding.format()}" for finding in report.findings]
            self.counts["catalogs also verified with builds of their own"] += 1
        if not findings:
            return []
        bugs = known_bugs(accepted.plan)
        if bugs and all(any(bug.explains(accepted.plan, f) for bug in bugs) for f in findings):
            for bug in bugs:
                if any(bug.explains(accepted.plan, finding) for finding in findings):
                    self.counts[f"known bug: {bug.name}"] += 1
            return []
        return ["\n".join(["extgen verify failed:", *findings, accepted.describe()])]


def _split(stream: str, batch: Batch) -> dict[str, list[str]] | None:
    """The batch's output per environment directory, or None if an object is not the
    one object of that kind, namespace and name that a directory of the batch yields."""
    documents: dict[str, list[str]] = {name: [] for name in batch.directories}
    seen: set[Key] = set()
    for text in re.split(r"(?m)^---\n", stream):
        if not text.strip():
            continue
        try:
            [body] = parse_all_core(text)
            metadata = body["metadata"]
            key = (str(body["kind"]), str(metadata["namespace"]), str(metadata["name"]))
        except Exception:
            return None
        if key in seen or key not in batch.owners:
            return None
        seen.add(key)
        documents[batch.owners[key]].append(text)
    return documents


# --- tests ---------------------------------------------------------------------------------
# Each runs its property on generated catalogs, then builds and verifies every accepted one.
# A case that fails in the property is shrunk by hypothesis; a catalog whose output does not
# build or verify is reported with its text (the build runs after the examples).


def assert_verified(overlays: Overlays) -> None:
    failures = overlays.verify()
    assert not failures, f"{len(failures)} catalogs failed; the first:\n{failures[0]}"
    assert overlays.counts["catalogs verified"] == overlays.counts["catalogs written"] > 0


def test_valid_catalogs_render_build_and_verify(tmp_path: Path) -> None:
    overlays = Overlays(tmp_path, alone_every=50)

    @_settings(default_examples=150)
    @given(catalog_sources())
    def valid_catalogs(sources: list[tuple[str, str]]) -> None:
        overlays.add(check_valid_catalog(sources))

    valid_catalogs()
    assert_verified(overlays)


def test_tricky_text_survives_loading(tmp_path: Path) -> None:
    overlays = Overlays(tmp_path, alone_every=50)

    @_settings(default_examples=60)
    @given(catalogs(), dumpers())
    def tricky_text(
        catalog: tuple[dict[str, Any], list[dict[str, Any]]], dump: Callable[[Any], str]
    ) -> None:
        overlays.add(check_tricky_text(catalog, dump))

    tricky_text()
    assert_verified(overlays)


def test_mutated_catalogs_fail_only_with_catalog_errors(tmp_path: Path) -> None:
    overlays = Overlays(tmp_path, alone_every=50)

    @_settings(default_examples=400)
    @given(mutated_sources())
    def mutated_catalogs(sources: list[tuple[str, str]]) -> None:
        accepted = check_mutated_catalog(sources)
        if accepted is not None:
            overlays.add(accepted)

    mutated_catalogs()
    assert_verified(overlays)


# What the fuzzer found extgen accepting and kustomize failing to build, or writing so that
# extgen verify reads it back as another value: annotation keys that YAML readers take for
# another type, annotation text that starts with a tab and spans lines, numbers too large
# for a float. A dependency `db` on line 3, in an environment `dev` of namespace `apps`.
ANNOTATION_KEY_BUG = "{name: db, annotations: {'KEY': x}, targets: {dev: h.com}}"
FOUND_BY_FUZZING = {
    **{
        f"annotation-key-{key}": ANNOTATION_KEY_BUG.replace("KEY", key)
        for key in ["61", "1e3", "0x1F", "0755", "true", "null", "2001-12-14"]
    },
    "description-tab-line-break": '{name: db, description: "\\tkind: x\\n", targets: {dev: h.com}}',
    "namespace-71e1008": "{name: db, namespaces: ['71e1008'], targets: {dev: h.com}}",
    "port-name-9e999": "{name: db, ports: [{name: '9e999', port: 80}], targets: {dev: 10.0.0.1}}",
}


@pytest.mark.parametrize("dependency", FOUND_BY_FUZZING.values(), ids=FOUND_BY_FUZZING)
def test_what_kustomize_cannot_build_is_refused_at_its_place(dependency: str) -> None:
    """The fuzzer's findings: extgen refuses them in the catalog, on line 3."""
    text = f"environments: {{dev: {{namespace: apps}}}}\ndependencies:\n- {dependency}\n"
    with pytest.raises(CatalogError) as raised:
        parse_catalog([("catalog.yaml", text)])
    [problem] = raised.value.problems
    assert (problem.position.file, problem.position.line) == ("catalog.yaml", 3)
