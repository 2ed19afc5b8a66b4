"""Progress bars for :func:`~fouryousee_data.fetch_playlogs`: reports, bytes, rows.

The bars are tqdm's (``tqdm.auto``: a widget in a notebook, text on a terminal).
:func:`want_progress` decides whether to show them; :class:`FetchProgress` is the
three bars, safe to update from every window thread, or nothing when disabled.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["FetchProgress", "in_notebook", "stderr_is_tty", "want_progress"]


def want_progress(progress: bool | None) -> bool:
    """Whether to show progress bars: ``progress`` if given, else when interactive.

    Interactive means a Jupyter kernel, or a standard error that is a terminal.

    Examples
    --------
    >>> want_progress(True), want_progress(False)
    (True, False)
    """
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

    Every method may be called from any thread; with ``enabled=False`` they do nothing.

    Parameters
    ----------
    windows
        The number of report windows (the total of the ``reports`` bar).
    enabled
        Show the bars (see :func:`want_progress`).

    Examples
    --------
    >>> with FetchProgress(2, enabled=False) as bars:
    ...     bars.waiting(1); bars.on_progress(1024, 10); bars.window_done()
    """

    def __init__(self, windows: int, *, enabled: bool) -> None:
        self._lock = threading.Lock()
        self._waiting = 0
        self._bars: list[Any] = []
        if not enabled:
            return
        from tqdm.auto import tqdm

        self.reports = tqdm(total=windows, desc="reports", unit="report")
        self.bytes = tqdm(desc="download", unit="B", unit_scale=True, unit_divisor=1024)
        self.rows = tqdm(desc="rows", unit=" rows", unit_scale=True)
        self._bars = [self.reports, self.bytes, self.rows]

    def __enter__(self) -> FetchProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def waiting(self, delta: int) -> None:
        """One more (``+1``) or one fewer (``-1``) report being waited for."""

        def update() -> None:
            self._waiting += delta
            self.reports.set_postfix(waiting=self._waiting, refresh=False)

        self._call(update)

    def on_progress(self, n_bytes: int, n_rows: int) -> None:
        """Bytes and rows downloaded since the last call (negative: a discarded attempt)."""

        def update() -> None:
            self.bytes.update(n_bytes)
            self.rows.update(n_rows)

        self._call(update)

    def window_done(self) -> None:
        """One more window finished."""
        self._call(lambda: self.reports.update(1))

    def close(self) -> None:
        """Close the bars (idempotent)."""
        for bar in self._bars:
            bar.close()

    def _call(self, fn: Callable[[], None]) -> None:
        if self._bars:
            with self._lock:
                fn()
