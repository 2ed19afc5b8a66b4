"""Which engines a block goes through, and the worker threads that run them.

Each block tries the engines in the order C scanner -> Arrow's reader, from
the one ``engine=`` names; a block an engine declines falls to the next one,
and a block every engine declined goes to the careful path (in file order,
in :class:`~._table.TableBuilder`), which names its first bad line. So every
engine gives the same rows and the same errors; only the speed differs.

* ``"auto"`` (the default): the C scanner if built, else Arrow's reader;
* ``"c"``: the C scanner (``ValueError`` if it is not built);
* ``"arrow"``: Arrow's JSON reader;
* ``"careful"``: :mod:`json`, line by line (the definition of a valid line).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, get_args

from fouryousee_data.parse._arrow import read_block
from fouryousee_data.parse._block import BadBlock, Dictionaries, LineIndex, Parsed
from fouryousee_data.parse._fast import BUILT, CDictionaries, scan
from fouryousee_data.parse._table import PythonDictionaries

__all__ = ["ENGINES", "BlockParser", "Engine", "Parsers"]

#: The names ``engine=`` accepts.
Engine = Literal["auto", "c", "arrow", "careful"]
ENGINES: tuple[str, ...] = get_args(Engine)

_MAX_PARSERS = 4  # worker threads parsing blocks (at most the CPU count)


class BlockParser:
    """The fast engines on one block of whole lines (called in a worker thread).

    Returns the block's columns, or a :class:`Parsed` with ``columns=None``
    for the careful path, or with ``too_long`` set for a line over ``max_line``.
    """

    def __init__(self, engine: str, max_line: int) -> None:
        if engine not in ENGINES:
            raise ValueError(
                f"engine must be one of {', '.join(map(repr, ENGINES))}, got {engine!r}"
            )
        if engine == "c" and not BUILT:
            raise ValueError(
                "engine='c' needs the C scanner, which is not built (no C compiler at "
                "install time?): use engine='auto' or 'arrow'"
            )
        self._c = engine in ("auto", "c") and BUILT
        self._arrow = engine != "careful"
        self._max_line = max_line
        self._dicts: CDictionaries | None = None

    @property
    def workers(self) -> int:
        """Worker threads for this engine: one per CPU, at most ``_MAX_PARSERS``; one CPU
        fewer with the C scanner, whose blocks cost about what gunzipping them does: the
        reader thread then keeps a core (on 2 cores one worker read 5 M rows ~10% faster
        than two, side by side; see docs/benchmarks.md), and parses blocks itself while
        its queue is full (:meth:`Parsers.help`)."""
        cpus = os.cpu_count() or 1
        return max(1, min(_MAX_PARSERS, cpus - 1 if self._c else cpus))

    def dictionaries(self) -> Dictionaries:
        """New dictionaries for the read (one per parser): in C with the C scanner (it
        looks values up there and merges its blocks there), else in Python (so
        ``engine="careful"`` and ``"arrow"`` are all Python)."""
        if not self._c:
            return PythonDictionaries()
        self._dicts = CDictionaries()
        return self._dicts

    def __call__(self, parts: list[Any]) -> Parsed:
        """A block given as the pieces of text it is made of (see ``_stream.LineBlocks``)."""
        if not any(len(part) for part in parts):
            return Parsed([], 0, [])
        if self._c and (scanned := scan(parts, self._max_line, self._dicts)) is not None:
            return scanned
        block = Parsed(parts, 0).block  # in one piece for the other paths
        lines = LineIndex.of(block)
        n_lines = len(lines.ends)
        too_long = lines.first_longer_than(self._max_line)
        if too_long is not None:
            return Parsed([block], n_lines, too_long=too_long)
        if self._arrow:
            try:
                return Parsed([block], n_lines, read_block(block, lines))
            except BadBlock:
                pass
        return Parsed([block], n_lines)


class Parsers:
    """Parses blocks in worker threads, in parallel; results come back in order.

    Arrow's JSON reader, the C scanner and numpy release the GIL, so the
    workers use the cores while the main thread stores results and the
    reader thread gunzips (how many: :attr:`BlockParser.workers`). A thread that
    would otherwise wait, the reader with its queue full, parses a block no worker
    has started (:meth:`help`): with one worker on 2 cores the two
    busy threads then share the scanning, and no third one competes for a core.
    At most ``2 * workers`` blocks are in flight; on exit (also on an error) the
    waiting ones are dropped and the workers joined.
    """

    def __init__(self, workers: int, parse: Callable[[list[Any]], Parsed]) -> None:
        self._most = 2 * workers  # blocks in flight
        self._parse = parse
        self._lock = threading.Lock()
        self._posted = threading.Condition(self._lock)  # a job waits, or closed
        self._waiting: deque[_Job] = deque()  # posted, not started
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"fouryousee-parser_{i}", daemon=True)
            for i in range(workers)
        ]

    def __enter__(self) -> Parsers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._closed = True
            self._waiting.clear()
            self._posted.notify_all()
        for thread in self._threads:
            thread.join()

    def map(self, blocks: Iterable[tuple[list[Any], int]]) -> Iterator[tuple[Parsed, int]]:
        """``(parse(block), n)`` for each ``(block, n)``, in order."""
        in_flight: deque[tuple[_Job, int]] = deque()
        for block, n_source in blocks:
            job = _Job(block)
            with self._lock:
                self._waiting.append(job)
                self._posted.notify()
            in_flight.append((job, n_source))
            if len(in_flight) >= self._most:
                job, n = in_flight.popleft()
                yield job.result(), n
        while in_flight:
            job, n = in_flight.popleft()
            yield job.result(), n

    def help(self) -> bool:
        """Parse a block no worker has started, here; False if there is none.

        The newest one: the workers keep taking the blocks in the order the consumer
        needs them, which then waits less for the helper's block."""
        with self._lock:
            if not self._waiting:
                return False
            job = self._waiting.pop()
        job.run(self._parse)
        return True

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    self._posted.wait()
                if self._closed:
                    return
                job = self._waiting.popleft()
            job.run(self._parse)


class _Job:
    """One block to parse, and then its result or its error (``done`` held until then)."""

    __slots__ = ("_block", "_done", "_error", "_result")

    def __init__(self, block: list[Any]) -> None:
        self._block: list[Any] | None = block
        self._result: Parsed | None = None
        self._error: BaseException | None = None
        self._done = threading.Lock()
        self._done.acquire()

    def run(self, parse: Callable[[list[Any]], Parsed]) -> None:
        block, self._block = self._block, None
        try:
            self._result = parse(block)  # type: ignore[arg-type]
        except BaseException as exc:  # raised by result(), in the consumer
            self._error = exc
        finally:
            self._done.release()

    def result(self) -> Parsed:
        """The parsed block, once parsed (the parser's exception raised here)."""
        with self._done:
            pass
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result
