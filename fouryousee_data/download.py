"""Stream a report file from the object store straight into the parser.

The file lives on another host behind a presigned URL. :func:`stream_table`:

* fetches it through the store's :class:`~fouryousee_data.transport.Transport`,
  whose session never carries ``Secret-Token`` (also after a redirect: the
  session has no such header to forward); the transport retries 429/5xx and
  connection errors, with one budget for the whole download;
* hands ``response.raw`` to :func:`fouryousee_data.parse.read_table`, whose
  reader thread overlaps the network with decompression and parsing;
* reads the raw bytes (``decode_content=False``): an object served with
  ``Content-Encoding: gzip`` is decompressed once, by the parser, which
  recognises gzip by its magic bytes;
* refreshes an expired URL (403) through the API, at most ``url_refreshes`` times;
* streams again from scratch after a reset mid-body, a short body or a bad
  gzip, at most ``download_attempts`` streams, then raises
  :class:`~fouryousee_data.errors.DownloadError` or
  :class:`~fouryousee_data.errors.CorruptReportError`;
* keeps presigned query strings out of exception messages and log records
  (:mod:`fouryousee_data.redaction`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import IO, Any, Generic, Protocol, TypeVar, cast

import pyarrow as pa
import requests

from fouryousee_data import parse
from fouryousee_data.errors import CorruptReportError, DownloadError
from fouryousee_data.redaction import redact, scrub_exception
from fouryousee_data.report import Report
from fouryousee_data.schema import PLAYLOG_SCHEMA
from fouryousee_data.transport import (
    RETRY_STATUSES,
    TRANSIENT_ERRORS,
    Budget,
    Transport,
    describe_failure,
)

__all__ = ["BatchSink", "stream_into", "stream_table"]

log = logging.getLogger(__name__)

#: A broken or corrupt body: streamed again from scratch (``download_attempts``).
BODY_FAILURES: tuple[type[BaseException], ...] = (CorruptReportError, *TRANSIENT_ERRORS)


def stream_table(
    report: Report,
    *,
    transport: Transport,
    refresh: Callable[[int], Report],
    on_progress: Callable[[int, int], None] | None = None,
    parse_options: dict[str, Any] | None = None,
) -> pa.Table:
    """Download and parse a ``success`` report's file into a table in ``PLAYLOG_SCHEMA``.

    Parameters
    ----------
    report
        A report with status ``success``; ``url=None`` means zero rows.
    transport
        The object store's transport. Its session must not carry ``Secret-Token``;
        its :class:`~fouryousee_data.transport.RetryPolicy` gives the budgets.
    refresh
        ``refresh(report_id) -> Report``: a fresh presigned URL (``Client.get_report``).
    on_progress
        ``on_progress(n_bytes, n_rows)`` increments; when a stream is thrown
        away it receives negative increments undoing that stream.
        When ``on_progress`` also has an ``on_size`` method, ``on_size(n_bytes)``
        is told the size of each stream whose response has a ``Content-Length``
        (the bytes ``on_progress`` will count), and ``-n_bytes`` when that
        stream is thrown away (a progress bar's total).
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
        The file stayed corrupt over every stream.
    InvalidPlaylogError
        A line is not a valid playlog (not retried: the gzip CRC vouches for the bytes).

    Examples
    --------
    >>> empty = Report.from_api({"id": 1, "status": "success", "url": None})
    >>> store = Transport(requests.Session(), timeout=(1.0, 1.0))
    >>> stream_table(empty, transport=store, refresh=lambda rid: empty).num_rows
    0
    """
    options = parse_options or {}

    def consume(raw: IO[bytes], progress: _Progress) -> pa.Table:
        return parse.read_table(raw, on_progress=progress, **options)

    def empty() -> pa.Table:
        return PLAYLOG_SCHEMA.empty_table()

    return _Download(report, transport, refresh, on_progress, consume, empty).run()


class BatchSink(Protocol):
    """Where :func:`stream_into` puts a stream's rows: ``add`` each record batch;
    ``discard`` what was added (the stream broke and starts again, or failed)."""

    def add(self, batch: pa.RecordBatch) -> None: ...

    def discard(self) -> None: ...


Sink = TypeVar("Sink", bound=BatchSink)
T = TypeVar("T")


def stream_into(
    report: Report,
    new_sink: Callable[[], Sink],
    *,
    transport: Transport,
    refresh: Callable[[int], Report],
    on_progress: Callable[[int, int], None] | None = None,
) -> Sink:
    """Like :func:`stream_table`, but the rows go to a sink block by block as they are
    parsed, never held together: each stream fills a fresh ``new_sink()``; the sink of
    a stream that broke is discarded before the next one starts. Returns the sink of
    the stream that completed (a report without a file: a sink with no rows).

    Examples
    --------
    >>> class Rows(list):
    ...     add = list.append
    ...     def discard(self): self.clear()
    >>> empty = Report.from_api({"id": 1, "status": "success", "url": None})
    >>> store = Transport(requests.Session(), timeout=(1.0, 1.0))
    >>> stream_into(empty, Rows, transport=store, refresh=lambda rid: empty)
    []
    """

    def consume(raw: IO[bytes], progress: _Progress) -> Sink:
        sink = new_sink()
        try:
            parse.read_batches(raw, sink.add, on_progress=progress)
        except BaseException:
            sink.discard()
            raise
        return sink

    return _Download(report, transport, refresh, on_progress, consume, new_sink).run()


class _Download(Generic[T]):
    """One report file's download: a budget per kind of failure, one stream at a time."""

    def __init__(
        self,
        report: Report,
        transport: Transport,
        refresh: Callable[[int], Report],
        on_progress: Callable[[int, int], None] | None,
        consume: Callable[[IO[bytes], _Progress], T],
        empty: Callable[[], T],
    ) -> None:
        policy = transport.retry
        self.report = report
        self.transport = transport
        self.refresh = refresh
        self.on_progress = on_progress
        self.consume = consume
        self.empty = empty
        self.requests = Budget(policy.attempts - 1)  # statuses, connection errors
        self.streams = Budget(policy.download_attempts - 1)  # broken or corrupt bodies
        self.refreshes = Budget(policy.url_refreshes)  # expired URLs

    def run(self) -> T:
        while True:  # bounded: every pass returns, raises, or spends one of the budgets
            if self.report.url is None:
                return self.empty()
            progress = _Progress(self.on_progress)
            try:
                return self._stream(self.report.url, progress)
            except _ExpiredURL as exc:
                progress.undo()
                self._refresh_url(exc)
            except BODY_FAILURES as exc:
                progress.undo()
                self._stream_again(exc)

    def _stream(self, url: str, progress: _Progress) -> T:
        response = self._get(url)
        try:
            self._check(response)
            progress.expect(response.headers.get("Content-Length"))
            response.raw.decode_content = False  # gzip is decoded once, by the parser
            raw = cast(IO[bytes], response.raw)  # urllib3's HTTPResponse: a binary file object
            return self.consume(raw, progress)
        finally:
            response.close()

    def _get(self, url: str) -> requests.Response:
        """The store's response (retried by the transport), or ``DownloadError``."""
        rid = self.report.id
        try:
            return self.transport.get(
                url, what=f"report {rid} file", budget=self.requests, stream=True
            )
        except TRANSIENT_ERRORS as exc:
            why = describe_failure(exc)
            raise DownloadError(
                f"report {rid}: the object store did not answer after "
                f"{self.requests.failures} attempts: {why}"
            ) from scrub_exception(exc)
        except requests.RequestException as exc:  # too many redirects, a bad URL...
            raise DownloadError(
                f"report {rid}: download failed: {describe_failure(exc)}"
            ) from scrub_exception(exc)

    def _check(self, response: requests.Response) -> None:
        """Raise unless the store answered 200 (403: the URL expired)."""
        status, host = response.status_code, _host(response.url)
        if status == 403:
            raise _ExpiredURL(f"HTTP 403 from {host}")
        if status != 200:
            tries = f" after {self.requests.failures} attempts" if status in RETRY_STATUSES else ""
            raise DownloadError(
                f"report {self.report.id}: the object store answered HTTP {status} ({host}){tries}"
            )

    def _refresh_url(self, exc: _ExpiredURL) -> None:
        rid = self.report.id
        if not self.refreshes.retry():
            raise DownloadError(
                f"report {rid}: the file URL is refused (403, expired) even after "
                f"{self.refreshes.retries} refresh(es); request the report again"
            ) from exc
        log.info("report %s: file URL expired, refreshing it (%d)", rid, self.refreshes.failures)
        fresh = self.refresh(rid)
        if not fresh.succeeded:
            raise DownloadError(
                f"report {rid}: refreshing the file URL gave status {fresh.status!r}"
            )
        self.report = fresh

    def _stream_again(self, exc: BaseException) -> None:
        what = describe_failure(exc)
        if self.streams.retry():
            self.transport.pause(f"report {self.report.id} file", what, self.streams)
            return
        failures = self.streams.failures
        if isinstance(exc, CorruptReportError):
            raise CorruptReportError(
                f"report {self.report.id}: {what} (after {failures} download attempts)"
            ) from exc
        raise DownloadError(
            f"report {self.report.id}: download failed after {failures} attempts: {what}"
        ) from scrub_exception(exc)


class _ExpiredURL(Exception):
    """The store answered 403: the presigned URL expired (or was revoked)."""


class _Progress:
    """Forwards progress increments and can undo them when a stream is discarded."""

    def __init__(self, callback: Callable[[int, int], None] | None) -> None:
        self.callback = callback
        self.on_size: Callable[[int], None] | None = getattr(callback, "on_size", None)
        self.n_bytes = 0
        self.n_rows = 0
        self.size = 0

    def expect(self, content_length: str | None) -> None:
        """Tell ``on_size`` the stream's size, when the response says it."""
        if self.on_size is None or content_length is None or not content_length.isdigit():
            return
        self.size = int(content_length)
        self.on_size(self.size)

    def __call__(self, n_bytes: int, n_rows: int) -> None:
        self.n_bytes += n_bytes
        self.n_rows += n_rows
        if self.callback is not None:
            self.callback(n_bytes, n_rows)

    def undo(self) -> None:
        if self.callback is not None and (self.n_bytes or self.n_rows):
            self.callback(-self.n_bytes, -self.n_rows)
        if self.on_size is not None and self.size:
            self.on_size(-self.size)
        self.n_bytes = self.n_rows = self.size = 0


def _host(url: str | None) -> str:
    """``scheme://host[:port]/path`` of a URL, without its query."""
    return redact(url or "?")
