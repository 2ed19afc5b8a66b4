"""The simulator's synthetic data: deterministic, realistic in shape, filtered exactly."""

from __future__ import annotations

import collections
import datetime as dt
import gzip
import io
import json
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_simulator import create, download, wait

import fouryousee_data as fy
from fouryousee_data import schema
from fouryousee_data.simulator import Network, Simulator
from fouryousee_data.simulator.cli import write_report
from fouryousee_data.simulator.data import DAY, MAX_UPLOAD_LAG

LATER = dt.datetime(2024, 6, 1, tzinfo=dt.UTC).timestamp()  # everything is uploaded by then
MARCH = {"startDate": "2024-03-01", "endDate": "2024-03-12"}
MARCH_DAYS = 12
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample_report.gz"


def report_bytes(net: Network, flt: dict[str, Any], as_of: float = LATER) -> bytes:
    buf = io.BytesIO()
    net.write_report(flt, as_of, buf)
    return buf.getvalue()


def key(row: dict[str, Any]) -> tuple:
    return row["date"], row["time"], row["playerId"], row["mediaId"]


@pytest.fixture(scope="module")
def net() -> Network:
    return Network(seed=7, players=8, medias=12, plays_per_hour=12)


@pytest.fixture(scope="module")
def march(net: Network) -> list[dict[str, Any]]:
    return net.rows({**MARCH, "sort": 1}, LATER)


# -- determinism -----------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    flt = {"startDate": "2024-03-04", "endDate": "2024-03-06"}
    a = report_bytes(Network(seed=3, players=3, medias=4), flt)
    assert a == report_bytes(Network(seed=3, players=3, medias=4), flt)
    assert a != report_bytes(Network(seed=4, players=3, medias=4), flt)


def test_days_are_generated_independently(net: Network) -> None:
    p = net.players[0]
    day = dt.date(2024, 3, 5)
    before = net.day_plays(p, day)
    net.day_plays(p, dt.date(2024, 1, 1))
    again = net.day_plays(p, day)
    assert np.array_equal(before.local, again.local) and np.array_equal(before.media, again.media)


def test_two_simulators_serve_identical_files(make_simulator: Callable[..., Simulator]) -> None:
    bodies = []
    for _ in range(2):
        sim = make_simulator(seed=11)
        bodies.append(download(wait(sim, create(sim)["id"])["url"]).content)
    assert bodies[0] == bodies[1]


def test_committed_sample_regenerates_byte_identically(tmp_path: Path) -> None:
    out = tmp_path / "sample.gz"
    n = write_report(
        out, "2024-03-04", "2024-03-10", now="2024-04-01T12:00:00Z",
        seed=0, players=4, medias=8, plays_per_hour=12,
    )  # fmt: skip
    assert out.read_bytes() == SAMPLE.read_bytes()
    assert n == len(gzip.decompress(SAMPLE.read_bytes()).splitlines()) > 2000
    assert str(n) in (SAMPLE.parent / "README.md").read_text().replace(",", "")


# -- the file, the rows and the frame agree ---------------------------------------------------


def test_file_rows_and_frame_agree(net: Network) -> None:
    flt = {"startDate": "2024-03-08", "endDate": "2024-03-11"}
    raw = report_bytes(net, flt)
    rows = [json.loads(line) for line in gzip.decompress(raw).splitlines()]
    assert rows == net.rows(flt, LATER)
    frame = net.frame(flt, LATER)
    assert list(frame.columns) == list(schema.COLUMNS)
    assert frame.dtypes.astype(str).to_dict() == {
        k: str(v) for k, v in schema.pandas_dtypes().items()
    }
    assert len(frame) == len(rows)
    assert frame["played_at"].tolist() == [pd.Timestamp(f"{r['date']} {r['time']}") for r in rows]
    assert frame["player_id"].tolist() == [r["playerId"] for r in rows]
    assert frame["media_id"].tolist() == [r["mediaId"] for r in rows]
    for column, source in (("account", "account"), ("media_type", "type"), ("ip", "ip")):
        got = [None if pd.isna(v) else v for v in frame[column]]
        assert got == [r.get(source) for r in rows]


def test_the_parser_reads_exactly_the_expected_frame(net: Network) -> None:
    flt = {"startDate": "2024-03-08", "endDate": "2024-03-11"}
    parsed = fy.read_playlogs(report_bytes(net, flt))
    expected = net.frame(flt, LATER)
    pd.testing.assert_frame_equal(parsed, expected, check_categorical=False)


def test_lines_look_like_real_reports() -> None:
    net = Network(seed=7, players=40, medias=12, plays_per_hour=4)
    raw = gzip.decompress(report_bytes(net, {"startDate": "2024-03-05", "endDate": "2024-03-05"}))
    rows = [json.loads(line) for line in raw.decode().splitlines()]
    assert len({tuple(r) for r in rows}) == 4  # firmwares write keys in different orders
    assert b'": ' in raw and b'":"' in raw  # ... and with different spacing
    assert all({"date", "time", "playerId", "mediaId", "ip"} <= set(r) for r in rows)
    assert {r.get("type") for r in rows} == {"I", "V", None}
    assert any("type" not in r and "account" not in r for r in rows)  # a legacy firmware
    assert {r["ip"] for r in rows} >= {None, "0.0.0.0"}
    assert {r.get("account") for r in rows} == {net.account, None}


# -- realistic shape -------------------------------------------------------------------------


def test_plays_stay_within_opening_hours(net: Network, march: list[dict[str, Any]]) -> None:
    players = {p.id: p for p in net.players}
    for r in march:
        p = players[r["playerId"]]
        h, m, s = map(int, r["time"].split(":"))
        assert p.open_s <= h * 3600 + m * 60 + s < p.close_s
        assert dt.date.fromisoformat(r["date"]).weekday() not in p.closed_weekdays


def test_each_player_rotates_its_playlist(net: Network) -> None:
    for p in net.players:
        d = net.day_plays(p, dt.date(2024, 3, 12))
        nxt = {m: p.playlist[(i + 1) % len(p.playlist)] for i, m in enumerate(p.playlist)}
        follows = [nxt[int(a)] == int(b) for a, b in zip(d.media[:-1], d.media[1:], strict=True)]
        assert np.mean(follows) > 0.95 if follows else True
        assert set(d.media.tolist()) <= set(p.playlist)


def test_some_players_go_dark_for_hours(net: Network, march: list[dict[str, Any]]) -> None:
    by_player_day: dict[tuple, list[int]] = collections.defaultdict(list)
    for r in march:
        h, m, s = map(int, r["time"].split(":"))
        by_player_day[r["playerId"], r["date"]].append(h * 3600 + m * 60 + s)
    long_gaps = [k for k, t in by_player_day.items() if np.max(np.diff(t), initial=0) > 3600]
    assert long_gaps  # powered off for over an hour in opening hours
    open_days = {
        (p.id, (dt.date(2024, 3, 1) + dt.timedelta(d)).isoformat())
        for p in net.players
        for d in range(MARCH_DAYS)
        if (dt.date(2024, 3, 1) + dt.timedelta(d)).weekday() not in p.closed_weekdays
    }
    assert len(open_days - set(by_player_day)) < len(open_days) * 0.15  # few dead days


def test_plays_per_hour_scales_the_volume() -> None:
    flt = {"startDate": "2024-03-04", "endDate": "2024-03-05"}
    small = len(Network(seed=1, players=3, plays_per_hour=10).rows(flt, LATER))
    big = len(Network(seed=1, players=3, plays_per_hour=100).rows(flt, LATER))
    assert 8 < big / small < 12


def test_local_time_follows_the_time_zone_across_dst() -> None:
    net = Network(seed=2, players=20, medias=5, tz="America/New_York", plays_per_hour=30)
    allday = [p for p in net.players if p.open_s == 0 and p.close_s == DAY]
    assert allday
    p = allday[0]
    spring = net.day_plays(p, dt.date(2024, 3, 10))
    seconds = spring.local % DAY
    assert not ((seconds >= 2 * 3600) & (seconds < 3 * 3600)).any()  # the skipped hour
    zone = zoneinfo.ZoneInfo("America/New_York")
    for instant, local in zip(spring.instant[:50], spring.local[:50], strict=True):
        wall = dt.datetime.fromtimestamp(int(instant), zone).replace(tzinfo=None)
        assert wall == dt.datetime(1970, 1, 1) + dt.timedelta(seconds=int(local))
    autumn = net.day_plays(p, dt.date(2024, 11, 3))
    if len(autumn.instant) > 100:  # a 25-hour day: the repeated hour has plays twice
        assert (autumn.instant[-1] - autumn.instant[0]) > 24 * 3600 - 1800


# -- late uploads ----------------------------------------------------------------------------


def _utc(local: str, tz: str = "America/Sao_Paulo") -> float:
    return dt.datetime.fromisoformat(local).replace(tzinfo=zoneinfo.ZoneInfo(tz)).timestamp()


def test_a_day_fetched_soon_after_it_ended_has_fewer_rows(net: Network) -> None:
    counts = []
    for day in ("2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"):
        flt = {"startDate": day, "endDate": day}
        end = dt.date.fromisoformat(day) + dt.timedelta(days=1)
        soon = net.rows(flt, _utc(f"{end} 00:30"))
        settled = net.rows(flt, _utc(f"{end} 00:00") + MAX_UPLOAD_LAG)
        assert settled == net.rows(flt, LATER)  # nothing arrives after MAX_UPLOAD_LAG
        missing = collections.Counter(map(key, settled)) - collections.Counter(map(key, soon))
        assert not collections.Counter(map(key, soon)) - collections.Counter(map(key, settled))
        counts.append((len(soon), len(settled), sum(missing.values())))
    assert all(s <= t for s, t, _ in counts)
    assert any(m > 20 for _, _, m in counts)  # some player uploaded hours late


def test_a_report_never_holds_plays_after_its_creation(net: Network) -> None:
    as_of = "2024-03-06 15:00:00"
    rows = net.rows({"startDate": "2024-03-06", "endDate": "2024-03-06"}, _utc(as_of))
    assert rows and max(f"{r['date']} {r['time']}" for r in rows) <= as_of


def test_simulator_report_holds_what_was_uploaded_at_created_at(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(now="2024-03-05T03:00:00Z")  # 00:00 local: March 4 just ended
    flt = {"startDate": "2024-03-04", "endDate": "2024-03-04"}
    early = wait(sim, create(sim, flt)["id"])
    sim.advance(dt.timedelta(days=2))
    late = wait(sim, create(sim, flt)["id"])
    early_url = sim.report(early["id"])["url"]  # the first URL expired in those two days
    early_rows = gzip.decompress(download(early_url).content).splitlines()
    late_rows = gzip.decompress(download(late["url"]).content).splitlines()
    assert len(early_rows) == len(sim.expected_rows(flt, as_of=early["createdAt"]))
    assert len(late_rows) == len(sim.expected_rows(flt)) >= len(early_rows)


# -- filters ---------------------------------------------------------------------------------


def test_player_and_media_filters_apply_exactly(net: Network, march: list[dict[str, Any]]) -> None:
    players = [net.players[1].id, net.players[4].id]
    medias = [net.medias[0].id, net.medias[5].id, net.medias[7].id]
    for extra, keep in (
        ({"playerId": players}, lambda r: r["playerId"] in players),
        ({"mediaId": medias}, lambda r: r["mediaId"] in medias),
        ({"playerId": players, "mediaId": medias},
         lambda r: r["playerId"] in players and r["mediaId"] in medias),
        ({"playerId": [], "mediaId": []}, lambda r: True),
        ({"playerId": [999_999]}, lambda r: False),
    ):  # fmt: skip
        got = net.rows({**MARCH, "sort": 1, **extra}, LATER)
        assert got == [r for r in march if keep(r)]


def test_time_window_is_inclusive_at_both_ends(net: Network, march: list[dict[str, Any]]) -> None:
    stamps = sorted({f"{r['date']} {r['time']}" for r in march})
    first, last = stamps[100], stamps[-100]
    flt = {
        "startDate": first[:10], "startTime": first[11:],
        "endDate": last[:10], "endTime": last[11:], "sort": 1,
    }  # fmt: skip
    got = net.rows(flt, LATER)
    assert got == [r for r in march if first <= f"{r['date']} {r['time']}" <= last]
    assert f"{got[0]['date']} {got[0]['time']}" == first
    assert f"{got[-1]['date']} {got[-1]['time']}" == last


def test_sort_newest_first_is_the_exact_reverse(net: Network) -> None:
    flt = {"startDate": "2024-03-04", "endDate": "2024-03-06"}
    oldest_first = net.rows({**flt, "sort": 1}, LATER)
    newest_first = net.rows({**flt, "sort": -1}, LATER)
    assert newest_first == oldest_first[::-1]
    assert net.rows(flt, LATER) == newest_first  # -1 is the default
    stamps = [f"{r['date']} {r['time']}" for r in oldest_first]
    assert stamps == sorted(stamps)


def test_report_file_is_written_one_day_at_a_time(net: Network) -> None:
    class Counting(io.BytesIO):
        writes = 0

        def write(self, b: Any) -> int:
            Counting.writes += 1
            return super().write(b)

    net.write_report({**MARCH, "sort": 1}, LATER, Counting())
    assert Counting.writes >= MARCH_DAYS  # streamed, not built in memory and written once
