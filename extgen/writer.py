"""The dependency files' text without Jinja: the built-in templates, written in Python.

A dependency's file holds only Services, EndpointSlices and Endpoints, and rendering it
through `objects.yaml.j2` spends most of its time in Jinja's includes. `objects_text`
writes the same text, byte for byte, as plain string building; anything else (Argo CD
and Flux objects) returns None and keeps going through Jinja. Each function below says
which template it stands for; a change to a template must be made here too (the tests
compare both on the example catalog and on generated ones).

Every value goes through `quote`, exactly where the templates use `| q`. Port keys are
written as they are, as `ports.j2` does with `{{ key }}`. It stands for the built-in
templates only: a Renderer given a templates directory (which may override them) must
keep rendering through Jinja.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from extgen.manifest import Body, Manifest
from extgen.quoting import quote as _quote

Lines = list[str]
# The same few values (ports, protocols, labels, namespaces) come back in every file.
# typed: 1 and True are equal keys, but quote writes them differently.
quote = functools.lru_cache(maxsize=65536, typed=True)(_quote)


def _marker() -> str | None:
    """marker.j2's text, which objects.yaml.j2 includes first; None if it is a template."""
    text = importlib.resources.files("extgen.templates").joinpath("marker.j2").read_text("utf-8")
    # Jinja gives the text of a file without template syntax back as it is.
    return None if any(tag in text for tag in ("{{", "{%", "{#")) else text


MARKER_TEXT = _marker()


def objects_text(manifests: Sequence[Manifest]) -> str | None:
    """objects.yaml.j2 rendered with `manifests`, or None if one has another template."""
    if MARKER_TEXT is None:
        return None
    lines = [MARKER_TEXT]
    for manifest in manifests:
        writer = _WRITERS.get(manifest.template)
        if writer is None:
            return None
        lines.append("---\n")
        writer(lines, manifest.body)
    return "".join(lines)


def _service(lines: Lines, body: Body) -> None:
    """Service.yaml.j2"""
    spec = body["spec"]
    lines.append("apiVersion: v1\nkind: Service\n")
    _metadata(lines, body["metadata"])
    lines.append("spec:\n")
    for key in ("type", "externalName", "clusterIP"):
        if spec.get(key):
            lines.append(f"  {key}: {quote(spec[key])}\n")
    if spec.get("selector"):
        lines.append("  selector:\n")
        _pairs(lines, "    ", spec["selector"])
    if spec.get("ports"):
        lines.append("  ports:\n")
        _indented_ports(lines, "  ", spec["ports"])


def _endpoint_slice(lines: Lines, body: Body) -> None:
    """EndpointSlice.yaml.j2"""
    lines.append("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n")
    _metadata(lines, body["metadata"])
    lines.append(f"addressType: {quote(body['addressType'])}\nendpoints:\n")
    for endpoint in body["endpoints"]:
        lines.append(f"  - addresses: [{quote(endpoint['addresses'][0])}]\n")
    if body.get("ports"):
        lines.append("ports:\n")
        _ports(lines, "", body["ports"])


def _endpoints(lines: Lines, body: Body) -> None:
    """Endpoints.yaml.j2"""
    subset = body["subsets"][0]
    lines.append("apiVersion: v1\nkind: Endpoints\n")
    _metadata(lines, body["metadata"])
    lines.append("subsets:\n  - addresses:\n")
    for address in subset["addresses"]:
        lines.append(f"      - ip: {quote(address['ip'])}\n")
    if subset.get("ports"):
        lines.append("    ports:\n")
        _indented_ports(lines, "    ", subset["ports"])


def _metadata(lines: Lines, meta: Body) -> None:
    """metadata.j2"""
    lines.append(f"metadata:\n  name: {quote(meta['name'])}\n")
    lines.append(f"  namespace: {quote(meta['namespace'])}\n")
    if meta.get("labels"):
        lines.append("  labels:\n")
        _pairs(lines, "    ", meta["labels"])
    if meta.get("annotations"):
        lines.append("  annotations:\n")
        _pairs(lines, "    ", meta["annotations"])


def _pairs(lines: Lines, indent: str, pairs: Mapping[Any, Any]) -> None:
    for key, value in pairs.items():
        lines.append(f"{indent}{quote(key)}: {quote(value)}\n")


def _ports(lines: Lines, indent: str, ports: Sequence[Mapping[Any, Any]]) -> None:
    """ports.j2, every line after `indent`: a list item per port, a line per key."""
    for port in ports:
        lead = "- "
        for key, value in port.items():
            lines.append(f"{indent}  {lead}{key}: {quote(value)}\n")
            lead = "  "


def _indented_ports(lines: Lines, indent: str, ports: Sequence[Mapping[Any, Any]]) -> None:
    """ports.j2 through `{% filter indent(N, first=true) %}`.

    The filter indents every line that is not empty: ports.j2 writes none, and neither
    quoted values nor the port keys (the planner's field names) hold a line break, so
    that is `indent` before each line. But it also indents an empty block, to `indent`
    without a line break (ports that are all empty mappings; the planner writes none).
    """
    start = len(lines)
    _ports(lines, indent, ports)
    if len(lines) == start:
        lines.append(indent)


_WRITERS: dict[str, Callable[[Lines, Body], None]] = {
    "Service.yaml.j2": _service,
    "EndpointSlice.yaml.j2": _endpoint_slice,
    "Endpoints.yaml.j2": _endpoints,
}
