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

Its own bytes are checked too: the copy carries a CRC-32 of its data (every buffer
of every column, dictionaries included, with the lengths that frame them; ISA-L's
``crc32``, ~1 ms for a month of 1 M plays), and :func:`read_copy` compares it before
anything looks at a value, then range-checks the category codes (an index past its
dictionary would read outside the file). Arrow's IPC reader does not validate data,
so a damaged copy could otherwise hand out wrong rows or crash; a mismatch is a miss
that reads Parquet and writes the copy again.

    identity(parquet)                             # the Parquet file as it is now
    write_copy(parquet, table, metadata, owner)   # under the day's lock, after the Parquet file
    open_copy(parquet, identity, populate=True)   # (source, reader) or None
    read_copy(reader)                             # its rows, verified; ValueError if damaged
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc
from isal import isal_zlib

from fouryousee_data._fileio import atomic_write
from fouryousee_data.schema import PLAYLOG_SCHEMA

__all__ = [
    "CHECKSUM_KEY",
    "NAME",
    "Identity",
    "check_codes",
    "checksum",
    "copy_path",
    "identity",
    "open_copy",
    "read_copy",
    "write_copy",
]

log = logging.getLogger("fouryousee_data.cache")

#: File name of a day's read copy, next to its Parquet file.
NAME = ".part-0.arrow"
#: What :func:`identity` returns.
Identity = dict[str, int]
#: Key, in the copy's schema metadata, of the identity of its Parquet file.
_IDENTITY_KEY = b"fouryousee_data.parquet"
#: Key, in the copy's schema metadata, of the :func:`checksum` of its data.
CHECKSUM_KEY = b"fouryousee_data.crc32"
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
        crc = checksum(pa.ipc.open_file(_ipc_bytes(table)).read_all())  # as it will read
        table = table.replace_schema_metadata(
            {**metadata, _IDENTITY_KEY: json.dumps(owner).encode(), CHECKSUM_KEY: b"%d" % crc}
        )

        def write(tmp: str) -> None:
            with pa.OSFile(tmp, "wb") as sink:
                _write_ipc(sink, table)

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
        int((reader.schema.metadata or {})[CHECKSUM_KEY])  # a copy from before checksums
    except (OSError, KeyError, ValueError, TypeError, pa.ArrowException) as exc:
        source.close()
        log.debug("cache: read copy of %s not used (%s)", parquet, exc)
        return None
    return source, reader


def read_copy(reader: pa.ipc.RecordBatchFileReader) -> pa.Table:
    """The rows of an open read copy, verified: its data matches the checksum it was
    written with and its category codes are within their dictionaries. ``ValueError``
    otherwise (the copy is damaged: read the Parquet file). Nothing looks at a value
    before the checksum matched.

    Examples
    --------
    >>> import tempfile
    >>> import pyarrow.parquet as pq
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "part-0.parquet"
    ...     pq.write_table(PLAYLOG_SCHEMA.empty_table(), p)
    ...     write_copy(p, PLAYLOG_SCHEMA.empty_table(), {}, identity(p))
    ...     source, reader = open_copy(p, identity(p))
    ...     read_copy(reader).num_rows
    0
    """
    table = reader.read_all()
    expected = int((reader.schema.metadata or {})[CHECKSUM_KEY])
    walk = _Walk(table)  # one pass over the arrays serves both checks
    if walk.crc() != expected:
        raise ValueError("its data does not match its checksum")
    walk.check_codes()
    return table


def checksum(table: pa.Table) -> int:
    """CRC-32 of a table's data: every buffer of every chunk (dictionaries included)
    with the length, offset and null count that frame it. The same rows written the
    same way give the same number; it is not meant to compare other encodings.

    Examples
    --------
    >>> t = pa.table({"a": pa.array([1, 2], pa.int32())})
    >>> checksum(t) == checksum(t), checksum(t) == checksum(t.slice(1))
    (True, False)
    """
    return _Walk(table).crc()


def check_codes(table: pa.Table) -> None:
    """``ValueError`` unless every dictionary index of ``table`` is within its dictionary
    (Arrow does not check this when it reads a file; pandas' ``Categorical.from_codes``
    would read past the categories).

    Examples
    --------
    >>> codes, names = pa.array([0, 5], pa.int32()), pa.array(["a"])
    >>> bad = pa.DictionaryArray.from_arrays(codes, names, safe=False)  # as a damaged file
    >>> check_codes(pa.table({"c": bad}))
    Traceback (most recent call last):
    ...
    ValueError: column c: a category code outside its 1 categories
    """
    _Walk(table).check_codes()


class _Walk:
    """One pass over a table's arrays: what :func:`checksum` hashes (the numbers that
    frame each array and its dictionary, and their buffers, in order) and the category
    codes :func:`check_codes` bounds (Python objects made once: a month is 270 arrays)."""

    def __init__(self, table: pa.Table) -> None:
        self.frames: list[int] = []
        self.buffers: list[pa.Buffer | None] = []
        #: (column, chunk, its index buffers, index width, dictionary length)
        self.codes: list[tuple[str, pa.Array, list[pa.Buffer | None], int, int]] = []
        for name, column in zip(table.column_names, table.columns, strict=True):
            for chunk in column.chunks:
                self._add(name, chunk)

    def _add(self, name: str, array: pa.Array) -> None:
        own = array.buffers()
        self.frames += (len(array), array.offset, array.null_count, len(own))
        self.frames += (-1 if b is None else b.size for b in own)
        self.buffers += own
        if pa.types.is_dictionary(array.type):
            dictionary = array.dictionary
            width = array.type.index_type.bit_width // 8
            self.codes.append((name, array, own, width, len(dictionary)))
            self._add(name, dictionary)

    def crc(self) -> int:
        crc = isal_zlib.crc32(struct.pack(f"<{len(self.frames)}q", *self.frames))
        for buffer in self.buffers:
            if buffer is not None:
                crc = isal_zlib.crc32(buffer, crc)
        return crc

    def check_codes(self) -> None:
        for name, chunk, own, width, n in self.codes:
            if not _codes_fit(chunk, own, width, n):
                raise ValueError(f"column {name}: a category code outside its {n} categories")


def _codes_fit(chunk: pa.Array, own: list[pa.Buffer | None], width: int, n: int) -> bool:
    """Whether every (non-null) index of the dictionary array ``chunk`` (its buffers
    ``own``) is in ``0..n-1``."""
    length, nulls = len(chunk), chunk.null_count
    if not length or nulls == length:
        return True
    if nulls:  # null slots hold anything: let Arrow skip them
        bounds = pc.min_max(chunk.indices).as_py()
        return bool(bounds["min"] >= 0 and bounds["max"] < n)
    # The indices straight from their buffer (no Arrow objects: ~4 us for a busy day).
    # Seen unsigned, a negative index is huge: one pass checks both bounds.
    indices = own[1]
    if indices is None:
        return False
    codes = np.frombuffer(indices, np.dtype(f"<u{width}"), length, chunk.offset * width)
    return bool(codes.max() < n)


def _ipc_bytes(table: pa.Table) -> pa.Buffer:
    """``table`` as an Arrow IPC file, in memory."""
    sink = pa.BufferOutputStream()
    _write_ipc(sink, table)
    return sink.getvalue()


def _write_ipc(sink: pa.NativeFile, table: pa.Table) -> None:
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


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
