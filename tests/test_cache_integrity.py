"""The cache's own bytes are checked: the read copy's checksum and category codes, Parquet
page checksums, and random byte flips in either file against the simulator."""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fouryousee_data as fy
from conftest import fast_client
from fouryousee_data.cache import READ_COPY_NAME, PlaylogCache
from fouryousee_data.cache._readcopy import MAGIC, PREFIX, seal, sections
from fouryousee_data.filters import ALL_SCOPE
from fouryousee_data.report import Report
from fouryousee_data.schema import PLAYLOG_SCHEMA
from fouryousee_data.simulator import Simulator

FP = "00112233aabbccdd"
DAY = dt.date(2024, 3, 1)
REPORT = Report(id=7, status="success", created_at=dt.datetime(2024, 3, 10, tzinfo=dt.UTC))


def day_rows(n: int = 500, seed: int = 0) -> pa.Table:
    """``n`` plays of :data:`DAY` in the playlog schema (three short dictionaries)."""
    rng = random.Random(seed)
    start = pd.Timestamp(DAY)
    return pa.Table.from_pylist(
        [
            {
                "played_at": start + pd.Timedelta(seconds=rng.randrange(86_400)),
                "account": "acme",
                "player_id": rng.randint(1, 9),
                "media_id": rng.randint(100, 140),
                "media_type": rng.choice("IV"),
                "ip": f"10.0.0.{rng.randint(1, 9)}",
            }
            for _ in range(n)
        ],
        PLAYLOG_SCHEMA,
    )


@pytest.fixture
def cache(tmp_path: Path) -> PlaylogCache:
    c = PlaylogCache(tmp_path, FP)
    c.store_days(day_rows(), [DAY], report=REPORT)
    return c


def parquet_of(cache: PlaylogCache) -> Path:
    return cache.day_path(ALL_SCOPE, DAY)


def copy_of(cache: PlaylogCache) -> Path:
    return parquet_of(cache).with_name(READ_COPY_NAME)


def flip(path: Path, at: int, bit: int = 0, *, keep_mtime: bool = True) -> None:
    """Flip one bit of ``path`` in place (the same size; the same mtime if asked)."""
    before = path.stat()
    with open(path, "r+b") as file:
        file.seek(at)
        byte = file.read(1)[0]
        file.seek(at)
        file.write(bytes([byte ^ (1 << bit)]))
    if keep_mtime:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_a_flipped_bit_in_the_read_copy_data_is_a_miss_that_heals(cache: PlaylogCache) -> None:
    expected = cache.load([DAY]).table.to_pylist()
    copy = copy_of(cache)
    data = copy.read_bytes()
    _, _, columns = sections(copy)  # played_at, account, player_id, media_id, ...
    at = len(data) - sum(len(c) for c in columns) + sum(len(c) for c in columns[:3])
    assert data[at : at + 4] == bytes([expected[0]["media_id"], 0, 0, 0])  # int32
    flip(copy, at, bit=6)  # the same size and mtime: only the checksum tells
    first = cache.load([DAY])
    assert first.table.to_pylist() == expected
    assert first.from_parquet == [DAY]  # the copy was refused...
    assert copy.read_bytes() == data  # ...and written again, whole
    second = cache.load([DAY])
    assert second.from_parquet == [] and second.table.to_pylist() == expected


def test_category_codes_past_their_dictionary_are_refused_even_with_a_good_checksum(
    cache: PlaylogCache,
) -> None:
    expected = cache.load([DAY]).table.to_pylist()
    copy = copy_of(cache)
    header, dictionaries, columns = sections(copy)
    n_ips, _ = header["dictionaries"]["ip"]
    for code in (n_ips, n_ips + 100, -2):  # past the end; far past; below -1 (null)
        bad_ip = np.full(header["rows"], code, header["columns"]["ip"])
        seal(copy, header, dictionaries, [*([c] for c in columns[:-1]), [bad_ip]])  # CRCs right
        loaded = cache.load([DAY])
        assert loaded.from_parquet == [DAY] and loaded.table.to_pylist() == expected


def test_a_copy_with_nulls_checks_codes_both_ways(tmp_path: Path) -> None:
    rows = day_rows(50).to_pylist()
    for i in range(0, 50, 7):
        rows[i]["ip"] = None
    c = PlaylogCache(tmp_path, FP)
    c.store_days(pa.Table.from_pylist(rows, PLAYLOG_SCHEMA), [DAY], report=REPORT)
    expected = c.load([DAY]).table.to_pylist()
    assert sum(r["ip"] is None for r in expected) == 8 and c.load([DAY]).from_parquet == []
    copy = copy_of(c)
    header, dictionaries, columns = sections(copy)
    assert header["nulls"]["ip"] == 8
    for code in (-2, header["dictionaries"]["ip"][0]):
        bad_ip = np.frombuffer(columns[-1], header["columns"]["ip"]).copy()
        bad_ip[3] = code
        seal(copy, header, dictionaries, [*([col] for col in columns[:-1]), [bad_ip]])
        loaded = c.load([DAY])
        assert loaded.from_parquet == [DAY] and loaded.table.to_pylist() == expected


def test_a_flipped_bit_in_the_header_or_a_dictionary_is_a_miss_that_heals(
    cache: PlaylogCache,
) -> None:
    expected = cache.load([DAY]).table.to_pylist()
    copy = copy_of(cache)
    data = copy.read_bytes()
    header, dictionaries, columns = sections(copy)
    at_ip = len(data) - sum(len(c) for c in columns) - len(dictionaries[-1])
    assert data[at_ip : at_ip + 7] == b"10.0.0."  # the first ip
    at_rows = PREFIX.size  # the head starts with the row count (u64)
    assert int.from_bytes(data[at_rows : at_rows + 8], "little") == header["rows"]
    for at in (at_rows, at_ip + 7):  # the row count; the ip's last digit
        flip(copy, at, bit=0)
        first = cache.load([DAY])
        assert first.from_parquet == [DAY] and first.table.to_pylist() == expected
        assert copy.read_bytes() == data and copy.read_bytes().startswith(MAGIC)


def test_parquet_pages_carry_checksums_that_are_verified(cache: PlaylogCache) -> None:
    path = parquet_of(cache)
    copy_of(cache).unlink()  # read the Parquet file itself
    meta = pq.ParquetFile(path).metadata.row_group(0).column(2)  # player_id
    assert meta.path_in_schema == "player_id"
    # The last byte of player_id's dictionary page: a value, past the page header.
    at = meta.data_page_offset - 1
    flip(path, at, bit=1)
    unchecked = pq.read_table(path).column("player_id").to_pylist()
    assert unchecked != day_rows().sort_by("played_at").column("player_id").to_pylist()
    loaded = cache.load([DAY])  # verified: a miss, never those values
    assert DAY not in loaded.served and loaded.table.num_rows == 0


def test_files_with_page_checksums_read_in_duckdb_and_pyarrow(cache: PlaylogCache) -> None:
    pattern = f"{cache.path}/**/*.parquet"
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{pattern}', hive_partitioning=true)")
    assert n.fetchall() == [(500,)]
    assert pq.read_table(parquet_of(cache)).num_rows == 500


# -- random bit flips ---------------------------------------------------------------------
#: Flips tried on the cache alone (each file kind half the time; cheap: no refetch).
CACHE_FLIPS = 300
#: Flips tried end to end, through fetch_playlogs against the simulator.
FETCH_FLIPS = 24


def test_random_bit_flips_in_either_file_serve_the_rows_or_miss(cache: PlaylogCache) -> None:
    """300 seeded trials: one random bit of the day's read copy or Parquet file is flipped
    (its mtime kept or not); the cache serves the very rows written, or misses the day.
    Before each trial both files are put back as written."""
    expected = day_rows().sort_by("played_at")
    files = [parquet_of(cache), copy_of(cache)]
    pristine = [(f.read_bytes(), f.stat()) for f in files]
    rng = random.Random(99)
    served = missed = 0
    for trial in range(CACHE_FLIPS):
        path = files[trial % 2]
        at, bit = rng.randrange(path.stat().st_size), rng.randrange(8)
        flip(path, at, bit, keep_mtime=rng.random() < 0.5)
        loaded = cache.load([DAY])
        if DAY in loaded.served:
            assert loaded.table.equals(expected), (trial, path.name, at, bit)
            served += 1
        else:
            missed += 1
        flip(path, at, bit)  # back as written (a healed copy: written back below)
        for i, (f, (data, stat)) in enumerate(zip(files, pristine, strict=True)):
            if f.stat().st_ino != stat.st_ino:
                f.write_bytes(data)
                pristine[i] = (data, f.stat())
            os.utime(f, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert served + missed == CACHE_FLIPS and served and missed


@pytest.mark.slow
def test_random_bit_flips_give_the_clean_frame_or_a_typed_error(
    make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    """24 seeded trials end to end: one random bit of one random cached file (a read copy
    or a Parquet file, its mtime kept or not) is flipped, then the same fetch runs again.
    It returns the clean frame, or raises a typed error; never another frame, never a
    crash. A damaged Parquet file is fetched again, a damaged copy is rewritten."""
    sim = make_simulator(report_delay=0.0)
    with fast_client(sim) as api:
        options = {"client": api, "cache_dir": tmp_path, "progress": False, "poll_interval": 0.01}
        clean = fy.fetch_playlogs("2024-03-04", "2024-03-05", **options)
        assert len(clean) > 100
        files = [*tmp_path.rglob("part-0.parquet"), *tmp_path.rglob(READ_COPY_NAME)]
        assert len(files) == 4
        rng = random.Random(1234)
        clean_runs = 0
        for trial in range(FETCH_FLIPS):
            path = files[trial % len(files)]
            at, bit = rng.randrange(path.stat().st_size), rng.randrange(8)
            flip(path, at, bit, keep_mtime=rng.random() < 0.5)
            try:
                again = fy.fetch_playlogs("2024-03-04", "2024-03-05", **options)
            except fy.FouryouseeError:
                continue
            # The same rows; a refetched day may list its categories in another order.
            pd.testing.assert_frame_equal(again, clean, check_categorical=False)
            clean_runs += 1
    assert clean_runs > 0
