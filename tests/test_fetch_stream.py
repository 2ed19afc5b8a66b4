"""The bounded-memory fetch: a window's rows go into the cache day by day as they stream in."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import fouryousee_data as fy
from conftest import paced_client
from fouryousee_data.cache import DaySpill, PlaylogCache
from fouryousee_data.parse import read_batches
from fouryousee_data.schema import PLAYLOG_SCHEMA, to_pandas
from fouryousee_data.simulator import Simulator

FAST = {"progress": False, "poll_interval": 0.02}


def spills(root: Path) -> list[Path]:
    return list(root.rglob(".spill-*"))


def day_frames(cache: PlaylogCache) -> dict[dt.date, pd.DataFrame]:
    """Every cached day's rows, read straight from its Parquet file."""
    out = {}
    for entry in cache.entries():
        assert not isinstance(entry, Path)
        out[entry.day] = pd.read_parquet(entry.path)
    return out


@pytest.fixture
def busy(make_simulator: Callable[..., Simulator]) -> Simulator:
    """A simulator whose days are several parser blocks long (~8 k lines a block)."""
    return make_simulator(plays_per_hour=150)


@pytest.mark.slow
def test_a_broken_stream_starts_again_and_each_day_holds_its_rows_once(
    busy: Simulator, tmp_path: Path
) -> None:
    with paced_client(busy) as api:
        busy.inject("store_reset", times=1, after_bytes=120_000)  # a few blocks in (of ~180 kB)
        df = fy.fetch_playlogs("2024-03-01", "2024-03-06", client=api, cache_dir=tmp_path, **FAST)
        cache = PlaylogCache(tmp_path, api.fingerprint)
    downloads = [r for r in busy.requests if r.server == "store"]
    assert len(downloads) == 2  # broken, then whole
    filt = {"startDate": "2024-03-01", "startTime": "00:00:00", "endDate": "2024-03-06",
            "endTime": "23:59:59", "playerId": [], "mediaId": []}  # fmt: skip
    want = busy.expected_frame(filt).sort_values("played_at", kind="stable")
    assert len(want) > 25_000
    pd.testing.assert_frame_equal(
        df.reset_index(drop=True), want.reset_index(drop=True), check_categorical=False
    )
    days = day_frames(cache)
    assert sorted(days) == [dt.date(2024, 3, d) for d in range(1, 7)]
    for day, frame in days.items():
        mine = want[want["played_at"].dt.date == day]
        assert len(frame) == len(mine)
        assert frame["played_at"].is_monotonic_increasing
        assert frame["played_at"].dt.date.eq(day).all()
    assert spills(tmp_path) == []


def test_a_failed_stream_writes_no_day_and_leaves_no_spill(busy: Simulator, tmp_path: Path) -> None:
    busy.inject("malformed_line", times=1, line=30_000, text='{"date": oops')
    with paced_client(busy) as api:
        with pytest.raises(fy.InvalidPlaylogError):
            fy.fetch_playlogs("2024-03-01", "2024-03-06", client=api, cache_dir=tmp_path, **FAST)
        assert PlaylogCache(tmp_path, api.fingerprint).entries() == []
        assert spills(tmp_path) == []
        # the rerun fetches the window whole
        df = fy.fetch_playlogs("2024-03-01", "2024-03-06", client=api, cache_dir=tmp_path, **FAST)
        assert len(PlaylogCache(tmp_path, api.fingerprint).entries()) == 6
    assert df["played_at"].is_monotonic_increasing and len(df) > 25_000


def test_scan_fetch_writes_the_days_and_then_asks_nothing(busy: Simulator, tmp_path: Path) -> None:
    with paced_client(busy) as api:
        rel = fy.scan_playlogs(
            "2024-03-02", "2024-03-04", player_ids=[10, 23], client=api, cache_dir=tmp_path,
            progress=False,
        )  # fmt: skip
        got = rel.df()
        busy.reset_requests()
        want = fy.fetch_playlogs(
            "2024-03-02", "2024-03-04", player_ids=[10, 23], client=api, cache_dir=tmp_path, **FAST
        )
    assert busy.requests == []
    assert len(got) == len(want) > 0
    assert (
        got["played_at"].astype("datetime64[s]").to_numpy() == want["played_at"].to_numpy()
    ).all()
    assert spills(tmp_path) == []


def report_lines(rows: list[tuple[str, int]]) -> bytes:
    """NDJSON report lines; ips vary so that later blocks grow the dictionary."""
    return b"".join(
        b'{"date":"%s","time":"%s","playerId":%d,"mediaId":7,"ip":"10.0.0.%d"}\n'
        % (t[:10].encode(), t[11:].encode(), p, i % 200)
        for i, (t, p) in enumerate(rows)
    )


def test_day_spill_takes_blocks_in_any_order(tmp_path: Path) -> None:
    rng = random.Random(5)
    stamps = [
        f"2024-03-{d:02d} {h:02d}:{m:02d}:{s:02d}"
        for d in (1, 2, 3, 4)
        for h in range(0, 24, 3)
        for m in range(0, 60, 7)
        for s in (1, 31)
    ]
    rows = [(t, rng.choice([1, 2, 3])) for t in stamps]
    rng.shuffle(rows)
    written: dict[dt.date, pa.Table] = {}
    spill = DaySpill(
        tmp_path / "acct",
        [dt.date(2024, 3, 2), dt.date(2024, 3, 3), dt.date(2024, 3, 5)],
        write=lambda day, table: written.setdefault(day, table).num_rows,
        player_ids=[1, 3],
    )
    batches: list[pa.RecordBatch] = []
    data = report_lines(rows)
    for start in range(0, len(rows), 97):  # many small blocks, days mixed in each
        chunk = b"".join(data.splitlines(keepends=True)[start : start + 97])
        read_batches(chunk, batches.append)
    for batch in batches:
        spill.add(batch)
    assert spills(tmp_path)  # on disk while the report streams
    counts = spill.commit()
    assert spills(tmp_path) == []
    frame = to_pandas(pa.Table.from_batches(batches, schema=PLAYLOG_SCHEMA).unify_dictionaries())
    for day, n in zip(
        [dt.date(2024, 3, 2), dt.date(2024, 3, 3), dt.date(2024, 3, 5)], counts, strict=True
    ):
        want = frame[(frame["played_at"].dt.date == day) & frame["player_id"].isin([1, 3])]
        got = to_pandas(written[day])
        assert n == len(want) == len(got)
        key = ["played_at", "player_id", "ip"]
        pd.testing.assert_frame_equal(
            got.sort_values(key).reset_index(drop=True)[key].astype({"ip": str}),
            want.sort_values(key).reset_index(drop=True)[key].astype({"ip": str}),
        )
    assert counts[2] == 0  # 2024-03-05: no rows, still a day


def test_day_spill_discard_removes_everything(tmp_path: Path) -> None:
    spill = DaySpill(tmp_path, [dt.date(2024, 3, 1)], write=lambda day, table: 0)
    read_batches(report_lines([("2024-03-01 10:00:00", 1)]), spill.add)
    assert spill.rows == 1 and spills(tmp_path)
    spill.discard()
    assert spill.rows == 0 and spills(tmp_path) == []


def test_cached_and_fetched_days_are_read_back_together_into_the_frame(
    make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    """Cached days and fetched days alike are read back from the cache into one block of
    range-wide columns, which is the frame (cache.frame_of; memory: bench_scale's fetch
    step): ids, tz and the range's cut as the cache gives them afterwards, and the
    simulator's rows."""
    sim = make_simulator(plays_per_hour=40)
    ids = [p["id"] for p in sim.players[:2]]
    with paced_client(sim) as api:
        cached = fy.fetch_playlogs("2024-03-02", "2024-03-03", client=api, cache_dir=tmp_path,
                                   player_ids=ids, **FAST)  # fmt: skip
        assert len(cached)
        df = fy.fetch_playlogs("2024-03-01", "2024-03-05", client=api, cache_dir=tmp_path,
                               player_ids=ids, tz="America/Sao_Paulo", **FAST)  # fmt: skip
        again = fy.fetch_playlogs("2024-03-01", "2024-03-05", client=api, cache_dir=tmp_path,
                                  player_ids=ids, tz="America/Sao_Paulo", **FAST)  # fmt: skip
    pd.testing.assert_frame_equal(df, again)
    want = sim.expected_frame({"startDate": "2024-03-01", "startTime": "00:00:00",
                               "endDate": "2024-03-05", "endTime": "23:59:59",
                               "playerId": ids, "mediaId": []})  # fmt: skip
    assert df["played_at"].dt.tz_localize(None).tolist() == sorted(want["played_at"].tolist())
    assert set(df["player_id"]) == set(ids)


def test_a_window_the_cache_cannot_take_joins_the_cached_days_in_memory(
    make_simulator: Callable[..., Simulator], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A window whose days cannot be written (a file where a day's folder goes) is held in
    memory; the days the cache served are read back beside it: nothing lost, nothing twice."""
    sim = make_simulator(plays_per_hour=20)
    with paced_client(sim) as api:
        fy.fetch_playlogs("2024-03-02", "2024-03-03", client=api, cache_dir=tmp_path, **FAST)
        blocker = tmp_path / api.fingerprint / "scope=all" / "date=2024-03-04"
        blocker.write_bytes(b"not a folder")
        df = fy.fetch_playlogs("2024-03-01", "2024-03-05", client=api, cache_dir=tmp_path, **FAST)
    want = sim.expected_frame({"startDate": "2024-03-01", "startTime": "00:00:00",
                               "endDate": "2024-03-05", "endTime": "23:59:59",
                               "playerId": [], "mediaId": []})  # fmt: skip
    want = want.sort_values("played_at", kind="stable").reset_index(drop=True)
    assert df["played_at"].tolist() == want["played_at"].tolist()
    assert df["player_id"].tolist() == want["player_id"].tolist()
    assert any("2024-03-04" in r.getMessage() or "cache" in r.getMessage()
               for r in caplog.records if r.levelname == "WARNING")  # fmt: skip
