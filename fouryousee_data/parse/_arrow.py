"""Arrow's JSON reader on one block, when it provably sees one object per line.

:func:`read_block` reads the block against an explicit schema, :func:`convert`
turns the raw columns into the stored dtypes and checks them like the careful
path does (no nulls in required keys, real dates, times 00:00:00-23:59:59,
UTF-8 strings). Any doubt raises :class:`~._block.BadBlock`: the careful path
then takes the block and names the first bad line.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from fouryousee_data import schema
from fouryousee_data.parse._block import RAW_SCHEMA, STRING_COLUMNS, BadBlock, Columns, LineIndex
from fouryousee_data.timerange import is_iso_date

__all__ = ["convert", "read_block"]

# Arrow allocations of the parser come from malloc: mimalloc (Arrow's default)
# keeps freed blocks cached per thread, which cost ~2x the frame in peak RSS here.
_POOL = pa.system_memory_pool()

_PARSE_OPTIONS = pj.ParseOptions(explicit_schema=RAW_SCHEMA, unexpected_field_behavior="ignore")
# One thread per block: the blocks themselves are parsed in parallel (_engine.Parsers).
_READ_OPTIONS = pj.ReadOptions(use_threads=False, block_size=2 * 1024 * 1024)
_OPEN, _CLOSE, _CR = 123, 125, 13  # "{", "}", "\r"


def read_block(block: memoryview, lines: LineIndex) -> list[Columns]:
    """The block's rows through Arrow's reader; :class:`BadBlock` on any doubt."""
    n_objects = _object_lines(lines)
    # Every line now starts with "{" and ends with "}": a line break can only fall
    # between two top-level objects, so one row per line <=> rows == lines.
    try:
        table = pj.read_json(
            pa.BufferReader(pa.py_buffer(block)),
            read_options=_READ_OPTIONS,
            parse_options=_PARSE_OPTIONS,
            memory_pool=_POOL,
        )
    except pa.ArrowInvalid as exc:
        raise BadBlock from exc
    if table.num_rows != n_objects:
        raise BadBlock
    return [convert(batch) for batch in table.to_batches()]


def _object_lines(lines: LineIndex) -> int:
    """How many lines hold an object; BadBlock unless each is ``{...}`` or blank."""
    a, starts, ends = lines.data, lines.starts, lines.ends
    first = a[starts]
    last = a[ends - 1]
    if (first == _OPEN).all() and (last == _CLOSE).all():
        return len(ends)
    # Blank lines and CRLF are fine; anything else is for the careful path.
    blank = (ends == starts) | ((ends - starts == 1) & (first == _CR))
    last = np.where(last == _CR, a[np.maximum(ends - 2, 0)], last)
    content = ~blank
    if not ((first[content] == _OPEN).all() and (last[content] == _CLOSE).all()):
        raise BadBlock
    return int(content.sum())


def convert(batch: pa.RecordBatch) -> Columns:
    """Raw columns (:data:`RAW_SCHEMA`) -> numpy in the stored dtypes, strings encoded.

    Raises BadBlock on any doubt.
    """
    for key in schema.REQUIRED_KEYS:
        if batch.column(key).null_count:
            raise BadBlock
    columns: Columns = {"played_at": _played_at(batch.column("date"), batch.column("time"))}
    columns["player_id"] = batch.column("playerId").to_numpy()
    columns["media_id"] = batch.column("mediaId").to_numpy()
    for name, key in STRING_COLUMNS.items():
        columns[name] = _encode(batch.column(key))
    return {name: columns[name] for name in schema.COLUMNS}


def _encode(values: pa.BinaryArray) -> tuple[list[str], np.ndarray]:
    """(distinct values as text, int32 codes with -1 for null); BadBlock unless UTF-8."""
    encoded = pc.dictionary_encode(values, memory_pool=_POOL)
    try:  # Arrow's JSON reader does not validate UTF-8
        text = [value.decode("utf-8") for value in encoded.dictionary.to_pylist()]
    except UnicodeDecodeError as exc:
        raise BadBlock from exc
    return text, encoded.indices.fill_null(-1).to_numpy()


# --------------------------------------------------------------------------- played_at

_U = np.uint64
_ASCII_ZEROS = _U(0x3030303030303030)
_EPOCH = date(1970, 1, 1).toordinal()


def _played_at(dates: pa.BinaryArray, times: pa.BinaryArray) -> np.ndarray:
    """``YYYY-MM-DD`` + ``HH:MM:SS`` -> seconds since 1970; BadBlock unless all are valid.

    Validated like the careful path (a real date, year 1-9999, 00:00:00-23:59:59).
    No strptime: the time is read from its 8 bytes as one 64-bit word; a block
    holds a few distinct dates, each checked with :func:`~fouryousee_data.timerange.is_iso_date`.
    """
    if not len(dates):
        return np.empty(0, np.int64)
    codes, first_rows = _distinct_dates(dates)
    day_seconds = np.array([_day_seconds(dates, int(row)) for row in first_rows], np.int64)
    return day_seconds[codes] + _seconds_of_day(_words(times, 8))


def _seconds_of_day(time: np.ndarray) -> np.ndarray:
    """``HH:MM:SS`` words -> seconds since midnight; BadBlock unless all are valid."""
    if not ((time & _U(0x0000FF0000FF0000)) == _U(0x00003A00003A0000)).all():
        raise BadBlock
    t = time ^ _ASCII_ZEROS
    if _not_digits(t, 0x8080008080008080):
        raise BadBlock
    hours = _digit(t, 0) * 10 + _digit(t, 1)
    minutes = _digit(t, 3) * 10 + _digit(t, 4)
    seconds = _digit(t, 6) * 10 + _digit(t, 7)
    if (hours > 23).any() or (minutes > 59).any() or (seconds > 59).any():
        raise BadBlock
    return hours * 3600 + minutes * 60 + seconds


def _distinct_dates(dates: pa.BinaryArray) -> tuple[np.ndarray, np.ndarray]:
    """(each row's date code, each distinct date's first row); BadBlock unless ``....-..-..``."""
    date_head = _words(dates, 10)  # "YYYY-MM-"
    if not ((date_head & _U(0xFF0000FF00000000)) == _U(0x2D00002D00000000)).all():
        raise BadBlock
    tail_offset = np.frombuffer(dates.buffers()[1], np.int32, 1, dates.offset * 4)[0] + 8
    date_tail = np.ndarray((len(dates),), "<u2", dates.buffers()[2], int(tail_offset), (10,))
    # "YYYY-MM-" with "DD" in place of the two '-': one key per distinct date.
    date_key = (
        (date_head & _U(0x00FFFF00FFFFFFFF))
        | ((date_tail.astype(np.uint64) & _U(0xFF)) << _U(32))
        | ((date_tail.astype(np.uint64) >> _U(8)) << _U(56))
    )
    codes, keys = pd.factorize(date_key)
    firsts = np.empty(len(keys), np.int64)
    firsts[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # each date's first row
    return codes, firsts


def _day_seconds(dates: pa.BinaryArray, row: int) -> int:
    """Seconds from 1970-01-01 to the date of ``row``; BadBlock unless a real date."""
    text = bytes(dates[row].as_buffer()).decode("ascii", "replace")
    if not is_iso_date(text):
        raise BadBlock
    return (date.fromisoformat(text).toordinal() - _EPOCH) * 86400


def _words(values: pa.BinaryArray, width: int) -> np.ndarray:
    """The first 8 bytes of each value as a little-endian uint64 (a strided view).

    Raises BadBlock unless every value is exactly ``width`` (>= 8) bytes long.
    """
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], np.int32, n + 1, values.offset * 4)
    if offsets[-1] - offsets[0] != width * n or (np.diff(offsets) != width).any():
        raise BadBlock
    return np.ndarray((n,), "<u8", values.buffers()[2], int(offsets[0]), (width,))


def _digit(x: np.ndarray, k: int) -> np.ndarray:
    """Byte ``k`` of words whose digit bytes were XORed with ``'0'``."""
    return ((x >> _U(8 * k)) & _U(0xFF)).astype(np.int32)


def _not_digits(x: np.ndarray, high_bits: int) -> bool:
    """Any byte under ``high_bits`` (0x80 marks) of ``x`` (XORed with '0') above 9."""
    return bool(
        ((((x & _U(0x7F7F7F7F7F7F7F7F)) + _U(0x7676767676767676)) | x) & _U(high_bits)).any()
    )
