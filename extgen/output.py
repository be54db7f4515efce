"""Compare rendered files with OUT, then report or write them safely.

Ownership: a file belongs to extgen when its first line carries the marker. Files without
it are never changed or deleted, and extgen stops, before writing anything, when it needs
such a path. Symbolic links inside OUT are never followed. Each file is written to a
temporary file in its own directory and renamed over the old one, so an interrupted
render leaves every file either old or new.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from extgen.errors import ExtgenError
from extgen.render import PlannedFile, is_marked

Action = Literal["create", "update", "delete", "unchanged"]
TEMP_PREFIX = ".extgen-"
LOCK_NAME = ".extgen.lock"
LOCK_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Change:
    path: str  # relative to OUT, with '/'
    action: Action
    old: str | None
    new: str | None

    def diff(self) -> str:
        old = (self.old or "").splitlines(keepends=True)
        new = (self.new or "").splitlines(keepends=True)
        before = "/dev/null" if self.old is None else f"a/{self.path}"
        after = "/dev/null" if self.new is None else f"b/{self.path}"
        return "".join(difflib.unified_diff(old, new, before, after))


def moves(changes: Iterable[Change]) -> dict[str, list[str]]:
    """Per environment, the files that leave one directory for another (shard changes).

    Such a file's objects pass from one kustomization to another, and so from one Argo CD
    application or Flux Kustomization to another.
    """
    deleted, created = set(), set()
    for change in changes:
        parts = change.path.split("/")
        # Only environments have shards; "_gitops" and "base" are no environments.
        if parts[-1] == "kustomization.yaml" or len(parts) < 2 or parts[0].startswith("_"):
            continue
        if change.action == "delete":
            deleted.add((parts[0], parts[-1], change.path))
        elif change.action == "create":
            created.add((parts[0], parts[-1], change.path))
    gone = {(env, name) for env, name, _ in deleted}
    result: dict[str, list[str]] = {}
    for env, name, _ in sorted(created):
        if (env, name) in gone:
            result.setdefault(env, []).append(name.removesuffix(".yaml"))
    return result


def _first_line(path: Path) -> str:
    with path.open("rb") as handle:
        return handle.readline(4096).decode("utf-8", "replace")


def _owned_files(out: Path) -> dict[str, str]:
    """The text of every regular file below OUT that extgen wrote, without following links.

    Each file is read once: its first line says whether it is extgen's, and the rest is
    what render compares with.
    """
    owned: dict[str, str] = {}
    root = os.fspath(out)
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        prefix = os.path.relpath(directory, root).replace(os.sep, "/")
        prefix = "" if prefix == "." else prefix + "/"
        for name in sorted(filenames):
            path = os.path.join(directory, name)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            with open(path, "rb") as handle:
                first = handle.readline(4096)
                if _is_temporary(name) or is_marked(first.decode("utf-8", "replace")):
                    data = first + handle.read()
                    owned[prefix + name] = data.decode("utf-8", "replace")
    return owned


def _is_temporary(name: str) -> bool:
    # A render killed right after creating its temporary file leaves it empty, without
    # the marker; the name alone says it is extgen's, to be cleaned up.
    return name.startswith(TEMP_PREFIX) and name.endswith(".tmp")


def _refuse_unsafe(out: Path, relative: str, safe: set[str]) -> None:
    """Stops when writing `relative` would follow a link or replace a file not ours.

    `safe` holds the directories (relative to OUT) already found to be real directories
    or absent, so that each is looked at once however many files go into it.
    """
    parts = relative.split("/")
    for depth in range(1, len(parts)):
        directory = "/".join(parts[:depth])
        if directory in safe:
            continue
        current = out / directory
        if current.is_symlink():
            raise ExtgenError(f"{current} is a symbolic link; extgen does not write through links")
        if current.exists() and not current.is_dir():
            raise ExtgenError(f"{current} is a file where extgen needs a directory")
        safe.add(directory)
    target = out / relative
    if target.is_symlink():
        raise ExtgenError(f"{target} is a symbolic link; extgen does not write through links")
    if target.is_dir():
        raise ExtgenError(f"{target} is a directory where extgen needs to write a file")
    if target.exists() and not is_marked(_first_line(target)):
        raise ExtgenError(
            f"{target} was not written by extgen (no marker line); move it away or remove it,"
            " extgen never changes files it did not write"
        )


def compare(out: Path, files: Mapping[str, str | PlannedFile]) -> list[Change]:
    """What writing `files` into OUT would do, file by file; raises before any harm.

    A planned file is rendered only when OUT does not already hold it, sealed and current.
    """
    if out.exists() and not out.is_dir():
        raise ExtgenError(f"output {out} exists and is not a directory")
    owned = _owned_files(out) if out.is_dir() else {}
    changes = []
    safe: set[str] = set()
    for relative in sorted(files):
        file = files[relative]
        if relative not in owned:
            _refuse_unsafe(out, relative, safe)
            changes.append(Change(relative, "create", None, _text(file)))
            continue
        old = owned[relative]
        if isinstance(file, PlannedFile) and file.is_current(old):
            changes.append(Change(relative, "unchanged", old, old))
            continue
        new = _text(file)
        changes.append(Change(relative, "unchanged" if old == new else "update", old, new))
    for relative in sorted(set(owned) - set(files)):
        old = owned[relative]
        changes.append(Change(relative, "delete", old, None))
    return changes


def _text(file: str | PlannedFile) -> str:
    return file if isinstance(file, str) else file.text


def apply(out: Path, changes: Iterable[Change]) -> None:
    """Writes creations and updates atomically, then deletes stale files and empty dirs."""
    changes = [change for change in changes if change.action != "unchanged"]
    mode = _file_mode()
    for change in changes:
        path = out / change.path
        try:
            if change.action in ("create", "update") and change.new is not None:
                _write_atomically(path, change.new, mode)
        except OSError as error:
            raise ExtgenError(f"cannot write {path}: {error.strerror}") from None
    for change in changes:
        if change.action != "delete":
            continue
        path = out / change.path
        try:
            path.unlink()
            _remove_empty_parents(out, path.parent)
        except OSError as error:
            raise ExtgenError(f"cannot delete {path}: {error.strerror}") from None


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write_atomically(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text.encode("utf-8"))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _remove_empty_parents(out: Path, directory: Path) -> None:
    while directory != out and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


@contextlib.contextmanager
def locked(out: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Holds OUT's lock, so that two renders into one OUT never interleave.

    The lock is an flock on OUT/.extgen.lock: the kernel releases it when its holder
    exits, however it exits, so a stale lock cannot block anyone. The file is removed on
    release, so it never ends up in a commit.
    """
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExtgenError(f"cannot create the output directory {out}: {error.strerror}") from None
    path = out / LOCK_NAME
    deadline = time.monotonic() + wait
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        if _try_lock(fd, path):
            break
        os.close(fd)
        if time.monotonic() > deadline:
            raise ExtgenError(
                f"another extgen render is writing {out} (lock {path}); waited {wait:.0f} s"
            )
        time.sleep(0.05)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
        if created:  # a render that stopped before writing leaves no empty OUT behind
            with contextlib.suppress(OSError):
                out.rmdir()


def _try_lock(fd: int, path: Path) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    # The holder before us may have removed the file after we opened it: our lock is
    # then on a file nobody else will find, so start again.
    try:
        same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        fcntl.flock(fd, fcntl.LOCK_UN)
    return same
