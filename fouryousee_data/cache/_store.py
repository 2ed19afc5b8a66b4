"""The cached days of one account: :class:`PlaylogCache` writes them, reads them, lists
and removes them (each day's files are :mod:`._dayfile`'s concern)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fouryousee_data.cache._block import Block, DamagedCopy, Source, read_block
from fouryousee_data.cache._dayfile import (
    FORMAT_VERSION,
    PART_NAME,
    CachedDay,
    OpenDay,
    open_day,
    write_day,
)
from fouryousee_data.cache._leftovers import sweep
from fouryousee_data.cache._query import Query
from fouryousee_data.cache._settle import Settle
from fouryousee_data.cache._spill import DaySpill
from fouryousee_data.filters import covered_days, normalize, scope
from fouryousee_data.report import Report
from fouryousee_data.schema import PLAYLOG_SCHEMA, conform, normalize_ids, to_pandas
from fouryousee_data.timerange import DateLike, resolve_range

__all__ = ["Loaded", "PlaylogCache"]

log = logging.getLogger("fouryousee_data.cache")

#: Read copies a load keeps open between finding its days and reading them; past that,
#: each is closed and opened again to be read (a long range must not exhaust the file
#: descriptors: 256 by default on macOS).
MAX_OPEN_COPIES = 64


@dataclass
class Loaded:
    """What :meth:`PlaylogCache.load` returns."""

    #: The valid cached days that can serve the filter (``all`` scope first; a day's
    #: list stops at the entry that served it).
    known: dict[dt.date, list[CachedDay]] = field(default_factory=dict)
    #: The settled day served for each day...
    served: dict[dt.date, CachedDay] = field(default_factory=dict)
    #: The served days read from their Parquet file, not their read copy (each was
    #: given a fresh read copy on the way).
    from_parquet: list[dt.date] = field(default_factory=list)
    #: ...and their rows, restricted to the request, in range-wide columns.
    block: Block | None = None

    @property
    def parts(self) -> list[tuple[dt.date, pa.Table]]:
        """The served days' rows, restricted to the request, in day order: one Arrow
        table a day (made on each call, from :attr:`block`)."""
        return self.block.parts() if self.block is not None else []

    @property
    def table(self) -> pa.Table:
        """All served rows, in day order (each day sorted by ``played_at``)."""
        if not self.parts:
            return PLAYLOG_SCHEMA.empty_table()
        return pa.concat_tables([t for _, t in self.parts])

    def frame(self, tz: str | None = None) -> pd.DataFrame:
        """All served rows as the playlog DataFrame (as ``schema.to_pandas(self.table,
        tz)`` gives it), made of the block's arrays without another copy."""
        if self.block is None:
            return to_pandas(PLAYLOG_SCHEMA.empty_table(), tz)
        return self.block.frame(tz)


@dataclass
class _Day:
    """One day of a :meth:`PlaylogCache.load`: the cached entries that can serve it, and
    the one that did, with where its rows come from."""

    known: list[CachedDay] = field(default_factory=list)
    served: CachedDay | None = None
    source: Source | None = None
    #: The open day whose read copy ``source`` reads (for its Parquet file, if it fails).
    opened: OpenDay | None = None
    from_parquet: bool = False


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
    >>> loaded = cache.load([day])
    >>> loaded.served[day].is_settled(), loaded.table.num_rows
    (True, 0)
    """

    def __init__(self, cache_dir: str | os.PathLike[str], fingerprint: str) -> None:
        if not fingerprint or not all(c.isalnum() or c in "-_" for c in fingerprint):
            raise ValueError(
                f"fingerprint: expected a short alphanumeric name, got {fingerprint!r}"
            )
        self.root = Path(cache_dir)
        self.fingerprint = fingerprint
        self.path = self.root / fingerprint
        self._swept = threading.Event()  # leftovers of killed writers: swept on the first write

    def __repr__(self) -> str:
        return f"PlaylogCache({str(self.root)!r}, {self.fingerprint!r})"

    def day_path(self, scope: str, day: dt.date) -> Path:
        """The Parquet file of one day in one scope."""
        return Path(f"{self.path}/scope={scope}/date={day.isoformat()}/{PART_NAME}")

    # -- writing --------------------------------------------------------------------------
    def store_report(
        self, report: Report, table: pa.Table, *, fetched_at: dt.datetime | None = None
    ) -> list[CachedDay]:
        """Store a downloaded report: each whole day of its filter becomes one file.

        The scope follows the report's ``playerId``/``mediaId`` filter. Used by the
        webhook receiver; returns the written days. A report without any row is an
        *empty report* (see :meth:`store_days`).
        """
        filt = report.filter or {}
        ids = normalize(filt)
        return self.store_days(
            table,
            covered_days(filt),
            report=report,
            player_ids=_filter_ids(ids["playerId"], "playerId"),
            media_ids=_filter_ids(ids["mediaId"], "mediaId"),
            fetched_at=fetched_at,
            empty_report=table.num_rows == 0,
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
        empty_report: bool = False,
    ) -> list[CachedDay]:
        """Split ``table`` by day and write every day of ``days`` (a day with no rows too).

        Rows outside ``days`` are ignored. Each day is written atomically under a lock
        and replaces what was there.

        ``empty_report``: the report had no playlogs at all (``url: null``, an empty
        file, an empty gzip: SPEC section 1). Its days stay provisional until a second,
        later report finds them empty too (see :mod:`._settle`); a caller that streams
        a report passes it for the days it writes once the whole report proved empty.
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
                    empty_report=empty_report,
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
        empty_report: bool = False,
    ) -> CachedDay:
        """Write one day's rows (all of them, sorted stably by ``played_at``);
        ``empty_report`` as in :meth:`store_days`."""
        player_ids = normalize_ids(player_ids, "player_ids")
        media_ids = normalize_ids(media_ids, "media_ids")
        day_scope = scope(player_ids, media_ids)
        table = conform(table)
        if not is_sorted(table):
            table = table.sort_by("played_at")
        lineage = {
            "format": FORMAT_VERSION,
            "date": day.isoformat(),
            "scope": day_scope,
            "filter": {"playerId": list(player_ids), "mediaId": list(media_ids)},
            "report_id": report.id,
            "report_created_at": _iso(report.created_at),
            "report_filter": report.filter,
            "fetched_at": _iso(fetched_at or dt.datetime.now(dt.UTC)),
            "rows": table.num_rows,
        }
        self.sweep_leftovers()
        entry = write_day(self.day_path(day_scope, day), table, lineage, empty_report=empty_report)
        log.debug("cached %s %s: %d rows (report %s)", day_scope, day, table.num_rows, report.id)
        return entry

    def spill(
        self,
        days: Iterable[dt.date],
        *,
        report: Report,
        player_ids: Sequence[int] = (),
        media_ids: Sequence[int] = (),
        fetched_at: dt.datetime | None = None,
    ) -> DaySpill:
        """A :class:`~fouryousee_data.cache._spill.DaySpill` for one report's rows: they
        are spilled per day as they stream in, and ``commit()`` writes each day of
        ``days`` as :meth:`store_days` would, a day in memory at a time. A report that
        brought no row at all is an *empty report* (see :meth:`store_days`)."""
        fetched_at = fetched_at or dt.datetime.now(dt.UTC)
        ids = {"player_ids": player_ids, "media_ids": media_ids}

        def write(day: dt.date, table: pa.Table) -> CachedDay:
            # Committed once the whole report arrived: an empty report is known by then.
            return self.write_day(
                day, table, report=report, fetched_at=fetched_at, empty_report=spill.empty, **ids
            )

        spill = DaySpill(self.path, days, write=write, **ids)
        return spill

    def sweep_leftovers(self) -> tuple[int, int]:
        """Remove the temp files and spills that killed writers left in this account's cache
        (older than an hour; see :mod:`._leftovers`); once per instance, on its first write.
        Returns how many were removed and their bytes."""
        if self._swept.is_set():
            return 0, 0
        self._swept.set()
        return sweep(self.path)

    # -- reading --------------------------------------------------------------------------
    def load(
        self,
        days: Iterable[dt.date],
        *,
        player_ids: Sequence[int] = (),
        media_ids: Sequence[int] = (),
        settle: Settle = "24h",
        tz: str | None = None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        serve: bool = True,
        rows: bool = True,
    ) -> Loaded:
        """Read the cache for ``days``, each file opened once: every valid cached day
        that can serve the filter (``known``), and the rows of the settled ones
        (``served``, ``parts``), restricted to ``[start, end)`` and the ids.
        ``serve=False`` reads no rows (``refresh``: the days are only listed);
        ``rows=False`` finds the settled days that serve (``served``) without reading
        their rows (only each file's footer: a lazy scan reads the rows).

        Unusable files are logged and left out (a cache miss).
        """
        query = Query.of(
            player_ids=player_ids,
            media_ids=media_ids,
            settle=settle,
            tz=tz,
            start=start,
            end=end,
            serve=serve,
            read_rows=rows,
        )
        loaded = Loaded()
        opened: list[OpenDay] = []  # read copies, read together once all days are found
        try:
            found = [(day, self._load_day(day, query, opened)) for day in days]
            if query.read_rows:
                loaded.block = self._read(found, query, opened)
        finally:
            for day_file in opened:
                day_file.close()
        for day, one in found:
            _add(loaded, day, one)
        return loaded

    def _load_day(
        self, day: dt.date, query: Query, opened: list[OpenDay], scopes: Sequence[str] = ()
    ) -> _Day:
        """The cached entries of one day, trying its scopes (``scopes``, else the query's)
        in order until one serves. A read copy that serves is left open in ``opened``;
        a day without one is read from Parquet here."""
        found = _Day()
        for day_scope in scopes or query.scopes:
            day_file = open_day(self.day_path(day_scope, day), day_scope, day)
            if day_file is None:
                continue
            if day_file.copy is not None and query.read_rows and query.serves(day_file.entry):
                opened.append(day_file)
                if len(opened) > MAX_OPEN_COPIES:
                    day_file.copy.release()
                found.known.append(day_file.entry)
                found.served, found.opened = day_file.entry, day_file
                found.source = Source(day_file.entry, copy=day_file.copy)
                return found
            with day_file:
                found.known.append(day_file.entry)
                if not query.serves(day_file.entry):
                    continue
                if not query.read_rows:
                    found.served = day_file.entry
                    return found
                rows = day_file.rows()
                if rows is not None:
                    found.served, found.source = day_file.entry, Source(day_file.entry, table=rows)
                    found.from_parquet = day_file.from_parquet
                    return found
        return found

    def _read(
        self, found: list[tuple[dt.date, _Day]], query: Query, opened: list[OpenDay]
    ) -> Block:
        """The served days' rows in one block. A read copy that fails its checks there is
        replaced by its Parquet file (which writes the copy again), or, if that is
        unusable too, by the day's next scopes; then the block is read again."""
        while True:
            serving = [one for _, one in found if one.source is not None]
            try:
                return read_block([one.source for one in serving if one.source], query)
            except DamagedCopy as damaged:
                one = serving[damaged.index]
                day_file, entry = one.opened, one.served
                if day_file is None or entry is None:
                    raise AssertionError("only a read copy can be damaged") from damaged
                one.opened = None
                rows = day_file.parquet_rows(damaged)
                if rows is not None:
                    one.source, one.from_parquet = Source(entry, table=rows), True
                    continue
                later = query.scopes[query.scopes.index(entry.scope) + 1 :]
                again = self._load_day(entry.day, query, opened, later) if later else _Day()
                one.known += again.known
                one.served, one.source, one.opened = again.served, again.source, again.opened
                one.from_parquet = again.from_parquet

    # -- listing and clearing -------------------------------------------------------------
    def entries(self, scope: str | None = None) -> list[CachedDay | Path]:
        """Every cached day of this account (``Path`` for an unreadable file), sorted."""
        out: list[CachedDay | Path] = []
        for s, day, folder in self._day_folders():
            path = folder / PART_NAME
            if (scope is not None and s != scope) or not path.exists():
                continue
            opened = open_day(path, s, day, quiet=True)
            if opened is None:
                out.append(path)
                continue
            with opened:
                out.append(opened.entry)
        return out

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
            with contextlib.suppress(OSError):
                folder.rmdir()  # if empty
        return removed

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


def is_sorted(table: pa.Table) -> bool:
    """Whether ``played_at`` never decreases (checked without copying the rows).

    Examples
    --------
    >>> is_sorted(PLAYLOG_SCHEMA.empty_table())
    True
    """
    ts = table.column("played_at")
    return len(ts) < 2 or bool(pc.all(pc.greater_equal(ts[1:], ts[:-1])).as_py())


def _add(loaded: Loaded, day: dt.date, found: _Day) -> None:
    """Record one day's outcome in ``loaded``."""
    if found.known:
        loaded.known[day] = found.known
    if found.served is not None:
        loaded.served[day] = found.served
    if found.served is not None and found.from_parquet:
        loaded.from_parquet.append(day)


def _filter_ids(value: object, name: str) -> tuple[int, ...]:
    """Ids of a report's filter (as :func:`~fouryousee_data.filters.normalize` left them)."""
    try:
        return normalize_ids(value, name)
    except ValueError as exc:
        raise ValueError(f"filter: {name} must be a list of integer ids, got {value!r}") from exc


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()
