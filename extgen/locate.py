"""Which keys a model accepts at a given place, for "did you mean" on an unknown key."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Tag

from extgen.yamlio import NodePath


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
