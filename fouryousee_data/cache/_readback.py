"""Reading back days just written to the cache, whatever their settle state: the
fetched windows of ``fetch_playlogs`` (``frame_of`` reads them, with the cached days,
into one block of range-wide columns, as :meth:`PlaylogCache.load` does)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import pandas as pd
import pyarrow as pa

from fouryousee_data.cache._block import Block, DamagedCopy, Source, read_block
from fouryousee_data.cache._dayfile import CachedDay, OpenDay, open_day
from fouryousee_data.cache._query import Query
from fouryousee_data.cache._store import MAX_OPEN_COPIES

__all__ = ["frame_of", "rows_of"]


def rows_of(
    entries: Iterable[CachedDay],
    *,
    player_ids: Sequence[int] = (),
    media_ids: Sequence[int] = (),
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> list[tuple[dt.date, pa.Table]]:
    """The rows of these cached days, whatever their settle state (of any account), cut
    to ``[start, end)`` and the ids. A day that cannot be read back is an ``OSError``.

    Examples
    --------
    >>> rows_of([])
    []
    """
    query = Query.of(player_ids=player_ids, media_ids=media_ids, start=start, end=end)
    return _block_of(list(entries), query).parts()


def frame_of(
    entries: Iterable[CachedDay],
    *,
    player_ids: Sequence[int] = (),
    media_ids: Sequence[int] = (),
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    tz: str | None = None,
) -> pd.DataFrame:
    """The rows of these cached days (whatever their settle state), cut to ``[start, end)``
    and the ids, as the playlog DataFrame: read into one block of range-wide columns, as
    :meth:`PlaylogCache.load` reads (the frame is that block: no other copy of the range).
    A read copy that fails its checks is replaced by its Parquet file; a day that cannot
    be read back is an ``OSError``.

    Examples
    --------
    >>> len(frame_of([]))
    0
    """
    query = Query.of(player_ids=player_ids, media_ids=media_ids, start=start, end=end)
    return _block_of(sorted(entries, key=lambda e: e.day), query).frame(tz)


def _block_of(entries: list[CachedDay], query: Query) -> Block:
    """The rows of ``entries`` (in this order) in one block, cut as ``query`` asks: from
    their read copies, or their Parquet files (also when a copy fails its checks)."""
    opened: list[OpenDay] = []
    sources: list[Source] = []
    try:
        for entry in entries:
            day_file = open_day(entry.path, entry.scope, entry.day)
            if day_file is None:
                raise OSError(f"cache: {entry.path} could not be read back")
            opened.append(day_file)
            if day_file.copy is not None:
                if len(opened) > MAX_OPEN_COPIES:
                    day_file.copy.release()
                sources.append(Source(day_file.entry, copy=day_file.copy))
                continue
            rows = day_file.rows()
            if rows is None:
                raise OSError(f"cache: {entry.path} could not be read back")
            sources.append(Source(day_file.entry, table=rows))
        while True:
            try:
                return read_block(sources, query)
            except DamagedCopy as damaged:
                day_file = opened[damaged.index]
                rows = day_file.parquet_rows(damaged)
                if rows is None:
                    path = day_file.entry.path
                    raise OSError(f"cache: {path} could not be read back") from damaged
                sources[damaged.index] = Source(sources[damaged.index].entry, table=rows)
    finally:
        for day_file in opened:
            day_file.close()
