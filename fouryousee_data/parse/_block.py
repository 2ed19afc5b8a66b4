"""One block of whole lines and what parsing makes of it: the nouns every engine shares.

A *block* is ~1 MiB of NDJSON text cut at a line end, in the pieces gunzip
gave it (see :mod:`._stream`; the C scanner reads them where they are). An
engine turns it into :class:`Parsed` typed columns (:data:`STORE_TYPES`, string
columns as ``(values, codes)``), or declines it (:class:`BadBlock`) so the next
engine, down to the careful per-line path, takes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from fouryousee_data import schema

__all__ = [
    "JSON_WS",
    "RAW_SCHEMA",
    "STORE_TYPES",
    "STRING_COLUMNS",
    "BadBlock",
    "Columns",
    "Dictionaries",
    "LineIndex",
    "Parsed",
    "excerpt",
]

#: One block's rows: numpy columns in :data:`STORE_TYPES`, except the string
#: columns, which are ``(distinct values, int32 codes with -1 for null)``.
Columns = dict[str, Any]

#: The whitespace JSON allows around a value (a line of only these is blank).
JSON_WS = b" \t\r\n"

#: How each column is stored while rows accumulate (dictionary codes for strings).
STORE_TYPES: dict[str, np.dtype[Any]] = {
    "played_at": np.dtype(np.int64),
    "account": np.dtype(np.int32),
    "player_id": np.dtype(np.int32),
    "media_id": np.dtype(np.int32),
    "media_type": np.dtype(np.int32),
    "ip": np.dtype(np.int32),
}

#: What a line is parsed into, before the conversion to the final dtypes.
#: (binary, not string: Arrow's JSON reader does not check UTF-8 anyway, and binary
#: is a little faster; the few distinct values per block are decoded strictly.)
RAW_SCHEMA = pa.schema(
    [
        ("date", pa.binary()),
        ("time", pa.binary()),
        ("playerId", pa.int32()),
        ("mediaId", pa.int32()),
        ("account", pa.binary()),
        ("type", pa.binary()),
        ("ip", pa.binary()),
    ]
)

#: The dictionary-encoded columns and the report keys they come from.
STRING_COLUMNS = {
    name: key for name, key in schema.SOURCE_KEYS.items() if key in ("account", "type", "ip")
}


class BadBlock(Exception):
    """An engine cannot vouch for this block: the next one (at last the careful path) takes it."""


@dataclass
class Parsed:
    """One block, parsed without knowing where it sits in the file."""

    parts: list[Any]  # the block's text, in the pieces gunzip gave (see _stream.LineBlocks)
    n_lines: int
    columns: list[Columns] | None = None  # None (and no scanned): for the careful path
    too_long: int | None = None  # 0-based line of the block over max_line_bytes
    scanned: Any = None  # the C scanner's rows (a _fastscan.Block), merged in C

    @property
    def block(self) -> memoryview:
        """The block's text in one piece (joined once, for the Arrow and careful paths)."""
        if len(self.parts) != 1:
            self.parts = [b"".join(self.parts)]
        return memoryview(self.parts[0])


class Dictionaries(Protocol):
    """One growing dictionary per string column for one read: every block's codes index into it."""

    def encode(self, name: str, values: list[str], codes: np.ndarray) -> np.ndarray:
        """A block's (values, codes with -1 for null) -> codes of this dictionary."""
        ...

    def size(self, name: str) -> int:
        """The number of values in the column's dictionary."""
        ...

    def values(self, name: str) -> list[str]:
        """The column's dictionary, in code order."""
        ...

    def array(self, name: str) -> pa.Array:
        """The column's dictionary, in code order, as an Arrow string array."""
        ...


@dataclass
class LineIndex:
    """Where the lines of a block start and end (``ends`` at each ``\\n``)."""

    data: np.ndarray  # the block as uint8
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, block: memoryview) -> LineIndex:
        """The lines of a non-empty block of whole lines."""
        a = np.frombuffer(block, np.uint8)
        ends = np.flatnonzero(a == 10)
        starts = np.empty_like(ends)
        starts[0], starts[1:] = 0, ends[:-1] + 1
        return cls(a, starts, ends)

    def first_longer_than(self, max_line: int) -> int | None:
        """The 0-based number of the first line over ``max_line`` bytes, or None."""
        if len(self.data) <= max_line:
            return None
        too_long = np.flatnonzero(self.ends - self.starts > max_line)
        return int(too_long[0]) if len(too_long) else None


def excerpt(line: bytes, limit: int = 60) -> str:
    """The start of a line, for an error message."""
    text = line[:limit].decode("utf-8", "replace").rstrip("\r\n")
    return text + ("…" if len(line) > limit else "")
