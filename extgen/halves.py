"""Work that splits cleanly into items, done by two processes: this one and a forked child."""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from extgen.errors import ExtgenError

Item = TypeVar("Item")


def in_two_processes(
    items: Sequence[Item], work: Callable[[Sequence[Item]], list[Any]]
) -> list[Any]:
    """`work(items)`, with a forked child doing every other item.

    The child sends its results back pickled on a pipe (as they are pickled, so that
    neither process holds them twice) and leaves through os._exit, so it never returns
    into the caller's code. If it fails in any way, its items are done
    here: the result never depends on the second process. Objects made before the fork
    are frozen out of the cyclic collector, so that the child does not copy every page
    by walking them.
    """
    if len(items) < 2 or not hasattr(os, "fork"):
        return work(items)
    theirs = items[1::2]
    gc.freeze()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(reader)
        try:
            with os.fdopen(writer, "wb") as pipe:
                pickle.dump(work(theirs), pipe, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            os._exit(0)
    os.close(writer)
    received: Any = None
    try:
        mine = work(items[0::2])
    finally:
        # Our own child's pickle of its results, read as it comes; anything amiss and
        # they are made here.
        with os.fdopen(reader, "rb") as pipe, contextlib.suppress(Exception):
            received = pickle.load(pipe)
        os.waitpid(pid, 0)
    if not (isinstance(received, list) and len(received) == len(theirs)):
        received = work(theirs)
    return [mine[i // 2] if i % 2 == 0 else received[i // 2] for i in range(len(items))]


def in_two_processes_or_stop(
    items: Sequence[Item], work: Callable[[Sequence[Item]], list[Any]]
) -> list[Any]:
    """`work(items)`, with a forked child doing every other item, for work that must not
    be done twice (writing files): a failure in either process stops it all.

    The child's ExtgenError (any other error, as text) is raised here once both have
    stopped; an error here is raised once the child has stopped.
    """
    if len(items) < 2 or not hasattr(os, "fork"):
        return work(items)
    theirs = items[1::2]
    gc.freeze()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(reader)
        try:
            result: tuple[str, Any] = ("done", work(theirs))
        except ExtgenError as error:
            result = ("error", error.message)
        except BaseException as error:
            result = ("error", f"the second process failed: {error!r}")
        try:
            with os.fdopen(writer, "wb") as pipe:
                pickle.dump(result, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            os._exit(0)
    os.close(writer)
    try:
        mine = work(items[0::2])
    finally:
        with os.fdopen(reader, "rb") as pipe:
            try:
                kind, received = pickle.load(pipe)  # our own child's pickle
            except Exception:
                kind, received = "error", "the second process stopped"
        os.waitpid(pid, 0)
    if kind == "error":
        raise ExtgenError(str(received))
    assert isinstance(received, list) and len(received) == len(theirs)
    return [mine[i // 2] if i % 2 == 0 else received[i // 2] for i in range(len(items))]
