"""The HTTP side of the receiver: which requests are deliveries, and the answer to each.

:class:`NotificationServer` accepts only ``POST`` on its :class:`Endpoint` path,
reads the body within the limits, parses it with :func:`parse_notification` and
hands the :class:`~fouryousee_data.report.Report` to an ``accept`` callback, whose
``(status, message)`` is the answer. Every answer is a small JSON object and
closes the connection; the secret path segment is never logged.

No ``Content-Type`` is required: 4YouSee documents none, so the body is judged by
its bytes alone (size-limited, strict JSON, a report object), whatever the header
says.

Slow clients: each request must arrive whole (line, headers, body) within
``read_timeout`` of its connection (see :func:`deadline_reader`). When every
connection slot is taken, the connection that has been reading its request the
longest is dropped to make room, so trickling clients cannot lock deliveries out
(a delivery sends its request in milliseconds: it is never the oldest one reading).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from fouryousee_data.errors import InvalidNotificationError
from fouryousee_data.report import Report
from fouryousee_data.webhook._body import (
    DRAIN_BYTES,
    BodyError,
    deadline_reader,
    discard,
    read_body,
)
from fouryousee_data.webhook._notification import (
    MAX_NOTIFICATION_BYTES,
    is_strict_int,
    parse_notification,
)

__all__ = ["Accept", "Endpoint", "NotificationServer", "check_positive_int"]

log = logging.getLogger("fouryousee_data.webhook")

#: What the server does with a parsed notification: the ``(status, message)`` to answer.
Accept = Callable[[Report], tuple[int, str]]

_SEGMENT_RE = re.compile(r"[A-Za-z0-9._~-]+", re.ASCII)
#: Seconds a new connection waits for the slot of a connection dropped to make room.
_EVICTION_WAIT = 1.0


@dataclass(frozen=True)
class Endpoint:
    """Where deliveries arrive and the limits they must respect.

    ``path`` includes the secret segment when there is one (see :meth:`build`).

    Examples
    --------
    >>> Endpoint.build("/webhook", "s" * 16).path
    '/webhook/ssssssssssssssss'
    """

    path: str
    secret: str | None = None
    max_body_bytes: int = MAX_NOTIFICATION_BYTES
    read_timeout: float = 10.0
    max_connections: int = 64
    url_hosts: tuple[str, ...] | None = None

    @classmethod
    def build(
        cls,
        path: str,
        secret: str | None = None,
        *,
        max_body_bytes: int = MAX_NOTIFICATION_BYTES,
        read_timeout: float = 10.0,
        max_connections: int = 64,
        url_hosts: Sequence[str] | None = None,
    ) -> Endpoint:
        """The endpoint of ``path`` plus ``/<secret>``, every argument checked (``ValueError``)."""
        segments = path.strip("/").split("/") if path.strip("/") else []
        if not path.startswith("/") or not all(_SEGMENT_RE.fullmatch(s) for s in segments):
            raise ValueError(f"path must look like /webhook (URL-safe segments), got {path!r}")
        if secret is not None:
            if not _SEGMENT_RE.fullmatch(secret) or len(secret) < 16:
                raise ValueError(
                    "path_secret must be at least 16 URL-safe characters (letters, digits, -_.~), "
                    "e.g. secrets.token_urlsafe(24)"
                )
            segments.append(secret)
        check_positive_int("max_body_bytes", max_body_bytes)
        check_positive_int("max_connections", max_connections)
        if not read_timeout > 0:
            raise ValueError(f"read_timeout must be positive, got {read_timeout!r}")
        hosts = None if url_hosts is None else tuple(url_hosts)
        return cls(
            "/" + "/".join(segments), secret, max_body_bytes, float(read_timeout),
            max_connections, hosts,
        )  # fmt: skip

    def matches(self, path: str) -> bool:
        """Whether a request path (without its query) is this endpoint, in constant time."""
        return hmac.compare_digest(path.encode("utf-8", "replace"), self.path.encode())

    def redact(self, text: str) -> str:
        """``text`` with the secret replaced by ``<secret>``."""
        return text.replace(self.secret, "<secret>") if self.secret else text


class NotificationServer(ThreadingHTTPServer):
    """A threading HTTP server for one :class:`Endpoint`, at most ``max_connections`` at once.

    Examples
    --------
    >>> server = NotificationServer(("127.0.0.1", 0), Endpoint("/hook"), lambda r: (200, "ok"))
    >>> server.server_address[0]
    '127.0.0.1'
    >>> server.server_close()
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], endpoint: Endpoint, accept: Accept) -> None:
        self.endpoint = endpoint
        self.accept = accept
        self._slots = threading.BoundedSemaphore(endpoint.max_connections)
        self._reading: dict[socket.socket, float] = {}  # connections still reading a request
        self._reading_lock = threading.Lock()
        self._open = 0
        super().__init__(address, _Handler)

    @property
    def open_connections(self) -> int:
        """Connections being served now (at most ``max_connections``)."""
        with self._reading_lock:
            return self._open

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False) and not self._make_room():
            self.shutdown_request(request)  # nothing to drop: refuse this one
            return
        with self._reading_lock:
            self._open += 1
            self._reading[request] = time.monotonic()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release(request)
            raise

    def done_reading(self, connection: socket.socket) -> None:
        """The request on ``connection`` was read whole: it is no longer a candidate to drop."""
        with self._reading_lock:
            self._reading.pop(connection, None)

    def _make_room(self) -> bool:
        """Drop the connection that has been reading its request the longest and take its
        slot; False if none is reading (every slot is answering) or the slot did not free."""
        if self._slots.acquire(blocking=False):  # one came free meanwhile
            return True
        with self._reading_lock:
            if not self._reading:
                return False
            oldest = min(self._reading, key=self._reading.__getitem__)
            del self._reading[oldest]
        busy = self.endpoint.max_connections
        log.info("webhook: all %d connections busy; dropping the slowest", busy)
        with contextlib.suppress(OSError):  # already closed: its slot is on its way back
            oldest.shutdown(socket.SHUT_RDWR)  # its reads end now; its thread frees the slot
        return self._slots.acquire(timeout=_EVICTION_WAIT)

    def _release(self, request: Any) -> None:
        with self._reading_lock:
            self._open -= 1
            self._reading.pop(request, None)
        self._slots.release()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken connection is one log line, not a traceback on stderr."""
        exc = sys.exc_info()[1]
        log.info("webhook: connection from %s failed: %s", client_address[0], type(exc).__name__)


class _Handler(BaseHTTPRequestHandler):
    server: NotificationServer
    server_version = "fouryousee-webhook"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # the whole request (line, headers, body) within read_timeout: no slow-loris
        self.rfile.close()
        self.rfile = deadline_reader(self.connection, self.server.endpoint.read_timeout)

    def do_POST(self) -> None:
        endpoint = self.server.endpoint
        if not endpoint.matches(urlsplit(self.path).path):
            self._finish(404, "not found", drain=True)
        elif self.command != "POST":
            self._finish(405, "only POST is allowed", drain=True)
        else:
            self._post(endpoint)

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_POST

    def _post(self, endpoint: Endpoint) -> None:
        try:
            body = read_body(self.rfile, self.headers, endpoint.max_body_bytes)
            self.server.done_reading(self.connection)
            report = parse_notification(
                body, max_bytes=endpoint.max_body_bytes, url_hosts=endpoint.url_hosts
            )
        except BodyError as exc:
            self._finish(exc.status, exc.message)
        except InvalidNotificationError as exc:
            self._finish(exc.status_code, str(exc))
        else:
            status, message = self.server.accept(report)
            self._finish(status, message, report=report)

    def _finish(
        self, status: int, message: str, *, report: Report | None = None, drain: bool = False
    ) -> None:
        length = self.headers.get("Content-Length", "")
        if drain and length.isdigit() and int(length) <= DRAIN_BYTES:
            # read the unread body (bounded) so the client sees our answer, not a reset
            discard(self.rfile, int(length))
        self._answer(status, message, report)
        what = f"report {report.id} ({report.status})" if report else self.command
        log.info(
            "webhook delivery from %s: %s -> %d %s", self.client_address[0], what, status, message
        )

    def _answer(self, status: int, message: str, report: Report | None) -> None:
        payload: dict[str, Any] = {"ok": status == 200, "message": message}
        if report is not None:
            payload["id"] = report.id
        data = json.dumps(payload).encode()
        self.connection.settimeout(self.server.endpoint.read_timeout)  # reading may have used it up
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        if status == 405:
            self.send_header("Allow", "POST")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Deliveries are logged by :meth:`_finish` (without the secret path)."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("webhook http: %s", self.server.endpoint.redact(format % args))


def check_positive_int(name: str, value: Any) -> None:
    """``ValueError`` naming ``name`` unless ``value`` is an ``int`` (not a bool) above 0.

    Examples
    --------
    >>> check_positive_int("queue_size", 0)
    Traceback (most recent call last):
    ...
    ValueError: queue_size must be a positive integer, got 0
    """
    if not is_strict_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
