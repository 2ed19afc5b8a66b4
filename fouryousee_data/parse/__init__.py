"""Read a 4YouSee report file (gzip or plain NDJSON) into the playlog table.

The hot path every download goes through. The pipeline, per source::

    reader thread:   source.read() -> gunzip, member after member --bounded queue-->
    main thread:     cut the text into ~1 MiB blocks of whole lines
    worker threads:  parse blocks in parallel -> typed numpy columns per block
    main thread:     in file order: one shared dictionary per string column,
                     rows appended to lazily committed slabs -> table / frame

Only typed rows are kept (``played_at`` seconds, ``int32`` ids and dictionary
codes: 28 bytes a row), never the decompressed text nor a table of strings,
so memory is bounded by the result. Each block is first scanned by the C
extension ``_fastscan`` (made for playlog lines, GIL released; see :func:`_scan`),
which declines any block it cannot vouch for; such a block, or every block
if the extension is not built, is parsed by Arrow's JSON reader against an
explicit schema; a block Arrow rejects, or whose values break
a rule (nulls, impossible dates, two objects on one line, ...), is parsed again
line by line with :mod:`json` to name the exact first bad line. That careful
path is the definition of a valid playlog; the fast path only accepts blocks
for which it provably gives the same rows.
"""

from __future__ import annotations

import io
import json
import logging
import mmap
import os
import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from isal import isal_zlib

from fouryousee_data import schema
from fouryousee_data.errors import CorruptReportError, InvalidPlaylogError
from fouryousee_data.timerange import check_tz

try:  # the C scanner of _fastscan.c, built by pip install; Arrow's reader without it
    from fouryousee_data import _fastscan
except ImportError:  # pragma: no cover - depends on the build
    _fastscan = None
    logging.getLogger("fouryousee_data.parse").debug(
        "the C scanner (_fastscan) is not built: every block takes Arrow's JSON reader"
    )

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED",
    "DEFAULT_MAX_LINE",
    "read_playlogs",
    "read_table",
]

log = logging.getLogger("fouryousee_data.parse")

#: Default ceiling on the decompressed size of one report (about 130 M playlogs).
DEFAULT_MAX_DECOMPRESSED = 16 * 2**30
#: Default ceiling on the length of one line (a playlog line is ~130 bytes).
DEFAULT_MAX_LINE = 2**20

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
Progress = Callable[[int, int], None]

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_JSON_WS = b" \t\r\n"
_READ_SIZE = 256 * 1024  # bytes asked from the source per read()
_PIECE = 256 * 1024  # most decompressed bytes produced per decompress() call
_QUEUE_ITEMS = 4  # pieces in flight between the reader thread and the parser
# Decompressed bytes parsed at once. Small blocks keep the transient memory
# small and in cache; Arrow's per-call overhead is still negligible at 1 MiB.
_BLOCK = 1024 * 1024
_MAX_PARSERS = 4  # worker threads parsing blocks (at most the CPU count)
# Arrow allocations of the parser come from malloc: mimalloc (Arrow's default)
# keeps freed blocks cached per thread, which cost ~2x the frame in peak RSS here.
_POOL = pa.system_memory_pool()
#: Rows per slab of the result (virtual memory only until written): see _Slabs.
_SLAB_ROWS = 8 * 1024 * 1024
_STORE_TYPES = {
    "played_at": np.dtype(np.int64),
    "account": np.dtype(np.int32),
    "player_id": np.dtype(np.int32),
    "media_id": np.dtype(np.int32),
    "media_type": np.dtype(np.int32),
    "ip": np.dtype(np.int32),
}

# What a line is parsed into, before the conversion to the final dtypes.
# (binary, not string: Arrow's JSON reader does not check UTF-8 anyway, and binary
# is a little faster; the few distinct values per block are decoded strictly.)
_RAW_SCHEMA = pa.schema(
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
_PARSE_OPTIONS = pj.ParseOptions(explicit_schema=_RAW_SCHEMA, unexpected_field_behavior="ignore")
# One thread per block: the blocks themselves are parsed in parallel (_Parsers).
_READ_OPTIONS = pj.ReadOptions(use_threads=False, block_size=2 * _BLOCK)
_STRING_COLUMNS = {
    name: key for name, key in schema.SOURCE_KEYS.items() if key in ("account", "type", "ip")
}
# The dictionary columns in the order _fastscan.scan takes them (keys account, type, ip).
_SCAN_STRINGS = ("account", "media_type", "ip")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_TIME_RE = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})\Z")


class _BadBlock(Exception):
    """The fast path cannot vouch for this block: parse it line by line."""


# --------------------------------------------------------------------------- public API


def read_table(
    source: Source,
    *,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED,
    max_line_bytes: int = DEFAULT_MAX_LINE,
    on_progress: Progress | None = None,
) -> pa.Table:
    """Parse a report file into an Arrow table in :data:`~fouryousee_data.schema.PLAYLOG_SCHEMA`.

    Parameters
    ----------
    source
        A path (``str`` or ``Path``), ``bytes``, or a binary file object with
        ``read(n)`` (a file, ``urllib3``'s ``response.raw``). Gzip (one or
        several members) or plain NDJSON, told apart by the magic bytes.
        Exceptions raised by ``source.read()`` propagate unchanged.
    max_decompressed_bytes
        Ceiling on the NDJSON text size; above it, :class:`CorruptReportError`.
    max_line_bytes
        Ceiling on one line's length; above it, :class:`CorruptReportError`.
    on_progress
        Called as ``on_progress(n_source_bytes, n_rows)`` with the increments
        of each block consumed (source bytes are compressed bytes for gzip).

    Returns
    -------
    pyarrow.Table
        Rows in file order; each dictionary column has one dictionary.

    Raises
    ------
    CorruptReportError
        Not gzip/NDJSON, a truncated or corrupt gzip, a ceiling exceeded.
    InvalidPlaylogError
        A line that is not a valid playlog (``line_number`` is 1-based).

    Examples
    --------
    >>> line = b'{"date":"2024-03-01","time":"08:00:05","playerId":4,"mediaId":48}'
    >>> t = read_table(line + b"\\n")
    >>> t.num_rows, t.column("player_id").to_pylist()
    (1, [4])
    """
    return _parse(source, max_decompressed_bytes, max_line_bytes, on_progress).table()


def read_playlogs(
    source: Source,
    *,
    tz: str | None = None,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED,
    max_line_bytes: int = DEFAULT_MAX_LINE,
) -> pd.DataFrame:
    """Parse a report file into the playlog DataFrame (SPEC section 3).

    The same as ``schema.to_pandas(read_table(source, ...), tz)``: see
    :func:`read_table` for ``source``, the ceilings and the errors.

    Parameters
    ----------
    source
        A path, ``bytes`` or a binary file object; gzip or plain NDJSON.
    tz
        The account's time zone (e.g. ``"America/Sao_Paulo"``): ``played_at``
        becomes tz-aware (see :func:`fouryousee_data.schema.localize` for the
        DST rules). ``None`` keeps naive local wall-clock times.
    max_decompressed_bytes, max_line_bytes
        Ceilings, as in :func:`read_table`.

    Returns
    -------
    pandas.DataFrame
        Columns ``played_at, account, player_id, media_id, media_type, ip``.

    Examples
    --------
    >>> line = b'{"date":"2024-03-01","time":"08:00:05","playerId":4,"mediaId":48,"type":"V"}'
    >>> df = read_playlogs(line)
    >>> df.loc[0, "played_at"], df.loc[0, "media_type"]
    (Timestamp('2024-03-01 08:00:05'), 'V')
    >>> str(read_playlogs(line, tz="America/Sao_Paulo").loc[0, "played_at"])
    '2024-03-01 08:00:05-03:00'
    """
    check_tz(tz)
    # Built straight from the parsed numpy columns (no Arrow round trip, no copy):
    # the same frame as schema.to_pandas(read_table(...), tz), with less memory.
    return _parse(source, max_decompressed_bytes, max_line_bytes, None).frame(tz)


def _parse(
    source: Source, max_decompressed: int, max_line: int, on_progress: Progress | None
) -> _TableBuilder:
    _check_limits(max_decompressed, max_line)
    builder = _TableBuilder(max_line)
    with (
        _opened(source) as fileobj,
        _Reader(fileobj, max_decompressed) as reader,
        _Parsers() as parsers,
    ):
        for parsed, n_source in parsers.map(_blocks(reader, max_line), builder.parse):
            n_rows = builder.add(parsed)
            if on_progress is not None:
                on_progress(n_source, n_rows)
    return builder


def _check_limits(max_decompressed_bytes: int, max_line_bytes: int) -> None:
    if not isinstance(max_decompressed_bytes, int) or max_decompressed_bytes < 1:
        raise ValueError(
            f"max_decompressed_bytes must be a positive int, got {max_decompressed_bytes!r}"
        )
    if not isinstance(max_line_bytes, int) or max_line_bytes < 1:
        raise ValueError(f"max_line_bytes must be a positive int, got {max_line_bytes!r}")


# --------------------------------------------------------------------------- reading


@contextmanager
def _opened(source: Source) -> Iterator[IO[bytes]]:
    """The source as a binary file object (opened and closed here for a path)."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            yield f
    elif isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(source)
    elif callable(getattr(source, "read", None)):
        yield source
    else:
        raise ValueError(
            f"source must be a path, bytes or a binary file object, got {type(source).__name__}"
        )


class _Reader:
    """Reads and gunzips the source in a thread; yields NDJSON text pieces.

    Iterating gives ``(piece, n_source_bytes)``. Errors of the thread (the
    source's own, unchanged, or :class:`CorruptReportError`) are re-raised in
    the consumer. On exit the thread is always stopped and joined.
    """

    def __init__(self, fileobj: IO[bytes], max_decompressed: int) -> None:
        self._file = fileobj
        self._max = max_decompressed
        self._queue: queue.Queue[tuple[str, Any, int]] = queue.Queue(_QUEUE_ITEMS)
        self._stop = threading.Event()
        self._n_read = 0  # source bytes read, not yet reported
        self._thread = threading.Thread(target=self._run, name="fouryousee-reader", daemon=True)

    def __enter__(self) -> _Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with suppress(queue.Empty):  # unblock a put() waiting for room
                self._queue.get(timeout=0.05)
        self._thread.join()

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        while True:
            kind, value, n_source = self._queue.get()
            if kind == "error":
                raise value
            if kind == "end":
                if n_source:
                    yield b"", n_source
                return
            yield value, n_source

    # -- the thread

    def _put(self, kind: str, value: Any, n_source: int) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value, n_source), timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped

    def _run(self) -> None:
        try:
            self._produce()
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the consumer, which raises it
            with suppress(_Stopped):
                self._put("error", exc, 0)

    def _read(self) -> bytes:
        data = self._file.read(_READ_SIZE)
        if not isinstance(data, bytes | bytearray):
            raise ValueError("source must be opened in binary mode (read() returned text)")
        self._n_read += len(data)
        return bytes(data)

    def _put_text(self, piece: bytes) -> None:
        self._total += len(piece)
        if self._total > self._max:
            raise CorruptReportError(
                f"the report decompresses to more than {self._max:,} bytes "
                "(max_decompressed_bytes): refusing a possible gzip bomb"
            )
        n_read, self._n_read = self._n_read, 0
        self._put("data", piece, n_read)

    def _produce(self) -> None:
        self._total = 0
        head = b""
        while len(head) < 2:
            data = self._read()
            if not data:
                break
            head += data
        if head[:2] == _GZIP_MAGIC:
            self._gunzip(head)
        else:
            while head:
                self._put_text(head)
                head = self._read()
        self._put("end", None, self._n_read)

    def _gunzip(self, data: bytes) -> None:
        inflater = isal_zlib.decompressobj(31)
        while data:
            while data:
                try:
                    piece = inflater.decompress(data, _PIECE)
                except isal_zlib.error as exc:
                    raise CorruptReportError(f"the gzip stream is corrupt ({exc})") from exc
                data = inflater.unconsumed_tail
                if piece:
                    self._put_text(piece)
                if inflater.eof:
                    data = self._next_member(inflater.unused_data + data)
                    if not data:
                        return  # a clean end after the last member
                    inflater = isal_zlib.decompressobj(31)
            data = self._read()
        raise CorruptReportError("the gzip stream is truncated (the download was cut short?)")

    def _next_member(self, rest: bytes) -> bytes:
        """After a member's end: the next member's bytes, or b"" at the end."""
        while len(rest) < 2:
            data = self._read()
            if not data:
                break
            rest += data
        if rest and rest[:2] != _GZIP_MAGIC:
            raise CorruptReportError("unexpected bytes after the end of the gzip stream")
        return rest


class _Stopped(Exception):
    """The consumer went away: the reader thread ends quietly."""


def _blocks(reader: _Reader, max_line: int) -> Iterator[tuple[memoryview, int]]:
    """Cut the text into blocks of whole lines (each ends with ``\\n``)."""
    pending: list[bytes] = []
    size = n_source = 0
    threshold = _BLOCK  # grows while one line is longer than a block
    at_start, content_seen = True, False
    for piece, n in reader:
        n_source += n
        if at_start:  # drop a UTF-8 BOM, possibly split over pieces
            piece = b"".join([*pending, piece])
            if len(piece) < len(_BOM) and _BOM.startswith(piece):
                pending = [piece]
                continue
            piece, pending, size, at_start = piece.removeprefix(_BOM), [], 0, False
        if not content_seen:
            content_seen = _check_start(piece)
        pending.append(piece)
        size += len(piece)
        if size < threshold:
            continue
        data = b"".join(pending)
        cut = data.rfind(b"\n") + 1
        if len(data) - cut > max_line:
            raise CorruptReportError(f"a line is longer than {max_line:,} bytes (max_line_bytes)")
        if cut:
            yield memoryview(data)[:cut], n_source
            n_source = 0
        pending = [data[cut:]]
        size = len(pending[0])
        threshold = size + _BLOCK
    data = b"".join(pending)
    if at_start:
        data = data.removeprefix(_BOM)
        _check_start(data)
    if data and not data.endswith(b"\n"):
        data += b"\n"
    if data or n_source:
        yield memoryview(data), n_source


def _check_start(text: bytes) -> bool:
    """Refuse a body whose first non-blank byte is not ``{``; True once one was seen."""
    text = text.lstrip(_JSON_WS)
    if text and text[:1] != b"{":
        raise CorruptReportError(
            f"the report is not NDJSON: it starts with {_excerpt(text)!r} "
            "(an HTML or XML error page?)"
        )
    return bool(text)


# --------------------------------------------------------------------------- parsing


class _Parsers:
    """Parses blocks in worker threads, in parallel; results come back in order.

    Arrow's JSON reader and numpy release the GIL, so the workers use every
    core while the main thread stores results and the reader thread gunzips.
    At most ``2 * workers`` blocks are in flight; on exit (also on an error)
    the pending ones are cancelled and the workers joined.
    """

    def __init__(self) -> None:
        self._workers = max(1, min(_MAX_PARSERS, os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="fouryousee-parser")

    def __enter__(self) -> _Parsers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def map(
        self, blocks: Iterator[tuple[memoryview, int]], parse: Callable[[memoryview], _Parsed]
    ) -> Iterator[tuple[_Parsed, int]]:
        in_flight: deque[tuple[Future[_Parsed], int]] = deque()
        for block, n_source in blocks:
            in_flight.append((self._pool.submit(parse, block), n_source))
            if len(in_flight) >= 2 * self._workers:
                future, n = in_flight.popleft()
                yield future.result(), n
        while in_flight:
            future, n = in_flight.popleft()
            yield future.result(), n


@dataclass
class _Parsed:
    """One block, parsed without knowing where it sits in the file."""

    block: memoryview
    n_lines: int
    columns: list[dict[str, Any]] | None = None  # None: the fast path refused it
    too_long: int | None = None  # 0-based line of the block over max_line_bytes


class _TableBuilder:
    """Turns each block at once into typed rows; builds the table at the end."""

    def __init__(self, max_line: int) -> None:
        self._max_line = max_line
        self._lines = 0  # lines before the current block
        self._store = _Slabs()
        self._dicts = {name: _Dictionary() for name in _STRING_COLUMNS}

    def parse(self, block: memoryview) -> _Parsed:
        """The fast path on one block of whole lines (in a worker thread)."""
        if not len(block):
            return _Parsed(block, 0, [])
        if _fastscan is not None:
            scanned = _scan(block, self._max_line)
            if scanned is not None:
                return scanned
        a = np.frombuffer(block, np.uint8)
        ends = np.flatnonzero(a == 10)
        starts = np.empty_like(ends)
        starts[0], starts[1:] = 0, ends[:-1] + 1
        if len(block) > self._max_line:
            too_long = np.flatnonzero(ends - starts > self._max_line)
            if len(too_long):
                return _Parsed(block, len(ends), too_long=int(too_long[0]))
        try:
            raw = _fast_parse(block, a, starts, ends)
            return _Parsed(block, len(ends), [_convert(batch) for batch in raw.to_batches()])
        except _BadBlock:
            return _Parsed(block, len(ends))

    def add(self, parsed: _Parsed) -> int:
        """Store a parsed block, in file order; returns its number of rows."""
        if parsed.too_long is not None:
            raise CorruptReportError(
                f"line {self._lines + parsed.too_long + 1} is longer than "
                f"{self._max_line:,} bytes (max_line_bytes)"
            )
        batches = parsed.columns
        if batches is None:  # name the first bad line, or vouch for the block
            log.debug("lines %d+: parsed line by line", self._lines + 1)
            batches = [_convert(_careful_parse(parsed.block, self._lines + 1))]
        self._lines += parsed.n_lines
        n_rows = 0
        for columns in batches:
            for name, dictionary in self._dicts.items():
                columns[name] = dictionary.encode(columns[name])
            n_rows += self._store.append(columns)
        return n_rows

    def table(self) -> pa.Table:
        """The result in PLAYLOG_SCHEMA (Arrow wraps the numpy columns, no copy)."""
        columns = self._store.finish()
        arrays = []
        for field in schema.PLAYLOG_SCHEMA:
            values = columns.pop(field.name)
            if field.name in self._dicts:
                arrays.append(self._dicts[field.name].array(values))
            else:
                arrays.append(pa.array(values).view(field.type))
        return pa.Table.from_arrays(arrays, schema=schema.PLAYLOG_SCHEMA)

    def frame(self, tz: str | None) -> pd.DataFrame:
        """The playlog DataFrame, its numeric columns the parsed arrays themselves."""
        columns: dict[str, Any] = self._store.finish()
        columns["played_at"] = columns["played_at"].view(f"datetime64[{schema.TIME_UNIT}]")
        for name, dictionary in self._dicts.items():
            columns[name] = dictionary.categorical(columns[name])
        df = pd.DataFrame({name: columns.pop(name) for name in schema.COLUMNS}, copy=False)
        if tz:
            df["played_at"] = schema.localize(df["played_at"], tz)
        return df


class _Slabs:
    """Typed columns that grow in place in large, lazily committed numpy slabs.

    A slab is an anonymous memory mapping per column: the kernel commits a
    page only when a row is written, so a slab costs the memory of its rows,
    not of its capacity. Keeping the result out of the heap where
    the blocks come and go avoids fragmentation (measured: ~1.5x the frame
    of extra peak RSS with many small chunks). Up to ``_SLAB_ROWS`` rows the
    result is the slab itself: no concatenation at the end.
    """

    def __init__(self) -> None:
        self._slabs: list[dict[str, np.ndarray]] = []
        self._fill = _SLAB_ROWS  # rows used in the last slab

    def append(self, columns: dict[str, np.ndarray]) -> int:
        n = len(columns["played_at"])
        done = 0
        while done < n:
            if self._fill == _SLAB_ROWS:
                self._slabs.append({k: _lazy_empty(_SLAB_ROWS, t) for k, t in _STORE_TYPES.items()})
                self._fill = 0
            take = min(n - done, _SLAB_ROWS - self._fill)
            for name, slab in self._slabs[-1].items():
                slab[self._fill : self._fill + take] = columns[name][done : done + take]
            self._fill += take
            done += take
        return n

    def finish(self) -> dict[str, np.ndarray]:
        if not self._slabs:
            return {name: np.empty(0, t) for name, t in _STORE_TYPES.items()}
        sizes = [_SLAB_ROWS] * (len(self._slabs) - 1) + [self._fill]
        slabs, self._slabs = self._slabs, []
        columns = {}
        for name in _STORE_TYPES:
            parts = [slab.pop(name)[:size] for slab, size in zip(slabs, sizes, strict=True)]
            columns[name] = parts[0] if len(parts) == 1 else np.concatenate(parts)
            del parts
        return columns


def _lazy_empty(n: int, dtype: np.dtype) -> np.ndarray:
    """``np.empty(n, dtype)`` in its own anonymous mapping, committed page by page.

    Not ``np.empty``: numpy asks for transparent huge pages on large arrays,
    which commits memory 2 MiB at a time per column.
    """
    return np.frombuffer(mmap.mmap(-1, max(n, 1) * dtype.itemsize), dtype, n)


class _Dictionary:
    """One growing dictionary for a column: every block's codes index into it."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def encode(self, encoded: tuple[list[str], np.ndarray]) -> np.ndarray:
        """A block's (values, codes with -1 for null) -> codes of this dictionary."""
        values, codes = encoded
        remap = [self._codes.setdefault(v, len(self._codes)) for v in values]
        remap.append(-1)  # codes of -1 (null) pick this last entry
        return np.array(remap, np.int32)[codes]

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        """The codes (-1 for null) as a pandas Categorical over this dictionary."""
        return pd.Categorical.from_codes(codes, categories=list(self._codes))

    def array(self, codes: np.ndarray) -> pa.DictionaryArray:
        """The codes (-1 for null) as a DictionaryArray over this dictionary."""
        valid = codes >= 0
        bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
        indices = pa.Array.from_buffers(pa.int32(), len(codes), [bitmap, pa.py_buffer(codes)])
        dictionary = pa.array(list(self._codes), pa.string())
        return pa.DictionaryArray.from_arrays(indices, dictionary)


def _scan(block: memoryview, max_line: int) -> _Parsed | None:
    """The C scanner on a block: typed columns, or None where it cannot vouch for every line.

    Why C: with Arrow's reader first, 1 M rows took 1.43 s and 5 M 6.75 s on the
    2-core machine (5.5x and 6.6x pandas; the bars are 6x and 12x), Arrow's
    generic tokenizer alone ~2 s of CPU per million lines. ``_fastscan.scan``
    reads the known flat playlog keys in one pass with the GIL released, writes
    the final types directly, and declines anything unusual (escapes in kept
    strings, duplicated keys, floats as ids, bad dates, ...), which then takes
    the Arrow / careful path below, so errors and line numbers are unchanged.
    """
    rows = len(block) // 64  # a valid line has at least 65 bytes
    columns = {name: np.empty(rows, _STORE_TYPES[name]) for name in schema.COLUMNS}
    result = _fastscan.scan(
        block,
        max_line,
        *(columns[name] for name in ("played_at", "player_id", "media_id")),
        *(columns[name] for name in _SCAN_STRINGS),
    )
    if result is None:
        return None
    n_lines, n_rows, *raw_values = result
    out: dict[str, Any] = {name: columns[name][:n_rows] for name in schema.COLUMNS}
    for name, raw in zip(_SCAN_STRINGS, raw_values, strict=True):
        try:
            values = [value.decode("utf-8") for value in raw]
        except UnicodeDecodeError:
            return None
        out[name] = (values, out[name])
    return _Parsed(block, n_lines, [out])


def _fast_parse(block: memoryview, a: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Table:
    """Arrow's JSON reader on the whole block, when it provably sees one object per line."""
    first = a[starts]
    last = a[ends - 1]
    if not ((first == 123).all() and (last == 125).all()):
        # Blank lines and CRLF are fine; anything else is for the careful path.
        blank = (ends == starts) | ((ends - starts == 1) & (first == 13))
        cr = last == 13
        last = np.where(cr, a[np.maximum(ends - 2, 0)], last)
        content = ~blank
        if not ((first[content] == 123).all() and (last[content] == 125).all()):
            raise _BadBlock
        n_lines = int(content.sum())
    else:
        n_lines = len(ends)
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
        raise _BadBlock from exc
    if table.num_rows != n_lines:
        raise _BadBlock
    return table


def _convert(batch: pa.RecordBatch) -> dict[str, Any]:
    """Raw columns -> numpy in the final dtypes, strings dictionary-encoded.

    Raises _BadBlock on any doubt.
    """
    for key in schema.REQUIRED_KEYS:
        if batch.column(key).null_count:
            raise _BadBlock
    columns: dict[str, Any] = {"played_at": _played_at(batch.column("date"), batch.column("time"))}
    columns["player_id"] = batch.column("playerId").to_numpy()
    columns["media_id"] = batch.column("mediaId").to_numpy()
    for name, key in _STRING_COLUMNS.items():
        encoded = pc.dictionary_encode(batch.column(key), memory_pool=_POOL)
        try:  # Arrow's JSON reader does not validate UTF-8
            values = [value.decode("utf-8") for value in encoded.dictionary.to_pylist()]
        except UnicodeDecodeError as exc:
            raise _BadBlock from exc
        columns[name] = (values, encoded.indices.fill_null(-1).to_numpy())
    return {name: columns[name] for name in schema.COLUMNS}


def _words(values: pa.BinaryArray, width: int) -> np.ndarray:
    """The first 8 bytes of each value as a little-endian uint64 (a strided view).

    Raises _BadBlock unless every value is exactly ``width`` (>= 8) bytes long.
    """
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], np.int32, n + 1, values.offset * 4)
    if offsets[-1] - offsets[0] != width * n or (np.diff(offsets) != width).any():
        raise _BadBlock
    return np.ndarray((n,), "<u8", values.buffers()[2], int(offsets[0]), (width,))


_U = np.uint64
_ASCII_ZEROS = _U(0x3030303030303030)


def _digit(x: np.ndarray, k: int) -> np.ndarray:
    """Byte ``k`` of words whose digit bytes were XORed with ``'0'``."""
    return ((x >> _U(8 * k)) & _U(0xFF)).astype(np.int32)


def _not_digits(x: np.ndarray, high_bits: int) -> bool:
    """Any byte under ``high_bits`` (0x80 marks) of ``x`` (XORed with '0') above 9."""
    return bool(
        ((((x & _U(0x7F7F7F7F7F7F7F7F)) + _U(0x7676767676767676)) | x) & _U(high_bits)).any()
    )


def _played_at(dates: pa.BinaryArray, times: pa.BinaryArray) -> np.ndarray:
    """``YYYY-MM-DD`` + ``HH:MM:SS`` -> seconds since 1970; _BadBlock unless all are valid.

    Validated like the careful path (a real date, year 1-9999, 00:00:00-23:59:59).
    No strptime: the time is read from its 8 bytes as one 64-bit word; a block
    holds a few distinct dates, each checked with :class:`datetime.date`.
    """
    if not len(dates):
        return np.empty(0, np.int64)
    date_head = _words(dates, 10)  # "YYYY-MM-"
    tail_offset = np.frombuffer(dates.buffers()[1], np.int32, 1, dates.offset * 4)[0] + 8
    date_tail = np.ndarray((len(dates),), "<u2", dates.buffers()[2], int(tail_offset), (10,))
    time = _words(times, 8)  # "HH:MM:SS"
    if not ((time & _U(0x0000FF0000FF0000)) == _U(0x00003A00003A0000)).all():
        raise _BadBlock
    t = time ^ _ASCII_ZEROS
    if _not_digits(t, 0x8080008080008080):
        raise _BadBlock
    hours = _digit(t, 0) * 10 + _digit(t, 1)
    minutes = _digit(t, 3) * 10 + _digit(t, 4)
    seconds = _digit(t, 6) * 10 + _digit(t, 7)
    if (hours > 23).any() or (minutes > 59).any() or (seconds > 59).any():
        raise _BadBlock
    if not ((date_head & _U(0xFF0000FF00000000)) == _U(0x2D00002D00000000)).all():
        raise _BadBlock
    # "YYYY-MM-" with "DD" in place of the two '-': one key per distinct date.
    date_key = (
        (date_head & _U(0x00FFFF00FFFFFFFF))
        | ((date_tail.astype(np.uint64) & _U(0xFF)) << _U(32))
        | ((date_tail.astype(np.uint64) >> _U(8)) << _U(56))
    )
    codes, keys = pd.factorize(date_key)
    firsts = np.empty(len(keys), np.int64)
    firsts[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # each date's first row
    epoch = date(1970, 1, 1).toordinal()
    day_seconds = np.empty(len(keys), np.int64)
    for i, row in enumerate(firsts):
        text = bytes(dates[int(row)].as_buffer())
        if not _DATE_RE.match(text.decode("ascii", "replace")):
            raise _BadBlock
        try:
            day_seconds[i] = (
                date(int(text[:4]), int(text[5:7]), int(text[8:])).toordinal() - epoch
            ) * 86400
        except ValueError as exc:
            raise _BadBlock from exc
    return day_seconds[codes] + (hours * 3600 + minutes * 60 + seconds)


# --------------------------------------------------------------------------- the careful path


def _careful_parse(block: memoryview, first_line: int) -> pa.RecordBatch:
    """Parse a block line by line: the definition of a valid playlog."""
    rows: dict[str, list[Any]] = {key: [] for key in _RAW_SCHEMA.names}
    for number, line in enumerate(bytes(block).split(b"\n")[:-1], start=first_line):
        if not line.strip(_JSON_WS):
            continue
        for key, value in _check_line(line, number).items():
            rows[key].append(value)
    return pa.RecordBatch.from_pydict(rows, schema=_RAW_SCHEMA)


def _check_line(line: bytes, number: int) -> dict[str, Any]:
    def invalid(message: str) -> InvalidPlaylogError:
        return InvalidPlaylogError(message, number, _excerpt(line))

    # surrogateescape: bytes that are not UTF-8 are only an error where a value is kept
    text = line.decode("utf-8", "surrogateescape")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also an int over 4300 digits
        raise invalid(f"not valid JSON ({getattr(exc, 'msg', exc)})") from exc
    if not isinstance(obj, dict):
        raise invalid("not a JSON object")
    for key in schema.REQUIRED_KEYS:
        if obj.get(key) is None:
            raise invalid(f"missing {key!r}")
    row = {
        "date": _check_date(obj["date"], invalid),
        "time": _check_time(obj["time"], invalid),
        "playerId": _check_id(obj, "playerId", invalid),
        "mediaId": _check_id(obj, "mediaId", invalid),
    }
    for key in _STRING_COLUMNS.values():
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise invalid(f"{key!r} must be a string or null, got {value!r}")
        if value is not None:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise invalid(f"{key!r} is not valid UTF-8") from exc
        row[key] = value
    return row


def _check_date(value: Any, invalid: Callable[[str], Exception]) -> str:
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise invalid(f"'date' must be YYYY-MM-DD, got {value!r}")
    try:
        date(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError as exc:
        raise invalid(f"impossible date {value!r}") from exc
    return value


def _check_time(value: Any, invalid: Callable[[str], Exception]) -> str:
    match = _TIME_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise invalid(f"'time' must be HH:MM:SS, got {value!r}")
    hours, minutes, seconds = map(int, match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise invalid(f"impossible time {value!r}")
    return value


def _check_id(obj: dict[str, Any], key: str, invalid: Callable[[str], Exception]) -> int:
    value = obj[key]
    if type(value) is not int:
        raise invalid(f"{key!r} must be an integer, got {value!r}")
    if not schema.INT32_RANGE[0] <= value <= schema.INT32_RANGE[1]:
        raise invalid(f"{key!r} is out of the int32 range: {value}")
    return value


def _excerpt(line: bytes, limit: int = 60) -> str:
    text = line[:limit].decode("utf-8", "replace").rstrip("\r\n")
    return text + ("…" if len(line) > limit else "")
