"""Build every environment overlay with the real kustomize and check what it yields.

Each built object is checked against the Kubernetes OpenAPI schema (strict: unknown
fields are errors), or, for a custom resource, against the upstream CRD schema extgen ships
(`extgen.crd`, as strict), and the built objects must be exactly the plan's: nothing missing,
nothing extra, no field different. Every problem is collected as a `Finding`.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.exceptions
from referencing import Registry, Resource

from extgen import crd, layout
from extgen.errors import ExtgenError
from extgen.kustomize import Kustomize, build, find_kustomize
from extgen.manifest import Body, Manifest, field_path
from extgen.plan import DependencyPlan, EnvironmentPlan, Plan
from extgen.yamlio import parse_all_core

# extgen generates these; a schema version is usable only when it has all of them.
REQUIRED_SCHEMAS = ("service-v1.json", "endpoints-v1.json", "endpointslice-discovery-v1.json")
_SCHEMA_DIR = re.compile(r"v(\d+)\.(\d+)\.\d+-local-strict")
_VERSION = re.compile(r"v?(\d+)\.(\d+)(\.\d+)?")
MAX_VALUE_CHARS = 120

Key = tuple[str, str, str]


@dataclass(frozen=True)
class Finding:
    environment: str
    object: str  # "Kind/namespace/name"; "" for the environment as a whole
    field: str  # dotted path such as "spec.ports[0].port"; "" for the whole object
    message: str

    def format(self) -> str:
        parts = [self.environment, self.object, self.field, self.message]
        return ": ".join(part for part in parts if part)


@dataclass
class VerifyReport:
    kustomize: Kustomize
    schema_version: str
    environments: int
    objects: int
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings


@cache
def _schema_directories() -> dict[str, Traversable]:
    """The strict schema directory of each Kubernetes version ("1.37") that
    kubernetes-validate ships with every kind extgen generates, oldest first."""
    root = importlib.resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    found = {}
    for directory in root.iterdir():
        match = _SCHEMA_DIR.fullmatch(directory.name)
        if match and all(directory.joinpath(name).is_file() for name in REQUIRED_SCHEMAS):
            found[(int(match.group(1)), int(match.group(2)))] = directory
    return {f"{major}.{minor}": found[major, minor] for major, minor in sorted(found)}


def schema_versions() -> tuple[str, ...]:
    return tuple(_schema_directories())


@cache
def _definitions(version: str) -> Any:
    return json.loads(_schema_directories()[version].joinpath("_definitions.json").read_text())


@cache
def _validator(version: str, api_version: str, kind: str) -> Any:
    """One compiled validator per kind, as kubernetes_validate.validate builds it per call.

    Building it (and its registry of ~1 MB of definitions) is what a call costs, about
    17 ms; reusing it makes the schema check of an object take well under 1 ms.
    """
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _schema_directories()[version].joinpath(f"{kind.lower()}-{group}.json")
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    registry = Resource.from_contents(_definitions(version)) @ (
        Resource.from_contents(schema) @ Registry()
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


# Keywords whose verdict on a value depends only on its type, or on which keys a mapping
# has: type, properties, additionalProperties, items, required ($ref is followed;
# format is not asserted, jsonschema being given no format checker; x-kubernetes-*
# and the rest are annotations). Under any other keyword (enum, oneOf, ...) the value
# itself is kept in the shape.
_SHAPE_KEYWORDS = frozenset(
    {"type", "properties", "additionalProperties", "items", "required", "format"}
    | {"description", "$ref", "$schema", "$id", "title"}
)
# A definition, named from a kind's schema or (as "#/...") from another definition.
_DEFINITION = re.compile(r"(?:/api/_definitions\.json)?#/\$defs/([^/]+)")


class _Shapes:
    """The schema verdict of one kind, remembered per shape of object.

    An object's shape keeps what the schema can judge: every key, every list's length,
    every value's type, and the values themselves wherever the schema says more than a
    type (an enum, a oneOf) or nothing (an unknown key). Two objects of one shape get the
    same verdict, so the (slow) validator runs once per shape that passes; an object that
    fails is always validated in full, for its message.
    """

    def __init__(self, validator: Any, definitions: Mapping[str, Any]) -> None:
        self.validator = validator
        # A kind's schema refers to definitions by their file; "#/$defs/..." in it would
        # be its own, which the kinds extgen writes do not have.
        assert "$defs" not in validator.schema
        self.definitions = definitions
        self.valid: set[Any] = set()

    def findings(self, body: Any) -> Any:
        """The first schema error of `body`, or None."""
        shape = self.shape(body, self.validator.schema)
        if shape in self.valid:
            return None
        error = jsonschema.exceptions.best_match(self.validator.iter_errors(body))
        if error is None:
            self.valid.add(shape)
        return error

    def shape(self, value: Any, schema: Any) -> Any:
        schema = self._resolved(schema)
        if schema is None:
            return ("=", json.dumps(value, sort_keys=True))
        if isinstance(value, dict):
            properties = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            return (
                "{",
                tuple(
                    sorted(
                        (key, self.shape(member, properties.get(key, extra)))
                        for key, member in value.items()
                    )
                ),
            )
        if isinstance(value, list):
            items = schema.get("items")
            return ("[", tuple(self.shape(member, items) for member in value))
        if isinstance(value, float):
            return ("float", value.is_integer())  # 1.0 is an integer to JSON Schema
        return type(value).__name__

    def _resolved(self, schema: Any) -> Mapping[str, Any] | None:
        """The schema to judge a value by, or None when its verdict may hang on the value."""
        while isinstance(schema, dict) and "$ref" in schema:
            match = _DEFINITION.fullmatch(str(schema["$ref"]))
            if match is None or set(schema) - {"$ref", "description"}:
                return None
            schema = self.definitions.get(match.group(1))
        if not isinstance(schema, dict):
            return None
        if any(
            key not in _SHAPE_KEYWORDS and not key.startswith("x-kubernetes-") for key in schema
        ):
            return None
        return schema


@cache
def _shapes(version: str, api_version: str, kind: str) -> _Shapes | None:
    validator = _validator(version, api_version, kind)
    if validator is None:
        return None
    return _Shapes(validator, _definitions(version).get("$defs", {}))


def default_kubernetes_version() -> str:
    """The newest Kubernetes version whose schemas kubernetes-validate ships."""
    versions = schema_versions()
    if not versions:
        raise ExtgenError("the installed kubernetes-validate ships no usable strict schemas")
    return versions[-1]


def _schema_version(kubernetes_version: str | None) -> str:
    if kubernetes_version is None:
        return default_kubernetes_version()
    match = _VERSION.fullmatch(kubernetes_version.strip())
    version = f"{match.group(1)}.{match.group(2)}" if match else kubernetes_version
    if version not in schema_versions():
        raise ExtgenError(
            f"no Kubernetes schema for version {kubernetes_version!r}; the installed"
            f" kubernetes-validate has {', '.join(schema_versions())}"
        )
    return version


def verify(
    out: Path,
    plan: Plan,
    kubernetes_version: str | None = None,
    kustomize: Kustomize | None = None,
) -> VerifyReport:
    """Builds every environment of the plan and checks the objects built.

    An environment split into shards is built shard by shard, as a deployment builds it;
    every build runs in parallel, bounded by the CPU count. What each build must yield is
    known by a digest per object (`Expected`), made an environment at a time while the
    builds of the one before run; the objects themselves are made again only for those
    that differ.
    """
    schema_version = _schema_version(kubernetes_version)
    found = kustomize or find_kustomize()
    workers = max(1, os.cpu_count() or 1)
    futures: list[Future[tuple[list[Finding], int]]] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        waiting: list[Future[tuple[list[Finding], int]]] = []
        for env in plan.environments:
            jobs = _environment_jobs(env)
            # At most two environments' digests are held: wait for the one before last.
            for future in waiting:
                future.exception()
            waiting = [pool.submit(job.run, out, found, schema_version) for job in jobs]
            futures += waiting
        for directory, manifests in _delivery_builds(plan).items():
            job = _Job(directory, directory, _digests(manifests))
            futures.append(pool.submit(job.run, out, found, schema_version))
        results = [future.result() for future in futures]
    findings = [finding for job_findings, _ in results for finding in job_findings]
    objects = sum(count for _, count in results)
    return VerifyReport(found, schema_version, len(plan.environments), objects, findings)


# What a build must yield: per object, the digest of its JSON (`digest`), and where it is
# made again if the build differs: its dependency and its place among the dependency's
# objects, or the object itself (delivery objects, with 0).
Expected = dict[Key, tuple[bytes, "DependencyPlan | Manifest", int]]


@dataclass(frozen=True)
class _Job:
    """One kustomization to build, and the objects it must yield."""

    name: str  # the environment, or the directory of delivery objects
    directory: str  # relative to OUT
    expected: Expected
    shard: str | None = None

    def run(
        self, out: Path, kustomize: Kustomize, schema_version: str
    ) -> tuple[list[Finding], int]:
        findings, built = _build(out, self.name, self.directory, self.shard, kustomize)
        findings += [f for body in built for f in _schema_findings(self.name, body, schema_version)]
        if not any(finding.object == "" for finding in findings):
            findings.extend(_compare(self.name, self.expected, built))
        return findings, len(built)


def _environment_jobs(env: EnvironmentPlan) -> list[_Job]:
    """The entry point of an environment, or each of its shards, as a deployment builds it.

    The objects are made dependency by dependency in the order of the catalog's files
    (which unpickles each file's models once, if need be), known by their digest, and
    listed in the catalog's order (dependencies by name) for the findings' order.
    """
    shards: list[str | None] = [*env.shard_directories()] or [None]
    expected: list[Expected] = [{} for _ in shards]
    for dep in env.in_source_order():
        into = expected[env.shard_index(dep)]
        for index, manifest in enumerate(dep.manifests):
            into[manifest.key()] = (digest(manifest.built()), dep, index)
    # The environment's own objects are in its first kustomization (see Renderer).
    for manifest in env.environment_manifests():
        expected[0][manifest.key()] = (digest(manifest.built()), manifest, 0)
    for extra in env.files:  # the environment's own files, in its first directory
        for manifest in extra.manifests:
            expected[0][manifest.key()] = (digest(manifest.built()), manifest, 0)
    jobs = []
    for index, shard in enumerate(shards):
        ordered = sorted(expected[index].items(), key=lambda item: (item[1][1].name, item[1][2]))
        expected[index] = {}
        directory = layout.environment_directory(env.name, shard)
        jobs.append(_Job(env.name, directory, dict(ordered), shard=shard))
    return jobs


def _made_again(source: DependencyPlan | Manifest, index: int) -> Body:
    """An expected object, made again to be compared field by field."""
    if isinstance(source, Manifest):
        return source.built()
    return source.manifests[index].built()


def _digests(manifests: list[Manifest]) -> Expected:
    return {m.key(): (digest(m.built()), m, 0) for m in manifests}


def digest(body: Any) -> bytes:
    """Equal for equal objects of the same types throughout (1, 1.0 and True are equal
    in Python, not in JSON)."""
    return hashlib.blake2b(json.dumps(body, sort_keys=True).encode(), digest_size=16).digest()


def _delivery_builds(plan: Plan) -> dict[str, list[Manifest]]:
    """The directories of Argo CD and Flux objects, relative to OUT, and their objects."""
    directories: dict[str, list[Manifest]] = {}
    for file in plan.delivery:
        directories.setdefault(layout.directory_of(file.path), []).extend(file.manifests)
    return directories


def _build(
    out: Path, name: str, relative: str, shard: str | None, kustomize: Kustomize
) -> tuple[list[Finding], list[Any]]:
    """The objects one kustomization yields, or the finding that it does not build."""
    directory = out / relative
    if not directory.is_dir():
        message = f"{directory} does not exist; run `extgen render` first"
        return [Finding(name, "", "", message)], []
    try:
        stream = build(kustomize, directory)
    except ExtgenError as error:
        message = " ".join(error.message.split())  # kustomize's stderr, on the same line
        prefix = f"{shard} " if shard else ""
        return [Finding(name, "", "", f"the {prefix}overlay does not build: {message}")], []
    try:
        built = [doc for doc in parse_all_core(stream, f"{directory} (built)") if doc is not None]
    except Exception as error:  # any parse failure is the same defect
        return [Finding(name, "", "", f"kustomize output is not valid YAML: {error}")], []
    return [], built


def _key(body: Any) -> Key:
    if not isinstance(body, Mapping):
        return ("", "", "")
    metadata = body.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    return (
        str(body.get("kind", "")),
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
    )


def _object_name(key: Key) -> str:
    kind, namespace, name = key
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def _schema_findings(environment: str, body: Any, version: str) -> list[Finding]:
    """At most one finding: kubernetes-validate stops at the first schema error."""
    name = _object_name(_key(body))
    if not isinstance(body, dict) or not all(
        isinstance(body.get(key), str) for key in ("apiVersion", "kind")
    ):
        return [Finding(environment, name, "", "not a Kubernetes object (apiVersion, kind)")]
    if crd.has_schema(body["apiVersion"], body["kind"]):
        return _crd_findings(environment, name, body)
    shapes = _shapes(version, body["apiVersion"], body["kind"])
    if shapes is None:
        message = f"no schema for {body['kind']} {body['apiVersion']} in Kubernetes {version}"
        return [Finding(environment, name, "", message)]
    error = shapes.findings(body)
    return [] if error is None else [Finding(environment, name, *_schema_error(error, version))]


def _crd_findings(environment: str, name: str, body: dict[str, Any]) -> list[Finding]:
    """Every violation of the shipped CRD schema, which (unlike the core one) are all known."""
    source = crd.sources()[body["apiVersion"], body["kind"]]
    schema = f"the {source.describe()} CRD schema"
    findings = []
    for violation in crd.validate(body):
        if violation.message == "unknown field":
            message = f"unknown field in {schema}"
        else:
            message = f"invalid in {schema}: {violation.message}"
        findings.append(Finding(environment, name, violation.field, message))
    return findings


def _schema_error(error: Any, version: str) -> tuple[str, str]:
    """The field at fault and the message; an unknown field is named itself."""
    path: list[str | int] = list(error.absolute_path)
    instance, schema = error.instance, error.schema
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {}) if isinstance(schema, dict) else {}
        unknown = [key for key in instance if key not in known]
        if unknown:
            where = field_path([*path, unknown[0]])
            return where, f"unknown field in the Kubernetes {version} schema"
    return field_path(path), f"invalid in the Kubernetes {version} schema: {error.message}"


def _compare(name: str, expected: Expected, built: list[Any]) -> Iterator[Finding]:
    actual: dict[Key, Any] = {}
    for body in built:
        key = _key(body)
        if key in actual:
            yield Finding(name, _object_name(key), "", "built more than once")
        actual[key] = body
    for key, (made, source, index) in expected.items():
        if key not in actual:
            yield Finding(
                name,
                _object_name(key),
                "",
                "missing: the catalog defines it, the build does not yield it",
            )
            continue
        if digest(actual[key]) == made:
            continue
        for field, message in differences(_made_again(source, index), actual[key]):
            yield Finding(name, _object_name(key), field, message)
    for key in (key for key in actual if key not in expected):
        yield Finding(
            name,
            _object_name(key),
            "",
            "unexpected: the build yields it, the catalog does not define it",
        )


def differences(
    expected: Any, actual: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[str, str]]:
    """(dotted field path, message) for every place where `actual` differs from `expected`."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        for key in [*expected, *(key for key in actual if key not in expected)]:
            yield from _member(expected, actual, key, (*path, key))
    elif isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        for index in range(max(len(expected), len(actual))):
            yield from _member(expected, actual, index, (*path, index))
    elif type(expected) is not type(actual) or expected != actual:
        yield field_path(path), f"expected {_show(expected)}, got {_show(actual)}"


def _member(
    expected: Any, actual: Any, key: Any, path: tuple[str | int, ...]
) -> Iterator[tuple[str, str]]:
    has_expected = key in expected if isinstance(expected, Mapping) else key < len(expected)
    has_actual = key in actual if isinstance(actual, Mapping) else key < len(actual)
    if not has_actual:
        yield field_path(path), f"missing, expected {_show(expected[key])}"
    elif not has_expected:
        yield field_path(path), f"not defined by the catalog, got {_show(actual[key])}"
    else:
        yield from differences(expected[key], actual[key], path)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."
