"""Where ``fouryousee-data summary`` counts: pandas, DuckDB or Dask.

* ``pandas``: ``fetch_playlogs`` brings the range into memory, then counts it. Quick
  for small ranges, and the only engine without a cache (``--no-cache``).
* ``duckdb``: ``scan_playlogs`` fetches the missing days into the cache day by day,
  then DuckDB counts the cached Parquet out of core: memory stays about a day of rows,
  whatever the range.
* ``dask``: the same scan as a Dask DataFrame on a ``distributed`` cluster (the
  scheduler at ``--scheduler`` / ``DASK_SCHEDULER_ADDRESS``, else a local cluster of
  worker processes started for the command).

Default: ``duckdb`` from :data:`LARGE_RANGE_DAYS` days on, else ``pandas``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from fouryousee_data.dataset import scan_playlogs
from fouryousee_data.fetch import fetch_playlogs
from fouryousee_data.timerange import DateLike, resolve_range

__all__ = ["ENGINES", "LARGE_RANGE_DAYS", "default_engine", "playlogs_on"]

#: The engines ``summary --engine`` takes.
ENGINES = ("duckdb", "dask", "pandas")

#: From this many days on, ``summary`` counts in DuckDB by default: a range longer than
#: one report window (31 days) of a large network is gigabytes as a pandas frame
#: (~1.8 M playlogs a day for 500 screens, ~50 MB a day in memory), while DuckDB keeps
#: memory at about a day of rows and counts the cached Parquet faster than reading it
#: into pandas first. Shorter ranges stay in pandas (no engine start-up, same result).
LARGE_RANGE_DAYS = 31


def default_engine(
    start: DateLike, end: DateLike, *, dayfirst: bool = False, cache: bool = True
) -> str:
    """``"duckdb"`` for a range of :data:`LARGE_RANGE_DAYS` days or more (with a cache),
    else ``"pandas"``.

    Examples
    --------
    >>> default_engine("2024-01-01", "2024-01-31"), default_engine("2024-01-01", "2024-03-31")
    ('duckdb', 'duckdb')
    >>> default_engine("2024-01-01", "2024-01-07"), default_engine("2024-01-01", "2024-12-31",
    ...                                                             cache=False)
    ('pandas', 'pandas')
    """
    span = resolve_range(start, end, dayfirst=dayfirst)
    days = (span.end - span.start).total_seconds() / 86_400
    return "duckdb" if cache and days >= LARGE_RANGE_DAYS else "pandas"


@contextlib.contextmanager
def playlogs_on(
    engine: str, start: DateLike, end: DateLike, *, scheduler: str | None = None, **options: Any
) -> Iterator[Any]:
    """The range's playlogs on ``engine`` (a frame, a relation or a Dask DataFrame),
    valid inside the ``with`` block (a Dask cluster it started is closed after it).

    ``options`` are ``fetch_playlogs``' (``player_ids``, ``cache_dir``, ``tz``, ...).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "pandas":
        yield fetch_playlogs(start, end, **options)
        return
    if options.get("cache_dir", "") is None:
        raise ValueError(f"--engine {engine} reads the cache: drop --no-cache (or use pandas)")
    if engine == "duckdb":
        yield scan_playlogs(start, end, engine="duckdb", **options)
        return
    with dask_client(scheduler):
        yield scan_playlogs(start, end, engine="dask", **options)


@contextlib.contextmanager
def dask_client(address: str | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: of the scheduler at ``address`` (default
    ``DASK_SCHEDULER_ADDRESS``), else of a local cluster of worker processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ValueError(
            'the dask engine needs: pip install "fouryousee-data[distributed]"'
        ) from exc
    address = address or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if address:
        with Client(address) as client:
            yield client
        return
    with (
        # the dashboard on a free loopback port (None would still take 8787, or warn)
        LocalCluster(
            processes=True, threads_per_worker=1, dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
