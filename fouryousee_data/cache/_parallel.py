"""Reading a range's read copies on two cores: one worker thread kept for the process.

Reading a cached month is three passes over its ~19 MB: the kernel copies each day's
columns out of the page cache (``os.preadv``, which releases the GIL), the pages of
the fresh destination are faulted in on the way, and the CRC-32 of what was read is
checked. All three scale with the bytes, none needs Python, so the days are read in
two halves at once (:func:`split`): the calling thread reads one, the worker the
other. The parser uses both cores too; a cache read that used one would lose to it.

``os.preadv`` and ISA-L's ``crc32`` (python-isal) both let go of the GIL on large
buffers, so the two halves really run at once; the Python between them is ~10 us a day.

* :func:`split` runs a function over items in two halves of about equal weight: the
  second half on the worker, the first on the caller, and returns when both are done
  (never with the worker still writing). One worker thread is made on first use and
  kept (a read must not pay for starting a thread); a forked child makes its own.
  Work below :data:`PARALLEL_BYTES`, or on a one-core machine, runs on the caller.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["PARALLEL_BYTES", "split"]

T = TypeVar("T")
R = TypeVar("R")

#: Below this many bytes a read stays on the calling thread (handing work over costs
#: ~20-50 us; a day of a busy account is ~0.6 MB).
PARALLEL_BYTES = 4 << 20

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _worker() -> ThreadPoolExecutor:
    """The process's one worker thread (made on first use)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(1, thread_name_prefix="fouryousee-cache-read")
        return _POOL


def _forget_worker() -> None:
    """In a forked child: the parent's worker thread does not exist there."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_worker)


def split(function: Callable[[T], R], items: Sequence[T], weights: Sequence[int]) -> list[R]:
    """``[function(item) for item in items]``, the items in two halves of about equal
    total ``weights`` run at once (the second on the worker thread) when they weigh
    :data:`PARALLEL_BYTES` or more. Returns once both halves are done; an exception of
    either is raised then (the caller's first).

    Examples
    --------
    >>> split(lambda n: n * n, [1, 2, 3], [PARALLEL_BYTES] * 3)
    [1, 4, 9]
    """
    total = sum(weights)
    if len(items) < 2 or total < PARALLEL_BYTES or (os.cpu_count() or 1) < 2:
        return [function(item) for item in items]
    at, running = 1, weights[0]
    while at < len(items) - 1 and 2 * (running + weights[at]) <= total:
        running += weights[at]
        at += 1
    try:
        later = _worker().submit(lambda: [function(item) for item in items[at:]])
    except RuntimeError:  # the interpreter is shutting down: no new thread
        return [function(item) for item in items]
    try:
        first = [function(item) for item in items[:at]]
    except BaseException:
        later.exception()  # the worker is done (with the caller's arrays) before this raises
        raise
    return first + later.result()
