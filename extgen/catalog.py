"""Catalog files -> `Catalog`, with every problem reported at the YAML node that caused it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from extgen import k8s, policy
from extgen.errors import CatalogError, ExtgenError, Problem
from extgen.fields import is_scp_url
from extgen.halves import in_two_processes
from extgen.locate import allowed_keys, strip_tags
from extgen.model import Catalog, Dependency, Environment, Finding, GitOps
from extgen.yamlio import Document, Path, SourceScalar, YamlError, load_document

TOP_LEVEL_KEYS = ("environments", "dependencies", "gitops")
RESERVED_ENVIRONMENTS = frozenset({"base"})
RESERVED_DEPENDENCIES = frozenset({"kustomization"})
# Far above any real catalog (the benchmarks go to 50,000); it bounds time and memory.
MAX_DEPENDENCIES = 100_000


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


def read_catalog(root: FsPath) -> Catalog:
    sources = []
    for path in catalog_files(root):
        try:
            sources.append((str(path), path.read_text(encoding="utf-8")))
        except UnicodeDecodeError as error:
            raise ExtgenError(f"{path}: not UTF-8 text ({error.reason})") from None
        except OSError as error:
            raise ExtgenError(f"{path}: cannot read: {error.strerror}") from None
    return parse_catalog(sources)


def parse_catalog(sources: Iterable[tuple[str, str]]) -> Catalog:
    """(file name, text) pairs -> Catalog; raises CatalogError listing every problem."""
    builder = _Builder()
    for loaded in _load_documents(list(sources)):
        if isinstance(loaded, Document):
            builder.add(loaded)
        else:
            builder.problems.append(loaded)
    builder.check_targets()
    if builder.problems:
        raise CatalogError(builder.problems)
    return builder.catalog()


# Below this much YAML, a second process costs more than it saves.
PARALLEL_BYTES = 512 * 1024


def _load_documents(sources: list[tuple[str, str]]) -> list[Document | Problem]:
    """Each file's Document, or the problem that makes it unreadable, in order.

    A large catalog of several files is parsed by two processes (`in_two_processes`):
    the child sends its Documents back pickled (values, not the YAML nodes, which are
    composed again only if a position is needed).
    """
    size = sum(len(text) for _, text in sources)
    if size < PARALLEL_BYTES:
        return _load_all(sources)
    return in_two_processes(sources, _load_all)


def _load_all(sources: Sequence[tuple[str, str]]) -> list[Document | Problem]:
    return [_load(file, text) for file, text in sources]


def _load(file: str, text: str) -> Document | Problem:
    try:
        return load_document(text, file)
    except YamlError as error:
        return error.problem


@dataclass
class _Defined:
    value: Any  # the validated model; for an invalid one, None or its valid part
    document: Document
    path: Path
    # The environments its targets name, as written (the values themselves are let go).
    target_names: tuple[Any, ...] = ()
    invalid: frozenset[str] = frozenset()


@dataclass
class _Builder:
    problems: list[Problem] = field(default_factory=list)
    environments: dict[str, _Defined] = field(default_factory=dict)
    dependencies: dict[str, _Defined] = field(default_factory=dict)
    gitops: _Defined | None = None
    count: int = 0  # dependencies read so far, over all files

    def report(self, document: Document, findings: Iterable[Finding], prefix: Path) -> None:
        for path, message in findings:
            self.problems.append(Problem(document.position((*prefix, *path)), message))

    def add(self, document: Document) -> None:
        self.problems.extend(document.problems)
        data = document.data
        if data is None:
            return
        if not isinstance(data, dict):
            self.report(document, [((), _TOP_LEVEL_MESSAGE)], ())
            return
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                message = f"unknown top-level key {key!r}{_suggest(key, TOP_LEVEL_KEYS)}"
                self.problems.append(Problem(document.position((key,), key=True), message))
        self.add_environments(document, data.get("environments"))
        self.add_dependencies(document, data.get("dependencies"))
        if "gitops" in data:
            self.add_gitops(document, data["gitops"])
        document.drop_values()  # what is kept is in the models

    def add_gitops(self, document: Document, section: Any) -> None:
        path: Path = ("gitops",)
        if self.gitops is not None:
            earlier = self.gitops.document.position(path, key=True)
            message = f"'gitops' is defined twice (first at {earlier}); define it in one file"
            self.problems.append(Problem(document.position(path, key=True), message))
            return
        gitops = self.validate(GitOps, section, document, path)
        self.gitops = _Defined(gitops, document, path)
        if gitops is not None:
            self.report(document, _gitops_problems(gitops), path)

    def add_environments(self, document: Document, section: Any) -> None:
        if section is None:
            return
        if not isinstance(section, dict):
            self.report(
                document,
                [((), "'environments' must be a mapping of name: settings")],
                ("environments",),
            )
            return
        for name, settings in section.items():
            path = ("environments", name)
            if not self.check_environment_name(document, path, name):
                continue
            # An invalid environment still claims its name, so that targets naming it are
            # not also reported as naming an unknown environment.
            environment = self.validate(Environment, settings, document, path)
            self.define(
                self.environments, "environment", name, _Defined(environment, document, path)
            )
            if environment is not None:
                reasons = k8s.validate_annotation_keys_and_size(environment.annotations)
                self.report(document, [(("annotations",), r) for r in reasons], path)

    def check_environment_name(self, document: Document, path: Path, name: str) -> bool:
        reasons = k8s.is_dns1123_label(name)
        if name in RESERVED_ENVIRONMENTS:
            reasons = [f"{name!r} is reserved for the shared base of the output"]
        for reason in reasons:
            message = f"invalid environment name {name!r}: {reason}"
            self.problems.append(Problem(document.position(path, key=True), message))
        return not reasons

    def add_dependencies(self, document: Document, section: Any) -> None:
        if section is None:
            return
        if not isinstance(section, tuple):
            self.report(
                document, [((), "'dependencies' must be a list of dependencies")], ("dependencies",)
            )
            return
        for index, item in enumerate(section):
            path = ("dependencies", index)
            if self.count == MAX_DEPENDENCIES:
                message = f"the catalog has more than {MAX_DEPENDENCIES} dependencies"
                self.report(document, [((), message)], path)
                return
            self.count += 1
            dependency, invalid = self.validate_dependency(item, document, path)
            if dependency is not None:
                self.report(document, dependency.problems(invalid), path)
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str):
                # Even an invalid dependency claims its name and is checked against the
                # environments, so that one run reports all of its problems.
                targets = item.get("targets")
                names = tuple(targets) if isinstance(targets, dict) else ()
                defined = _Defined(dependency, document, path, names, invalid)
                self.define(self.dependencies, "dependency", name, defined)
            if isinstance(name, str) and name in RESERVED_DEPENDENCIES:
                message = f"{name!r} is reserved: it is the name of kustomize's own file"
                self.report(document, [(("name",), message)], path)

    def validate(self, model: type[BaseModel], data: Any, document: Document, path: Path) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                self.problems.append(_problem(model, detail, document, path))
            return None

    def validate_dependency(
        self, item: Any, document: Document, path: Path
    ) -> tuple[Dependency | None, frozenset[str]]:
        """The dependency, or, when parts of it are invalid, the rest of it.

        The rules between fields and the policy still judge the valid parts, so that one
        run reports every problem; the frozenset names the top-level keys left out.
        """
        try:
            return Dependency.model_validate(item), frozenset()
        except ValidationError as error:
            details = error.errors(include_url=False)
        for detail in details:
            self.problems.append(_problem(Dependency, detail, document, path))
        partial, invalid = _without_invalid(item, [tuple(d["loc"]) for d in details])
        try:
            return Dependency.model_validate(partial), invalid
        except ValidationError:
            return None, invalid

    def define(
        self,
        table: dict[str, _Defined],
        what: str,
        name: str,
        defined: _Defined,
    ) -> None:
        first = table.get(name)
        if first is None:
            table[name] = defined
            return
        document, path = defined.document, defined.path
        earlier = first.document.position(_name_path(first.path), key=what == "environment")
        message = f"{what} {name!r} is defined twice (first at {earlier})"
        here = document.position(_name_path(path), key=what == "environment")
        self.problems.append(Problem(here, message))

    def check_targets(self) -> None:
        """Rules between dependencies and environments, once all files are read."""
        names = sorted(self.environments)
        for defined in self.dependencies.values():
            for env_name in defined.target_names:
                if env_name not in self.environments:
                    hint = _suggest(env_name, names, listing="defined")
                    message = f"unknown environment {env_name!r}{hint}"
                    if not names:
                        message += " (no environments are defined)"
                    at = (*defined.path, "targets", env_name)
                    self.problems.append(Problem(defined.document.position(at, key=True), message))
            if isinstance(defined.value, Dependency):
                self.check_policy(defined)
        if self.gitops is not None and isinstance(self.gitops.value, GitOps):
            for name, environment in self.environments.items():
                findings = _delivery_name_problems(self.gitops.value, name)
                self.problems.extend(
                    Problem(environment.document.position(environment.path, key=True), message)
                    for message in findings
                )

    def check_policy(self, defined: _Defined) -> None:
        dependency: Dependency = defined.value
        for env_name, target in dependency.targets.items():
            environment = self.environments.get(env_name)
            if environment is not None and environment.value is not None and target is not None:
                findings = policy.target_problems(
                    dependency, env_name, environment.value, target, defined.invalid
                )
                self.report(defined.document, findings, defined.path)

    def catalog(self) -> Catalog:
        # Only called without problems, so every definition holds a validated model.
        environments = {name: self.environments[name].value for name in sorted(self.environments)}
        dependencies = tuple(self.dependencies[name].value for name in sorted(self.dependencies))
        gitops = self.gitops.value if self.gitops is not None else None
        return Catalog(environments=environments, dependencies=dependencies, gitops=gitops)


_TOP_LEVEL_MESSAGE = (
    "a catalog file must be a mapping with the keys 'environments', 'dependencies' and/or 'gitops'"
)
# The longest name a shard adds to an application's or Kustomization's name.
_SHARD_SUFFIX = "-shard-000"
# Argo CD and Flux put the application's name in a label value on every object they apply.
_MAX_DELIVERY_NAME = 63


def _gitops_problems(gitops: GitOps) -> Iterable[Finding]:
    if gitops.argocd is None and gitops.flux is None:
        yield (), "gitops needs 'argocd' and/or 'flux': the objects to write for delivery"
    flux = gitops.flux
    if flux is not None and flux.git_repository is None and is_scp_url(gitops.repository):
        yield (
            ("repository",),
            f"Flux's GitRepository needs an ssh:// or https:// URL, not {gitops.repository!r}"
            " (write ssh://user@host/path), or name an existing one in flux.gitRepository",
        )


def _delivery_name_problems(gitops: GitOps, environment: str) -> Iterable[str]:
    for tool, settings in (("Argo CD", gitops.argocd), ("Flux", gitops.flux)):
        if settings is None:
            continue
        name = f"{settings.name_prefix}{environment}{_SHARD_SUFFIX}"
        if len(name) > _MAX_DELIVERY_NAME:
            yield (
                f"the {tool} object names of environment {environment!r} (up to {name!r})"
                f" would be longer than {_MAX_DELIVERY_NAME} characters, which {tool} puts in"
                " a label value: shorten the environment name or namePrefix"
            )


# Stands in for an invalid name while the rest of a dependency is checked; never shown.
_PLACEHOLDER_NAME = "invalid-name"


def _without_invalid(item: Any, locs: list[Path]) -> tuple[Any, frozenset[str]]:
    """The dependency as written without its invalid parts, and the keys left out."""
    if not isinstance(item, dict) or any(len(loc) == 0 for loc in locs):
        return None, frozenset()
    partial = dict(item)
    targets = dict(item["targets"]) if isinstance(item.get("targets"), dict) else {}
    invalid = set()
    for loc in locs:
        key = str(loc[0])
        invalid.add(key)
        if key == "targets" and len(loc) > 1:
            targets.pop(str(loc[1]), None)
        elif key == "name":
            partial["name"] = _PLACEHOLDER_NAME
        elif key != "targets":
            partial.pop(key, None)
    partial["targets"] = targets
    return partial, frozenset(invalid)


def _name_path(path: Path) -> Path:
    return path if path[0] == "environments" else (*path, "name")


def _suggest(word: str, candidates: Iterable[str], *, listing: str = "") -> str:
    candidates = list(candidates)
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if listing and candidates:
        return f" ({listing}: {', '.join(candidates)})"
    return ""


def _problem(model: type[BaseModel], detail: Any, document: Document, prefix: Path) -> Problem:
    loc: Path = strip_tags(model, tuple(detail["loc"]))
    kind = detail["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = _suggest(key, allowed_keys(model, loc[:-1]), listing="expected one of")
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
