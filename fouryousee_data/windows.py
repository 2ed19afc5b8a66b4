"""Report windows: each one requested (or reused), waited for, downloaded and stored.

Reuse: before requesting anything, :func:`run_windows` looks once at the account's
reports for all the windows (newest first, stopping as soon as each has its answer:
:mod:`fouryousee_data.lookup`), never once per window.

A window is whole days (at most 30) fetched with one report. With a cache, its rows go
into the cache **day by day as they stream in** (:meth:`PlaylogCache.spill`: each block
of rows is appended to its day's spill file, and each day is written whole once the
report has arrived), so a window costs about a day of rows in memory, whatever its size;
the caller reads the days back from the cache. Without a cache (or when the cache cannot
be written) the window's rows are held in memory and returned.

Every window runs to its end; then the typed error of the first failed window (in date
order) is raised, its message listing every failed window.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, TypedDict

import pandas as pd
import pyarrow as pa

from fouryousee_data.cache import CachedDay, DaySpill, PlaylogCache, is_settled, restrict
from fouryousee_data.client import Client
from fouryousee_data.errors import FouryouseeError, ReportFailedError, failure_summary
from fouryousee_data.filters import report_filter
from fouryousee_data.lookup import cached_from
from fouryousee_data.progress import FetchProgress
from fouryousee_data.report import Report
from fouryousee_data.schema import conform
from fouryousee_data.timerange import TimeRange, day_span

__all__ = ["MAX_POLL_INTERVAL", "RETRYABLE", "Ask", "Fetched", "Job", "Window", "run_windows"]

log = logging.getLogger("fouryousee_data.fetch")

#: One window streams into the cache at a time in a process: windows are requested and
#: waited for side by side (the slow part, on 4YouSee's side), but one is downloaded,
#: parsed and written at once, so memory holds one stream and one day, whatever the
#: number of windows (measured: 2 windows in flight took 0.30x the frame, one 0.2x).
_STREAMING = threading.Lock()

#: ``settle="24h"``, parsed.
DEFAULT_SETTLE = pd.Timedelta(hours=24)

MAX_POLL_INTERVAL = 60.0
#: Errors after which a window's report is requested once more (up to ``retries`` times).
#: Download and parse errors are not here: the download layer already retried them.
RETRYABLE: tuple[type[FouryouseeError], ...] = (ReportFailedError,)


@dataclass(frozen=True)
class Ask:
    """What the caller asked for, checked (the defaults are ``fetch_playlogs``')."""

    span: TimeRange
    player_ids: tuple[int, ...] = ()
    media_ids: tuple[int, ...] = ()
    settle: pd.Timedelta = DEFAULT_SETTLE
    tz: str | None = None
    webhook: str | None = None
    timeout: float = 3600.0
    poll_interval: float = 0.5
    retries: int = 1
    refresh: bool = False
    max_concurrency: int = 3
    progress: bool | IO[str] = False

    @property
    def ids(self) -> Ids:
        return {"player_ids": self.player_ids, "media_ids": self.media_ids}


class Ids(TypedDict):
    player_ids: tuple[int, ...]
    media_ids: tuple[int, ...]


@dataclass(frozen=True)
class Job:
    """What every window of one call shares: the ask, the client, the cache and what it knows."""

    ask: Ask
    client: Client
    cache: PlaylogCache | None
    known: Mapping[dt.date, list[CachedDay]]
    #: the reports the call's one look found to reuse (filled by :func:`run_windows`)
    reusable: dict[Window, Report] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    """Whole days ``first``..``last`` (at most 30), fetched with one report."""

    first: dt.date
    last: dt.date

    def __str__(self) -> str:
        return f"{self.first}..{self.last}"

    @property
    def days(self) -> list[dt.date]:
        return day_span(self.first, self.last)


@dataclass(frozen=True)
class Fetched:
    """One window's result: its report, and its days as written to the cache
    (``entries``) or, without a cache, its rows (``table``, restricted to its days and
    ids)."""

    window: Window
    report: Report
    rows: int
    provisional: list[dt.date]
    entries: list[CachedDay] = field(default_factory=list)
    table: pa.Table | None = None


def run_windows(job: Job, windows: list[Window]) -> list[Fetched]:
    """Every window run to its end; then the first failure (listing them all), if any."""
    if not windows:
        return []
    job.reusable.update(_reusable(job, windows))
    with FetchProgress(len(windows), enabled=job.ask.progress) as bars:
        outcomes = _outcomes(job, windows, bars)
    failures = [
        (w, o) for w, o in zip(windows, outcomes, strict=True) if isinstance(o, BaseException)
    ]
    if failures:
        raise _combined(failures, len(windows), cached=job.cache is not None)
    return [o for o in outcomes if isinstance(o, Fetched)]


def _outcomes(
    job: Job, windows: list[Window], bars: FetchProgress
) -> list[Fetched | BaseException]:
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


def _outcome(future: Future[Fetched]) -> Fetched | BaseException:
    exc = future.exception()
    return exc if exc is not None else future.result()


def _combined(
    failures: list[tuple[Window, BaseException]], total: int, *, cached: bool
) -> BaseException:
    """The first failure's exception, its message extended with every failed window."""
    first_exc = failures[0][1]
    text = failure_summary(
        failures,
        total,
        noun="report window(s)",
        others="were cached" if cached else "finished (no cache: not kept)",
        rerun="Run the same call again" + (" to fetch only what is missing." if cached else "."),
    )
    log.error("fetch_playlogs: %s", text)
    if isinstance(first_exc, FouryouseeError):
        first_exc.args = (text,)
        first_exc.failed_windows = [(w.first, w.last) for w, _ in failures]  # type: ignore[attr-defined]
    return first_exc


def _fetch_window(job: Job, window: Window, bars: FetchProgress) -> Fetched:
    report = _ready_report(job, window, bars)
    log.info("window %s: report %s ready, downloading", window, report.id)
    provisional = [d for d in window.days if not _settled(d, report, job.ask)]
    fetched = _into_cache(job, window, report, provisional, bars)
    if fetched is None:
        with bars.downloading():  # bars: on_progress(n_bytes, n_rows), and on_size (Content-Length)
            table = job.client.download_table(report, on_progress=bars)
        if not table.num_rows:  # an empty report may be a store glitch (SPEC section 1)
            provisional = window.days
        table = _window_rows(table, window, job.ask)
        fetched = Fetched(window, report, table.num_rows, provisional, table=table)
    bars.window_done()
    log.info(
        "window %s: %d row(s) from report %s%s",
        window,
        fetched.rows,
        report.id,
        f", {len(fetched.provisional)} provisional day(s)" if fetched.provisional else "",
    )
    return fetched


def _into_cache(
    job: Job, window: Window, report: Report, provisional: list[dt.date], bars: FetchProgress
) -> Fetched | None:
    """The report's rows into the cache day by day as they stream in (a day of rows in
    memory at a time); ``None`` without a cache or when it cannot be written (a warning:
    the caller downloads the window into memory instead, nothing is lost)."""
    cache = job.cache
    if cache is None:
        return None

    def new_spill() -> DaySpill:
        return cache.spill(window.days, report=report, **job.ask.ids)

    try:
        with _STREAMING, bars.downloading():  # bars: on_progress(n_bytes, n_rows), on_size
            spill = job.client.download_into(report, new_spill, on_progress=bars)
            rows = spill.rows
            entries = [e for e in spill.commit() if isinstance(e, CachedDay)]
        # As the cache judged the days it wrote: an empty report's days stay provisional
        # until a later report agrees (SPEC section 1).
        ask = job.ask
        late = {e.day for e in entries if not e.is_settled(ask.settle, ask.tz)}
        provisional = sorted(late.union(provisional))
    except OSError as exc:
        log.warning(
            "window %s: could not write the cache (%s); downloading it into memory", window, exc
        )
        return None
    return Fetched(window, report, rows, provisional, entries=entries)


def _ready_report(job: Job, window: Window, bars: FetchProgress) -> Report:
    """The window's ``success`` report (first a reusable one, if the call's look found one);
    one that ends ``failed`` is replaced by a new one, up to ``retries`` times."""
    for attempt in range(1, job.ask.retries + 1):
        try:
            return _wait(job, _request(job, window, attempt == 1), bars)
        except RETRYABLE as exc:
            log.warning(
                "window %s: %s; trying again (%d of %d)", window, exc, attempt, job.ask.retries
            )
    return _wait(job, _request(job, window, job.ask.retries == 0), bars)


def _request(job: Job, window: Window, reuse: bool) -> Report:
    """The report the call's one look found for the window (``reuse``), else a new one."""
    ask = job.ask
    report = (job.reusable.get(window) if reuse else None) or job.client.request_report(
        window.first, window.last, **ask.ids, webhook=ask.webhook
    )
    log.info("window %s: report %s (%s)", window, report.id, report.status)
    return report


def _reusable(job: Job, windows: list[Window]) -> dict[Window, Report]:
    """One look at the account's reports for all the call's windows (newest first, stopping
    once each has its answer): a pending or ``success`` report with the window's filter,
    newer than what the cache holds for its days (an older one gives the same rows)."""
    wanted = [report_filter(w.first, w.last, **job.ask.ids) for w in windows]

    def fresh(i: int, report: Report) -> bool:
        return not cached_from(report, windows[i].days, job.known)

    found = job.client.reusable_reports(wanted, accept=fresh)
    return {w: r for w, r in zip(windows, found, strict=True) if r is not None}


def _wait(job: Job, report: Report, bars: FetchProgress) -> Report:
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


def _window_rows(table: pa.Table, window: Window, ask: Ask) -> pa.Table:
    """The report's rows within the window's days and the ids, sorted by ``played_at``."""
    table = restrict(
        conform(table),
        start=pd.Timestamp(window.first),
        end=pd.Timestamp(window.last + dt.timedelta(days=1)),
        **ask.ids,
    )
    # Stable: same-second rows keep the report's order.
    return table.sort_by("played_at") if table.num_rows else table


def _settled(day: dt.date, report: Report, ask: Ask) -> bool:
    return is_settled(day, report.created_at, ask.settle, ask.tz)
