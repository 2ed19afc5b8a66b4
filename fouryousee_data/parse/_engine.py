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
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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
        reader thread, the critical path, then keeps a core (on 2 cores one worker read
        5 M rows ~10% faster than two, side by side; see docs/benchmarks.md)."""
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
    reader thread gunzips (how many: :attr:`BlockParser.workers`). At most
    ``2 * workers`` blocks are in flight; on exit (also on an error) the pending
    ones are cancelled and the workers joined.
    """

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="fouryousee-parser")

    def __enter__(self) -> Parsers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def map(
        self, blocks: Iterable[tuple[list[Any], int]], parse: Callable[[list[Any]], Parsed]
    ) -> Iterator[tuple[Parsed, int]]:
        """``(parse(block), n)`` for each ``(block, n)``, in order."""
        in_flight: deque[tuple[Future[Parsed], int]] = deque()
        for block, n_source in blocks:
            in_flight.append((self._pool.submit(parse, block), n_source))
            if len(in_flight) >= 2 * self._workers:
                future, n = in_flight.popleft()
                yield future.result(), n
        while in_flight:
            future, n = in_flight.popleft()
            yield future.result(), n
