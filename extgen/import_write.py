"""The imported catalog as YAML a person would write: block style for the structure,
flow style for short leaves (`ports: [{name: http, port: 80}]` items, `labels: {a: b}`),
strings plain unless a YAML 1.1 or 1.2 reader could take them for something else."""

from __future__ import annotations

import re
from typing import Any

from extgen.quoting import quote
from extgen.yamlio import other_type

HEADER = "# Written by extgen import: review it, then run extgen validate and extgen render.\n"
WIDTH = 100
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/@-]*")
_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def scalar(value: Any) -> str:
    """A scalar every YAML 1.1 and 1.2 reader reads back as `value`: plain where a person
    would write it plain (`10.0.0.1`, `team@example.com`), else as `quote` writes it."""
    if isinstance(value, float):
        return repr(value)
    if value is None:
        return "null"
    text = value if isinstance(value, str) else None
    if text and _PLAIN.fullmatch(text) and text.lower() not in _WORDS and other_type(text) is None:
        return text
    return quote(value)


def flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(item) for item in value) + "]"
    return scalar(value)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    if isinstance(value, list | tuple):
        return 1 + max((_depth(item) for item in value), default=0)
    return 0


# Written in block style whatever their size: the structure a reader scans.
BLOCK_KEYS = frozenset({"environments", "dependencies", "targets"})


def block(value: Any, indent: int, key: str = "") -> list[str]:
    """The lines of a mapping or list written in block style at `indent`."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for name, item in value.items():
            lines.extend(_entry(f"{pad}{scalar(name)}:", item, indent, str(name)))
        return lines
    for item in value:
        if isinstance(item, dict) and (key == "dependencies" or not _fits(f"{pad}- ", item)):
            inner = block(item, indent + 2)
            lines.append(f"{pad}- {inner[0].lstrip()}")
            lines.extend(inner[1:])
        else:
            lines.append(f"{pad}- {flow(item)}")
    return lines


def _fits(prefix: str, value: Any) -> bool:
    return _depth(value) <= 2 and len(prefix) + len(flow(value)) <= WIDTH


def _entry(prefix: str, value: Any, indent: int, key: str) -> list[str]:
    if not isinstance(value, dict | list | tuple):
        return [f"{prefix} {scalar(value)}"]
    if not value:
        return [f"{prefix} {flow(value)}"]
    listing = isinstance(value, list | tuple) and any(isinstance(item, dict) for item in value)
    if key not in BLOCK_KEYS and not listing and _fits(prefix + " ", value):
        return [f"{prefix} {flow(value)}"]
    return [prefix, *block(value, indent + 2, key)]


def catalog_text(catalog: dict[str, Any]) -> str:
    """The catalog file: `environments:` then `dependencies:`."""
    lines = [HEADER.rstrip("\n")]
    for key in ("environments", "dependencies"):
        lines.extend(_entry(f"{key}:", catalog[key], 0, key))
    return "\n".join(lines) + "\n"
