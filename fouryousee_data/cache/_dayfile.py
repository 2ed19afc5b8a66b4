"""One cached day on disk: its Parquet file with the lineage, its read copy, its lock.

::

    date=YYYY-MM-DD/part-0.parquet   the day's rows, sorted by played_at; the lineage
                                     (JSON under key ``fouryousee_data.day``) in its footer
                   .part-0.arrow     the read copy (see :mod:`._readcopy`)
                   .lock             held while the day is written

* :func:`write_day` writes a day whole: the Parquet file (a temp file renamed into
  place) and then its read copy, under the day's lock.
* :func:`open_day` opens a day for reading: its read copy when the copy belongs to the
  Parquet file as it is now, else the Parquet file; ``None`` when the day is not
  cached or unusable (a cache miss, logged).
* :meth:`OpenDay.rows` reads the rows and checks them against the lineage (row count,
  every ``played_at`` inside the day). A bad read copy falls back to the Parquet file,
  which is the truth; a day read from Parquet is given a fresh read copy on the way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fouryousee_data._fileio import atomic_write
from fouryousee_data.cache._heap import POOL
from fouryousee_data.cache._readcopy import (
    Copy,
    Identity,
    copy_path,
    identity,
    open_copy,
    write_copy,
)
from fouryousee_data.cache._settle import Settle, agreed, empty_day, is_settled
from fouryousee_data.schema import COLUMNS, PLAYLOG_SCHEMA, TIME_UNIT

__all__ = [
    "FORMAT_VERSION",
    "METADATA_KEY",
    "PART_NAME",
    "PER_DAY",
    "READ_OPTIONS",
    "WRITE_OPTIONS",
    "CachedDay",
    "OpenDay",
    "day_seconds",
    "open_day",
    "write_day",
]

log = logging.getLogger("fouryousee_data.cache")

#: Key of the lineage JSON in the Parquet file's key-value metadata.
METADATA_KEY = b"fouryousee_data.day"
#: Version of that JSON; other versions are cache misses.
FORMAT_VERSION = 1
#: File name of a day's data inside ``date=YYYY-MM-DD/``.
PART_NAME = "part-0.parquet"
#: Seconds to wait for another writer of the same day.
LOCK_TIMEOUT = 60.0
#: Parquet writer options: uncompressed pages read ~20% faster than snappy here, for
#: ~30% more disk (about 11 bytes per playlog); integer and dictionary encodings stay.
#: Every page carries a CRC-32 of its data, checked on read (:data:`READ_OPTIONS`).
#: Row groups of 64 Ki rows: the writer buffers one row group, so writing a busy day
#: (330 k rows) peaks at ~8 MB instead of ~23 MB; DuckDB and Dask also split scans by them.
WRITE_OPTIONS: dict[str, Any] = {
    "compression": "none",
    "write_page_checksum": True,
    "row_group_size": 65_536,
}
#: Parquet reader options: a page whose data does not match its checksum is an error
#: (a cache miss), not wrong values. Files without checksums still read.
READ_OPTIONS: dict[str, Any] = {"page_checksum_verification": True}

_EPOCH = dt.date(1970, 1, 1)
#: A day in ``played_at`` units.
PER_DAY = int(np.timedelta64(1, "D") // np.timedelta64(1, TIME_UNIT))
#: What reading a damaged file can raise.
_READ_ERRORS = (OSError, KeyError, ValueError, TypeError, pa.ArrowException)


@dataclass(frozen=True)
class CachedDay:
    """One cached day: where it is and where it came from (read from the file's lineage).

    Examples
    --------
    >>> d = CachedDay("all", dt.date(2024, 3, 1), Path("part-0.parquet"), rows=0, bytes=0)
    >>> d.scope, d.report_id, d.is_settled()
    ('all', None, False)
    """

    scope: str
    day: dt.date
    path: Path
    rows: int
    bytes: int
    report_id: int | None = None
    created_at: dt.datetime | None = None
    fetched_at: dt.datetime | None = None
    player_ids: tuple[int, ...] = ()
    media_ids: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def is_settled(self, settle: Settle = "24h", tz: str | None = None) -> bool:
        """True when the report was created at least ``settle`` after the day ended, and,
        for a day left empty by a report with no playlogs at all, a later report agreed.

        A day whose report creation time is unknown is provisional.

        Examples
        --------
        >>> created = dt.datetime(2024, 3, 3, 13, tzinfo=dt.UTC)
        >>> d = CachedDay("all", dt.date(2024, 3, 1), Path("x"), 0, 0, 1, created)
        >>> d.is_settled("24h"), d.is_settled("48h")
        (True, False)
        """
        return agreed(self.extra) and is_settled(self.day, self.created_at, settle, tz)


# -- writing ------------------------------------------------------------------------------
def write_day(
    path: Path, table: pa.Table, lineage: dict[str, Any], *, empty_report: bool = False
) -> CachedDay:
    """Write one day whole: ``table`` (the day's rows in the playlog schema, sorted by
    ``played_at``) with ``lineage`` in its metadata, then its read copy, under the
    day's lock. Replaces what was there.

    ``empty_report``: the report had no playlogs at all (``url: null``, an empty file or
    gzip). The day is marked so, and whether an earlier report found it empty too is
    read from the file it replaces, under the same lock (see :func:`._settle.empty_day`).

    Examples
    --------
    >>> import tempfile
    >>> lineage = {"format": FORMAT_VERSION, "date": "2024-03-01", "scope": "all", "rows": 0}
    >>> path = Path(tempfile.mkdtemp()) / "scope=all" / "date=2024-03-01" / PART_NAME
    >>> write_day(path, PLAYLOG_SCHEMA.empty_table(), lineage).rows
    0
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    written: Identity = {}
    with _lock(path, LOCK_TIMEOUT):
        if empty_report and not table.num_rows:
            lineage = {**lineage, **empty_day(lineage, _previous_lineage(path, lineage))}
        metadata = {METADATA_KEY: json.dumps(lineage, default=str).encode()}
        table = table.replace_schema_metadata(metadata)

        def write(tmp: str) -> None:
            pq.write_table(table, tmp, **WRITE_OPTIONS, memory_pool=POOL)
            written.update(identity(Path(tmp)))  # a rename keeps all of it

        atomic_write(path, write)
        write_copy(path, table, metadata, written)
    return _entry(path, lineage, _day_bytes(path, written))


def _previous_lineage(path: Path, lineage: dict[str, Any]) -> dict[str, Any] | None:
    """The lineage of the day file at ``path`` that is about to be replaced, if usable."""
    day = dt.date.fromisoformat(lineage["date"])
    opened = open_day(path, lineage["scope"], day, quiet=True)
    if opened is None:
        return None
    with opened:
        return opened.entry.extra


def _lock(path: Path, timeout: float) -> filelock.FileLock:
    """The lock of the day whose Parquet file is ``path``."""
    return filelock.FileLock(str(path.with_name(".lock")), timeout=timeout)


# -- opening ------------------------------------------------------------------------------
class CorruptDayError(Exception):
    """A cached file is unusable (always turned into a cache miss, never raised out)."""


class OpenDay:
    """An open cached day: its entry, and the file its rows are read from (the read copy,
    ``copy``, or the Parquet file). A context manager; close it when done."""

    def __init__(
        self,
        entry: CachedDay,
        close: Callable[[], None],
        read: Callable[[], pa.Table],
        parquet_identity: Identity,
        *,
        copy: Copy | None = None,
    ) -> None:
        self.entry = entry
        #: The read copy the rows come from (its header checked), if there is one.
        self.copy = copy
        self.is_copy = copy is not None
        #: True once the rows were read from the Parquet file (no usable read copy).
        self.from_parquet = False
        self._close = close
        self._read = read
        self._identity = parquet_identity  # of the Parquet file, when it was opened

    def rows(self) -> pa.Table | None:
        """The day's rows, checked against its lineage; ``None`` if the day is unusable
        (logged: a cache miss)."""
        try:
            table = _checked_rows(self.entry, self._read)
        except CorruptDayError as exc:
            if self.is_copy:
                return self.parquet_rows(exc)
            _miss(self.entry.path, exc)
            return None
        if not self.is_copy:
            self.from_parquet = True
            _heal_copy(self.entry, table, self._identity)
        return table

    def parquet_rows(self, exc: Exception) -> pa.Table | None:
        """The rows from the Parquet file (checked, and given a fresh read copy), when
        the read copy turned out unusable (``exc``); ``None`` if the day is unusable."""
        log.debug("cache: read copy of %s is unusable (%s)", self.entry.path, exc)
        parquet = _open_parquet(self.entry.path, self.entry.scope, self.entry.day, self._identity)
        if parquet is None:
            return None
        with parquet:
            table = parquet.rows()
            self.from_parquet = parquet.from_parquet
        return table

    def close(self) -> None:
        self._close()

    def __enter__(self) -> OpenDay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_day(path: Path, scope: str, day: dt.date, *, quiet: bool = False) -> OpenDay | None:
    """The cached day at ``path`` (in ``scope``), open for reading: from its read copy
    when the copy belongs to this Parquet file, else from the Parquet file; ``None`` if
    it is not cached or unusable (logged as a warning unless ``quiet``).

    Examples
    --------
    >>> open_day(Path("nowhere/part-0.parquet"), "all", dt.date(2024, 3, 1)) is None
    True
    """
    try:
        parquet_identity = identity(os.fspath(path))
    except OSError:
        return None  # not cached
    opened = _open_copy(path, scope, day, parquet_identity)
    return opened or _open_parquet(path, scope, day, parquet_identity, quiet=quiet)


def _open_copy(path: Path, scope: str, day: dt.date, parquet_identity: Identity) -> OpenDay | None:
    """The day from its read copy, if the copy belongs to the Parquet file as it is now
    and describes this day; None otherwise (read Parquet)."""
    copy = open_copy(os.fspath(path), parquet_identity)
    if copy is None:
        return None
    try:
        lineage = _lineage(copy.metadata, scope, day)
        if int(lineage["rows"]) != copy.rows:
            raise CorruptDayError(f"{copy.rows} rows, metadata says {lineage['rows']}")
        entry = _entry(path, lineage, parquet_identity["size"] + copy.size)
    except (*_READ_ERRORS, CorruptDayError) as exc:
        copy.close()
        log.debug("cache: read copy of %s not used (%s)", path, exc)
        return None
    return OpenDay(entry, copy.close, copy.table, parquet_identity, copy=copy)


def _open_parquet(
    path: Path, scope: str, day: dt.date, parquet_identity: Identity, *, quiet: bool = False
) -> OpenDay | None:
    """The day from its Parquet file (the entry from the file's footer); None if unusable."""
    try:
        file = pa.OSFile(str(path))
    except (OSError, pa.ArrowException):
        return None  # not cached
    try:
        reader = pq.ParquetFile(file, **READ_OPTIONS)
        meta = reader.metadata
        lineage = _lineage(meta.metadata, scope, day)
        if int(lineage["rows"]) != meta.num_rows:
            raise CorruptDayError("metadata disagrees with the file")
        if tuple(meta.schema.names) != COLUMNS:
            raise CorruptDayError("unexpected columns")
        entry = _entry(path, lineage, _day_bytes(path, parquet_identity))
    except (*_READ_ERRORS, CorruptDayError) as exc:
        file.close()
        if not quiet:
            _miss(path, exc)
        return None
    return OpenDay(entry, file.close, lambda: _parquet_rows(reader), parquet_identity)


def _lineage(metadata: dict[bytes, bytes] | None, scope: str, day: dt.date) -> dict[str, Any]:
    """Our lineage in a file's metadata, describing this day of this scope."""
    lineage: dict[str, Any] = json.loads((metadata or {})[METADATA_KEY])
    if lineage.get("format") != FORMAT_VERSION or lineage.get("date") != day.isoformat():
        raise CorruptDayError("metadata does not describe this day")
    if lineage.get("scope") != scope:
        raise CorruptDayError("metadata disagrees with the file")
    return lineage


def _miss(path: Path, exc: Exception) -> None:
    log.warning("cache: %s is unusable (%s); fetching that day again", path, exc)


# -- reading rows -------------------------------------------------------------------------
def _parquet_rows(reader: pq.ParquetFile) -> pa.Table:
    table = reader.read(use_threads=False)
    # Page checksums cover the data, not the page headers and the footer: a damaged
    # header can still decode into an invalid array (say, codes past an empty
    # dictionary). Full validation (codes within their dictionaries, offsets, UTF-8;
    # ~1 ms per 1 M rows) makes that an error, not wrong values or a crash.
    table.validate(full=True)
    # Parquet stores whole seconds as milliseconds: the cast back cannot truncate.
    table = table.select(list(COLUMNS)).cast(PLAYLOG_SCHEMA, safe=False)
    ts = table.column("played_at")
    if len(ts) > 1 and not pc.all(pc.greater_equal(ts[1:], ts[:-1])).as_py():
        table = table.sort_by("played_at")  # not by us: days are written sorted
    return table


def _checked_rows(entry: CachedDay, read: Callable[[], pa.Table]) -> pa.Table:
    """The rows of a cached day, checked against its lineage; ``CorruptDayError`` if not."""
    try:
        table = read()
    except _READ_ERRORS as exc:
        raise CorruptDayError(str(exc)) from exc
    if table.num_rows != entry.rows:
        raise CorruptDayError(f"{table.num_rows} rows, metadata says {entry.rows}")
    played_at = table.column("played_at")
    if played_at.null_count:
        raise CorruptDayError("missing played_at")
    if len(played_at):  # sorted (see _parquet_rows): the first and last rows bound the day
        chunks = [c for c in played_at.chunks if len(c)]
        lo, hi = _seconds(chunks[0])[0], _seconds(chunks[-1])[-1]
        first = day_seconds(entry.day)
        if lo < first or hi >= first + PER_DAY:
            raise CorruptDayError("rows outside the day")
    return table


def day_seconds(day: dt.date) -> int:
    """When ``day`` starts, in ``played_at`` units (int64).

    Examples
    --------
    >>> day_seconds(dt.date(1970, 1, 2)) == PER_DAY
    True
    """
    return (day - _EPOCH).days * PER_DAY


def _seconds(chunk: pa.Array) -> np.ndarray:
    """A chunk of ``played_at`` as int64 (in ``TIME_UNIT``), without a copy."""
    return chunk.to_numpy().view(np.int64)


def _heal_copy(entry: CachedDay, table: pa.Table, parquet_identity: Identity) -> None:
    """Give a day read from Parquet its read copy (a cache written before copies
    existed, or copied from elsewhere), unless a writer holds the day or replaced it."""
    metadata = {METADATA_KEY: json.dumps(entry.extra, default=str).encode()}
    try:
        with _lock(entry.path, timeout=0):
            if identity(entry.path) == parquet_identity:
                write_copy(entry.path, table, metadata, parquet_identity)
    except (filelock.Timeout, OSError) as exc:
        log.debug("cache: no read copy for %s now (%s)", entry.path, exc)


# -- the entry ----------------------------------------------------------------------------
def _day_bytes(path: Path, parquet_identity: Identity) -> int:
    """Bytes on disk of a cached day: its Parquet file and its read copy."""
    try:
        return parquet_identity["size"] + copy_path(path).stat().st_size
    except OSError:
        return parquet_identity["size"]  # no read copy


def _entry(path: Path, lineage: dict[str, Any], size: int) -> CachedDay:
    filt = lineage.get("filter") or {}
    rid = lineage.get("report_id")
    return CachedDay(
        scope=lineage["scope"],
        day=dt.date.fromisoformat(lineage["date"]),
        path=path,
        rows=int(lineage["rows"]),
        bytes=size,
        report_id=int(rid) if rid is not None else None,
        created_at=_from_iso(lineage.get("report_created_at")),
        fetched_at=_from_iso(lineage.get("fetched_at")),
        player_ids=tuple(int(i) for i in filt.get("playerId") or ()),
        media_ids=tuple(int(i) for i in filt.get("mediaId") or ()),
        extra=lineage,
    )


def _from_iso(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
