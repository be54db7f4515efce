"""OUT's file system: what it holds (`scan`), whether a path may be written
(`refuse_unsafe`), atomic writes, deletions, and the lock.

Ownership: a file belongs to extgen when its first line carries the marker (`seal.py`).
Files without it are never changed or deleted, and extgen stops, before writing
anything, when it needs such a path. Symbolic links inside OUT are never followed. Each
file is written to a temporary file in its own directory and renamed over the old one,
so an interrupted render leaves every file either old or new.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from extgen.errors import ExtgenError
from extgen.seal import is_marked, stamp

TEMP_PREFIX = ".extgen-"
LOCK_NAME = ".extgen.lock"
LOCK_WAIT_SECONDS = 60.0


@dataclass
class Existing:
    """What OUT holds: the kind of every entry below it but extgen's files, and extgen's
    files known by their stamp (`seal.stamp`), by directory (relative to OUT, "" for OUT
    itself)."""

    kinds: dict[str, str]  # relative path -> "dir", "file" (not extgen's), "link" or "other"
    # directory -> pickled {file name: its stamp}
    directories: dict[str, bytes]

    def owned_in(self, directory: str) -> dict[str, bytes]:
        """extgen's files directly in a directory, by path, known by their stamp."""
        data = self.directories.get(directory)
        if data is None:
            return {}
        prefix = f"{directory}/" if directory else ""
        return {prefix + name: stamp for name, stamp in pickle.loads(data).items()}

    @property
    def owned(self) -> dict[str, bytes]:
        """extgen's files in every directory."""
        return {
            path: stamp for name in self.directories for path, stamp in self.owned_in(name).items()
        }


def scan(out: Path) -> Existing:
    """Every entry below OUT, without following links; each file is read at most once.

    A file's first bytes say whether it is extgen's (the marker line); only extgen's
    files are read to the end, and kept, pickled a directory at a time, as their stamp:
    enough to tell whether a file is current (`PlannedFile.is_current`). The text of the
    few that are not is read again when it is compared.
    """
    found = Existing({}, {})
    if not out.is_dir():
        return found
    pending = [("", os.fspath(out))]
    while pending:
        directory, path = pending.pop()
        prefix = f"{directory}/" if directory else ""
        owned: dict[str, bytes] = {}
        with os.scandir(path) as entries:
            for entry in entries:
                relative = prefix + entry.name
                if entry.is_symlink():
                    found.kinds[relative] = "link"
                elif entry.is_dir(follow_symlinks=False):
                    found.kinds[relative] = "dir"
                    pending.append((relative, entry.path))
                elif entry.is_file(follow_symlinks=False):
                    data = _read_if_owned(entry.path, entry.name)
                    if data is None:
                        found.kinds[relative] = "file"
                    else:
                        marker, _, rest = data.partition(b"\n")
                        owned[entry.name] = stamp(marker, rest)
                else:
                    found.kinds[relative] = "other"
        if owned:
            found.directories[directory] = pickle.dumps(owned, protocol=pickle.HIGHEST_PROTOCOL)
    return found


def read_text(out: Path, relative: str) -> str:
    path = os.path.join(out, relative)
    data = _read_if_owned(path, os.path.basename(path))
    if data is None:  # changed since the scan, which only a process ignoring the lock does
        raise ExtgenError(f"{path} changed while extgen was reading {out}; run it again")
    return data.decode("utf-8", "replace")


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FIRST_READ = 65536  # most files of extgen are read whole in one call


def _read_if_owned(path: str, name: str) -> bytes | None:
    """The bytes of a file extgen wrote (marker line or temporary name), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | _CLOEXEC)
    except OSError as error:  # replaced or removed while we looked
        raise ExtgenError(f"cannot read {path}: {error.strerror}") from None
    try:
        data = os.read(fd, _FIRST_READ)
        first = data.split(b"\n", 1)[0][:4096]
        if not (_is_temporary(name) or is_marked(first.decode("utf-8", "replace"))):
            return None
        if len(data) == _FIRST_READ:
            chunks = [data]
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            data = b"".join(chunks)
    finally:
        os.close(fd)
    return data


def _is_temporary(name: str) -> bool:
    # A render killed right after creating its temporary file leaves it empty, without
    # the marker; the name alone says it is extgen's, to be cleaned up.
    return name.startswith(TEMP_PREFIX) and name.endswith(".tmp")


def refuse_unsafe(out: Path, relative: str, kinds: Mapping[str, str]) -> None:
    """Stops when writing `relative`, which is not extgen's file, would follow a link or
    replace a file or directory not extgen's."""
    parts = relative.split("/")
    for depth in range(1, len(parts)):
        directory = "/".join(parts[:depth])
        kind = kinds.get(directory)
        if kind == "link":
            raise ExtgenError(
                f"{out / directory} is a symbolic link; extgen does not write through links"
            )
        if kind is not None and kind != "dir":
            raise ExtgenError(f"{out / directory} is a file where extgen needs a directory")
    kind = kinds.get(relative)
    if kind is None:
        return
    target = out / relative
    if kind == "link":
        raise ExtgenError(f"{target} is a symbolic link; extgen does not write through links")
    if kind == "dir":
        raise ExtgenError(f"{target} is a directory where extgen needs to write a file")
    raise ExtgenError(
        f"{target} was not written by extgen (no marker line); move it away or remove it,"
        " extgen never changes files it did not write"
    )


def delete(out: Path, paths: Iterable[str]) -> None:
    """Deletes files of OUT, and the directories they leave empty."""
    for relative in paths:
        file = out / relative
        try:
            # missing_ok: a temporary file left by a killed render may already have been
            # replaced by this render's own temporary file of the same name
            file.unlink(missing_ok=True)
            _remove_empty_parents(out, file.parent)
        except OSError as error:
            raise ExtgenError(f"cannot delete {file}: {error.strerror}") from None


def write_file(out: Path, relative: str, text: str, made: set[str]) -> None:
    """Writes one file of OUT atomically, making its directory unless it is in `made`
    (the directories known to exist, which it adds to)."""
    path = f"{os.fspath(out)}/{relative}"
    try:
        directory = os.path.dirname(path)
        if directory not in made:
            os.makedirs(directory, exist_ok=True)
            made.add(directory)
        _write_atomically(path, text.encode("utf-8"))
    except OSError as error:
        raise ExtgenError(f"cannot write {path}: {error.strerror}") from None


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC


def _write_atomically(path: str, data: bytes) -> None:
    """Writes a temporary file next to `path` and renames it over `path`.

    The file is created with mode 0o666 less the umask, as any new file. Only the
    render holding OUT's lock writes there, so a temporary file of the same name can
    only be left over from a killed render: it is replaced.
    """
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f"{TEMP_PREFIX}{name}.tmp")
    try:
        fd = os.open(temporary, _NEW_FILE, 0o666)
    except FileExistsError:
        os.unlink(temporary)
        fd = os.open(temporary, _NEW_FILE, 0o666)
    try:
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
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
