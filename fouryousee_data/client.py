"""The 4YouSee API client: request a report, wait for it, download it; players and medias.

::

    Client.request_report  ─► POST reports            (never blindly repeated)
    Client.wait_for_report ─► GET reports/{id} ...   (capped backoff, deadline)
    Client.download_table  ─► download.stream_table   (object store, no token)
    Client.players/medias  ─► GET players|medias      (every page) ─► catalog frames

Every call goes through a :class:`~fouryousee_data.transport.Transport` (a
``(connect, read)`` timeout; GETs retried on 429/5xx and connection errors,
honouring a sane ``Retry-After``; see its module for the retry budget). The
API's conventions (token header, errors, pages) are :class:`~fouryousee_data.api.API`'s.
A POST that failed ambiguously (timeout, reset, 5xx: the server may have created
the report) is followed by a look for a report with the identical filter
created moments ago before posting again (:mod:`fouryousee_data.posting`). Looks
at the report listing go newest first and stop as soon as the answer is known
(:mod:`fouryousee_data.lookup`); every request is paced per URI
(:mod:`fouryousee_data.pacing`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

import pandas as pd
import pyarrow as pa
import requests

from fouryousee_data import _config, filters
from fouryousee_data.api import API
from fouryousee_data.catalog import medias_frame, players_frame
from fouryousee_data.download import Sink, stream_into, stream_table
from fouryousee_data.errors import ReportFailedError, ReportTimeoutError
from fouryousee_data.filters import report_filter
from fouryousee_data.lookup import LISTING, PAGE, REUSE_WITHIN, before, newest_matches
from fouryousee_data.pacing import DEFAULT_MIN_INTERVAL, check_interval
from fouryousee_data.posting import ReportPoster, report_from_api
from fouryousee_data.redaction import Secret, install_log_redaction
from fouryousee_data.report import FAILED, PENDING, SUCCESS, Report
from fouryousee_data.schema import to_pandas
from fouryousee_data.timerange import DateLike
from fouryousee_data.transport import (
    RetryPolicy,
    Transport,
    parse_retry_after,
)

__all__ = ["Client", "RetryPolicy", "parse_retry_after", "report_filter"]

log = logging.getLogger(__name__)


class Client:
    """A 4YouSee Manager API client.

    Parameters
    ----------
    token
        The ``Secret-Token``; default ``FOURYOUSEE_TOKEN``. None at all is
        :class:`AuthenticationError` (its message says how to provide one).
    base_url
        The API root; default ``FOURYOUSEE_API_URL`` or ``https://api.4yousee.com.br/v1/``.
    timeout
        Seconds for connecting and for each read; a ``(connect, read)`` pair is accepted.
    session
        A ``requests.Session`` for API calls (the token is sent per request,
        the session is not modified). The object store always gets its own
        session, without the token.
    retry
        A :class:`~fouryousee_data.transport.RetryPolicy` (attempts, backoff,
        Retry-After cap, download retries).
    clock
        Monotonic seconds for deadlines (default ``time.monotonic``).
    sleep
        The sleep function for backoff, pacing and polling (default ``time.sleep``).
    min_interval
        Seconds between two requests for the same URI (method + URL with its
        query), default 1.0: the API allows one request per second per IP and
        URI and may block a token or IP for good past that. Every request is
        paced, polls and presigned downloads included, whatever ``poll_interval``
        says, and across every client of the process (:mod:`fouryousee_data.pacing`).
        Lower it only for a server you run yourself (the simulator's
        ``rate_limit_interval``).

    Examples
    --------
    >>> c = Client(token="s3cr3t", base_url="http://127.0.0.1:9/v1/")
    >>> "s3cr3t" in repr(c), c.base_url
    (False, 'http://127.0.0.1:9/v1/')
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | tuple[float, float] = 30.0,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        min_interval: float = DEFAULT_MIN_INTERVAL,
    ) -> None:
        secret = Secret(_config.resolve_token(token))
        self.base_url: str = _config.resolve_base_url(base_url)
        self.fingerprint: str = _config.account_fingerprint(self.base_url, secret.value)
        self.timeout: tuple[float, float] = _timeouts(timeout)
        self.retry: RetryPolicy = retry or RetryPolicy()
        api_session = session or requests.Session()
        store_session = requests.Session()  # the object store: never the token
        store_session.max_redirects = 5
        owned = (store_session,) if session is not None else (store_session, api_session)
        self._finalizer = weakref.finalize(self, _close_all, owned)
        self._clock: Callable[[], float] = clock or time.monotonic
        self._sleep: Callable[[float], None] = sleep or time.sleep
        self.min_interval: float = check_interval(min_interval)
        transport = partial(
            Transport,
            timeout=self.timeout,
            retry=self.retry,
            clock=self._clock,
            sleep=self._sleep,
            min_interval=self.min_interval,
        )
        # the token must never follow a redirect elsewhere; the store's presigned URLs may
        self._api = API(self.base_url, secret, transport(api_session, follow_redirects=False))
        self._poster = ReportPoster(self._api, self._listing, self._clock)
        self._store = transport(store_session, follow_redirects=True)
        install_log_redaction()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, fingerprint={self.fingerprint!r})"

    def close(self) -> None:
        """Close the HTTP sessions the client opened (a given ``session`` is left open).

        Also happens when the client is garbage-collected or used as a context manager.

        Examples
        --------
        >>> with Client(token="t", base_url="http://127.0.0.1:9/v1/") as c:
        ...     pass
        """
        self._finalizer()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reports ---------------------------------------------------------------

    def request_report(
        self,
        start: DateLike,
        end: DateLike,
        *,
        player_ids: Iterable[int] | None = (),
        media_ids: Iterable[int] | None = (),
        sort: int = -1,
        webhook: str | None = None,
        reuse: bool | Callable[[Report], bool] = False,
        tz: str | None = None,
        dayfirst: bool = False,
    ) -> Report:
        """Ask the API for a detailed playlog report over ``start``..``end``.

        ``start``/``end`` follow :func:`fouryousee_data.fetch_playlogs` (see
        :func:`report_filter`; ``dayfirst=True`` reads ``dd/mm/yyyy``); one window of
        at most 30 days. With ``reuse=True`` an existing report with the identical
        filter that is pending or ``success`` (created within a day) is returned instead
        of posting a new one (:meth:`reusable_reports`); ``reuse`` may also be a function
        that says which of those reports will do.

        After an ambiguous failure (timeout, reset, 5xx) the POST is repeated
        only if no report with the identical filter was created moments ago.

        Examples
        --------
        >>> report = client.request_report("2024-03-01", "2024-03-30")  # doctest: +SKIP
        >>> report.status  # doctest: +SKIP
        'waiting'
        """
        ids = {"player_ids": player_ids, "media_ids": media_ids}
        filt = report_filter(start, end, **ids, sort=sort, tz=tz, dayfirst=dayfirst)
        if reuse:
            check = None if reuse is True else reuse
            [found] = self.reusable_reports([filt], accept=check and (lambda _, r: check(r)))
            if found is not None:
                log.info("reusing report %s (identical filter)", found.id)
                return found
        body: dict[str, Any] = {"type": "detailed", "filter": filt}
        if webhook is not None:
            if not isinstance(webhook, str) or not webhook.startswith(("http://", "https://")):
                raise ValueError(f"webhook must be an http(s) URL, got {webhook!r}")
            body["webhook"] = webhook
        return self._poster.create(body)

    def get_report(self, report_id: int | Report) -> Report:
        """The report with this id, as the API has it now (a fresh ``url``).

        Examples
        --------
        >>> client.get_report(42).status  # doctest: +SKIP
        'success'
        """
        rid = _report_id(report_id)
        return report_from_api(self._api.get_json(f"reports/{rid}"))

    def list_reports(self) -> list[Report]:
        """All reports on the account (every page, 100 a page), newest first.

        Examples
        --------
        >>> [r.id for r in client.list_reports()]  # doctest: +SKIP
        [3, 2, 1]
        """
        return list(self._listing())

    def find_reports(
        self,
        filter: dict[str, Any],
        *,
        statuses: Iterable[str] | None = None,
        since: dt.datetime | None = None,
    ) -> list[Report]:
        """Reports whose (normalised) filter equals ``filter``, newest first.

        ``statuses`` keeps only those statuses (``None`` = all); with ``since`` (aware)
        the listing is read only back to the first report created before it.

        Examples
        --------
        >>> f = report_filter("2024-03-01", "2024-03-02")
        >>> client.find_reports(f, statuses=["success"])  # doctest: +SKIP
        [Report(id=7, status='success', ...)]
        """
        wanted = filters.normalize(filter)
        keep = None if statuses is None else set(statuses)
        found = []
        for r in self._listing():
            if before(r, since):
                break
            if filters.normalize(r.filter) == wanted and (keep is None or r.status in keep):
                found.append(r)
        return sorted(found, key=_newest_first)

    def reusable_reports(
        self,
        wanted: list[dict[str, Any]],
        *,
        accept: Callable[[int, Report], bool] | None = None,
    ) -> list[Report | None]:
        """For each filter, the newest pending or ``success`` report with that filter created
        within :data:`~fouryousee_data.lookup.REUSE_WITHIN` (a day, server clock) that
        ``accept(index, report)`` takes (``index``: the filter's); ``None`` where none does.

        One look for all the filters, newest first, stopping as soon as every filter has its
        report or the listing goes back past a day (:mod:`fouryousee_data.lookup`).

        Examples
        --------
        >>> client.reusable_reports([report_filter("2024-03-01", "2024-03-30")])  # doctest: +SKIP
        [Report(id=7, status='waiting', ...)]
        """

        def usable(i: int, r: Report) -> bool:
            return r.status in (*PENDING, SUCCESS) and (accept is None or accept(i, r))

        def since() -> dt.datetime:
            return self._api.transport.server_now() - REUSE_WITHIN

        return newest_matches(self._listing(), wanted, accept=usable, since=since)

    def _listing(self) -> Iterator[Report]:
        """The report listing, newest first, a page at a time (as far as it is read)."""
        return (report_from_api(obj) for obj in self._api.pages("reports", LISTING))

    def wait_for_report(
        self,
        report: Report | int,
        *,
        timeout: float = 3600.0,
        poll_interval: float = 2.0,
        max_poll_interval: float = 60.0,
    ) -> Report:
        """Poll until the report is ``success`` and return it.

        The interval grows 1.5x per poll from ``poll_interval`` up to
        ``max_poll_interval``; unknown non-terminal statuses keep waiting.

        Raises
        ------
        ReportFailedError
            The report ended ``failed`` (``.report.error`` says why).
        ReportTimeoutError
            Not ready ``timeout`` seconds after the call.

        Examples
        --------
        >>> client.wait_for_report(report, timeout=600).status  # doctest: +SKIP
        'success'
        """
        if not timeout >= 0:
            raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")
        if not poll_interval > 0:
            raise ValueError(f"poll_interval must be > 0 seconds, got {poll_interval!r}")
        if not max_poll_interval >= poll_interval:
            raise ValueError("max_poll_interval must be >= poll_interval")
        rid = _report_id(report)
        deadline = self._clock() + timeout
        interval = poll_interval
        # Bound: the deadline; the counter only guards against a clock that stands still.
        for _ in range(int(timeout / poll_interval) + 2):
            current = self.get_report(rid)
            if current.status == SUCCESS:
                return current
            if current.status == FAILED:
                raise ReportFailedError(current)
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            log.debug("report %s is %s; next poll in %.1f s", rid, current.status, interval)
            self._sleep(min(interval, remaining))
            interval = min(interval * 1.5, max_poll_interval)
        raise ReportTimeoutError(
            rid, f"report {rid} was not ready after {timeout:g} s (wait_for_report timeout=)"
        )

    def download_table(
        self, report: Report | int, *, on_progress: Callable[[int, int], None] | None = None
    ) -> pa.Table:
        """Stream, decompress and parse a ``success`` report into an Arrow table.

        The file is fetched from the object store without the token, and parsed
        while it arrives. ``on_progress(n_bytes, n_rows)`` gets increments
        (negative ones undo a discarded attempt). :meth:`download_into` hands each
        block's rows to a sink instead (:func:`~fouryousee_data.download.stream_into`).

        Examples
        --------
        >>> client.download_table(report).num_rows  # doctest: +SKIP
        1234
        """
        where: dict[str, Any] = {"transport": self._store, "refresh": self.get_report}
        return stream_table(self._ready(report), on_progress=on_progress, **where)

    def download_into(self, report: Report | int, new_sink: Callable[[], Sink], **kw: Any) -> Sink:
        """:meth:`download_table`, block by block into a fresh ``new_sink()`` per stream."""
        return stream_into(self._ready(report), new_sink, transport=self._store, refresh=self.get_report, **kw)  # noqa: E501  # fmt: skip

    def download_playlogs(self, report: Report | int, *, tz: str | None = None) -> pd.DataFrame:
        """The report's playlogs as the typed DataFrame of SPEC section 3.

        Examples
        --------
        >>> client.download_playlogs(report).dtypes["player_id"]  # doctest: +SKIP
        dtype('int32')
        """
        return to_pandas(self.download_table(report), tz)

    # -- names -----------------------------------------------------------------

    def players(self) -> pd.DataFrame:
        """All players, one row each (every page).

        Columns: ``player_id`` (int32), ``name``, ``description``, ``platform``,
        ``group_id`` (Int32), ``group_name``, ``status``, ``status_id`` (Int32),
        ``last_contact_min`` (Int64), ``last_log_received`` (datetime, naive
        account-local time, NaT when never).

        Examples
        --------
        >>> client.players()[["player_id", "name"]].head(1)  # doctest: +SKIP
           player_id      name
        0          1  Lobby TV
        """
        return players_frame(list(self._api.pages("players", PAGE)))

    def medias(self) -> pd.DataFrame:
        """All medias, one row each (every page).

        Columns: ``media_id`` (int32), ``name``, ``description``, ``file``,
        ``duration_s`` (float64), ``categories`` (a list of category names per
        row; ``", ".join`` it for a flat text column).

        Examples
        --------
        >>> client.medias()[["media_id", "duration_s"]].head(1)  # doctest: +SKIP
           media_id  duration_s
        0         1        15.0
        """
        return medias_frame(list(self._api.pages("medias", PAGE)))

    # -- inside: the report to download, the POST never blindly repeated ------

    def _ready(self, report: Report | int) -> Report:
        """A ``success`` report to download (refreshed when given an id or a stale object)."""
        if isinstance(report, Report) and report.succeeded:
            return report
        current = self.get_report(_report_id(report))
        if current.failed:
            raise ReportFailedError(current)
        if not current.succeeded:
            raise ValueError(
                f"report: report {current.id} is {current.status!r}, not ready; "
                "call wait_for_report first"
            )
        return current


def _close_all(sessions: tuple[requests.Session, ...]) -> None:
    for session in sessions:
        session.close()


def _timeouts(timeout: float | tuple[float, float]) -> tuple[float, float]:
    pair = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if len(pair) != 2 or not all(isinstance(t, int | float) and t > 0 for t in pair):
        raise ValueError(f"timeout must be > 0 seconds or a (connect, read) pair, got {timeout!r}")
    return (float(pair[0]), float(pair[1]))


def _report_id(report: Report | int) -> int:
    if isinstance(report, Report):
        return report.id
    if isinstance(report, bool) or not isinstance(report, int | str):
        raise ValueError(f"report must be a Report or an integer id, got {report!r}")
    try:
        return int(report)
    except ValueError as exc:
        raise ValueError(f"report must be a Report or an integer id, got {report!r}") from exc


def _newest_first(report: Report) -> tuple[float, int]:
    stamp = report.created_at.timestamp() if report.created_at else float("-inf")
    return (-stamp, -report.id)
