"""The read copy of a cached day: its rows as raw little-endian column arrays, read
with one ``preadv`` per day straight into the caller's arrays instead of decoded
from Parquet.

Next to ``date=YYYY-MM-DD/part-0.parquet`` lies ``.part-0.copy`` (the leading dot
hides it from pyarrow's dataset discovery, Spark and DuckDB's ``*.parquet`` globs).

Why: a month of a busy account (1 M plays in 30 day files) decodes from Parquet in
~40 ms, plus ~15 ms to build the DataFrame, while parsing the report itself takes
~140 ms. From the read copies the 30 days are read into the frame's final arrays
(see :mod:`._block`): one copy of ~19 MB out of the page cache plus a CRC pass.

The Parquet file stays the truth. A copy records the :func:`identity` of the
Parquet file it was made from (inode, size, modification time, a checksum of the
footer, where the cache's metadata with the day's ``fetched_at`` lives) and
:func:`open_copy` gives it only while the Parquet file still has that identity; a
missing, stale, damaged or older-format copy means "read the Parquet file" (which
writes the copy again). Deleting copies is always safe. Files in the cache are only
ever replaced (renamed into place), never rewritten in place.

The format (version 4; version 1 was an Arrow IPC file, ``.part-0.arrow``; versions 2
and 3 had a JSON header, parsed on every read of every day), little-endian::

    0   8 bytes  magic  b"FYCOPY\\x00\\x04"
    8   u32      head CRC-32: of bytes 16 .. data start (head, metadata, dictionaries)
    12  u32      data CRC-32: of bytes data start .. end (the columns)
    16  head     (``_copyformat.HEAD``) u64 rows; the Parquet identity: u64 inode, u64
                 size, i64 mtime_ns, u32 footer CRC; for each category column u32
                 dictionary count, u32 dictionary bytes, u64 nulls; u32 M, metadata items
        then     M times u32 key length, u32 value length; then the M keys
        then     the metadata values (the lineage), as they are
        then     each category column's dictionary: int32 offsets (count + 1), UTF-8
        then     each column in playlog order: ``rows`` values of its dtype: ``played_at``
                 int64 seconds, ids int32, category codes in the narrowest signed type for
                 their dictionary (-1 = null), as the counts imply

Both CRCs are ISA-L's ``crc32`` (~1 ms for the 19 MB of a 1 M-play month), computed
while the copy is streamed to its temp file (no second serialisation of the day) and
checked when it is read, before anything looks at a value; then the category codes
are range-checked (a code past its dictionary would read outside the categories).

    identity(parquet)                             # the Parquet file as it is now
    write_copy(parquet, table, metadata, owner)   # under the day's lock, after the Parquet file
    open_copy(parquet, identity)                  # a Copy (header and dictionaries checked) or None
    copy.read_into(arrays)                        # its columns, verified; ValueError if damaged
    copy.table()                                  # the same as one Arrow table
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import struct
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from isal import isal_zlib

from fouryousee_data._fileio import atomic_write
from fouryousee_data.cache._copyformat import (
    CATEGORIES,
    HEAD,
    MAGIC,
    PREFIX,
    VALUE_DTYPES,
    column_dtypes,
    seal,
    sections,
)
from fouryousee_data.schema import COLUMNS, PLAYLOG_SCHEMA, codes_dtype

__all__ = [
    "CATEGORIES",
    "LEGACY_NAME",
    "MAGIC",
    "NAME",
    "PREFIX",
    "Copy",
    "Identity",
    "codes_fit",
    "copy_path",
    "identity",
    "open_copy",
    "seal",
    "sections",
    "write_copy",
]

log = logging.getLogger("fouryousee_data.cache")

#: File name of a day's read copy, next to its Parquet file.
NAME = ".part-0.copy"
#: The name of version 1 copies (Arrow IPC): never read, removed when a copy is written.
LEGACY_NAME = ".part-0.arrow"
#: What :func:`identity` returns.
Identity = dict[str, int]
#: Bytes at the end of a Parquet file that :func:`identity` checksums (the footer is ~2 KB).
_TAIL_BYTES = 8192
#: Bytes read at once when a copy is opened (header and dictionaries, usually all).
_FIRST_READ = 4096
#: The dictionaries of the last copies opened, by their bytes (see :func:`_dictionaries`).
_DICTIONARIES: dict[tuple[bytes, tuple[tuple[int, int], ...]], dict[str, pa.Array]] = {}
#: Where a copy's metadata lengths start; a head longer than this is refused.
_KEYS_AT = PREFIX.size + HEAD.size
_MAX_HEAD = 1 << 30


@functools.lru_cache(maxsize=256)
def _dtypes(counts: tuple[int, ...]) -> tuple[Mapping[str, np.dtype], int]:
    """The columns' dtypes of a copy whose dictionaries have ``counts`` values (read-only:
    shared by the copies of a report), and the bytes of a row."""
    dtypes = column_dtypes(counts)
    return MappingProxyType(dtypes), sum(d.itemsize for d in dtypes.values())


def copy_path(parquet: Path) -> Path:
    """Where the read copy of ``parquet`` lives.

    Examples
    --------
    >>> copy_path(Path("date=2024-03-01/part-0.parquet")).as_posix()
    'date=2024-03-01/.part-0.copy'
    """
    return parquet.with_name(NAME)


def identity(parquet: str | os.PathLike[str]) -> Identity:
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
    fd = os.open(parquet, os.O_RDONLY)
    try:
        stat = os.fstat(fd)
        # ISA-L's CRC-32 is zlib's (the same value), ~6x faster.
        tail = isal_zlib.crc32(os.pread(fd, _TAIL_BYTES, max(0, stat.st_size - _TAIL_BYTES)))
    finally:
        os.close(fd)
    return {"ino": stat.st_ino, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "tail": tail}


# -- writing ------------------------------------------------------------------------------
def write_copy(
    parquet: Path, table: pa.Table, metadata: dict[bytes, bytes], owner: Identity
) -> None:
    """Write the read copy of the Parquet file ``parquet``: ``table`` (in the playlog
    schema, sorted by ``played_at``) with ``metadata``, made from the file whose
    :func:`identity` is ``owner`` (the one the caller wrote or read, not whatever is at
    the path by now). The caller holds the day's lock. The columns are streamed to the
    temp file from ``table``'s own buffers (only category codes are narrowed first) and
    checksummed on the way.

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
    ...     with open_copy(p, identity(p)) as copy:
    ...         copy.metadata[b"k"], copy.table().num_rows
    (b'v', 0)
    """
    copy = copy_path(parquet)
    with contextlib.suppress(OSError):
        copy.with_name(LEGACY_NAME).unlink()  # a version 1 copy: never read again
    try:
        header, head, columns = _layout(table, metadata, owner)
        atomic_write(copy, lambda tmp: seal(tmp, header, head, columns))
    except (OSError, ValueError, pa.ArrowException) as exc:
        log.warning("cache: no read copy for %s (%s); it reads from Parquet", parquet, exc)
        with contextlib.suppress(OSError):
            copy.unlink()


def _layout(
    table: pa.Table, metadata: dict[bytes, bytes], owner: Identity
) -> tuple[dict[str, Any], list[bytes | np.ndarray], list[Iterable[np.ndarray]]]:
    """The header and dictionaries of a copy of ``table`` (small), and, for each column,
    its chunks as numpy arrays in their on-disk dtype (made one at a time, as written)."""
    table = table.select(list(COLUMNS))
    if not table.schema.equals(PLAYLOG_SCHEMA):
        raise ValueError("not in the playlog schema")
    table = table.unify_dictionaries()  # one dictionary per column
    dtypes: dict[str, str] = {}
    nulls: dict[str, int] = {}
    dictionaries: dict[str, list[int]] = {}
    regions: list[bytes | np.ndarray] = []
    columns: list[Iterable[np.ndarray]] = []
    for name in COLUMNS:
        column = table.column(name)
        if name in CATEGORIES:
            values = column.chunk(0).dictionary if column.num_chunks else pa.array([], pa.string())
            if values.null_count:
                raise ValueError(f"column {name}: a null category")
            offsets, data = _string_buffers(values)
            regions += [offsets, data]
            dictionaries[name] = [len(values), len(data)]
            dtype = codes_dtype(len(values))
            nulls[name] = column.null_count
            columns.append(_codes(column, dtype, len(values)))
        else:
            if column.null_count:
                raise ValueError(f"column {name}: missing values")
            dtype = VALUE_DTYPES[name]
            columns.append(_values(column, dtype))
        dtypes[name] = dtype.str
    header = {
        "rows": table.num_rows,
        "parquet": owner,
        "metadata": [[key.decode("latin-1"), len(value)] for key, value in metadata.items()],
        "nulls": nulls,
        "dictionaries": dictionaries,
        "columns": dtypes,
    }
    return header, [*metadata.values(), *regions], columns


def _string_buffers(values: pa.Array) -> tuple[np.ndarray, bytes]:
    """A string array's offsets (from 0, int32) and UTF-8 bytes."""
    if not len(values):
        return np.zeros(1, np.int32), b""
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32, len(values) + 1, values.offset * 4)
    lo, hi = int(offsets[0]), int(offsets[-1])
    data = data_buffer.to_pybytes()[lo:hi] if data_buffer is not None else b""
    return (offsets - lo).astype("<i4"), data


def _values(column: pa.ChunkedArray, dtype: np.dtype) -> Iterator[np.ndarray]:
    for chunk in column.chunks:
        if pa.types.is_timestamp(chunk.type):
            chunk = chunk.view(pa.int64())
        yield chunk.to_numpy(zero_copy_only=True).astype(dtype, copy=False)


def _codes(column: pa.ChunkedArray, dtype: np.dtype, n: int) -> Iterator[np.ndarray]:
    for chunk in column.chunks:
        indices = chunk.indices
        if chunk.null_count:
            indices = pc.fill_null(indices, -1)
        codes = indices.to_numpy(zero_copy_only=False)
        if len(codes) and not (codes.min() >= -1 and codes.max() < n):
            raise ValueError("a category code outside its dictionary")
        yield codes.astype(dtype)


# -- reading ------------------------------------------------------------------------------
class Copy:
    """An open read copy whose header and dictionaries matched their checksum: what it
    holds (``rows``, ``metadata``, ``dictionaries``, each column's on-disk ``dtypes``),
    and its columns to read with :meth:`read_into`. A context manager; close it when done."""

    def __init__(
        self,
        fd: int,
        rows: int,
        per_column: Sequence[int],
        metadata: dict[bytes, bytes],
        data_start: int,
        data_crc: int,
    ) -> None:
        self._fd = fd
        #: The copy's path (set by :func:`open_copy`): read again by it once released.
        self.path: str | None = None
        self._data_start = data_start
        self._data_crc = data_crc
        self.rows = rows
        self.metadata = metadata
        counts = tuple(per_column[::3])
        self.dtypes, row_bytes = _dtypes(counts)
        self.size: int = data_start + rows * row_bytes
        self.nulls: dict[str, int] = dict(zip(CATEGORIES, per_column[2::3], strict=True))
        #: Each category column's dictionary (a string array).
        self.dictionaries: dict[str, pa.Array] = {}

    def read_into(self, arrays: dict[str, np.ndarray], check: Collection[str] = CATEGORIES) -> None:
        """Read every column into ``arrays`` (one C-contiguous array of ``rows`` values of
        the column's :attr:`dtypes` each), check the data's CRC and the codes of the
        category columns in ``check`` (a caller that leaves one out checks it with
        :func:`codes_fit` before using it). ``ValueError`` if the copy is damaged (the
        arrays then hold garbage)."""
        views = [arrays[name].data.cast("B") for name in COLUMNS if self.rows]
        if self._fd >= 0 or self.path is None or not views:
            got = os.preadv(self._fd, views, self._data_start) if views else 0
        else:  # released: the file at the path now, checked as any other (a miss if replaced)
            fd = os.open(self.path, os.O_RDONLY)
            try:
                got = os.preadv(fd, views, self._data_start)
            finally:
                os.close(fd)
        if got != self.size - self._data_start:
            raise ValueError("the file is shorter than its header says")
        crc = 0
        for view in views:  # ISA-L lets go of the GIL: another thread reads meanwhile
            crc = isal_zlib.crc32(view, crc)
        if crc != self._data_crc:
            raise ValueError("its data does not match its checksum")
        for name in check:
            if not codes_fit(arrays[name], len(self.dictionaries[name]), self.nulls[name]):
                n = len(self.dictionaries[name])
                raise ValueError(f"column {name}: a category code outside its {n} categories")

    def table(self) -> pa.Table:
        """The rows as one Arrow table in the playlog schema (verified as by
        :meth:`read_into`)."""
        arrays = {name: np.empty(self.rows, self.dtypes[name]) for name in COLUMNS}
        self.read_into(arrays)
        out = []
        for field in PLAYLOG_SCHEMA:
            values = arrays[field.name]
            if field.name in CATEGORIES:
                indices = pa.array(values.astype(np.int32), mask=values < 0)
                out.append(pa.DictionaryArray.from_arrays(indices, self.dictionaries[field.name]))
            else:
                out.append(pa.array(values).view(field.type))
        return pa.Table.from_arrays(out, schema=PLAYLOG_SCHEMA)

    def release(self) -> None:
        """Close the file but keep what was read of it: :meth:`read_into` opens the path
        again (a reader holding many days open would run out of file descriptors)."""
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Copy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def codes_fit(codes: np.ndarray, n: int, nulls: int) -> bool:
    """Whether every code is in ``0..n-1`` (or -1, the null code, when ``nulls``).

    Examples
    --------
    >>> codes = np.array([0, 2, -1], np.int8)
    >>> codes_fit(codes, 3, nulls=1), codes_fit(codes, 3, nulls=0), codes_fit(codes, 2, 1)
    (True, False, False)
    """
    if not len(codes):
        return True
    if not nulls:  # seen unsigned, a negative code is huge: one pass checks both bounds
        return bool(codes.view(codes.dtype.str.replace("i", "u")).max() < n)
    return bool(codes.min() >= -1 and codes.max() < n)


def open_copy(parquet: str | os.PathLike[str], owner: Identity) -> Copy | None:
    """The open read copy of ``parquet``, if there is one in this format, its header and
    dictionaries match their checksum, and it was made from the Parquet file whose
    identity is ``owner``; None otherwise (read the Parquet file)."""
    path = os.path.join(os.path.dirname(parquet), NAME)  # copy_path, without pathlib
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # no copy
    try:
        copy = _open(fd, owner)
    except (OSError, KeyError, ValueError, TypeError, pa.ArrowException) as exc:
        os.close(fd)
        log.debug("cache: read copy of %s not used (%s)", parquet, exc)
        return None
    copy.path = path
    return copy


def _open(fd: int, owner: Identity) -> Copy:
    first = os.pread(fd, _FIRST_READ, 0)
    if first[: len(MAGIC)] != MAGIC:
        raise ValueError("not a read copy of this version")
    if len(first) < _KEYS_AT:
        raise ValueError("shorter than a read copy's head")
    _, head_crc, data_crc = PREFIX.unpack_from(first)
    rows, ino, psize, mtime_ns, tail, *per_column, items = HEAD.unpack_from(first, PREFIX.size)
    size = os.fstat(fd).st_size
    if _KEYS_AT + 8 * items > min(size, _MAX_HEAD):
        raise ValueError("metadata lengths past the end of the file")
    head = _more(fd, first, _KEYS_AT + 8 * items)
    lengths = _lengths(items).unpack_from(head, _KEYS_AT)
    counts = per_column[::3]
    dictionaries_at = _KEYS_AT + 8 * items + sum(lengths)  # after the keys and values
    data_start = dictionaries_at + sum(4 * (c + 1) for c in counts) + sum(per_column[1::3])
    if data_start > size:
        raise ValueError("metadata and dictionaries longer than the file")
    head = _more(fd, head, data_start)
    if isal_zlib.crc32(memoryview(head)[PREFIX.size : data_start]) != head_crc:
        raise ValueError("its head does not match its checksum")
    if (ino, psize, mtime_ns, tail) != (
        owner["ino"],
        owner["size"],
        owner["mtime_ns"],
        owner["tail"],
    ):
        raise ValueError("it was made from an older Parquet file")
    metadata, key_at = {}, _KEYS_AT + 8 * items
    at = key_at + sum(lengths[::2])
    for key_length, value_length in zip(lengths[::2], lengths[1::2], strict=True):
        metadata[head[key_at : key_at + key_length]] = head[at : at + value_length]
        key_at += key_length
        at += value_length
    copy = Copy(fd, rows, per_column, metadata, data_start, data_crc)
    if copy.size != size:
        raise ValueError("its size does not match its head")
    sizes = tuple(zip(counts, per_column[1::3], strict=True))
    copy.dictionaries = _dictionaries(head[dictionaries_at:data_start], sizes)
    return copy


@functools.lru_cache(maxsize=16)
def _lengths(items: int) -> struct.Struct:
    """The metadata's key and value lengths of a copy with ``items`` items."""
    return struct.Struct(f"<{2 * items}I")


def _dictionaries(regions: bytes, sizes: tuple[tuple[int, int], ...]) -> dict[str, pa.Array]:
    """Each category column's dictionary from their bytes (each: offsets, then UTF-8; its
    count and UTF-8 bytes in ``sizes``), checked; the days of one report share theirs, so
    the last few are kept by their bytes and given again (the same arrays)."""
    key = (regions, sizes)
    known = _DICTIONARIES.get(key)
    if known is not None:
        return dict(known)
    out, at = {}, 0
    for name, (count, nbytes) in zip(CATEGORIES, sizes, strict=True):
        offsets = pa.py_buffer(regions[at : at + 4 * (count + 1)])
        at += 4 * (count + 1)
        values = pa.Array.from_buffers(
            pa.string(), count, [None, offsets, pa.py_buffer(regions[at : at + nbytes])]
        )
        values.validate(full=True)
        out[name] = values
        at += nbytes
    if len(_DICTIONARIES) >= 16:
        _DICTIONARIES.clear()
    _DICTIONARIES[key] = out
    return dict(out)


def _more(fd: int, first: bytes, end: int) -> bytes:
    """The file's first ``end`` bytes, given its first bytes ``first``."""
    return first[:end] if end <= len(first) else first + os.pread(fd, end - len(first), len(first))
