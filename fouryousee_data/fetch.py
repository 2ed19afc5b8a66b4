"""``fetch_playlogs``: any date range in one call, served from the cache where it can be.

::

    resolve_range ─► days ─► cache: settled days are read, never requested again
                          └► missing days ─► split_windows (whole days, ≤ 30 each)
                               ─► a few windows at a time:
                                  reuse an identical report (find_reports) or request_report
                                  ─► wait_for_report ─► download_table
                                  ─► the window's days are written to the cache
    ─► one Arrow table restricted to [start, end) and the ids, sorted by played_at (stable)
    ─► the playlog DataFrame (localized with tz=), lineage in ``df.attrs``

Failures do not lose work: every window runs to its end and is cached; then
the typed error of the first failed window (in date order) is raised, its
message listing every failed window. A rerun fetches only what is missing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from fouryousee_data._config import DEFAULT_CACHE, resolve_cache_dir
from fouryousee_data.cache import (
    CachedDay,
    PlaylogCache,
    is_settled,
    parse_settle,
    restrict,
)
from fouryousee_data.errors import (
    CorruptReportError,
    DownloadError,
    FouryouseeError,
    InvalidPlaylogError,
    ReportFailedError,
)
from fouryousee_data.report import Report
from fouryousee_data.schema import PLAYLOG_SCHEMA, conform, normalize_ids, to_pandas
from fouryousee_data.timerange import (
    DateLike,
    TimeRange,
    day_span,
    resolve_range,
    split_windows,
)

__all__ = ["fetch_playlogs"]

log = logging.getLogger("fouryousee_data.fetch")

#: Upper bound of the growing interval between two polls of a report (seconds).
MAX_POLL_INTERVAL = 60.0
#: Errors after which a window's report is requested (or downloaded) once more.
RETRYABLE = (ReportFailedError, DownloadError, CorruptReportError, InvalidPlaylogError)


def fetch_playlogs(
    start: DateLike,
    end: DateLike,
    *,
    player_ids: int | Iterable[int] | None = None,
    media_ids: int | Iterable[int] | None = None,
    client: Any = None,
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
    refresh: bool = False,
    settle: str | pd.Timedelta | dt.timedelta = "24h",
    progress: bool | None = None,
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
        Only these players/medias (``None`` or empty: all).
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
        (stderr is a terminal, or a notebook).
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
        Extra attempts for a window whose report failed or whose file could not be
        downloaded or parsed.

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
    job = _Job(
        client=client,
        player_ids=normalize_ids(player_ids, "player_ids"),
        media_ids=normalize_ids(media_ids, "media_ids"),
        settle=parse_settle(settle),
        tz=tz,
        webhook=webhook,
        timeout=timeout,
        poll_interval=poll_interval,
        retries=_count(retries, "retries", 0),
    )
    max_concurrency = _count(max_concurrency, "max_concurrency", 1)
    if job.client is None:
        from fouryousee_data.client import Client

        with Client() as job.client:
            return _fetch(job, span, cache_dir, refresh, max_concurrency, progress)
    return _fetch(job, span, cache_dir, refresh, max_concurrency, progress)


def _fetch(
    job: _Job,
    span: TimeRange,
    cache_dir: str | os.PathLike[str] | None,
    refresh: bool,
    max_concurrency: int,
    progress: bool | None,
) -> pd.DataFrame:
    root = resolve_cache_dir(cache_dir)
    job.cache = PlaylogCache(root, job.client.fingerprint) if root is not None else None

    days = span.days()
    served: dict[dt.date, CachedDay] = {}
    cached: list[tuple[dt.date, pa.Table]] = []
    if job.cache is not None:
        loaded = job.cache.load(
            days,
            player_ids=job.player_ids,
            media_ids=job.media_ids,
            settle=job.settle,
            tz=job.tz,
            start=span.start,
            end=span.end,
            serve=not refresh,
        )
        job.known, served, cached = loaded.known, loaded.served, loaded.parts
    missing = [d for d in days if d not in served]
    windows = split_windows(missing)
    log.info(
        "fetch_playlogs %s..%s: %d day(s), %d from the cache, %d to fetch in %d report window(s)",
        span.start,
        span.end,
        len(days),
        len(served),
        len(missing),
        len(windows),
    )
    fetched = _run_windows(job, windows, max_concurrency, _want_progress(progress))

    pieces = cached + [
        (f.first, restrict(f.table, start=span.start, end=span.end)) for f in fetched
    ]
    pieces.sort(key=lambda piece: piece[0])
    table = pa.concat_tables([t for _, t in pieces] or [PLAYLOG_SCHEMA.empty_table()])
    if not _in_order(pieces):  # each piece is sorted by played_at; in day order, so is all
        table = table.sort_by("played_at")
    df = to_pandas(table, job.tz)
    df.attrs.update(_lineage(served, fetched, job))
    return df


@dataclass
class _Job:
    """What every window of one call shares."""

    client: Any
    player_ids: tuple[int, ...]
    media_ids: tuple[int, ...]
    settle: pd.Timedelta
    tz: str | None
    webhook: str | None
    timeout: float
    poll_interval: float
    retries: int
    cache: PlaylogCache | None = None
    known: dict[dt.date, list[CachedDay]] | None = None


@dataclass(frozen=True)
class _Fetched:
    """One window's result: its report and its rows (restricted to its days and ids)."""

    first: dt.date
    last: dt.date
    report: Report
    table: pa.Table
    provisional: list[dt.date]


def _in_order(pieces: list[tuple[dt.date, pa.Table]]) -> bool:
    """Whether sorted pieces, one after the other, are sorted: each ends before the next
    starts (always, for pieces of distinct days in day order)."""
    bounds = []
    for _, table in pieces:
        chunks = [c for c in table.column("played_at").chunks if len(c)]
        if chunks:
            bounds.append((chunks[0][0].value, chunks[-1][-1].value))
    return all(a[1] <= b[0] for a, b in itertools.pairwise(bounds))


def _run_windows(
    job: _Job, windows: list[tuple[dt.date, dt.date]], max_concurrency: int, show: bool
) -> list[_Fetched]:
    if not windows:
        return []
    bars = _Progress(len(windows), enabled=show)
    pool = ThreadPoolExecutor(
        max_workers=min(max_concurrency, len(windows)), thread_name_prefix="fouryousee-fetch"
    )
    try:
        futures = [pool.submit(_fetch_window, job, first, last, bars) for first, last in windows]
        outcomes = [_outcome(f) for f in futures]
    except BaseException:
        # Ctrl-C: do not start more windows; those in flight finish (and cache) on their own.
        pool.shutdown(wait=False, cancel_futures=True)
        bars.close()
        raise
    pool.shutdown()
    bars.close()
    failures = [
        (w, o) for w, o in zip(windows, outcomes, strict=True) if isinstance(o, BaseException)
    ]
    if failures:
        raise _combined(failures, len(windows), cached=job.cache is not None)
    return [o for o in outcomes if isinstance(o, _Fetched)]


def _outcome(future: Future[_Fetched]) -> _Fetched | BaseException:
    exc = future.exception()
    return exc if exc is not None else future.result()


def _fetch_window(job: _Job, first: dt.date, last: dt.date, bars: _Progress) -> _Fetched:
    label = f"{first}..{last}"
    reuse = True
    for attempt in range(job.retries + 1):
        try:
            report = _request(job, first, last, reuse=reuse)
            bars.waiting(1)
            try:
                report = job.client.wait_for_report(
                    report,
                    timeout=job.timeout,
                    poll_interval=job.poll_interval,
                    max_poll_interval=MAX_POLL_INTERVAL,
                )
            finally:
                bars.waiting(-1)
            log.info("window %s: report %s ready, downloading", label, report.id)
            table = job.client.download_table(report, on_progress=bars.on_progress)
            break
        except RETRYABLE as exc:
            if attempt >= job.retries:
                raise
            log.warning(
                "window %s: %s; trying again (%d of %d)", label, exc, attempt + 1, job.retries
            )
            # A failed report is replaced; a file that did not parse comes from a new report;
            # a download that broke is tried again from the same report (a fresh URL).
            reuse = isinstance(exc, ReportFailedError | DownloadError)
    days = day_span(first, last)
    table = restrict(
        conform(table),
        start=pd.Timestamp(first),
        end=pd.Timestamp(last + dt.timedelta(days=1)),
        player_ids=job.player_ids,
        media_ids=job.media_ids,
    )
    if table.num_rows:
        table = table.sort_by("played_at")  # stable: same-second rows keep the report's order
    if job.cache is not None:
        try:
            job.cache.store_days(
                table, days, report=report, player_ids=job.player_ids, media_ids=job.media_ids
            )
        except OSError as exc:
            log.warning(
                "window %s: could not write the cache (%s); data returned anyway", label, exc
            )
    provisional = [d for d in days if not is_settled(d, report.created_at, job.settle, job.tz)]
    bars.window_done()
    log.info(
        "window %s: %d row(s) from report %s%s",
        label,
        table.num_rows,
        report.id,
        f", {len(provisional)} provisional day(s)" if provisional else "",
    )
    return _Fetched(first, last, report, table, provisional)


def _request(job: _Job, first: dt.date, last: dt.date, *, reuse: bool) -> Report:
    """The window's report: an existing one with the identical filter that is pending or
    ``success`` and newer than what the cache holds for these days (an older one would
    return the same rows), else a new one."""
    report = job.client.request_report(
        first,
        last,
        player_ids=job.player_ids,
        media_ids=job.media_ids,
        webhook=job.webhook,
        reuse=(lambda r: not _stale(r, first, last, job.known or {})) if reuse else False,
    )
    log.info("window %s..%s: report %s (%s)", first, last, report.id, report.status)
    return report


def _stale(
    report: Report, first: dt.date, last: dt.date, known: dict[dt.date, list[CachedDay]]
) -> bool:
    """True when the cache already holds these days from this report or a newer one."""
    for day, entries in known.items():
        if not first <= day <= last:
            continue
        for entry in entries:
            if entry.report_id == report.id:
                return True
            if report.created_at and entry.created_at and entry.created_at >= report.created_at:
                return True
    return False


def _combined(
    failures: list[tuple[tuple[dt.date, dt.date], BaseException]], total: int, *, cached: bool
) -> BaseException:
    """The first failure's exception, its message extended with every failed window."""
    first_exc = failures[0][1]
    listed = "; ".join(f"{a}..{b}: {exc}" for (a, b), exc in failures)
    others = "were cached" if cached else "finished"
    text = (
        f"{len(failures)} of {total} report window(s) failed ({listed}). The other windows "
        f"{others}; run the same call again to fetch only what is missing."
    )
    log.error("fetch_playlogs: %s", text)
    if isinstance(first_exc, FouryouseeError):
        first_exc.args = (text,)
        first_exc.failed_windows = [w for w, _ in failures]  # type: ignore[attr-defined]
    return first_exc


def _lineage(
    served: dict[dt.date, CachedDay], fetched: list[_Fetched], job: _Job
) -> dict[str, Any]:
    ids = {e.report_id for e in served.values() if e.report_id is not None}
    ids.update(f.report.id for f in fetched)
    fetched_days = sorted(d for f in fetched for d in day_span(f.first, f.last))
    return {
        "report_ids": sorted(ids),
        "cached_days": [d.isoformat() for d in sorted(served)],
        "fetched_days": [d.isoformat() for d in fetched_days],
        "provisional_days": sorted(d.isoformat() for f in fetched for d in f.provisional),
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "player_ids": list(job.player_ids),
        "media_ids": list(job.media_ids),
        "tz": job.tz,
    }


def _count(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return value


def _want_progress(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    return _in_notebook() or _stderr_is_tty()


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class _Progress:
    """tqdm bars (reports, bytes, rows), or nothing; safe to call from every window thread."""

    def __init__(self, windows: int, *, enabled: bool) -> None:
        self._lock = threading.Lock()
        self._waiting = 0
        self._bars: list[Any] = []
        if not enabled:
            return
        from tqdm.auto import tqdm

        self.reports = tqdm(total=windows, desc="reports", unit="report")
        self.bytes = tqdm(desc="download", unit="B", unit_scale=True, unit_divisor=1024)
        self.rows = tqdm(desc="rows", unit=" rows", unit_scale=True)
        self._bars = [self.reports, self.bytes, self.rows]

    def _call(self, fn: Callable[[], None]) -> None:
        if self._bars:
            with self._lock:
                fn()

    def waiting(self, delta: int) -> None:
        def update() -> None:
            self._waiting += delta
            self.reports.set_postfix(waiting=self._waiting, refresh=False)

        self._call(update)

    def on_progress(self, n_bytes: int, n_rows: int) -> None:
        def update() -> None:
            self.bytes.update(n_bytes)
            self.rows.update(n_rows)

        self._call(update)

    def window_done(self) -> None:
        self._call(lambda: self.reports.update(1))

    def close(self) -> None:
        for bar in self._bars:
            bar.close()
