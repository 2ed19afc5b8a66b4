"""fetch_playlogs against the simulator: windows, cache, settling, failures, lineage."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

import fouryousee_data as fy
from conftest import paced_client
from fouryousee_data.cache import READ_COPY_NAME, PlaylogCache
from fouryousee_data.fetch import in_played_order
from fouryousee_data.filters import ALL_SCOPE, scope
from fouryousee_data.schema import localize
from fouryousee_data.simulator import Simulator

FAST = {"progress": False, "poll_interval": 0.02}


def posts(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.method == "POST" and r.path.endswith("/reports"))


def expected(
    sim: Simulator,
    first: str,
    last: str,
    *,
    players: list[int] | None = None,
    medias: list[int] | None = None,
    tz: str | None = None,
) -> pd.DataFrame:
    """What the API holds for these whole days, built without the parser, sorted stably."""
    days = pd.date_range(first, last, freq="D")
    frames = []
    for i in range(0, len(days), 30):
        chunk = days[i : i + 30]
        filt = {
            "startDate": f"{chunk[0]:%Y-%m-%d}",
            "startTime": "00:00:00",
            "endDate": f"{chunk[-1]:%Y-%m-%d}",
            "endTime": "23:59:59",
            "playerId": players or [],
            "mediaId": medias or [],
        }
        frames.append(sim.expected_frame(filt, tz=tz))
    df = pd.concat(frames, ignore_index=True)
    return df.sort_values("played_at", kind="stable").reset_index(drop=True)


def same(df: pd.DataFrame, exp: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        df.reset_index(drop=True), exp.reset_index(drop=True), check_categorical=False
    )


@pytest.mark.slow
def test_long_range_split_cached_then_zero_requests(
    simulator: Simulator, api: fy.Client, tmp_path: Path
) -> None:
    df = fy.fetch_playlogs("2024-02-01", "2024-03-05", client=api, cache_dir=tmp_path, **FAST)
    same(df, expected(simulator, "2024-02-01", "2024-03-05"))
    assert posts(simulator) == 2  # 34 days: 30 + 4
    assert len(df.attrs["report_ids"]) == 2
    assert len(df.attrs["fetched_days"]) == 34 and df.attrs["cached_days"] == []
    assert df.attrs["provisional_days"] == []
    assert df["played_at"].is_monotonic_increasing

    simulator.reset_requests()
    again = fy.fetch_playlogs("2024-02-01", "2024-03-05", client=api, cache_dir=tmp_path, **FAST)
    assert simulator.requests == []  # not one HTTP request
    same(again, df)
    assert len(again.attrs["cached_days"]) == 34 and again.attrs["fetched_days"] == []
    assert again.attrs["report_ids"] == df.attrs["report_ids"]
    # Served from the days' read copies; without them, from Parquet: the same frame.
    copies = list(tmp_path.rglob(READ_COPY_NAME))
    assert len(copies) == 34
    for copy in copies:
        copy.unlink()
    same(fy.fetch_playlogs("2024-02-01", "2024-03-05", client=api, cache_dir=tmp_path), df)
    assert simulator.requests == [] and len(list(tmp_path.rglob(READ_COPY_NAME))) == 34

    # The cache directory reads directly with pyarrow and DuckDB.
    root = tmp_path / api.fingerprint
    assert ds.dataset(root / "scope=all", partitioning="hive").count_rows() == len(df)
    ((n,),) = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{root}/**/*.parquet', hive_partitioning=true)"
    ).fetchall()
    assert n == len(df)
    token = simulator.token.encode()
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and token in p.read_bytes()]
    assert simulator.token not in str(list(tmp_path.rglob("*")))


def test_partly_cached_range_fetches_only_the_missing_days(
    simulator: Simulator, api: fy.Client, tmp_path: Path
) -> None:
    fy.fetch_playlogs("2024-02-10", "2024-02-20", client=api, cache_dir=tmp_path, **FAST)
    simulator.reset_requests()
    df = fy.fetch_playlogs("2024-02-01", "2024-02-29", client=api, cache_dir=tmp_path, **FAST)
    same(df, expected(simulator, "2024-02-01", "2024-02-29"))  # no row twice
    assert posts(simulator) == 2  # 02-01..02-09 and 02-21..02-29
    assert len(df.attrs["cached_days"]) == 11 and len(df.attrs["fetched_days"]) == 18


def test_instants_filters_and_tz(simulator: Simulator, api: fy.Client, tmp_path: Path) -> None:
    player = simulator.players[1]["id"]
    medias = [m["id"] for m in simulator.medias[:4]]
    start, end = pd.Timestamp("2024-03-01 10:00"), pd.Timestamp("2024-03-03 08:30")
    df = fy.fetch_playlogs(
        start, end, player_ids=[player], media_ids=medias, client=api, cache_dir=tmp_path, **FAST
    )
    exp = expected(simulator, "2024-03-01", "2024-03-03", players=[player], medias=medias)
    exp = exp[(exp["played_at"] >= start) & (exp["played_at"] < end)]
    assert len(exp) > 0
    same(df, exp)
    # The filtered days live in their own scope and serve the same filter again...
    own = scope((player,), tuple(sorted(medias)))
    assert (tmp_path / api.fingerprint / f"scope={own}").is_dir()
    simulator.reset_requests()
    again = fy.fetch_playlogs(
        start, end, player_ids=[player], media_ids=medias, client=api, cache_dir=tmp_path, **FAST
    )
    assert simulator.requests == []
    same(again, df)
    # ...but not an unfiltered request.
    fy.fetch_playlogs("2024-03-01", "2024-03-03", client=api, cache_dir=tmp_path, **FAST)
    assert posts(simulator) == 1

    tz = "America/Sao_Paulo"
    aware = fy.fetch_playlogs(
        pd.Timestamp("2024-03-01 13:00", tz="UTC"),  # 10:00 in Sao Paulo
        end,
        player_ids=[player],
        media_ids=medias,
        client=api,
        cache_dir=tmp_path,
        tz=tz,
        **FAST,
    )
    assert str(aware["played_at"].dt.tz) == tz
    same(aware, df.assign(played_at=localize(df["played_at"], tz)))


def test_unfiltered_days_serve_filtered_requests(
    simulator: Simulator, api: fy.Client, tmp_path: Path
) -> None:
    everything = fy.fetch_playlogs(
        "2024-03-04", "2024-03-10", client=api, cache_dir=tmp_path, **FAST
    )
    player = simulator.players[0]["id"]
    simulator.reset_requests()
    mine = fy.fetch_playlogs(
        "2024-03-05", "2024-03-06", player_ids=player, client=api, cache_dir=tmp_path, **FAST
    )
    assert simulator.requests == []
    exp = everything[
        (everything["player_id"] == player)
        & (everything["played_at"] >= "2024-03-05")
        & (everything["played_at"] < "2024-03-07")
    ]
    same(mine, exp)
    assert mine.attrs["player_ids"] == [player]


def test_settled_and_provisional_days_follow_the_clock(
    make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = make_simulator(now="2024-04-01T12:00:00+00:00")
    with paced_client(sim) as api:
        check_settling(sim, api, tmp_path)


def check_settling(sim: Simulator, api: fy.Client, tmp_path: Path) -> None:
    df = fy.fetch_playlogs("2024-03-29", "2024-03-31", client=api, cache_dir=tmp_path, **FAST)
    # 03-31 ends 04-01 12:00 UTC in UTC-12: +24 h is not reached yet.
    assert df.attrs["provisional_days"] == ["2024-03-31"]
    info = fy.cache_info(tmp_path, api)
    assert info["settled"].tolist() == [True, True, False]

    sim.reset_requests()
    df = fy.fetch_playlogs("2024-03-29", "2024-03-31", client=api, cache_dir=tmp_path, **FAST)
    assert df.attrs["fetched_days"] == ["2024-03-31"]
    assert posts(sim) == 1  # the cached report is not reused: it would give the same rows
    # With the account's time zone the day ended at 04-01 03:00 UTC: settled after 6 h.
    sim.reset_requests()
    df = fy.fetch_playlogs(
        "2024-03-31", "2024-03-31", client=api, cache_dir=tmp_path, tz="America/Sao_Paulo",
        settle="6h", **FAST,
    )  # fmt: skip
    assert sim.requests == [] and df.attrs["cached_days"] == ["2024-03-31"]

    sim.set_now("2024-04-03T00:00:00+00:00")
    df = fy.fetch_playlogs("2024-03-29", "2024-03-31", client=api, cache_dir=tmp_path, **FAST)
    assert df.attrs["provisional_days"] == [] and df.attrs["fetched_days"] == ["2024-03-31"]
    same(df, expected(sim, "2024-03-29", "2024-03-31"))
    sim.reset_requests()
    fy.fetch_playlogs("2024-03-29", "2024-03-31", client=api, cache_dir=tmp_path, **FAST)
    assert sim.requests == []
    assert fy.cache_info(tmp_path, api)["settled"].all()


def test_refresh_and_no_cache(simulator: Simulator, api: fy.Client, tmp_path: Path) -> None:
    first = fy.fetch_playlogs("2024-03-01", "2024-03-02", client=api, cache_dir=tmp_path, **FAST)
    simulator.reset_requests()
    again = fy.fetch_playlogs(
        "2024-03-01", "2024-03-02", client=api, cache_dir=tmp_path, refresh=True, **FAST
    )
    assert posts(simulator) == 1 and again.attrs["fetched_days"] == ["2024-03-01", "2024-03-02"]
    assert again.attrs["report_ids"] != first.attrs["report_ids"]
    same(again, first)
    info = fy.cache_info(tmp_path, api)
    assert info["report_id"].tolist() == again.attrs["report_ids"] * 2

    nocache = tmp_path / "none"
    df = fy.fetch_playlogs("2024-03-01", "2024-03-02", client=api, cache_dir=None, **FAST)
    same(df, first)
    assert not nocache.exists()


def test_rerun_reuses_a_pending_report(
    simulator: Simulator, api: fy.Client, tmp_path: Path
) -> None:
    # A notebook requested the window, then crashed before anything was cached.
    crashed = api.request_report("2024-03-01", "2024-03-10")
    simulator.reset_requests()
    df = fy.fetch_playlogs("2024-03-01", "2024-03-10", client=api, cache_dir=tmp_path, **FAST)
    assert posts(simulator) == 0
    assert df.attrs["report_ids"] == [crashed.id]


@pytest.mark.slow
def test_failed_window_others_cached_then_rerun_fetches_only_it(
    simulator: Simulator, api: fy.Client, tmp_path: Path
) -> None:
    simulator.inject("report_failed", times=2)  # the first window, and its one retry
    with pytest.raises(fy.ReportFailedError) as info:
        fy.fetch_playlogs(
            "2024-02-01", "2024-03-05", client=api, cache_dir=tmp_path, max_concurrency=1, **FAST
        )
    message = str(info.value)
    assert "1 of 2 report window(s) failed" in message
    assert "2024-02-01..2024-03-01" in message and "There was an error" in message
    assert info.value.failed_windows == [(dt.date(2024, 2, 1), dt.date(2024, 3, 1))]
    assert info.value.report.failed
    assert len(fy.cache_info(tmp_path, api)) == 4  # the other window was cached

    simulator.reset_requests()
    df = fy.fetch_playlogs("2024-02-01", "2024-03-05", client=api, cache_dir=tmp_path, **FAST)
    assert posts(simulator) == 1
    assert len(df.attrs["cached_days"]) == 4
    same(df, expected(simulator, "2024-02-01", "2024-03-05"))


def test_a_failed_report_is_requested_again_once(
    simulator: Simulator, api: fy.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    simulator.inject("report_failed", times=1)
    with caplog.at_level(logging.INFO, logger="fouryousee_data"):
        df = fy.fetch_playlogs("2024-03-01", "2024-03-05", client=api, cache_dir=tmp_path, **FAST)
    assert posts(simulator) == 2
    same(df, expected(simulator, "2024-03-01", "2024-03-05"))
    assert "trying again" in caplog.text
    assert simulator.token not in caplog.text


def test_malformed_file_is_an_error_and_the_rerun_fetches_it(
    simulator: Simulator, api: fy.Client, tmp_path: Path
) -> None:
    # Not retried by fetch (a report is requested again only when it failed): the error
    # is raised, and a rerun downloads the same report again.
    simulator.inject("malformed_line", times=1, line=3, text='{"date": oops')
    with pytest.raises(fy.InvalidPlaylogError) as info:
        fy.fetch_playlogs("2024-03-01", "2024-03-02", client=api, cache_dir=tmp_path, **FAST)
    assert info.value.failed_windows == [(dt.date(2024, 3, 1), dt.date(2024, 3, 2))]
    assert posts(simulator) == 1
    df = fy.fetch_playlogs("2024-03-01", "2024-03-02", client=api, cache_dir=tmp_path, **FAST)
    same(df, expected(simulator, "2024-03-01", "2024-03-02"))
    assert posts(simulator) == 1


def test_corrupt_downloads_are_retried_once_per_attempt_not_per_window(
    simulator: Simulator, api: fy.Client, tmp_path: Path
) -> None:
    attempts = api.retry.download_attempts
    simulator.inject("truncated_gzip", times=attempts)
    with pytest.raises(fy.CorruptReportError, match=f"after {attempts} download attempts"):
        fy.fetch_playlogs(
            "2024-03-01", "2024-03-02", client=api, cache_dir=tmp_path, retries=3, **FAST
        )
    downloads = [r for r in simulator.requests if r.server == "store"]
    assert (posts(simulator), len(downloads)) == (1, attempts)  # not (retries + 1) x attempts


def test_timeout_is_typed_and_the_rest_is_cached(
    simulator: Simulator, api: fy.Client, tmp_path: Path
) -> None:
    simulator.inject("report_never_ready", times=1)
    with pytest.raises(fy.ReportTimeoutError) as info:
        fy.fetch_playlogs(
            "2024-01-01",
            "2024-01-31",
            client=api,
            cache_dir=tmp_path,
            max_concurrency=1,
            timeout=0.5,
            **FAST,
        )
    assert info.value.failed_windows == [(dt.date(2024, 1, 1), dt.date(2024, 1, 30))]
    assert fy.cache_info(tmp_path, api)["date"].tolist() == [pd.Timestamp("2024-01-31")]


def test_corrupt_cache_file_is_refetched(
    simulator: Simulator, api: fy.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    df = fy.fetch_playlogs("2024-03-01", "2024-03-03", client=api, cache_dir=tmp_path, **FAST)
    path = PlaylogCache(tmp_path, api.fingerprint).day_path(ALL_SCOPE, dt.date(2024, 3, 2))
    path.write_bytes(path.read_bytes()[:100])
    simulator.reset_requests()
    with caplog.at_level(logging.WARNING, logger="fouryousee_data"):
        again = fy.fetch_playlogs(
            "2024-03-01", "2024-03-03", client=api, cache_dir=tmp_path, **FAST
        )
    assert "unusable" in caplog.text
    assert again.attrs["fetched_days"] == ["2024-03-02"]
    same(again, df)


def test_webhook_is_passed_and_polling_still_works(
    simulator: Simulator, api: fy.Client, tmp_path: Path
) -> None:
    hook = "http://127.0.0.1:9/hook"  # nobody listens: fetch_playlogs polls anyway
    df = fy.fetch_playlogs(
        "2024-03-01", "2024-03-02", client=api, cache_dir=tmp_path, webhook=hook, **FAST
    )
    (rid,) = df.attrs["report_ids"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not simulator.webhook_deliveries:
        time.sleep(0.02)
    assert [(d.url, d.report_id) for d in simulator.webhook_deliveries[:1]] == [(hook, rid)]


def test_progress_bars_only_when_asked(
    simulator: Simulator, api: fy.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fy.fetch_playlogs("2024-03-01", "2024-03-02", client=api, cache_dir=None, poll_interval=0.02)
    assert capsys.readouterr().err == ""  # progress=None, not a terminal
    fy.fetch_playlogs(
        "2024-03-01", "2024-03-02", client=api, cache_dir=None, progress=True, poll_interval=0.02
    )
    err = capsys.readouterr().err
    assert "reports" in err and "rows" in err


def test_argument_errors(api: fy.Client, tmp_path: Path) -> None:
    call = {"client": api, "cache_dir": tmp_path, "progress": False}
    with pytest.raises(ValueError, match="before start"):
        fy.fetch_playlogs("2024-03-02", "2024-03-01", **call)
    with pytest.raises(ValueError, match="tz"):
        fy.fetch_playlogs("2024-03-01", "2024-03-02", tz="Mars/Olympus", **call)
    with pytest.raises(ValueError, match="unknown time zone"):  # checked before it is used
        fy.fetch_playlogs("2024-03-01T10:00:00+00:00", "2024-03-02", tz="Mars/Olympus", **call)
    with pytest.raises(ValueError, match="settle"):
        fy.fetch_playlogs("2024-03-01", "2024-03-02", settle="later", **call)
    with pytest.raises(ValueError, match="webhook"):
        fy.fetch_playlogs("2024-03-01", "2024-03-02", webhook="file:///etc/passwd", **call)
    with pytest.raises(ValueError, match="poll_interval"):
        fy.fetch_playlogs("2024-03-01", "2024-03-02", poll_interval=0, **call)
    with pytest.raises(ValueError, match="timeout"):
        fy.fetch_playlogs("2024-03-01", "2024-03-02", timeout=float("nan"), **call)
    with pytest.raises(ValueError, match="max_concurrency"):
        fy.fetch_playlogs("2024-03-01", "2024-03-02", max_concurrency=0, **call)
    with pytest.raises(ValueError, match="player_ids"):
        fy.fetch_playlogs("2024-03-01", "2024-03-02", player_ids=["a"], **call)  # type: ignore[list-item]
    empty = fy.fetch_playlogs("2024-03-01 10:00", "2024-03-01 10:00", **call)
    same(empty, fy.empty_playlogs())


def test_gaps_split_windows_and_concurrency_is_bounded(
    simulator: Simulator, api: fy.Client, tmp_path: Path
) -> None:
    first = fy.fetch_playlogs("2024-03-01", "2024-03-12", client=api, cache_dir=tmp_path, **FAST)
    for day in range(1, 13, 2):  # uncache every other day: six one-day gaps
        fy.clear_cache(tmp_path, api, start=f"2024-03-{day:02d}", end=f"2024-03-{day:02d}")
    simulator.reset_requests()
    again = fy.fetch_playlogs(
        "2024-03-01", "2024-03-12", client=api, cache_dir=tmp_path, max_concurrency=2, **FAST
    )
    same(again, first)
    assert posts(simulator) == 6
    assert again.attrs["fetched_days"] == [f"2024-03-{d:02d}" for d in range(1, 13, 2)]
    in_flight = peak = 0
    for record in simulator.requests:  # a window starts with its POST, ends with its download
        if record.method == "POST":
            in_flight += 1
        elif record.server == "store":
            in_flight -= 1
        peak = max(peak, in_flight)
    assert peak <= 2


def test_pieces_out_of_order_are_detected() -> None:
    def piece(*times: str) -> pa.Table:
        ts = pa.array([pd.Timestamp(t) for t in times], pa.timestamp("s"))
        return pa.table({"played_at": ts})

    assert in_played_order(
        [piece("2024-03-01 08:00", "2024-03-01 09:00"), piece(), piece("2024-03-02")]
    )
    assert not in_played_order([piece("2024-03-01 08:00", "2024-03-02 09:00"), piece("2024-03-02")])
