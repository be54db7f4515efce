"""OUT brought in line with a plan: the one pipeline of render, `--check` and `--diff`.

    changes = plan_changes(out, plan, renderer, existing)   # read-only; every refusal
    apply_changes(changes, write=True)                      # renders and writes, deletes

`plan_changes` goes through OUT a directory at a time (the base, an environment, a
shard of one, a directory of delivery objects), comparing what the plan puts there with
what OUT holds (`output.Existing`), and raises before anything is written if a file
extgen must write is unsafe to write. A dependency's file that OUT holds current (its
seal matches, see `seal.py`) is neither planned nor rendered. What is kept of a
dependency's file is one byte of action, so that memory grows with the catalog's
dependencies, not with its output; the other changes of a directory (its kustomization,
its deletions) are kept as `Change`s, which are few. `apply_changes` then renders the
dependency files to write in the order of the catalog's files (a large catalog keeps its
models pickled per file, see `Catalog.dependency`) and writes them.
"""

from __future__ import annotations

import difflib
import itertools
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from extgen import layout, parallel
from extgen.errors import ExtgenError
from extgen.output import Existing, delete, read_text, refuse_unsafe, write_file
from extgen.plan import DependencyPlan, EnvironmentPlan, Plan
from extgen.records import source_order
from extgen.render import PlannedFile, Renderer

Action = Literal["create", "update", "delete", "unchanged"]


@dataclass(frozen=True, slots=True)
class Change:
    """What a file of OUT needs, other than a dependency's file (those are kept as one
    byte, `Changes.actions`)."""

    path: str  # relative to OUT, with '/'
    action: Action


def unified_diff(path: str, old: str | None, new: str | None) -> str:
    before = "/dev/null" if old is None else f"a/{path}"
    after = "/dev/null" if new is None else f"b/{path}"
    lines = (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True)
    return "".join(difflib.unified_diff(*lines, before, after))


# What a dependency's file of an environment needs (`Changes.actions`); NONE: no file, or
# one kept as a `Change` (rendered by templates of one's own). RECHECK: sealed for other
# inputs, an update unless rendering gives the same text.
NONE, UNCHANGED, CREATE, UPDATE, RECHECK = range(5)
ACTIONS = {UNCHANGED: "unchanged", CREATE: "create", UPDATE: "update"}
CODES = {"unchanged": UNCHANGED, "create": CREATE}


@dataclass
class Changes:
    """What a render does, or would do, to every file of OUT."""

    out: Path
    plan: Plan
    renderer: Renderer
    # Per environment, per record (in name order): the action on its file there.
    actions: list[bytearray]
    # Per directory: its other changes (kustomizations, base, delivery objects, deletions).
    others: dict[str, list[Change]] = field(default_factory=dict)
    moved: dict[str, list[str]] = field(default_factory=dict)  # environment -> names (see _moves)
    diffs: dict[str, str] = field(default_factory=dict)  # with --diff: path -> diff

    def entries(self) -> Iterator[tuple[str, str]]:
        """(path, action) of every file, in path order, made a directory at a time."""
        directories = set(self.others) | set(self.renderer.directories(self.plan))
        children: dict[str, set[str]] = {}
        for directory in directories:
            while directory:
                parent = layout.directory_of(directory)
                children.setdefault(parent, set()).add(directory)
                directory = parent
        return self._tree("", children)

    def _tree(self, directory: str, children: dict[str, set[str]]) -> Iterator[tuple[str, str]]:
        # A directory's own files, by path, and its subdirectories, by their path and '/',
        # in one order: that of every path below.
        items: list[tuple[str, str | None]] = list(self._own(directory))
        items += [(f"{child}/", None) for child in children.get(directory, ())]
        for key, action in sorted(items):
            if action is None:
                yield from self._tree(key[:-1], children)
            else:
                yield key, action

    def _own(self, directory: str) -> list[tuple[str, str]]:
        """(path, action) of the files directly in a directory."""
        entries: list[tuple[str, str]] = [
            (c.path, c.action) for c in self.others.get(directory, [])
        ]
        name, shard = layout.split_directory(directory)
        for env_plan in self.plan.environments:
            if env_plan.name != name or (env_plan.shards > 1) != (shard is not None):
                continue
            shards = env_plan.shard_directories()
            if shard is not None and shard not in shards:
                continue
            actions = self.actions[env_plan.index]
            for dep in env_plan.shard_members(shards.index(shard) if shard else 0):
                code = actions[dep.record.rank]
                if code != NONE:
                    entries.append((_path(env_plan, dep), ACTIONS[code]))
        return entries

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("create", "update", "delete", "unchanged"), 0)
        for changes in self.others.values():
            for change in changes:
                counts[change.action] += 1
        for actions in self.actions:
            for code, action in ACTIONS.items():
                counts[action] += actions.count(code)
        return counts


def plan_changes(out: Path, plan: Plan, renderer: Renderer, existing: Existing) -> Changes:
    """Every directory compared with OUT; raises, before anything is written, if any file
    extgen must write is unsafe to write (see `output.refuse_unsafe`) or cannot be
    rendered."""
    if out.exists() and not out.is_dir():
        raise ExtgenError(f"output {out} exists and is not a directory")
    records = plan.records
    changes = Changes(out, plan, renderer, [bytearray(len(records)) for _ in plan.environments])
    directories = sorted(set(renderer.directories(plan)) | set(existing.directories))

    for directory in directories:
        others = _plan_directory(changes, existing, directory)
        if others:
            changes.others[directory] = others
    changes.moved = _moves(changes)
    return changes


def _plan_directory(changes: Changes, existing: Existing, directory: str) -> list[Change]:
    """Sets the action of each dependency file of a directory (`Changes.actions`); its
    other files' changes."""
    files = changes.renderer.directory(changes.plan, directory) if directory else {}
    owned = existing.owned_in(directory)
    others = []
    for path, action, later in _compare(changes.out, files, existing, owned):
        file = files.get(path)
        dep = file.dependency if file is not None else None
        if dep is None or not (later or action == "unchanged"):
            # Rendered (and compared) already; kept without its text, which
            # `apply_changes` renders again. A dependency's file here has templates of
            # one's own (NONE).
            others.append(Change(path, action))
        else:
            code = RECHECK if action == "update" else CODES[action]
            changes.actions[dep.environment_plan.index][dep.record.rank] = code
    return others


def _compare(
    out: Path, files: Mapping[str, PlannedFile], existing: Existing, owned: Mapping[str, bytes]
) -> list[tuple[str, Action, bool]]:
    """(path, action, rendered later) of every file of a directory and of every file of
    extgen's there that the plan no longer has; raises before any harm.

    A file is rendered here only when OUT does not already hold it, sealed and current,
    and it may fail to render (a file written by Jinja): a dependency's file under the
    built-in templates (`PlannedFile.renders_safely`) is rendered when it is written, an
    update then written only if its text differs.
    """
    result: list[tuple[str, Action, bool]] = []
    for relative in sorted(files):
        file = files[relative]
        later = file.renders_safely
        if relative not in owned:
            refuse_unsafe(out, relative, existing.kinds)
            if not later:
                file.rendered()  # a template that fails, fails before anything is written
            result.append((relative, "create", later))
        elif file.is_current(owned[relative]):
            result.append((relative, "unchanged", False))
        elif later:
            result.append((relative, "update", True))
        else:
            same = read_text(out, relative) == file.rendered()
            result.append((relative, "unchanged" if same else "update", False))
    for relative in sorted(set(owned) - set(files)):
        result.append((relative, "delete", False))
    return result


def _moves(changes: Changes) -> dict[str, list[str]]:
    """Dependencies whose file leaves one shard of an environment for another."""
    deleted: dict[str, set[str]] = {}
    for directory_changes in changes.others.values():
        for change in directory_changes:
            found = layout.dependency_in(change.path)
            if change.action == "delete" and found is not None:
                deleted.setdefault(found[0], set()).add(found[1])
    moved = {}
    for env_plan in changes.plan.environments:
        gone = deleted.get(env_plan.name)
        if gone:
            actions = changes.actions[env_plan.index]
            records = env_plan.catalog.records
            names = sorted(r.name for r in records if r.name in gone and actions[r.rank] == CREATE)
            if names:
                moved[env_plan.name] = names
    return moved


def apply_changes(changes: Changes, *, write: bool, diff: bool = False) -> None:
    """Renders the files that need it and writes them (`write`) or makes their diffs
    (`diff`); when writing, deletes the files no longer produced, once all are written.

    The dependency files are rendered in the order of the catalog's files, the other
    files a directory at a time; with many, two processes share the work.
    """
    plan = changes.plan
    wanted = (CREATE, RECHECK) if write or diff else (RECHECK,)
    items: list[tuple[str, array[int]]] = [
        ("", group) for group in _groups(plan, changes.actions, wanted)
    ]
    if write or diff:
        items += [
            (directory, array("q"))
            for directory, others in changes.others.items()
            if any(change.action in ("create", "update") for change in others)
        ]
    total = sum(len(group) or len(changes.others[directory]) for directory, group in items)

    def work(chunk: Sequence[tuple[str, array[int]]]) -> list[list[_Rendered]]:
        return [
            _render_directory(changes, directory, write, diff)
            if directory
            else _render_group(changes, group, write, diff)
            for directory, group in chunk
        ]

    if total >= PARALLEL_WRITES:
        results = parallel.split("write", items, work, redo=False)
    else:
        results = work(items)
    environments, records = plan.environments, plan.records
    for key, code, text in itertools.chain.from_iterable(results):
        if isinstance(key, str):
            if text is not None:
                changes.diffs[key] = text
            continue
        env_plan = environments[key % len(environments)]
        changes.actions[env_plan.index][key // len(environments)] = code
        if text is not None:
            dep = DependencyPlan(records[key // len(environments)], env_plan)
            changes.diffs[_path(env_plan, dep)] = text
    deletions = [
        c.path for others in changes.others.values() for c in others if c.action == "delete"
    ]
    if diff:
        for path in deletions:
            changes.diffs[path] = unified_diff(path, read_text(changes.out, path), None)
    if write:
        delete(changes.out, deletions)


# Below this many files to write, a second process costs more than it saves.
PARALLEL_WRITES = 2000
# (a dependency file's key, or another file's path; its action; its diff, if asked for)
_Rendered = tuple[int | str, int, str | None]


def _render_directory(changes: Changes, directory: str, write: bool, diff: bool) -> list[_Rendered]:
    """Renders again, and writes or diffs, the other files of one directory."""
    files = changes.renderer.directory(changes.plan, directory)
    rendered: list[_Rendered] = []
    made: set[str] = set()
    for change in changes.others[directory]:
        if change.action not in ("create", "update"):
            continue
        text = files[change.path].text
        if write:
            write_file(changes.out, change.path, text, made)
        if diff:
            old = read_text(changes.out, change.path) if change.action == "update" else None
            rendered.append((change.path, NONE, unified_diff(change.path, old, text)))
    return rendered


GROUP = 64  # files to render per group, when the models are kept


def _file_key(rank: int, env_plan: EnvironmentPlan) -> int:
    """A dependency's file in one environment, as one number: the record's rank times
    the number of environments, plus the environment's index."""
    return rank * len(env_plan.catalog.environments) + env_plan.index


def _groups(plan: Plan, actions: list[bytearray], wanted: tuple[int, ...]) -> list[array[int]]:
    """The (record, environment) pairs whose files are to be rendered, as keys
    (`_file_key`), grouped by catalog file in the files' order (and in groups of about
    GROUP when the models are kept)."""
    environments = plan.environments
    if not environments:
        return []
    records = [
        record
        for record in plan.records
        if any(actions[env.index][record.rank] in wanted for env in environments)
    ]
    groups: list[array[int]] = []
    last = -1
    for record in source_order(records):
        # A file's models read again are read by one process; kept ones are shared out.
        if record.source != last or (record.model is not None and len(groups[-1]) >= GROUP):
            groups.append(array("q"))
            last = record.source
        for env in environments:
            if actions[env.index][record.rank] in wanted:
                groups[-1].append(_file_key(record.rank, env))
    return groups


def _path(env_plan: EnvironmentPlan, dep: DependencyPlan) -> str:
    return layout.dependency_file(env_plan.name, env_plan.shard_of(dep), dep.name)


def _render_group(changes: Changes, group: array[int], write: bool, diff: bool) -> list[_Rendered]:
    """Renders one catalog file's dependency files (or some of them); (key, action, diff)
    of each whose action was to be rechecked or whose diff is asked for."""
    environments, records = changes.plan.environments, changes.plan.records
    rendered: list[_Rendered] = []
    made: set[str] = set()
    for key in group:
        env_plan = environments[key % len(environments)]
        dep = DependencyPlan(records[key // len(environments)], env_plan)
        path = _path(env_plan, dep)
        code = changes.actions[env_plan.index][dep.record.rank]
        text = changes.renderer.dependency(path, dep).rendered()
        old = None
        if code == RECHECK:
            old = read_text(changes.out, path)
            code = UNCHANGED if old == text else UPDATE
        if write and code != UNCHANGED:
            write_file(changes.out, path, text, made)
        shown = unified_diff(path, old, text) if diff and code != UNCHANGED else None
        if old is not None or shown is not None:
            rendered.append((key, code, shown))
    return rendered
