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
                    entries.append((f"{directory}/{dep.name}.yaml", ACTIONS[code]))
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


# (directory, its other changes, (environment, rank, code) of its dependency files)
_Judged = tuple[str, list[Change], list[tuple[int, int, int]]]


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
    for directory, others, codes in judged:
        if others:
            outcome.others[directory] = others
        for env_index, rank, code in codes:
            outcome.actions[env_index][rank] = code
    outcome.moved = _moves(outcome)
    return outcome


def _judge_directory(outcome: Outcome, found: Found, directory: str) -> _Judged:
    files = outcome.renderer.directory(outcome.plan, directory) if directory else {}
    changes = compare(outcome.out, files, found, defer=True, owned=found.owned_in(directory))
    others, codes = [], []
    for change in changes:
        file = files.get(change.path)
        dep = file.dependency if isinstance(file, PlannedFile) else None
        if dep is None or not (change.deferred or change.action == "unchanged"):
            others.append(change)  # rendered already: its own templates (NONE)
        else:
            code = PENDING if change.action == "update" else CODES[change.action]
            codes.append((dep.environment_plan.index, dep.record.rank, code))
    return directory, others, codes


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
    """Renders the dependency files that need it, in the order of the catalog's files,
    and writes them (`write`) or makes their diffs (`diff`); then, when writing, applies
    the other changes: writes, then deletions (`output.apply`)."""
    plan = outcome.plan
    wanted = (CREATE, PENDING) if write or diff else (PENDING,)
    groups = _groups(plan, outcome.actions, wanted)
    total = sum(len(group) for group in groups)

    def work(chunk: Sequence[list[int]]) -> list[list[tuple[int, int, str | None]]]:
        return [_settle_group(outcome, group, write, diff) for group in chunk]

    if total >= output.PARALLEL_WRITES:
        results = in_two_processes_or_stop(groups, work)
    else:
        results = work(groups)
    environments, records = plan.environments, plan.records
    for key, code, text in itertools.chain.from_iterable(results):
        env_plan = environments[key % len(environments)]
        outcome.actions[env_plan.index][key // len(environments)] = code
        if text is not None:
            dep = DependencyPlan(records[key // len(environments)], env_plan)
            outcome.diffs[_path(env_plan, dep)] = text
    if diff:
        for changes in outcome.others.values():
            for change in changes:
                if change.action != "unchanged":
                    outcome.diffs[change.path] = change.diff(outcome.out)
    if write:
        apply(outcome.out, itertools.chain.from_iterable(outcome.others.values()))


GROUP = 64  # files to render per group, when the models are kept


def _groups(plan: Plan, actions: list[bytearray], wanted: tuple[int, ...]) -> list[list[int]]:
    """The (record, environment) pairs whose files are to be rendered, as keys
    (rank * environments + index), grouped by catalog file in the files' order (and in
    groups of about GROUP when the models are kept)."""
    environments = plan.environments
    if not environments:
        return []
    count = len(environments)
    records = [
        record
        for record in plan.records
        if any(actions[env.index][record.rank] in wanted for env in environments)
    ]
    groups: list[list[int]] = []
    last = -1
    for record in source_order(records):
        # A file's models read again are read by one process; kept ones are shared out.
        if record.source != last or (record.model is not None and len(groups[-1]) >= GROUP):
            groups.append([])
            last = record.source
        for env in environments:
            if actions[env.index][record.rank] in wanted:
                groups[-1].append(record.rank * count + env.index)
    return groups


def _path(env_plan: EnvironmentPlan, dep: DependencyPlan) -> str:
    return dependency_path(env_plan.name, env_plan.shard_of(dep), dep.name)


def _settle_group(
    outcome: Outcome, group: list[int], write: bool, diff: bool
) -> list[tuple[int, int, str | None]]:
    """Renders one catalog file's dependency files (or some of them); (key, action, diff)
    of each whose action was pending or whose diff is asked for."""
    environments, records = outcome.plan.environments, outcome.plan.records
    settled = []
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
