"""pydantic's errors placed at YAML nodes and said in the catalog's words, with "did you
mean" for an unknown key (the keys a model accepts at a given place)."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Tag

from extgen.errors import Problem
from extgen.yamlio import Document, NodePath, SourceScalar


def allowed_keys(model: type[BaseModel], loc: NodePath) -> list[str]:
    """The YAML keys of the model found by following a pydantic error location."""
    found = _unwrap(_walk(model, loc)[1], None)[0]
    if isinstance(found, type) and issubclass(found, BaseModel):
        return [info.alias or name for name, info in found.model_fields.items()]
    return []


def strip_tags(model: type[BaseModel], loc: NodePath) -> NodePath:
    """The location without the union tags pydantic adds, i.e. only keys and indexes."""
    return _walk(model, loc)[0]


def _walk(model: type[BaseModel], loc: NodePath) -> tuple[NodePath, Any]:
    """Follows `loc` through the model's annotations.

    Returns the location without union tags, and the annotation it ends on (None once the
    location leaves what the annotations describe).
    """
    kept: list[Any] = []
    annotation: Any = model
    for element in loc:
        if annotation is not None:
            annotation, tagged = _unwrap(annotation, element)
            if tagged:
                continue
            annotation = _step(annotation, element)
        kept.append(element)
    return tuple(kept), annotation


def _unwrap(annotation: Any, element: Any) -> tuple[Any, bool]:
    """Strips Annotated and Optional; picks the union member that a tag in the path names.

    Returns the annotation and whether `element` was that tag (and so is used up).
    """
    tagged = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            member = _tagged(members, element)
            tagged = tagged or member is not None
            annotation = member or members[0]
        else:
            return annotation, tagged


def _tagged(members: list[Any], element: Any) -> Any:
    for member in members:
        if typing.get_origin(member) is typing.Annotated:
            tags = [m.tag for m in member.__metadata__ if isinstance(m, Tag)]
            if element in tags:
                return member
    return None


def _step(annotation: Any, element: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if element in (name, info.alias):
                return info.annotation
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is tuple and isinstance(element, int):
        return args[0]
    if origin in (dict, Mapping) and isinstance(element, str):
        return args[1]
    return None


def suggest(word: str, candidates: Iterable[str], *, listing: str = "") -> str:
    candidates = list(candidates)
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if listing and candidates:
        return f" ({listing}: {', '.join(candidates)})"
    return ""


def pydantic_problems(
    model: type[BaseModel], details: list[Any], document: Document, prefix: NodePath
) -> list[Problem]:
    """Each error at its node; a missing key is left unsaid when an unknown key next to it
    is reported as its misspelling ("did you mean")."""
    meant = set()
    for detail in details:
        if detail["type"] == "extra_forbidden":
            loc = tuple(detail["loc"])
            close = _close_key(model, loc)
            if close is not None:
                meant.add((*strip_tags(model, loc[:-1]), close))
    return [
        _problem(model, detail, document, prefix)
        for detail in details
        if detail["type"] != "missing" or strip_tags(model, tuple(detail["loc"])) not in meant
    ]


def _close_key(model: type[BaseModel], loc: NodePath) -> str | None:
    # The location with its union tags picks the form of a target (addresses, selector).
    close = difflib.get_close_matches(str(loc[-1]), allowed_keys(model, loc[:-1]), n=1, cutoff=0.6)
    return close[0] if close else None


def _problem(model: type[BaseModel], detail: Any, document: Document, prefix: NodePath) -> Problem:
    raw: NodePath = tuple(detail["loc"])
    loc: NodePath = strip_tags(model, raw)
    kind = detail["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = suggest(key, allowed_keys(model, raw[:-1]), listing="expected one of")
        message = f"unknown key {key!r}{hint}"
        return Problem(document.position((*prefix, *loc), key=True), message)
    if kind == "missing":
        return Problem(document.position((*prefix, *loc[:-1])), f"missing key {loc[-1]!r}")
    on_key = bool(loc) and loc[-1] == "[key]"
    if on_key:
        loc = loc[:-1]
    position = document.position((*prefix, *loc), key=on_key)
    return Problem(position, _message(kind, detail))


def _message(kind: str, detail: Any) -> str:
    got = _describe(detail.get("input"))
    expected = _EXPECTED.get(kind)
    if expected:
        return f"expected {expected}, got {got}"
    if kind == "literal_error":
        return f"expected {detail['ctx']['expected']}, got {got.removeprefix('the string ')}"
    return str(detail["msg"])


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "tuple_type": "a list",
    "union_tag_not_found": "a hostname, an IP address, a list of IPs or a mapping",
    "union_tag_invalid": "a hostname, an IP address, a list of IPs or a mapping",
}


def _describe(value: Any) -> str:
    if isinstance(value, SourceScalar):
        return repr(value.text)
    if value is None:
        return "null"
    if isinstance(value, str):
        # Said in full: "got '80'" would read as if the number 80 had been refused.
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, tuple):
        return "a list"
    return repr(value)
