"""Leftovers of killed writers: temp files (``.*.tmp``) and day spills (``.spill-*``).

Every cache file is written to a temp file and renamed into place
(:func:`~fouryousee_data._fileio.atomic_write`), and a streaming fetch spills a report's
rows into a ``.spill-*`` folder until the report is complete. A process killed with
``kill -9`` (or a power cut) leaves those behind: harmless to readers (names starting
with ``.`` are skipped by every reader), but they take disk space forever.

So they are swept: anything older than :data:`ORPHAN_AGE` (one hour, by its newest
modification time, a spill by its newest file) is removed on the next write into that
account's cache (once per :class:`~fouryousee_data.cache.PlaylogCache`), and counted by
:func:`~fouryousee_data.cache.cache_info`. A temp file of a concurrent writer is being
written, so it is fresh: it is never touched.

    leftovers(account_dir)        # [(path, bytes)] older than an hour
    sweep(account_dir)            # removes them: (count, bytes)
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from fouryousee_data._fileio import TEMP_SUFFIX

__all__ = ["ORPHAN_AGE", "SPILL_PREFIX", "leftovers", "sweep"]

log = logging.getLogger("fouryousee_data.cache")

#: Seconds after which a temp file or spill nobody touched is a leftover, not a write.
ORPHAN_AGE = 3600.0
#: How the folders of a streaming report's per-day spills start.
SPILL_PREFIX = ".spill-"


def leftovers(
    folder: Path, *, older_than: float = ORPHAN_AGE, now: float | None = None
) -> list[tuple[Path, int]]:
    """The temp files and spill folders under ``folder`` (an account's cache) untouched
    for ``older_than`` seconds, with their sizes in bytes.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / ".part-0.parquet.k2j4h5g6.tmp").write_bytes(b"half a file")
    >>> os.utime(d / ".part-0.parquet.k2j4h5g6.tmp", (0, 0))  # written long ago
    >>> [(p.name, size) for p, size in leftovers(d)]
    [('.part-0.parquet.k2j4h5g6.tmp', 11)]
    """
    limit = (time.time() if now is None else now) - older_than
    found: list[tuple[Path, int]] = []
    if not folder.is_dir():
        return found
    for top, dirs, files in os.walk(folder):
        here = Path(top)
        for name in [d for d in dirs if d.startswith(SPILL_PREFIX)]:
            dirs.remove(name)  # not walked into: judged whole
            newest, size = _tree(here / name)
            if newest < limit:
                found.append((here / name, size))
        for name in files:
            if name.startswith(".") and TEMP_SUFFIX in name:
                stat = _stat(here / name)
                if stat is not None and stat.st_mtime < limit:
                    found.append((here / name, stat.st_size))
    return sorted(found)


def sweep(folder: Path, *, older_than: float = ORPHAN_AGE) -> tuple[int, int]:
    """Remove the :func:`leftovers` under ``folder``; returns how many and their bytes.
    What cannot be removed is logged and left (it is tried again next time).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / ".part-0.parquet.k2j4h5g6.tmp").write_bytes(b"half a file")
    >>> sweep(d), sweep(d, older_than=0)
    ((0, 0), (1, 11))
    """
    count = size = 0
    for path, nbytes in leftovers(folder, older_than=older_than):
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue  # another sweeper was first
        except OSError as exc:
            log.warning("cache: could not remove the leftover %s (%s)", path, exc)
            continue
        count, size = count + 1, size + nbytes
    if count:
        log.info("cache: removed %d leftover temp file(s), %d bytes, in %s", count, size, folder)
    return count, size


def _tree(folder: Path) -> tuple[float, int]:
    """The newest modification time in ``folder`` (itself included) and its total bytes."""
    stat = _stat(folder)
    newest, size = (stat.st_mtime if stat else 0.0), 0
    for top, _, files in os.walk(folder):
        for name in files:
            stat = _stat(Path(top) / name)
            if stat is not None:
                newest, size = max(newest, stat.st_mtime), size + stat.st_size
    return newest, size


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None  # gone meanwhile
