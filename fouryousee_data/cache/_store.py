"""The Parquet cache: one file per (account, scope, day), hive-partitioned.

Layout (SPEC section 4)::

    <cache_dir>/<fingerprint>/scope=<scope>/date=YYYY-MM-DD/part-0.parquet

* ``<fingerprint>`` is :func:`~fouryousee_data._config.account_fingerprint` of
  (API URL, token): one namespace per account; the token itself is never stored.
* ``scope=all`` holds days fetched without a player/media filter; they serve any
  request (the filter is applied locally). A filtered fetch is stored under
  ``scope=f-<12 hex>`` (a hash of the normalised filter) and serves only the
  same filter.
* A day is one file, written complete or not at all (a temp file in the same
  folder, then :func:`os.replace`, under a :class:`filelock.FileLock`), and
  replaced whole. A day with zero playlogs is still a file (empty, with the
  schema), so it counts as cached.
* The day's lineage lives in the file's key-value metadata (key
  ``fouryousee_data.day``, JSON): report id and ``createdAt``, the filter,
  ``fetched_at``, the row count. Data and metadata are one atomic file.
* Next to each Parquet file is the day's *read copy*, ``.part-0.arrow``: the same
  rows as an uncompressed Arrow IPC file, which reads memory-map instead of decoding
  Parquet (why and how: :mod:`fouryousee_data._readcopy`). It serves only while it
  belongs to the Parquet file as it is; otherwise the day is read from Parquet and
  given a fresh copy on the way.
* Temp, lock and read-copy files start with ``.``, which pyarrow's dataset discovery,
  Spark and DuckDB's ``*.parquet`` globs skip, so the tree reads directly::

      pyarrow.dataset.dataset(f"{cache_dir}/{fp}/scope=all", partitioning="hive")
      duckdb.sql(f"SELECT * FROM read_parquet('{cache_dir}/{fp}/**/*.parquet', "
                 "hive_partitioning=true)")

A file that cannot be read, does not carry our metadata, or disagrees with it
(row count, schema, rows outside its day) is a cache miss: it is logged as a
warning and fetched again, never an exception and never fewer rows.

The small API used by :func:`~fouryousee_data.fetch.fetch_playlogs` and by the
webhook receiver::

    cache = PlaylogCache(cache_dir, client.fingerprint)
    cache.store_report(report, table)          # a downloaded report -> its whole days
    cache.store_days(table, days, report=..., player_ids=..., media_ids=...)
    cache.entries_for(days, player_ids=..., media_ids=...)  # valid days that can serve
    cache.read(entries, start=..., end=..., player_ids=..., media_ids=...)
    cache.load(days, player_ids=..., settle=..., tz=..., start=..., end=...)  # fetch's one pass
    entry.is_settled(settle, tz)
    cache.entries() / cache.clear(...)

and, for users, :func:`cache_info` and :func:`clear_cache`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fouryousee_data.cache import _readcopy as readcopy
from fouryousee_data._config import DEFAULT_CACHE, resolve_cache_dir
from fouryousee_data._fileio import atomic_write
from fouryousee_data.report import Report
from fouryousee_data.schema import (
    COLUMNS,
    PLAYLOG_SCHEMA,
    TIME_UNIT,
    conform,
    normalize_ids,
)
from fouryousee_data.timerange import DateLike, day_span, resolve_range

__all__ = [
    "ALL_SCOPE",
    "CachedDay",
    "PlaylogCache",
    "cache_info",
    "clear_cache",
    "day_end_utc",
    "is_settled",
    "parse_settle",
    "report_days",
    "restrict",
    "scope_name",
]

log = logging.getLogger("fouryousee_data.cache")

#: Scope of days fetched without a player/media filter.
ALL_SCOPE = "all"
#: Key of our JSON in the Parquet file's key-value metadata.
METADATA_KEY = b"fouryousee_data.day"
#: Version of that JSON; other versions are cache misses.
FORMAT_VERSION = 1
#: File name of a day's data inside ``date=YYYY-MM-DD/``.
PART_NAME = "part-0.parquet"
#: Seconds to wait for another writer of the same day.
LOCK_TIMEOUT = 60.0
#: Parquet writer options: uncompressed pages read ~20% faster than snappy here, for
#: ~30% more disk (about 11 bytes per playlog); integer and dictionary encodings stay.
WRITE_OPTIONS: dict[str, Any] = {"compression": "none"}
#: The day's read copy next to its Parquet file (see :mod:`fouryousee_data._readcopy`).
READ_COPY_NAME = readcopy.NAME
#: "The day ended" when the account's time zone is unknown: the latest zone on earth.
CONSERVATIVE_OFFSET = dt.timezone(dt.timedelta(hours=-12))

_ONE_DAY = dt.timedelta(days=1)
_ZERO = pd.Timedelta(0)
_EPOCH = dt.date(1970, 1, 1)
_PER_DAY = int(np.timedelta64(1, "D") // np.timedelta64(1, TIME_UNIT))  # played_at units


class CacheCorruptError(Exception):
    """Internal: a cached file is unusable (always turned into a cache miss)."""


def scope_name(player_ids: Sequence[int] = (), media_ids: Sequence[int] = ()) -> str:
    """The cache scope of a (normalised) filter: ``all`` or ``f-<12 hex>``.

    Examples
    --------
    >>> scope_name()
    'all'
    >>> scope_name((2,), ()) == scope_name((2,), ())
    True
    >>> scope_name((2,), ()).startswith("f-")
    True
    """
    if not player_ids and not media_ids:
        return ALL_SCOPE
    material = json.dumps({"mediaId": list(media_ids), "playerId": list(player_ids)})
    return "f-" + hashlib.sha256(material.encode()).hexdigest()[:12]


def parse_settle(settle: str | pd.Timedelta | dt.timedelta) -> pd.Timedelta:
    """``settle`` as a non-negative :class:`pandas.Timedelta` (``"24h"``, ``"2D"``, ...).

    Examples
    --------
    >>> parse_settle("24h")
    Timedelta('1 days 00:00:00')
    >>> parse_settle(dt.timedelta(hours=6))
    Timedelta('0 days 06:00:00')
    """
    if isinstance(settle, pd.Timedelta) and settle >= _ZERO:  # already parsed
        return settle
    if isinstance(settle, bool) or not isinstance(settle, str | dt.timedelta | pd.Timedelta):
        raise ValueError(f"settle: expected a duration like '24h' or a timedelta, got {settle!r}")
    try:
        value = pd.Timedelta(settle)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"settle: cannot read {settle!r} as a duration (e.g. '24h')") from exc
    if value is pd.NaT or value < _ZERO:
        raise ValueError(f"settle: must be a non-negative duration, got {settle!r}")
    return value


def day_end_utc(day: dt.date, tz: str | None = None) -> dt.datetime:
    """The instant (aware, UTC) a local calendar day ends.

    With ``tz`` it is the next local midnight there; without, the day's end in
    the latest time zone on earth (UTC-12), which is never too early.

    Examples
    --------
    >>> day_end_utc(dt.date(2024, 3, 1)).isoformat()
    '2024-03-02T12:00:00+00:00'
    >>> day_end_utc(dt.date(2024, 3, 1), "America/Sao_Paulo").isoformat()
    '2024-03-02T03:00:00+00:00'
    """
    if tz is None:
        return dt.datetime.combine(day + _ONE_DAY, dt.time(), CONSERVATIVE_OFFSET).astimezone(
            dt.UTC
        )
    midnight = pd.Timestamp(day + _ONE_DAY)
    # A midnight that does not exist or repeats (DST) resolves to the later instant.
    local = midnight.tz_localize(tz, ambiguous=False, nonexistent="shift_forward")
    return local.tz_convert("UTC").to_pydatetime()


def is_settled(
    day: dt.date,
    created_at: dt.datetime | None,
    settle: str | pd.Timedelta | dt.timedelta = "24h",
    tz: str | None = None,
) -> bool:
    """True when a report created at ``created_at`` holds ``day`` settled: created at
    least ``settle`` after the day ended (see :func:`day_end_utc`). Unknown
    ``created_at`` is never settled.

    Examples
    --------
    >>> created = dt.datetime(2024, 3, 3, 12, tzinfo=dt.UTC)
    >>> is_settled(dt.date(2024, 3, 1), created), is_settled(dt.date(2024, 3, 2), created)
    (True, False)
    """
    if created_at is None:
        return False
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=dt.UTC)
    return created_at >= day_end_utc(day, tz) + parse_settle(settle)


def report_days(filter_: dict[str, Any]) -> list[dt.date]:
    """The whole days an API filter covers (``00:00:00``..``23:59:59``), in order.

    A partly covered first or last day is left out: only whole days are cached.

    Examples
    --------
    >>> f = {"startDate": "2024-03-01", "startTime": "00:00:00",
    ...      "endDate": "2024-03-03", "endTime": "12:00:00"}
    >>> report_days(f)
    [datetime.date(2024, 3, 1), datetime.date(2024, 3, 2)]
    """
    try:
        first = dt.date.fromisoformat(str(filter_["startDate"]))
        last = dt.date.fromisoformat(str(filter_["endDate"]))
        start_time = dt.time.fromisoformat(str(filter_.get("startTime") or "00:00:00"))
        end_time = dt.time.fromisoformat(str(filter_.get("endTime") or "23:59:59"))
    except (KeyError, ValueError) as exc:
        raise ValueError(f"filter: cannot read the report's date range: {exc}") from exc
    if start_time != dt.time(0, 0, 0):
        first += _ONE_DAY
    if end_time < dt.time(23, 59, 59):
        last -= _ONE_DAY
    return day_span(first, last)


@dataclass(frozen=True)
class CachedDay:
    """One cached day: where it is and where it came from (read from the file's metadata)."""

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

    def is_settled(
        self, settle: str | pd.Timedelta | dt.timedelta = "24h", tz: str | None = None
    ) -> bool:
        """True when the report was created at least ``settle`` after the day ended.

        A day whose report creation time is unknown is provisional.

        Examples
        --------
        >>> created = dt.datetime(2024, 3, 3, 13, tzinfo=dt.UTC)
        >>> d = CachedDay("all", dt.date(2024, 3, 1), Path("x"), 0, 0, 1, created)
        >>> d.is_settled("24h"), d.is_settled("48h")
        (True, False)
        """
        return is_settled(self.day, self.created_at, settle, tz)


class PlaylogCache:
    """The cached days of one account (``<cache_dir>/<fingerprint>``).

    Examples
    --------
    >>> import tempfile
    >>> cache = PlaylogCache(tempfile.mkdtemp(), "0123456789abcdef")
    >>> report = Report(id=1, status="success",
    ...                 created_at=dt.datetime(2024, 3, 9, tzinfo=dt.UTC))
    >>> day = dt.date(2024, 3, 1)
    >>> [e.rows for e in cache.store_days(PLAYLOG_SCHEMA.empty_table(), [day], report=report)]
    [0]
    >>> entries = cache.entries_for([day])
    >>> entries[day][0].is_settled()
    True
    >>> cache.read(entries[day]).table.num_rows
    0
    """

    def __init__(self, cache_dir: str | os.PathLike[str], fingerprint: str) -> None:
        if not fingerprint or not all(c.isalnum() or c in "-_" for c in fingerprint):
            raise ValueError(
                f"fingerprint: expected a short alphanumeric name, got {fingerprint!r}"
            )
        self.root = Path(cache_dir)
        self.fingerprint = fingerprint
        self.path = self.root / fingerprint

    def __repr__(self) -> str:
        return f"PlaylogCache({str(self.root)!r}, {self.fingerprint!r})"

    # -- layout -------------------------------------------------------------------------
    def day_path(self, scope: str, day: dt.date) -> Path:
        """The file of one day in one scope."""
        return Path(f"{self.path}/scope={scope}/date={day.isoformat()}/{PART_NAME}")

    # -- writing ------------------------------------------------------------------------
    def store_report(
        self, report: Report, table: pa.Table, *, fetched_at: dt.datetime | None = None
    ) -> list[CachedDay]:
        """Store a downloaded report: each whole day of its filter becomes one file.

        The scope follows the report's ``playerId``/``mediaId`` filter. Used by the
        webhook receiver; returns the written days.
        """
        filt = report.filter or {}
        return self.store_days(
            table,
            report_days(filt),
            report=report,
            player_ids=_filter_ids(filt.get("playerId"), "playerId"),
            media_ids=_filter_ids(filt.get("mediaId"), "mediaId"),
            fetched_at=fetched_at,
        )

    def store_days(
        self,
        table: pa.Table,
        days: Iterable[dt.date],
        *,
        report: Report,
        player_ids: Sequence[int] = (),
        media_ids: Sequence[int] = (),
        fetched_at: dt.datetime | None = None,
    ) -> list[CachedDay]:
        """Split ``table`` by day and write every day of ``days`` (a day with no rows too).

        Rows outside ``days`` are ignored. Each day is written atomically under a lock
        and replaces what was there.
        """
        table = conform(table)
        fetched_at = fetched_at or dt.datetime.now(dt.UTC)
        dates = pc.cast(table.column("played_at"), pa.date32())
        written = []
        for day in sorted(set(days)):
            part = table.filter(pc.equal(dates, pa.scalar(day, pa.date32())))
            written.append(
                self.write_day(
                    day,
                    part,
                    report=report,
                    player_ids=player_ids,
                    media_ids=media_ids,
                    fetched_at=fetched_at,
                )
            )
        return written

    def write_day(
        self,
        day: dt.date,
        table: pa.Table,
        *,
        report: Report,
        player_ids: Sequence[int] = (),
        media_ids: Sequence[int] = (),
        fetched_at: dt.datetime | None = None,
    ) -> CachedDay:
        """Write one day's rows (all of them, sorted stably by ``played_at``)."""
        player_ids = normalize_ids(player_ids, "player_ids")
        media_ids = normalize_ids(media_ids, "media_ids")
        scope = scope_name(player_ids, media_ids)
        table = conform(table)
        if table.num_rows:
            table = table.sort_by("played_at")
        info = {
            "format": FORMAT_VERSION,
            "date": day.isoformat(),
            "scope": scope,
            "filter": {"playerId": list(player_ids), "mediaId": list(media_ids)},
            "report_id": report.id,
            "report_created_at": _iso(report.created_at),
            "report_filter": report.filter,
            "fetched_at": _iso(fetched_at or dt.datetime.now(dt.UTC)),
            "rows": table.num_rows,
        }
        metadata = {METADATA_KEY: json.dumps(info, default=str).encode()}
        table = table.replace_schema_metadata(metadata)
        path = self.day_path(scope, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        written: readcopy.Identity = {}

        def write(tmp: str) -> None:
            pq.write_table(table, tmp, **WRITE_OPTIONS)
            written.update(readcopy.identity(Path(tmp)))  # a rename keeps all of it

        with filelock.FileLock(str(path.parent / ".lock"), timeout=LOCK_TIMEOUT):
            atomic_write(path, write)
            readcopy.write_copy(path, table, metadata, written)
        log.debug("cached %s %s: %d rows (report %s)", scope, day, table.num_rows, report.id)
        return _entry(path, scope, day, info, _day_bytes(path, written))

    # -- reading ------------------------------------------------------------------------
    def entries_for(
        self,
        days: Iterable[dt.date],
        *,
        player_ids: Sequence[int] = (),
        media_ids: Sequence[int] = (),
    ) -> dict[dt.date, list[CachedDay]]:
        """The valid cached days that can serve a request with this filter.

        For each day: the unfiltered (``all``) entry first, then the entry of the
        same filter. Unreadable files are logged and left out (a cache miss).
        """
        found: dict[dt.date, list[CachedDay]] = {}
        for day in days:
            for scope in self._scopes(player_ids, media_ids):
                entry = self._load_entry(self.day_path(scope, day), scope, day)
                if entry is not None:
                    found.setdefault(day, []).append(entry)
        return found

    def load(
        self,
        days: Iterable[dt.date],
        *,
        player_ids: Sequence[int] = (),
        media_ids: Sequence[int] = (),
        settle: str | pd.Timedelta | dt.timedelta = "24h",
        tz: str | None = None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        serve: bool = True,
    ) -> Loaded:
        """What :func:`~fouryousee_data.fetch_playlogs` needs, in one pass over the files
        (each file opened once): every valid day that can serve the filter
        (``known``), and the rows of the settled ones (``served``, ``parts``),
        restricted as in :meth:`read`. ``serve=False`` reads no rows (``refresh``).
        """
        settle = parse_settle(settle)
        ids = {"player_ids": tuple(player_ids), "media_ids": tuple(media_ids)}
        scopes = self._scopes(player_ids, media_ids)

        def one_day(day: dt.date) -> tuple[list[CachedDay], CachedDay | None, pa.Table | None]:
            known: list[CachedDay] = []
            for scope in scopes:
                opened = self._open(self.day_path(scope, day), scope, day, rows=serve)
                if opened is None:
                    continue
                entry, handle = opened
                with handle:
                    known.append(entry)
                    if serve and entry.is_settled(settle, tz):
                        table = self._read_rows(entry, handle)
                        if table is not None:
                            return known, entry, _cut(table, entry, start, end, **ids)
            return known, None, None

        # One after the other: a day's read copy costs ~0.3 ms, mostly the GIL-bound
        # glue, so threads were measured slower (a day read from Parquet is ~1.5 ms,
        # and is given its read copy on the way).
        loaded = Loaded({}, {}, [])
        for day in days:
            known, entry, table = one_day(day)
            if known:
                loaded.known[day] = known
            if entry is not None and table is not None:
                loaded.served[day] = entry
                loaded.parts.append((day, table))
        return loaded

    def _scopes(self, player_ids: Sequence[int], media_ids: Sequence[int]) -> list[str]:
        own = scope_name(
            normalize_ids(player_ids, "player_ids"), normalize_ids(media_ids, "media_ids")
        )
        return [ALL_SCOPE] if own == ALL_SCOPE else [ALL_SCOPE, own]

    def entries(self, scope: str | None = None) -> list[CachedDay | Path]:
        """Every cached day of this account (``Path`` for an unreadable file), sorted."""
        out: list[CachedDay | Path] = []
        for s, day, folder in self._day_folders():
            path = folder / PART_NAME
            if (scope is not None and s != scope) or not path.exists():
                continue
            entry = self._load_entry(path, s, day, quiet=True)
            out.append(entry if entry is not None else path)
        return out

    def _day_folders(self) -> Iterator[tuple[str, dt.date, Path]]:
        """``(scope, day, folder)`` of every ``scope=*/date=*`` folder, sorted."""
        if not self.path.is_dir():
            return
        for folder in sorted(self.path.glob("scope=*/date=*")):
            try:
                day = dt.date.fromisoformat(folder.name.removeprefix("date="))
            except ValueError:
                continue
            yield folder.parent.name.removeprefix("scope="), day, folder

    def read(
        self,
        entries: Iterable[CachedDay],
        *,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        player_ids: Sequence[int] = (),
        media_ids: Sequence[int] = (),
    ) -> ReadResult:
        """Read cached days (sorted by ``played_at`` within each day), restricted to
        ``[start, end)`` and the ids. Unreadable days are logged and listed in ``.bad``.

        Only what needs it is filtered: the first/last day for a partial range, and
        ``all``-scope days for a filtered request.
        """
        parts: list[tuple[dt.date, pa.Table]] = []
        bad = []
        ids = {"player_ids": tuple(player_ids), "media_ids": tuple(media_ids)}
        for listed in sorted(entries, key=lambda e: e.day):
            # Opened afresh: the day may have been replaced since it was listed.
            opened = self._open(listed.path, listed.scope, listed.day, rows=True)
            table = None
            if opened is not None:
                entry, handle = opened
                with handle:
                    table = self._read_rows(entry, handle)
            if table is None:
                bad.append(listed.day)
            else:
                parts.append((entry.day, _cut(table, entry, start, end, **ids)))
        return ReadResult(parts, bad)

    def _read_rows(self, entry: CachedDay, handle: _Handle) -> pa.Table | None:
        """The day's rows; None if the day is unusable (logged: a cache miss). A day read
        from its Parquet file is given a read copy on the way."""
        try:
            table = _read_entry(entry, handle)
            if not handle.is_copy:
                _heal_copy(entry, table, handle.identity)
            return table
        except CacheCorruptError as exc:
            if handle.is_copy:  # the Parquet file is the truth: read it instead
                log.debug("cache: read copy of %s is unusable (%s)", entry.path, exc)
                opened = self._open_parquet(entry.path, entry.scope, entry.day, handle.identity)
                if opened is None:
                    return None
                with opened[1] as parquet:
                    return self._read_rows(opened[0], parquet)
            log.warning("cache: %s is unusable (%s); fetching that day again", entry.path, exc)
            return None

    def _load_entry(
        self, path: Path, scope: str, day: dt.date, *, quiet: bool = False
    ) -> CachedDay | None:
        opened = self._open(path, scope, day, quiet=quiet)
        if opened is None:
            return None
        opened[1].close()
        return opened[0]

    def _open(
        self, path: Path, scope: str, day: dt.date, *, quiet: bool = False, rows: bool = False
    ) -> tuple[CachedDay, _Handle] | None:
        """The day's entry and the open file to read it from: its read copy when the
        copy belongs to this Parquet file, else the Parquet file; None if unusable.
        ``rows``: the rows will be read (the copy's pages are loaded up front)."""
        try:
            identity = readcopy.identity(path)
        except OSError:
            return None  # not cached
        opened = _open_copy(path, scope, day, identity, populate=rows)
        return opened or self._open_parquet(path, scope, day, identity, quiet=quiet)

    def _open_parquet(
        self,
        path: Path,
        scope: str,
        day: dt.date,
        identity: readcopy.Identity,
        *,
        quiet: bool = False,
    ) -> tuple[CachedDay, _Handle] | None:
        """The day's entry (from the file's footer) and the open file; None if unusable."""
        try:
            handle = pa.OSFile(str(path))
        except (OSError, pa.ArrowException):
            return None  # not cached
        try:
            reader = pq.ParquetFile(handle)
            meta = reader.metadata
            info = json.loads((meta.metadata or {})[METADATA_KEY])
            _check_info(info, scope, day)
            if int(info["rows"]) != meta.num_rows:
                raise CacheCorruptError("metadata disagrees with the file")
            if tuple(meta.schema.names) != COLUMNS:
                raise CacheCorruptError("unexpected columns")
            entry = _entry(path, scope, day, info, _day_bytes(path, identity))
            return entry, _Handle(handle, lambda: _parquet_rows(reader), identity)
        except (
            OSError,
            KeyError,
            ValueError,
            TypeError,
            pa.ArrowException,
            CacheCorruptError,
        ) as exc:
            handle.close()
            if not quiet:
                log.warning("cache: %s is unusable (%s); fetching that day again", path, exc)
            return None

    # -- clearing -----------------------------------------------------------------------
    def clear(
        self,
        *,
        start: DateLike | None = None,
        end: DateLike | None = None,
        scope: str | None = None,
    ) -> int:
        """Remove cached days (all, or those in ``start..end`` and/or ``scope``); returns
        how many day files were removed."""
        lo = resolve_range(start, start).first_day if start is not None else None
        hi = resolve_range(end, end).last_day if end is not None else None
        if not self.path.is_dir():
            return 0
        removed = 0
        for s, day, folder in self._day_folders():
            if (scope is not None and s != scope) or (lo and day < lo) or (hi and day > hi):
                continue
            removed += (folder / PART_NAME).is_file()
            shutil.rmtree(folder, ignore_errors=True)
        for folder in [*self.path.glob("scope=*"), self.path]:
            _rmdir_if_empty(folder)
        return removed


@dataclass(frozen=True)
class Loaded:
    """What :meth:`PlaylogCache.load` returns."""

    #: The valid cached days that can serve the filter (``all`` scope first; a day's
    #: list stops at the entry that served it).
    known: dict[dt.date, list[CachedDay]]
    #: The settled day served for each day, and its rows in day order.
    served: dict[dt.date, CachedDay]
    parts: list[tuple[dt.date, pa.Table]]


@dataclass(frozen=True)
class ReadResult:
    """What :meth:`PlaylogCache.read` returns: ``(day, rows)`` in day order, and the
    days whose file turned out unusable."""

    parts: list[tuple[dt.date, pa.Table]]
    bad: list[dt.date]

    @property
    def table(self) -> pa.Table:
        """All rows, in day order."""
        if not self.parts:
            return PLAYLOG_SCHEMA.empty_table()
        return pa.concat_tables([t for _, t in self.parts])


def restrict(
    table: pa.Table,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    player_ids: Sequence[int] = (),
    media_ids: Sequence[int] = (),
) -> pa.Table:
    """Rows of ``table`` in ``[start, end)`` and among the ids (empty = all), in Arrow.

    Examples
    --------
    >>> restrict(PLAYLOG_SCHEMA.empty_table(), player_ids=(1,)).num_rows
    0
    """
    mask = None
    ts = table.column("played_at")
    unit = ts.type.unit
    conditions = []
    if start is not None:
        conditions.append(
            pc.greater_equal(ts, pa.scalar(start.to_pydatetime(), pa.timestamp(unit)))
        )
    if end is not None:
        conditions.append(pc.less(ts, pa.scalar(end.to_pydatetime(), pa.timestamp(unit))))
    for name, ids in (("player_id", player_ids), ("media_id", media_ids)):
        if ids:
            conditions.append(pc.is_in(table.column(name), pa.array(list(ids), pa.int32())))
    for cond in conditions:
        mask = cond if mask is None else pc.and_(mask, cond)
    return table if mask is None else table.filter(mask)


def _filter_ids(value: Any, name: str) -> tuple[int, ...]:
    """Ids of an API filter as echoed by the API (ints, maybe as strings)."""
    try:
        return normalize_ids([int(i) for i in value or ()], name)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"filter: {name} must be a list of integer ids, got {value!r}") from exc


class _Handle:
    """An open cache file (Parquet, or the read copy) and how to read its rows."""

    def __init__(
        self,
        file: Any,
        read: Callable[[], pa.Table],
        identity: readcopy.Identity,
        *,
        is_copy: bool = False,
    ) -> None:
        self.file = file
        self.read = read
        self.identity = identity  # of the Parquet file, when it was opened
        self.is_copy = is_copy

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> _Handle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_info(info: dict[str, Any], scope: str, day: dt.date) -> None:
    """Our metadata, describing this day of this scope (``CacheCorruptError`` if not)."""
    if info.get("format") != FORMAT_VERSION or info.get("date") != day.isoformat():
        raise CacheCorruptError("metadata does not describe this day")
    if info.get("scope") != scope:
        raise CacheCorruptError("metadata disagrees with the file")


def _parquet_rows(reader: pq.ParquetFile) -> pa.Table:
    table = reader.read(use_threads=False)
    # Parquet stores whole seconds as milliseconds: the cast back cannot truncate.
    table = table.select(list(COLUMNS)).cast(PLAYLOG_SCHEMA, safe=False)
    ts = table.column("played_at")
    if len(ts) > 1 and not pc.all(pc.greater_equal(ts[1:], ts[:-1])).as_py():
        table = table.sort_by("played_at")  # not by us: days are written sorted
    return table


def _read_entry(entry: CachedDay, handle: _Handle) -> pa.Table:
    """The rows of a cached day, checked against its metadata; ``CacheCorruptError`` if not."""
    try:
        table = handle.read()
    except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
        raise CacheCorruptError(str(exc)) from exc
    if table.num_rows != entry.rows:
        raise CacheCorruptError(f"{table.num_rows} rows, metadata says {entry.rows}")
    played_at = table.column("played_at")
    if played_at.null_count:
        raise CacheCorruptError("missing played_at")
    if len(played_at):  # sorted (see _parquet_rows): the first and last rows bound the day
        chunks = [c for c in played_at.chunks if len(c)]
        lo, hi = _seconds(chunks[0])[0], _seconds(chunks[-1])[-1]
        first = (entry.day - _EPOCH).days * _PER_DAY
        if lo < first or hi >= first + _PER_DAY:
            raise CacheCorruptError("rows outside the day")
    return table


def _seconds(chunk: pa.Array) -> np.ndarray:
    """A chunk of ``played_at`` as int64 (in ``TIME_UNIT``), without a copy."""
    return chunk.to_numpy().view(np.int64)


# -- the read copy (see fouryousee_data._readcopy) ------------------------------------
def _open_copy(
    path: Path, scope: str, day: dt.date, identity: readcopy.Identity, *, populate: bool
) -> tuple[CachedDay, _Handle] | None:
    """The day's entry and its open read copy, if the copy belongs to the Parquet file
    as it is now (``identity``) and describes this day; None otherwise (read Parquet)."""
    opened = readcopy.open_copy(path, identity, populate=populate)
    if opened is None:
        return None
    source, reader = opened
    try:
        info = json.loads((reader.schema.metadata or {})[METADATA_KEY])
        _check_info(info, scope, day)
    except (KeyError, ValueError, TypeError, CacheCorruptError) as exc:
        source.close()
        log.debug("cache: read copy of %s not used (%s)", path, exc)
        return None
    entry = _entry(path, scope, day, info, identity["size"] + source.size())
    return entry, _Handle(source, reader.read_all, identity, is_copy=True)


def _heal_copy(entry: CachedDay, table: pa.Table, identity: readcopy.Identity) -> None:
    """Give a day read from Parquet its read copy (a cache written before copies
    existed, or copied from elsewhere), unless a writer holds the day or replaced it."""
    metadata = {METADATA_KEY: json.dumps(entry.extra, default=str).encode()}
    try:
        with filelock.FileLock(str(entry.path.parent / ".lock"), timeout=0):
            if readcopy.identity(entry.path) == identity:
                readcopy.write_copy(entry.path, table, metadata, identity)
    except (filelock.Timeout, OSError) as exc:
        log.debug("cache: no read copy for %s now (%s)", entry.path, exc)


def _day_bytes(path: Path, identity: readcopy.Identity) -> int:
    """Bytes on disk of a cached day: its Parquet file (``identity``) and its read copy."""
    try:
        return identity["size"] + readcopy.copy_path(path).stat().st_size
    except OSError:
        return identity["size"]  # no read copy


def _cut(
    table: pa.Table,
    entry: CachedDay,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    *,
    player_ids: Sequence[int],
    media_ids: Sequence[int],
) -> pa.Table:
    """Restrict one cached day, filtering only what needs it (a partial first/last
    day; the ids on an ``all``-scope day)."""
    lo = dt.datetime.combine(entry.day, dt.time())
    hi = lo + _ONE_DAY
    unfiltered = entry.scope == ALL_SCOPE
    whole_day = (start is None or start <= lo) and (end is None or end >= hi)
    if whole_day and not (unfiltered and (player_ids or media_ids)):
        return table
    return restrict(
        table,
        start=start if start is not None and start > lo else None,
        end=end if end is not None and end < hi else None,
        player_ids=player_ids if unfiltered else (),
        media_ids=media_ids if unfiltered else (),
    )


def _entry(path: Path, scope: str, day: dt.date, info: dict[str, Any], size: int) -> CachedDay:
    filt = info.get("filter") or {}
    rid = info.get("report_id")
    return CachedDay(
        scope=scope,
        day=day,
        path=path,
        rows=int(info["rows"]),
        bytes=size,
        report_id=int(rid) if rid is not None else None,
        created_at=_from_iso(info.get("report_created_at")),
        fetched_at=_from_iso(info.get("fetched_at")),
        player_ids=tuple(int(i) for i in filt.get("playerId") or ()),
        media_ids=tuple(int(i) for i in filt.get("mediaId") or ()),
        extra=info,
    )


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


def _from_iso(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _rmdir_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def _fingerprints(root: Path, client: Any) -> list[str]:
    if client is None:
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    fingerprint = client if isinstance(client, str) else getattr(client, "fingerprint", None)
    if not isinstance(fingerprint, str):
        raise ValueError("client: expected a Client, an account fingerprint (str) or None")
    return [fingerprint]


def _root(cache_dir: str | os.PathLike[str] | None) -> Path:
    root = resolve_cache_dir(cache_dir)
    if root is None:
        raise ValueError("cache_dir: None means no cache; give a directory or leave the default")
    return root


_INFO_COLUMNS = [
    "account",
    "scope",
    "date",
    "rows",
    "bytes",
    "report_id",
    "created_at",
    "fetched_at",
    "settled",
    "player_ids",
    "media_ids",
    "valid",
]


def cache_info(
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
    client: Any = None,
    *,
    settle: str | pd.Timedelta | dt.timedelta = "24h",
    tz: str | None = None,
) -> pd.DataFrame:
    """What the cache holds: one row per cached day.

    Parameters
    ----------
    cache_dir
        The cache root (default ``FOURYOUSEE_CACHE_DIR`` or the user cache directory).
    client
        A :class:`~fouryousee_data.Client`, an account fingerprint, or ``None`` for
        every account in the cache.
    settle, tz
        How ``settled`` is judged (as in :func:`~fouryousee_data.fetch_playlogs`).

    Returns
    -------
    pandas.DataFrame
        Columns ``account`` (fingerprint), ``scope``, ``date``, ``rows``, ``bytes``,
        ``report_id``, ``created_at``, ``fetched_at``, ``settled``, ``player_ids``,
        ``media_ids``, ``valid`` (False for an unreadable file, which the next fetch
        replaces).

    Examples
    --------
    >>> import tempfile
    >>> cache_info(tempfile.mkdtemp()).columns.tolist()[:4]
    ['account', 'scope', 'date', 'rows']
    """
    settle_td = parse_settle(settle)
    root = _root(cache_dir)
    records = []
    for fp in _fingerprints(root, client):
        for item in PlaylogCache(root, fp).entries():
            if isinstance(item, Path):
                day = item.parent.name.removeprefix("date=")
                scope = item.parent.parent.name.removeprefix("scope=")
                size = item.stat().st_size if item.exists() else 0
                records.append({"account": fp, "scope": scope, "date": day, "bytes": size})
                continue
            records.append(
                {
                    "account": fp,
                    "scope": item.scope,
                    "date": item.day.isoformat(),
                    "rows": item.rows,
                    "bytes": item.bytes,
                    "report_id": item.report_id,
                    "created_at": item.created_at,
                    "fetched_at": item.fetched_at,
                    "settled": item.is_settled(settle_td, tz),
                    "player_ids": list(item.player_ids),
                    "media_ids": list(item.media_ids),
                    "valid": True,
                }
            )
    df = pd.DataFrame.from_records(records, columns=_INFO_COLUMNS)
    df["date"] = pd.to_datetime(df["date"]).astype("datetime64[s]")
    for name in ("rows", "report_id"):
        df[name] = df[name].astype("Int64")
    df["bytes"] = df["bytes"].astype("int64")
    for name in ("created_at", "fetched_at"):
        df[name] = pd.to_datetime(df[name], utc=True)
    for name in ("settled", "valid"):
        df[name] = df[name].fillna(False).astype(bool)
    return df


def clear_cache(
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
    client: Any = None,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    scope: str | None = None,
) -> int:
    """Remove cached days; returns how many were removed.

    Parameters
    ----------
    cache_dir
        The cache root (default ``FOURYOUSEE_CACHE_DIR`` or the user cache directory).
    client
        A :class:`~fouryousee_data.Client`, an account fingerprint, or ``None`` for
        every account.
    start, end
        Only days in ``start..end`` (dates, ``end`` inclusive); default all days.
    scope
        Only this scope (``"all"`` or an ``f-...`` filter scope); default all scopes.

    Examples
    --------
    >>> import tempfile
    >>> clear_cache(tempfile.mkdtemp(), start="2024-01-01", end="2024-01-31")
    0
    """
    root = _root(cache_dir)
    removed = 0
    for fp in _fingerprints(root, client):
        removed += PlaylogCache(root, fp).clear(start=start, end=end, scope=scope)
    log.info("cache: removed %d cached day(s) from %s", removed, root)
    return removed
