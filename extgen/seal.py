"""The marker line that begins every file extgen writes: it says the file is extgen's
(ownership: only such files are ever changed or deleted) and carries the file's seal.

The seal is 16 hex digits, a digest of the file's fingerprint (everything its text is
rendered from: see `render.PlannedFile`) and of the text below the marker line. A file
in OUT is known by its stamp: the digest of that text and the seal read from the marker
(24 bytes, however long the file). A file whose stamp matches the fingerprint of what
would be rendered there is current without rendering it; a hand edit breaks the match.
"""

from __future__ import annotations

import hashlib
import re

MARKER = "DO NOT EDIT"
SEAL_DIGITS = 16
_TEXT_DIGEST_SIZE = 16
_SEAL = re.compile(rf" \[extgen:([0-9a-f]{{{SEAL_DIGITS}}})\]$")
_SEAL_BYTES = re.compile(rb" \[extgen:([0-9a-f]{%d})\]\Z" % SEAL_DIGITS)


def is_marked(first_line: str) -> bool:
    """Whether a file's first line says extgen wrote it (and so owns it)."""
    return "extgen" in first_line and MARKER in first_line


def has_seal(first_line: str) -> bool:
    return _SEAL.search(first_line) is not None


def sealed(text: str, fingerprint: bytes) -> str:
    """`text` (a marker line and the rest) with the seal added to its marker line."""
    marker, rest = text.split("\n", 1)
    seal = _seal(fingerprint, _text_digest(rest.encode("utf-8")))
    return f"{marker} [extgen:{seal.hex()}]\n{rest}"


def stamp(marker: bytes, rest: bytes) -> bytes:
    """What a file in OUT is judged current by: the digest of its text below the marker
    line, then the seal at the end of that line, if any."""
    found = _SEAL_BYTES.search(marker)
    return _text_digest(rest) + (bytes.fromhex(found.group(1).decode()) if found else b"")


def matches(fingerprint: bytes, file_stamp: bytes) -> bool:
    """Whether a file in OUT, known by its stamp, is exactly what rendering a file of
    this fingerprint would give."""
    text_digest, seal = file_stamp[:_TEXT_DIGEST_SIZE], file_stamp[_TEXT_DIGEST_SIZE:]
    return len(seal) == SEAL_DIGITS // 2 and seal == _seal(fingerprint, text_digest)


def _text_digest(rest: bytes) -> bytes:
    return hashlib.blake2b(rest, digest_size=_TEXT_DIGEST_SIZE).digest()


def _seal(fingerprint: bytes, text_digest: bytes) -> bytes:
    return hashlib.sha256(fingerprint + text_digest).digest()[: SEAL_DIGITS // 2]
