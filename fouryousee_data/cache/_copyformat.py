"""The bytes of a read copy (format version 4, see :mod:`._readcopy`): its constants,
its binary head packed and unpacked, and its parts written (:func:`seal`, CRCs computed
on the way) and read back unchecked (:func:`sections`, to look inside a copy or forge
one in a test).

A copy's header is described by a dict (what :func:`sections` returns and :func:`seal`
takes): ``rows``, ``parquet`` (the identity: ``ino``, ``size``, ``mtime_ns``,
``tail``), ``metadata`` (``[key, length]`` of each value), ``nulls`` and
``dictionaries`` (``[count, bytes]``) of each category column, ``columns`` (each
one's numpy dtype ``.str``, which the format implies: codes in the narrowest type for
their dictionary). On disk it is binary (:data:`HEAD`, then the metadata's lengths and
keys): a copy is opened by one ``struct`` unpack, not a JSON parse.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from isal import isal_zlib

from fouryousee_data.schema import COLUMNS, PLAYLOG_SCHEMA, codes_dtype

__all__ = [
    "CATEGORIES",
    "HEAD",
    "MAGIC",
    "PREFIX",
    "VALUE_DTYPES",
    "column_dtypes",
    "pack_head",
    "seal",
    "sections",
    "unpack_head",
    "write_all",
]

#: First bytes of a copy: the format and its version. Anything else is a miss.
MAGIC = b"FYCOPY\x00\x04"
#: magic, head CRC (of the bytes from 16 to the columns), data CRC (of the columns).
PREFIX = struct.Struct("<8sII")
#: The category (dictionary) columns, in playlog order.
CATEGORIES = tuple(f.name for f in PLAYLOG_SCHEMA if pa.types.is_dictionary(f.type))
#: At byte 16: rows; the Parquet identity (inode, size, mtime_ns, footer CRC); per
#: category column its dictionary's count and bytes and its nulls; the number of
#: metadata items. Then each item's key and value lengths (u32 each), then the keys.
HEAD = struct.Struct("<QQQqI" + "IIQ" * len(CATEGORIES) + "I")
#: The dtypes of the columns that are not category codes.
VALUE_DTYPES: dict[str, np.dtype] = {
    "played_at": np.dtype("<i8"),
    "player_id": np.dtype("<i4"),
    "media_id": np.dtype("<i4"),
}


def column_dtypes(counts: Sequence[int]) -> dict[str, np.dtype]:
    """Every column's dtype on disk, given each category column's dictionary count.

    Examples
    --------
    >>> column_dtypes([1, 200, 70_000])["ip"]
    dtype('int32')
    """
    codes = dict(zip(CATEGORIES, counts, strict=True))
    return {name: VALUE_DTYPES.get(name) or codes_dtype(codes[name]) for name in COLUMNS}


def pack_head(header: dict[str, Any]) -> bytes:
    """The binary head of a copy (:data:`HEAD`, the metadata's lengths and keys) from its
    header dict; ``ValueError`` for a value the format cannot hold."""
    owner = header["parquet"]
    per_column = []
    for name in CATEGORIES:
        count, nbytes = header["dictionaries"][name]
        per_column += [count, nbytes, header["nulls"][name]]
    keys = [key.encode("latin-1") for key, _ in header["metadata"]]
    try:
        fixed = HEAD.pack(
            header["rows"],
            owner["ino"],
            owner["size"],
            owner["mtime_ns"],
            owner["tail"],
            *per_column,
            len(keys),
        )
        sizes = [size for _, size in header["metadata"]]
        lengths = [n for key, size in zip(keys, sizes, strict=True) for n in (len(key), size)]
        return fixed + struct.pack(f"<{len(lengths)}I", *lengths) + b"".join(keys)
    except struct.error as exc:
        raise ValueError(f"a read copy cannot hold this header ({exc})") from exc


def unpack_head(data: bytes, at: int = PREFIX.size) -> tuple[dict[str, Any], int]:
    """The header dict of a copy whose bytes (from its start) are ``data``, and where its
    metadata values start; ``ValueError`` if ``data`` is too short."""
    if len(data) < at + HEAD.size:
        raise ValueError("shorter than a read copy's head")
    rows, ino, size, mtime_ns, tail, *per_column, items = HEAD.unpack_from(data, at)
    at += HEAD.size
    if len(data) < at + 8 * items:
        raise ValueError("shorter than its metadata's lengths")
    lengths = struct.unpack_from(f"<{2 * items}I", data, at)
    at += 8 * items
    metadata = []
    for key_length, size_of_value in zip(lengths[::2], lengths[1::2], strict=True):
        metadata.append([data[at : at + key_length].decode("latin-1"), size_of_value])
        at += key_length
    counts = per_column[::3]
    header = {
        "rows": rows,
        "parquet": {"ino": ino, "size": size, "mtime_ns": mtime_ns, "tail": tail},
        "metadata": metadata,
        "nulls": dict(zip(CATEGORIES, per_column[2::3], strict=True)),
        "dictionaries": {
            name: [count, nbytes]
            for name, count, nbytes in zip(CATEGORIES, counts, per_column[1::3], strict=True)
        },
        "columns": {name: dtype.str for name, dtype in column_dtypes(counts).items()},
    }
    return header, at


def seal(
    path: str | Path,
    header: dict[str, Any],
    head: Sequence[bytes | np.ndarray],
    columns: Sequence[Iterable[bytes | np.ndarray]],
) -> None:
    """Write a copy to ``path`` from its parts (as :func:`sections` returns them; each
    column as pieces, written and checksummed one after the other), with its CRCs: the
    prefix is written last, once they are known. The caller checks that the parts agree
    with the header (``_readcopy.write_copy`` does; a test forging a copy need not).

    Examples
    --------
    >>> import tempfile
    >>> owner = {"ino": 1, "size": 2, "mtime_ns": 3, "tail": 4}
    >>> header = {"rows": 1, "parquet": owner, "metadata": [["k", 2]],
    ...           "nulls": dict.fromkeys(CATEGORIES, 0),
    ...           "dictionaries": dict.fromkeys(CATEGORIES, [0, 0])}
    >>> head = [b"v1", *[bytes(4), b""] * len(CATEGORIES)]
    >>> dtypes = column_dtypes([0] * len(CATEGORIES))
    >>> columns = [[np.full(1, i, dtypes[name])] for i, name in enumerate(COLUMNS)]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     seal(Path(d) / "c", header, head, columns)
    ...     got = sections(Path(d) / "c")
    >>> got[0]["parquet"] == owner, got[1][0]
    (True, b'v1')
    >>> [int(np.frombuffer(c, dtypes[name])[0]) for c, name in zip(got[2], COLUMNS)]
    [0, 1, 2, 3, 4, 5]
    """
    packed = pack_head(header)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, bytes(PREFIX.size))
        head_crc = write_all(fd, packed)
        for region in head:
            head_crc = write_all(fd, region, head_crc)
        data_crc = 0
        for chunks in columns:
            for chunk in chunks:
                data_crc = write_all(fd, chunk, data_crc)
        os.pwrite(fd, PREFIX.pack(MAGIC, head_crc, data_crc), 0)
    finally:
        os.close(fd)


def sections(path: str | Path) -> tuple[dict[str, Any], list[bytes], list[bytes]]:
    """A copy's header, what follows it (its metadata values, then the dictionary of each
    category column: offsets, then UTF-8 bytes) and its columns, as bytes, without any
    check: to look inside a copy, or to forge one with :func:`seal` (tests do)."""
    data = Path(path).read_bytes()
    header, at = unpack_head(data)
    regions = []
    for _, size in header["metadata"]:
        regions.append(data[at : at + size])
        at += size
    for name in CATEGORIES:
        count, nbytes = header["dictionaries"][name]
        for size in (4 * (count + 1), nbytes):
            regions.append(data[at : at + size])
            at += size
    columns = []
    for name in COLUMNS:
        size = header["rows"] * np.dtype(header["columns"][name]).itemsize
        columns.append(data[at : at + size])
        at += size
    return header, regions, columns


def write_all(fd: int, data: bytes | np.ndarray, crc: int = 0) -> int:
    """Write all of ``data``; returns the CRC-32 continued over it."""
    view = (memoryview(data) if isinstance(data, bytes) else data.data).cast("B")
    while view:
        view = view[os.write(fd, view) :]
    return int(isal_zlib.crc32(data, crc))
