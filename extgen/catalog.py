"""Catalog files -> `Catalog`, with every problem reported at the YAML node that caused it.

Each file is judged whole on its own (`catalog_file`), then the files' results are merged
and judged together (`catalog_merge`); pydantic's errors are placed by `locate`.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from extgen.catalog_file import FileContext, Source, environment_name_reasons, read_files
from extgen.catalog_merge import Merged
from extgen.errors import CatalogError, ExtgenError, Position
from extgen.model import Dependency, Environment, GitOps
from extgen.records import DependencyRecord, source_order
from extgen.yamlio import YamlError, load_document


def catalog_files(root: FsPath) -> list[FsPath]:
    """Every *.yaml / *.yml below a directory, in sorted order; or the one file given."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise ExtgenError(f"catalog {str(root)!r} does not exist")
    files = [p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    if not files:
        raise ExtgenError(f"catalog directory {str(root)!r} has no *.yaml or *.yml files")
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def read_catalog(root: FsPath, meanwhile: Callable[[], None] | None = None) -> Catalog:
    """The catalog at `root`; `meanwhile()` is the caller's work, done once while the files
    are read (render scans OUT then: on two cores, beside the second process's share)."""
    sources = []
    for path in catalog_files(root):
        try:
            size = path.stat().st_size
        except OSError as error:
            raise ExtgenError(f"{path}: cannot read: {error.strerror}") from None
        sources.append(Source(str(path), size, path))
    return _parse(sources, meanwhile)


# Catalogs of up to this much YAML keep their dependencies' models from validation to
# rendering (about seven times the YAML); larger ones keep a record of each (a few hundred
# bytes) and their models pickled and compressed, file by file (about a sixth of the
# YAML), to be unpickled when one of their output files must be rendered.
KEEP_MODELS_BYTES = 8 * 1024 * 1024


class Catalog:
    """The union of all catalog files, in a canonical order.

    Environments and gitops are models; dependencies are records, in name order, whose
    models are kept for small catalogs and, for large ones, pickled and compressed a file
    at a time (`pickled`, by file index): what is rendered is what was validated.
    """

    def __init__(
        self,
        environments: dict[str, Environment],
        gitops: GitOps | None,
        records: tuple[DependencyRecord, ...],
        pickled: tuple[bytes, ...],
        sources: tuple[Source, ...] = (),
    ) -> None:
        self.environments = environments
        self.gitops = gitops
        self.records = records
        self.pickled = pickled
        self.sources = sources  # the catalog's files, by `DependencyRecord.source`
        self._unpickled: tuple[int, list[Dependency]] | None = None  # the last file's models

    def position(self, record: DependencyRecord, *path: str | int) -> Position:
        """Where a dependency's node at `path` (e.g. "targets", ENV) is written: the file
        is read and composed again, for the few positions a command reports after
        loading."""
        source = self.sources[record.source]
        document = load_document(source.text(), source.name)
        return document.position(("dependencies", record.item, *path))

    def dependency(self, record: DependencyRecord) -> Dependency:
        """The dependency's model: kept, or unpickled with the rest of its file's."""
        if record.model is not None:
            return record.model
        unpickled = self._unpickled  # once: verify's threads may unpickle others meanwhile
        if unpickled is None or unpickled[0] != record.source:
            # Pickled by this process or its own child (catalog_file).
            unpickled = (record.source, pickle.loads(zlib.decompress(self.pickled[record.source])))
            self._unpickled = unpickled
        return unpickled[1][record.item]

    @property
    def dependencies(self) -> tuple[Dependency, ...]:
        """Every dependency's model, in name order."""
        models = {id(record): self.dependency(record) for record in source_order(self.records)}
        return tuple(models[id(record)] for record in self.records)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Catalog):
            return NotImplemented
        mine = (self.environments, self.gitops, self.dependencies)
        return mine == (other.environments, other.gitops, other.dependencies)

    __hash__ = None  # type: ignore[assignment]


def parse_catalog(sources: Iterable[tuple[str, str]]) -> Catalog:
    """(file name, text) pairs -> Catalog; raises CatalogError listing every problem."""
    return _parse([Source(name, len(text), given=text) for name, text in sources])


def _parse(sources: Sequence[Source], meanwhile: Callable[[], None] | None = None) -> Catalog:
    """Each file is judged whole on its own, knowing every environment (`_first_look`),
    so that it can be let go before the next; only names are compared across files."""
    environments, gitops = _first_look(sources)
    keep = sum(source.size for source in sources) <= KEEP_MODELS_BYTES
    while True:
        merged = Merged(sources)
        context = FileContext(environments, keep, gitops)
        for index, result in enumerate(read_files(sources, context, meanwhile)):
            merged.add(index, result)
        found = {name: model for name, (model, _) in merged.environments.items()}
        found_gitops = merged.gitops[0] if merged.gitops is not None else None
        if found == environments and found_gitops == gitops:
            break
        # A file defined environments that _may_define_environments passed over (it
        # cannot), or a file changed since the first look: the files are judged again
        # rather than judged wrongly.
        environments, gitops, meanwhile = found, found_gitops, None
    merged.check()
    merged.check_loops()
    if merged.problems:
        raise CatalogError(merged.problems)
    return Catalog(*merged.parts(), tuple(sources))


def _first_look(
    sources: Sequence[Source],
) -> tuple[dict[str, Environment | None], GitOps | None]:
    """Every environment as its first valid definition gives it (None: invalid), and the
    gitops settings likewise (their namespaces are the catalog's own Argo CD's or Flux's).

    A first look at the files that may define them, before the files are judged one by
    one; their problems are reported when they are.
    """
    found: dict[str, Environment | None] = {}
    gitops: list[GitOps | None] = []
    for source in sources:
        text = source.text()
        if not _may_define_environments(text):
            continue
        try:
            data = load_document(text, source.name).data
        except YamlError:
            continue
        if not isinstance(data, dict):
            continue
        if "gitops" in data and not gitops:
            gitops.append(_valid_or_none(GitOps, data["gitops"]))
        section = data.get("environments")
        if not isinstance(section, dict):
            continue
        for name, settings in section.items():
            if name not in found and not environment_name_reasons(name):
                found[name] = _valid_or_none(Environment, settings)
    return found, gitops[0] if gitops else None


def _may_define_environments(text: str) -> bool:
    # The key is spelled out, or written with escapes in double quotes (a backslash).
    return "environments" in text or "gitops" in text or "\\" in text


def _valid_or_none(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError:
        return None
