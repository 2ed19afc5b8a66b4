"""Empty reports (SPEC section 1): a day left empty by a report with ``url: null``, an empty
file or an empty gzip is cached provisional until a second, later report agrees."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import fouryousee_data as fy
from fouryousee_data.cache import PlaylogCache
from fouryousee_data.report import Report
from fouryousee_data.schema import PLAYLOG_SCHEMA
from fouryousee_data.simulator import Simulator

FAST = {"progress": False, "poll_interval": 0.01}
EMPTY_FORMS = ["null_url", "empty_file", "empty_gzip"]


def posts(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.method == "POST" and r.path.endswith("/reports"))


def fetch(api: fy.Client, cache_dir: Path, first: str, last: str) -> pd.DataFrame:
    return fy.fetch_playlogs(first, last, client=api, cache_dir=cache_dir, **FAST)


@pytest.mark.parametrize("form", EMPTY_FORMS)
def test_an_empty_report_is_not_settled_truth(
    simulator: Simulator, api: fy.Client, tmp_path: Path, form: str
) -> None:
    """A store glitch (the report came back empty) is returned, cached provisional, and
    asked again next time, which brings the rows."""
    simulator.inject(form)
    glitch = fetch(api, tmp_path, "2024-03-04", "2024-03-05")  # long settled by age
    assert glitch.empty
    assert glitch.attrs["provisional_days"] == ["2024-03-04", "2024-03-05"]
    info = fy.cache_info(tmp_path)
    assert info["rows"].tolist() == [0, 0] and not info["settled"].any()
    again = fetch(api, tmp_path, "2024-03-04", "2024-03-05")
    assert posts(simulator) == 2 and len(again) > 100  # asked again: the rows are there
    assert again.attrs["provisional_days"] == [] and fy.cache_info(tmp_path)["settled"].all()


@pytest.mark.parametrize("form", EMPTY_FORMS)
def test_an_empty_day_settles_once_a_second_later_report_agrees(
    simulator: Simulator, api: fy.Client, tmp_path: Path, form: str
) -> None:
    simulator.inject(form)
    assert fetch(api, tmp_path, "2024-03-06", "2024-03-06").attrs["provisional_days"] == [
        "2024-03-06"
    ]
    simulator.advance(dt.timedelta(hours=1))
    simulator.inject(form)  # the second report is empty too: it agrees
    second = fetch(api, tmp_path, "2024-03-06", "2024-03-06")
    assert second.empty and second.attrs["provisional_days"] == []
    assert posts(simulator) == 2 and fy.cache_info(tmp_path)["settled"].tolist() == [True]
    third = fetch(api, tmp_path, "2024-03-06", "2024-03-06")  # settled: not asked again
    assert third.empty and posts(simulator) == 2
    assert third.attrs["cached_days"] == ["2024-03-06"]


def test_an_empty_report_without_cache_is_provisional(simulator: Simulator, api: fy.Client) -> None:
    simulator.inject("null_url")
    df = fy.fetch_playlogs("2024-03-04", "2024-03-04", client=api, cache_dir=None, **FAST)
    assert df.empty and df.attrs["provisional_days"] == ["2024-03-04"]


# -- the cache alone (the webhook receiver stores whole reports) --------------------------
DAY = dt.date(2024, 3, 1)


def report(rid: int, created: str) -> Report:
    filt = {"startDate": "2024-03-01", "startTime": "00:00:00"}
    filt |= {"endDate": "2024-03-02", "endTime": "23:59:59", "playerId": [], "mediaId": []}
    return Report(
        id=rid, status="success", filter=filt, created_at=dt.datetime.fromisoformat(created)
    )


def one_play(day: dt.date) -> pa.Table:
    row = {"played_at": pd.Timestamp(day) + pd.Timedelta(hours=9), "account": "a"}
    row |= {"player_id": 1, "media_id": 2, "media_type": "I", "ip": None}
    return pa.Table.from_pylist([row], PLAYLOG_SCHEMA)


def test_store_report_marks_empty_reports_and_their_agreement(tmp_path: Path) -> None:
    cache = PlaylogCache(tmp_path, "00112233aabbccdd")
    days = [DAY, DAY + dt.timedelta(days=1)]
    empty = PLAYLOG_SCHEMA.empty_table()
    first = cache.store_report(report(1, "2024-03-10T00:00:00+00:00"), empty)
    assert [e.is_settled() for e in first] == [False, False]
    assert not cache.load(days).served  # provisional: fetched again
    again = cache.store_report(report(1, "2024-03-10T00:00:00+00:00"), empty)  # redelivered
    assert [e.is_settled() for e in again] == [False, False]  # a report does not agree with itself
    second = cache.store_report(report(2, "2024-03-11T00:00:00+00:00"), empty)
    assert [e.is_settled() for e in second] == [True, True]
    assert [e.extra["agrees_with"] for e in second] == [1, 1]
    assert list(cache.load(days).served) == days


def test_an_empty_day_in_a_report_with_rows_is_settled_at_once(tmp_path: Path) -> None:
    """Only a report with no playlogs at all may be a glitch: a report with rows on one day
    and none on the next is read as it says."""
    cache = PlaylogCache(tmp_path, "00112233aabbccdd")
    stored = cache.store_report(report(1, "2024-03-10T00:00:00+00:00"), one_play(DAY))
    assert [(e.rows, e.is_settled()) for e in stored] == [(1, True), (0, True)]


def test_an_earlier_report_does_not_confirm_a_later_one(tmp_path: Path) -> None:
    cache = PlaylogCache(tmp_path, "00112233aabbccdd")
    empty = PLAYLOG_SCHEMA.empty_table()
    cache.store_report(report(2, "2024-03-11T00:00:00+00:00"), empty)
    late = cache.store_report(report(1, "2024-03-10T00:00:00+00:00"), empty)  # delivered late
    assert [e.is_settled() for e in late] == [False, False]
