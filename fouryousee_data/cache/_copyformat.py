"""The bytes of a read copy (format version 3, see :mod:`._readcopy`): its constants,
and its parts written (:func:`seal`, CRCs computed on the way) and read back unchecked
(:func:`sections`, to look inside a copy or forge one in a test)."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from isal import isal_zlib

from fouryousee_data.schema import COLUMNS, PLAYLOG_SCHEMA

__all__ = ["CATEGORIES", "MAGIC", "PREFIX", "seal", "sections", "write_all"]

#: First bytes of a copy: the format and its version. Anything else is a miss.
MAGIC = b"FYCOPY\x00\x03"
#: magic, head CRC, data CRC, header length.
PREFIX = struct.Struct("<8sIII")
#: The category (dictionary) columns, in playlog order.
CATEGORIES = tuple(f.name for f in PLAYLOG_SCHEMA if pa.types.is_dictionary(f.type))


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
    >>> header = {"rows": 1, "metadata": [["k", 2]], "columns": dict.fromkeys(COLUMNS, "|i1"),
    ...           "dictionaries": dict.fromkeys(CATEGORIES, [0, 0])}
    >>> head = [b"v1", *[bytes(4), b""] * len(CATEGORIES)]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     seal(Path(d) / "c", header, head, [[bytes([i])] for i in range(len(COLUMNS))])
    ...     got = sections(Path(d) / "c")
    >>> got[0] == header, got[1][0], [c[0] for c in got[2]]
    (True, b'v1', [0, 1, 2, 3, 4, 5])
    """
    encoded = json.dumps(header).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, bytes(PREFIX.size - 4))
        head_crc = write_all(fd, struct.pack("<I", len(encoded)))
        head_crc = write_all(fd, encoded, head_crc)
        for region in head:
            head_crc = write_all(fd, region, head_crc)
        data_crc = 0
        for chunks in columns:
            for chunk in chunks:
                data_crc = write_all(fd, chunk, data_crc)
        os.pwrite(fd, PREFIX.pack(MAGIC, head_crc, data_crc, 0)[:-4], 0)
    finally:
        os.close(fd)


def sections(path: str | Path) -> tuple[dict[str, Any], list[bytes], list[bytes]]:
    """A copy's header, what follows it (its metadata values, then the dictionary of each
    category column: offsets, then UTF-8 bytes) and its columns, as bytes, without any
    check: to look inside a copy, or to forge one with :func:`seal` (tests do)."""
    data = Path(path).read_bytes()
    length = PREFIX.unpack_from(data)[3]
    at = PREFIX.size + length
    header: dict[str, Any] = json.loads(data[PREFIX.size : at])
    dictionaries = []
    for _, size in header["metadata"]:
        dictionaries.append(data[at : at + size])
        at += size
    for name in CATEGORIES:
        count, nbytes = header["dictionaries"][name]
        for size in (4 * (count + 1), nbytes):
            dictionaries.append(data[at : at + size])
            at += size
    columns = []
    for name in COLUMNS:
        size = header["rows"] * np.dtype(header["columns"][name]).itemsize
        columns.append(data[at : at + size])
        at += size
    return header, dictionaries, columns


def write_all(fd: int, data: bytes | np.ndarray, crc: int = 0) -> int:
    """Write all of ``data``; returns the CRC-32 continued over it."""
    view = (memoryview(data) if isinstance(data, bytes) else data.data).cast("B")
    while view:
        view = view[os.write(fd, view) :]
    return int(isal_zlib.crc32(data, crc))
