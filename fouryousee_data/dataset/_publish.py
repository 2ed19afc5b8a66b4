"""``publish_cache``: the settled days of the cache as a dataset others read, on a local
folder or an object store (``dest/date=YYYY-MM-DD/part-0.parquet``).

* Only *settled*, *unfiltered* days are published (a filtered day holds some players
  only; a provisional day may still change). With several accounts, a day is published
  once every account holds it settled, and its file holds every account's rows.
* Idempotent: each file carries the identity of its sources (report, fetch time, rows
  per account) in its footer; a day whose published file has the same identity is
  skipped, so a rerun writes only what changed.
* Whole or absent: locally a temp file renamed into place; on an object store one
  upload that the store makes visible only when complete. Nothing in a file or key
  derives from the token (no fingerprint, no report filter: only ids and times).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fouryousee_data._config import DEFAULT_CACHE, resolve_cache_dir
from fouryousee_data._fileio import atomic_write
from fouryousee_data.cache import ALL_SCOPE, CachedDay, PlaylogCache, parse_settle, rows_of
from fouryousee_data.dataset._files import PUBLISHED_PART
from fouryousee_data.dataset._fs import Location, locate
from fouryousee_data.dataset._scan import Clients, opened_clients
from fouryousee_data.schema import COLUMNS, conform
from fouryousee_data.timerange import DateLike, resolve_range

__all__ = ["PublishSummary", "publish_cache"]

log = logging.getLogger("fouryousee_data.dataset")

#: Key of the published file's source identity (JSON) in its Parquet footer.
PUBLISHED_KEY = b"fouryousee_data.published"
_FORMAT = 1


@dataclass
class PublishSummary:
    """What :func:`publish_cache` did: days ``written`` and ``skipped`` (already
    published, unchanged), days ``not_ready`` (provisional, or not settled in every
    account), and the ``bytes`` written."""

    dest: str
    written: list[dt.date] = field(default_factory=list)
    skipped: list[dt.date] = field(default_factory=list)
    not_ready: list[dt.date] = field(default_factory=list)
    bytes: int = 0

    def __str__(self) -> str:
        return (
            f"{self.dest}: {len(self.written)} day(s) written ({self.bytes:,} bytes), "
            f"{len(self.skipped)} unchanged, {len(self.not_ready)} not settled yet"
        )


def publish_cache(
    dest: str | os.PathLike[str],
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    client: Clients = None,
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
    settle: str | pd.Timedelta | dt.timedelta = "24h",
    storage_options: dict[str, Any] | None = None,
    tz: str | None = None,
) -> PublishSummary:
    """Copy the cache's settled days to ``dest`` as hive-partitioned Parquet
    (``dest/date=YYYY-MM-DD/part-0.parquet``), for DuckDB, Dask, Spark or
    ``scan_playlogs(source=dest)`` to read.

    Parameters
    ----------
    dest
        A folder, or an object-store URL such as ``s3://bucket/prefix`` (through fsspec:
        ``pip install "fouryousee-data[distributed]"`` for ``s3fs``).
    start, end
        Only the days of this range (dates as in ``fetch_playlogs``); default: every
        cached day.
    client
        Whose cache (a :class:`~fouryousee_data.Client` or a list of them: a day is then
        published when every account holds it settled, all accounts' rows in one file).
    cache_dir
        The cache root, as in ``fetch_playlogs``.
    settle, tz
        Which days are final, as in ``fetch_playlogs``: only those are published.
    storage_options
        fsspec options for an object store (``key``, ``secret``,
        ``client_kwargs={"endpoint_url": ...}``); default: the AWS environment variables
        (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ...).

    Returns
    -------
    PublishSummary
        Days written, skipped (unchanged since the last publish), not ready; bytes written.

    Examples
    --------
    >>> summary = publish_cache("s3://lake/playlogs", start="2024-01-01")  # doctest: +SKIP
    >>> print(summary)  # doctest: +SKIP
    s3://lake/playlogs: 31 day(s) written (48,512,003 bytes), 0 unchanged, 1 not settled yet
    >>> publish_cache("/tmp/out", cache_dir=None)
    Traceback (most recent call last):
    ...
    ValueError: cache_dir: None is not possible here, the cache is what is published
    """
    root = resolve_cache_dir(cache_dir)
    if root is None:
        raise ValueError("cache_dir: None is not possible here, the cache is what is published")
    lo = resolve_range(start, start).first_day if start is not None else None
    hi = resolve_range(end, end).last_day if end is not None else None
    settle = parse_settle(settle)
    where = locate(dest, storage_options)
    summary = PublishSummary(os.fspath(dest))
    with opened_clients(client) as clients:
        caches = [PlaylogCache(root, c.fingerprint) for _, c in clients]
        for day, entries in _days(caches, lo, hi, settle, tz):
            if entries is None:
                summary.not_ready.append(day)
            else:
                _publish_day(where, day, entries, summary)
    log.info("publish_cache: %s", summary)
    return summary


def _days(
    caches: Sequence[PlaylogCache],
    lo: dt.date | None,
    hi: dt.date | None,
    settle: pd.Timedelta,
    tz: str | None,
) -> list[tuple[dt.date, list[CachedDay] | None]]:
    """Each cached unfiltered day in range, with each account's settled entry (``None``
    when an account lacks it or holds it provisional)."""
    by_day: dict[dt.date, list[CachedDay | None]] = {}
    for i, cache in enumerate(caches):
        for entry in cache.entries(scope=ALL_SCOPE):
            if isinstance(entry, Path):
                log.warning("publish_cache: %s is unusable; fetch that day again", entry)
                continue
            if (lo and entry.day < lo) or (hi and entry.day > hi):
                continue
            slots = by_day.setdefault(entry.day, [None] * len(caches))
            slots[i] = entry if entry.is_settled(settle, tz) else None
    out: list[tuple[dt.date, list[CachedDay] | None]] = []
    for day in sorted(by_day):
        slots = by_day[day]
        ready = [e for e in slots if e is not None]
        out.append((day, ready if len(ready) == len(caches) else None))
    return out


def _identity(entries: Sequence[CachedDay]) -> str:
    """The sources of a published day, as the JSON its footer carries."""
    sources = [
        {
            "report_id": e.report_id,
            "report_created_at": e.created_at.isoformat() if e.created_at else None,
            "fetched_at": e.fetched_at.isoformat() if e.fetched_at else None,
            "rows": e.rows,
        }
        for e in entries
    ]
    day = entries[0].day.isoformat()
    return json.dumps({"format": _FORMAT, "date": day, "sources": sources}, sort_keys=True)


def _publish_day(
    where: Location, day: dt.date, entries: list[CachedDay], summary: PublishSummary
) -> None:
    path = where.join(f"date={day.isoformat()}", PUBLISHED_PART)
    identity = _identity(entries)
    if _published_identity(where, path) == identity:
        summary.skipped.append(day)
        return
    table = _rows(entries)
    table = table.replace_schema_metadata({PUBLISHED_KEY: identity.encode()})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    data = buffer.getvalue()
    if where.is_local:

        def write(tmp: str) -> None:
            Path(tmp).write_bytes(data)

        atomic_write(path, write)
    else:
        where.fs.pipe_file(path, data)  # one upload: the object appears only when whole
    summary.written.append(day)
    summary.bytes += len(data)
    log.debug("published %s: %d rows, %d bytes", path, table.num_rows, len(data))


def _rows(entries: Sequence[CachedDay]) -> pa.Table:
    """The day's rows of every account, sorted by ``played_at`` (stable)."""
    tables = [conform(rows) for _, rows in rows_of(entries)]
    table = pa.concat_tables(tables).unify_dictionaries()
    return table.sort_by("played_at") if len(tables) > 1 else table


def _published_identity(where: Location, path: str) -> str | None:
    """The source identity in an already published file's footer (``None``: absent or
    unreadable, so it is written again)."""
    try:
        with where.fs.open(path, "rb") as f:
            meta = pq.read_metadata(f)
    except (OSError, ValueError, pa.ArrowException):
        return None
    if tuple(meta.schema.names) != COLUMNS:
        return None
    value = (meta.metadata or {}).get(PUBLISHED_KEY)
    return value.decode() if value else None
