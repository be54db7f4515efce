"""Custom resources checked against their upstream CustomResourceDefinition schemas.

The schemas (one per served version, in `extgen/crds/`, listed with their source in
`extgen/crds/index.json`) are the `openAPIV3Schema` of the upstream CRDs at a released tag,
descriptions stripped. They are read as the API server reads a structural schema, and
closed: an object whose schema gives `properties` refuses any other field unless
`additionalProperties` or `x-kubernetes-preserve-unknown-fields` says otherwise (the API
server would prune such a field silently, which is a bug in what extgen generates).

Checked: types (with `nullable`, `x-kubernetes-int-or-string`,
`x-kubernetes-embedded-resource`), `required`, `enum`, `pattern`, length, item, property
and number bounds, `allOf` / `anyOf` / `oneOf` / `not`. Not checked: `format`,
`x-kubernetes-validations` (CEL rules), list-type uniqueness, and `metadata`, which the
API server validates as ObjectMeta (the core schema's checks cover it).
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from extgen.manifest import field_path

_JSON_TYPES: Mapping[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
_EMBEDDED_FIELDS = ("apiVersion", "kind", "metadata")

Path = tuple[str | int, ...]
Schema = Mapping[str, Any]


@dataclass(frozen=True)
class Violation:
    field: str  # dotted path such as "spec.targets.staticConfig.static[0]"; "" for the object
    message: str

    def format(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class Source:
    """Where a shipped schema comes from."""

    api_version: str
    kind: str
    file: str
    repository: str
    tag: str
    commit: str
    commit_date: str
    path: str

    def describe(self) -> str:
        return f"{self.repository} {self.tag}"


@cache
def sources() -> dict[tuple[str, str], Source]:
    """Every shipped schema by (apiVersion, kind)."""
    index = json.loads(_directory().joinpath("index.json").read_text())
    found = {}
    for entry in index:
        source = Source(
            api_version=entry["apiVersion"],
            kind=entry["kind"],
            file=entry["file"],
            repository=entry["repository"],
            tag=entry["tag"],
            commit=entry["commit"],
            commit_date=entry["commitDate"],
            path=entry["path"],
        )
        found[source.api_version, source.kind] = source
    return found


def has_schema(api_version: str, kind: str) -> bool:
    return (api_version, kind) in sources()


@cache
def schema(api_version: str, kind: str) -> Schema | None:
    source = sources().get((api_version, kind))
    if source is None:
        return None
    loaded: Schema = json.loads(_directory().joinpath(source.file).read_text())
    return loaded


def validate(body: Any) -> list[Violation]:
    """Everything the shipped schema of the object's apiVersion and kind refuses in it."""
    if not isinstance(body, dict) or not all(
        isinstance(body.get(key), str) for key in ("apiVersion", "kind")
    ):
        return [Violation("", "not a Kubernetes object (apiVersion, kind)")]
    root = schema(body["apiVersion"], body["kind"])
    if root is None:
        return [Violation("", f"no CRD schema shipped for {body['kind']} {body['apiVersion']}")]
    # metadata is ObjectMeta to the API server, whatever the CRD says of it.
    open_root = {**root, "properties": {**root.get("properties", {}), "metadata": {}}}
    return check(body, open_root)


def check(value: Any, schema: Schema) -> list[Violation]:
    """Everything a structural schema refuses in `value`, the schema read as closed."""
    return list(_violations(value, schema, (), closed=True))


def _directory() -> Any:
    return importlib.resources.files("extgen").joinpath("crds")


def _violations(value: Any, schema: Schema, path: Path, closed: bool) -> Iterator[Violation]:
    """`closed`: this schema gives the shape (it is not inside allOf/anyOf/oneOf/not,
    where a structural schema's `properties` only add value checks)."""
    type_error = _type_error(value, schema)
    if type_error is not None:
        yield Violation(field_path(path), type_error)
        return
    if value is None:
        return
    yield from _value_violations(value, schema, path)
    if isinstance(value, dict):
        yield from _object_violations(value, schema, path, closed)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _violations(item, schema["items"], (*path, index), closed)
    yield from _junctor_violations(value, schema, path)


def _type_error(value: Any, schema: Schema) -> str | None:
    if value is None:
        return None if schema.get("nullable") or not schema else "must not be null"
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, str) or _is_integer(value):
            return None
        return f"expected an integer or a string, got {_json_type(value)}"
    expected = schema.get("type")
    if not isinstance(expected, str) or expected not in _JSON_TYPES:
        return None
    if _has_type(value, expected):
        return None
    return f"expected {expected}, got {_json_type(value)}"


def _has_type(value: Any, expected: str) -> bool:
    if isinstance(value, bool):  # a bool is an int to Python, not to JSON
        return expected == "boolean"
    return isinstance(value, _JSON_TYPES[expected])


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    for name, types in _JSON_TYPES.items():
        if name != "number" and isinstance(value, types):
            return name
    return "number" if isinstance(value, float) else type(value).__name__


def _value_violations(value: Any, schema: Schema, path: Path) -> Iterator[Violation]:
    where = field_path(path)
    if "enum" in schema and value not in schema["enum"]:
        yield Violation(where, f"must be one of {schema['enum']!r}, got {value!r}")
    if isinstance(value, str):
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            yield Violation(where, f"must match the pattern {schema['pattern']!r}")
        yield from _bounds(where, len(value), schema, "minLength", "maxLength", "characters")
    elif isinstance(value, list):
        yield from _bounds(where, len(value), schema, "minItems", "maxItems", "items")
    elif isinstance(value, dict):
        yield from _bounds(where, len(value), schema, "minProperties", "maxProperties", "fields")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield from _number_bounds(where, value, schema)


def _bounds(
    where: str, size: int, schema: Schema, low: str, high: str, unit: str
) -> Iterator[Violation]:
    if low in schema and size < schema[low]:
        yield Violation(where, f"must have at least {schema[low]} {unit}, has {size}")
    if high in schema and size > schema[high]:
        yield Violation(where, f"must have at most {schema[high]} {unit}, has {size}")


def _number_bounds(where: str, value: float, schema: Schema) -> Iterator[Violation]:
    if "minimum" in schema:
        exclusive = bool(schema.get("exclusiveMinimum"))
        if value < schema["minimum"] or (exclusive and value == schema["minimum"]):
            word = "greater than" if exclusive else "at least"
            yield Violation(where, f"must be {word} {schema['minimum']}, got {value}")
    if "maximum" in schema:
        exclusive = bool(schema.get("exclusiveMaximum"))
        if value > schema["maximum"] or (exclusive and value == schema["maximum"]):
            word = "less than" if exclusive else "at most"
            yield Violation(where, f"must be {word} {schema['maximum']}, got {value}")


def _object_violations(
    value: Mapping[str, Any], schema: Schema, path: Path, closed: bool
) -> Iterator[Violation]:
    properties: Mapping[str, Schema] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            yield Violation(field_path((*path, name)), "required field missing")
    extra = schema.get("additionalProperties")
    open_ = schema.get("x-kubernetes-preserve-unknown-fields") or extra is True
    embedded = schema.get("x-kubernetes-embedded-resource", False)
    for key, member in value.items():
        if key in properties:
            yield from _violations(member, properties[key], (*path, key), closed)
        elif isinstance(extra, dict):
            yield from _violations(member, extra, (*path, key), closed)
        elif embedded and key in _EMBEDDED_FIELDS:
            continue
        elif closed and not open_ and ("properties" in schema or extra is False):
            yield Violation(field_path((*path, key)), "unknown field")


def _junctor_violations(value: Any, schema: Schema, path: Path) -> Iterator[Violation]:
    where = field_path(path)
    for sub in schema.get("allOf", ()):
        yield from _violations(value, sub, path, closed=False)
    if "anyOf" in schema and not any(_fits(value, sub, path) for sub in schema["anyOf"]):
        yield Violation(where, f"must match at least one of {_describe(schema['anyOf'])}")
    if "oneOf" in schema:
        matched = sum(_fits(value, sub, path) for sub in schema["oneOf"])
        if matched != 1:
            yield Violation(
                where, f"must match exactly one of {_describe(schema['oneOf'])}, matches {matched}"
            )
    if "not" in schema and _fits(value, schema["not"], path):
        yield Violation(where, f"must not match {_describe([schema['not']])}")


def _fits(value: Any, schema: Schema, path: Path) -> bool:
    return next(_violations(value, schema, path, closed=False), None) is None


def _describe(schemas: list[Schema]) -> str:
    """The alternatives of a junctor, short: `required: [ingress] | required: [egress]`."""
    return " | ".join(json.dumps(_summary(sub), sort_keys=True) for sub in schemas)


def _summary(schema: Schema) -> Any:
    if "required" in schema:
        return {"required": schema["required"]}
    return {key: value for key, value in schema.items() if key != "properties"} or schema
