"""Plan -> {relative path: text} through the jinja2 templates. Pure but for reading templates.

Every value enters the YAML through the `q` filter, which writes it as a double-quoted
YAML scalar (or a plain number or boolean), so no catalog value can change the structure
of a file. Text rendered by Jinja is then parsed back and must equal the plan exactly;
dependency files under the built-in templates are written by `extgen.writer` instead,
which the tests hold to the templates' bytes and to the plan (see `Renderer.text`).
Files are rendered only when their text is needed: a sealed file in OUT that is current
is neither planned nor rendered again (see `PlannedFile`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2

from extgen import __version__, layout
from extgen.errors import ExtgenError
from extgen.manifest import COMMON_LABELS, DeliveryFile, Manifest
from extgen.plan import DependencyPlan, EnvironmentPlan, Plan
from extgen.quoting import quote
from extgen.seal import has_seal, is_marked, matches, sealed
from extgen.writer import objects_text
from extgen.yamlio import core_value, parse_generated

# Changes whenever the same catalog and templates would give other text (planning,
# quoting, sealing): files in OUT are then rendered again even where their seal matched.
# tests/test_render_format.py fails when the output changes and this number does not.
RENDER_FORMAT = 6
OBJECTS_TEMPLATE = "objects.yaml.j2"


def environment(templates: Path | None = None) -> jinja2.Environment:
    default = importlib.resources.files("extgen.templates")
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(default))]
    if templates is not None:
        if not templates.is_dir():
            raise ExtgenError(f"templates directory {str(templates)!r} does not exist")
        loaders.insert(0, jinja2.FileSystemLoader(str(templates)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates do not change during a run: no stat per include
        autoescape=False,
    )
    env.filters["q"] = quote
    return env


# Not frozen: one per file, and a frozen __init__ costs twice as much; slots: 400,000 of
# them for the largest catalog.
@dataclass(eq=False, slots=True)
class PlannedFile:
    """One output file before it is rendered: its template, and how to plan its documents.

    Its fingerprint digests everything the text is rendered from: extgen's version and
    render format, the templates, the path, and either the planned documents or, for a
    dependency's file, the catalog settings they are planned from (cheaper: the documents
    are then planned only when the file has to be rendered). The rendered file carries a
    seal on its marker line, a digest of the fingerprint and the text below that line: a
    file in OUT whose seal matches is known to be current without planning or rendering
    it, and a file edited by hand no longer matches.
    """

    renderer: Renderer
    path: str
    template: str
    # The template's values and the documents the text must read back as, made when
    # needed; for a dependency's file, None: they are made from `dependency`.
    make_values: Callable[[], tuple[Mapping[str, Any], tuple[Mapping[str, Any], ...]]] | None
    # For a dependency's file: what its documents are planned from, cheaper to digest.
    dependency: DependencyPlan | None = None
    _fingerprint: bytes | None = field(default=None, init=False, repr=False)
    _text: str | None = field(default=None, init=False, repr=False)

    def make(self) -> tuple[Mapping[str, Any], tuple[Mapping[str, Any], ...]]:
        if self.make_values is not None:
            return self.make_values()
        assert self.dependency is not None
        manifests = self.dependency.make_manifests()
        return {"manifests": manifests}, tuple(manifest.body for manifest in manifests)

    @property
    def renders_safely(self) -> bool:
        """Whether rendering cannot fail: a dependency's file, with the built-in templates."""
        return self.dependency is not None and self.renderer.writer is not None

    @property
    def fingerprint(self) -> bytes:
        """Made once and kept."""
        if self._fingerprint is None:
            self._fingerprint = self._make_fingerprint()
        return self._fingerprint

    def _make_fingerprint(self) -> bytes:
        if self.dependency is not None:
            where = f"{len(self.path)}:{self.path} {self.template}"
            return self.dependency.inputs_digest(self.renderer.inputs_seed, where)
        payload = json.dumps([self.path, self.template, self.make()[1]], ensure_ascii=False)
        return hashlib.sha256(self.renderer.digest + payload.encode("utf-8")).digest()

    @property
    def text(self) -> str:
        """Renders the file (see `Renderer.text`) and seals it; the text is kept."""
        if self._text is None:
            self._text = self.rendered()
        return self._text

    def rendered(self) -> str:
        """The text, kept from before if it was, else rendered now and not kept: a file
        that is only written needs its text no longer than that."""
        if self._text is not None:
            return self._text
        values, expected = self.make()  # made here, not kept
        text = self.renderer.text(self.path, self.template, values, expected)
        return sealed(text, self.fingerprint)

    def is_current(self, file_stamp: bytes) -> bool:
        """Whether a file in OUT, known by its stamp (`seal.stamp`), is exactly what
        rendering this file would give."""
        return matches(self.fingerprint, file_stamp)


class Renderer:
    def __init__(self, templates: Path | None = None) -> None:
        self.env = environment(templates)
        # A templates directory may override the built-in templates that writer.py
        # stands for: then every file goes through Jinja.
        self.writer: Callable[[Sequence[Manifest]], str | None] | None = (
            objects_text if templates is None else None
        )

    def text(
        self,
        path: str,
        template: str,
        values: Mapping[str, Any],
        expected: Sequence[Mapping[str, Any]],
    ) -> str:
        """A file's text, unsealed; it reads back as exactly the `expected` documents.

        With the built-in templates, a dependency's file is written by extgen.writer,
        which tests prove to give the templates' bytes and to read back as the plan on
        generated catalogs. Every other file, and every file when a templates directory
        is given, is rendered by Jinja and parsed back here: a template of one's own can
        write anything.
        """
        if self.writer is not None and template == OBJECTS_TEMPLATE:
            text = self.writer(values["manifests"])
            if text is not None:
                return text
        text = self.template(template, **values)
        _check(path, text, list(expected))
        return text

    @cached_property
    def digest(self) -> bytes:
        """What every file's text depends on besides its own plan: extgen and its templates."""
        digest = hashlib.sha256(f"extgen {__version__} {RENDER_FORMAT}".encode())
        loader = self.env.loader
        assert loader is not None
        for name in sorted(n for n in loader.list_templates() if n.endswith(".j2")):
            source, _, _ = loader.get_source(self.env, name)
            digest.update(f"{len(name)}:{name}{len(source)}:{source}".encode())
        return digest.digest()

    @cached_property
    def inputs_seed(self) -> bytes:
        """Where the fingerprint of a dependency's file starts (see DependencyPlan)."""
        return self.digest + b"inputs"

    def directories(self, plan: Plan) -> list[str]:
        """Every directory of OUT that holds files of the plan, relative to OUT."""
        names = [layout.BASE_DIR]
        for env_plan in plan.environments:
            names.append(layout.environment_directory(env_plan.name))
            names += [
                layout.environment_directory(env_plan.name, shard)
                for shard in env_plan.shard_directories()
            ]
        names += sorted({layout.directory_of(file.path) for file in plan.delivery})
        return names

    def directory(self, plan: Plan, directory: str) -> dict[str, PlannedFile]:
        """The files of the plan directly in one directory of OUT (none for one that
        holds none, see `directories`)."""
        if directory == layout.BASE_DIR:
            return {layout.kustomization_file(layout.BASE_DIR): self.base()}
        if layout.is_delivery(directory):
            files = self.delivery_files(plan.delivery)
            return {
                path: file for path, file in files.items() if layout.directory_of(path) == directory
            }
        name, shard = layout.split_directory(directory)
        for env_plan in plan.environments:
            if env_plan.name == name:
                shards = env_plan.shard_directories()
                if shard is None:
                    return self.environment_directory(env_plan, None)
                if shard in shards:
                    return self.environment_directory(env_plan, shards.index(shard))
        return {}

    def render(self, plan: Plan) -> dict[str, str]:
        """Every file, rendered."""
        return {path: file.text for path, file in self.planned(plan).items()}

    def planned(self, plan: Plan) -> dict[str, PlannedFile]:
        """Every file, to be rendered when its text is needed."""
        files = {layout.kustomization_file(layout.BASE_DIR): self.base()}
        for env_plan in plan.environments:
            files.update(self.environment_files(env_plan))
        files.update(self.delivery_files(plan.delivery))
        return files

    def file(
        self, path: str, template: str, expected: Sequence[Mapping[str, Any]], **values: Any
    ) -> PlannedFile:
        planned = (values, tuple(expected))
        return PlannedFile(self, path, template, lambda: planned)

    def objects(self, path: str, manifests: tuple[Manifest, ...]) -> PlannedFile:
        bodies = [manifest.body for manifest in manifests]
        return self.file(path, OBJECTS_TEMPLATE, bodies, manifests=manifests)

    def dependency(self, path: str, dep: DependencyPlan) -> PlannedFile:
        """A dependency's file, fingerprinted by its inputs: planned only if rendered."""
        return PlannedFile(self, path, OBJECTS_TEMPLATE, None, dep)

    def delivery_files(self, delivery: tuple[DeliveryFile, ...]) -> dict[str, PlannedFile]:
        """Argo CD and Flux objects, and per directory a kustomization that lists them."""
        files = {}
        directories: dict[str, list[str]] = {}
        for file in delivery:
            files[file.path] = self.objects(file.path, file.manifests)
            directory, name = file.path.rsplit("/", 1)
            directories.setdefault(directory, []).append(name)
        for directory, names in directories.items():
            path = layout.kustomization_file(directory)
            files[path] = self.kustomization(path, names, [])
        return files

    def base(self) -> PlannedFile:
        expected = {
            "apiVersion": "kustomize.config.k8s.io/v1alpha1",
            "kind": "Component",
            "labels": [
                {"pairs": COMMON_LABELS, "includeSelectors": False, "includeTemplates": False}
            ],
        }
        path = layout.kustomization_file(layout.BASE_DIR)
        return self.file(path, "base.yaml.j2", [expected], labels=COMMON_LABELS)

    def environment_files(self, env_plan: EnvironmentPlan) -> dict[str, PlannedFile]:
        """Every file of an environment."""
        files = self.environment_directory(env_plan, None)
        for index in range(len(env_plan.shard_directories())):
            files.update(self.environment_directory(env_plan, index))
        return files

    def environment_directory(
        self, env_plan: EnvironmentPlan, shard: int | None
    ) -> dict[str, PlannedFile]:
        """The files directly in an environment's directory (`shard` None) or in one of
        its shards': the dependencies' files and the kustomization that lists them."""
        if shard is None and env_plan.shards > 1:
            entry = layout.kustomization_file(layout.environment_directory(env_plan.name))
            return {entry: self.kustomization(entry, env_plan.shard_directories(), [])}
        name = None if shard is None else layout.shard_directory(shard)
        files = {}
        resources = []
        directory = layout.environment_directory(env_plan.name, name)
        for extra in env_plan.files:  # the environment's own files, e.g. its Namespaces
            if layout.directory_of(extra.path) == directory:
                files[extra.path] = self.objects(extra.path, extra.manifests)
                resources.append(extra.path.rpartition("/")[2])
        own = env_plan.environment_manifests() if not shard else []
        if own:  # in the environment's first kustomization, which every deployment builds
            path = layout.environment_file(env_plan.name, name)
            files[path] = self.objects(path, tuple(own))
            resources.append(layout.ENVIRONMENT_FILE)
        for dep in env_plan.shard_members(shard or 0):
            path = layout.dependency_file(env_plan.name, name, dep.name)
            files[path] = self.dependency(path, dep)
            resources.append(f"{dep.name}.yaml")
        path = layout.kustomization_file(directory)
        files[path] = self.kustomization(path, resources, [layout.base_reference(name)])
        return files

    def kustomization(self, path: str, resources: list[str], components: list[str]) -> PlannedFile:
        expected: dict[str, Any] = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
        }
        if resources:
            expected["resources"] = resources
        if components:
            expected["components"] = components
        values = {"resources": resources, "components": components}
        return self.file(path, "kustomization.yaml.j2", [expected], **values)

    def template(self, name: str, **values: Any) -> str:
        try:
            text = self.env.get_template(name).render(**values)
        except jinja2.TemplateSyntaxError as error:
            raise ExtgenError(f"template {error.name}:{error.lineno}: {error.message}") from None
        except jinja2.TemplateError as error:
            raise ExtgenError(f"template {_template_line(error) or name}: {error}") from None
        first = text.split("\n", 1)[0]
        if "\n" not in text or not is_marked(first) or has_seal(first):
            raise ExtgenError(f"template {name}: the first line must be the extgen marker")
        return text


def _template_line(error: BaseException) -> str | None:
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        if frame.filename.endswith(".j2"):
            return f"{Path(frame.filename).name}:{frame.lineno}"
    return None


@functools.lru_cache(maxsize=65536)
def _canonical_plain(text: str) -> Any:
    """The value of a plain scalar in rendered text, which must be as `quote` writes it.

    `quote` writes plain only what every YAML 1.1 and 1.2 reader reads alike; a plain
    scalar in any other form (from a template's own text, say) could be read otherwise
    by some reader, and is refused.
    """
    value = core_value(text)
    try:
        canonical = quote(value) == text
    except jinja2.TemplateRuntimeError:  # null, a float: quote never writes them
        canonical = False
    if not canonical:
        raise ValueError(f"plain scalar {text!r} could be read otherwise; quote it")
    return value


def _check(path: str, text: str, expected: list[Mapping[str, Any]]) -> None:
    """The written text must read back as exactly the planned objects, nothing more."""
    try:
        documents = parse_generated(text, _canonical_plain)
    except Exception as error:  # any parse failure is the same defect
        raise ExtgenError(f"rendered {path} is not valid YAML: {error}") from None
    if documents != expected:
        raise ExtgenError(
            f"rendered {path} does not read back as the planned objects"
            f" ({len(documents)} documents, {len(expected)} planned): check the templates"
        )
