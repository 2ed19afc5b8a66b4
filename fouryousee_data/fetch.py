"""``fetch_playlogs``: any date range in one call, served from the cache where it can be.

::

    resolve_range ─► days ─► cache: settled days are read, never requested again
                          └► missing days ─► split_windows (whole days, ≤ 30 each)
                               ─► a few windows at a time (windows.py), each one:
                                  request (or reuse: one look per call) ─► wait ─► download
                                  ─► its rows, restricted to its days and ids, into
                                     the cache day by day as they stream in
    ─► the fetched days read back, and the cached ones, restricted to [start, end) and
       the ids, in one Arrow table sorted by played_at (stable)
    ─► the playlog DataFrame (localized with tz=), lineage in ``df.attrs``

So the range's frame is the only allocation that grows with the range: a window costs
about a day of rows while it is fetched. :func:`fill_cache` is the same without the
frame (``scan_playlogs(..., fetch=True)``).

Failures do not lose work: every window runs to its end and is cached; then
the typed error of the first failed window (in date order) is raised, its
message listing every failed window. A rerun fetches only what is missing.

Retry budget: a window's report is requested again only when it ends ``failed``
(:data:`RETRYABLE`, ``retries`` times at most); downloads and HTTP requests are
retried below (``RetryPolicy``), never multiplied here.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
from collections.abc import Iterable, Sequence
from typing import IO, Any

import pandas as pd
import pyarrow as pa

from fouryousee_data._config import DEFAULT_CACHE, resolve_cache_dir
from fouryousee_data.accounts import Clients, each_account
from fouryousee_data.cache import (
    CachedDay,
    Loaded,
    PlaylogCache,
    frame_of,
    parse_settle,
    restrict,
    rows_of,
)
from fouryousee_data.client import Client
from fouryousee_data.progress import want_progress
from fouryousee_data.schema import PLAYLOG_SCHEMA, normalize_ids, to_pandas
from fouryousee_data.timerange import (
    DateLike,
    resolve_range,
    split_windows,
)
from fouryousee_data.windows import MAX_POLL_INTERVAL, Ask, Fetched, Job, Window, run_windows

__all__ = ["fetch_playlogs", "fill_cache", "in_played_order"]

log = logging.getLogger("fouryousee_data.fetch")


def fetch_playlogs(
    start: DateLike,
    end: DateLike,
    *,
    player_ids: int | Iterable[int] | None = None,
    media_ids: int | Iterable[int] | None = None,
    client: Clients = None,
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
    refresh: bool = False,
    settle: str | pd.Timedelta | dt.timedelta = "24h",
    progress: bool | IO[str] | None = None,
    tz: str | None = None,
    webhook: str | None = None,
    max_concurrency: int = 3,
    timeout: float = 3600.0,
    poll_interval: float = 0.5,
    retries: int = 1,
    dayfirst: bool = False,
) -> pd.DataFrame:
    """Playlogs of any date range as one DataFrame, through the Parquet cache.

    Parameters
    ----------
    start, end, dayfirst
        A ``datetime.date`` or a ``"YYYY-MM-DD"`` string is a whole day (``end``
        inclusive); a ``datetime``, a ``pandas.Timestamp`` or a string with a time
        is an instant (``[start, end)``). Mixing is allowed. ``dd/mm/yyyy [HH:MM[:SS]]``
        strings only with ``dayfirst=True`` (without it, a ``ValueError``).
    player_ids, media_ids
        Only these players/medias (``None``: all; an empty list is a ``ValueError``).
    client
        A ``Client`` (default ``Client()``), or several: a list or ``{label: client}``.
    cache_dir
        The cache root; default ``FOURYOUSEE_CACHE_DIR`` or the user cache
        directory; ``None`` disables the cache.
    refresh
        Fetch every day again (and replace it in the cache).
    settle
        How long after a day ends its report must have been created for the day
        to count as final (``"24h"``, a ``Timedelta``/``timedelta``). Days not yet
        settled are *provisional*: returned, cached, and fetched again next time.
    progress
        Progress bars (reports, bytes, rows); ``None`` = when interactive
        (stderr is a terminal, or a notebook); a text stream: plain bars written
        there (a log file, ``io.StringIO``).
    tz
        The account's time zone: ``played_at`` becomes tz-aware; tz-aware
        ``start``/``end`` are converted; "the day ended" is judged there (without
        it, conservatively in UTC-12).
    webhook
        Passed to every report request (4YouSee notifies it); this call still polls.
    max_concurrency
        Report windows in flight at once.
    timeout, poll_interval
        Per window, as in :meth:`~fouryousee_data.Client.wait_for_report` (the
        interval grows 1.5x per poll up to 60 s, so a short first interval is cheap).
    retries
        How many times a window's report is requested again after it ended ``failed``.
        Nothing else is retried here: the client retries a broken or corrupt download
        (``RetryPolicy.download_attempts``) and a failed HTTP request (``.attempts``),
        so a window costs at most ``retries + 1`` reports, each downloaded at most
        ``download_attempts`` times.

    Returns
    -------
    pandas.DataFrame
        The playlog frame (SPEC section 3) sorted by ``played_at`` (stable).
        ``attrs`` holds the lineage: ``report_ids``, ``cached_days``,
        ``fetched_days``, ``provisional_days`` (ISO dates), ``fetched_at``.

    Raises
    ------
    ValueError
        Bad arguments (end before start, unknown ``tz``, bad ``settle``, ...).
    ReportFailedError, ReportTimeoutError, DownloadError, CorruptReportError, APIError
        The first failed window's error, after every other window finished.
        Its ``failed_windows`` attribute lists ``(first_day, last_day)`` of each.

    Examples
    --------
    >>> df = fetch_playlogs("2024-01-01", "2024-03-31")  # doctest: +SKIP
    >>> df.attrs["cached_days"][:2]  # doctest: +SKIP
    ['2024-01-01', '2024-01-02']
    >>> fetch_playlogs("2024-03-02", "2024-03-01")
    Traceback (most recent call last):
    ...
    ValueError: end (2024-03-01) is before start (2024-03-02)
    """
    span = resolve_range(start, end, tz=tz, dayfirst=dayfirst)  # also checks tz
    _check_polling(webhook, timeout, poll_interval)
    ask = Ask(
        span=span,
        player_ids=normalize_ids(player_ids, "player_ids"),
        media_ids=normalize_ids(media_ids, "media_ids"),
        settle=parse_settle(settle),
        tz=tz,
        webhook=webhook,
        timeout=timeout,
        poll_interval=poll_interval,
        retries=_count(retries, "retries", 0),
        refresh=refresh,
        max_concurrency=_count(max_concurrency, "max_concurrency", 1),
        progress=want_progress(progress),
    )
    return each_account(client, lambda api: _fetch(ask, api, cache_dir), span, **ask.ids)


def _fetch(ask: Ask, client: Client, cache_dir: str | os.PathLike[str] | None) -> pd.DataFrame:
    root = resolve_cache_dir(cache_dir)
    cache = PlaylogCache(root, client.fingerprint) if root is not None else None
    hit = _read_cache(cache, ask)
    plan = _plan(ask, hit)
    if plan and cache is not None:
        hit.block = None  # read again with the fetched days below: the range held once
    fetched = run_windows(Job(ask, client, cache, hit.known), plan)
    if not fetched:  # all from the cache: the frame is made of the arrays the days were read into
        df = hit.frame(ask.tz)
    elif cache is not None and all(f.table is None for f in fetched):
        # every day is in the cache now: read them all into one block, which is the frame
        entries = [*hit.served.values(), *(e for f in fetched for e in f.entries)]
        df = frame_of(entries, **ask.ids, start=ask.span.start, end=ask.span.end, tz=ask.tz)
    else:  # some windows could not be written to the cache: their rows are held
        cached = hit.parts if hit.block is not None else _rows_of_served(hit, ask)
        df = to_pandas(_concat(cached + _fetched_rows(cache, fetched, ask)), ask.tz)
    df.attrs.update(_lineage(hit.served, fetched, ask))
    return df


def fill_cache(ask: Ask, client: Client, cache: PlaylogCache) -> None:
    """Fetch into ``cache`` the days of ``ask`` it does not hold settled (all of them
    with ``refresh``), reading no cached rows and holding about a day of rows at a time.

    Examples
    --------
    >>> fill_cache(ask, client, PlaylogCache(root, client.fingerprint))  # doctest: +SKIP
    """
    hit = _read_cache(cache, ask, rows=False)
    run_windows(Job(ask, client, cache, hit.known), _plan(ask, hit))


def _read_cache(cache: PlaylogCache | None, ask: Ask, *, rows: bool = True) -> Loaded:
    """The settled days the cache holds (none with ``refresh``), read in one pass."""
    if cache is None:
        return Loaded()
    return cache.load(
        ask.span.days(),
        **ask.ids,
        settle=ask.settle,
        tz=ask.tz,
        start=ask.span.start,
        end=ask.span.end,
        serve=not ask.refresh,
        rows=rows,
    )


def _rows_of_served(hit: Loaded, ask: Ask) -> list[tuple[dt.date, pa.Table]]:
    """The rows of the days the cache served, read again (their block was let go)."""
    span = ask.span
    return rows_of(hit.served.values(), **ask.ids, start=span.start, end=span.end)


def _fetched_rows(
    cache: PlaylogCache | None, fetched: list[Fetched], ask: Ask
) -> list[tuple[dt.date, pa.Table]]:
    """The fetched windows' rows in the range: read back from the cache, or as held."""
    span, pieces = ask.span, []
    for f in fetched:
        if f.table is not None:  # no cache, or it could not be written
            pieces.append((f.window.first, restrict(f.table, start=span.start, end=span.end)))
        elif cache is not None:
            pieces += rows_of(f.entries, **ask.ids, start=span.start, end=span.end)
    return pieces


def _plan(ask: Ask, hit: Loaded) -> list[Window]:
    """The report windows of the days the cache did not serve."""
    days = ask.span.days()
    missing = [d for d in days if d not in hit.served]
    windows = [Window(first, last) for first, last in split_windows(missing)]
    log.info(
        "fetch_playlogs %s..%s: %d day(s), %d from the cache, %d to fetch in %d report window(s)",
        ask.span.start,
        ask.span.end,
        len(days),
        len(hit.served),
        len(missing),
        len(windows),
    )
    return windows


def _concat(pieces: list[tuple[dt.date, pa.Table]]) -> pa.Table:
    """One table of per-day pieces, sorted by ``played_at`` (stable)."""
    tables = [t for _, t in sorted(pieces, key=lambda piece: piece[0])]
    table = pa.concat_tables(tables or [PLAYLOG_SCHEMA.empty_table()])
    return table if in_played_order(tables) else table.sort_by("played_at")


def in_played_order(tables: Sequence[pa.Table]) -> bool:
    """Whether tables sorted by ``played_at``, one after the other, are sorted: each
    ends before the next starts (always, for the pieces of distinct days in day order).

    Examples
    --------
    >>> at = lambda *s: pa.table({"played_at": pa.array([pd.Timestamp(t) for t in s])})
    >>> in_played_order([at("2024-03-01 08:00"), at(), at("2024-03-02")])
    True
    >>> in_played_order([at("2024-03-01 08:00", "2024-03-02 09:00"), at("2024-03-02")])
    False
    """
    bounds = []
    for table in tables:
        chunks = [c for c in table.column("played_at").chunks if len(c)]
        if chunks:
            bounds.append((chunks[0][0].value, chunks[-1][-1].value))
    return all(a[1] <= b[0] for a, b in itertools.pairwise(bounds))


def _lineage(served: dict[dt.date, CachedDay], fetched: list[Fetched], ask: Ask) -> dict[str, Any]:
    ids = {e.report_id for e in served.values() if e.report_id is not None}
    ids.update(f.report.id for f in fetched)
    fetched_days = sorted(d for f in fetched for d in f.window.days)
    return {
        "report_ids": sorted(ids),
        "cached_days": [d.isoformat() for d in sorted(served)],
        "fetched_days": [d.isoformat() for d in fetched_days],
        "provisional_days": sorted(d.isoformat() for f in fetched for d in f.provisional),
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "player_ids": list(ask.player_ids),
        "media_ids": list(ask.media_ids),
        "tz": ask.tz,
    }


def _check_polling(webhook: str | None, timeout: float, poll_interval: float) -> None:
    if webhook is not None and not (
        isinstance(webhook, str) and webhook.startswith(("http://", "https://"))
    ):
        raise ValueError(f"webhook: expected an http(s) URL, got {webhook!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
        raise ValueError(f"timeout: expected seconds >= 0, got {timeout!r}")
    if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float):
        raise ValueError(f"poll_interval: expected seconds > 0, got {poll_interval!r}")
    if not 0 < poll_interval <= MAX_POLL_INTERVAL:
        raise ValueError(f"poll_interval: expected 0 < seconds <= 60, got {poll_interval!r}")


def _count(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return value
