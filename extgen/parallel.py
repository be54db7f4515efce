"""The one place where extgen works in two processes: this one and a forked child.

On two cores, a few steps whose work splits into items go faster with a second process
doing every other item (`split`): reading a large catalog's files, rendering and writing
many files, doctor's checks of many targets. Each is named by a site, so that
benchmarks/parallel.py (benchmarks/doctor.py for doctor) can measure it; a site is kept
only where that measurement shows it saves at least a fifth at 10,000 dependencies x 4
environments (benchmarks/RESULTS.md). Planning OUT's changes in two processes saved under
a tenth there and was dropped; the scan of OUT rides on the reading of the catalog
(`split`'s `meanwhile`) rather than in a child of its own.

One switch: EXTGEN_PROCESSES=1 runs everything in this process. Never nested: inside a
split, or in a child, every step runs in one process.
"""

from __future__ import annotations

import gc
import os
import pickle
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from extgen.errors import ExtgenError

Site = Literal["parse", "write", "doctor"]
SITES: tuple[Site, ...] = ("parse", "write", "doctor")
# The sites that run in one process: all of them with EXTGEN_PROCESSES=1 (benchmarks
# turn single sites off here).
off: set[str] = set(SITES) if os.environ.get("EXTGEN_PROCESSES") == "1" else set()
_inside = False  # in a split, or in a child: no second split

Item = TypeVar("Item")
Mine = TypeVar("Mine")


def enabled(site: Site) -> bool:
    return site not in off and not _inside and hasattr(os, "fork")


def _start_child(
    work: Callable[[], Any], failed: Callable[[BaseException], str]
) -> tuple[int, int]:
    """Forks a child that does `work()` and sends back ("done", its result), or ("error",
    a message): an ExtgenError's, else `failed(error)`; its pid and the pipe to read
    (`_child_result`).

    The child pickles onto the pipe as it goes (so that neither process holds the result
    twice) and leaves through os._exit: it never returns into the caller's code, so it
    cannot release a lock it shares or print.
    """
    global _inside
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        _inside = True
        os.close(reader)
        try:
            result: tuple[str, Any] = ("done", work())
        except ExtgenError as error:
            result = ("error", error.message)
        except BaseException as error:
            result = ("error", failed(error))
        try:
            with os.fdopen(writer, "wb") as pipe:
                pickle.dump(result, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            os._exit(0)
    os.close(writer)
    return pid, reader


def _child_result(pid: int, reader: int, stopped: str) -> tuple[str, Any]:
    """What a child of `_start_child` sent back, once it has stopped; ("error", `stopped`)
    if it stopped before it could."""
    with os.fdopen(reader, "rb") as pipe:
        try:
            kind, value = pickle.load(pipe)  # our own child's pickle, read as it comes
        except Exception:
            kind, value = "error", stopped
    os.waitpid(pid, 0)
    return kind, value


def _beside(theirs: Callable[[], Any], mine: Callable[[], Mine]) -> tuple[Mine, str, Any]:
    """`mine()` here while a forked child does `theirs()`: mine's result, then what the
    child sent back, ("done", its result) or ("error", a message), once it has stopped.
    Objects made before the fork are frozen out of the cyclic collector, so that the
    child does not copy every page by walking them."""
    global _inside
    gc.freeze()
    pid, reader = _start_child(theirs, lambda e: f"the second process failed: {e!r}")
    _inside = True
    try:
        own = mine()
    finally:
        _inside = False
        kind, received = _child_result(pid, reader, "the second process stopped")
    return own, kind, received


def split(
    site: Site,
    items: Sequence[Item],
    work: Callable[[Sequence[Item]], list[Any]],
    *,
    redo: bool = True,
    meanwhile: Callable[[], None] | None = None,
) -> list[Any]:
    """`work(items)`, with a forked child doing every other item when the site is on.

    `meanwhile`: the caller's own work, done by this process first (OUT's scan while the
    catalog is read); the items are then shared as each process comes free (`_shared`),
    so that the child does more of them.

    `redo`: if the child fails in any way, its items are done here, so that the result
    never depends on the second process. Work that must not be done twice (writing
    files) sets it False: a failure in either process then stops it all, the child's
    ExtgenError (any other error, as text) raised here once both have stopped.
    """
    if meanwhile is not None and 2 <= len(items) <= _MAX_TICKETS and enabled(site):
        return _shared(items, work, meanwhile, redo)
    if meanwhile is not None:
        meanwhile()
    if len(items) < 2 or not enabled(site):
        return work(items)
    theirs = items[1::2]
    mine, kind, received = _beside(lambda: work(theirs), lambda: work(items[0::2]))
    if not (kind == "done" and isinstance(received, list) and len(received) == len(theirs)):
        if not redo:
            raise ExtgenError(str(received))
        received = work(theirs)
    return [mine[i // 2] if i % 2 == 0 else received[i // 2] for i in range(len(items))]


# Tickets are item indices of 4 bytes in a pipe, written before the fork: no more than
# the pipe holds without a reader (64 KiB on Linux).
_MAX_TICKETS = 16_000


def _shared(
    items: Sequence[Item],
    work: Callable[[Sequence[Item]], list[Any]],
    meanwhile: Callable[[], None],
    redo: bool,
) -> list[Any]:
    """`work` on each item, by whichever process takes its ticket first: the child from
    the start, this process once `meanwhile()` is done. The child's items are done here
    if it fails (`redo`), as in `split`."""
    tickets, writer = os.pipe()
    os.write(writer, b"".join(index.to_bytes(4, "little") for index in range(len(items))))
    os.close(writer)  # once both have taken every ticket, a read finds the end

    def take() -> dict[int, Any]:
        done = {}
        while ticket := os.read(tickets, 4):  # one read takes one whole ticket
            if len(ticket) != 4:
                raise ExtgenError("a ticket of the second process came apart")
            index = int.from_bytes(ticket, "little")
            done[index] = work([items[index]])[0]
        return done

    def after_meanwhile() -> dict[int, Any]:
        meanwhile()
        return take()

    try:
        mine, kind, received = _beside(take, after_meanwhile)
    finally:
        os.close(tickets)
    if not (kind == "done" and isinstance(received, dict)):
        if not redo:
            raise ExtgenError(str(received))
        received = {}
    missing = [index for index in range(len(items)) if index not in mine and index not in received]
    if missing:
        received.update(zip(missing, work([items[index] for index in missing]), strict=True))
    return [mine[index] if index in mine else received[index] for index in range(len(items))]
