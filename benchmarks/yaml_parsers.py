"""Fast YAML parsers (Rust, C, C++) measured against what extgen needs from PyYAML.

Runs against whichever candidate libraries the interpreter running it can import (none is
a dependency of extgen; install them into a separate virtualenv) and prints, as Markdown:

1. speed: every file of a generated catalog parsed in this process, medians of --reps
   round-robin repetitions, against `yaml.load(CSafeLoader)` and against the composer
   extgen uses (`yaml.compose` on a CSafeLoader subclass), and, when extgen is importable,
   its `load_document` (compose and build the values);
2. YAML 1.2 semantics: what each library returns for `v: INPUT`;
3. what extgen refuses or reports: duplicate keys, tags, merge keys, more than one
   document, aliases (a small case: shared or copied; two "billion laughs" documents in a
   child process with a memory limit), deep nesting (child process), the position of a
   syntax error, node positions of values, and the source text of plain scalars;
4. with --pypi, what PyPI says of each: wheels for Linux/macOS/Windows and CPython
   3.11-3.13, licence, releases (needs network access to pypi.org).

    python -m venv /tmp/yamleval-venv
    /tmp/yamleval-venv/bin/pip install pyyaml rapidyaml yaml-rs ryaml ...
    /tmp/yamleval-venv/bin/python benchmarks/yaml_parsers.py --deps 10000 --envs 4 --pypi
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import gc
import hashlib
import importlib
import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
Loader = Callable[[str], Any]
PY_VERSIONS = ("3.11", "3.12", "3.13")
PLATFORMS = (
    ("Linux x86_64", "linux", ("x86_64",)),
    ("Linux aarch64", "linux", ("aarch64",)),
    ("macOS arm64", "macos", ("arm64", "universal2")),
    ("macOS x86_64", "macos", ("x86_64", "universal2", "intel")),
    ("Windows x64", "windows", ("amd64",)),
)
PROBE_MEMORY_LIMIT = 2 * 1024**3  # address space of a child process running a hostile input
PROBE_TIMEOUT = 60.0


# --- YAML 1.2 core schema, as extgen resolves plain scalars (extgen/yamlio.py) ---------

_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+")
# A plain scalar that starts with none of these and is no null or boolean word is a string.
_MAYBE_NOT_STRING = frozenset("0123456789+-.~")
_WORDS = frozenset(("null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE"))


@dataclass(frozen=True)
class Plain:
    """A plain scalar that is not a string in YAML 1.2, with its source text (extgen's
    SourceScalar); value None when YAML 1.1 and 1.2 disagree (a leading zero)."""

    text: str
    value: int | float | bool | None


def resolve_plain(text: str) -> Any:
    if text and text[0] not in _MAYBE_NOT_STRING and text not in _WORDS:
        return text
    if _NULL.fullmatch(text):
        return None
    if _BOOL.fullmatch(text):
        return Plain(text, text[0] in "tT")
    if _LEADING_ZERO.fullmatch(text):
        return Plain(text, None)
    if _INT10.fullmatch(text):
        return Plain(text, int(text))
    if _INT8.fullmatch(text):
        return Plain(text, int(text[2:], 8))
    if _INT16.fullmatch(text):
        return Plain(text, int(text[2:], 16))
    if _FLOAT.fullmatch(text):
        return Plain(text, float(text))
    if _INF.fullmatch(text):
        return Plain(text, -math.inf if text[0] == "-" else math.inf)
    if _NAN.fullmatch(text):
        return Plain(text, math.nan)
    return text


# --- rapidyaml: a C++ tree walked from Python into extgen's values ----------------------


class RymlRefused(ValueError):
    """What extgen refuses; the position would come from a second pass with PyYAML."""


class RymlWalker:
    """Builds extgen's values (dicts, tuples, Plain, str, None) from a rapidyaml tree.

    Applies extgen's rules: duplicate keys (recorded, the first value stands), tags other
    than !!str/!!seq/!!map, merge keys, more than one document, nesting deeper than 64
    levels and aliases that expand past the file's size are refused. rapidyaml's Python
    binding has no node positions: a file with problems is to be parsed again with PyYAML
    for them.
    """

    MAX_DEPTH = 64
    ALIAS_SLACK_NODES = 10_000

    def __init__(self, ryml: Any) -> None:
        self.ryml = ryml
        self.low = importlib.import_module("ryml._ryml")
        self.none = ryml.NONE
        self.map, self.seq, self.plain = ryml.MAP, ryml.SEQ, ryml.VAL_PLAIN
        self.val_ref, self.key_ref = ryml.VALREF, ryml.KEYREF
        self.tags = ryml.VALTAG | ryml.KEYTAG
        self.anchors = ryml.VALANCH | ryml.KEYANCH
        self.special = self.val_ref | self.key_ref | self.tags | self.anchors

    def load(self, text: str) -> Any:
        data, duplicates = self.load_with_problems(text)
        if duplicates:
            raise RymlRefused(f"duplicate key {duplicates[0]!r} (no position: second pass)")
        return data

    def load_with_problems(self, text: str) -> tuple[Any, list[str]]:
        source = text.encode("utf-8")
        tree = self.ryml.parse_in_arena(source)
        low, none = self.low, self.none
        first_child, next_sibling = low.Tree_first_child, low.Tree_next_sibling
        node_type, key_of, val_of = low.Tree_type, low.Tree_key, low.Tree_val
        is_map, is_seq, plain, special = self.map, self.seq, self.plain, self.special
        budget = [len(source) + self.ALIAS_SLACK_NODES]
        anchors: dict[str, int] = {}
        duplicates: list[str] = []

        def build(node: int, flags: int, depth: int) -> Any:
            budget[0] -= 1
            if budget[0] < 0:
                raise RymlRefused("YAML aliases expand to too many values (an alias bomb?)")
            if depth > self.MAX_DEPTH:
                raise RymlRefused(f"YAML nesting is deeper than {self.MAX_DEPTH} levels")
            if flags & special:
                node, flags = self.special_node(tree, node, flags, anchors)
            if flags & is_map:
                result: dict[str, Any] = {}
                child = first_child(tree, node)
                while child != none:
                    child_flags = node_type(tree, child)
                    key = str(key_of(tree, child), "utf-8")
                    if key == "<<" and child_flags & self.ryml.KEY_PLAIN:
                        raise RymlRefused("YAML merge keys ('<<') are not supported")
                    if key in result:
                        duplicates.append(key)
                    else:
                        result[key] = build(child, child_flags, depth + 1)
                    child = next_sibling(tree, child)
                return result
            if flags & is_seq:
                items = []
                child = first_child(tree, node)
                while child != none:
                    items.append(build(child, node_type(tree, child), depth + 1))
                    child = next_sibling(tree, child)
                return tuple(items)
            raw = val_of(tree, node)
            if raw is None:  # `key:` with nothing after it
                return None
            text = str(raw, "utf-8")
            return resolve_plain(text) if flags & plain else text

        root = tree.root_id()
        if tree.is_stream(root):
            if tree.num_children(root) > 1:
                raise RymlRefused("more than one YAML document")
            root = first_child(tree, root)
        if root == none or (not tree.has_val(root) and not tree.is_container(root)):
            return None, duplicates
        if tree.is_doc(root) and tree.has_val(root) and tree.val_is_null(root):
            return None, duplicates
        return build(root, node_type(tree, root), 0), duplicates

    def special_node(
        self, tree: Any, node: int, flags: int, anchors: dict[str, int]
    ) -> tuple[int, int]:
        """Checks tags, records anchors and follows an alias to its anchor."""
        if flags & self.tags:
            for has, get in ((tree.has_val_tag, tree.val_tag), (tree.has_key_tag, tree.key_tag)):
                if has(node):
                    tag = str(get(node), "utf-8")
                    if tag not in ("!!str", "!!seq", "!!map"):
                        raise RymlRefused(f"YAML tag {tag!r} is not supported")
            if tree.has_val_tag(node) and str(tree.val_tag(node), "utf-8") == "!!str":
                flags &= ~self.plain  # `!!str 010` is the string '010'
        if flags & self.key_ref:
            raise RymlRefused("an alias as a mapping key is not supported")
        if tree.has_val_anchor(node):
            anchors[str(tree.val_anchor(node), "utf-8")] = node
        if flags & self.val_ref:
            name = str(tree.val_ref(node), "utf-8")
            if name not in anchors:
                raise RymlRefused(f"unknown alias *{name}")
            target = anchors[name]
            return target, self.low.Tree_type(tree, target) & ~self.special
        return node, flags & ~self.special


# --- the candidates ---------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    key: str  # the row's name
    dist: str  # its PyPI distribution
    module: str
    language: str
    load: Callable[[Any], Loader]  # module -> loader of one file's text into values
    note: str = ""
    speed_only: bool = False  # a variant measured for speed, not probed
    positions: Callable[[Any], Callable[[str], tuple[int, int]]] | None = None
    positions_note: str = "none found in its API"
    source_text: Callable[[Any], Callable[[str], str]] | None = None
    source_note: str = "no: values only"
    syntax_error: Callable[[Any], Callable[[str], str]] | None = None
    gc_off: bool = False  # Python's cyclic garbage collector off while it parses


def _pyyaml_plain_loader(yaml: Any) -> Any:
    """extgen's composer: the C parser, plain scalars marked rather than resolved."""
    base: Any = yaml.CSafeLoader

    def resolve(self: Any, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return "tag:extgen,plain"
        return base.resolve(self, kind, value, implicit)

    return type("PlainLoader", (base,), {"resolve": resolve})


def _pyyaml_compose(yaml: Any) -> Loader:
    loader = _pyyaml_plain_loader(yaml)
    return lambda text: yaml.compose(text, Loader=loader)


def _pyyaml_positions(yaml: Any) -> Callable[[str], tuple[int, int]]:
    loader = _pyyaml_plain_loader(yaml)

    def find(text: str) -> tuple[int, int]:
        root = yaml.compose(text, Loader=loader)
        node = dict((k.value, v) for k, v in root.value)["b"]
        node = dict((k.value, v) for k, v in node.value)["c"]
        return node.start_mark.line + 1, node.start_mark.column + 1

    return find


def _pyyaml_source(yaml: Any) -> Callable[[str], str]:
    loader = _pyyaml_plain_loader(yaml)

    def source(text: str) -> str:
        root = yaml.compose(text, Loader=loader)
        return "; ".join(
            f"{k.value}: {v.value!r} {'plain' if not v.style else 'quoted'}" for k, v in root.value
        )

    return source


def _extgen_load(_: Any) -> Loader:
    yamlio = importlib.import_module("extgen.yamlio")

    def load(text: str) -> Any:
        document = yamlio.load_document(text, "catalog.yaml")
        if document.problems:
            raise ValueError("; ".join(problem.format() for problem in document.problems))
        return document.data

    return load


def _extgen_documents(_: Any) -> Loader:
    yamlio = importlib.import_module("extgen.yamlio")
    return lambda text: yamlio.load_document(text, "catalog.yaml")


def _ryml_tree(ryml: Any) -> Loader:
    return lambda text: ryml.parse_in_arena(text.encode("utf-8"))


def _ryml_walk(ryml: Any) -> Loader:
    return RymlWalker(ryml).load


def _ryml_source(ryml: Any) -> Callable[[str], str]:
    def source(text: str) -> str:
        tree = ryml.parse_in_arena(text.encode("utf-8"))
        parts = []
        for child in ryml.children(tree, tree.root_id()):
            style = "plain" if tree.is_val_plain(child) else "quoted"
            parts.append(f"{ryml.u(tree.key(child))}: {ryml.u(tree.val(child))!r} {style}")
        return "; ".join(parts)

    return source


def _ryml_syntax_error(ryml: Any) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            ryml.parse_in_arena(text.encode("utf-8"))
        except ryml.ExceptionParse as error:
            where = error.errdata_parse.ymlloc
            return f"line {where.line} column {where.col}: {error.msg}"
        return "no error"

    return parse


def _libfyaml_load(module: Any) -> Loader:
    return lambda text: module.loads(text).to_python()


def _libfyaml_syntax_error(module: Any) -> Callable[[str], str]:
    def parse(text: str) -> str:
        result = module.loads(text, collect_diag=True)
        if isinstance(result, list) and result and isinstance(result[0], dict):
            first = result[0]
            return f"line {first['line']} column {first['column']}: {first['message']}"
        return "no error"

    return parse


def _pyrs_source(module: Any) -> Callable[[str], str]:
    def source(text: str) -> str:
        values = module.safe_load(text, schema="failsafe")
        document = module.parse(text)
        return "; ".join(
            f"{key}: {value!r} {document._get_scalar_style([key])}" for key, value in values.items()
        )

    return source


CANDIDATES = (
    Candidate(
        "yaml.load CSafeLoader",
        "PyYAML",
        "yaml",
        "C (libyaml)",
        lambda yaml: lambda text: yaml.load(text, Loader=yaml.CSafeLoader),
        note="YAML 1.1; the baseline of benchmarks/run.py",
        positions_note="yes, through yaml.compose (see extgen load_document)",
        source_note="yes, through yaml.compose (see extgen load_document)",
    ),
    Candidate(
        "yaml.compose (extgen's composer)",
        "PyYAML",
        "yaml",
        "C (libyaml)",
        _pyyaml_compose,
        note="nodes only, no values, every file's nodes kept: the first half of extgen's load",
        speed_only=True,
    ),
    Candidate(
        "extgen load_document",
        "PyYAML",
        "yaml",
        "C (libyaml) + Python",
        _extgen_load,
        note="extgen.yamlio.load_document, what extgen does; the values kept",
        positions=_pyyaml_positions,
        positions_note="yes: every node's start_mark",
        source_text=_pyyaml_source,
        source_note="yes: node.value and style",
    ),
    Candidate(
        "extgen load_document, Documents kept",
        "PyYAML",
        "yaml",
        "C (libyaml) + Python",
        _extgen_documents,
        note="the Document of every file kept, as extgen.catalog does",
        speed_only=True,
    ),
    Candidate(
        "extgen load_document, Documents kept, GC off",
        "PyYAML",
        "yaml",
        "C (libyaml) + Python",
        _extgen_documents,
        note="the same with gc.disable() around the parse of the catalog",
        speed_only=True,
        gc_off=True,
    ),
    Candidate(
        "ryml tree only",
        "rapidyaml",
        "ryml",
        "C++",
        _ryml_tree,
        note="parse into the C++ tree, no Python values",
        speed_only=True,
    ),
    Candidate(
        "ryml + walker (extgen values)",
        "rapidyaml",
        "ryml",
        "C++ + Python",
        _ryml_walk,
        note="C++ tree walked from Python into exactly extgen's values (RymlWalker)",
        positions_note="no: the Python binding exposes no node locations (parse errors only)",
        source_text=_ryml_source,
        source_note="yes: tree.val() is the source text, is_val_plain() the style",
        syntax_error=_ryml_syntax_error,
    ),
    Candidate(
        "ryml + walker, GC off",
        "rapidyaml",
        "ryml",
        "C++ + Python",
        _ryml_walk,
        note="the same with gc.disable() around the parse of the catalog",
        speed_only=True,
        gc_off=True,
    ),
    Candidate(
        "yaml-rs",
        "yaml-rs",
        "yaml_rs",
        "Rust",
        lambda m: lambda text: m.loads(text, parse_datetime=False),
        note="parse_datetime=False (the default True converts timestamps)",
    ),
    Candidate("ryaml", "ryaml", "ryaml", "Rust", lambda m: m.loads),
    Candidate("pyyaml-rs", "pyyaml-rs", "pyyaml_rs", "Rust", lambda m: m.safe_load),
    Candidate("py-yaml12", "py-yaml12", "yaml12", "Rust", lambda m: m.parse_yaml),
    Candidate("fastyaml-rs", "fastyaml-rs", "fast_yaml", "Rust", lambda m: m.safe_load),
    Candidate("oryaml", "oryaml", "oryaml", "Rust", lambda m: m.loads),
    Candidate(
        "libfyaml",
        "libfyaml",
        "libfyaml",
        "C",
        _libfyaml_load,
        note="loads().to_python(); the lazy FyGeneric alone is faster",
        syntax_error=_libfyaml_syntax_error,
    ),
    Candidate("rs-turboyaml", "rs-turboyaml", "turboyaml", "Rust", lambda m: m.load),
    Candidate("rustyyaml", "rustyyaml", "rustyyaml", "Rust", lambda m: m.safe_load),
    Candidate(
        "pyrs-yaml",
        "pyrs-yaml",
        "pyrs_yaml",
        "Rust",
        lambda m: m.safe_load,
        source_text=_pyrs_source,
        source_note=(
            "partly: schema='failsafe' gives every scalar's text, the style only through"
            " the private per-path YamlDocument._get_scalar_style"
        ),
    ),
    Candidate("pyfastyaml", "pyfastyaml", "pyfastyaml", "C++", lambda m: m.loads),
)


@dataclass
class Available:
    candidate: Candidate
    module: Any
    version: str
    load: Loader


def available(candidates: tuple[Candidate, ...]) -> tuple[list[Available], list[str]]:
    found, missing = [], []
    for candidate in candidates:
        try:
            module = importlib.import_module(candidate.module)
            version = importlib.metadata.version(candidate.dist)
            load = candidate.load(module)
        except Exception as error:  # an optional library: absent or broken
            missing.append(f"{candidate.key} ({candidate.dist}): {type(error).__name__}")
            continue
        found.append(Available(candidate, module, version, load))
    return found, missing


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silences what C and C++ libraries print to file descriptor 2 themselves."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


# --- 1. speed -----------------------------------------------------------------------------


def catalog_texts(args: argparse.Namespace, scratch: Path) -> tuple[list[str], str]:
    if args.catalog:
        directory = Path(args.catalog)
        shape = f"catalog {directory}"
    else:
        sys.path.insert(0, str(HERE))
        generate = importlib.import_module("generate")
        directory = scratch / "catalog"
        generate.write_catalog(generate.Shape(args.deps, args.envs), directory)
        shape = f"generated catalog, N={args.deps:,} x E={args.envs} (benchmarks/generate.py)"
    paths = sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")])
    return [path.read_text(encoding="utf-8") for path in paths], shape


def plain_values(value: Any) -> Any:
    """Values to compare across libraries: lists for tuples, Plain/SourceScalar resolved."""
    if isinstance(value, dict):
        return {str(key): plain_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_values(item) for item in value]
    if hasattr(value, "text") and hasattr(value, "value"):
        return int(value.text, 10) if value.value is None else value.value
    return value


@dataclass
class SpeedRow:
    lib: Available
    seconds: list[float] = dataclasses.field(default_factory=list)
    error: str = ""
    same: str = ""


def measure_speed(libs: list[Available], texts: list[str], reps: int) -> list[SpeedRow]:
    """Round robin; only digests of the values are kept between runs, so that no run pays
    for the garbage collector walking another library's values."""
    rows = [SpeedRow(lib) for lib in libs]
    reference = _digest(plain_values([libs[0].load(text) for text in texts]))
    extgen_exact = ""
    for rep in range(reps):
        for row in rows:
            if row.error:
                continue
            gc.collect()
            if row.lib.candidate.gc_off:
                gc.disable()
            start = time.perf_counter()
            try:
                with quiet_stderr():
                    values = [row.lib.load(text) for text in texts]
            except Exception as error:
                row.error = f"{type(error).__name__}: {' '.join(str(error).split())[:80]}"
                continue
            finally:
                gc.enable()
            row.seconds.append(time.perf_counter() - start)
            if rep == 0 and not row.lib.candidate.speed_only:
                same = _digest(plain_values(values)) == reference
                row.same = "yes" if same else "**no**"
                if row.lib.candidate.key == "extgen load_document":
                    extgen_exact = _digest(_exact_form(values))
                if row.lib.candidate.key.startswith("ryml + walker") and extgen_exact:
                    exact = _digest(_exact_form(values)) == extgen_exact
                    row.same += "; equal to extgen's own values" if exact else "; **differs**"
            del values
            print(
                f"rep {rep + 1}/{reps} {row.lib.candidate.key:<34} {row.seconds[-1]:7.3f} s",
                file=sys.stderr,
                flush=True,
            )
    return rows


def _digest(value: Any) -> str:
    return hashlib.sha256(repr(value).encode("utf-8")).hexdigest()


def _exact_form(value: Any) -> Any:
    """Values with their types: tuples, extgen's SourceScalar/Plain as text and value."""
    if isinstance(value, dict):
        return {key: _exact_form(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_exact_form(item) for item in value]
    if isinstance(value, tuple):
        return ("tuple", *map(_exact_form, value))
    if hasattr(value, "text") and hasattr(value, "value"):
        return ("plain", value.text, repr(value.value))
    return (type(value).__name__, value)


def speed_table(rows: list[SpeedRow], size: int) -> str:
    medians = {row.lib.candidate.key: statistics.median(row.seconds) for row in rows if row.seconds}
    load = medians.get("yaml.load CSafeLoader")
    compose = medians.get("yaml.compose (extgen's composer)")
    lines = [
        "| library | version | language | median s | min-max s | MB/s | x yaml.load"
        " CSafeLoader | x extgen's compose | same values as yaml.load | notes |",
        "|---|---|---|--:|--:|--:|--:|--:|---|---|",
    ]
    for row in rows:
        c = row.lib.candidate
        if not row.seconds:
            lines.append(f"| {c.key} | {row.lib.version} | {c.language} | failed: {row.error} |")
            continue
        median = statistics.median(row.seconds)
        cells = [
            c.key,
            row.lib.version,
            c.language,
            f"{median:.3f}",
            f"{min(row.seconds):.3f}-{max(row.seconds):.3f}",
            f"{size / median / 1e6:.1f}",
            f"{median / load:.2f}" if load else "",
            f"{median / compose:.2f}" if compose else "",
            row.same or "(not values)",
            c.note,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- 2. YAML 1.2 semantics ----------------------------------------------------------------

SEMANTICS = (
    "yes",
    "no",
    "on",
    "off",
    "y",
    "True",
    "0o17",
    "010",
    "0755",
    "0x1F",
    ".inf",
    "-.inf",
    ".nan",
    "~",
    "null",
    "",
    "1_000",
    "1e3",
    "1.10",
    "12:30",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001:10:0:0:0:0:0:1",
)


def describe(value: Any) -> str:
    if isinstance(value, Plain):
        return f"{value.value!r} [{value.text}]" if value.value is not None else f"[{value.text}]"
    if hasattr(value, "text") and hasattr(value, "value"):
        return describe(Plain(value.text, value.value))
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return f"{type(value).__name__}"
    return f"{value!r}"


def semantics_table(libs: list[Available]) -> str:
    probed = [lib for lib in libs if not lib.candidate.speed_only]
    lines = [
        "| input | " + " | ".join(lib.candidate.key for lib in probed) + " |",
        "|---|" + "---|" * len(probed),
    ]
    for text in SEMANTICS:
        cells = []
        for lib in probed:
            try:
                with quiet_stderr():
                    data = lib.load(f"v: {text}\n")
                if isinstance(data, list) and len(data) == 1:
                    data = data[0]
                cells.append(describe(data["v"]) if isinstance(data, dict) else repr(data))
            except Exception as error:
                cells.append(f"error ({type(error).__name__})")
        lines.append(f"| `{text}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- 3. what extgen refuses or reports ----------------------------------------------------

SYNTAX_ERROR = "a: 1\nb:\n  c: 2\n d: 3\n"  # libyaml: line 4, column 2
POSITION_TEXT = "a: 1\nb:\n  c: 0755\n"  # the value of b.c is at line 3, column 6
SOURCE_TEXT = "u: 0755\nv: 1.10\nw: '1.10'\nx: 2001:10:0:0:0:0:0:1\n"
SMALL_CASES = {
    "duplicate key": ("a: 1\nb: 2\na: 3\n", "error naming line 3"),
    "tag !!python/object": ("a: !!python/object:os.system 1\n", "refused"),
    "tag !custom": ("a: !custom 1\n", "refused"),
    "merge key <<": ("a: &x {k: 1}\nb: {<<: *x, j: 2}\n", "refused"),
    "two documents": ("a: 1\n---\nb: 2\n", "refused"),
    "alias": ("a: &x [1, 2]\nb: *x\n", "[1, 2] twice"),
    "tab after the colon": ("a:\tvalue\n", "{'a': 'value'}, as libyaml reads it"),
}
LINE_COLUMN = re.compile(
    r"line[ =:]*(\d+)[^0-9]{0,12}col(?:umn)?[ =:]*(\d+)|\.yaml:(\d+):(\d+)", re.IGNORECASE
)


def message_position(message: str, last: bool = True) -> str:
    """The last (libyaml names the context first) or first line/column a message names."""
    found = LINE_COLUMN.findall(message)
    if not found:
        line_only = re.findall(r"line[ =:]*(\d+)", message)
        return f"line {line_only[-1]}, no column" if line_only else "no position"
    line, column, file_line, file_column = found[-1 if last else 0]
    return f"line {line or file_line} column {column or file_column}"


def bomb(levels: int, width: int = 9) -> str:
    lines = ['l0: &l0 "lol"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "bomb 9^6 (531,441 leaves)": bomb(6),
    "bomb 9^9 (387,420,489 leaves)": bomb(9),
    "nesting 100,000 [": "a: " + "[" * 100_000 + "]" * 100_000 + "\n",
}


def outcome(load: Loader, text: str, full: bool = False) -> str:
    try:
        with quiet_stderr():
            value = load(text)
    except Exception as error:
        message = " ".join(str(error).split())
        return f"error: {type(error).__name__}: {message if full else message[:90]}"
    return "accepted: " + " ".join(repr(plain_values(value)).split())[:70]


def small_case(load: Loader, name: str, text: str) -> str:
    result = outcome(load, text)
    if name == "duplicate key" and result.startswith("error"):
        result += f" [{message_position(outcome(load, text, full=True), last=False)}]"
    if name == "alias" and result.startswith("accepted"):
        with quiet_stderr():
            value = load(text)
        if isinstance(value, dict):
            shared = value["a"] is value["b"]
            result += " (one shared object)" if shared else " (copied)"
    return result


def syntax_error(lib: Available) -> str:
    if lib.candidate.syntax_error:
        with quiet_stderr():
            return lib.candidate.syntax_error(lib.module)(SYNTAX_ERROR)
    result = outcome(lib.load, SYNTAX_ERROR, full=True)
    return message_position(result) if result.startswith("error") else result


def run_probe(key: str, case: str) -> dict[str, Any]:
    """In a child process: the hostile input under a memory limit and a time limit."""
    command = [sys.executable, str(Path(__file__).resolve()), "--probe", key, case]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return {"result": f"still running after {PROBE_TIMEOUT:.0f} s (killed)"}
    seconds = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        found: dict[str, Any] = json.loads(lines[-1])
        found["seconds"] = seconds
        return found
    if done.returncode < 0:
        return {"result": f"**crashed** (signal {-done.returncode})", "seconds": seconds}
    tail = " ".join(done.stderr.split())[-120:]
    return {"result": f"**died** (exit {done.returncode}: {tail})", "seconds": seconds}


def probe_main(key: str, case: str) -> int:
    limit = (PROBE_MEMORY_LIMIT, PROBE_MEMORY_LIMIT)
    resource.setrlimit(resource.RLIMIT_AS, limit)
    # only this library imported, so that the peak is its own
    (lib,) = available(tuple(c for c in CANDIDATES if c.key == key))[0]
    try:
        with quiet_stderr():
            value = lib.load(HOSTILE[case])
        result = "**accepted**" + _sharing(value)
    except Exception as error:
        result = f"error: {type(error).__name__}: {' '.join(str(error).split())[:90]}"
    if "MemoryError" in result or "bad_alloc" in result or "memory" in result.lower():
        result = f"out of memory at the {PROBE_MEMORY_LIMIT // 1024**3} GiB limit: {result}"
    peak = _peak_mib()
    print(json.dumps({"result": result, "peak_mib": peak}))
    return 0


def _sharing(value: Any) -> str:
    """Whether the expanded alias is one shared object (a DAG) or copies, without walking."""
    if isinstance(value, dict):
        last = value.get(max(value, key=str))
        if isinstance(last, list | tuple) and len(last) > 1:
            return " (aliases are one shared object)" if last[0] is last[1] else " (copied)"
    return ""


def _peak_mib() -> float:
    """This process's own peak RSS: VmHWM, which starts anew at exec (ru_maxrss on Linux
    starts at the parent's peak, recorded when the address space was replaced)."""
    try:
        status = Path("/proc/self/status").read_text()
        found = re.search(r"VmHWM:\s+(\d+) kB", status)
        if found:
            return int(found.group(1)) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hostile_cell(found: dict[str, Any]) -> str:
    cell = str(found["result"])
    if "seconds" in found:
        cell += f"; {found['seconds']:.1f} s"
    if "peak_mib" in found:
        cell += f", peak {found['peak_mib']:.0f} MiB"
    return cell


def _small_check(name: str, text: str) -> Callable[[Available], str]:
    return lambda lib: small_case(lib.load, name, text)


def _hostile_check(case: str) -> Callable[[Available], str]:
    return lambda lib: hostile_cell(run_probe(lib.candidate.key, case))


def refusals_table(libs: list[Available], hostile: bool) -> str:
    probed = [lib for lib in libs if not lib.candidate.speed_only]
    rows: list[tuple[str, Callable[[Available], str]]] = [
        (f"{name} (extgen: {want})", _small_check(name, text))
        for name, (text, want) in SMALL_CASES.items()
    ]
    if hostile:
        limit = PROBE_MEMORY_LIMIT // 1024**3
        rows += [
            (f"{case} (child process, {limit} GiB limit)", _hostile_check(case)) for case in HOSTILE
        ]
    rows += [
        ("syntax error position (libyaml: line 4 column 2)", syntax_error),
        ("node positions of values", _positions),
        ("source text of plain scalars", _source),
    ]
    lines = ["| case | what it does |", "|---|---|"]
    blocks = []
    for lib in probed:
        print(f"probing {lib.candidate.key}", file=sys.stderr, flush=True)
        block = [f"**{lib.candidate.key}** {lib.version} ({lib.candidate.language})", "", *lines]
        for label, check in rows:
            block.append(f"| {label} | {_cell(check(lib))} |")
        blocks.append("\n".join(block))
    return "\n\n".join(blocks)


def _positions(lib: Available) -> str:
    if lib.candidate.positions is None:
        return lib.candidate.positions_note
    line, column = lib.candidate.positions(lib.module)(POSITION_TEXT)
    return f"{lib.candidate.positions_note} (b.c at line {line} column {column}; expected 3:6)"


def _source(lib: Available) -> str:
    if lib.candidate.source_text is None:
        return lib.candidate.source_note
    with quiet_stderr():
        found = lib.candidate.source_text(lib.module)(SOURCE_TEXT)
    return f"{lib.candidate.source_note}: {found}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --- 4. PyPI ------------------------------------------------------------------------------


def pypi(dist: str) -> dict[str, Any]:
    url = f"https://pypi.org/pypi/{dist}/json"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        data: dict[str, Any] = json.load(response)
    return data


def wheel_support(files: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Platform column -> CPython versions (of PY_VERSIONS) with a wheel."""
    found: dict[str, set[str]] = {label: set() for label, _, _ in PLATFORMS}
    for file in files:
        name = file["filename"]
        if not name.endswith(".whl"):
            continue
        python, abi, plat = name[:-4].split("-")[-3:]
        for label, system, arches in PLATFORMS:
            if not _platform_matches(plat, system, arches):
                continue
            for version in PY_VERSIONS:
                if _python_matches(python, abi, version):
                    found[label].add(version)
    return found


def _platform_matches(plat: str, system: str, arches: tuple[str, ...]) -> bool:
    for tag in plat.split("."):
        if tag == "any":
            return True
        kind = (
            "linux"
            if tag.startswith(("manylinux", "musllinux", "linux"))
            else "macos"
            if tag.startswith("macosx")
            else "windows"
            if tag.startswith("win")
            else ""
        )
        if kind == system and any(tag.endswith(arch) for arch in arches):
            return True
    return False


def _python_matches(python: str, abi: str, version: str) -> bool:
    wanted = "cp" + version.replace(".", "")
    for tag in python.split("."):
        if tag in ("py3", "py2.py3") and abi == "none":
            return True
        if tag == wanted and abi in (wanted, "none", "abi3"):
            return True
        if abi == "abi3" and tag.startswith("cp3") and int(tag[3:]) <= int(wanted[3:]):
            return True
    return False


def licence(info: dict[str, Any]) -> str:
    expression = info.get("license_expression")
    if expression:
        return str(expression)
    text = (info.get("license") or "").strip()
    if text and len(text) < 40:
        return text
    classifiers = [c.split(" :: ")[-1] for c in info.get("classifiers", []) if "License" in c]
    return ", ".join(classifiers) or (text[:37] + "..." if text else "not stated")


def pypi_table(dists: list[str]) -> str:
    lines = [
        "| PyPI | latest | released | releases (first) | licence | requires-python | "
        + " | ".join(label for label, _, _ in PLATFORMS)
        + " | sdist |",
        "|---|---|---|---|---|---|" + "---|" * len(PLATFORMS) + "---|",
    ]
    for dist in dists:
        try:
            data = pypi(dist)
        except Exception as error:
            lines.append(f"| {dist} | not found on PyPI ({type(error).__name__}) |")
            continue
        info, files = data["info"], data["urls"]
        uploads = sorted(
            file["upload_time"][:10] for release in data["releases"].values() for file in release
        )
        latest = min((file["upload_time"][:10] for file in files), default="?")
        support = wheel_support(files)
        cells = [
            dist,
            info["version"],
            latest,
            f"{sum(1 for r in data['releases'].values() if r)} ({uploads[0] if uploads else '?'})",
            licence(info),
            info.get("requires_python") or "",
            *(_versions(support[label]) for label, _, _ in PLATFORMS),
            "yes" if any(file["packagetype"] == "sdist" for file in files) else "no",
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def _versions(found: set[str]) -> str:
    if not found:
        return "-"
    if len(found) == len(PY_VERSIONS):
        return "3.11-3.13"
    return ", ".join(sorted(found))


def extgen_source() -> str:
    """The extgen measured by the extgen rows: commit and a hash of its source (run.py)."""
    try:
        sys.path.insert(0, str(HERE))
        state: str = importlib.import_module("run").source_state()
    except Exception as error:  # run.py needs PyYAML, as this script does
        return f"unknown ({type(error).__name__})"
    return state


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", help="a catalog directory to parse (else one is generated)")
    parser.add_argument("--deps", type=int, default=10_000, help="generated: dependencies")
    parser.add_argument("--envs", type=int, default=4, help="generated: environments")
    parser.add_argument("--reps", type=int, default=5, help="speed repetitions (default 5)")
    parser.add_argument("--pypi", action="store_true", help="also ask PyPI about each library")
    parser.add_argument("--no-hostile", action="store_true", help="skip the child processes")
    parser.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # extgen itself, for the extgen load_document row
    if args.probe:
        return probe_main(*args.probe)
    libs, missing = available(CANDIDATES)
    if not libs or libs[0].candidate.key != "yaml.load CSafeLoader":
        print("PyYAML with libyaml (CSafeLoader) is needed as the reference", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="yaml-parsers-") as scratch:
        texts, shape = catalog_texts(args, Path(scratch))
    size = sum(len(text.encode("utf-8")) for text in texts)
    load = os.getloadavg()[0]
    rows = measure_speed(libs, texts, args.reps)
    load_after = os.getloadavg()[0]
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"## YAML parsers ({today})\n")
    print(
        f"- {shape}: {len(texts)} files, {size:,} bytes; {args.reps} round-robin repetitions"
        " in one process, parse only (files read beforehand)"
    )
    print(
        f"- machine: {os.cpu_count()} cores, Python {platform.python_version()}"
        f" ({sys.executable}); load average (1 min) {load:.2f} before the speed runs,"
        f" {load_after:.2f} after (a shared machine)"
    )
    print(f"- extgen (for its rows): {extgen_source()}")
    if missing:
        print(f"- not importable here: {'; '.join(missing)}")
    print("\n### Speed\n\n" + speed_table(rows, size))
    print("\n### YAML 1.2 semantics (`v: INPUT`; [text] = extgen's source text kept)\n")
    print(semantics_table(libs))
    print("\n### What extgen refuses or reports\n")
    print(refusals_table(libs, not args.no_hostile))
    if args.pypi:
        dists = list(dict.fromkeys(lib.candidate.dist for lib in libs))
        dists += [c.dist for c in CANDIDATES if c.dist not in dists]
        print("\n### PyPI (wheels of the latest release per platform and CPython)\n")
        print(pypi_table(list(dict.fromkeys(dists))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
