"""OUT brought in line with a plan a directory at a time (its base, an environment, a
shard of one, a directory of delivery objects), so that memory grows with the catalog's
dependencies, not with the files of its output.

A render first judges every directory, read-only: what each file needs
(`output.compare`), every refusal raised before anything is written. What it keeps of a
dependency's file is one byte (`Outcome.actions`); the other changes of a directory (its
kustomization, its deletions) are kept as `Change`s, which are few. Then the dependency
files to write are rendered and written in the order of the catalog's files, so that a
catalog too large to keep its models unpickles each file's once (`Catalog.dependency`);
with many, two processes share them, file by file.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from extgen import output
from extgen.errors import ExtgenError
from extgen.halves import in_two_processes, in_two_processes_or_stop
from extgen.output import (
    Change,
    Found,
    apply,
    compare,
    read_text,
    unified_diff,
    write_file,
)
from extgen.plan import DependencyPlan, EnvironmentPlan, Plan, source_order
from extgen.render import KUSTOMIZATION, PlannedFile, Renderer, dependency_path

# What a dependency's file of an environment needs, by record (`Outcome.actions`); NONE:
# no file, or one already rendered, kept as a `Change` (a templates directory's).
NONE, UNCHANGED, CREATE, UPDATE, PENDING = range(5)
ACTIONS = {UNCHANGED: "unchanged", CREATE: "create", UPDATE: "update"}
CODES = {"unchanged": UNCHANGED, "create": CREATE}


@dataclass
class Outcome:
    """What a render does, or would do, to every file of OUT."""

    out: Path
    plan: Plan
    renderer: Renderer
    # Per environment, per record (in name order): the action on its file there. PENDING:
    # sealed for other inputs, an update unless rendering gives the same text.
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
                parent = directory.rpartition("/")[0]
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
        name, _, shard = directory.partition("/")
        for env_plan in self.plan.environments:
            if env_plan.name != name or (env_plan.shards > 1) != bool(shard):
                continue
            shards = env_plan.shard_directories()
            if shard and shard not in shards:
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


# (directory, its other changes, the keys of its dependency files (`_key`) and what each
# needs), compact to cross processes
_Judged = tuple[str, list[Change], "array[int]", bytes]


def judge(out: Path, plan: Plan, renderer: Renderer, found: Found) -> Outcome:
    """Every directory compared with OUT; raises, before anything is written, if any file
    extgen must write is unsafe to write (see `output.refuse_unsafe`).

    With many files, two processes share the directories (`in_two_processes`: judging
    only reads).
    """
    if out.exists() and not out.is_dir():
        raise ExtgenError(f"output {out} exists and is not a directory")
    records = plan.records
    outcome = Outcome(out, plan, renderer, [bytearray(len(records)) for _ in plan.environments])
    directories = sorted(set(renderer.directories(plan)) | set(found.sections))

    def work(chunk: Sequence[str]) -> list[_Judged]:
        return [_judge_directory(outcome, found, directory) for directory in chunk]

    if len(records) * len(plan.environments) >= output.PARALLEL_CHECKS:
        judged = in_two_processes(directories, work)
    else:
        judged = work(directories)
    count = len(plan.environments)
    for directory, others, keys, codes in judged:
        if others:
            outcome.others[directory] = others
        for key, code in zip(keys, codes, strict=True):
            outcome.actions[key % count][key // count] = code
    outcome.moved = _moves(outcome)
    return outcome


def _judge_directory(outcome: Outcome, found: Found, directory: str) -> _Judged:
    files = outcome.renderer.directory(outcome.plan, directory) if directory else {}
    changes = compare(outcome.out, files, found, defer=True, owned=found.owned_in(directory))
    others, keys, codes = [], array("q"), bytearray()
    for change in changes:
        file = files.get(change.path)
        dep = file.dependency if isinstance(file, PlannedFile) else None
        if dep is None or not (change.deferred or change.action == "unchanged"):
            # Rendered (and compared) already; kept without its text, which `settle`
            # renders again. A dependency's file here has its own templates (NONE).
            others.append(Change(change.path, change.action, None, None))
        else:
            keys.append(_key(dep.record.rank, dep.environment_plan))
            codes.append(PENDING if change.action == "update" else CODES[change.action])
    return directory, others, keys, bytes(codes)


def _moves(outcome: Outcome) -> dict[str, list[str]]:
    """Dependencies whose file leaves one shard of an environment for another."""
    deleted: dict[str, set[str]] = {}
    for changes in outcome.others.values():
        for change in changes:
            parts = change.path.split("/")
            if change.action == "delete" and len(parts) > 1 and parts[-1] != KUSTOMIZATION:
                deleted.setdefault(parts[0], set()).add(parts[-1].removesuffix(".yaml"))
    moved = {}
    for env_plan in outcome.plan.environments:
        gone = deleted.get(env_plan.name)
        if gone:
            actions = outcome.actions[env_plan.index]
            records = env_plan.catalog.records
            names = sorted(r.name for r in records if r.name in gone and actions[r.rank] == CREATE)
            if names:
                moved[env_plan.name] = names
    return moved


def settle(outcome: Outcome, *, write: bool, diff: bool = False) -> None:
    """Renders the files that need it and writes them (`write`) or makes their diffs
    (`diff`); when writing, deletes the files no longer produced, once all are written.

    The dependency files are rendered in the order of the catalog's files, the other
    files a directory at a time; with many, two processes share the work.
    """
    plan = outcome.plan
    wanted = (CREATE, PENDING) if write or diff else (PENDING,)
    items: list[tuple[str, array[int]]] = [
        ("", group) for group in _groups(plan, outcome.actions, wanted)
    ]
    if write or diff:
        items += [
            (directory, array("q"))
            for directory, changes in outcome.others.items()
            if any(change.action in ("create", "update") for change in changes)
        ]
    total = sum(len(group) or len(outcome.others[directory]) for directory, group in items)

    def work(chunk: Sequence[tuple[str, array[int]]]) -> list[list[_Settled]]:
        return [
            _settle_directory(outcome, directory, write, diff)
            if directory
            else _settle_group(outcome, group, write, diff)
            for directory, group in chunk
        ]

    if total >= output.PARALLEL_WRITES:
        results = in_two_processes_or_stop(items, work)
    else:
        results = work(items)
    environments, records = plan.environments, plan.records
    for key, code, text in itertools.chain.from_iterable(results):
        if isinstance(key, str):
            if text is not None:
                outcome.diffs[key] = text
            continue
        env_plan = environments[key % len(environments)]
        outcome.actions[env_plan.index][key // len(environments)] = code
        if text is not None:
            dep = DependencyPlan(records[key // len(environments)], env_plan)
            outcome.diffs[_path(env_plan, dep)] = text
    deletions = [c for changes in outcome.others.values() for c in changes if c.action == "delete"]
    if diff:
        for change in deletions:
            outcome.diffs[change.path] = change.diff(outcome.out)
    if write:
        apply(outcome.out, deletions)


# (a dependency file's key, or another file's path; its action; its diff, if asked for)
_Settled = tuple[int | str, int, str | None]


def _settle_directory(outcome: Outcome, directory: str, write: bool, diff: bool) -> list[_Settled]:
    """Renders again, and writes or diffs, the other files of one directory."""
    files = outcome.renderer.directory(outcome.plan, directory)
    settled: list[_Settled] = []
    made: set[str] = set()
    for change in outcome.others[directory]:
        if change.action not in ("create", "update"):
            continue
        text = files[change.path].text
        if write:
            write_file(outcome.out, change.path, text, made)
        if diff:
            old = read_text(outcome.out, change.path) if change.action == "update" else None
            settled.append((change.path, NONE, unified_diff(change.path, old, text)))
    return settled


GROUP = 64  # files to render per group, when the models are kept


def _key(rank: int, env_plan: EnvironmentPlan) -> int:
    """A dependency's file in one environment, as one number: the record's rank times
    the number of environments, plus the environment's index."""
    return rank * len(env_plan.catalog.environments) + env_plan.index


def _groups(plan: Plan, actions: list[bytearray], wanted: tuple[int, ...]) -> list[array[int]]:
    """The (record, environment) pairs whose files are to be rendered, as keys (`_key`),
    grouped by catalog file in the files' order (and in groups of about GROUP when the
    models are kept)."""
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
                groups[-1].append(_key(record.rank, env))
    return groups


def _path(env_plan: EnvironmentPlan, dep: DependencyPlan) -> str:
    return dependency_path(env_plan.name, env_plan.shard_of(dep), dep.name)


def _settle_group(outcome: Outcome, group: array[int], write: bool, diff: bool) -> list[_Settled]:
    """Renders one catalog file's dependency files (or some of them); (key, action, diff)
    of each whose action was pending or whose diff is asked for."""
    environments, records = outcome.plan.environments, outcome.plan.records
    settled: list[_Settled] = []
    made: set[str] = set()
    for key in group:
        env_plan = environments[key % len(environments)]
        dep = DependencyPlan(records[key // len(environments)], env_plan)
        path = _path(env_plan, dep)
        code = outcome.actions[env_plan.index][dep.record.rank]
        text = outcome.renderer.dependency(path, dep).rendered()
        old = None
        if code == PENDING:
            old = read_text(outcome.out, path)
            code = UNCHANGED if old == text else UPDATE
        if write and code != UNCHANGED:
            write_file(outcome.out, path, text, made)
        shown = unified_diff(path, old, text) if diff and code != UNCHANGED else None
        if old is not None or shown is not None:
            settled.append((key, code, shown))
    return settled
