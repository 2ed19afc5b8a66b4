"""Where the bounded-memory fetch's memory comes from, and how it goes back to the OS.

A streaming fetch holds little at once (a few parser blocks, then one day being
written), but it allocates and frees a day's worth of buffers again and again. What
decides its peak RSS is then the allocator: freed memory that it keeps instead of
returning. Measured on a 4-day window (1.3 M rows) with ``bench_scale.py --trace``: the
same work peaked at ~100 MB of extra RSS with the defaults, and at ~35 MB with the two
settings below (about what the buffers in use ever add up to).

* :data:`POOL`: the fetch's Arrow buffers (spill read back, sort, Parquet writer) come
  from the system allocator (malloc), not Arrow's default mimalloc pool, which keeps
  freed pages cached per thread.
* :func:`bound_heap`: on glibc, malloc's *mmap threshold* is fixed at its initial
  128 KiB, once per process. glibc otherwise raises it (up to 32 MiB) every time a
  mapped block is freed, after which blocks of a few MB come from the heap, where a
  freed block in the middle stays resident (and a thread's arena keeps up to twice the
  threshold at its top). With the threshold fixed, every block of 128 KiB or more is
  mapped on allocation and unmapped on free. The cost is a page fault per 4 KiB of such
  a block when it is first written: parsing from memory takes ~20-30% more CPU, a
  fetch's time is unchanged within noise (the download hides it).
  It stays so for the rest of the process. A ``MALLOC_MMAP_THRESHOLD_`` set in the
  environment is the user's own choice: then malloc is left alone.
* :func:`release_memory`: freed memory back to the OS now (glibc's ``malloc_trim``, as Dask's
  workers do; the default Arrow pool's unused pages): after each day written.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import platform
import threading

import pyarrow as pa

__all__ = ["MMAP_THRESHOLD", "POOL", "bound_heap", "release_memory"]

log = logging.getLogger("fouryousee_data.cache")

#: The Arrow memory pool of the bounded-memory path.
POOL = pa.system_memory_pool()
#: glibc's initial mmap threshold, which :func:`bound_heap` keeps.
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
_BOUND = threading.Event()


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (its malloc tunables exist), else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:  # pragma: no cover - a static or unusual build
        return None


def bound_heap() -> bool:
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD` (once per process; not on
    other C libraries, nor when ``MALLOC_MMAP_THRESHOLD_`` is set). Returns whether
    malloc's threshold is now set by this call or an earlier one.

    Examples
    --------
    Permanent for the process, so not run here (the tests run it in fresh interpreters):

    >>> bound_heap()  # doctest: +SKIP
    True
    """
    if _BOUND.is_set():
        return True
    libc = _glibc()
    if libc is None or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    if libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:  # pragma: no cover
        log.debug("cache: mallopt(M_MMAP_THRESHOLD) refused")
        return False
    _BOUND.set()
    return True


def release_memory() -> None:
    """Return the memory the allocators hold freed to the OS now (glibc's heap, the
    default Arrow pool's cached pages); cheap (~1 ms).

    Examples
    --------
    >>> release_memory()
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
    pa.default_memory_pool().release_unused()
