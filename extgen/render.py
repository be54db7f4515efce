"""Plan -> {relative path: text} through the jinja2 templates. Pure but for reading templates.

Every value enters the YAML through the `q` filter, which writes it as a double-quoted
YAML scalar (or a plain number or boolean), so no catalog value can change the structure
of a file. The rendered text is then parsed back and must equal the plan exactly.
"""

from __future__ import annotations

import importlib.resources
import re
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from extgen.errors import ExtgenError
from extgen.plan import COMMON_LABELS, DeliveryFile, EnvironmentPlan, Plan
from extgen.yamlio import parse_all

MARKER = "DO NOT EDIT"
BASE_DIR = "base"
KUSTOMIZATION = "kustomization.yaml"

# Strings that every YAML reader takes as strings when written plain: they start with a
# letter, hold no YAML indicator and are none of the words YAML 1.1 or 1.2 resolve.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9._/-]*")
_RESOLVED_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def is_marked(first_line: str) -> bool:
    """Whether a file's first line says extgen wrote it (and so owns it)."""
    return "extgen" in first_line and MARKER in first_line


def quote(value: Any) -> str:
    """A YAML scalar that every YAML 1.1 and 1.2 reader reads back as exactly `value`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, jinja2.Undefined):
        str(value)  # a StrictUndefined raises here, naming what is undefined
    if not isinstance(value, str):
        raise jinja2.TemplateRuntimeError(f"cannot quote {type(value).__name__} {value!r}")
    if _PLAIN.fullmatch(value) and value.lower() not in _RESOLVED_WORDS:
        return value
    return '"' + "".join(_escape(char) for char in value) + '"'


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    # Printable ASCII and the BMP characters every YAML reader accepts verbatim; the
    # rest (controls, line separators YAML 1.1 folds, BOM, astral) are escaped.
    if 0x20 <= code <= 0x7E or (0xA0 <= code <= 0xD7FF and code not in (0x2028, 0x2029)):
        return char
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


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
        autoescape=False,
    )
    env.filters["q"] = quote
    return env


class Renderer:
    def __init__(self, templates: Path | None = None) -> None:
        self.env = environment(templates)

    def render(self, plan: Plan) -> dict[str, str]:
        files = {f"{BASE_DIR}/{KUSTOMIZATION}": self.base()}
        for env_plan in plan.environments:
            files.update(self.environment_files(env_plan))
        files.update(self.delivery_files(plan.delivery))
        return files

    def delivery_files(self, delivery: tuple[DeliveryFile, ...]) -> dict[str, str]:
        """Argo CD and Flux objects, and per directory a kustomization that lists them."""
        files = {}
        directories: dict[str, list[str]] = {}
        for file in delivery:
            text = self.template("objects.yaml.j2", manifests=file.manifests)
            _check(file.path, text, [manifest.body for manifest in file.manifests])
            files[file.path] = text
            directory, name = file.path.rsplit("/", 1)
            directories.setdefault(directory, []).append(name)
        for directory, names in directories.items():
            path = f"{directory}/{KUSTOMIZATION}"
            files[path] = self.kustomization(path, names, [])
        return files

    def base(self) -> str:
        text = self.template("base.yaml.j2", labels=COMMON_LABELS)
        expected = {
            "apiVersion": "kustomize.config.k8s.io/v1alpha1",
            "kind": "Component",
            "labels": [
                {"pairs": COMMON_LABELS, "includeSelectors": False, "includeTemplates": False}
            ],
        }
        _check(f"{BASE_DIR}/{KUSTOMIZATION}", text, [expected])
        return text

    def environment_files(self, env_plan: EnvironmentPlan) -> dict[str, str]:
        files = {}
        shards: dict[str | None, list[str]] = {shard: [] for shard in env_plan.shard_directories()}
        for dep in env_plan.dependencies:
            shard = env_plan.shard_of(dep.name)
            path = "/".join(part for part in (env_plan.name, shard, f"{dep.name}.yaml") if part)
            text = self.template("objects.yaml.j2", manifests=dep.manifests)
            _check(path, text, [manifest.body for manifest in dep.manifests])
            files[path] = text
            shards.setdefault(shard, []).append(f"{dep.name}.yaml")
        entry = f"{env_plan.name}/{KUSTOMIZATION}"
        if env_plan.shards == 1:
            files[entry] = self.kustomization(entry, shards.get(None, []), [f"../{BASE_DIR}"])
            return files
        for shard, resources in shards.items():
            path = f"{env_plan.name}/{shard}/{KUSTOMIZATION}"
            files[path] = self.kustomization(path, resources, [f"../../{BASE_DIR}"])
        files[entry] = self.kustomization(entry, env_plan.shard_directories(), [])
        return files

    def kustomization(self, path: str, resources: list[str], components: list[str]) -> str:
        text = self.template("kustomization.yaml.j2", resources=resources, components=components)
        expected: dict[str, Any] = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
        }
        if resources:
            expected["resources"] = resources
        if components:
            expected["components"] = components
        _check(path, text, [expected])
        return text

    def template(self, name: str, **values: Any) -> str:
        try:
            text = self.env.get_template(name).render(**values)
        except jinja2.TemplateSyntaxError as error:
            raise ExtgenError(f"template {error.name}:{error.lineno}: {error.message}") from None
        except jinja2.TemplateError as error:
            raise ExtgenError(f"template {_template_line(error) or name}: {error}") from None
        if not is_marked(text.split("\n", 1)[0]):
            raise ExtgenError(f"template {name}: the first line must be the extgen marker")
        return text


def _template_line(error: BaseException) -> str | None:
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        if frame.filename.endswith(".j2"):
            return f"{Path(frame.filename).name}:{frame.lineno}"
    return None


def _check(path: str, text: str, expected: list[Mapping[str, Any]]) -> None:
    """The written text must read back as exactly the planned objects, nothing more."""
    try:
        documents = [doc for doc in parse_all(text) if doc is not None]
    except Exception as error:  # any parse failure is the same defect
        raise ExtgenError(f"rendered {path} is not valid YAML: {error}") from None
    if documents != expected:
        raise ExtgenError(
            f"rendered {path} does not read back as the planned objects"
            f" ({len(documents)} documents, {len(expected)} planned): check the templates"
        )
