"""One HTTP transport and one retry policy, shared by API calls and downloads.

:class:`Transport` sends a request with a ``(connect, read)`` timeout and
retries a GET that failed transiently; :class:`RetryPolicy` says how often and
how long. Both the API (:mod:`fouryousee_data.api`) and the object store
(:mod:`fouryousee_data.download`) go through it, so there is one set of each:

* retryable statuses, :data:`RETRY_STATUSES`: 429 and the transient 5xx
  (500, 502, 503, 504; a GET is safe to repeat);
* transient errors, :data:`TRANSIENT_ERRORS`: refused/reset connections,
  timeouts, a body cut short;
* ``Retry-After``, read by :func:`parse_retry_after` (seconds or an HTTP date
  measured against the response's ``Date``), trusted up to a day, capped at
  ``retry_after_max``; otherwise capped exponential backoff with jitter.

The retry loop is written out here rather than delegated to urllib3's ``Retry``:
its ``parse_retry_after`` raises on a garbage header instead of falling back to
backoff, it measures an HTTP-date against the local clock (not the server's
``Date``), it sleeps with ``time.sleep`` (not injectable), it logs retried URLs
at WARNING, and a POST must not be retried by the transport at all.

Retry budget: each kind of failure is retried at exactly one layer, so
retries never multiply. With ``A = attempts``, ``D = download_attempts`` and
``R = url_refreshes`` of the :class:`RetryPolicy`:

* HTTP 429/5xx, a refused or reset connection, a timeout before the response:
  by :class:`Transport`, at most ``A`` tries of a request (for a download,
  ``A`` tries over all its streams together);
* an ambiguous failure of ``POST reports`` (the server may have created the
  report): by ``Client.request_report``, at most ``A`` POSTs, each retry only
  after looking for a report it may have created;
* a broken, short or corrupt body (reset mid-stream, truncated gzip, bad CRC):
  by ``download.stream_table``, at most ``D`` streams;
* an expired presigned URL (403): by ``download.stream_table``, at most ``R``
  refreshes through ``get_report``;
* a report that ended ``failed``: by ``fetch_playlogs``, at most ``retries``
  re-requests.

``fetch_playlogs`` retries only :class:`~fouryousee_data.errors.ReportFailedError`;
a ``DownloadError`` or ``CorruptReportError`` has already been retried here.

Worst case in HTTP requests (every try failing until its budget is spent):

* one API GET (``get_report``, a page of a listing, a poll): ``A``;
* ``download_table`` of a ``success`` report: ``A + D + R - 1`` requests to
  the object store (each may follow up to 5 redirects) plus ``R * A`` to the
  API for fresh URLs (``+ A`` when given an id or a not-yet-``success`` report);
* ``request_report``: ``A`` POSTs plus, after each ambiguous failure, one look
  at the report listing (``pages * A`` GETs, ``pages`` counting only the pages of
  100 reports read back to shortly before the POST); with ``reuse``, one such look
  back a day first;
* ``fetch_playlogs``: one look at the listing per call (not per window), then per window
  as below.
* a ``fetch_playlogs`` window: ``retries + 1`` reports, each one
  ``request_report`` + polls + one ``download_table``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import http.client
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import urllib3

from fouryousee_data.errors import CorruptReportError
from fouryousee_data.pacing import (
    DEFAULT_MIN_INTERVAL,
    Pacer,
    check_interval,
    shared_pacer,
    uri_key,
)
from fouryousee_data.redaction import redact

__all__ = [
    "RETRY_STATUSES",
    "TRANSIENT_ERRORS",
    "Budget",
    "RetryPolicy",
    "Transport",
    "describe_failure",
    "parse_retry_after",
    "response_retry_after",
]

log = logging.getLogger(__name__)

#: Statuses worth retrying a GET for: rate limit and transient server errors.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

#: Failures worth a retry: nothing (or not all) came back. requests raises the
#: first three while connecting or reading headers; urllib3 and http.client raise
#: the others from ``response.raw.read`` while a streamed body arrives.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)

#: A ``Retry-After`` above this many seconds is not believed: backoff instead.
ABSURD_RETRY_AFTER = 86_400.0


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long requests are retried (see the module's retry budget).

    Parameters
    ----------
    attempts
        Tries of one request (the first included): API calls, and the
        object-store requests of one download together.
    backoff
        First backoff delay in seconds; it doubles per retry (with jitter).
    backoff_max
        Cap of a backoff delay.
    retry_after_max
        Cap of a delay taken from a ``Retry-After`` header.
    download_attempts
        Streams of a report file from scratch (reset, short body, bad gzip).
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
            raise ValueError(
                "retry: attempts and download_attempts must be >= 1, url_refreshes >= 0"
            )
        if min(self.backoff, self.backoff_max, self.retry_after_max) < 0:
            raise ValueError("retry: delays must be >= 0")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based).

        A valid ``retry_after`` wins (capped at ``retry_after_max``); otherwise
        capped exponential backoff with "equal jitter" (between half and all of it).

        Examples
        --------
        >>> RetryPolicy(retry_after_max=5.0).delay(3, retry_after=60.0)
        5.0
        """
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        ceiling = min(self.backoff_max, self.backoff * 2.0 ** min(retry, 62))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class Budget:
    """How many times one kind of failure may still be retried within one operation.

    Examples
    --------
    >>> b = Budget(retries=1)
    >>> b.retry(), b.retry(), b.failures
    (True, False, 2)
    """

    def __init__(self, retries: int) -> None:
        self.retries = retries
        self.failures = 0

    def retry(self) -> bool:
        """Count one failure; ``True`` if it may be retried, ``False`` once the budget is spent."""
        self.failures += 1
        return self.failures <= self.retries


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


def response_retry_after(response: requests.Response | None) -> float | None:
    """The wait a 429 or 503 asks for (its ``Retry-After``), if it can be trusted.

    Examples
    --------
    >>> r = requests.Response()
    >>> r.status_code, r.headers["Retry-After"] = 429, "3"
    >>> response_retry_after(r)
    3.0
    """
    if response is None or response.status_code not in (429, 503):
        return None
    headers = response.headers
    return parse_retry_after(headers.get("Retry-After"), now=_http_date(headers.get("Date")))


def describe_failure(exc: BaseException, *, broken: str = "connection broken") -> str:
    """A short, redacted description of a failed try, for messages and logs.

    A corrupt file gives its own (redacted) message; a timeout
    ``"timed out (Type)"``; any other transport error ``"<broken> (Type)"``.

    Examples
    --------
    >>> describe_failure(requests.ReadTimeout("read timed out"))
    'timed out (ReadTimeout)'
    >>> describe_failure(requests.ConnectionError("reset"), broken="connection failed")
    'connection failed (ConnectionError)'
    """
    if isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, CorruptReportError):
        return redact(str(exc))
    return f"{broken} ({type(exc).__name__})"


class Transport:
    """Sends requests over one session with a timeout; retries GETs per a :class:`RetryPolicy`.

    Parameters
    ----------
    session
        The ``requests.Session`` to send with (not modified).
    timeout
        ``(connect, read)`` seconds; the read timeout applies to each socket read.
    retry
        The :class:`RetryPolicy` (default ``RetryPolicy()``).
    follow_redirects
        Whether to follow redirects (``False`` for the API: the token must not
        follow a redirect elsewhere).
    clock
        Monotonic seconds (default ``time.monotonic``).
    sleep
        The sleep function (default ``time.sleep``); tests pass a fake one.
    min_interval
        Seconds between two requests for the same URI (method + URL with its
        query), measured from the first one's answer (default 1.0, the API's
        documented limit; see :mod:`fouryousee_data.pacing`). Also the least
        wait after a 429 without ``Retry-After`` (doubling per retry).
    pacer
        The :class:`~fouryousee_data.pacing.Pacer` (default: the process-wide one
        of ``clock``, shared with every other transport on that clock).

    Examples
    --------
    >>> t = Transport(requests.Session(), timeout=(5.0, 30.0), sleep=lambda s: None)
    >>> t.retry.attempts, t.timeout, t.min_interval
    (5, (5.0, 30.0), 1.0)
    """

    def __init__(
        self,
        session: requests.Session,
        *,
        timeout: tuple[float, float],
        retry: RetryPolicy | None = None,
        follow_redirects: bool = True,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        pacer: Pacer | None = None,
    ) -> None:
        self.session = session
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.follow_redirects = follow_redirects
        self.clock = clock or time.monotonic
        self.sleep = sleep or time.sleep
        self.min_interval = check_interval(min_interval)
        self.pacer = pacer or shared_pacer(self.clock)
        self.server_offset = 0.0  # server clock - local clock, from ``Date`` headers

    def send(self, method: str, url: str, **options: Any) -> requests.Response:
        """One try of a request, no retry; ``options`` go to ``session.request``.

        Paced: waits until ``min_interval`` has passed since the last answer to
        the same URI (in this process). Raises what ``requests`` raises (one of
        :data:`TRANSIENT_ERRORS`, or another ``RequestException`` for a bad URL,
        a bad proxy...).
        """
        key = uri_key(method, url, options.get("params"))
        with self.pacer.slot(key, self.min_interval, sleep=self.sleep):
            response = self.session.request(
                method,
                url,
                timeout=self.timeout,
                allow_redirects=self.follow_redirects,
                **options,
            )
        self._note_server_time(response)
        log.debug("%s %s -> %s", method, redact(url), response.status_code)
        return response

    def get(
        self, url: str, *, what: str, budget: Budget | None = None, **options: Any
    ) -> requests.Response:
        """GET, retried on :data:`RETRY_STATUSES` and :data:`TRANSIENT_ERRORS`.

        ``budget`` (default: ``attempts - 1`` retries for this request alone)
        may be shared by several requests of one operation. Returns the last
        response, which may still carry a retryable status once the budget is
        spent; raises the last transient error then. ``what`` names the request
        in log lines (it must hold no secret).
        """
        budget = budget or Budget(self.retry.attempts - 1)
        while True:  # bounded: every retry spends the budget
            try:
                response = self.send("GET", url, **options)
            except TRANSIENT_ERRORS as exc:
                if not budget.retry():
                    raise
                self.pause(what, describe_failure(exc, broken="connection failed"), budget)
                continue
            if response.status_code not in RETRY_STATUSES or not budget.retry():
                return response
            retry_after = response_retry_after(response)
            response.close()
            self.pause(what, f"HTTP {response.status_code}", budget, retry_after)

    def pause(
        self,
        what: str,
        why: str,
        budget: Budget,
        retry_after: float | None = None,
        *,
        rate_limited: bool | None = None,
    ) -> None:
        """Log a failure about to be retried and sleep the policy's delay for it.

        A 429 (``rate_limited``, default: ``why`` is ``"HTTP 429"``) without a
        ``Retry-After`` waits at least ``min_interval``, doubling per retry.
        """
        wait = self.retry.delay(budget.failures - 1, retry_after)
        if rate_limited is None:
            rate_limited = why == "HTTP 429"
        if rate_limited and retry_after is None:
            wait = max(wait, self.rate_limit_floor(budget.failures - 1))
        log.warning(
            "%s: %s; retry %d/%d in %.2f s", what, why, budget.failures, budget.retries, wait
        )
        self.sleep(wait)

    def rate_limit_floor(self, retry: int) -> float:
        """The least wait before retry ``retry`` (0-based) after a 429 without ``Retry-After``:
        ``min_interval`` doubling per retry, capped at ``max(backoff_max, min_interval)``.

        Examples
        --------
        >>> t = Transport(requests.Session(), timeout=(1.0, 1.0), min_interval=1.0)
        >>> [t.rate_limit_floor(n) for n in range(3)]
        [1.0, 2.0, 4.0]
        """
        cap = max(self.retry.backoff_max, self.min_interval)
        return min(cap, self.min_interval * 2.0 ** min(retry, 62))

    def server_now(self) -> dt.datetime:
        """The server's clock now, as estimated from the last ``Date`` header."""
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.server_offset)

    def _note_server_time(self, response: requests.Response) -> None:
        date = _http_date(response.headers.get("Date"))
        if date is not None:
            self.server_offset = (date - dt.datetime.now(dt.UTC)).total_seconds()


def _http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
