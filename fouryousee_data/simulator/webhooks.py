"""Timed jobs (reports becoming ready) and webhook deliveries.

A :class:`Scheduler` runs callables at given monotonic times in one background
thread. A :class:`Notifier` delivers webhooks as SPEC section 1 says: POST the
report object; unless answered 200, repeat 3 more times, 2, 8 and 26 minutes
(× ``webhook_time_scale``) after the first attempt (2 minutes after the first, 6 after
the second, 18 after the third). Every attempt is recorded as
a :class:`WebhookDelivery` stamped with the instant it started, the same instant
the repeats are scheduled from. Only loopback hosts are ever contacted.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

__all__ = [
    "RETRY_MINUTES",
    "Notifier",
    "Scheduler",
    "WebhookDelivery",
    "is_loopback_url",
    "post_webhook",
]

log = logging.getLogger("fouryousee_data.simulator")

#: Minutes after the first attempt at which a failed notification is repeated: 2 after
#: the first, 6 after the second, 18 after the third (SPEC section 1), cumulative.
RETRY_MINUTES = (2, 8, 26)


@dataclass(frozen=True)
class WebhookDelivery:
    """One webhook POST attempt (``status`` None: connection error, or refused)."""

    url: str
    report_id: int
    attempt: int  #: 1 for the first notification, up to 4
    status: int | None
    refused: bool = False  #: not a loopback host: never sent
    at: float = 0.0  #: ``time.monotonic()`` when the attempt started (before the POST)


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` is http(s) on a loopback host (no DNS lookup is made).

    Examples
    --------
    >>> is_loopback_url("http://127.0.0.5:9000/hook"), is_loopback_url("https://example.org/")
    (True, False)
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme not in ("http", "https"):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def post_webhook(url: str, body: bytes, timeout: float) -> int | None:
    """POST ``body`` (JSON) to ``url``; the HTTP status, or None on a connection error."""
    try:
        with requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "4YouSee-Simulator"},
            timeout=timeout,
            allow_redirects=False,
        ) as response:
            return response.status_code
    except requests.RequestException as exc:
        log.info("webhook POST to %s failed: %s", url, type(exc).__name__)
        return None


class Scheduler:
    """Run callables at monotonic times, in order, in one lazily started thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def call_at(self, when: float, fn: Callable[[], None]) -> None:
        """Run ``fn()`` at ``time.monotonic() >= when`` (ignored once stopped)."""
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._heap, (when, next(self._seq), fn))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"fouryousee-sim-{self.name}", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    delay = self._heap[0][0] - time.monotonic() if self._heap else None
                    if delay is not None and delay <= 0:
                        break
                    self._cond.wait(delay)
                if self._stopped:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:
                log.exception("simulator job failed")

    def stop(self, timeout: float = 5.0) -> None:
        """Drop pending jobs and join the thread (waits for a running job)."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)


class Notifier:
    """The webhook deliveries of one simulator, in one background :class:`Scheduler`.

    Attempt 1 runs at once; unless answered 200 (or refused: not a loopback
    host), attempt ``k + 1`` runs ``RETRY_MINUTES[k - 1] × 60 × time_scale``
    seconds after attempt 1 **started**. Each :class:`WebhookDelivery` is stamped
    with the instant its attempt started, so the recorded times and the schedule
    use the same clock readings (a slow POST delays nothing but its own answer).

    Examples
    --------
    >>> notifier = Notifier(time_scale=0.001, timeout=1.0)
    >>> notifier.notify("https://example.org/hook", 7, lambda: b"{}")
    >>> notifier.stop()
    """

    def __init__(self, *, time_scale: float, timeout: float) -> None:
        self.time_scale = float(time_scale)
        self.timeout = float(timeout)
        self._scheduler = Scheduler("webhooks")
        self._lock = threading.Lock()
        self._deliveries: list[WebhookDelivery] = []

    def notify(self, url: str, report_id: int, body: Callable[[], bytes]) -> None:
        """Deliver ``body()`` (read again at each attempt) to ``url``, in the background."""
        self._scheduler.call_at(
            time.monotonic(), lambda: self._attempt(url, report_id, body, 1, None)
        )

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Every attempt so far, in order (a copy)."""
        with self._lock:
            return list(self._deliveries)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel pending repeats and wait for an attempt in progress."""
        self._scheduler.stop(timeout)

    def _attempt(
        self, url: str, rid: int, body: Callable[[], bytes], attempt: int, first: float | None
    ) -> None:
        started = time.monotonic()
        first = started if first is None else first
        refused = not is_loopback_url(url)
        if refused:
            log.warning("webhook of report %s refused: only loopback hosts are contacted", rid)
            status = None
        else:
            status = post_webhook(url, body(), self.timeout)
        with self._lock:
            self._deliveries.append(WebhookDelivery(url, rid, attempt, status, refused, started))
        if status != 200 and not refused and attempt <= len(RETRY_MINUTES):
            when = first + RETRY_MINUTES[attempt - 1] * 60 * self.time_scale
            self._scheduler.call_at(when, lambda: self._attempt(url, rid, body, attempt + 1, first))
