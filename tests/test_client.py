"""The client against the simulator: lifecycle, retries, safe POST, waiting, names, secrets."""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from typing import Any

import pandas as pd
import pytest

import fouryousee_data as fy
from conftest import FAST_RETRY, PACE, ScaledTime, fast_client, paced_client
from fouryousee_data.client import Client, report_filter
from fouryousee_data.report import Report
from fouryousee_data.simulator import Simulator

DAY = "2024-03-05"


def wait(client: Client, report: Report, timeout: float = 20.0) -> Report:
    return client.wait_for_report(
        report, timeout=timeout, poll_interval=0.02, max_poll_interval=0.1
    )


def api_calls(sim: Simulator, method: str, prefix: str = "") -> list[Any]:
    return [
        r
        for r in sim.requests
        if r.server == "api" and r.method == method and r.path.lstrip("/").startswith(prefix)
    ]


# -- lifecycle ------------------------------------------------------------------------------


def test_fixture_client_is_configured(client: Client, simulator: Simulator) -> None:
    assert client.base_url == simulator.base_url
    assert simulator.token not in repr(client)


def test_request_wait_download_matches_the_simulator(api: Client, simulator: Simulator) -> None:
    report = api.request_report(DAY, DAY, player_ids=[simulator.players[0]["id"]])
    assert report.status in ("waiting", "processing")
    assert report.filter["playerId"] == [simulator.players[0]["id"]]
    ready = wait(api, report)
    assert ready.succeeded and ready.url
    df = api.download_playlogs(ready)
    expected = simulator.expected_frame(ready.filter, as_of=ready.created_at)
    assert len(df) > 0
    pd.testing.assert_frame_equal(df, expected)
    assert all(r.had_token for r in simulator.requests if r.server == "api")
    store = [r for r in simulator.requests if r.server == "store"]
    assert store and not any(r.had_token for r in store)


def test_download_accepts_an_id_and_a_stale_report(api: Client, simulator: Simulator) -> None:
    report = api.request_report(DAY, DAY)
    wait(api, report)
    table = api.download_table(report.id)  # an id
    stale = api.download_table(report)  # the 'waiting' object: refreshed first
    assert table.equals(stale)
    assert table.schema.equals(fy.PLAYLOG_SCHEMA)


def test_download_of_a_pending_report_is_a_value_error(make_simulator) -> None:
    sim = make_simulator(report_delay=30.0)
    c = fast_client(sim)
    report = c.request_report(DAY, DAY)
    with pytest.raises(ValueError, match="wait_for_report"):
        c.download_playlogs(report)


def test_progress_increments_add_up(api: Client, simulator: Simulator) -> None:
    ready = wait(api, api.request_report(DAY, DAY))
    seen = [0, 0]

    def on_progress(n_bytes: int, n_rows: int) -> None:
        seen[0] += n_bytes
        seen[1] += n_rows

    table = api.download_table(ready, on_progress=on_progress)
    assert seen[1] == table.num_rows and seen[0] > 0


def test_reuse_returns_an_existing_report_without_posting(
    api: Client, simulator: Simulator
) -> None:
    first = api.request_report(DAY, DAY, media_ids=[simulator.medias[0]["id"]])
    simulator.reset_requests()
    again = api.request_report(DAY, DAY, media_ids=[simulator.medias[0]["id"]], reuse=True)
    assert again.id == first.id
    assert api_calls(simulator, "POST") == []
    other = api.request_report(DAY, DAY, reuse=True)  # different filter: a new report
    assert other.id != first.id
    # reuse= may say which existing reports will do
    media = [simulator.medias[0]["id"]]
    assert api.request_report(DAY, DAY, media_ids=media, reuse=lambda r: True).id == first.id
    fresh = api.request_report(DAY, DAY, media_ids=media, reuse=lambda r: r.id != first.id)
    assert fresh.id != first.id and len(api_calls(simulator, "POST")) == 2


def test_find_reports_matches_the_normalised_filter(api: Client) -> None:
    a = api.request_report(DAY, DAY, player_ids=[2, 1])
    api.request_report(DAY, DAY, player_ids=[1])
    found = api.find_reports(report_filter(DAY, DAY, player_ids=[1, 2, 2]))
    assert [r.id for r in found] == [a.id]
    assert api.find_reports(report_filter(DAY, DAY, player_ids=[1, 2]), statuses=["failed"]) == []


def test_list_reports_follows_every_page(make_simulator) -> None:
    sim = make_simulator(page_size=2)
    c = fast_client(sim)
    ids = {c.request_report(f"2024-03-{d:02d}", f"2024-03-{d:02d}").id for d in range(1, 8)}
    sim.reset_requests()
    assert {r.id for r in c.list_reports()} == ids
    # the client asks 100 a page (the server's default page_size is 2): one page
    assert [r.query for r in api_calls(sim, "GET", "reports")] == [
        {"page": "1", "sort": "-id", "limit": "100"}
    ]


def test_request_report_bad_window_is_value_error(api: Client, simulator: Simulator) -> None:
    with pytest.raises(ValueError, match="30"):
        api.request_report("2024-01-01", "2024-02-15")
    assert api_calls(simulator, "POST") == []


def test_get_unknown_report_is_not_found_with_server_message(
    api: Client, simulator: Simulator
) -> None:
    with pytest.raises(fy.NotFoundError) as info:
        api.get_report(987654)
    assert info.value.status_code == 404
    assert "987654" in info.value.message
    assert len(api_calls(simulator, "GET")) == 1  # a 404 is not retried


def test_bad_token_is_authentication_error_not_retried(simulator: Simulator) -> None:
    c = paced_client(simulator, token="wrong-token", retry=FAST_RETRY)
    with pytest.raises(fy.AuthenticationError) as info:
        c.list_reports()
    assert info.value.status_code == 401
    assert "wrong-token" not in str(info.value)
    assert len(api_calls(simulator, "GET")) == 1


# -- names ----------------------------------------------------------------------------------


def test_players_and_medias_every_page_typed(make_simulator) -> None:
    sim = make_simulator(players=7, medias=11, page_size=3)
    c = fast_client(sim)
    players, medias = c.players(), c.medias()
    assert players["player_id"].tolist() == [p["id"] for p in sim.players]
    assert medias["media_id"].tolist() == [m["id"] for m in sim.medias]
    assert players["player_id"].dtype == "int32" and medias["media_id"].dtype == "int32"
    for col in ("name", "group_name", "platform", "last_log_received", "status"):
        assert col in players.columns
    assert players["name"].tolist() == [p["name"] for p in sim.players]
    assert players["group_name"].tolist() == [p["group"]["name"] for p in sim.players]
    assert pd.api.types.is_datetime64_dtype(players["last_log_received"])
    assert medias["duration_s"].dtype == "float64"
    assert medias["duration_s"].tolist() == [float(m["durationInSeconds"]) for m in sim.medias]
    assert medias["categories"].tolist() == [
        [c["name"] for c in m["categories"]] for m in sim.medias
    ]
    # 100 a page (the API's maximum), whatever the server's default page size
    assert [r.query for r in api_calls(sim, "GET", "players")] == [{"page": "1", "limit": "100"}]
    assert len(api_calls(sim, "GET", "medias")) == 1
    # the flight and the weekly playlists are kept, typed (for the audit)
    assert medias["schedule_start"].dtype == "datetime64[s]"
    assert medias["schedule_end"].tolist() == [
        pd.Timestamp(m["schedule"]["endDate"]) for m in sim.medias
    ]
    assert medias["schedule_weekdays"].map(len).gt(0).all()
    assert players["status_id"].isin([1, 2, 3, 6]).all()
    assert players["status_min"].tolist() == [p["playerStatus"]["time"] for p in sim.players]
    assert players["playlists"].map(sorted).tolist() == [list(range(7))] * 7


# -- retries of GET -------------------------------------------------------------------------


def _http_date(sim: Simulator, seconds_from_now: float) -> str:
    """An HTTP date on the simulator's clock (its ``Date`` header is on that clock too)."""
    when = sim.now() + dt.timedelta(seconds=seconds_from_now)
    return email.utils.format_datetime(when, usegmt=True)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(1, 1.0), ("1", 1.0), (None, None), ("garbage", None), ("99999999", None)],
)
def test_rate_limit_is_retried_honouring_retry_after(
    simulator: Simulator, retry_after: Any, expected: float | None
) -> None:
    time = ScaledTime()
    simulator.inject("rate_limit", route="GET /reports", retry_after=retry_after)
    with fast_client(simulator, clock=time.clock, sleep=time.sleep) as c:
        assert c.list_reports() == []
    assert len(api_calls(simulator, "GET")) == 2
    if expected is None:  # missing or untrusted: the policy's backoff, at least min_interval
        assert len(time.sleeps) == 1
        assert max(PACE, FAST_RETRY.backoff / 2) <= time.sleeps[0] <= FAST_RETRY.backoff
    else:
        assert time.sleeps == [expected]


def test_rate_limit_with_http_date(simulator: Simulator) -> None:
    # measured against the response's Date (the simulator's frozen clock), not ours
    time = ScaledTime()
    simulator.inject("rate_limit", route="GET /reports", retry_after=_http_date(simulator, 7))
    with fast_client(simulator, clock=time.clock, sleep=time.sleep) as c:
        c.list_reports()
    assert time.sleeps == [7.0]


def test_rate_limit_after_retries_is_rate_limit_error(api: Client, simulator: Simulator) -> None:
    simulator.inject("rate_limit", times=10, route="GET /reports", retry_after="0")
    with pytest.raises(fy.RateLimitError) as info:
        api.list_reports()
    assert info.value.status_code == 429 and info.value.retry_after == 0.0
    assert len(api_calls(simulator, "GET")) == FAST_RETRY.attempts


def test_transient_5xx_is_retried(api: Client, simulator: Simulator) -> None:
    simulator.inject("server_error", times=2, route="GET /players", status=503)
    simulator.inject("server_error", times=1, route="GET /medias", status=502)
    assert len(api.players()) == len(simulator.players)
    assert len(api.medias()) == len(simulator.medias)


def test_persistent_5xx_is_api_error_with_message(api: Client, simulator: Simulator) -> None:
    simulator.inject("server_error", times=10, route="GET /players", status=504)
    with pytest.raises(fy.APIError) as info:
        api.players()
    assert info.value.status_code == 504 and info.value.message
    assert len(api_calls(simulator, "GET")) == FAST_RETRY.attempts


def test_500_is_retried_for_get_like_every_transient_5xx(api: Client, simulator: Simulator) -> None:
    simulator.inject("server_error", times=1, route="GET /players", status=500)
    assert len(api.players()) == len(simulator.players)
    simulator.reset_requests()
    simulator.inject("server_error", times=10, route="GET /players", status=500)
    with pytest.raises(fy.APIError) as info:
        api.players()
    assert info.value.status_code == 500
    assert len(api_calls(simulator, "GET")) == FAST_RETRY.attempts


def test_reset_and_slow_get_are_retried(simulator: Simulator) -> None:
    c = fast_client(simulator, timeout=0.5)
    simulator.inject("reset", route="GET /medias")
    assert len(c.medias()) == len(simulator.medias)
    simulator.inject("slow", route="GET /players", delay=1.5)
    started = time.monotonic()
    assert len(c.players()) == len(simulator.players)
    assert time.monotonic() - started < 1.5  # the read timeout cut the slow answer


def test_unreachable_api_is_api_error(make_simulator) -> None:
    gone = make_simulator()
    token = gone.token
    gone.stop()
    c = paced_client(gone, token=token, timeout=1.0, retry=FAST_RETRY)
    with pytest.raises(fy.APIError, match="did not answer"):
        c.list_reports()


# -- POST reports is never blindly repeated -------------------------------------------------


def test_create_then_fail_finds_the_created_report(api: Client, simulator: Simulator) -> None:
    simulator.inject("create_then_fail", route="POST /reports")
    report = api.request_report(DAY, DAY, player_ids=[1])
    same = api.find_reports(report_filter(DAY, DAY, player_ids=[1]))
    assert [r.id for r in same] == [report.id]
    assert len(api_calls(simulator, "POST")) == 1


def test_reset_on_post_posts_again_after_looking(api: Client, simulator: Simulator) -> None:
    simulator.inject("reset", route="POST /reports")
    report = api.request_report(DAY, DAY, player_ids=[2])
    same = api.find_reports(report_filter(DAY, DAY, player_ids=[2]))
    assert [r.id for r in same] == [report.id]
    posts = api_calls(simulator, "POST")
    assert len(posts) <= 2
    # between the two POSTs the client looked at the reports
    order = [(r.method, r.path.lstrip("/").split("?")[0]) for r in simulator.requests]
    if len(posts) == 2:
        first, second = (i for i, o in enumerate(order) if o[0] == "POST")
        assert ("GET", "reports") in order[first + 1 : second]


@pytest.mark.parametrize("fault", ["server_error", "rate_limit"])
def test_post_failures_leave_exactly_one_report(
    api: Client, simulator: Simulator, fault: str
) -> None:
    options = {"status": 503} if fault == "server_error" else {"retry_after": "0"}
    simulator.inject(fault, times=2, route="POST /reports", **options)
    report = api.request_report(DAY, DAY, media_ids=[3])
    assert [r.id for r in api.find_reports(report_filter(DAY, DAY, media_ids=[3]))] == [report.id]


def test_post_rejected_is_not_retried(api: Client, simulator: Simulator) -> None:
    simulator.inject("server_error", times=10, route="POST /reports", status=503)
    with pytest.raises(fy.APIError) as info:
        api.request_report(DAY, DAY)
    assert info.value.status_code == 503
    assert len(api_calls(simulator, "POST")) == FAST_RETRY.attempts
    assert api.list_reports() == []


# -- waiting --------------------------------------------------------------------------------


def test_failed_report_raises_with_its_error(api: Client, simulator: Simulator) -> None:
    simulator.inject("report_failed")
    report = api.request_report(DAY, DAY)
    with pytest.raises(fy.ReportFailedError) as info:
        wait(api, report)
    assert info.value.report.id == report.id
    assert info.value.report.error and info.value.report.error.get("message")
    with pytest.raises(fy.ReportFailedError):
        api.download_playlogs(report.id)


def test_never_ready_report_times_out(api: Client, simulator: Simulator) -> None:
    simulator.inject("report_never_ready")
    report = api.request_report(DAY, DAY)
    started = time.monotonic()
    with pytest.raises(fy.ReportTimeoutError) as info:
        api.wait_for_report(report, timeout=0.5, poll_interval=0.05, max_poll_interval=0.2)
    assert info.value.report_id == report.id
    assert 0.5 <= time.monotonic() - started < 3.0
    polls = api_calls(simulator, "GET", f"reports/{report.id}")
    assert 3 <= len(polls) <= 12  # capped backoff, not a busy loop


class _Scripted(Client):
    """A client whose report statuses follow a script (no network), with a fake clock."""

    def __init__(self, statuses: list[str]) -> None:
        super().__init__(
            token="t", base_url="http://127.0.0.1:9/v1/", clock=self._now, sleep=self._advance
        )
        self.statuses = statuses
        self.now = 0.0
        self.sleeps: list[float] = []

    def _now(self) -> float:
        return self.now

    def _advance(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def get_report(self, report_id: int | Report) -> Report:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return Report(id=5, status=status)


def test_unknown_statuses_keep_waiting_with_capped_backoff() -> None:
    c = _Scripted(["waiting", "queued", "processing", "generating", "success"])
    assert c.wait_for_report(5, poll_interval=2.0, max_poll_interval=3.0).status == "success"
    assert c.sleeps == [2.0, 3.0, 3.0, 3.0]


def test_deadline_with_fake_clock() -> None:
    c = _Scripted(["waiting"])
    with pytest.raises(fy.ReportTimeoutError) as info:
        c.wait_for_report(5, timeout=100.0, poll_interval=1.0, max_poll_interval=10.0)
    assert info.value.report_id == 5
    assert sum(c.sleeps) == pytest.approx(100.0)
    assert max(c.sleeps) <= 10.0


@pytest.mark.parametrize(
    "kwargs", [{"timeout": -1}, {"poll_interval": 0}, {"poll_interval": 5, "max_poll_interval": 1}]
)
def test_wait_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        _Scripted(["success"]).wait_for_report(5, **kwargs)


def test_report_created_at_is_recent(api: Client, simulator: Simulator) -> None:
    report = api.request_report(DAY, DAY)
    assert report.created_at is not None
    assert abs(report.created_at - simulator.now()) < dt.timedelta(minutes=1)
