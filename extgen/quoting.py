"""Every value extgen writes into YAML goes through `quote`: a scalar that every YAML 1.1
and 1.2 reader (PyYAML, kustomize, Argo CD, Flux) reads back as exactly that value, so
no catalog value can change the structure of a file."""

from __future__ import annotations

import re
from typing import Any

import jinja2

# Strings that every YAML reader takes as strings when written plain: they start with a
# letter, hold no YAML indicator and are none of the words YAML 1.1 or 1.2 resolve.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9._/-]*")
_RESOLVED_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
# Text that goes between double quotes as it is: printable ASCII but for '"' and '\\'.
_VERBATIM = re.compile(r"[ !#-\[\]-~]*")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


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
    if _VERBATIM.fullmatch(value):
        return f'"{value}"'
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
