"""Pacing: never the same URI twice within ``min_interval`` (the API allows 1 request/s per URI).

The 4YouSee API allows **one request per second per IP and URI** and may block a
token or an IP permanently past that (SPEC section 1), so the client paces itself
instead of waiting for 429s. A :class:`Pacer` holds, per URI (method + full URL,
host and query included), the instant its last request was *answered*; a new
request for the same URI waits until ``min_interval`` has passed since then.

* Measured from the answer (the response's headers), not from the send: the
  server saw the previous request before it answered, so the next one reaches it
  at least ``min_interval`` later whatever the network's delays.
* One request per URI at a time: a second thread (another window of the same
  fetch) asking for a URI in flight waits for its answer, then for the interval.
  Different URIs never wait for each other.
* Process-wide: :func:`shared_pacer` gives every transport with the same clock
  the same pacer, so two clients in one process (the API's and the object
  store's transports, two ``Client`` objects, the webhook receiver's client)
  pace each other too.
* The clock and the sleep are the transport's (``clock=``/``sleep=``): tests
  scale time instead of switching pacing off. A pacing wait is slept once, not
  re-checked, so a fake clock that stands still never loops.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import requests

__all__ = ["DEFAULT_MIN_INTERVAL", "Pacer", "check_interval", "shared_pacer", "uri_key"]

#: The API's documented limit: one request per second per IP and URI.
DEFAULT_MIN_INTERVAL = 1.0

#: Forget URIs answered this many intervals ago (they cannot make anyone wait).
_PRUNE_AT = 4096


def check_interval(value: float, name: str = "min_interval") -> float:
    """``value`` as seconds >= 0, else ``ValueError`` naming ``name``.

    Examples
    --------
    >>> check_interval(1), check_interval(0.01)
    (1.0, 0.01)
    >>> check_interval(-1)
    Traceback (most recent call last):
    ...
    ValueError: min_interval: expected seconds >= 0, got -1
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name}: expected seconds >= 0, got {value!r}")
    return float(value)


def uri_key(method: str, url: str, params: object = None) -> str:
    """The key a request is paced by: method and full URL, query included.

    ``params`` (a dict or a sequence of pairs, as ``requests`` takes them) is
    encoded the way ``requests`` encodes it, so ``reports?page=2`` and
    ``reports?page=3`` are two URIs.

    Examples
    --------
    >>> uri_key("get", "http://h/v1/reports", {"page": 2, "sort": "-id"})
    'GET http://h/v1/reports?page=2&sort=-id'
    >>> uri_key("POST", "http://h/v1/reports")
    'POST http://h/v1/reports'
    """
    prepared = requests.Request(method.upper(), url, params=params or {}).prepare()
    return f"{method.upper()} {prepared.url}"


class Pacer:
    """At most one request per URI per ``min_interval`` (thread-safe).

    Parameters
    ----------
    clock
        Monotonic seconds (the transport's clock).

    Examples
    --------
    >>> now = [0.0]
    >>> pacer = Pacer(clock=lambda: now[0])
    >>> waits = []
    >>> with pacer.slot("GET /a", 1.0, sleep=waits.append):
    ...     pass
    >>> now[0] = 0.25
    >>> with pacer.slot("GET /a", 1.0, sleep=waits.append):
    ...     pass
    >>> with pacer.slot("GET /b", 1.0, sleep=waits.append):
    ...     pass
    >>> waits
    [0.75]
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._answered: dict[str, float] = {}  # URI -> when its last request was answered
        self._busy: set[str] = set()  # URIs with a request in flight

    @contextlib.contextmanager
    def slot(
        self, key: str, min_interval: float, *, sleep: Callable[[float], None]
    ) -> Iterator[None]:
        """Wait for ``key``'s turn, hold it while the request runs, note its answer.

        The body of the ``with`` sends the request and returns once the answer's
        headers arrived (or failed); the next request for ``key`` may start
        ``min_interval`` after that.
        """
        if min_interval <= 0:
            yield
            return
        with self._cond:
            while key in self._busy:  # bounded: the holder's request has a timeout
                self._cond.wait()
            self._busy.add(key)
            last = self._answered.get(key)
        try:
            if last is not None:
                wait = last + min_interval - self.clock()
                if wait > 0:
                    sleep(wait)
            yield
        finally:
            with self._cond:
                self._answered[key] = self.clock()
                self._busy.discard(key)
                if len(self._answered) > _PRUNE_AT:
                    self._prune(min_interval)
                self._cond.notify_all()

    def _prune(self, min_interval: float) -> None:
        horizon = self.clock() - max(min_interval, DEFAULT_MIN_INTERVAL) * 60
        for key in [k for k, t in self._answered.items() if t < horizon]:
            del self._answered[key]


_SHARED: dict[Callable[[], float], Pacer] = {}
_SHARED_LOCK = threading.Lock()


def shared_pacer(clock: Callable[[], float] = time.monotonic) -> Pacer:
    """The process-wide :class:`Pacer` of ``clock`` (one per clock: instants of two
    clocks cannot be compared; two bound methods of one object are the same clock).

    Examples
    --------
    >>> shared_pacer() is shared_pacer(time.monotonic)
    True
    """
    with _SHARED_LOCK:
        pacer = _SHARED.get(clock)
        if pacer is None:
            pacer = _SHARED[clock] = Pacer(clock)
        return pacer
