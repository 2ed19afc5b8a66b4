"""The 4YouSee API client: request a report, wait for it, download and parse it.

::

    Client.request_report ─► POST reports            (never blindly repeated)
    Client.wait_for_report ─► GET reports/{id} ...   (capped backoff, deadline)
    Client.download_table ─► download.stream_table   (object store, no token)

Every call has a ``(connect, read)`` timeout. GETs are retried on connection
errors, timeouts, 429 and 502/503/504 with capped exponential backoff plus
jitter, honouring a sane ``Retry-After``; other 4xx are not retried. A POST
that failed ambiguously (timeout, reset, 5xx: the server may have created the
report) is followed by a look for a report with the identical filter created
moments ago before posting again.

The retry loop is written out here rather than delegated to urllib3's
``Retry``: its ``parse_retry_after`` raises on a garbage header instead of
falling back to backoff, it measures an HTTP-date against the local clock
(not the server's ``Date``), it sleeps with ``time.sleep`` (not injectable), it
logs retried URLs at WARNING, and a POST must not be retried by the transport
at all. The loop below is short and does exactly what the contract says.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import math
import random
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import requests

from fouryousee_data import _config, download
from fouryousee_data.errors import (
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ReportFailedError,
    ReportTimeoutError,
)
from fouryousee_data.report import FAILED, PENDING, SUCCESS, Report
from fouryousee_data.schema import normalize_ids, to_pandas
from fouryousee_data.timerange import MAX_WINDOW_DAYS, DateLike, resolve_range

__all__ = ["Client", "RetryPolicy", "parse_retry_after", "report_filter"]

log = logging.getLogger(__name__)

#: Statuses worth retrying a GET for: rate limit and transient gateway errors.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: A ``Retry-After`` above this many seconds is not believed: backoff instead.
ABSURD_RETRY_AFTER = 86_400.0
#: Upper bound on the pages followed for one listing.
MAX_PAGES = 10_000
#: A report with the identical filter created this long before an ambiguous
#: POST failed (server clock, with skew allowance) is taken as the one we created.
RECENT_REPORT_SLACK = 120.0
_USER_AGENT = "fouryousee_data/0.1"
#: Failures worth retrying: nothing (or not all) came back.
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long the client retries.

    Parameters
    ----------
    attempts
        Tries of one API request (the first included).
    backoff
        First backoff delay in seconds; it doubles per retry (with jitter).
    backoff_max
        Cap of a backoff delay.
    retry_after_max
        Cap of a delay taken from a ``Retry-After`` header.
    download_attempts
        Downloads of a report file from scratch (reset, short body, bad gzip).
    url_refreshes
        Fresh URLs fetched through ``get_report`` after an expired-URL 403.

    Examples
    --------
    >>> p = RetryPolicy(backoff=1.0, backoff_max=4.0)
    >>> [0.5 <= p.delay(0) <= 1.0, 2.0 <= p.delay(5) <= 4.0, p.delay(0, retry_after=3.0)]
    [True, True, 3.0]
    """

    attempts: int = 5
    backoff: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    download_attempts: int = 3
    url_refreshes: int = 2

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.download_attempts < 1 or self.url_refreshes < 0:
            raise ValueError("retry: attempts and download_attempts must be >= 1")
        if min(self.backoff, self.backoff_max, self.retry_after_max) < 0:
            raise ValueError("retry: delays must be >= 0")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based).

        A valid ``retry_after`` wins (capped at ``retry_after_max``); otherwise
        capped exponential backoff with "equal jitter" (between half and all of it).
        """
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        ceiling = min(self.backoff_max, self.backoff * 2.0 ** min(retry, 62))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, or ``None`` if it cannot be trusted.

    Accepts delay-seconds (``"120"``, leniently ``"1.5"``) and an HTTP date,
    measured against ``now`` (the response's ``Date``; default the local clock).
    A date in the past is 0. Garbage, negative numbers and values above a day
    give ``None`` (the caller falls back to backoff).

    Examples
    --------
    >>> parse_retry_after("7")
    7.0
    >>> now = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)
    >>> parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now=now)
    30.0
    >>> parse_retry_after("soon") is None, parse_retry_after("-5") is None
    (True, True)
    >>> parse_retry_after("9999999") is None
    True
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        when = _http_date(text)
        if when is None:
            return None
        seconds = max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
    if not math.isfinite(seconds) or seconds < 0 or seconds > ABSURD_RETRY_AFTER:
        return None
    return seconds


def report_filter(
    start: DateLike,
    end: DateLike,
    *,
    player_ids: Iterable[int] | None = (),
    media_ids: Iterable[int] | None = (),
    sort: int = -1,
    tz: str | None = None,
) -> dict[str, Any]:
    """The canonical API filter of a report over ``start``..``end``.

    Whole days map to ``00:00:00``..``23:59:59``; instants map to ``start`` and,
    the API's end being inclusive, ``end - 1 s``. Ids are sorted, deduplicated
    ints (empty = all). ``tz`` is needed only for tz-aware instants (converted
    to the account's local time).

    Raises
    ------
    ValueError
        End before start, an empty interval, a window over 30 days, bad ids or sort.

    Examples
    --------
    >>> report_filter("2024-03-01", "2024-03-30", player_ids=[3, 1, 3])
    {'startDate': '2024-03-01', 'startTime': '00:00:00', 'endDate': '2024-03-30', \
'endTime': '23:59:59', 'mediaId': [], 'playerId': [1, 3], 'sort': -1}
    >>> report_filter("2024-03-01", "2024-03-31")
    Traceback (most recent call last):
    ...
    ValueError: end: the window 2024-03-01..2024-03-31 spans 31 days; one report covers at most 30
    """
    if sort not in (-1, 1) or isinstance(sort, bool):
        raise ValueError(f"sort must be -1 (newest first) or 1, got {sort!r}")
    span = resolve_range(start, end, tz=tz)
    if span.end <= span.start:
        raise ValueError(f"end ({end}) must be after start ({start})")
    bounds = span.api_filter_bounds()
    first, last = span.first_day, span.last_day  # the dates of startDate and endDate
    days = (last - first).days + 1
    if days > MAX_WINDOW_DAYS:
        raise ValueError(
            f"end: the window {first}..{last} spans {days} days; "
            f"one report covers at most {MAX_WINDOW_DAYS}"
        )
    return {
        **bounds,
        "mediaId": list(normalize_ids(media_ids, "media_ids")),
        "playerId": list(normalize_ids(player_ids, "player_ids")),
        "sort": sort,
    }


def normalize_filter(obj: Any) -> dict[str, Any]:
    """An API filter (as sent or as echoed by the API) in canonical form, for comparison.

    Examples
    --------
    >>> normalize_filter({"startDate": "2024-01-01", "playerId": ["2", 1, 2]})["playerId"]
    [1, 2]
    """
    if not isinstance(obj, dict):
        return {}
    out: dict[str, Any] = {k: obj.get(k) for k in ("startDate", "startTime", "endDate", "endTime")}
    for key in ("mediaId", "playerId"):
        try:
            out[key] = sorted({int(i) for i in (obj.get(key) or [])})
        except (TypeError, ValueError):
            out[key] = obj.get(key)
    try:
        out["sort"] = int(obj.get("sort", -1))
    except (TypeError, ValueError):
        out["sort"] = obj.get("sort")
    return out


class _Secret:
    """Holds the token so that no repr/str of the client's state shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


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
        A :class:`RetryPolicy` (attempts, backoff, Retry-After cap, download retries).

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
    ) -> None:
        self._token = _Secret(_config.resolve_token(token))
        self.base_url: str = _config.resolve_base_url(base_url)
        self.fingerprint: str = _config.account_fingerprint(self.base_url, self._token.value)
        self.timeout: tuple[float, float] = _timeouts(timeout)
        self.retry: RetryPolicy = retry or RetryPolicy()
        self._session = session or requests.Session()
        self._store = requests.Session()  # the object store: never the token
        self._store.max_redirects = 5
        owned = (self._store,) if session is not None else (self._store, self._session)
        self._finalizer = weakref.finalize(self, _close_all, owned)
        # Injectable for unit speed; integration tests use the real ones.
        self._sleep: Callable[[float], None] = time.sleep
        self._clock: Callable[[], float] = time.monotonic
        self._server_offset = 0.0  # server clock - local clock, from ``Date`` headers
        download.install_log_redaction()

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
    ) -> Report:
        """Ask the API for a detailed playlog report over ``start``..``end``.

        ``start``/``end`` follow :func:`fouryousee_data.fetch_playlogs` (see
        :func:`report_filter`); one window of at most 30 days. With
        ``reuse=True`` an existing report with the identical filter that is
        pending or ``success`` is returned instead of posting a new one; ``reuse``
        may also be a function that says which of those reports will do.

        After an ambiguous failure (timeout, reset, 5xx) the POST is repeated
        only if no report with the identical filter was created moments ago.

        Examples
        --------
        >>> report = client.request_report("2024-03-01", "2024-03-30")  # doctest: +SKIP
        >>> report.status  # doctest: +SKIP
        'waiting'
        """
        filt = report_filter(
            start, end, player_ids=player_ids, media_ids=media_ids, sort=sort, tz=tz
        )
        if reuse:
            found = self.find_reports(filt, statuses=(*PENDING, SUCCESS))
            usable = [r for r in found if reuse is True or reuse(r)]
            if usable:
                log.info("reusing report %s (identical filter)", usable[0].id)
                return usable[0]
        body: dict[str, Any] = {"type": "detailed", "filter": filt}
        if webhook is not None:
            if not isinstance(webhook, str) or not webhook.startswith(("http://", "https://")):
                raise ValueError(f"webhook must be an http(s) URL, got {webhook!r}")
            body["webhook"] = webhook
        return self._create_report(body)

    def get_report(self, report_id: int | Report) -> Report:
        """The report with this id, as the API has it now (a fresh ``url``).

        Examples
        --------
        >>> client.get_report(42).status  # doctest: +SKIP
        'success'
        """
        rid = _report_id(report_id)
        return _report(self._get_json(f"reports/{rid}"))

    def list_reports(self) -> list[Report]:
        """All reports on the account (every page), in the API's order.

        Examples
        --------
        >>> [r.id for r in client.list_reports()]  # doctest: +SKIP
        [3, 2, 1]
        """
        return [_report(obj) for obj in self._get_all("reports")]

    def find_reports(
        self, filter: dict[str, Any], *, statuses: Iterable[str] | None = None
    ) -> list[Report]:
        """Reports whose (normalised) filter equals ``filter``, newest first.

        ``statuses`` keeps only those statuses (``None`` = all).

        Examples
        --------
        >>> f = report_filter("2024-03-01", "2024-03-02")
        >>> client.find_reports(f, statuses=["success"])  # doctest: +SKIP
        [Report(id=7, status='success', ...)]
        """
        wanted = normalize_filter(filter)
        keep = None if statuses is None else set(statuses)
        found = [
            r
            for r in self.list_reports()
            if normalize_filter(r.filter) == wanted and (keep is None or r.status in keep)
        ]
        return sorted(found, key=_newest_first)

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
        self,
        report: Report | int,
        *,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> pa.Table:
        """Stream, decompress and parse a ``success`` report into an Arrow table.

        The file is fetched from the object store without the token, and parsed
        while it arrives. ``on_progress(n_bytes, n_rows)`` gets increments
        (negative ones undo a discarded attempt).

        Examples
        --------
        >>> client.download_table(report).num_rows  # doctest: +SKIP
        1234
        """
        current = self._ready(report)
        return download.stream_table(
            current,
            session=self._store,
            refresh=self.get_report,
            timeout=self.timeout,
            attempts=self.retry.download_attempts,
            refreshes=self.retry.url_refreshes,
            delay=self.retry.delay,
            sleep=self._sleep,
            on_progress=on_progress,
        )

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
        return _players_frame(self._get_all("players"))

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
        return _medias_frame(self._get_all("medias"))

    # -- HTTP ------------------------------------------------------------------

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

    def _send(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> requests.Response:
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                params=params,
                json=json,
                headers={
                    "Secret-Token": self._token.value,
                    "Accept": "application/json",
                    "User-Agent": _USER_AGENT,
                },
                timeout=self.timeout,
                allow_redirects=False,  # the token must never follow a redirect elsewhere
            )
        except _TRANSIENT:
            raise  # retried (or translated) by the caller
        except requests.RequestException as exc:  # a bad URL, a bad proxy...: not retried
            raise APIError(f"{method} {path}: {type(exc).__name__}") from (
                download.scrub_exception(exc)
            )
        self._note_server_time(response)
        log.debug("%s %s -> %s", method, path, response.status_code)
        return response

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET with retries (connection errors, timeouts, 429, 502/503/504)."""
        attempts = self.retry.attempts
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            try:
                response = self._send("GET", path, params=params)
            except _TRANSIENT as exc:
                if attempt == attempts:
                    raise _unreachable(self.base_url, f"GET {path}", attempts, exc) from (
                        download.scrub_exception(exc)
                    )
                why = download.describe_failure(exc, broken="connection failed")
            else:
                if response.status_code not in RETRY_STATUSES or attempt == attempts:
                    return self._json_or_raise(response, f"GET {path}")
                retry_after = _retry_after(response)
                why = f"HTTP {response.status_code}"
            wait = self.retry.delay(attempt - 1, retry_after)
            log.warning("GET %s: %s; retry %d/%d in %.2f s", path, why, attempt, attempts - 1, wait)
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_all(self, resource: str) -> list[Any]:
        """Every result of a paginated listing (bodies without ``totalPages`` are one page)."""
        return list(self._iter_pages(resource))

    def _iter_pages(self, resource: str) -> Iterator[Any]:
        page, total = 1, 1
        while page <= min(total, MAX_PAGES):
            body = self._get_json(resource, params={"page": page})
            if isinstance(body, list):
                yield from body
                return
            if not isinstance(body, dict):
                raise APIError(f"GET {resource}: expected a JSON object, got {type(body).__name__}")
            if "results" not in body:
                yield body  # a single object
                return
            results = body.get("results") or []
            if not isinstance(results, list):
                raise APIError(f"GET {resource}: 'results' is not a list")
            yield from results
            pages = body.get("totalPages")
            if not isinstance(pages, int) or isinstance(pages, bool):
                return  # a plain {"results": [...]}: one page
            total = pages
            page += 1

    def _create_report(self, body: dict[str, Any]) -> Report:
        """POST reports; after an ambiguous failure, look before posting again."""
        attempts = self.retry.attempts
        started = self._clock()
        failure: _Failure | None = None
        for attempt in range(1, attempts + 1):
            if failure is not None and failure.ambiguous:
                found = self._recent_report(body["filter"], started, failure.why)
                if found is not None:
                    return found
            try:
                response = self._send("POST", "reports", json=body)
            except _TRANSIENT as exc:
                failure = _Failure(
                    download.describe_failure(exc, broken="connection failed"),
                    ambiguous=not _surely_not_sent(exc),
                    exc=exc,
                )
            else:
                status = response.status_code
                if status not in RETRY_STATUSES and status < 500:
                    return _report(self._json_or_raise(response, "POST reports"))
                failure = _Failure(f"HTTP {status}", ambiguous=status != 429, response=response)
                if status not in RETRY_STATUSES:
                    break  # a 500 is not retried, but the report may exist: look below
            if attempt < attempts:
                wait = self.retry.delay(attempt - 1, failure.retry_after)
                log.warning(
                    "POST reports: %s; retry %d/%d in %.2f s",
                    failure.why,
                    attempt,
                    attempts - 1,
                    wait,
                )
                self._sleep(wait)
        assert failure is not None
        if failure.ambiguous:
            found = self._recent_report(body["filter"], started, failure.why)
            if found is not None:
                return found
        if failure.response is not None:
            return self._json_or_raise(failure.response, "POST reports")  # raises
        assert failure.exc is not None
        raise _unreachable(self.base_url, "POST reports", attempts, failure.exc) from (
            download.scrub_exception(failure.exc)
        )

    def _recent_report(self, filt: dict[str, Any], started: float, why: str) -> Report | None:
        """The newest non-failed report with this filter created since ``started`` (or a bit
        before, on the server's clock): the one an ambiguously failed POST created."""
        candidates = self.find_reports(filt)  # refreshes the server clock estimate
        server_now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self._server_offset)
        elapsed = self._clock() - started
        since = server_now - dt.timedelta(seconds=elapsed + RECENT_REPORT_SLACK)
        for report in candidates:
            if report.failed:
                continue
            recent = report.created_at is None and report.status in PENDING
            if recent or (report.created_at is not None and report.created_at >= since):
                log.info("POST reports failed (%s) but created report %s", why, report.id)
                return report
        return None

    def _note_server_time(self, response: requests.Response) -> None:
        date = _http_date(response.headers.get("Date"))
        if date is not None:
            self._server_offset = (date - dt.datetime.now(dt.UTC)).total_seconds()

    def _json_or_raise(self, response: requests.Response, what: str) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json()
            except ValueError as exc:
                raise APIError(f"{what}: the API answered invalid JSON", status) from exc
        message = _error_message(response, self._token.value)
        text = f"{what}: {message}"
        if status in (401, 403):
            raise AuthenticationError(
                f"{text} (check the token: token= or {_config.TOKEN_ENV})", status
            )
        if status == 404:
            raise NotFoundError(text, status)
        if status == 429:
            raise RateLimitError(
                f"{text} (rate limited; retry later)",
                status,
                retry_after=_retry_after(response),
            )
        if 300 <= status < 400:
            location = download.redact(response.headers.get("Location", "?"))
            raise APIError(
                f"{what}: the API redirected to {location}; set base_url to the final address "
                "(the token is not sent across redirects)",
                status,
            )
        raise APIError(text, status)


@dataclass
class _Failure:
    """Why the last POST attempt failed, and whether the server may have acted on it."""

    why: str
    ambiguous: bool
    exc: BaseException | None = None
    response: requests.Response | None = None

    @property
    def retry_after(self) -> float | None:
        return _retry_after(self.response)


def _retry_after(response: requests.Response | None) -> float | None:
    """The wait a 429 or 503 asks for (``Retry-After``), if it can be trusted."""
    if response is None or response.status_code not in (429, 503):
        return None
    headers = response.headers
    return parse_retry_after(headers.get("Retry-After"), now=_http_date(headers.get("Date")))


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


def _report(obj: Any) -> Report:
    try:
        return Report.from_api(obj)
    except ValueError as exc:
        raise APIError(f"the API answered a malformed report: {exc}") from exc


def _newest_first(report: Report) -> tuple[float, int]:
    stamp = report.created_at.timestamp() if report.created_at else float("-inf")
    return (-stamp, -report.id)


def _http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _error_message(response: requests.Response, token: str) -> str:
    """The server's ``{"message": ...}``, else a short redacted excerpt of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = body["message"]
    else:
        message = (response.text or "").strip()[:200] or (response.reason or "error")
    return download.redact(message, secrets=(token,))


def _surely_not_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached the server (it was never connected)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    import urllib3

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _unreachable(base_url: str, what: str, attempts: int, exc: BaseException) -> APIError:
    why = download.describe_failure(exc, broken="connection failed")
    return APIError(
        f"{what}: the API at {download.redact(base_url)} did not answer after {attempts} "
        f"attempt(s): {why}"
    )


# -- names frames -----------------------------------------------------------------------------


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _players_frame(objs: list[Any]) -> pd.DataFrame:
    rows = [o for o in objs if isinstance(o, dict)]
    frame = pd.DataFrame(
        {
            "player_id": pd.array([_int(o.get("id")) for o in rows], dtype="Int64"),
            "name": _text([o.get("name") for o in rows]),
            "description": _text([o.get("description") for o in rows]),
            "platform": _text([o.get("platform") for o in rows]),
            "group_id": pd.array([_int(_get(o, "group", "id")) for o in rows], dtype="Int32"),
            "group_name": _text([_get(o, "group", "name") for o in rows]),
            "status": _text([_get(o, "playerStatus", "name") for o in rows]),
            "status_id": pd.array(
                [_int(_get(o, "playerStatus", "id")) for o in rows], dtype="Int32"
            ),
            "last_contact_min": pd.array(
                [_int(o.get("lastContactInMinutes")) for o in rows], dtype="Int64"
            ),
            "last_log_received": pd.to_datetime(
                pd.Series([o.get("lastLogReceived") for o in rows], dtype=object),
                errors="coerce",
                format="%Y-%m-%d %H:%M:%S",
            ).astype("datetime64[s]"),
        }
    )
    return _with_int32_id(frame, "player_id")


def _medias_frame(objs: list[Any]) -> pd.DataFrame:
    rows = [o for o in objs if isinstance(o, dict)]
    frame = pd.DataFrame(
        {
            "media_id": pd.array([_int(o.get("id")) for o in rows], dtype="Int64"),
            "name": _text([o.get("name") for o in rows]),
            "description": _text([o.get("description") for o in rows]),
            "file": _text([o.get("file") for o in rows]),
            "duration_s": pd.Series(
                [_float(o.get("durationInSeconds")) for o in rows], dtype="float64"
            ),
            "categories": pd.Series(
                [_category_names(o.get("categories")) for o in rows], dtype=object
            ),
        }
    )
    return _with_int32_id(frame, "media_id")


def _with_int32_id(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Drop objects without an integer id (they cannot be joined) and make the id int32."""
    frame = frame[frame[column].notna()].reset_index(drop=True)
    frame[column] = frame[column].astype("int32")
    return frame


def _text(values: list[Any]) -> pd.Series:
    return pd.Series([v if isinstance(v, str) else None for v in values], dtype="str")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _float(value: Any) -> float:
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _category_names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    names = (_get(c, "name") if isinstance(c, dict) else c for c in value)
    return [n for n in names if isinstance(n, str)]
