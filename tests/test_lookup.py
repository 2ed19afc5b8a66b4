"""Report lookups: newest first (``sort=-id``), 100 a page, stopping as soon as the answer is
known, once per ``fetch_playlogs`` call: counted in the simulator's requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

import fouryousee_data as fy
from conftest import fast_client, paced_request
from fouryousee_data.filters import report_filter
from fouryousee_data.lookup import LISTING, newest_matches
from fouryousee_data.report import Report
from fouryousee_data.simulator import Simulator

FAST = {"progress": False, "poll_interval": 0.02, "cache_dir": None}


def listings(sim: Simulator) -> list[dict[str, str]]:
    """The queries of every ``GET reports`` (the listing), in order."""
    return [r.query for r in sim.requests if r.method == "GET" and r.path == "/reports"]


def pile_up(sim: Simulator, n: int, day: str = "2024-02-01") -> None:
    """``n`` reports the account already has, for the whole day ``day`` (raw POSTs)."""
    body: dict[str, Any] = {"type": "detailed", "filter": report_filter(day, day)}
    for _ in range(n):
        r = paced_request(
            "POST", sim.base_url + "reports", json=body, headers={"Secret-Token": sim.token}
        )
        assert r.status_code == 201


def test_a_fetch_looks_once_for_all_its_windows(simulator: Simulator, api: fy.Client) -> None:
    df = fy.fetch_playlogs("2024-01-01", "2024-03-20", client=api, **FAST)  # 3 windows
    assert len(df.attrs["report_ids"]) == 3
    assert listings(simulator) == [{"page": "1", "sort": "-id", "limit": "100"}]
    assert LISTING == {"sort": "-id", "limit": 100}


def test_the_look_stops_at_the_page_that_holds_every_answer(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(report_delay=3600)  # reports stay pending: reusable
    pile_up(sim, 150)  # older ones for another day, two pages' worth
    with fast_client(sim) as c:
        mine = [c.request_report(d, d) for d in ("2024-03-01", "2024-03-02")]
        sim.reset_requests()
        found = c.reusable_reports([report_filter(d, d) for d in ("2024-03-02", "2024-03-01")])
        assert [r and r.id for r in found] == [mine[1].id, mine[0].id]
        assert len(listings(sim)) == 1  # the newest page held both answers: page 2 never asked
        # a filter nobody has: the listing is read to its end (here 2 pages), not further
        sim.reset_requests()
        assert c.reusable_reports([report_filter("2024-03-09", "2024-03-09")]) == [None]
        assert [q["page"] for q in listings(sim)] == ["1", "2"]


def test_the_look_stops_at_reports_older_than_a_day(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(report_delay=3600)
    pile_up(sim, 150)  # for 2024-02-01, the day asked about below
    sim.advance(dt.timedelta(days=2))  # all of them are now two days old
    with fast_client(sim) as c:
        sim.reset_requests()
        assert c.reusable_reports([report_filter("2024-02-01", "2024-02-01")]) == [None]
        assert len(listings(sim)) == 1  # too old to reuse, and every later one is older
        report = c.request_report("2024-02-01", "2024-02-01", reuse=True)  # so: a new one
        assert report.created_at == sim.now().replace(microsecond=0)


def test_list_reports_reads_every_page_100_at_a_time(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(report_delay=3600, page_size=2)  # the client asks 100 a page
    pile_up(sim, 101)
    with fast_client(sim) as c:
        sim.reset_requests()
        reports = c.list_reports()
    assert len(reports) == 101 and [r.id for r in reports] == sorted(
        (r.id for r in reports), reverse=True
    )
    assert [q["page"] for q in listings(sim)] == ["1", "2"]


def test_an_ambiguous_post_looks_only_at_recent_reports(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(report_delay=3600)
    pile_up(sim, 120, day="2024-03-05")  # the same filter, long ago
    sim.advance(dt.timedelta(hours=1))
    sim.inject("create_then_fail", status=502)
    with fast_client(sim) as c:
        sim.reset_requests()
        report = c.request_report("2024-03-05", "2024-03-05")
    posts = [r for r in sim.requests if r.method == "POST"]
    assert len(posts) == 1  # found the report the failed POST created: not posted again
    assert report.created_at == sim.now().replace(microsecond=0)  # that one, not an old one
    assert len(listings(sim)) == 1  # page 1 reached the hour-old ones: stopped there


def test_newest_matches_stops_consuming_at_since() -> None:
    f = report_filter("2024-03-01", "2024-03-01")
    at = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
    old = Report(id=1, status="success", filter=f, created_at=at - dt.timedelta(days=3))
    consumed: list[int] = []

    def listing() -> Any:
        for r in (Report(id=3, status="waiting", filter={}, created_at=at), old):
            consumed.append(r.id)
            yield r
        pytest.fail("read past the cut-off")

    assert newest_matches(listing(), [f], since=lambda: at - dt.timedelta(days=1)) == [None]
    assert consumed == [3, 1]
