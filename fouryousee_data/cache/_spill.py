"""A report's rows into cached days as they stream in, a day of rows in memory at most.

The parser hands over ~1 MiB blocks of rows in file order. :class:`DaySpill` appends each
block's rows to a temporary Arrow IPC stream file *per day* (so a report that is not
sorted by time, or mixes days, is handled the same way), and keeps nothing in memory.
When the whole report has arrived, :meth:`DaySpill.commit` turns each day's spill into
its cached day, one day at a time (read, sorted, written whole under the day's lock, see
:mod:`._dayfile`; one day at a time in the whole process), and removes the spill. Its
buffers come from the allocators :mod:`._heap` sets up, and go back to the OS after
each day. A
stream that broke is :meth:`~DaySpill.discard`-ed: no cached day ever holds part of a
report.

Spills live in ``.spill-*`` folders of the account's cache folder (dot-named: dataset
readers skip them) and are removed on commit or discard.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fouryousee_data.cache._dayfile import CachedDay
from fouryousee_data.cache._heap import POOL, bound_heap, release_memory
from fouryousee_data.cache._leftovers import SPILL_PREFIX
from fouryousee_data.schema import PLAYLOG_SCHEMA

__all__ = ["DaySpill"]

log = logging.getLogger("fouryousee_data.cache")

_EPOCH = dt.date(1970, 1, 1)
_SECONDS_PER_DAY = 86_400
#: Later blocks' dictionaries extend earlier ones: written as deltas, not again whole.
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(emit_dictionary_deltas=True)
#: Days are sorted and written by one thread of the process, one day at a time: memory
#: holds one day being written, not one per window in flight, and the allocator's
#: per-thread caches of one thread only (measured: ~20 MB less with two windows).
_WRITER: list[ThreadPoolExecutor] = []
_WRITER_LOCK = threading.Lock()


def _writer() -> ThreadPoolExecutor:
    with _WRITER_LOCK:
        if not _WRITER:
            _WRITER.append(ThreadPoolExecutor(1, thread_name_prefix="fouryousee-day-writer"))
        return _WRITER[0]


class DaySpill:
    """The rows of ``days`` (and the ids, when given) from one report, spilled per day.

    ``write(day, table)`` stores one day (``PlaylogCache.write_day`` with the report's
    lineage bound). Rows of other days are dropped, as the report's filter asked for
    whole days only.

    Examples
    --------
    >>> import tempfile
    >>> days = [dt.date(2024, 3, 1), dt.date(2024, 3, 2)]
    >>> spill = DaySpill(tempfile.mkdtemp(), days, write=lambda day, t: t.num_rows)
    >>> at = [dt.datetime(2024, 3, 2, 8), dt.datetime(2024, 3, 3, 1), dt.datetime(2024, 3, 1, 9)]
    >>> spill.add(pa.RecordBatch.from_pylist(
    ...     [{"played_at": t, "player_id": 1, "media_id": 2} for t in at], schema=PLAYLOG_SCHEMA))
    >>> spill.commit()  # 2024-03-03 is not one of the days
    [1, 1]
    """

    def __init__(
        self,
        folder: str | Path,
        days: Iterable[dt.date],
        *,
        write: Callable[[dt.date, pa.Table], CachedDay | int],
        player_ids: Sequence[int] = (),
        media_ids: Sequence[int] = (),
    ) -> None:
        self._folder = Path(folder)
        self._days = {(d - _EPOCH).days: d for d in sorted(set(days))}
        self._write = write
        self._ids = {"player_id": list(player_ids), "media_id": list(media_ids)}
        self._dir: Path | None = None
        self._writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        self.rows = 0
        #: Rows received, of any day or id (``rows`` counts those kept).
        self.seen = 0
        bound_heap()

    @property
    def empty(self) -> bool:
        """Whether the report brought no row at all (``url: null``, an empty file or gzip):
        maybe a store glitch, so its days are provisional until a later report agrees."""
        return self.seen == 0

    def add(self, batch: pa.RecordBatch) -> None:
        """Append one block's rows to the spills of their days."""
        self.seen += batch.num_rows
        if not batch.num_rows:
            return
        stamps = batch.column(0).to_numpy(zero_copy_only=False).view(np.int64)
        day_numbers = stamps // _SECONDS_PER_DAY
        keep = np.isin(day_numbers, list(self._days))
        for name, ids in self._ids.items():
            if ids:
                keep &= np.isin(batch.column(name).to_numpy(zero_copy_only=False), ids)
        first, last = day_numbers[0], day_numbers[-1]
        if first == last and keep.all():  # the usual block: one day, all kept
            self._append(int(first), batch)
            return
        for number in np.unique(day_numbers[keep]):
            mask = pa.array(keep & (day_numbers == number))
            self._append(int(number), pc.filter(batch, mask, memory_pool=POOL))

    def _append(self, number: int, batch: pa.RecordBatch) -> None:
        writer = self._writers.get(number)
        if writer is None:
            if self._dir is None:
                self._folder.mkdir(parents=True, exist_ok=True)
                self._dir = Path(tempfile.mkdtemp(prefix=SPILL_PREFIX, dir=self._folder))
            path = self._dir / f"{self._days[number].isoformat()}.arrows"
            writer = pa.ipc.new_stream(str(path), PLAYLOG_SCHEMA, options=_IPC_OPTIONS)
            self._writers[number] = writer
        writer.write_batch(batch)
        self.rows += batch.num_rows

    def commit(self) -> list[CachedDay | int]:
        """Write every day (one with no rows too) as a cached day, one at a time, in
        day order; the spill is removed. Returns what ``write`` returned for each."""
        try:
            written = []
            for number, day in self._days.items():
                written.append(_writer().submit(self._write_day, number, day).result())
            return written
        finally:
            self.discard()

    def _write_day(self, number: int, day: dt.date) -> CachedDay | int:
        try:
            return self._write(day, self._day_rows(number))
        finally:
            release_memory()  # what writing the day freed (and, for the first, the stream)

    def _day_rows(self, number: int) -> pa.Table:
        """One day's spilled rows (read back, one dictionary per column), or none."""
        writer = self._writers.pop(number, None)
        if writer is None or self._dir is None:
            return PLAYLOG_SCHEMA.empty_table()
        writer.close()
        path = self._dir / f"{self._days[number].isoformat()}.arrows"
        with pa.OSFile(str(path), memory_pool=POOL) as source:
            table = pa.ipc.open_stream(source, memory_pool=POOL).read_all()
        path.unlink()
        table = table.unify_dictionaries(POOL).combine_chunks(POOL)
        # sorted here, stably, so that writing the day finds it sorted and copies nothing
        order = pc.sort_indices(table, [("played_at", "ascending")], memory_pool=POOL)
        return pc.take(table, order, memory_pool=POOL)

    def discard(self) -> None:
        """Drop every spill (the stream broke or is done)."""
        for writer in self._writers.values():
            try:
                writer.close()
            except (OSError, pa.ArrowException) as exc:
                log.debug("cache: closing a spill: %s", exc)
        self._writers.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self.rows = 0
