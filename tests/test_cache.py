"""The Parquet cache on its own: layout, atomic days, metadata, corrupt files, info/clear."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import fouryousee_data as fy
from fouryousee_data.cache import (
    ALL_SCOPE,
    READ_COPY_NAME,
    CachedDay,
    PlaylogCache,
    day_end_utc,
    parse_settle,
)
from fouryousee_data.cache._readcopy import (
    LEGACY_NAME,
    MAGIC,
    identity,
    open_copy,
    seal,
    sections,
    write_copy,
)
from fouryousee_data.filters import scope
from fouryousee_data.report import Report
from fouryousee_data.schema import PLAYLOG_SCHEMA, normalize_ids, to_pandas

FP = "00112233aabbccdd"
DAY = dt.date(2024, 3, 1)


def playlogs(rows: list[tuple[str, int, int]]) -> pa.Table:
    """A table in the playlog schema from (played_at, player_id, media_id)."""
    return pa.table(
        {
            "played_at": pa.array([pd.Timestamp(r[0]) for r in rows], pa.timestamp("s")),
            "account": pa.array(["acme"] * len(rows)).dictionary_encode(),
            "player_id": pa.array([r[1] for r in rows], pa.int32()),
            "media_id": pa.array([r[2] for r in rows], pa.int32()),
            "media_type": pa.array(["I"] * len(rows)).dictionary_encode(),
            "ip": pa.array([None] * len(rows), pa.string()).dictionary_encode(),
        },
        schema=PLAYLOG_SCHEMA,
    )


def report(rid: int = 7, created: str = "2024-03-10T00:00:00+00:00", **filt: object) -> Report:
    return Report.from_api({"id": rid, "status": "success", "createdAt": created, "filter": filt})


ROWS = [
    ("2024-03-01 10:00:00", 1, 10),
    ("2024-03-01 09:00:00", 2, 11),
    ("2024-03-01 09:00:00", 1, 12),  # same second as the row above: order kept
    ("2024-03-02 08:00:00", 1, 10),
    ("2024-03-03 23:59:59", 3, 10),
    ("2024-03-05 12:00:00", 3, 10),  # outside the stored days: ignored
]
DAYS = [dt.date(2024, 3, 1), dt.date(2024, 3, 2), dt.date(2024, 3, 3), dt.date(2024, 3, 4)]


@pytest.fixture
def cache(tmp_path: Path) -> PlaylogCache:
    c = PlaylogCache(tmp_path, FP)
    c.store_days(playlogs(ROWS), DAYS, report=report())
    return c


def test_layout_one_file_per_day_even_when_empty(cache: PlaylogCache) -> None:
    files = sorted(p.relative_to(cache.root).as_posix() for p in cache.root.rglob("*.parquet"))
    assert files == [f"{FP}/scope=all/date={d}/part-0.parquet" for d in DAYS]
    known = cache.load(DAYS).known
    assert [known[d][0].rows for d in DAYS] == [3, 1, 1, 0]
    assert not [p for p in cache.root.rglob("*.tmp")]


def test_roundtrip_sorted_stably_and_restricted(cache: PlaylogCache) -> None:
    table = cache.load(DAYS).table
    df = to_pandas(table)
    assert df["played_at"].is_monotonic_increasing
    assert df[["player_id", "media_id"]].values.tolist() == [
        [2, 11],
        [1, 12],
        [1, 10],
        [1, 10],
        [3, 10],
    ]
    assert df["account"].dtype == "category"
    part = cache.load(
        DAYS,
        start=pd.Timestamp("2024-03-01 09:30"),
        end=pd.Timestamp("2024-03-03"),
        player_ids=(1,),
    ).table
    assert part.column("media_id").to_pylist() == [10, 10]


def test_metadata_in_the_file_without_token(cache: PlaylogCache) -> None:
    path = cache.day_path(ALL_SCOPE, DAY)
    meta = pq.read_metadata(path).metadata
    text = meta[b"fouryousee_data.day"].decode()
    assert '"report_id": 7' in text and '"rows": 3' in text
    entry = cache.load([DAY]).served[DAY]
    assert entry.report_id == 7
    assert entry.created_at == dt.datetime(2024, 3, 10, tzinfo=dt.UTC)


def test_reads_directly_with_pyarrow_dataset_and_duckdb(cache: PlaylogCache) -> None:
    dataset = ds.dataset(cache.path / "scope=all", partitioning="hive")
    table = dataset.to_table()
    assert table.num_rows == 5
    assert sorted(set(table.column("date").to_pylist())) == [str(d) for d in DAYS[:3]]
    # A lock file and a stray temp file must not confuse the readers.
    (cache.day_path(ALL_SCOPE, DAY).parent / ".part-0.parquet.x.tmp").write_bytes(b"junk")
    rel = duckdb.sql(
        f"SELECT scope, date, count(*) AS n FROM read_parquet('{cache.path}/**/*.parquet', "
        "hive_partitioning=true) GROUP BY ALL ORDER BY date"
    ).fetchall()
    assert rel == [("all", DAYS[0], 3), ("all", DAYS[1], 1), ("all", DAYS[2], 1)]
    assert ds.dataset(cache.path, partitioning="hive").to_table().num_rows == 5


def test_day_replaced_whole(cache: PlaylogCache) -> None:
    cache.store_days(playlogs([("2024-03-01 11:00:00", 9, 9)]), [DAY], report=report(8))
    loaded = cache.load([DAY])
    assert (loaded.served[DAY].rows, loaded.served[DAY].report_id) == (1, 8)
    assert loaded.table.column("player_id").to_pylist() == [9]


@pytest.mark.parametrize(
    "damage",
    ["truncate", "garbage", "foreign parquet", "rows lie", "wrong day"],
)
def test_corrupt_file_is_a_miss_with_a_warning(
    cache: PlaylogCache, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = cache.day_path(ALL_SCOPE, DAY)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\0" * len(data))
    elif damage == "foreign parquet":
        pq.write_table(pa.table({"x": [1]}), path)
    elif damage == "rows lie":
        table = pq.read_table(path)
        pq.write_table(table.slice(0, 1), path)  # keeps our metadata (rows=3), one row
    else:
        other = cache.day_path(ALL_SCOPE, DAYS[1]).read_bytes()
        path.write_bytes(other)
    with caplog.at_level(logging.WARNING, logger="fouryousee_data"):
        assert DAY not in cache.load([DAY]).known
    assert "unusable" in caplog.text


def test_data_pages_corrupt_after_footer_check(
    cache: PlaylogCache, caplog: pytest.LogCaptureFixture
) -> None:
    path = cache.day_path(ALL_SCOPE, DAY)
    data = bytearray(path.read_bytes())
    data[4:40] = b"\xff" * 36  # footer intact, first pages destroyed
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="fouryousee_data"):
        loaded = cache.load(DAYS[:2])
    assert DAY in loaded.known and list(loaded.served) == [DAYS[1]]  # a miss: fetched again
    assert loaded.table.num_rows == 1
    assert "unusable" in caplog.text


def test_filtered_scope_serves_only_the_same_filter(tmp_path: Path) -> None:
    c = PlaylogCache(tmp_path, FP)
    c.store_days(playlogs(ROWS), [DAY], report=report(), player_ids=[2, 1])
    assert c.load([DAY]).known == {}
    assert c.load([DAY], player_ids=[1]).known == {}
    assert c.load([DAY], player_ids=[1, 2], media_ids=[3]).known == {}
    loaded = c.load([DAY], player_ids=[1, 2, 2])
    (entry,) = loaded.known[DAY]
    assert entry.scope == scope((1, 2)) and entry.player_ids == (1, 2)
    assert loaded.table.column("player_id").to_pylist() == [2, 1, 1]
    # an unfiltered day serves the filtered request too (tried first)
    c.store_days(playlogs(ROWS), [DAY], report=report(8))
    loaded = c.load([DAY], player_ids=[1, 2])
    assert [e.scope for e in loaded.known[DAY]] == ["all"] and loaded.served[DAY].report_id == 8
    refresh = c.load([DAY], player_ids=[1, 2], serve=False)
    assert [e.scope for e in refresh.known[DAY]] == ["all", entry.scope]


def test_store_report_uses_whole_days_and_filter(tmp_path: Path) -> None:
    c = PlaylogCache(tmp_path, FP)
    r = report(
        startDate="2024-03-01",
        startTime="00:00:00",
        endDate="2024-03-03",
        endTime="12:00:00",
        playerId=[1],
        mediaId=[],
    )
    written = c.store_report(r, playlogs(ROWS))
    assert [e.day for e in written] == DAYS[:2]
    assert {e.scope for e in written} == {scope((1,))}


def test_settled_rules() -> None:
    assert day_end_utc(DAY) == dt.datetime(2024, 3, 2, 12, tzinfo=dt.UTC)
    assert day_end_utc(DAY, "Asia/Tokyo") == dt.datetime(2024, 3, 1, 15, tzinfo=dt.UTC)
    # DST: Sao Paulo's 2018-11-04 started at midnight (00:00 did not exist)
    assert day_end_utc(dt.date(2018, 11, 3), "America/Sao_Paulo") == dt.datetime(
        2018, 11, 4, 3, tzinfo=dt.UTC
    )
    entry = CachedDay("all", DAY, Path("x"), 0, 0, 1, dt.datetime(2024, 3, 3, 11, tzinfo=dt.UTC))
    assert not entry.is_settled("24h")  # UTC-12: needs 2024-03-03 12:00 UTC
    assert entry.is_settled("24h", tz="UTC")
    assert entry.is_settled(dt.timedelta(hours=23))
    assert not CachedDay("all", DAY, Path("x"), 0, 0).is_settled("0h")


def test_argument_errors() -> None:
    with pytest.raises(ValueError, match="settle"):
        parse_settle("soon")
    with pytest.raises(ValueError, match="settle"):
        parse_settle("-1h")
    with pytest.raises(ValueError, match="settle"):
        parse_settle(24)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="media_ids"):
        normalize_ids([True], "media_ids")
    with pytest.raises(ValueError, match="fingerprint"):
        PlaylogCache("x", "../etc")
    with pytest.raises(ValueError, match="filter"):
        PlaylogCache("x", FP).store_report(report(startDate="2024-03-01"), playlogs([]))
    with pytest.raises(ValueError, match="playerId"):
        bad_ids = report(startDate="2024-03-01", endDate="2024-03-01", playerId=["one"])
        PlaylogCache("x", FP).store_report(bad_ids, playlogs([]))
    with pytest.raises(ValueError, match="cache_dir"):
        fy.cache_info(None)


def test_cache_info_and_clear(cache: PlaylogCache) -> None:
    cache.store_days(
        playlogs([]), [DAY], report=report(9, "2024-03-01T00:00:00+00:00"), media_ids=[5]
    )
    (cache.day_path(ALL_SCOPE, DAYS[3])).write_bytes(b"broken")
    info = fy.cache_info(cache.root)
    assert len(info) == 5
    assert info["account"].unique().tolist() == [FP]
    assert info["date"].dtype == "datetime64[s]"
    valid = info[info["valid"]]
    assert valid["settled"].tolist() == [True, True, True, False]
    assert valid["rows"].tolist() == [3, 1, 1, 0]
    assert info.loc[~info["valid"], "date"].tolist() == [pd.Timestamp(DAYS[3])]
    assert len(fy.cache_info(cache.root, FP, settle="400h")) == 5
    assert fy.cache_info(cache.root, "ffffffffffffffff").empty

    assert fy.clear_cache(cache.root, FP, scope=scope((), (5,))) == 1
    assert fy.clear_cache(cache.root, start="2024-03-02", end="2024-03-02") == 1
    assert sorted(fy.cache_info(cache.root)["date"].dt.day) == [1, 3, 4]
    assert fy.clear_cache(cache.root) == 3
    assert not (cache.root / FP).exists()


def test_load_serves_settled_days_once_and_falls_back_to_the_own_scope(tmp_path: Path) -> None:
    c = PlaylogCache(tmp_path, FP)
    c.store_days(playlogs(ROWS), DAYS[:2], report=report(1), player_ids=[1])
    c.store_days(playlogs(ROWS), DAYS[:2], report=report(2))
    c.store_days(playlogs(ROWS), DAYS[2:3], report=report(3, "2024-03-01T00:00:00+00:00"))
    c.day_path(ALL_SCOPE, DAYS[1]).write_bytes(b"PAR1 broken")
    loaded = c.load(DAYS, player_ids=[1])
    assert [e.report_id for e in loaded.known[DAYS[0]]] == [2]  # served: no need to look further
    assert [e.report_id for e in loaded.known[DAYS[1]]] == [1]
    assert {d: e.report_id for d, e in loaded.served.items()} == {DAYS[0]: 2, DAYS[1]: 1}
    assert DAYS[2] in loaded.known and DAYS[2] not in loaded.served  # provisional
    assert [d for d, _ in loaded.parts] == DAYS[:2]
    assert [t.column("player_id").to_pylist() for _, t in loaded.parts] == [[1, 1], [1]]
    refresh = c.load(DAYS, player_ids=[1], serve=False)
    assert refresh.served == {} and refresh.parts == [] and set(refresh.known) == set(DAYS[:3])


def test_concurrent_writers_and_readers_never_see_a_partial_day(tmp_path: Path) -> None:
    import threading

    c = PlaylogCache(tmp_path, FP)
    small, big = playlogs(ROWS[:1]), playlogs(ROWS[:3])
    c.store_days(small, [DAY], report=report(1))
    errors: list[BaseException] = []
    seen: set[int] = set()

    def write(table: pa.Table, rid: int) -> None:
        try:
            for _ in range(15):
                c.store_days(table, [DAY], report=report(rid))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(t, i)) for i, t in ((1, small), (2, big))]
    for w in writers:
        w.start()
    for _ in range(200):  # bounded
        loaded = c.load([DAY])
        assert list(loaded.served) == [DAY]
        seen.add(loaded.table.num_rows)
        if not any(w.is_alive() for w in writers):
            break
    for w in writers:
        w.join(timeout=30)
    assert not errors and seen <= {1, 3}
    assert not list(tmp_path.rglob("*.tmp"))


# -- the read copy -----------------------------------------------------------------------
def rows(table: pa.Table) -> list[dict[str, object]]:
    """The rows as Python values (a snapshot, independent of any mapped file)."""
    return table.to_pylist()


def copy_of(cache: PlaylogCache, day: dt.date = DAY) -> Path:
    return cache.day_path(ALL_SCOPE, day).with_name(READ_COPY_NAME)


def test_read_copy_is_hidden_and_holds_the_same_rows(cache: PlaylogCache) -> None:
    assert all(copy_of(cache, d).is_file() for d in DAYS)
    assert READ_COPY_NAME.startswith(".")  # pyarrow/Spark skip it; DuckDB's *.parquet too
    loaded = cache.load(DAYS)
    via_copy = loaded.table
    assert loaded.from_parquet == []
    parquet_size = cache.day_path(ALL_SCOPE, DAY).stat().st_size
    assert loaded.served[DAY].bytes == parquet_size + copy_of(cache).stat().st_size
    for d in DAYS:
        copy_of(cache, d).unlink()
    loaded = cache.load(DAYS)
    via_parquet = loaded.table
    assert loaded.from_parquet == DAYS
    assert via_copy.equals(via_parquet) and via_copy.schema.equals(PLAYLOG_SCHEMA)
    assert all(copy_of(cache, d).is_file() for d in DAYS)  # written again on the way


def test_a_day_read_without_read_copy_gets_its_copy(cache: PlaylogCache) -> None:
    expected = [rows(t) for _, t in cache.load(DAYS).parts]
    copy_of(cache).unlink()  # a cache written before read copies, or copied elsewhere
    loaded = cache.load(DAYS)
    assert [rows(t) for _, t in loaded.parts] == expected
    assert loaded.from_parquet == [DAY] and copy_of(cache).is_file()
    loaded = cache.load(DAYS)
    assert [rows(t) for _, t in loaded.parts] == expected
    assert loaded.from_parquet == []  # the second time, from the copy
    copy_of(cache).unlink()
    assert cache.load(DAYS, serve=False).from_parquet == []  # listing reads no rows...
    assert not copy_of(cache).exists()  # ...and writes no copy


def _rewrite_copy(cache: PlaylogCache, rows: pa.Table, day: dt.date = DAY) -> None:
    """Replace the day's read copy with ``rows`` and the genuine copy's metadata (a
    well-formed copy, its checksums right)."""
    path = cache.day_path(ALL_SCOPE, day)
    with open_copy(path, identity(path)) as genuine:
        metadata = genuine.metadata
    write_copy(path, rows, metadata, identity(path))


def _without_ip(cache: PlaylogCache) -> None:
    """Forge the day's read copy without its ip column (checksums right)."""
    header, dictionaries, columns = sections(copy_of(cache))
    seal(copy_of(cache), header, dictionaries, [[c] for c in columns[:-1]])


@pytest.mark.parametrize(
    "damage",
    [
        "truncate",
        "garbage",
        "rows lie",
        "rows of another day",
        "wrong schema",
        "version 1",
        "version 2",
        "version 3",
    ],
)
def test_a_bad_read_copy_falls_back_to_the_parquet_file(
    cache: PlaylogCache, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A snapshot: tables read from a copy are views of the mapped file, which this
    # test then damages in place (the toolkit itself only ever replaces files).
    expected = rows(cache.load([DAY]).table)
    table = pa.Table.from_pylist(expected, PLAYLOG_SCHEMA)
    copy = copy_of(cache)
    data = copy.read_bytes()
    if damage == "truncate":
        copy.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        copy.write_bytes(b"\0" * len(data))
    elif damage == "rows lie":
        _rewrite_copy(cache, table.slice(0, 1))
    elif damage == "rows of another day":
        _rewrite_copy(cache, pa.concat_tables([table.slice(1), playlogs(ROWS[3:4])]))
    elif damage == "wrong schema":
        _without_ip(cache)
    elif damage in ("version 2", "version 3"):  # this format's bytes, an older version's magic
        copy.write_bytes(MAGIC[:-1] + bytes([int(damage[-1])]) + data[len(MAGIC) :])
    else:  # a copy of the first format (Arrow IPC), where this version's copy lives
        with pa.OSFile(str(copy), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
    with caplog.at_level(logging.WARNING, logger="fouryousee_data"):
        first, second = cache.load([DAY]), cache.load([DAY])
    assert rows(first.table) == rows(second.table) == expected
    assert first.from_parquet == [DAY]  # and the read copy was written again, whole...
    assert second.from_parquet == []  # ...which serves the next read
    assert "unusable" not in caplog.text  # the day itself is fine
    path = cache.day_path(ALL_SCOPE, DAY)
    with open_copy(path, identity(path)) as healed:
        assert rows(healed.table()) == expected


def test_a_first_format_copy_is_never_read_and_goes_when_the_day_is_healed(
    cache: PlaylogCache,
) -> None:
    expected = rows(cache.load([DAY]).table)
    copy = copy_of(cache)
    legacy = copy.with_name(LEGACY_NAME)
    copy.rename(legacy)  # as a cache of the first format holds it (an Arrow IPC file)
    table = pa.Table.from_pylist(expected, PLAYLOG_SCHEMA)
    with pa.OSFile(str(legacy), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    first = cache.load([DAY])
    assert rows(first.table) == expected and first.from_parquet == [DAY]
    assert copy.read_bytes().startswith(MAGIC) and not legacy.exists()
    assert cache.load([DAY]).from_parquet == []


@pytest.mark.parametrize("change", ["rewritten by another tool", "same size, same clock tick"])
def test_a_read_copy_never_serves_a_replaced_parquet_file(cache: PlaylogCache, change: str) -> None:
    path = cache.day_path(ALL_SCOPE, DAY)
    if change == "rewritten by another tool":
        table = pq.read_table(path)  # our metadata kept, other rows
        other = table.set_column(2, "player_id", pa.array([7, 8, 9], pa.int32()))
        pq.write_table(other, path)
        expected = [7, 8, 9]
    else:  # in place, same size and mtime: only the footer's checksum tells
        before = path.stat()
        data = path.read_bytes()
        at = data.rindex(b'"fetched_at": "') + len(b'"fetched_at": "')
        data = data[:at] + b"1999" + data[at + 4 :]  # another fetch, same length
        with open(path, "r+b") as f:
            f.write(data)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert (path.stat().st_size, path.stat().st_mtime_ns) == (
            before.st_size,
            before.st_mtime_ns,
        )
        expected = [2, 1, 1]
    loaded = cache.load([DAY])
    entry = loaded.served[DAY]
    assert loaded.table.column("player_id").to_pylist() == expected
    assert loaded.from_parquet == [DAY]
    if change != "rewritten by another tool":
        assert entry.fetched_at is not None and entry.fetched_at.year == 1999


def test_a_read_copy_that_cannot_be_written_only_costs_speed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write = os.write

    def disk_full(fd: int, data: object) -> int:
        if f".{READ_COPY_NAME}." in os.readlink(f"/proc/self/fd/{fd}"):  # the copy's temp file
            raise OSError(28, "No space left on device")
        return write(fd, data)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "write", disk_full)
    c = PlaylogCache(tmp_path, FP)
    with caplog.at_level(logging.WARNING, logger="fouryousee_data"):
        written = c.store_days(playlogs(ROWS), DAYS[:1], report=report())
    assert "no read copy" in caplog.text and "No space left" in caplog.text
    assert not copy_of(c).exists() and not list(tmp_path.rglob("*.tmp"))
    assert [e.day for e in written] == DAYS[:1]
    loaded = c.load(DAYS[:1])
    assert loaded.table.num_rows == 3 and loaded.from_parquet == DAYS[:1]


def test_a_day_rewritten_unsorted_by_another_tool_reads_sorted(cache: PlaylogCache) -> None:
    path = cache.day_path(ALL_SCOPE, DAY)
    table = pq.read_table(path)  # our metadata kept
    pq.write_table(table.take([2, 1, 0]), path)  # not by played_at any more
    got = cache.load([DAY]).table
    assert got.column("played_at").to_pylist() == sorted(table.column("played_at").to_pylist())
    assert got.column("media_id").to_pylist() == [12, 11, 10]  # same-second rows: file order
