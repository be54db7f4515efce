"""Work done by two processes, this one and a forked child: work that splits cleanly into
items, and work started in a child to be collected later (`start_child`)."""

from __future__ import annotations

import gc
import os
import pickle
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from extgen.errors import ExtgenError

Item = TypeVar("Item")


def start_child(work: Callable[[], Any], failed: Callable[[BaseException], str]) -> tuple[int, int]:
    """Forks a child that does `work()` and sends back ("done", its result), or ("error",
    a message): an ExtgenError's, else `failed(error)`; its pid and the pipe to read
    (`child_result`).

    The child pickles onto the pipe as it goes (so that neither process holds the result
    twice) and leaves through os._exit: it never returns into the caller's code, so it
    cannot release a lock it shares or print.
    """
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
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


def child_result(pid: int, reader: int, stopped: str) -> tuple[str, Any]:
    """What a child of `start_child` sent back, once it has stopped; ("error", `stopped`)
    if it stopped before it could."""
    with os.fdopen(reader, "rb") as pipe:
        try:
            kind, value = pickle.load(pipe)  # our own child's pickle, read as it comes
        except Exception:
            kind, value = "error", stopped
    os.waitpid(pid, 0)
    return kind, value


def in_two_processes(
    items: Sequence[Item], work: Callable[[Sequence[Item]], list[Any]]
) -> list[Any]:
    """`work(items)`, with a forked child doing every other item.

    If the child fails in any way, its items are done here: the result never depends on
    the second process. Objects made before the fork are frozen out of the cyclic
    collector, so that the child does not copy every page by walking them.
    """
    return _in_two_processes(items, work, redo=True)


def in_two_processes_or_stop(
    items: Sequence[Item], work: Callable[[Sequence[Item]], list[Any]]
) -> list[Any]:
    """`work(items)`, with a forked child doing every other item, for work that must not
    be done twice (writing files): a failure in either process stops it all.

    The child's ExtgenError (any other error, as text) is raised here once both have
    stopped; an error here is raised once the child has stopped.
    """
    return _in_two_processes(items, work, redo=False)


def _in_two_processes(
    items: Sequence[Item], work: Callable[[Sequence[Item]], list[Any]], redo: bool
) -> list[Any]:
    if len(items) < 2 or not hasattr(os, "fork"):
        return work(items)
    theirs = items[1::2]
    gc.freeze()
    pid, reader = start_child(lambda: work(theirs), lambda e: f"the second process failed: {e!r}")
    kind: str = "error"
    received: Any = "the second process stopped"
    try:
        mine = work(items[0::2])
    finally:
        kind, received = child_result(pid, reader, "the second process stopped")
    if not (kind == "done" and isinstance(received, list) and len(received) == len(theirs)):
        if not redo:
            raise ExtgenError(str(received))
        received = work(theirs)
    return [mine[i // 2] if i % 2 == 0 else received[i // 2] for i in range(len(items))]
