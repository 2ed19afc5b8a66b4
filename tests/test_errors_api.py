"""Errors the user sees: the API's details kept, rerun advice only where a rerun can help,
redaction that never cuts a message at a question mark."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import fouryousee_data as fy
from conftest import paced_client
from fouryousee_data.errors import rerun_may_help
from fouryousee_data.redaction import redact
from fouryousee_data.simulator import Simulator

FAST = {"progress": False, "poll_interval": 0.02, "cache_dir": None}
DETAILS = {"report": ["The period between startDate and endDate must be at most 30 days"]}


def test_a_4xx_keeps_the_api_details(simulator: Simulator, api: fy.Client) -> None:
    simulator.inject("server_error", route="POST /reports", status=422, details=DETAILS)
    with pytest.raises(fy.APIError) as info:
        api.request_report("2024-03-01", "2024-03-02")
    err = info.value
    assert err.status_code == 422 and err.details == DETAILS
    assert str(err) == (
        "HTTP 422: POST reports: Unprocessable Entity (report: The period between startDate "
        "and endDate must be at most 30 days)"
    )
    assert [r.method for r in simulator.requests] == ["POST"]  # a 422 is not retried


def test_the_simulators_own_validation_error_reaches_the_user(simulator: Simulator) -> None:
    import requests

    from conftest import paced_request

    r = paced_request(
        "POST",
        simulator.base_url + "reports",
        json={"type": "detailed", "filter": {"startDate": "2024-01-01", "endDate": "2024-03-01"}},
        headers={"Secret-Token": simulator.token},
        timeout=5,
    )
    assert isinstance(r, requests.Response) and r.status_code == 422
    assert (
        r.json()["message"] == "Validation error" and "30 days" in r.json()["details"]["report"][0]
    )


def test_details_of_a_404_and_of_a_get(simulator: Simulator, api: fy.Client) -> None:
    simulator.inject("server_error", route="GET /players", status=400, details="page: too big?")
    with pytest.raises(
        fy.APIError, match=r"HTTP 400: GET players: Bad Request \(page: too big\?\)"
    ):
        api.players()
    with pytest.raises(fy.NotFoundError) as info:
        api.get_report(1)
    assert info.value.details is None and "was not found" in str(info.value)


def test_a_refused_token_on_one_window_suggests_no_rerun(simulator: Simulator) -> None:
    simulator.inject("server_error", route="POST /reports", status=401)  # after the lookup
    with paced_client(simulator) as c, pytest.raises(fy.AuthenticationError) as info:
        fy.fetch_playlogs("2024-03-01", "2024-03-02", client=c, **FAST)
    text = str(info.value)
    assert "1 of 1 report window(s) failed" in text and "check the token" in text
    assert "other" not in text  # there were no other windows
    assert "Run the same call again" not in text and "fails the same way" in text
    # a wrong token fails at the call's first request (the lookup): no rerun advice either
    with paced_client(simulator, token="wrong") as c, pytest.raises(fy.AuthenticationError) as bad:
        fy.fetch_playlogs("2024-03-01", "2024-03-02", client=c, **FAST)
    assert "again" not in str(bad.value) and "other" not in str(bad.value)


def test_an_invalid_request_in_one_of_two_windows(
    make_simulator: Callable[..., Simulator], tmp_path
) -> None:
    sim = make_simulator()
    sim.inject("server_error", route="POST /reports", status=422, details=DETAILS)
    with paced_client(sim) as c, pytest.raises(fy.APIError) as info:
        fy.fetch_playlogs("2024-02-01", "2024-03-10", client=c, **FAST | {"cache_dir": tmp_path})
    text = str(info.value)
    assert "1 of 2 report window(s) failed" in text and "(report: The period" in text
    assert "The other 1 were cached" in text and "fails the same way" in text
    assert info.value.details == DETAILS


def test_a_transient_failure_still_suggests_the_rerun(simulator: Simulator, api: fy.Client) -> None:
    simulator.inject("report_never_ready")
    with pytest.raises(fy.ReportTimeoutError) as info:
        fy.fetch_playlogs("2024-03-01", "2024-03-02", client=api, timeout=0.2, **FAST)
    text = str(info.value)
    assert "other" not in text and text.endswith("Run the same call again.")


@pytest.mark.parametrize(
    ("exc", "helps"),
    [
        (fy.AuthenticationError("x", 401), False),
        (fy.AuthenticationError("x", 403), False),
        (fy.NotFoundError("x", 404), False),
        (fy.APIError("x", 400), False),
        (fy.APIError("x", 422), False),
        (ValueError("x"), False),
        (fy.APIError("x", 503), True),
        (fy.APIError("x", None), True),
        (fy.RateLimitError("x"), True),
        (fy.DownloadError("x"), True),
        (fy.CorruptReportError("x"), True),
    ],
)
def test_rerun_may_help(exc: BaseException, helps: bool) -> None:
    assert rerun_may_help(exc) is helps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the body was cut short?", "the body was cut short?"),
        ("cut short? retry", "cut short? retry"),
        ("what?!? no <redacted> here", "what?!? no <redacted> here"),
        ("Is the token right?abc", "Is the token right?abc"),
        (
            "GET https://s3.example/acct/1-ab.gz?X-Amz-Signature=abc&X-Amz-Expires=60 failed?",
            "GET https://s3.example/acct/1-ab.gz?<redacted> failed?",
        ),
        ("url: /acct/1.gz?X-Amz-Credential=k (reset?)", "url: /acct/1.gz?<redacted> (reset?)"),
        ("bare X-Amz-Signature=abc&y=1", "bare X-Amz-Signature=<redacted>&y=1"),
    ],
)
def test_redaction_cuts_only_url_queries_and_secrets(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(f"token s3cr3t? {text}", secrets=("s3cr3t",)) == f"token <redacted>? {expected}"


def test_a_server_message_with_a_question_mark_is_shown_whole(
    simulator: Simulator, api: fy.Client
) -> None:
    simulator.inject("server_error", route="GET /medias", status=418, details=["cut short?ok"])
    with pytest.raises(fy.APIError) as info:
        api.medias()
    assert str(info.value).endswith("(cut short?ok)")
