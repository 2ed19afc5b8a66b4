"""Progress bars for :func:`~fouryousee_data.fetch_playlogs`: reports, bytes, rows.

The bars are tqdm's (``tqdm.auto``: a widget in a notebook, text on a terminal).
:func:`want_progress` decides whether to show them; :class:`FetchProgress` is the
three bars, safe to update from every window thread, or nothing when disabled.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

__all__ = ["FetchProgress", "in_notebook", "stderr_is_tty", "want_progress"]


def want_progress(progress: bool | IO[str] | None) -> bool | IO[str]:
    """Whether to show progress bars: ``progress`` if given, else when interactive.

    Interactive means a Jupyter kernel, or a standard error that is a terminal.
    A text stream (anything with ``write``) is returned as is: bars go there.

    Examples
    --------
    >>> import io
    >>> log = io.StringIO()
    >>> want_progress(True), want_progress(False), want_progress(log) is log
    (True, False, True)
    """
    if progress is not None and hasattr(progress, "write"):
        return progress
    if progress is not None:
        return bool(progress)
    return in_notebook() or stderr_is_tty()


def stderr_is_tty() -> bool:
    """Whether standard error is a terminal (``False`` when it is closed or replaced).

    Examples
    --------
    >>> isinstance(stderr_is_tty(), bool)
    True
    """
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython loaded, with a kernel app).

    Examples
    --------
    >>> in_notebook()  # doctest: +SKIP
    False
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class FetchProgress:
    """tqdm bars for a fetch (reports, bytes, rows), or nothing when not ``enabled``.

    * ``reports`` counts finished windows; it is redrawn every second (more often than
      the polls) with its clock and ``waiting=N`` (reports the API is still preparing),
      so a long wait never looks frozen. It shows no rate: reports finish in bursts.
    * ``download`` counts the bytes of the report files, with a total when the object
      store sends their size (``Content-Length``); ``rows`` counts parsed playlogs.
      Their clocks run only while something downloads, so their rates exclude the
      time spent waiting for reports.

    Every method may be called from any thread; with ``enabled=False`` they do nothing.

    Parameters
    ----------
    windows
        The number of report windows (the total of the ``reports`` bar).
    enabled
        Show the bars (see :func:`want_progress`); a text stream shows them there
        (plain text bars, e.g. a log file or a test's ``io.StringIO``).
    tick
        Seconds between two refreshes of the ``reports`` bar's clock.

    Examples
    --------
    >>> with FetchProgress(2, enabled=False) as bars:
    ...     bars.waiting(1); bars.on_progress(1024, 10); bars.window_done()
    """

    def __init__(self, windows: int, *, enabled: bool | IO[str], tick: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._waiting = 0
        self._downloading = 0
        self._expected: int | None = 0  # bytes announced by Content-Length; None: unknown
        self._bars: list[Any] = []
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if enabled is False:
            return
        import tqdm.auto
        import tqdm.std

        # a widget in a notebook, else text; plain text into a given stream
        bar = tqdm.auto.tqdm if enabled is True else tqdm.std.tqdm
        out: dict[str, Any] = {} if enabled is True else {"file": enabled}
        self.reports = bar(total=windows, desc="reports", unit="report", bar_format=_REPORTS, **out)
        self.reports.set_postfix(waiting=0, refresh=False)
        self.bytes = bar(desc="download", unit="B", unit_scale=True, unit_divisor=1024, **out)
        self.rows = bar(desc="rows", unit=" rows", unit_scale=True, **out)
        self._bars = [self.reports, self.bytes, self.rows]
        self._ticker = threading.Thread(
            target=self._tick, args=(tick,), name="fouryousee-progress", daemon=True
        )
        self._ticker.start()

    def __enter__(self) -> FetchProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def waiting(self, delta: int) -> None:
        """One more (``+1``) or one fewer (``-1``) report being waited for."""

        def update() -> None:
            self._waiting += delta
            self.reports.set_postfix(waiting=self._waiting)

        self._call(update)

    @contextlib.contextmanager
    def downloading(self) -> Iterator[None]:
        """Around one report file's download: the byte and row clocks run meanwhile."""

        def start() -> None:
            if self._downloading == 0:  # the time since the last download is not counted
                self.bytes.unpause()
                self.rows.unpause()
            self._downloading += 1

        def stop() -> None:
            self._downloading -= 1

        self._call(start)
        try:
            yield
        finally:
            self._call(stop)

    def on_size(self, n_bytes: int) -> None:
        """A download's size (``Content-Length``), or ``-size`` for a discarded stream."""

        def update() -> None:
            if self._expected is not None:
                self._expected += n_bytes
                self.bytes.total = self._expected
                self.bytes.refresh()

        self._call(update)

    def __call__(self, n_bytes: int, n_rows: int) -> None:
        """The bars as ``on_progress`` of a download (with :meth:`on_size`)."""
        self.on_progress(n_bytes, n_rows)

    def on_progress(self, n_bytes: int, n_rows: int) -> None:
        """Bytes and rows downloaded since the last call (negative: a discarded attempt)."""

        def update() -> None:
            self.bytes.update(n_bytes)
            self.rows.update(n_rows)
            if self._expected is not None and self.bytes.n > self._expected:
                self._expected = self.bytes.total = None  # a file came without its size

        self._call(update)

    def window_done(self) -> None:
        """One more window finished."""
        self._call(lambda: self.reports.update(1))

    def close(self) -> None:
        """Stop the clock and close the bars (idempotent)."""
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join()
        with self._lock:
            for bar in self._bars:
                bar.close()

    def _tick(self, seconds: float) -> None:
        while not self._stop.wait(seconds):  # bounded by close()
            self._call(self.reports.refresh)

    def _call(self, fn: Callable[[], None]) -> None:
        if self._bars:
            with self._lock:
                fn()


# The reports bar: no rate (reports finish in bursts), elapsed time and ", waiting=N".
_REPORTS = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
