"""Pure pieces of the client: configuration, filters, Retry-After, backoff, redaction, frames,
the transport's retries and the API's pagination (on a scripted session, no network)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback

import pandas as pd
import pytest
import requests

import fouryousee_data as fy
from fouryousee_data import _config, filters, redaction
from fouryousee_data.api import API
from fouryousee_data.catalog import medias_frame, players_frame
from fouryousee_data.client import Client, RetryPolicy, parse_retry_after, report_filter
from fouryousee_data.transport import Budget, Transport

NOW = dt.datetime(2024, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
SIGNED = (
    "http://127.0.0.2:9/acct/7-abc.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAEXAMPLE%2F20240101&X-Amz-Signature=deadbeefcafe"
)


# -- configuration --------------------------------------------------------------------------


def test_token_argument_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOURYOUSEE_TOKEN", "from-env")
    monkeypatch.setenv("FOURYOUSEE_API_URL", "http://127.0.0.1:9/api")
    c = Client(token="from-arg")
    assert c.fingerprint == _config.account_fingerprint(c.base_url, "from-arg")
    assert c.base_url == "http://127.0.0.1:9/api/"
    assert Client(base_url="http://127.0.0.1:8/v1/").base_url == "http://127.0.0.1:8/v1/"
    assert Client().fingerprint == _config.account_fingerprint(c.base_url, "from-env")


def test_missing_token_says_how_to_provide_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FOURYOUSEE_TOKEN", raising=False)
    with pytest.raises(fy.AuthenticationError) as info:
        Client()
    assert "FOURYOUSEE_TOKEN" in str(info.value) and "token=" in str(info.value)


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FOURYOUSEE_API_URL", raising=False)
    assert Client(token="t").base_url == "https://api.4yousee.com.br/v1/"


def test_repr_and_state_never_show_the_token() -> None:
    c = Client(token="tok-SECRET-123", base_url="http://127.0.0.1:9/v1/")
    assert "tok-SECRET-123" not in repr(c)
    assert "tok-SECRET-123" not in str(c)
    assert "tok-SECRET-123" not in repr(vars(c))
    assert len(c.fingerprint) == 16 and "tok" not in c.fingerprint
    assert c.fingerprint != Client(token="other", base_url=c.base_url).fingerprint


@pytest.mark.parametrize(
    ("timeout", "expected"), [(5, (5.0, 5.0)), ((2, 30), (2.0, 30.0)), (0.5, (0.5, 0.5))]
)
def test_timeouts(timeout: object, expected: tuple[float, float]) -> None:
    assert Client(token="t", base_url="http://127.0.0.1:9/", timeout=timeout).timeout == expected


@pytest.mark.parametrize("timeout", [0, -1, None, (1, 2, 3), "5"])
def test_bad_timeout_is_value_error(timeout: object) -> None:
    with pytest.raises(ValueError, match="timeout"):
        Client(token="t", base_url="http://127.0.0.1:9/", timeout=timeout)


# -- filters --------------------------------------------------------------------------------


def test_report_filter_whole_days_and_ids() -> None:
    f = report_filter(
        dt.date(2024, 2, 1), "2024-02-29", player_ids=[5, 2, 5], media_ids={9}, sort=1
    )
    assert f == {
        "startDate": "2024-02-01",
        "startTime": "00:00:00",
        "endDate": "2024-02-29",
        "endTime": "23:59:59",
        "mediaId": [9],
        "playerId": [2, 5],
        "sort": 1,
    }


def test_report_filter_instants_end_is_exclusive() -> None:
    f = report_filter(pd.Timestamp("2024-03-01 08:30"), "2024-03-02 00:00:00")
    assert (f["startDate"], f["startTime"]) == ("2024-03-01", "08:30:00")
    assert (f["endDate"], f["endTime"]) == ("2024-03-01", "23:59:59")


def test_report_filter_thirty_days_is_the_limit() -> None:
    assert report_filter("2024-01-01", "2024-01-30")["endDate"] == "2024-01-30"
    # 30 whole days given as instants: [Jan 1, Jan 31 00:00)
    assert report_filter("2024-01-01 00:00", "2024-01-31 00:00")["endDate"] == "2024-01-30"
    with pytest.raises(ValueError, match="30"):
        report_filter("2024-01-01", "2024-01-31")


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ("2024-01-01 00:00", "2024-01-31 00:00:00.5", 31),  # a sub-second end touches Jan 31
        ("2024-01-01 23:59:59.5", "2024-01-31 00:00", 30),
        ("2024-01-01 00:00:00.25", "2024-01-01 00:00:00.75", 1),
    ],
)
def test_report_filter_counts_the_days_of_start_and_end_date(
    start: str, end: str, days: int
) -> None:
    def count(f: dict) -> int:
        first = dt.date.fromisoformat(f["startDate"])
        return (dt.date.fromisoformat(f["endDate"]) - first).days + 1

    if days <= 30:
        assert count(report_filter(start, end)) == days
    else:
        with pytest.raises(ValueError, match=f"spans {days} days"):
            report_filter(start, end)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"start": "2024-01-02", "end": "2024-01-01"}, "before"),
        ({"start": "2024-01-01 10:00", "end": "2024-01-01 10:00"}, "after"),
        ({"player_ids": ["1"]}, "player_ids"),
        ({"media_ids": [True]}, "media_ids"),
        ({"player_ids": "12"}, "player_ids"),
        ({"sort": 0}, "sort"),
        ({"end": "2024-01-02T10:00:00+00:00", "tz": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_report_filter_bad_arguments(kwargs: dict, word: str) -> None:
    args = {"start": "2024-01-01", "end": "2024-01-02", **kwargs}
    with pytest.raises(ValueError, match=word):
        report_filter(args.pop("start"), args.pop("end"), **args)


def test_report_filter_accepts_single_id_and_none() -> None:
    f = report_filter("2024-01-01", "2024-01-01", player_ids=7, media_ids=None)
    assert f["playerId"] == [7] and f["mediaId"] == []


def test_report_filter_is_the_filters_noun() -> None:
    assert report_filter is filters.report_filter is fy.report_filter


def test_normalize_filter_makes_echoed_filters_comparable() -> None:
    ours = report_filter("2024-01-01", "2024-01-02", player_ids=[1, 2])
    echoed = {**ours, "playerId": [2, "1", 2], "sort": "-1"}
    del echoed["mediaId"]
    assert filters.normalize(echoed) == filters.normalize(ours)
    assert filters.normalize({**ours, "playerId": [3]}) != filters.normalize(ours)
    assert filters.normalize(None) == {}


# -- Retry-After and backoff ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("  12 ", 12.0),
        ("1.5", 1.5),
        ("Mon, 01 Jan 2024 12:00:09 GMT", 9.0),
        ("Mon, 01 Jan 2024 11:00:00 GMT", 0.0),  # in the past: now
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("nan", None),
        ("inf", None),
        ("1e9", None),  # absurd
        ("Mon, 01 Jan 2035 12:00:00 GMT", None),  # absurd date
        ("Mon, 99 Foo 2024", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_backoff_is_capped_exponential_with_jitter() -> None:
    p = RetryPolicy(backoff=1.0, backoff_max=8.0, retry_after_max=5.0)
    for retry, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (10, 8.0), (500, 8.0)]:
        values = {p.delay(retry) for _ in range(50)}
        assert all(ceiling / 2 <= v <= ceiling for v in values)
        assert len(values) > 1  # jittered
    assert p.delay(0, retry_after=2.0) == 2.0
    assert p.delay(0, retry_after=3600.0) == 5.0  # Retry-After is capped
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


# -- redaction ------------------------------------------------------------------------------


def test_redact_removes_signatures_everywhere() -> None:
    text = redaction.redact(f"failed {SIGNED} and X-Amz-Signature%3Ddeadbeefcafe")
    assert "deadbeefcafe" not in text and "AKIAEXAMPLE" not in text
    assert "http://127.0.0.2:9/acct/7-abc.gz?<redacted>" in text


def test_scrub_exception_cleans_the_whole_chain() -> None:
    try:
        try:
            raise OSError(f"inner {SIGNED}")
        except OSError as inner:
            raise RuntimeError(Exception(f"outer {SIGNED}")) from inner
    except RuntimeError as exc:
        caught = exc
    redaction.scrub_exception(caught)
    text = "".join(traceback.format_exception(caught))
    assert "deadbeefcafe" not in text and "AKIAEXAMPLE" not in text


def test_urllib3_debug_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    redaction.install_log_redaction()
    redaction.install_log_redaction()  # idempotent
    assert logging.getLogger("urllib3.connectionpool").filters.count(redaction.LOG_FILTER) == 1
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").debug(
            '%s://%s:%s "%s %s %s" %s %s',
            "http",
            "127.0.0.2",
            9,
            "GET",
            SIGNED[20:],
            "HTTP/1.1",
            200,
            5,
        )
        logging.getLogger("urllib3.util.retry").debug("Incremented Retry for (url='%s')", SIGNED)
    assert len(caplog.records) == 2
    for record in caplog.records:
        assert "deadbeefcafe" not in record.getMessage()
        assert "<redacted>" in record.getMessage()


def test_log_redaction_reaches_urllib3_loggers_created_later() -> None:
    redaction.install_log_redaction()
    late = logging.getLogger("urllib3.contrib.fouryousee_test_late")
    assert redaction.LOG_FILTER not in late.filters
    redaction.install_log_redaction()
    assert late.filters.count(redaction.LOG_FILTER) == 1


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (requests.ConnectTimeout("x"), "timed out (ConnectTimeout)"),
        (requests.ReadTimeout("x"), "timed out (ReadTimeout)"),
        (requests.ConnectionError("x"), "connection failed (ConnectionError)"),
        (requests.exceptions.ChunkedEncodingError("x"), "connection failed (ChunkedEncodingError)"),
    ],
)
def test_unreachable_api_message_names_the_failure(exc: Exception, text: str) -> None:
    err = _api({}).unreachable("GET players", 3, exc)
    assert str(err).endswith(f"did not answer after 3 attempt(s): {text}")


# -- the transport and the API on a scripted session ---------------------------------------


class _Answer:
    """What the scripted session answers: a status, a JSON body, headers."""

    def __init__(self, body: object = None, status: int = 200, **headers: str) -> None:
        self.status_code, self.body, self.headers = status, body, headers
        self.text, self.reason, self.url = json.dumps(body), "scripted", "http://127.0.0.1:9/"

    def json(self) -> object:
        return self.body

    def close(self) -> None:
        pass


class _Session:
    """A stand-in for ``requests.Session``: answers from a script, records what was asked."""

    def __init__(self, answers: list[_Answer | Exception]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, dict]] = []

    def request(self, method: str, url: str, **options: object) -> _Answer:
        self.asked.append((method, dict(options.get("params") or {})))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _transport(session: _Session, sleeps: list[float] | None = None) -> Transport:
    """A transport on a fake clock that moves by each sleep; pacing at 0.5 s (at most the
    first backoff, so the pacer adds no wait of its own to the retries' delays)."""
    policy = RetryPolicy(attempts=3, backoff=1.0, backoff_max=8.0)
    asked = sleeps if sleeps is not None else []
    now = [0.0]

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        now[0] += seconds

    return Transport(
        session,
        timeout=(1.0, 1.0),
        retry=policy,
        clock=lambda: now[0],
        sleep=sleep,
        min_interval=0.5,
    )


def _api(bodies: dict[int, object]) -> API:
    answers: list[_Answer | Exception] = [_Answer(bodies[p]) for p in sorted(bodies)]
    return API("http://127.0.0.1:9/api/", redaction.Secret("t"), _transport(_Session(answers)))


def test_transport_retries_statuses_and_errors_then_returns_the_last_answer() -> None:
    sleeps: list[float] = []
    session = _Session([requests.ConnectionError("x"), _Answer(status=503), _Answer(status=500)])
    response = _transport(session, sleeps).get("http://h/x", what="GET x")
    assert response.status_code == 500  # the budget is spent: the caller says what it means
    assert len(session.asked) == 3 and len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_transport_honours_retry_after_and_does_not_retry_a_404() -> None:
    sleeps: list[float] = []
    session = _Session([_Answer(status=429, **{"Retry-After": "4"}), _Answer(status=404)])
    assert _transport(session, sleeps).get("http://h/x", what="GET x").status_code == 404
    assert sleeps == [4.0] and session.answers == []


def test_a_shared_budget_spans_requests() -> None:
    session = _Session([_Answer(status=503), _Answer(), _Answer(status=503), _Answer(status=503)])
    transport, budget = _transport(session), Budget(retries=2)
    assert transport.get("http://h/a", what="a", budget=budget).status_code == 200
    assert transport.get("http://h/b", what="b", budget=budget).status_code == 503
    assert budget.failures == 3 and session.answers == []


@pytest.mark.parametrize(
    ("bodies", "expected", "asked"),
    [
        (
            {
                1: {"totalPages": 3, "results": [1]},
                2: {"totalPages": 3, "results": [2]},
                3: {"totalPages": 3, "results": [3]},
            },
            [1, 2, 3],
            [1, 2, 3],
        ),
        ({1: {"results": [1, 2]}}, [1, 2], [1]),  # no totalPages: one page
        ({1: {"id": 9, "name": "x"}}, [{"id": 9, "name": "x"}], [1]),  # a single object
        ({1: [4, 5]}, [4, 5], [1]),  # a bare list
        ({1: {"totalPages": 0, "results": []}}, [], [1]),
        ({1: {"totalPages": 2, "results": None}, 2: {"results": [7]}}, [7], [1, 2]),
    ],
)
def test_pagination_shapes(bodies: dict, expected: list, asked: list) -> None:
    api = _api(bodies)
    assert list(api.pages("players")) == expected
    session = api.transport.session
    assert [params["page"] for _, params in session.asked] == asked


def test_pagination_rejects_non_objects() -> None:
    with pytest.raises(fy.APIError):
        list(_api({1: "text"}).pages("players"))
    with pytest.raises(fy.APIError):
        list(_api({1: {"results": "nope"}}).pages("players"))


# -- names frames from inline payloads ------------------------------------------------------


def test_players_frame_types_and_nulls() -> None:
    objs = [
        {
            "id": 1,
            "name": "Lobby",
            "description": "TV",
            "platform": "android",
            "group": {"id": 3, "name": "North"},
            "playerStatus": {"id": 1, "name": "Online", "time": "x"},
            "lastContactInMinutes": 2,
            "lastLogReceived": "2022-07-01 16:46:33",
        },
        {"id": "2", "name": "Bar", "group": None, "lastLogReceived": None},
        {"name": "no id"},
        "junk",
    ]
    df = players_frame(objs)
    assert df["player_id"].tolist() == [1, 2]
    assert df["player_id"].dtype == "int32"
    assert df.loc[0, "group_name"] == "North" and pd.isna(df.loc[1, "group_name"])
    assert df["group_id"].dtype == "Int32" and df["last_contact_min"].dtype == "Int64"
    assert df.loc[0, "last_log_received"] == pd.Timestamp("2022-07-01 16:46:33")
    assert pd.isna(df.loc[1, "last_log_received"])
    assert df.loc[0, "status"] == "Online" and df.loc[0, "platform"] == "android"
    assert df["status_id"].tolist() == [1, pd.NA] and df["status_min"].dtype == "Int64"


def test_players_frame_keeps_status_playlists_and_audios() -> None:
    week = {str(d): {"id": 3, "name": "Sample"} for d in range(7)} | {"6": None, "x": {"id": 1}}
    objs = [
        {
            "id": 5,
            "playerStatus": {"id": 2, "name": "Alert", "time": 42},
            "playlists": week,
            "audios": {"0": {"id": 1, "name": "Radio"}},
        },
        {"id": 6, "playerStatus": {"id": 3, "name": "Offline", "time": "soon"}, "playlists": []},
    ]
    df = players_frame(objs)
    assert df["status_id"].tolist() == [2, 3] and df["status"].tolist() == ["Alert", "Offline"]
    assert df["status_min"].tolist() == [42, pd.NA]
    assert df.loc[0, "playlists"] == {0: 3, 1: 3, 2: 3, 3: 3, 4: 3, 5: 3, 6: None}
    assert df.loc[0, "playlist_names"][0] == "Sample" and df.loc[0, "playlist_names"][6] is None
    assert df.loc[0, "audios"] == {0: 1}
    assert df.loc[1, "playlists"] == {} and df.loc[1, "audios"] == {}


def test_medias_frame_types() -> None:
    objs = [
        {
            "id": 10,
            "name": "Promo",
            "file": "promo.mp4",
            "durationInSeconds": 15,
            "categories": [{"id": 1, "name": "Ads"}, {"id": 2, "name": "Food"}],
            "schedule": {},
        },
        {"id": 11, "name": "Still", "durationInSeconds": None, "categories": None},
    ]
    df = medias_frame(objs)
    assert df["media_id"].dtype == "int32"
    assert df["duration_s"].tolist()[0] == 15.0 and pd.isna(df["duration_s"][1])
    assert df["categories"].tolist() == [["Ads", "Food"], []]
    assert df["schedule_start"].isna().all() and df["schedule_times"].tolist() == [[], []]


def test_medias_frame_keeps_the_flight() -> None:
    flight = {
        "startDate": "2019-01-01",
        "endDate": "2019-12-31",
        "times": [
            {"startTime": "08:00", "endTime": "11:00", "weekDays": [5, 1, 2, 3, 4]},
            {"startTime": "18:00", "endTime": "20:00", "weekDays": [6, "0"]},
            "junk",
        ],
    }
    bad = {"startDate": "31/12/2019", "endDate": None, "times": "always"}
    df = medias_frame([{"id": 1, "schedule": flight}, {"id": 2, "schedule": bad}])
    assert df["schedule_start"].dtype == "datetime64[s]" == df["schedule_end"].dtype
    assert df.loc[0, "schedule_start"] == pd.Timestamp("2019-01-01")
    assert df.loc[0, "schedule_end"] == pd.Timestamp("2019-12-31")  # the last day, inclusive
    assert df.loc[0, "schedule_weekdays"] == [0, 1, 2, 3, 4, 5, 6]
    assert df.loc[0, "schedule_times"] == [
        {"start": "08:00", "end": "11:00", "weekdays": [1, 2, 3, 4, 5]},
        {"start": "18:00", "end": "20:00", "weekdays": [0, 6]},
    ]
    assert pd.isna(df.loc[1, "schedule_start"]) and pd.isna(df.loc[1, "schedule_end"])
    assert df.loc[1, "schedule_weekdays"] == [] and df.loc[1, "schedule_times"] == []


@pytest.mark.parametrize("build", [players_frame, medias_frame])
def test_empty_names_frames_keep_columns(build) -> None:
    empty = build([])
    full = build([{"id": 1}])
    assert list(empty.columns) == list(full.columns)
    assert empty.dtypes.to_dict() == full.dtypes.to_dict()
