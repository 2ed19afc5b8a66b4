"""Downloading report files from the simulator's object store, through every store fault."""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
import traceback
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import fouryousee_data as fy
from conftest import FAST_RETRY, PACE, fast_client, paced_client
from fouryousee_data.client import Client
from fouryousee_data.report import Report
from fouryousee_data.simulator import Simulator

DAY = "2024-03-05"


@pytest.fixture
def ready(api: Client, simulator: Simulator) -> Report:
    report = api.request_report(DAY, DAY)
    done = api.wait_for_report(report, timeout=20, poll_interval=0.02, max_poll_interval=0.1)
    simulator.reset_requests()
    return done


def expected(sim: Simulator, report: Report) -> pd.DataFrame:
    return sim.expected_frame(report.filter, as_of=report.created_at)


def store_calls(sim: Simulator) -> list[Any]:
    return [r for r in sim.requests if r.server == "store"]


def test_plain_download_has_rows_and_no_token(api: Client, simulator: Simulator, ready) -> None:
    df = api.download_playlogs(ready)
    assert len(df) > 10
    pd.testing.assert_frame_equal(df, expected(simulator, ready))
    assert len(store_calls(simulator)) == 1
    assert not any(r.had_token for r in store_calls(simulator))


def test_download_with_tz(api: Client, simulator: Simulator, ready) -> None:
    df = api.download_playlogs(ready, tz="America/Sao_Paulo")
    assert str(df["played_at"].dt.tz) == "America/Sao_Paulo"


@pytest.mark.parametrize(
    ("fault", "options"),
    [
        ("store_reset", {"after_bytes": 200}),
        ("store_reset", {"after_bytes": 0}),
        ("truncated_gzip", {}),
        ("corrupt_crc", {}),
    ],
)
def test_transient_store_faults_are_retried_from_scratch(
    api: Client, simulator: Simulator, ready: Report, fault: str, options: dict
) -> None:
    simulator.inject(fault, route="GET store", **options)
    progress = [0, 0]

    def on_progress(n_bytes: int, n_rows: int) -> None:
        progress[0] += n_bytes
        progress[1] += n_rows

    table = api.download_table(ready, on_progress=on_progress)
    pd.testing.assert_frame_equal(fy.schema.to_pandas(table), expected(simulator, ready))
    assert len(store_calls(simulator)) == 2
    assert progress[1] == table.num_rows  # the discarded attempt was undone


@pytest.mark.parametrize(
    ("fault", "options"),
    [("server_error", {"status": 503}), ("reset", {}), ("slow", {"delay": 2.0})],
)
def test_store_answering_badly_is_retried(
    simulator: Simulator, ready: Report, fault: str, options: dict
) -> None:
    api = fast_client(simulator, timeout=0.5)
    simulator.inject(fault, route="GET store", **options)
    started = time.monotonic()
    pd.testing.assert_frame_equal(api.download_playlogs(ready), expected(simulator, ready))
    assert time.monotonic() - started < 2.0  # a slow store is cut by the read timeout
    calls = store_calls(simulator)  # (a slow answer is recorded only when it is sent)
    assert [c.status for c in calls][-1] == 200 and len(calls) == (1 if fault == "slow" else 2)


def test_persistent_reset_is_download_error(api: Client, simulator: Simulator, ready) -> None:
    simulator.inject("store_reset", times=10, route="GET store", after_bytes=100)
    with pytest.raises(fy.DownloadError, match="3 attempts"):
        api.download_playlogs(ready)
    assert len(store_calls(simulator)) == FAST_RETRY.download_attempts


@pytest.mark.parametrize("fault", ["truncated_gzip", "corrupt_crc"])
def test_persistent_bad_gzip_is_corrupt_report(
    api: Client, simulator: Simulator, ready: Report, fault: str
) -> None:
    simulator.inject(fault, times=10, route="GET store")
    with pytest.raises(fy.CorruptReportError):
        api.download_playlogs(ready)
    assert len(store_calls(simulator)) == FAST_RETRY.download_attempts


def test_malformed_line_is_invalid_playlog_not_retried(
    api: Client, simulator: Simulator, ready: Report
) -> None:
    simulator.inject("malformed_line", times=10, route="GET store", line=3, text='{"date": oops')
    with pytest.raises(fy.InvalidPlaylogError) as info:
        api.download_playlogs(ready)
    assert info.value.line_number == 3
    assert len(store_calls(simulator)) == 1


def test_expired_url_is_refreshed(api: Client, simulator: Simulator, ready: Report) -> None:
    simulator.inject("expired_url", route="GET store")
    df = api.download_playlogs(ready)
    pd.testing.assert_frame_equal(df, expected(simulator, ready))
    assert len(store_calls(simulator)) == 2
    refreshes = [r for r in simulator.requests if r.server == "api" and str(ready.id) in r.path]
    assert len(refreshes) == 1


def test_url_that_stays_expired_is_download_error(
    api: Client, simulator: Simulator, ready: Report
) -> None:
    simulator.inject("expired_url", times=10, route="GET store")
    with pytest.raises(fy.DownloadError, match="expired"):
        api.download_playlogs(ready)
    assert len(store_calls(simulator)) == 1 + FAST_RETRY.url_refreshes


# -- the retry budget (fouryousee_data.transport) --------------------------------------------


def test_a_store_that_always_answers_503_costs_attempts_requests_not_more(
    api: Client, simulator: Simulator, ready: Report
) -> None:
    simulator.inject("server_error", times=100, route="GET store", status=503)
    with pytest.raises(fy.DownloadError, match="HTTP 503"):
        api.download_table(ready)
    assert len(store_calls(simulator)) == FAST_RETRY.attempts  # not attempts x download_attempts


class _RefreshesFailFirst(Client):
    """A client whose every ``get_report`` first meets ``attempts - 1`` server errors."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__(
            token=sim.token, base_url=sim.base_url, timeout=5.0, retry=FAST_RETRY, min_interval=PACE
        )
        self.sim = sim

    def get_report(self, report_id: int | Report) -> Report:
        failures = FAST_RETRY.attempts - 1
        self.sim.inject("server_error", times=failures, route="GET /reports/{id}", status=502)
        return super().get_report(report_id)


def test_worst_case_download_matches_the_stated_budget(simulator: Simulator, ready: Report) -> None:
    """Every kind of failure up to its budget in one download: ``A + D + R - 1``
    store requests and ``R * A`` API requests (the formula in transport's docstring)."""
    a, d, r = FAST_RETRY.attempts, FAST_RETRY.download_attempts, FAST_RETRY.url_refreshes
    # API faults on the store come first: a - 1 answers of 503 spend the request budget
    simulator.inject("server_error", times=a - 1, route="GET store", status=503)
    # then r expired URLs, each refreshed by a get_report that fails a - 1 times first
    simulator.inject("expired_url", times=r, route="GET store")
    # then corrupt files until the streams are spent
    simulator.inject("truncated_gzip", times=100, route="GET store")
    with (
        _RefreshesFailFirst(simulator) as api,
        pytest.raises(fy.CorruptReportError, match=f"after {d} download attempts"),
    ):
        api.download_table(ready)
    api_requests = [c for c in simulator.requests if c.server == "api"]
    assert len(store_calls(simulator)) == a + d + r - 1
    assert len(api_requests) == r * a


def test_expiry_through_url_ttl(make_simulator) -> None:
    sim = make_simulator(url_ttl=0.5)  # the store's expiry runs on the simulated clock
    c = fast_client(sim)
    ready = c.wait_for_report(
        c.request_report(DAY, DAY), timeout=20, poll_interval=0.02, max_poll_interval=0.1
    )
    sim.advance(0.7)
    sim.reset_requests()
    pd.testing.assert_frame_equal(c.download_playlogs(ready), expected(sim, ready))
    assert [r.status for r in store_calls(sim)] == [403, 200]


def test_content_encoding_gzip_is_not_decompressed_twice(
    api: Client, simulator: Simulator, ready: Report
) -> None:
    simulator.inject("content_encoding_gzip", route="GET store")
    pd.testing.assert_frame_equal(api.download_playlogs(ready), expected(simulator, ready))


@pytest.mark.parametrize("fault", ["empty_file", "empty_gzip", "null_url"])
def test_empty_reports_are_empty_frames(api: Client, simulator: Simulator, fault: str) -> None:
    simulator.inject(fault)
    report = api.request_report(DAY, DAY)
    ready = api.wait_for_report(report, timeout=20, poll_interval=0.02, max_poll_interval=0.1)
    df = api.download_playlogs(ready)
    pd.testing.assert_frame_equal(df, fy.empty_playlogs())
    if fault == "null_url":
        assert ready.url is None and store_calls(simulator) == []


def test_redirect_to_another_host_carries_no_token(
    api: Client, simulator: Simulator, ready: Report
) -> None:
    simulator.inject("redirect", route="GET store")
    pd.testing.assert_frame_equal(api.download_playlogs(ready), expected(simulator, ready))
    calls = store_calls(simulator)
    assert len(calls) >= 2 and calls[0].status in (301, 302, 303, 307, 308)
    assert not any(r.had_token for r in calls)


def test_user_session_with_token_header_is_not_used_for_the_store(simulator: Simulator) -> None:
    import requests

    session = requests.Session()
    session.headers["Secret-Token"] = simulator.token  # a user's session, pre-configured
    c = fast_client(simulator, session=session)
    report = c.request_report(DAY, DAY)
    ready = c.wait_for_report(report, timeout=20, poll_interval=0.02, max_poll_interval=0.1)
    assert len(c.download_playlogs(ready)) > 0
    assert not any(r.had_token for r in store_calls(simulator))


# -- secrets never leak ---------------------------------------------------------------------


@pytest.fixture
def all_records() -> Iterator[list[logging.LogRecord]]:
    """Every log record of every logger, at DEBUG."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            self.format(record)  # renders exc_info into record.exc_text
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    touched = {
        name: lg.level
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    for name in touched:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for name, level in touched.items():
            logging.getLogger(name).setLevel(level)


def test_token_and_signatures_appear_nowhere(
    simulator: Simulator, all_records: list[logging.LogRecord]
) -> None:
    api = fast_client(simulator)
    texts: list[str] = [repr(api), str(api)]
    report = api.request_report(DAY, DAY)
    ready = api.wait_for_report(report, timeout=20, poll_interval=0.02, max_poll_interval=0.1)
    texts += [repr(report), str(ready), repr(ready)]
    query = urllib.parse.urlsplit(ready.url).query
    secrets = [simulator.token, query]
    secrets += [v for vs in urllib.parse.parse_qs(query).values() for v in vs if len(v) >= 8]
    assert len(secrets) >= 3, "expected a presigned URL with a signature"

    def expect_error(fault: str | None, exc_type: type[BaseException], **options: Any) -> None:
        if fault:
            simulator.inject(fault, times=10, **options)
        with pytest.raises(exc_type) as info:
            api.download_playlogs(ready)
        simulator.clear_faults()
        texts.extend([str(info.value), repr(info.value)])
        texts.append("".join(traceback.format_exception(info.value)))

    simulator.inject("expired_url", route="GET store")
    simulator.inject("redirect", route="GET store")
    api.download_playlogs(ready)
    simulator.inject("store_reset", route="GET store", after_bytes=50)
    api.download_playlogs(api.get_report(ready.id))
    expect_error("store_reset", fy.DownloadError, route="GET store", after_bytes=50)
    # an unreachable store: requests/urllib3 put the URL, query included, in their messages
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    moved = dataclasses.replace(
        ready, url=ready.url.replace(urllib.parse.urlsplit(ready.url).netloc, closed)
    )
    with pytest.raises(fy.DownloadError) as info:
        api.download_table(moved)
    texts.append("".join(traceback.format_exception(info.value)))
    expect_error("expired_url", fy.DownloadError, route="GET store")
    expect_error("truncated_gzip", fy.CorruptReportError, route="GET store")
    expect_error("malformed_line", fy.InvalidPlaylogError, route="GET store", line=2, text="{x")
    simulator.inject("rate_limit", times=10, route="GET /reports/{id}", retry_after="0")
    with pytest.raises(fy.RateLimitError) as info:
        api.get_report(ready.id)
    simulator.clear_faults()
    texts.append("".join(traceback.format_exception(info.value)))
    wrong = paced_client(simulator, token=simulator.token + "x", retry=FAST_RETRY)
    with pytest.raises(fy.AuthenticationError) as auth:
        wrong.list_reports()
    texts.append("".join(traceback.format_exception(auth.value)))

    assert any(r.name.startswith("urllib3") for r in all_records), "urllib3 DEBUG not captured"
    for record in all_records:
        texts.append(record.getMessage())
        texts.append(record.exc_text or "")
    blob = "\n".join(texts)
    for secret in secrets:
        assert secret not in blob
