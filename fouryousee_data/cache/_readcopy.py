"""The read copy of a cached day: its rows as an uncompressed Arrow IPC file,
memory-mapped on read instead of decoded from Parquet.

Next to ``date=YYYY-MM-DD/part-0.parquet`` lies ``.part-0.arrow`` (the leading dot
hides it from pyarrow's dataset discovery, Spark and DuckDB's ``*.parquet`` globs).

Why: a month of a busy account (1 M plays in 30 day files) decodes from Parquet in
~40 ms, plus ~15 ms to build the DataFrame: only ~4x faster than parsing the report
itself (~250 ms, at gunzip speed). From the read copies it is ~11 ms (mapping 30
files and checking them) plus ~8 ms for the frame, for ~28 bytes per play on disk
next to Parquet's ~11.

The Parquet file stays the truth. A copy records the :func:`identity` of the
Parquet file it was made from (inode, size, modification time, a checksum of the
footer, where the cache's metadata with the day's ``fetched_at`` lives) and
:func:`open_copy` gives it only while the Parquet file still has that identity; a
missing, stale or unreadable copy means "read the Parquet file". Deleting copies is
always safe. Files in the cache are only ever replaced (renamed into place), never
rewritten in place, so a mapped copy stays valid while it is read.

    identity(parquet)                             # the Parquet file as it is now
    write_copy(parquet, table, metadata, owner)   # under the day's lock, after the Parquet file
    open_copy(parquet, identity, populate=True)   # (source, reader) or None
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import os
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc

from fouryousee_data._fileio import atomic_write
from fouryousee_data.schema import PLAYLOG_SCHEMA

__all__ = ["NAME", "Identity", "copy_path", "identity", "open_copy", "write_copy"]

log = logging.getLogger("fouryousee_data.cache")

#: File name of a day's read copy, next to its Parquet file.
NAME = ".part-0.arrow"
#: What :func:`identity` returns.
Identity = dict[str, int]
#: Key, in the copy's schema metadata, of the identity of its Parquet file.
_IDENTITY_KEY = b"fouryousee_data.parquet"
#: Bytes at the end of a Parquet file that :func:`identity` checksums (the footer is ~2 KB).
_TAIL_BYTES = 8192


def copy_path(parquet: Path) -> Path:
    """Where the read copy of ``parquet`` lives.

    Examples
    --------
    >>> copy_path(Path("date=2024-03-01/part-0.parquet")).as_posix()
    'date=2024-03-01/.part-0.arrow'
    """
    return parquet.with_name(NAME)


def identity(parquet: Path) -> Identity:
    """What ties a read copy to one Parquet file, as it is now: inode, size, modification
    time and a checksum of its footer. Replacing or rewriting the file changes it, even
    within one tick of a coarse file-system clock. ``OSError`` if there is no file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "part-0.parquet"
    ...     _ = p.write_bytes(b"PAR1 one")
    ...     before = identity(p)
    ...     _ = p.write_bytes(b"PAR1 two")
    ...     before == identity(p)
    False
    """
    with open(parquet, "rb") as file:
        stat = os.fstat(file.fileno())
        file.seek(max(0, stat.st_size - _TAIL_BYTES))
        tail = zlib.crc32(file.read(_TAIL_BYTES))
    return {"ino": stat.st_ino, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "tail": tail}


def write_copy(
    parquet: Path, table: pa.Table, metadata: dict[bytes, bytes], owner: Identity
) -> None:
    """Write the read copy of the Parquet file ``parquet``: ``table`` (in the playlog
    schema, sorted by ``played_at``) with ``metadata``, made from the file whose
    :func:`identity` is ``owner`` (the one the caller wrote or read, not whatever is at
    the path by now). The caller holds the day's lock.

    A copy that cannot be written only makes reads slower: logged as a warning, and the
    day reads from its Parquet file (an older copy no longer matches it; it is removed).

    Examples
    --------
    >>> import tempfile
    >>> import pyarrow.parquet as pq
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "part-0.parquet"
    ...     pq.write_table(PLAYLOG_SCHEMA.empty_table(), p)
    ...     write_copy(p, PLAYLOG_SCHEMA.empty_table(), {b"k": b"v"}, identity(p))
    ...     source, reader = open_copy(p, identity(p), populate=True)
    ...     reader.schema.metadata[b"k"], reader.read_all().num_rows
    (b'v', 0)
    """
    copy = copy_path(parquet)
    try:
        # The IPC file format wants one dictionary per column.
        table = table.unify_dictionaries().combine_chunks()
        table = table.replace_schema_metadata(
            {**metadata, _IDENTITY_KEY: json.dumps(owner).encode()}
        )

        def write(tmp: str) -> None:
            with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)

        atomic_write(copy, write)
    except (OSError, pa.ArrowException) as exc:
        log.warning("cache: no read copy for %s (%s); it reads from Parquet", parquet, exc)
        with contextlib.suppress(OSError):
            copy.unlink()


def open_copy(
    parquet: Path, owner: Identity, *, populate: bool = False
) -> tuple[pa.NativeFile, pa.ipc.RecordBatchFileReader] | None:
    """The open read copy of ``parquet`` (the mapped file and its reader), if there is
    one, it was made from the Parquet file whose identity is ``owner``, and it holds
    the playlog schema; None otherwise (read the Parquet file). ``populate`` loads all
    its pages up front, for a caller that reads the rows (not just the metadata)."""
    try:
        source = _map(copy_path(parquet), populate)
    except (OSError, ValueError, pa.ArrowException):
        return None  # no copy
    try:
        reader = pa.ipc.open_file(source)
        if json.loads((reader.schema.metadata or {})[_IDENTITY_KEY]) != owner:
            raise ValueError("it was made from an older Parquet file")
        if not reader.schema.equals(PLAYLOG_SCHEMA):
            raise ValueError("unexpected schema")
    except (OSError, KeyError, ValueError, TypeError, pa.ArrowException) as exc:
        source.close()
        log.debug("cache: read copy of %s not used (%s)", parquet, exc)
        return None
    return source, reader


def _map(path: Path, populate: bool) -> pa.NativeFile:
    """The file mapped read-only into memory; with ``populate``, its pages loaded up
    front where the OS can (``MAP_POPULATE``: one call instead of a page fault per few
    pages later)."""
    if not (populate and hasattr(mmap, "MAP_POPULATE")):
        return pa.memory_map(str(path))
    fd = os.open(path, os.O_RDONLY)
    try:
        mapped = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE, prot=mmap.PROT_READ)
    finally:
        os.close(fd)
    return pa.BufferReader(pa.py_buffer(mapped))  # unmapped when the last buffer goes
