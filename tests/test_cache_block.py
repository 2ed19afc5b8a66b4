"""Reading several cached days into range-wide columns (cache/_block.py): the frame made of
those arrays is the frame ``to_pandas`` makes of the days' Arrow tables, whatever their
dictionaries, nulls, cuts, and wherever each day came from (read copy, Parquet, a damaged copy)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import fouryousee_data.cache._block as block_module
import fouryousee_data.cache._store as store
from fouryousee_data.cache import READ_COPY_NAME, PlaylogCache
from fouryousee_data.cache._readcopy import seal, sections
from fouryousee_data.filters import ALL_SCOPE
from fouryousee_data.report import Report
from fouryousee_data.schema import PLAYLOG_SCHEMA, to_pandas

FP = "0123456789abcdef"
FIRST = dt.date(2024, 3, 1)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(6)]
REPORT = Report(id=3, status="success", created_at=dt.datetime(2024, 4, 1, tzinfo=dt.UTC))


def day_rows(day: dt.date, n: int, rng: random.Random, ips: int) -> list[dict[str, object]]:
    """``n`` plays of ``day``: a few missing categories, ips drawn from ``ips`` values."""
    start = pd.Timestamp(day)
    return [
        {
            "played_at": start + pd.Timedelta(seconds=rng.randrange(86_400)),
            "account": None if rng.random() < 0.05 else rng.choice(["acme", "beta"]),
            "player_id": rng.randint(1, 6),
            "media_id": rng.randint(100, 110),
            "media_type": rng.choice("IV"),
            "ip": None if rng.random() < 0.05 else f"10.0.{rng.randrange(ips)}.1",
        }
        for _ in range(n)
    ]


def filled(tmp_path: Path, seed: int, ips: int = 5) -> PlaylogCache:
    """Six days written as separate reports (each day its own dictionaries, in its own
    order; one day empty), so their categories must be unified."""
    rng = random.Random(seed)
    cache = PlaylogCache(tmp_path, FP)
    for i, day in enumerate(DAYS):
        n = 0 if i == 2 else rng.randint(1, 300)
        table = pa.Table.from_pylist(day_rows(day, n, rng, ips), PLAYLOG_SCHEMA)
        cache.store_days(table, [day], report=REPORT)
    return cache


def by_parts(cache: PlaylogCache, **kwargs: object) -> pd.DataFrame:
    """The reference: the days' Arrow tables, concatenated and converted."""
    loaded = cache.load(DAYS, **kwargs)  # type: ignore[arg-type]
    tables = [t for _, t in loaded.parts] or [PLAYLOG_SCHEMA.empty_table()]
    return to_pandas(pa.concat_tables(tables), kwargs.get("tz"))  # type: ignore[arg-type]


CUTS: list[dict[str, object]] = [
    {},
    {"start": pd.Timestamp("2024-03-02 13:30:07"), "end": pd.Timestamp("2024-03-05 08:00")},
    {"player_ids": [2, 5]},
    {"media_ids": [101], "start": pd.Timestamp("2024-03-04")},
    {"player_ids": [99]},  # nothing
    {"tz": "America/Sao_Paulo"},
]


@pytest.mark.parametrize("seed", range(4))
def test_the_frame_of_the_block_is_the_frame_of_the_days_tables(tmp_path: Path, seed: int) -> None:
    cache = filled(tmp_path, seed, ips=5 if seed % 2 else 300)  # int8 or int16 codes
    for cut in CUTS:
        loaded = cache.load(DAYS, **cut)  # type: ignore[arg-type]
        assert loaded.from_parquet == [] and list(loaded.served) == DAYS
        pd.testing.assert_frame_equal(loaded.frame(cut.get("tz")), by_parts(cache, **cut))  # type: ignore[arg-type]


def test_days_from_parquet_and_damaged_copies_mix_in(tmp_path: Path) -> None:
    cache = filled(tmp_path, 7)
    expected = cache.load(DAYS).frame()
    copies = [cache.day_path(ALL_SCOPE, d).with_name(READ_COPY_NAME) for d in DAYS]
    copies[1].unlink()  # read from Parquet
    data = bytearray(copies[4].read_bytes())
    data[-3] ^= 0x10  # a code: only the checksum tells
    copies[4].write_bytes(bytes(data))
    loaded = cache.load(DAYS)
    assert loaded.from_parquet == [DAYS[1], DAYS[4]]
    # A day read from Parquet may list its categories in another order (as a refetch).
    pd.testing.assert_frame_equal(loaded.frame(), expected, check_categorical=False)
    pd.testing.assert_frame_equal(loaded.frame(), by_parts(cache))
    again = cache.load(DAYS)
    assert again.from_parquet == []  # both copies were written again
    pd.testing.assert_frame_equal(again.frame(), expected, check_categorical=False)


def test_the_frame_is_made_of_the_arrays_read(tmp_path: Path) -> None:
    cache = filled(tmp_path, 3)
    loaded = cache.load(DAYS)
    assert loaded.block is not None
    df = loaded.frame()
    base = loaded.block.columns["played_at"].base
    for name in ("played_at", "player_id", "media_id"):
        assert df[name].to_numpy().base is not None  # a view, not a copy...
    assert all(v.base is base for v in loaded.block.columns.values())  # ...of one buffer
    assert df["player_id"].to_numpy().ctypes.data == loaded.block.columns["player_id"].ctypes.data


def test_codes_past_the_dictionary_in_any_day_of_a_run_are_found(tmp_path: Path) -> None:
    """Days that share a dictionary have their codes checked in one pass; a bad code
    (with right checksums) in any of them still refuses exactly that day's copy."""
    rng = random.Random(5)
    cache = PlaylogCache(tmp_path, FP)
    rows = [r for day in DAYS for r in day_rows(day, 40, rng, ips=4)]
    cache.store_days(pa.Table.from_pylist(rows, PLAYLOG_SCHEMA), DAYS, report=REPORT)
    expected = cache.load(DAYS).frame()
    copy = cache.day_path(ALL_SCOPE, DAYS[3]).with_name(READ_COPY_NAME)
    header, dictionaries, columns = sections(copy)
    n_ips = header["dictionaries"]["ip"][0]
    ips = np.frombuffer(columns[-1], header["columns"]["ip"]).copy()
    ips[17] = n_ips  # one past the end: still a small number
    seal(copy, header, dictionaries, [*([c] for c in columns[:-1]), [ips]])
    loaded = cache.load(DAYS)
    assert loaded.from_parquet == [DAYS[3]]
    pd.testing.assert_frame_equal(loaded.frame(), expected, check_categorical=False)


def test_a_long_range_keeps_few_copies_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``MAX_OPEN_COPIES`` days, a load closes each copy once it is found and opens it
    again to read it: the same frame, a bounded number of open files."""
    cache = filled(tmp_path, 11)
    expected = cache.load(DAYS).frame()
    real = store.read_block
    open_copies: list[int] = []

    def counting(sources: list[object], query: object) -> object:
        fds = Path("/proc/self/fd")
        names = [str(f.readlink()) for f in fds.iterdir() if f.is_symlink()]
        open_copies.append(sum(n.endswith(READ_COPY_NAME) for n in names))
        return real(sources, query)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "read_block", counting)
    monkeypatch.setattr(store, "MAX_OPEN_COPIES", 2)
    loaded = cache.load(DAYS)
    assert open_copies == [2] and loaded.from_parquet == []
    pd.testing.assert_frame_equal(loaded.frame(), expected)


def test_a_large_range_starts_at_a_huge_page_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A range of 4 MB or more is read into columns that start at a 2 MiB boundary (huge
    pages for all of it when the memory is fresh from the kernel); the same frame."""
    cache = filled(tmp_path, 3)
    expected = cache.load(DAYS).frame()
    monkeypatch.setattr(block_module, "_ALIGN_FROM", 0)  # as if this range were that large
    loaded = cache.load(DAYS)
    assert loaded.block is not None
    assert min(v.ctypes.data for v in loaded.block.columns.values()) % (2 << 20) == 0
    pd.testing.assert_frame_equal(loaded.frame(), expected)


def test_days_of_one_report_share_their_categories_dtype_across_reads(tmp_path: Path) -> None:
    """The days of one report share their dictionaries: two reads give frames whose
    categorical dtypes are the same object (pandas checks categories once), equal frames."""
    rng = random.Random(8)
    cache = PlaylogCache(tmp_path, FP)
    rows = [r for day in DAYS for r in day_rows(day, 30, rng, ips=4)]
    cache.store_days(pa.Table.from_pylist(rows, PLAYLOG_SCHEMA), DAYS, report=REPORT)
    first, second = cache.load(DAYS).frame(), cache.load(DAYS).frame()
    for name in ("account", "media_type", "ip"):
        assert first[name].dtype is second[name].dtype
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(first, by_parts(cache))
