"""The only module that imports yaml: safe loading with positions, and parsing output back.

Catalog files are composed into nodes by PyYAML's C parser when it is available, then
turned into Python values here rather than by PyYAML's constructor, so that:

- plain scalars follow the YAML 1.2 core schema that kustomize, Argo CD and Flux use
  (`on`, `yes`, `12:30` stay strings), and a plain scalar that is not a string keeps its
  source text (`SourceScalar`), so a field that expects a string gets exactly what was
  written, never a converted number;
- duplicate keys, tags other than the standard ones, deep nesting and alias bombs are
  refused with the position of the node at fault;
- sequences become tuples, so the models built from them are immutable.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from sys import intern
from typing import Any

import yaml

from extgen.errors import Position, Problem

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
# Aliases may repeat a node, but the values built from one file may not grow past its
# size by more than this: a "billion laughs" document stops after a few thousand nodes.
ALIAS_SLACK_NODES = 10_000

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PLAIN_TAG = "tag:extgen,plain"
STR_TAG = "tag:yaml.org,2002:str"
SEQ_TAG = "tag:yaml.org,2002:seq"
MAP_TAG = "tag:yaml.org,2002:map"

_NULL = re.compile(r"~|null|Null|NULL|")
_TRUE = re.compile(r"true|True|TRUE")
_FALSE = re.compile(r"false|False|FALSE")
_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+")
# Any of the above: most plain scalars are names and hostnames, and one match rules
# them all out at once.
_SPECIAL = re.compile(
    "|".join(
        f"(?:{p.pattern})"
        for p in (_NULL, _TRUE, _FALSE, _INT10, _INT8, _INT16, _FLOAT, _INF, _NAN)
    )
)


@dataclass(frozen=True)
class SourceScalar:
    """A plain scalar that YAML 1.2 reads as a number or boolean, with its source text.

    `value` is None when the text is ambiguous between YAML versions (`0755` is octal in
    YAML 1.1 and decimal in YAML 1.2), so a field that needs a number refuses it.
    """

    text: str
    value: int | float | bool | None


class _Loader(_BaseLoader):  # type: ignore[misc]
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        # Mark plain scalars instead of letting YAML 1.1 resolution guess their type;
        # `_resolve_plain` applies the YAML 1.2 core schema to them.
        if kind is yaml.ScalarNode and implicit[0]:
            return PLAIN_TAG
        return super().resolve(kind, value, implicit)


class YamlError(Exception):
    """A file that is not acceptable YAML; carries the problem at its position."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.format())
        self.problem = problem


def _position(file: str, node_or_mark: Any) -> Position:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    return Position(file, mark.line + 1, mark.column + 1)


def _resolve_plain(text: str) -> Any:
    if not _SPECIAL.fullmatch(text):
        return text
    if _NULL.fullmatch(text):
        return None
    if _TRUE.fullmatch(text) or _FALSE.fullmatch(text):
        return SourceScalar(text, text[0] in "tT")
    if _LEADING_ZERO.fullmatch(text):
        return SourceScalar(text, None)
    if _INT10.fullmatch(text):
        return SourceScalar(text, int(text))
    if _INT8.fullmatch(text):
        return SourceScalar(text, int(text[2:], 8))
    if _INT16.fullmatch(text):
        return SourceScalar(text, int(text[2:], 16))
    if _FLOAT.fullmatch(text):
        return SourceScalar(text, float(text))
    if _INF.fullmatch(text):
        return SourceScalar(text, -math.inf if text[0] == "-" else math.inf)
    if _NAN.fullmatch(text):
        return SourceScalar(text, math.nan)
    return text


class _Builder:
    """Turns composed nodes into values, counting nodes to bound alias expansion.

    A duplicate key is recorded and passed over (the first value stands), so that the
    rest of the file is still checked. Anything that would make the values built here
    differ from what was meant (tags, merge keys, alias bombs, deep nesting) stops the
    file at once, rather than cascade into misleading errors.
    """

    def __init__(self, file: str, budget: int) -> None:
        self.file = file
        self.budget = budget
        self.problems: list[Problem] = []

    def fail(self, node: Any, message: str) -> YamlError:
        return YamlError(Problem(_position(self.file, node), message))

    def note(self, node: Any, message: str) -> None:
        self.problems.append(Problem(_position(self.file, node), message))

    def build(self, node: Any, depth: int = 0) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise self.fail(node, "YAML aliases expand to too many values (an alias bomb?)")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"YAML nesting is deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            self.check_tag(node, SEQ_TAG)
            return tuple(self.build(item, depth + 1) for item in node.value)
        self.check_tag(node, MAP_TAG)
        return self.mapping(node, depth)

    def check_tag(self, node: Any, tag: str) -> None:
        if node.tag != tag:
            raise self.fail(node, f"YAML tag {node.tag!r} is not supported; remove it")

    def scalar(self, node: Any) -> Any:
        if node.tag == PLAIN_TAG:
            return _resolve_plain(node.value)
        self.check_tag(node, STR_TAG)
        return node.value

    def mapping(self, node: Any, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node)
            if key in seen:
                first = _position(self.file, seen[key])
                self.note(key_node, f"duplicate key {key!r} (first defined at {first})")
                continue
            seen[key] = key_node
            result[key] = self.build(value_node, depth + 1)
        return result

    def key(self, node: Any) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, "a mapping key must be a plain string")
        if node.tag == PLAIN_TAG and node.value == "<<":
            raise self.fail(node, "YAML merge keys ('<<') are not supported; repeat the values")
        if node.tag != PLAIN_TAG:
            self.check_tag(node, STR_TAG)
        return str(node.value)


class _Unusual(Exception):
    """The file has something only the composer handles (and reports where it is)."""


def _values_from_events(text: str) -> Any:
    """The values of an ordinary file, built straight from libyaml's events.

    Composing nodes calls back into Python for every scalar (to resolve its tag), which
    costs more than the whole parse; most catalog files need no nodes at all. Anything
    beyond plain mappings, sequences and scalars (anchors, aliases, tags, merge keys,
    duplicate keys, deep nesting, several documents) raises _Unusual, and the file is
    composed and built by `_Builder`, which says where the problem is. Both read the same
    libyaml events, and give the same values (tests/test_yamlio.py compares them).
    """
    documents = _documents_from_events(text, _resolve_plain, tuple, single=True)
    return documents[0] if documents else None


def _documents_from_events(
    text: str,
    plain: Callable[[str], Any],
    sequence: Callable[[list[Any]], Any],
    *,
    single: bool = False,
) -> list[Any]:
    # A stack of the collections being built: a sequence's items are a list until its
    # end; a mapping is [dict, key] with key None while a key is awaited.
    stack: list[Any] = []
    kinds: list[bool] = []  # per level: True for a mapping
    documents: list[Any] = []
    started = 0
    events: Iterable[Any] = yaml.parse(text, Loader=_Loader)
    for event in events:
        kind = type(event)
        if kind is yaml.ScalarEvent:
            if event.anchor is not None or event.tag is not None:
                raise _Unusual
            value: Any = plain(event.value) if event.implicit[0] else event.value
            if kinds and kinds[-1] and stack[-1][1] is None:  # a key
                key = intern(event.value)  # kept once: keys repeat from item to item
                if key in stack[-1][0] or (key == "<<" and event.implicit[0]):
                    raise _Unusual
                stack[-1][1] = key
                continue
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if event.anchor is not None or event.tag is not None or len(stack) >= MAX_DEPTH:
                raise _Unusual
            if kinds and kinds[-1] and stack[-1][1] is None:
                raise _Unusual  # a collection as a key
            mapping = kind is yaml.MappingStartEvent
            stack.append([{}, None] if mapping else [])
            kinds.append(mapping)
            continue
        elif kind is yaml.MappingEndEvent:
            value = stack.pop()[0]
            kinds.pop()
        elif kind is yaml.SequenceEndEvent:
            value = sequence(stack.pop())
            kinds.pop()
        elif kind is yaml.DocumentStartEvent:
            started += 1
            if single and started > 1:
                raise _Unusual
            documents.append(None)
            continue
        elif kind is yaml.AliasEvent:
            raise _Unusual
        else:  # stream start and end, document end
            continue
        if not stack:
            documents[-1] = value
        elif kinds[-1]:
            mapping_level = stack[-1]
            mapping_level[0][mapping_level[1]] = value
            mapping_level[1] = None
        else:
            stack[-1].append(value)
    return documents


PathElement = str | int
NodePath = tuple[PathElement, ...]


class Document:
    """One catalog file: its display name, its text and the values built from it.

    Its nodes, which only positions need, are composed when a position is asked for.
    """

    def __init__(
        self, file: str, text: str, data: Any, problems: tuple[Problem, ...] = (), root: Any = None
    ) -> None:
        self.file = file
        self.text = text
        self.data = data
        self.problems = problems
        self._root = root
        self._empty = data is None

    def drop_values(self) -> None:
        """Lets the values go once they are read: positions come from the text."""
        self.data = None

    @property
    def root(self) -> Any:
        if self._root is None and not self._empty:
            self._root = yaml.compose(self.text, Loader=_Loader)
        return self._root

    def position(self, path: Sequence[PathElement], *, key: bool = False) -> Position:
        """The position of the node at `path`, or of its key when `key` is set.

        Elements that do not name a node (a model's own step in a path, such as the
        normalised form of a short target) are passed over, so a path always lands on the
        nearest node written in the file.
        """
        node, key_node = self.root, None
        for element in path:
            found = _child(node, element)
            if found is not None:
                key_node, node = found
        if node is None:
            return Position(self.file, 1, 1)
        if key and key_node is not None:
            return _position(self.file, key_node)
        return _position(self.file, node)


def _child(node: Any, element: PathElement) -> tuple[Any, Any] | None:
    if isinstance(node, yaml.MappingNode) and isinstance(element, str):
        for key_node, value_node in node.value:
            if key_node.value == element:
                return key_node, value_node
    is_index = isinstance(node, yaml.SequenceNode) and isinstance(element, int)
    if is_index and 0 <= int(element) < len(node.value):
        return None, node.value[int(element)]
    return None


_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _offset_position(file: str, text: str, offset: int) -> Position:
    """The position of libyaml's byte offset, with lines broken as libyaml breaks them."""
    before = text.encode("utf-8", "surrogatepass")[:offset].decode("utf-8", "ignore")
    breaks = list(_BREAK.finditer(before))
    column = len(before) - (breaks[-1].end() if breaks else 0) + 1
    return Position(file, len(breaks) + 1, column)


# libyaml's composer recurses once per nesting level and overflows the C stack somewhere
# between 50,000 and 100,000 levels, killing the process; deeper input is refused first.
SAFE_COMPOSE_DEPTH = 20_000


def _refuse_deep_nesting(text: str, file: str) -> None:
    """Refuses nesting deeper than MAX_DEPTH before libyaml composes (and recurses).

    A cheap bound comes first: a block level needs at least two more columns than its
    parent, and a flow level its own bracket. Only text whose bound is high (a huge
    flow-style file, say) pays for an exact count over the event stream.
    """
    longest = max((len(line) for line in text.splitlines()), default=0)
    bound = 2 * longest + text.count("[") + text.count("{") + 2
    if bound <= SAFE_COMPOSE_DEPTH:
        return
    _count_nesting(text, file, _Loader)  # libyaml's own limit: see load_document


def _count_nesting(text: str, file: str, loader: Any) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                where = _position(file, event.start_mark)
                raise YamlError(Problem(where, f"YAML nesting is deeper than {MAX_DEPTH} levels"))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _refuse_libyaml_nesting(error: yaml.MarkedYAMLError, text: str, file: str) -> None:
    """Reports libyaml's own nesting limit (1,000 levels since libyaml 0.2.6) as extgen's.

    libyaml's scanner looks up to 1,024 characters ahead, so it can stop at its limit
    before the level past MAX_DEPTH reaches extgen as an event. PyYAML's pure-Python
    parser has no such limit and stops at that level after a few dozen events.
    """
    if "maximum nesting depth" in (error.problem or ""):
        _count_nesting(text, file, yaml.SafeLoader)


_LIST_ITEM = re.compile(r"( *)- ")


def _explained(text: str, where: Position) -> Problem | None:
    """The two syntax errors a newcomer makes most, said in their words: a tab in the
    indentation, and a list item out of line with the items before it.

    PyYAML's wording for them ("found character that cannot start any token", "did not
    find expected key") names neither.
    """
    lines = _BREAK.split(text)
    if not 1 <= where.line <= len(lines):
        return None
    line = lines[where.line - 1]
    indentation = line[: len(line) - len(line.lstrip(" \t"))]
    if "\t" in indentation:
        at = Position(where.file, where.line, indentation.index("\t") + 1)
        return Problem(
            at,
            "invalid YAML: a tab in the indentation: YAML indents with spaces only; replace"
            " the tab with spaces",
        )
    item = _LIST_ITEM.match(line)
    if item is None:
        return None
    column = len(item[1]) + 1
    for number in range(where.line - 1, 0, -1):
        before = _LIST_ITEM.match(lines[number - 1])
        if before is None:
            continue
        if len(before[1]) + 1 == column:
            return None  # in line with the item before: the error is another one
        return Problem(
            Position(where.file, where.line, column),
            f"invalid YAML: this list item ('-' in column {column}) is out of line with the"
            f" one on line {number} (column {len(before[1]) + 1}): indent the items of a"
            " list alike",
        )
    return None


def load_document(text: str, file: str) -> Document:
    """Parse one file's text.

    Problems that leave the rest of the file readable are in `Document.problems`; the
    others raise YamlError.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        problem = Problem(
            Position(file, 1, 1),
            f"file is {size} bytes; catalog files are limited to {MAX_FILE_BYTES} bytes",
        )
        raise YamlError(problem)
    try:
        _refuse_deep_nesting(text, file)
        with contextlib.suppress(_Unusual, yaml.YAMLError):
            return Document(file, text, _values_from_events(text))
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        _refuse_libyaml_nesting(error, text, file)
        mark = error.problem_mark or error.context_mark
        where = _position(file, mark) if mark else Position(file, 1, 1)
        what = " ".join(part for part in (error.context, error.problem) if part)
        problem = _explained(text, where) or Problem(where, f"invalid YAML: {what}")
        raise YamlError(problem) from None
    except yaml.reader.ReaderError as error:
        where = _offset_position(file, text, error.position)
        what = f"unacceptable character #x{error.character:04x}: {error.reason}"
        raise YamlError(Problem(where, f"invalid YAML: {what}")) from None
    except yaml.YAMLError as error:
        message = " ".join(str(error).split())
        raise YamlError(Problem(Position(file, 1, 1), f"invalid YAML: {message}")) from None
    if root is None:
        return Document(file, text, None)
    builder = _Builder(file, size + ALIAS_SLACK_NODES)
    data = builder.build(root)
    return Document(file, text, data, tuple(builder.problems), root)


def parse_all(text: str) -> list[Any]:
    """Parse generated output back (all documents), with the same safe loader."""
    loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return list(yaml.load_all(text, Loader=loader))


def parse_all_core(text: str, file: str = "<stream>") -> list[Any]:
    """Parse YAML a YAML 1.2 tool wrote (kustomize's output) into plain values.

    Plain scalars follow the YAML 1.2 core schema, as kustomize means them (`12:30` and
    `on` stay strings where `parse_all` would read a number and a boolean); sequences are
    lists. Raises YamlError or yaml.YAMLError on input that is not acceptable YAML.
    """

    def plain(value: Any) -> Any:
        if isinstance(value, SourceScalar):  # None: a leading zero, decimal in YAML 1.2
            return int(value.text, 10) if value.value is None else value.value
        if isinstance(value, tuple):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    with contextlib.suppress(_Unusual):
        return _documents_from_events(text, core_value, list)
    builder = _Builder(file, len(text) + ALIAS_SLACK_NODES)
    return [plain(builder.build(root)) for root in yaml.compose_all(text, Loader=_Loader)]


def core_value(text: str) -> Any:
    """A plain scalar's value in the YAML 1.2 core schema, as a plain Python value."""
    value = _resolve_plain(text)
    if isinstance(value, SourceScalar):  # None: a leading zero, decimal in YAML 1.2
        return int(value.text, 10) if value.value is None else value.value
    return value


_YAML11: Any = yaml.resolver.Resolver()


def other_type(text: str) -> str | None:
    """What YAML readers take `text` for, written plain, when not a string.

    That is YAML 1.2's reading, and the numbers and dates that Go's YAML library (in
    kustomize) still reads as YAML 1.1 did (`0x1F`, `1_000`, `2001-12-14`). kustomize
    stumbles on such strings in some places (annotation keys), whatever the quotes.
    """
    value = _resolve_plain(text)
    if isinstance(value, SourceScalar) or value is None:
        return "null" if value is None else _type_name(value.value)
    tag = str(_YAML11.resolve(yaml.ScalarNode, text, (True, False))).rsplit(":", 1)[-1]
    if tag in ("int", "float", "timestamp"):
        return "a date" if tag == "timestamp" else f"a number ({tag})"
    return None


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return "a number (float)" if isinstance(value, float) else "a number (int)"


def parse_generated(text: str, plain: Callable[[str], Any]) -> list[Any]:
    """The documents of a file extgen rendered, from libyaml's events.

    `plain` gives the value of each plain scalar, and raises ValueError for one it does
    not accept. Anything but mappings, sequences and scalars (tags, anchors, aliases,
    duplicate keys) raises ValueError: extgen's templates write none of them.
    """
    try:
        return [doc for doc in _documents_from_events(text, plain, list) if doc is not None]
    except _Unusual:
        raise ValueError("tags, anchors, aliases or duplicate keys") from None


class _StreamDocument(Document):
    """One document of a multi-document stream; its nodes are composed with the others'
    when a position is first asked for."""

    def __init__(self, file: str, stream: _Stream, index: int, data: Any) -> None:
        super().__init__(file, stream.text, data)
        self._stream = stream
        self._index = index

    @property
    def root(self) -> Any:
        return self._stream.root(self._index)


class _Stream:
    def __init__(self, text: str) -> None:
        self.text = text
        self._roots: list[Any] | None = None

    def root(self, index: int) -> Any:
        if self._roots is None:
            self._roots = list(yaml.compose_all(self.text, Loader=_Loader))
        return self._roots[index]


def load_stream(text: str, file: str, max_bytes: int) -> list[Document]:
    """Parse a multi-document stream (Kubernetes manifests, `kubectl get -o yaml`).

    Values follow the YAML 1.2 core schema as in `load_document`; empty documents are
    None. Raises YamlError for a stream that is not acceptable YAML, or that has
    duplicate keys, tags, anchors or merge keys (which Kubernetes manifests do not need).
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        message = f"file is {size} bytes; extgen import reads files of up to {max_bytes} bytes"
        raise YamlError(Problem(Position(file, 1, 1), message))
    stream = _Stream(text)
    try:
        _refuse_deep_nesting(text, file)
        try:
            values = _documents_from_events(text, _resolve_plain, tuple)
        except _Unusual:
            values = _built_documents(stream, file, size)
    except yaml.MarkedYAMLError as error:
        _refuse_libyaml_nesting(error, text, file)
        mark = error.problem_mark or error.context_mark
        where = _position(file, mark) if mark else Position(file, 1, 1)
        what = " ".join(part for part in (error.context, error.problem) if part)
        raise YamlError(Problem(where, f"invalid YAML: {what}")) from None
    except yaml.reader.ReaderError as error:
        where = _offset_position(file, text, error.position)
        what = f"unacceptable character #x{error.character:04x}: {error.reason}"
        raise YamlError(Problem(where, f"invalid YAML: {what}")) from None
    return [_StreamDocument(file, stream, index, data) for index, data in enumerate(values)]


def _built_documents(stream: _Stream, file: str, size: int) -> list[Any]:
    """The documents' values through `_Builder`, which says where the unusual part is."""
    builder = _Builder(file, size + ALIAS_SLACK_NODES)
    values = [builder.build(node) for node in yaml.compose_all(stream.text, Loader=_Loader)]
    if builder.problems:
        raise YamlError(builder.problems[0])
    return values


def node_paths(text: str) -> dict[tuple[int, int], NodePath]:
    """The path of every node of a one-document file, by its 1-based (line, column); a
    key's position gives the path of its value, also where a block mapping starts there."""
    paths: dict[tuple[int, int], NodePath] = {}

    def walk(node: Any, path: NodePath) -> None:
        mark = node.start_mark
        paths.setdefault((mark.line + 1, mark.column + 1), path)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key_mark = key_node.start_mark
                paths[(key_mark.line + 1, key_mark.column + 1)] = (*path, key_node.value)
                walk(value_node, (*path, key_node.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    root = yaml.compose(text, Loader=_Loader)
    if root is not None:
        walk(root, ())
    return paths
