"""``fetch_playlogs``: any date range in one call, served from the cache where it can be.

::

    resolve_range ─► days ─► cache: settled days are read, never requested again
                          └► missing days ─► split_windows (whole days, ≤ 30 each)
                               ─► a few windows at a time, each one:
                                  request (or reuse) ─► wait ─► download
                                  ─► its rows, restricted to its days and ids
                                  ─► its days written to the cache
    ─► one Arrow table restricted to [start, end) and the ids, sorted by played_at (stable)
    ─► the playlog DataFrame (localized with tz=), lineage in ``df.attrs``

Failures do not lose work: every window runs to its end and is cached; then
the typed error of the first failed window (in date order) is raised, its
message listing every failed window. A rerun fetches only what is missing.

Retry budget: a window's report is requested again only when it ends ``failed``
(:data:`RETRYABLE`, ``retries`` times at most); downloads and HTTP requests are
retried below (``RetryPolicy``), never multiplied here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any, TypedDict

import pandas as pd
import pyarrow as pa

from fouryousee_data._config import DEFAULT_CACHE, resolve_cache_dir
from fouryousee_data.cache import (
    CachedDay,
    Loaded,
    PlaylogCache,
    is_settled,
    parse_settle,
    restrict,
)
from fouryousee_data.client import Client
from fouryousee_data.errors import FouryouseeError, ReportFailedError
from fouryousee_data.progress import FetchProgress, want_progress
from fouryousee_data.report import Report
from fouryousee_data.schema import PLAYLOG_SCHEMA, conform, normalize_ids, to_pandas
from fouryousee_data.timerange import (
    DateLike,
    TimeRange,
    day_span,
    resolve_range,
    split_windows,
)

__all__ = ["fetch_playlogs", "in_played_order"]

log = logging.getLogger("fouryousee_data.fetch")

#: Upper bound of the growing interval between two polls of a report (seconds).
MAX_POLL_INTERVAL = 60.0
#: Errors after which a window's report is requested once more (up to ``retries`` times).
#: Download and parse errors are not here: the download layer already retried them.
RETRYABLE: tuple[type[FouryouseeError], ...] = (ReportFailedError,)


def fetch_playlogs(
    start: DateLike,
    end: DateLike,
    *,
    player_ids: int | Iterable[int] | None = None,
    media_ids: int | Iterable[int] | None = None,
    client: Client | None = None,
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
) -> pd.DataFrame:
    """Playlogs of any date range as one DataFrame, through the Parquet cache.

    Parameters
    ----------
    start, end
        A ``datetime.date`` or a ``"YYYY-MM-DD"`` string is a whole day (``end``
        inclusive); a ``datetime``, a ``pandas.Timestamp`` or a string with a time
        is an instant (``[start, end)``). Mixing is allowed.
    player_ids, media_ids
        Only these players/medias (``None``: all; an empty list is a ``ValueError``).
    client
        A :class:`~fouryousee_data.Client`; default ``Client()`` from the environment.
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
    span = resolve_range(start, end, tz=tz)  # also checks tz
    _check_polling(webhook, timeout, poll_interval)
    ask = _Ask(
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
    with contextlib.nullcontext(client) if client is not None else Client() as api:
        return _fetch(ask, api, cache_dir)


@dataclass(frozen=True)
class _Ask:
    """What the caller asked for, checked."""

    span: TimeRange
    player_ids: tuple[int, ...]
    media_ids: tuple[int, ...]
    settle: pd.Timedelta
    tz: str | None
    webhook: str | None
    timeout: float
    poll_interval: float
    retries: int
    refresh: bool
    max_concurrency: int
    progress: bool | IO[str]

    @property
    def ids(self) -> _Ids:
        return {"player_ids": self.player_ids, "media_ids": self.media_ids}


class _Ids(TypedDict):
    player_ids: tuple[int, ...]
    media_ids: tuple[int, ...]


@dataclass(frozen=True)
class _Job:
    """What every window of one call shares: the ask, the client, the cache and what it knows."""

    ask: _Ask
    client: Client
    cache: PlaylogCache | None
    known: Mapping[dt.date, list[CachedDay]]


@dataclass(frozen=True)
class _Window:
    """Whole days ``first``..``last`` (at most 30), fetched with one report."""

    first: dt.date
    last: dt.date

    def __str__(self) -> str:
        return f"{self.first}..{self.last}"

    @property
    def days(self) -> list[dt.date]:
        return day_span(self.first, self.last)


@dataclass(frozen=True)
class _Fetched:
    """One window's result: its report and its rows (restricted to its days and ids)."""

    window: _Window
    report: Report
    table: pa.Table
    provisional: list[dt.date]


def _fetch(ask: _Ask, client: Client, cache_dir: str | os.PathLike[str] | None) -> pd.DataFrame:
    root = resolve_cache_dir(cache_dir)
    cache = PlaylogCache(root, client.fingerprint) if root is not None else None
    hit = _read_cache(cache, ask)
    windows = _plan(ask, hit)
    fetched = _run_windows(_Job(ask, client, cache, hit.known), windows)
    span = ask.span
    pieces = hit.parts + [
        (f.window.first, restrict(f.table, start=span.start, end=span.end)) for f in fetched
    ]
    df = to_pandas(_concat(pieces), ask.tz)
    df.attrs.update(_lineage(hit.served, fetched, ask))
    return df


def _read_cache(cache: PlaylogCache | None, ask: _Ask) -> Loaded:
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
    )


def _plan(ask: _Ask, hit: Loaded) -> list[_Window]:
    """The report windows of the days the cache did not serve."""
    days = ask.span.days()
    missing = [d for d in days if d not in hit.served]
    windows = [_Window(first, last) for first, last in split_windows(missing)]
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


def _lineage(
    served: dict[dt.date, CachedDay], fetched: list[_Fetched], ask: _Ask
) -> dict[str, Any]:
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


def _run_windows(job: _Job, windows: list[_Window]) -> list[_Fetched]:
    """Every window run to its end; then the first failure (listing them all), if any."""
    if not windows:
        return []
    with FetchProgress(len(windows), enabled=job.ask.progress) as bars:
        outcomes = _outcomes(job, windows, bars)
    failures = [
        (w, o) for w, o in zip(windows, outcomes, strict=True) if isinstance(o, BaseException)
    ]
    if failures:
        raise _combined(failures, len(windows), cached=job.cache is not None)
    return [o for o in outcomes if isinstance(o, _Fetched)]


def _outcomes(
    job: _Job, windows: list[_Window], bars: FetchProgress
) -> list[_Fetched | BaseException]:
    """Each window's result or exception, in window order, ``max_concurrency`` at a time."""
    workers = min(job.ask.max_concurrency, len(windows))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fouryousee-fetch")
    try:
        futures = [pool.submit(_fetch_window, job, window, bars) for window in windows]
        outcomes = [_outcome(f) for f in futures]
    except BaseException:
        # Ctrl-C: do not start more windows; those in flight finish (and cache) on their own.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return outcomes


def _outcome(future: Future[_Fetched]) -> _Fetched | BaseException:
    exc = future.exception()
    return exc if exc is not None else future.result()


def _combined(
    failures: list[tuple[_Window, BaseException]], total: int, *, cached: bool
) -> BaseException:
    """The first failure's exception, its message extended with every failed window."""
    first_exc = failures[0][1]
    listed = "; ".join(f"{window}: {exc}" for window, exc in failures)
    others = "were cached" if cached else "finished"
    text = (
        f"{len(failures)} of {total} report window(s) failed ({listed}). The other windows "
        f"{others}; run the same call again to fetch only what is missing."
    )
    log.error("fetch_playlogs: %s", text)
    if isinstance(first_exc, FouryouseeError):
        first_exc.args = (text,)
        first_exc.failed_windows = [(w.first, w.last) for w, _ in failures]  # type: ignore[attr-defined]
    return first_exc


def _fetch_window(job: _Job, window: _Window, bars: FetchProgress) -> _Fetched:
    report = _ready_report(job, window, bars)
    log.info("window %s: report %s ready, downloading", window, report.id)
    with bars.downloading():  # bars: on_progress(n_bytes, n_rows), and on_size (Content-Length)
        table = job.client.download_table(report, on_progress=bars)
    table = _window_rows(table, window, job.ask)
    _store(job, window, report, table)
    provisional = [d for d in window.days if not _settled(d, report, job.ask)]
    bars.window_done()
    log.info(
        "window %s: %d row(s) from report %s%s",
        window,
        table.num_rows,
        report.id,
        f", {len(provisional)} provisional day(s)" if provisional else "",
    )
    return _Fetched(window, report, table, provisional)


def _ready_report(job: _Job, window: _Window, bars: FetchProgress) -> Report:
    """The window's ``success`` report; one that ends ``failed`` is replaced by a new one,
    up to ``retries`` times."""
    for attempt in range(1, job.ask.retries + 1):
        try:
            return _wait(job, _request(job, window), bars)
        except RETRYABLE as exc:
            log.warning(
                "window %s: %s; trying again (%d of %d)", window, exc, attempt, job.ask.retries
            )
    return _wait(job, _request(job, window), bars)


def _request(job: _Job, window: _Window) -> Report:
    """An existing report with the identical filter that is pending or ``success`` and
    newer than what the cache holds for these days (an older one would return the same
    rows), else a new one."""
    ask = job.ask
    report = job.client.request_report(
        window.first,
        window.last,
        **ask.ids,
        webhook=ask.webhook,
        reuse=lambda r: not _stale(r, window, job.known),
    )
    log.info("window %s: report %s (%s)", window, report.id, report.status)
    return report


def _stale(report: Report, window: _Window, known: Mapping[dt.date, list[CachedDay]]) -> bool:
    """True when the cache already holds these days from this report or a newer one."""
    for day in window.days:
        for entry in known.get(day, ()):
            if entry.report_id == report.id:
                return True
            if report.created_at and entry.created_at and entry.created_at >= report.created_at:
                return True
    return False


def _wait(job: _Job, report: Report, bars: FetchProgress) -> Report:
    bars.waiting(1)
    try:
        return job.client.wait_for_report(
            report,
            timeout=job.ask.timeout,
            poll_interval=job.ask.poll_interval,
            max_poll_interval=MAX_POLL_INTERVAL,
        )
    finally:
        bars.waiting(-1)


def _window_rows(table: pa.Table, window: _Window, ask: _Ask) -> pa.Table:
    """The report's rows within the window's days and the ids, sorted by ``played_at``."""
    table = restrict(
        conform(table),
        start=pd.Timestamp(window.first),
        end=pd.Timestamp(window.last + dt.timedelta(days=1)),
        **ask.ids,
    )
    # Stable: same-second rows keep the report's order.
    return table.sort_by("played_at") if table.num_rows else table


def _store(job: _Job, window: _Window, report: Report, table: pa.Table) -> None:
    """The window's days into the cache; a failed write is a warning (the rows are returned)."""
    if job.cache is None:
        return
    try:
        job.cache.store_days(table, window.days, report=report, **job.ask.ids)
    except OSError as exc:
        log.warning("window %s: could not write the cache (%s); data returned anyway", window, exc)


def _settled(day: dt.date, report: Report, ask: _Ask) -> bool:
    return is_settled(day, report.created_at, ask.settle, ask.tz)


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
