"""Stream a report file from the object store straight into the parser.

The file lives on another host behind a presigned URL. This module:

* fetches it with a session that never carries ``Secret-Token`` (also after a
  redirect: the session has no such header to forward);
* hands ``response.raw`` to :func:`fouryousee_data.parse.read_table`, whose
  reader thread overlaps the network with decompression and parsing;
* reads the raw bytes (``decode_content=False``): an object served with
  ``Content-Encoding: gzip`` is decompressed once, by the parser, which
  recognises gzip by its magic bytes;
* refreshes an expired URL (403) through the API, a bounded number of times;
* retries from scratch, a bounded number of times, after a reset connection,
  a short body or a bad gzip, then raises :class:`DownloadError` or
  :class:`CorruptReportError`;
* keeps presigned query strings (``X-Amz-Signature``, ``X-Amz-Credential``)
  out of exception messages and log records, urllib3's DEBUG lines included.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import requests
import urllib3

from fouryousee_data import parse
from fouryousee_data.errors import CorruptReportError, DownloadError
from fouryousee_data.report import Report
from fouryousee_data.schema import PLAYLOG_SCHEMA

__all__ = ["install_log_redaction", "redact", "scrub_exception", "stream_table"]

log = logging.getLogger(__name__)

#: A URL's query string (``?`` up to whitespace/quote), the part that holds signatures.
_QUERY = re.compile(r"\?[^\s'\"<>]*")
#: A signature parameter standing alone (``X-Amz-Signature=...``), also URL-encoded.
_AMZ_PARAM = re.compile(r"(?i)(x-amz-[a-z-]+)(=|%3d)[^&\s'\"<>]*")

#: Transport failures worth a retry from scratch: connection reset, short body,
#: read timeout. urllib3 raises ``ProtocolError``/``ReadTimeoutError`` from
#: ``response.raw.read``; requests raises ``RequestException`` while connecting.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)

#: Store statuses retried from scratch (throttled or a transient server error).
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove query strings, ``X-Amz-*`` parameters and the given secrets from ``text``.

    Examples
    --------
    >>> redact("GET https://s3.example/a/1.gz?X-Amz-Signature=abc&X-Amz-Expires=60 failed")
    'GET https://s3.example/a/1.gz?<redacted> failed'
    >>> redact("token s3cr3t", secrets=("s3cr3t",))
    'token <redacted>'
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    text = _QUERY.sub("?<redacted>", text)
    return _AMZ_PARAM.sub(r"\1=<redacted>", text)


def scrub_exception(exc: BaseException) -> BaseException:
    """Redact the messages of ``exc`` and of every exception chained to it, in place.

    Third-party exceptions (requests, urllib3) put the request URL in their
    message; a traceback prints the whole chain, so the whole chain is cleaned
    before it becomes the ``__cause__`` of one of our errors.

    Examples
    --------
    >>> e = ValueError("bad url /x.gz?X-Amz-Signature=abc")
    >>> str(scrub_exception(e))
    'bad url /x.gz?<redacted>'
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if not isinstance(current, OSError) or not current.strerror:
            with contextlib.suppress(AttributeError, TypeError):  # exotic exception types
                current.args = tuple(
                    a if isinstance(a, int | float) else redact(str(a)) for a in current.args
                )
        for attr in ("reason", "original_error"):
            inner = getattr(current, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)
        todo.extend([current.__cause__, current.__context__])
    return exc


class _RedactFilter(logging.Filter):
    """Rewrites a log record whose message carries a query string or signature."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix; let logging report it
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = _RedactFilter()

#: urllib3 logs request lines (path + query) at DEBUG and retried URLs at
#: WARNING; filters apply per logger (not inherited), hence the explicit list.
_REDACTED_LOGGERS = (
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
    "fouryousee_data.client",
    __name__,
)


def install_log_redaction() -> None:
    """Make urllib3/requests log records free of presigned query strings (idempotent).

    Called by :class:`fouryousee_data.Client`; adds a filter to those loggers
    only, no handler and no level change.

    Examples
    --------
    >>> install_log_redaction()
    >>> _FILTER in logging.getLogger("urllib3.connectionpool").filters
    True
    """
    names = set(_REDACTED_LOGGERS)
    names.update(n for n in logging.root.manager.loggerDict if n.startswith("urllib3."))
    for name in sorted(names):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def stream_table(
    report: Report,
    *,
    session: requests.Session,
    refresh: Callable[[int], Report],
    timeout: tuple[float, float],
    attempts: int = 3,
    refreshes: int = 2,
    delay: Callable[[int], float] = lambda retry: 0.0,
    sleep: Callable[[float], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    parse_options: dict[str, Any] | None = None,
) -> pa.Table:
    """Download and parse a ``success`` report's file into a table in ``PLAYLOG_SCHEMA``.

    Parameters
    ----------
    report
        A report with status ``success``; ``url=None`` means zero rows.
    session
        The object-store session. It must not carry ``Secret-Token``.
    refresh
        ``refresh(report_id) -> Report``: a fresh presigned URL (``Client.get_report``).
    timeout
        ``(connect, read)`` seconds; the read timeout applies to each socket read.
    attempts
        Downloads from scratch after a reset, short body, 5xx or bad gzip.
    refreshes
        URL refreshes after an expired-URL 403.
    delay
        ``delay(retry) -> seconds`` to wait before retry number ``retry`` (0-based).
    sleep
        The sleep function (``time.sleep`` by default).
    on_progress
        ``on_progress(n_bytes, n_rows)`` increments; when an attempt is thrown
        away it receives negative increments undoing that attempt.
    parse_options
        Extra keyword arguments for :func:`fouryousee_data.parse.read_table`.

    Returns
    -------
    pyarrow.Table

    Raises
    ------
    DownloadError
        Unreachable store, expired URL that could not be refreshed, retries exhausted.
    CorruptReportError
        The file stayed corrupt over every attempt.
    InvalidPlaylogError
        A line is not a valid playlog (not retried: the gzip CRC vouches for the bytes).

    Examples
    --------
    >>> empty = Report.from_api({"id": 1, "status": "success", "url": None})
    >>> stream_table(empty, session=None, refresh=None, timeout=(1, 1)).num_rows
    0
    """
    if attempts < 1 or refreshes < 0:
        raise ValueError("attempts must be at least 1 and refreshes at least 0")
    if sleep is None:
        import time

        sleep = time.sleep
    failures = 0
    refreshed = 0
    while True:  # bounded: every pass consumes an attempt or a refresh, see below
        if report.url is None:
            return PLAYLOG_SCHEMA.empty_table()
        progress = _Progress(on_progress)
        try:
            return _fetch_once(report, session, timeout, progress, parse_options or {})
        except _ExpiredURL as exc:
            progress.undo()
            if refreshed >= refreshes:
                raise DownloadError(
                    f"report {report.id}: the file URL is refused (403, expired) even after "
                    f"{refreshed} refresh(es); request the report again"
                ) from exc
            refreshed += 1
            log.info("report %s: file URL expired, refreshing it (%d)", report.id, refreshed)
            report = _refreshed(refresh, report)
        except (CorruptReportError, _RetryableStatus, *TRANSIENT_ERRORS) as exc:
            progress.undo()
            failures += 1
            what = describe_failure(exc)
            if failures >= attempts:
                if isinstance(exc, CorruptReportError):
                    raise CorruptReportError(
                        f"report {report.id}: {what} (after {failures} download attempts)"
                    ) from exc
                raise DownloadError(
                    f"report {report.id}: download failed after {failures} attempts: {what}"
                ) from scrub_exception(exc)
            wait = delay(failures - 1)
            log.warning(
                "report %s: download attempt %d/%d failed (%s); retrying in %.2f s",
                report.id,
                failures,
                attempts,
                what,
                wait,
            )
            sleep(wait)


class _ExpiredURL(Exception):
    """The store answered 403: the presigned URL expired (or was revoked)."""


class _RetryableStatus(Exception):
    """The store answered 429/5xx."""


class _Progress:
    """Forwards progress increments and can undo them when an attempt is discarded."""

    def __init__(self, callback: Callable[[int, int], None] | None) -> None:
        self.callback = callback
        self.n_bytes = 0
        self.n_rows = 0

    def __call__(self, n_bytes: int, n_rows: int) -> None:
        self.n_bytes += n_bytes
        self.n_rows += n_rows
        if self.callback is not None:
            self.callback(n_bytes, n_rows)

    def undo(self) -> None:
        if self.callback is not None and (self.n_bytes or self.n_rows):
            self.callback(-self.n_bytes, -self.n_rows)
        self.n_bytes = self.n_rows = 0


def _fetch_once(
    report: Report,
    session: requests.Session,
    timeout: tuple[float, float],
    progress: _Progress,
    parse_options: dict[str, Any],
) -> pa.Table:
    assert report.url is not None
    response = session.get(report.url, stream=True, timeout=timeout)
    try:
        status = response.status_code
        if status == 403:
            raise _ExpiredURL(f"HTTP 403 from {_host(response.url)}")
        if status in _RETRY_STATUSES:
            raise _RetryableStatus(f"HTTP {status} from {_host(response.url)}")
        if status != 200:
            raise DownloadError(
                f"report {report.id}: the object store answered HTTP {status} "
                f"({_host(response.url)})"
            )
        response.raw.decode_content = False  # gzip is decoded once, by the parser
        return parse.read_table(response.raw, on_progress=progress, **parse_options)
    finally:
        response.close()


def _refreshed(refresh: Callable[[int], Report], report: Report) -> Report:
    fresh = refresh(report.id)
    if not fresh.succeeded:
        raise DownloadError(
            f"report {report.id}: refreshing the file URL gave status {fresh.status!r}"
        )
    return fresh


def _host(url: str | None) -> str:
    """``scheme://host[:port]/path`` of a URL, without its query."""
    return redact(url or "?")


def describe_failure(exc: BaseException, *, broken: str = "connection broken") -> str:
    """A short, redacted description of a failed attempt, for messages and logs.

    A store status or corrupt file gives its own (redacted) message; a timeout
    ``"timed out (Type)"``; any other transport error ``"<broken> (Type)"``.
    The client passes ``broken="connection failed"``.

    Examples
    --------
    >>> describe_failure(requests.ReadTimeout("read timed out"))
    'timed out (ReadTimeout)'
    >>> describe_failure(requests.ConnectionError("reset"), broken="connection failed")
    'connection failed (ConnectionError)'
    """
    if isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
        kind = "timed out"
    elif isinstance(exc, CorruptReportError | _RetryableStatus):
        return redact(str(exc))
    else:
        kind = broken
    return f"{kind} ({type(exc).__name__})"
