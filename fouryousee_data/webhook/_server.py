"""The receiver: an HTTP endpoint that answers at once, and one worker that handles.

:class:`WebhookReceiver` puts each valid notification in a bounded queue and
answers 200 (503 when the queue is full, so 4YouSee repeats it later); one
background worker calls the handler, by default :func:`handle_notification`
with the receiver's client, cache and :class:`Registry`. :func:`serve` runs one
until Ctrl-C or SIGTERM (``fouryousee-data serve-webhook``).
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from fouryousee_data._config import DEFAULT_CACHE
from fouryousee_data.client import Client
from fouryousee_data.report import Report
from fouryousee_data.webhook._handling import NotificationOutcome, Registry, handle_notification
from fouryousee_data.webhook._http import Endpoint, NotificationServer, check_positive_int
from fouryousee_data.webhook._notification import MAX_NOTIFICATION_BYTES

__all__ = ["DEFAULT_PORT", "WebhookReceiver", "serve"]

log = logging.getLogger("fouryousee_data.webhook")

#: Default port of ``fouryousee-data serve-webhook``.
DEFAULT_PORT = 8787


class WebhookReceiver:
    """An HTTP server for 4YouSee's notifications, with one background worker.

    It accepts only ``POST`` on ``path`` (plus ``/<path_secret>`` when given,
    compared in constant time): 404 elsewhere, 405 for other methods, 411
    without a length, 413 over ``max_body_bytes`` (also for chunked bodies,
    which are decoded with the same limit), 408 for a request not received
    whole within ``read_timeout``, 400/422 for bodies :func:`parse_notification`
    refuses. No ``Content-Type`` is required (4YouSee documents none): the body
    is judged by its bytes. A valid notification is queued and answered 200 at
    once (503 when the bounded queue is full, so 4YouSee retries later); the
    worker calls ``handler(report)``, by default :func:`handle_notification`
    with ``client`` and ``cache_dir``.

    Slow clients cannot lock deliveries out: ``read_timeout`` is a deadline for
    the whole request (line, headers and body) from the moment the connection is
    accepted, and when all ``max_connections`` are taken the one that has been
    reading its request the longest is dropped to make room.

    Parameters
    ----------
    client
        A :class:`~fouryousee_data.Client`; default ``Client()`` from the environment.
    host, port
        Where to listen; ``port=0`` picks a free port (see :attr:`url`).
    path
        The URL path 4YouSee posts to.
    path_secret
        A random URL-safe string of at least 16 characters appended to ``path``
        as one more segment: strangers who do not know it get 404.
    cache_dir
        The cache to fill (see :func:`handle_notification`).
    handler
        Replaces :func:`handle_notification` (it receives the parsed :class:`Report`).
    max_body_bytes, queue_size, read_timeout, max_connections
        Limits: body size, queued notifications, seconds a client may take to
        send its whole request (line, headers and body: a total deadline, not the
        gap between two reads), simultaneous connections.
    public_url
        The address 4YouSee reaches (a reverse proxy or tunnel), used by :attr:`url`.
    url_hosts
        Allowed hosts of the ``url`` in bodies (see :func:`parse_notification`);
        others are 422. The URL is never fetched either way.
    registry
        The once-only record the default handler uses (see :class:`Registry`);
        default a new one (the files under ``cache_dir`` are shared either way).

    Examples
    --------
    >>> seen = []
    >>> with WebhookReceiver(handler=seen.append, path_secret="s" * 16) as rcv:
    ...     rcv.url.endswith("/webhook/" + "s" * 16)
    True
    """

    def __init__(
        self,
        client: Client | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/webhook",
        path_secret: str | None = None,
        cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
        handler: Callable[[Report], Any] | None = None,
        max_body_bytes: int = MAX_NOTIFICATION_BYTES,
        queue_size: int = 100,
        read_timeout: float = 10.0,
        max_connections: int = 64,
        public_url: str | None = None,
        url_hosts: Sequence[str] | None = None,
        registry: Registry | None = None,
    ) -> None:
        #: The path (secret included) and the limits deliveries must respect.
        self.endpoint = Endpoint.build(
            path,
            path_secret,
            max_body_bytes=max_body_bytes,
            read_timeout=read_timeout,
            max_connections=max_connections,
            url_hosts=url_hosts,
        )
        check_positive_int("queue_size", queue_size)
        if public_url is not None and not public_url.startswith(("http://", "https://")):
            raise ValueError(f"public_url must start with http:// or https://, got {public_url!r}")
        #: The once-only record of :func:`handle_notification` (the default handler).
        self.registry = Registry() if registry is None else registry
        if handler is None:
            handler = _default_handler(client, cache_dir, self.registry)
        self.handler = handler
        self.path = self.endpoint.path
        self.public_url = public_url
        #: The last outcomes of the worker (``handler`` results), newest last.
        self.outcomes: deque[Any] = deque(maxlen=1000)
        #: The last ``(report_id, exception)`` the worker could not process.
        self.errors: deque[tuple[int, BaseException]] = deque(maxlen=1000)
        self._queue: queue.Queue[Report | None] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queued: set[int] = set()  # ids queued or being processed
        self._stopping = False
        self._server = NotificationServer((host, port), self.endpoint, self._enqueue)
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> tuple[str, int]:
        """The ``(host, port)`` the server listens on."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The webhook URL to give 4YouSee (contains the secret: keep it private).

        Behind a reverse proxy or tunnel it starts with ``public_url``.
        """
        host, port = self.address
        base = self.public_url or (
            f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        )
        return base.rstrip("/") + self.path

    @property
    def open_connections(self) -> int:
        """Connections being served now (at most ``max_connections``)."""
        return self._server.open_connections

    @property
    def pending(self) -> int:
        """How many notifications wait in the queue (the one being handled not included)."""
        return self._queue.qsize()

    @property
    def running(self) -> bool:
        """Whether the server or the worker thread is still alive."""
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> WebhookReceiver:
        """Start serving and the worker in background threads; returns ``self``."""
        if self._threads:
            raise RuntimeError("the receiver is already started")
        self._threads = [
            threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True),
            threading.Thread(target=self._work, name="fouryousee-webhook-worker", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.info("webhook receiver listening on %s:%d", *self.address)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, let the worker finish its current report, and close.

        Notifications still queued are dropped and logged: they were answered
        200, so ``fetch_playlogs`` will find those reports on the account.
        """
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        if self._threads:
            self._server.shutdown()
        self._server.server_close()
        dropped = []
        for _ in range(self._queue.maxsize + 1):
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                dropped.append(item.id)
            self._task_done(item)
        if dropped:
            log.warning("webhook receiver stopped; reports not processed: %s", dropped)
        if self._threads:
            self._queue.put(None)
            self._threads[1].join(timeout)
            if self._threads[1].is_alive():
                log.warning("webhook worker still busy after %.0f s; leaving it", timeout)
        log.info("webhook receiver stopped")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or being processed; False on timeout.

        Examples
        --------
        >>> with WebhookReceiver(handler=print) as rcv:
        ...     rcv.wait_idle(1.0)
        True
        """
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._queued:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def serve_forever(self) -> None:
        """Serve until Ctrl-C (``KeyboardInterrupt``) or :meth:`stop`, then stop cleanly."""
        if not self._threads:
            self.start()
        try:
            while not self._stopping and self._threads[0].is_alive():
                self._threads[0].join(0.5)
        except KeyboardInterrupt:
            log.info("interrupted")
        finally:
            self.stop()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        host, port = self.address
        secret = self.endpoint.secret is not None
        return f"WebhookReceiver(host={host!r}, port={port}, secret={secret})"

    # -- internals used by the request handler and the worker

    def _enqueue(self, report: Report) -> tuple[int, str]:
        with self._lock:
            if self._stopping:
                return 503, "shutting down, retry later"
            if report.id in self._queued:
                return 200, "already queued"
            try:
                self._queue.put_nowait(report)
            except queue.Full:
                return 503, "busy, retry later"
            self._queued.add(report.id)
        return 200, "accepted"

    def _task_done(self, item: Report | None) -> None:
        with self._idle:
            if item is not None:
                self._queued.discard(item.id)
            self._idle.notify_all()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self.outcomes.append(self.handler(item))
            except Exception as exc:  # logged and kept: the worker must go on
                log.error("webhook: report %d not processed: %s", item.id, exc)
                self.errors.append((item.id, exc))
            finally:
                self._task_done(item)


def serve(
    client: Client | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    path: str = "/webhook",
    path_secret: str | None = None,
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
    public_url: str | None = None,
    url_hosts: Sequence[str] | None = None,
    ready: Callable[[WebhookReceiver], Any] | None = None,
) -> None:
    """Run a :class:`WebhookReceiver` until Ctrl-C or SIGTERM, then stop cleanly.

    ``ready(receiver)`` is called once it listens (e.g. to print
    :attr:`WebhookReceiver.url`). Blocks; for a background receiver use
    :class:`WebhookReceiver` as a context manager.

    Examples
    --------
    >>> serve(path_secret=secrets.token_urlsafe(24), ready=lambda r: print(r.url))  # doctest: +SKIP
    http://127.0.0.1:8787/webhook/...
    """
    receiver = WebhookReceiver(
        client,
        host=host,
        port=port,
        path=path,
        path_secret=path_secret,
        cache_dir=cache_dir,
        public_url=public_url,
        url_hosts=url_hosts,
    )
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        receiver.start()
        if ready is not None:
            ready(receiver)
        receiver.serve_forever()
    except KeyboardInterrupt:  # a signal before serve_forever() was waiting
        log.info("interrupted")
    finally:
        receiver.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _default_handler(
    client: Client | None, cache_dir: str | os.PathLike[str] | None, registry: Registry
) -> Callable[[Report], NotificationOutcome]:
    if cache_dir is None:
        raise ValueError("cache_dir=None: the webhook receiver stores reports in the cache")
    resolved = Client() if client is None else client

    def handler(report: Report) -> NotificationOutcome:
        return handle_notification(report, client=resolved, cache_dir=cache_dir, registry=registry)

    return handler
