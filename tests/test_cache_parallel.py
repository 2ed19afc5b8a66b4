"""Reading the days' read copies on two threads (cache/_parallel.py, cache/_block.py): the
halves really run at once, a day that fails in either half is a miss that heals (or the
error itself, once both halves are done), no file is left open, and a forked child reads
with its own worker."""

from __future__ import annotations

import datetime as dt
import os
import random
import select
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import fouryousee_data.cache._block as block_module
import fouryousee_data.cache._parallel as parallel
from fouryousee_data.cache import READ_COPY_NAME, PlaylogCache
from fouryousee_data.cache._readcopy import Copy, identity, open_copy, write_copy
from fouryousee_data.filters import ALL_SCOPE
from fouryousee_data.report import Report
from fouryousee_data.schema import PLAYLOG_SCHEMA

FP = "0123456789abcdef"
FIRST = dt.date(2024, 3, 1)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(6)]
REPORT = Report(id=3, status="success", created_at=dt.datetime(2024, 4, 1, tzinfo=dt.UTC))
WAIT = 20.0  # seconds: only ever reached when something is broken


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PlaylogCache:
    """Six days of one report; every read, however small, goes parallel."""
    monkeypatch.setattr(parallel, "PARALLEL_BYTES", 0)
    rng = random.Random(4)
    rows = [
        {
            "played_at": pd.Timestamp(day) + pd.Timedelta(seconds=rng.randrange(86_400)),
            "account": "acme",
            "player_id": rng.randint(1, 6),
            "media_id": rng.randint(100, 110),
            "media_type": rng.choice("IV"),
            "ip": f"10.0.{rng.randrange(5)}.1",
        }
        for day in DAYS
        for _ in range(200)
    ]
    c = PlaylogCache(tmp_path, FP)
    c.store_days(pa.Table.from_pylist(rows, PLAYLOG_SCHEMA), DAYS, report=REPORT)
    return c


def copy_of(cache: PlaylogCache, day: dt.date) -> Path:
    return cache.day_path(ALL_SCOPE, day).with_name(READ_COPY_NAME)


def open_fds() -> list[str]:
    fds = Path("/proc/self/fd")
    return sorted(str(f.readlink()) for f in fds.iterdir() if f.is_symlink())


def reading_threads(monkeypatch: pytest.MonkeyPatch) -> dict[dt.date | None, int]:
    """Record which thread read each copy (by the copy's path)."""
    seen: dict[dt.date | None, int] = {}
    real = Copy.read_into

    def read_into(self: Copy, *args: object, **kwargs: object) -> None:
        day = dt.date.fromisoformat(Path(self.path or "").parent.name.removeprefix("date="))
        seen[day] = threading.get_ident()
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Copy, "read_into", read_into)
    return seen


def test_split_runs_both_halves_at_once_in_order() -> None:
    worker_ran = threading.Event()

    def work(item: int) -> tuple[int, bool]:
        if item >= 2:  # the worker's half (the later items)
            worker_ran.set()
            return item, True
        # The caller's half waits for the worker's: it returns True only if both ran at once.
        return item, worker_ran.wait(WAIT)

    got = parallel.split(work, [0, 1, 2, 3], [parallel.PARALLEL_BYTES] * 4)
    assert got == [(0, True), (1, True), (2, True), (3, True)]


def test_split_keeps_small_work_on_the_calling_thread() -> None:
    ids = parallel.split(lambda _: threading.get_ident(), [1, 2, 3], [10, 10, 10])
    assert ids == [threading.get_ident()] * 3


def test_split_runs_on_the_caller_when_no_thread_can_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At interpreter shutdown an executor takes no new work: the read runs on the caller."""
    closed = ThreadPoolExecutor(1)
    closed.shutdown()
    monkeypatch.setattr(parallel, "_worker", lambda: closed)
    ids = parallel.split(lambda _: threading.get_ident(), [1, 2], [parallel.PARALLEL_BYTES] * 2)
    assert ids == [threading.get_ident()] * 2


@pytest.mark.parametrize("failing", ["caller", "worker"])
def test_split_raises_only_once_both_halves_are_done(failing: str) -> None:
    caller_done = threading.Event()
    finished: list[int] = []

    def work(item: int) -> int:
        if item == 0:  # the caller's half
            caller_done.set()
            if failing == "caller":
                raise RuntimeError("caller")
            return item
        caller_done.wait(WAIT)  # the worker's half ends after the caller's
        sum(range(200_000))  # and takes a moment
        finished.append(item)
        if failing == "worker":
            raise RuntimeError("worker")
        return item

    with pytest.raises(RuntimeError, match=failing):
        parallel.split(work, [0, 1], [parallel.PARALLEL_BYTES] * 2)
    assert finished == [1]  # the worker was done with the caller's arrays before it raised


def test_both_halves_are_read_on_two_threads(
    cache: PlaylogCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = cache.load(DAYS).frame()
    seen = reading_threads(monkeypatch)
    loaded = cache.load(DAYS)
    assert sorted(seen) == DAYS and len(set(seen.values())) == 2
    assert seen[DAYS[0]] == threading.get_ident() != seen[DAYS[-1]]
    pd.testing.assert_frame_equal(loaded.frame(), expected)


def test_damaged_copies_in_either_half_are_misses_that_heal(
    cache: PlaylogCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = cache.load(DAYS).frame()
    before = open_fds()
    for day in (DAYS[0], DAYS[4]):  # read by the caller; by the worker
        data = bytearray(copy_of(cache, day).read_bytes())
        data[-700] ^= 0x04  # a media_id: only the data checksum tells
        copy_of(cache, day).write_bytes(bytes(data))
    seen = reading_threads(monkeypatch)
    loaded = cache.load(DAYS)
    assert seen[DAYS[0]] != seen[DAYS[4]]
    assert loaded.from_parquet == [DAYS[0], DAYS[4]]
    pd.testing.assert_frame_equal(loaded.frame(), expected, check_categorical=False)
    again = cache.load(DAYS)
    assert again.from_parquet == []
    pd.testing.assert_frame_equal(again.frame(), expected)
    assert open_fds() == before


def test_an_error_in_the_worker_is_raised_with_no_file_left_open(
    cache: PlaylogCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = open_fds()
    real = Copy.read_into

    def read_into(self: Copy, *args: object, **kwargs: object) -> None:
        if str(DAYS[5]) in str(self.path):  # the last day: the worker's half
            raise MemoryError("no memory for the read")
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Copy, "read_into", read_into)
    with pytest.raises(MemoryError):
        cache.load(DAYS)
    assert open_fds() == before


def test_a_forked_child_reads_with_its_own_worker(cache: PlaylogCache) -> None:
    """The parent's worker thread does not exist in a forked child: the child makes its own
    (a child that used the parent's executor would wait forever)."""
    expected = len(cache.load(DAYS).frame())  # the parent's worker exists now
    assert block_module.split is parallel.split
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write, str(len(cache.load(DAYS).frame())).encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], WAIT)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        assert ready, "the forked child did not finish its read"
        assert int(os.read(read, 100)) == expected
    finally:
        os.close(read)
        os.waitpid(pid, 0)


def test_a_copy_holding_the_next_days_rows_is_a_miss_among_many_days(
    cache: PlaylogCache,
) -> None:
    """A well-formed copy (checksums right) of day 3 whose rows are day 4's: found by the
    rows' day check over the whole range, which names that day, and healed."""
    expected = cache.load(DAYS).frame()
    path = cache.day_path(ALL_SCOPE, DAYS[3])
    with open_copy(path, identity(path)) as genuine:
        metadata = genuine.metadata
    next_day = cache.load([DAYS[4]]).table
    write_copy(path, next_day, metadata, identity(path))
    loaded = cache.load(DAYS)
    assert loaded.from_parquet == [DAYS[3]]
    pd.testing.assert_frame_equal(loaded.frame(), expected, check_categorical=False)
