"""The Parquet cache: one file per (account, scope, day), hive-partitioned.

Modules::

    _store.py     PlaylogCache: one account's days, written, read (load), listed, cleared
    _query.py     what one read asks: scopes that serve a filter, settled days, rows kept
    _dayfile.py   one day on disk: Parquet file + lineage + read copy; written, opened, checked
    _readcopy.py  a day's read copy (raw column arrays, CRC-checked), tied to its Parquet file
    _copyformat.py the bytes of a read copy: written with their CRCs (seal), read back (sections)
    _block.py     the days one load serves, read into range-wide columns; their DataFrame
    _parallel.py  the copies of a range read in two halves at once (one worker thread)
    _settle.py    the settle policy: parse_settle, day_end_utc, is_settled; empty reports
    _leftovers.py temp files and spills of killed writers: found, swept (older than an hour)
    _spill.py     DaySpill: a streaming report's rows spilled per day, committed as days
    _heap.py      the streaming fetch's allocators: Arrow pool, glibc mmap threshold, trim
    _admin.py     cache_info and clear_cache, for one account or all under a cache root

Layout (SPEC section 4)::

    <cache_dir>/<fingerprint>/scope=<scope>/date=YYYY-MM-DD/part-0.parquet

* ``<fingerprint>`` is :func:`~fouryousee_data._config.account_fingerprint` of
  (API URL, token): one namespace per account; the token itself is never stored.
* ``scope=all`` holds days fetched without a player/media filter; they serve any
  request (the filter is applied locally). A filtered fetch is stored under
  ``scope=f-<12 hex>`` (:func:`fouryousee_data.filters.scope` of its ids) and serves
  only the same filter.
* A day is one file, written complete or not at all (a temp file in the same
  folder, then :func:`os.replace`, under a :class:`filelock.FileLock`), and
  replaced whole. A day with zero playlogs is still a file (empty, with the
  schema), so it counts as cached.
* The day's lineage lives in the file's key-value metadata (key
  ``fouryousee_data.day``, JSON): report id and ``createdAt``, the filter,
  ``fetched_at``, the row count. Data and metadata are one atomic file.
* Next to each Parquet file is the day's *read copy*, ``.part-0.copy``: the same
  rows as raw column arrays, read straight into the arrays of the result instead of
  decoding Parquet. It serves only while it belongs to the Parquet file as it is;
  otherwise the day is read from Parquet and given a fresh copy on the way.
* A day is *settled* once its report was created at least ``settle`` after the day
  ended; only settled days are served, provisional ones are fetched again.
* Temp, lock and read-copy files start with ``.``, which pyarrow's dataset discovery,
  Spark and DuckDB's ``*.parquet`` globs skip, so the tree reads directly::

      pyarrow.dataset.dataset(f"{cache_dir}/{fp}/scope=all", partitioning="hive")
      duckdb.sql(f"SELECT * FROM read_parquet('{cache_dir}/{fp}/**/*.parquet', "
                 "hive_partitioning=true)")

A file that cannot be read, does not carry our metadata, or disagrees with it
(row count, schema, rows outside its day) is a cache miss: it is logged as a
warning and fetched again, never an exception and never fewer rows.

The API used by :func:`~fouryousee_data.fetch.fetch_playlogs` and the webhook receiver::

    cache = PlaylogCache(cache_dir, client.fingerprint)
    cache.store_report(report, table)          # a downloaded report -> its whole days
    cache.store_days(table, days, report=..., player_ids=..., media_ids=...)
    spill = cache.spill(days, report=..., player_ids=...); spill.add(batch); spill.commit()
    rows_of(entries, start=..., end=...)  # days just written, read back
    frame_of(entries, start=..., end=..., tz=...)  # ...as one DataFrame, no extra copy
    loaded = cache.load(days, player_ids=..., settle=..., tz=..., start=..., end=...)
    loaded.known / loaded.served / loaded.parts / loaded.table / loaded.frame(tz)
    cache.entries() / cache.clear(...)

and, for users, :func:`cache_info` and :func:`clear_cache`.
"""

from fouryousee_data.cache._admin import cache_info, clear_cache
from fouryousee_data.cache._dayfile import CachedDay
from fouryousee_data.cache._heap import bound_heap, release_memory
from fouryousee_data.cache._query import restrict
from fouryousee_data.cache._readback import frame_of, rows_of
from fouryousee_data.cache._readcopy import NAME as READ_COPY_NAME
from fouryousee_data.cache._settle import day_end_utc, is_settled, parse_settle
from fouryousee_data.cache._spill import DaySpill
from fouryousee_data.cache._store import Loaded, PlaylogCache
from fouryousee_data.filters import ALL_SCOPE

__all__ = [
    "ALL_SCOPE",
    "READ_COPY_NAME",
    "CachedDay",
    "DaySpill",
    "Loaded",
    "PlaylogCache",
    "bound_heap",
    "cache_info",
    "clear_cache",
    "day_end_utc",
    "frame_of",
    "is_settled",
    "parse_settle",
    "release_memory",
    "restrict",
    "rows_of",
]
