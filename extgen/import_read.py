"""Kubernetes YAML -> the Services, EndpointSlices and Endpoints `extgen import` reads.

Input is files, directories (every *.yaml / *.yml below them), or `-` for standard
input: multi-document streams, `kubectl get -o yaml` lists and `kustomize build` output.
Every object keeps its document and its path in it, so that whatever is left out is
reported at its FILE:LINE:COLUMN.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from extgen.errors import ExtgenError, Position, Problem
from extgen.yamlio import Document, NodePath, SourceScalar, YamlError, load_stream

STDIN = "-"
STDIN_NAME = "<stdin>"
# `kubectl get -A -o yaml` of a large cluster is tens of MiB; positions cost memory in
# proportion, so the bound is higher than a catalog file's but still a bound.
MAX_INPUT_BYTES = 64 * 1024 * 1024
# kustomize's own files in a repository: not objects to import.
KUSTOMIZATION_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
READ_KINDS = {
    "Service": "v1",
    "Endpoints": "v1",
    "EndpointSlice": "discovery.k8s.io/v1",
}


@dataclass(frozen=True, eq=False)
class Resource:
    """One object read, with where it was written."""

    document: Document
    at: NodePath  # the object's path in its document: () or ("items", N) of a List
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind"))

    @property
    def metadata(self) -> dict[str, Any]:
        metadata = self.body.get("metadata")
        return metadata if isinstance(metadata, dict) else {}

    @property
    def name(self) -> str:
        return text_of(self.metadata.get("name"))

    @property
    def namespace(self) -> str:
        """Its namespace; `default` when it names none, as kubectl applies it without -n."""
        return text_of(self.metadata.get("namespace")) or "default"

    def position(self, *path: str | int, key: bool = False) -> Position:
        """Where the node at `path` is written (its key's position with `key`)."""
        return self.document.position((*self.at, *path), key=key)

    def place(self, *path: str | int, key: bool = False) -> Place:
        """The node at `path`, whose position is found only if it is reported."""
        return Place(self, path, key)

    def describe(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a value was read: composing the nodes to find its line and column is left
    until a problem is reported there (most values never are)."""

    resource: Resource
    path: NodePath
    key: bool = False

    def position(self) -> Position:
        return self.resource.position(*self.path, key=self.key)

    def __str__(self) -> str:
        return str(self.position())


def text_of(value: Any) -> str:
    """A scalar as the text written (a name written `1234` is the text 1234)."""
    if isinstance(value, SourceScalar):
        return value.text
    return value if isinstance(value, str) else ""


@dataclass
class Input:
    """What one environment's paths hold: the objects to import, and what was not."""

    resources: list[Resource] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)  # other kinds, by kind


def read_paths(paths: list[str]) -> Input:
    """Every object in `paths` (in the order given; directories in sorted order)."""
    found = Input()
    for path in paths:
        for name, text in _texts(path):
            _read_text(found, name, text)
    return found


def _texts(path: str) -> Iterator[tuple[str, str]]:
    if path == STDIN:
        yield STDIN_NAME, sys.stdin.read()
        return
    root = FsPath(path)
    if root.is_dir():
        files = sorted(
            p
            for p in root.rglob("*")
            if p.suffix in (".yaml", ".yml") and p.is_file() and p.name not in KUSTOMIZATION_FILES
        )
    elif root.exists():  # a file, or a pipe such as bash's <(kubectl get ...)
        files = [root]
    else:
        raise ExtgenError(f"{path!r} does not exist")
    for file in files:
        try:
            yield str(file), file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ExtgenError(f"cannot read {str(file)!r}: {error}") from None


def _read_text(found: Input, name: str, text: str) -> None:
    try:
        documents = load_stream(text, name, MAX_INPUT_BYTES)
    except YamlError as error:
        problem = error.problem
        found.problems.append(Problem(problem.position, f"{problem.message}; the file is left out"))
        return
    for document in documents:
        if document.data is not None:
            _read_object(found, document, (), document.data)


def _read_object(found: Input, document: Document, at: NodePath, body: Any) -> None:
    if not isinstance(body, dict) or not isinstance(body.get("kind"), str):
        where = document.position(at)
        found.problems.append(Problem(where, "not a Kubernetes object (no kind); left out"))
        return
    kind = body["kind"]
    items = body.get("items")
    if kind.endswith("List") and isinstance(items, tuple):
        for index, item in enumerate(items):
            _read_object(found, document, (*at, "items", index), item)
        return
    if kind not in READ_KINDS:
        found.ignored[kind] += 1
        return
    resource = Resource(document, at, body)
    expected = READ_KINDS[kind]
    if body.get("apiVersion") != expected:
        message = (
            f"{kind} of apiVersion {text_of(body.get('apiVersion'))!r}: extgen import reads"
            f" {kind} of {expected}; left out"
        )
        found.problems.append(Problem(resource.position("apiVersion"), message))
        return
    if not resource.name:
        message = f"{kind} without metadata.name; left out"
        found.problems.append(Problem(resource.position("metadata"), message))
        return
    found.resources.append(resource)
