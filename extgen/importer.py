"""`extgen import`: Kubernetes manifests -> a catalog that gives them back.

    read (import_read) -> per environment, Services as targets (import_environment,
    import_services, import_endpoints) -> one dependency per name (import_merge)
    -> validated as `extgen validate` would, leaving out what it refuses -> YAML
    (import_write)

Whatever cannot be expressed is a problem at its FILE:LINE:COLUMN and is left out; the
rest is still imported.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from extgen import k8s
from extgen.catalog import parse_catalog
from extgen.errors import CatalogError, ExtgenError, Problem
from extgen.import_environment import ImportedEnvironment, read_environment
from extgen.import_merge import Draft, Sources, catalog_data, merge
from extgen.import_meta import Findings
from extgen.import_read import STDIN, Place, read_paths
from extgen.import_write import catalog_text
from extgen.yamlio import NodePath, node_paths

CATALOG_NAME = "<imported catalog>"
# Each round leaves out everything validation refused; a second round finds nothing new
# unless leaving something out changed what the rest is judged on.
MAX_ROUNDS = 10


@dataclass
class Imported:
    """The catalog's text; what was left out (problems) and what changed on the way
    (notes); counts of what was imported, and of the objects of other kinds passed over."""

    text: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    environments: int = 0
    dependencies: int = 0
    ignored: dict[str, int] = field(default_factory=dict)


def import_catalog(sources: list[tuple[str, str]]) -> Imported:
    """(environment, path) pairs -> the catalog; a path may be given for several
    environments, and an environment several paths (their objects together)."""
    paths: dict[str, list[str]] = {}
    for environment, path in sources:
        paths.setdefault(environment, []).append(path)
    findings = Findings()
    environments, ignored = [], dict[str, int]()
    for name, listed in paths.items():
        given = read_paths(listed)
        for kind, count in given.ignored.items():
            ignored[kind] = ignored.get(kind, 0) + count
        environments.append(read_environment(name, given, findings))
    drafts = merge(environments, findings)
    text, environments, drafts = _validated(environments, drafts, findings)
    return Imported(
        text,
        sorted(set(findings.problems)),
        [*findings.notes, *_renamed(findings)],
        len(environments),
        len(drafts),
        dict(sorted(ignored.items())),
    )


def _renamed(findings: Findings) -> list[str]:
    """One note for EndpointSlices whose names change: a cluster names each differently."""
    if not findings.renamed:
        return []
    first = findings.renamed[0]
    return [
        f"{len(findings.renamed)} EndpointSlice(s) are written under extgen's names,"
        f" <service>-ipv4 and <service>-ipv6, the first {first.describe()}"
        f" ({first.position()})"
    ]


def _validated(
    environments: list[ImportedEnvironment], drafts: list[Draft], findings: Findings
) -> tuple[str, list[ImportedEnvironment], list[Draft]]:
    """The catalog of what `extgen validate` accepts of the drafts; the rest reported and
    left out."""
    for _ in range(MAX_ROUNDS):
        data, sources = catalog_data(environments, drafts)
        text = catalog_text(data)
        try:
            parse_catalog([(CATALOG_NAME, text)])
        except CatalogError as error:
            environments, drafts = _leave_out(environments, drafts, error, text, sources, findings)
            continue
        return text, environments, drafts
    raise ExtgenError("the imported catalog could not be made valid")


def _leave_out(
    environments: list[ImportedEnvironment],
    drafts: list[Draft],
    error: CatalogError,
    text: str,
    sources: Sources,
    findings: Findings,
) -> tuple[list[ImportedEnvironment], list[Draft]]:
    paths = node_paths(text)
    dropped_environments: set[str] = set()
    dropped_targets: set[tuple[int, str | None]] = set()  # (draft, environment or all)
    for problem in error.problems:
        path = paths.get((problem.position.line, problem.position.column))
        if path is None or len(path) < 2:
            raise ExtgenError(f"the imported catalog is not valid: {problem.format()}")
        where = _source(sources, path).position()
        if path[0] == "environments":
            dropped_environments.add(str(path[1]))
            what = f"environment {path[1]!r} (its namespace, from the objects)"
            findings.problems.append(Problem(where, f"{what}: {problem.message}; left out"))
            continue
        draft = drafts[int(path[1])]
        rest = path[2:]
        environment = str(rest[1]) if len(rest) > 1 and rest[0] == "targets" else None
        dropped_targets.add((int(path[1]), environment))
        target = draft.targets[environment or next(iter(draft.targets))]
        scope = "" if environment or len(draft.targets) == 1 else " in every environment"
        message = f"{target.found.service.describe()}: {problem.message}; left out{scope}"
        findings.problems.append(Problem(where, message))
    kept = []
    for index, draft in enumerate(drafts):
        if (index, None) in dropped_targets:
            continue
        targets = {
            name: target
            for name, target in draft.targets.items()
            if (index, name) not in dropped_targets and name not in dropped_environments
        }
        if targets:
            kept.append(Draft(draft.name, targets))
    return [e for e in environments if e.name not in dropped_environments], kept


def _source(sources: Sources, path: NodePath) -> Place:
    """Where the nearest node at or above `path` was read."""
    for end in range(len(path), 0, -1):
        if path[:end] in sources:
            return sources[path[:end]]
    raise ExtgenError(f"the imported catalog is not valid at {'.'.join(map(str, path))}")


def write_catalog(path: FsPath, text: str, *, force: bool) -> None:
    """Writes FILE atomically; without `force` never over an existing file (an imported
    catalog is meant to be edited, so one written earlier may hold edits too)."""
    if path.exists() and not force:
        raise ExtgenError(f"{str(path)!r} exists; choose another file, or --force to replace it")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        if force:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if the file appeared meanwhile
    except FileExistsError:
        raise ExtgenError(
            f"{str(path)!r} exists; choose another file, or --force to replace it"
        ) from None
    except OSError as error:
        raise ExtgenError(f"cannot write {str(path)!r}: {error.strerror or error}") from None
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


def usage_problem(sources: tuple[tuple[str, str], ...]) -> str | None:
    """What is wrong with the --env options, if anything."""
    for environment, _ in sources:
        reasons = k8s.is_dns1123_label(environment)
        if reasons or environment == "base":
            why = "; ".join(reasons) or "'base' is reserved"
            return f"environment name {environment!r} is not valid: {why}"
    if sum(path == STDIN for _, path in sources) > 1:
        return "standard input (-) can be read once only"
    return None
