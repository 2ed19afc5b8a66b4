"""The simulator's API and object store, against raw ``requests`` written from SPEC section 1."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from conftest import paced_request
from fouryousee_data.simulator import Simulator

TIMEOUT = 5
WINDOW = {"startDate": "2024-03-04", "endDate": "2024-03-05"}
REPORT_KEYS = {"id", "type", "format", "filter", "status", "url", "createdAt", "updatedAt"}


def get(sim: Simulator, path: str, token: str | None = "", **kw: Any) -> requests.Response:
    headers = {} if token is None else {"Secret-Token": token or sim.token}
    return paced_request("GET", sim.base_url + path, headers=headers, timeout=TIMEOUT, **kw)


def post(sim: Simulator, body: Any, token: str | None = "") -> requests.Response:
    headers = {} if token is None else {"Secret-Token": token or sim.token}
    kw: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
    return paced_request("POST", sim.base_url + "reports", headers=headers, timeout=TIMEOUT, **kw)


def create(sim: Simulator, flt: dict[str, Any] | None = None, **body: Any) -> dict[str, Any]:
    response = post(sim, {"type": "detailed", "filter": flt or WINDOW, **body})
    assert response.status_code == 201, response.text
    return response.json()


def wait(sim: Simulator, rid: int) -> dict[str, Any]:
    for _ in range(500):
        obj = get(sim, f"reports/{rid}").json()
        if obj["status"] in ("success", "failed"):
            return obj
        time.sleep(0.01)
    raise AssertionError(f"report {rid} never finished")


def download(url: str, **kw: Any) -> requests.Response:
    return paced_request("GET", url, timeout=TIMEOUT, **kw)


# -- reports ---------------------------------------------------------------------------------


def test_report_goes_waiting_to_success_and_serves_the_expected_rows(simulator: Simulator) -> None:
    obj = create(simulator)
    assert set(obj) == REPORT_KEYS
    assert obj["status"] == "waiting" and obj["url"] is None
    assert obj["type"] == "detailed" and obj["format"] == "json" and obj["filter"] == WINDOW
    assert obj["createdAt"] == obj["updatedAt"] == "2024-04-01T12:00:00+00:00"
    ready = wait(simulator, obj["id"])
    assert ready["status"] == "success" and set(ready) == REPORT_KEYS
    with download(ready["url"]) as r:
        assert r.status_code == 200
        assert r.headers["Content-Length"] == str(len(r.content))
        rows = [json.loads(line) for line in gzip.decompress(r.content).splitlines()]
    assert rows == simulator.expected_rows(WINDOW, as_of=ready["createdAt"])
    assert len(rows) > 100


def test_report_is_waiting_until_report_delay(make_simulator: Callable[..., Simulator]) -> None:
    sim = make_simulator(report_delay=0.4)
    obj = create(sim)
    assert get(sim, f"reports/{obj['id']}").json()["status"] == "waiting"
    started = time.monotonic()
    assert wait(sim, obj["id"])["status"] == "success"
    assert time.monotonic() - started > 0.2


def test_created_at_follows_the_simulated_clock(simulator: Simulator) -> None:
    simulator.advance(dt.timedelta(hours=1, seconds=30))
    assert create(simulator)["createdAt"] == "2024-04-01T13:00:30+00:00"
    simulator.set_now(dt.datetime(2024, 5, 2, 3, 4, 5, 999, tzinfo=dt.UTC))
    assert create(simulator)["createdAt"] == "2024-05-02T03:04:05+00:00"
    assert get(simulator, "players").headers["Date"] == "Thu, 02 May 2024 03:04:05 GMT"


def test_real_clock_when_now_is_none(make_simulator: Callable[..., Simulator]) -> None:
    sim = make_simulator(now=None)
    created = dt.datetime.fromisoformat(create(sim)["createdAt"])
    assert abs((created - dt.datetime.now(dt.UTC)).total_seconds()) < 5
    sim.advance(3600)
    assert (sim.now() - dt.datetime.now(dt.UTC)).total_seconds() > 3590


def test_unknown_report_is_404_with_the_documented_message(simulator: Simulator) -> None:
    for rid in ("5215", "abc"):
        r = get(simulator, f"reports/{rid}")
        assert r.status_code == 404
        assert r.json() == {"message": f"Report with ID {rid} was not found"}


def test_list_reports_paginates_newest_first(make_simulator: Callable[..., Simulator]) -> None:
    # The reports stay "waiting" while the pages are read twice: a report that becomes
    # ready between two reads changes its status and gets a fresh presigned url per GET.
    sim = make_simulator(page_size=2, report_delay=3600)
    empty = {"results": [], "total": 0, "currentPage": 1, "totalPages": 0}  # SPEC section 1
    assert get(sim, "reports").json() == empty
    ids = [create(sim)["id"] for _ in range(5)]
    pages = [get(sim, "reports", params={"page": n}).json() for n in (1, 2, 3, 4)]
    assert [p["totalPages"] for p in pages] == [3, 3, 3, 3]
    assert [(p["total"], p["currentPage"]) for p in pages] == [(5, n) for n in (1, 2, 3, 4)]
    listed = [r["id"] for p in pages for r in p["results"]]
    assert listed == ids[::-1]
    assert pages[3]["results"] == []
    assert get(sim, "reports").json() == pages[0] | {"results": pages[0]["results"]}
    for bad in ("0", "-1", "x"):
        r = get(sim, "reports", params={"page": bad})
        assert r.status_code == 422 and "page" in r.json()["message"]


def test_listings_honour_limit_and_sort(make_simulator: Callable[..., Simulator]) -> None:
    sim = make_simulator(players=7, medias=3, page_size=2)
    body = get(sim, "players", params={"limit": 5, "sort": "-id"}).json()
    ids = sorted(p["id"] for p in sim.players)
    assert [p["id"] for p in body["results"]] == ids[::-1][:5]
    assert (body["total"], body["totalPages"], body["currentPage"]) == (7, 2, 1)
    by_group = get(sim, "players", params={"limit": 100, "sort": "group,-id"}).json()["results"]
    names = get(sim, "players", params={"limit": 100, "sort": "name,-id"}).json()["results"]
    assert [p["name"] for p in names] == sorted(p["name"] for p in sim.players)
    assert len(by_group) == 7  # an object-valued field sorts too (by its JSON)
    # limit is at most 100: more is refused (422), not clamped; so is a bad sort
    for params in ({"limit": 101}, {"limit": 0}, {"limit": "x"}, {"sort": ""}, {"sort": "id,"}):
        r = get(sim, "medias", params=params)
        assert r.status_code == 422, params
        assert any(w in r.json()["message"] for w in ("limit", "sort"))


@pytest.mark.parametrize("resource", ["players", "medias"])
def test_players_and_medias_paginate_with_the_documented_fields(
    make_simulator: Callable[..., Simulator], resource: str
) -> None:
    sim = make_simulator(players=5, medias=5, page_size=2)
    first = get(sim, resource).json()
    assert first["totalPages"] == 3
    items = [x for n in (1, 2, 3) for x in get(sim, resource, params={"page": n}).json()["results"]]
    assert items == getattr(sim, resource)
    assert len({x["id"] for x in items}) == 5
    keys = {
        "players": {"id", "name", "description", "platform", "group", "playerStatus",
                    "lastContactInMinutes", "lastLogReceived", "playlists", "audios"},
        "medias": {"id", "name", "description", "file", "durationInSeconds", "categories",
                   "schedule"},
    }[resource]  # fmt: skip
    assert all(set(x) == keys for x in items)
    if resource == "players":
        assert all(set(p["group"]) == {"id", "name"} for p in items)
        assert all(set(p["playerStatus"]) == {"id", "name", "time"} for p in items)
        logs = [p["lastLogReceived"] for p in items if p["lastLogReceived"]]
        assert logs and all(dt.datetime.strptime(t, "%Y-%m-%d %H:%M:%S") for t in logs)
        for p in items:  # SPEC section 1: ids 1 Online, 2 Alert, 3 Offline; time in minutes
            status = p["playerStatus"]
            names = {1: "Online", 2: "Alert", 3: "Offline", 6: "Never accessed"}
            assert names[status["id"]] == status["name"] and type(status["time"]) is int
            assert set(p["playlists"]) == {str(d) for d in range(7)}  # per weekday
            assert all(v is None or set(v) == {"id", "name"} for v in p["playlists"].values())
            assert all(v is None or set(v) == {"id", "name"} for v in p["audios"].values())
    else:
        assert all(isinstance(m["durationInSeconds"], int) for m in items)
        assert all(set(c) == {"id", "name"} for m in items for c in m["categories"])
        for m in items:
            flight = m["schedule"]
            assert set(flight) == {"startDate", "endDate", "times"}
            assert flight["startDate"] < "2024-01-01" and flight["endDate"] > "2024-12-31"
            assert all(set(t) == {"startTime", "endTime", "weekDays"} for t in flight["times"])


def test_player_status_follows_the_last_contact(make_simulator: Callable[..., Simulator]) -> None:
    sim = make_simulator(players=8)
    for p in sim.players:
        minutes, status = p["lastContactInMinutes"], p["playerStatus"]
        assert status["time"] == (minutes if minutes is not None else 0)
        expected = 6 if minutes is None else 1 if minutes <= 15 else 2 if minutes <= 60 else 3
        assert status["id"] == expected
    closed = [p for p in sim.players if None in p["playlists"].values()]
    assert all(p["playlists"]["0"] is None for p in closed)  # closed on Sundays ("0")


# -- authentication and validation -----------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong-token"])
@pytest.mark.parametrize("path", ["reports", "reports/1", "players", "medias", "nowhere"])
def test_bad_or_missing_token_is_401_json(
    simulator: Simulator, token: str | None, path: str
) -> None:
    r = get(simulator, path, token=token)
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/json"
    assert "message" in r.json() and simulator.token not in r.text
    assert post(simulator, {"type": "detailed", "filter": WINDOW}, token=token).status_code == 401
    assert get(simulator, "reports").json()["results"] == []  # nothing was created


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "JSON"),
        ([1, 2], 422, "object"),
        ({"type": "detailed"}, 422, "filter"),
        ({"type": "summary", "filter": WINDOW}, 422, "type"),
        ({"type": "detailed", "filter": {"startDate": "2024-03-01"}}, 422, "endDate"),
        ({"type": "detailed", "filter": {**WINDOW, "startDate": "2024-3-1"}}, 422, "startDate"),
        ({"type": "detailed", "filter": {**WINDOW, "startTime": "25:00:00"}}, 422, "startTime"),
        ({"type": "detailed", "filter": {"startDate": "2024-03-01", "endDate": "2024-03-31"}},
         422, "30 days"),
        ({"type": "detailed", "filter": {"startDate": "2024-03-02", "endDate": "2024-03-01"}},
         422, "before"),
        ({"type": "detailed", "filter": {"startDate": "2024-03-02", "endDate": "2024-03-02",
                                         "startTime": "10:00:00", "endTime": "09:59:59"}},
         422, "before"),
        ({"type": "detailed", "filter": {**WINDOW, "playerId": [1, "2"]}}, 422, "playerId"),
        ({"type": "detailed", "filter": {**WINDOW, "mediaId": 3}}, 422, "mediaId"),
        ({"type": "detailed", "filter": {**WINDOW, "sort": 0}}, 422, "sort"),
        ({"type": "detailed", "filter": WINDOW, "webhook": "ftp://x"}, 422, "webhook"),
    ],
)  # fmt: skip
def test_invalid_post_is_refused_with_a_json_message(
    simulator: Simulator, body: Any, status: int, words: str
) -> None:
    r = post(simulator, body)
    assert r.status_code == status
    if status == 422:  # SPEC section 1: a message and the details
        assert r.json()["message"] == "Validation error"
        [detail] = r.json()["details"]["report"]
        assert words in detail
    else:
        assert words in r.json()["message"]
    assert get(simulator, "reports").json()["results"] == []


def test_thirty_days_inclusive_is_accepted(simulator: Simulator) -> None:
    obj = create(simulator, {"startDate": "2024-03-01", "endDate": "2024-03-30"})
    assert wait(simulator, obj["id"])["status"] == "success"


def test_wrong_method_and_unknown_route(simulator: Simulator) -> None:
    r = requests.delete(
        simulator.base_url + "reports/1", headers={"Secret-Token": simulator.token}, timeout=5
    )
    assert r.status_code == 405 and "message" in r.json()
    assert get(simulator, "campaigns").status_code == 404


# -- the object store ------------------------------------------------------------------------


def test_store_is_another_loopback_host(simulator: Simulator) -> None:
    api, store = urlsplit(simulator.base_url), urlsplit(simulator.store_url)
    assert api.hostname == "127.0.0.1"
    assert store.hostname != api.hostname and store.hostname in ("127.0.0.2", "localhost")
    url = wait(simulator, create(simulator)["id"])["url"]
    assert url.startswith(simulator.store_url)
    parts = urlsplit(url)
    assert parts.path.startswith(f"/{simulator.account}/") and parts.path.endswith(".gz")
    for name in ("X-Amz-Credential", "X-Amz-Expires", "X-Amz-Signature", "X-Amz-Date"):
        assert name in parts.query


def test_every_get_gives_a_fresh_working_url(simulator: Simulator) -> None:
    rid = wait(simulator, create(simulator)["id"])["id"]
    urls = [get(simulator, f"reports/{rid}").json()["url"] for _ in range(3)]
    listed = get(simulator, "reports").json()["results"][0]["url"]
    assert len({*urls, listed}) == 4
    bodies = {download(u).content for u in [*urls, listed]}
    assert len(bodies) == 1


def test_store_refuses_the_secret_token(simulator: Simulator) -> None:
    url = wait(simulator, create(simulator)["id"])["url"]
    r = download(url, headers={"Secret-Token": simulator.token})
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/xml"
    assert "<Code>InvalidArgument</Code>" in r.text and simulator.token not in r.text
    assert download(url).status_code == 200
    store = [x for x in simulator.requests if x.server == "store"]
    assert [(x.had_token, x.status) for x in store] == [(True, 400), (False, 200)]


def test_url_expires_and_a_fresh_get_gives_a_new_one(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(url_ttl=0.3)
    rid = wait(sim, create(sim)["id"])["id"]
    url = get(sim, f"reports/{rid}").json()["url"]
    assert download(url).status_code == 200
    sim.advance(0.4)
    r = download(url)
    assert r.status_code == 403
    assert "<Code>AccessDenied</Code>" in r.text and "Request has expired" in r.text
    assert download(get(sim, f"reports/{rid}").json()["url"]).status_code == 200


def test_tampered_or_unsigned_url_is_403(simulator: Simulator) -> None:
    url = wait(simulator, create(simulator)["id"])["url"]
    r = download(url[:-4] + "0000")
    assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text
    r = download(url.split("?")[0])
    assert r.status_code == 403 and "AccessDenied" in r.text


def test_store_supports_range_and_head(simulator: Simulator) -> None:
    url = wait(simulator, create(simulator)["id"])["url"]
    whole = download(url).content
    part = download(url, headers={"Range": "bytes=10-"})
    assert part.status_code == 206 and part.content == whole[10:]
    assert part.headers["Content-Range"] == f"bytes 10-{len(whole) - 1}/{len(whole)}"
    assert download(url, headers={"Range": "bytes=0-9"}).content == whole[:10]
    assert download(url, headers={"Range": f"bytes={len(whole)}-"}).status_code == 416
    head = requests.head(url, timeout=TIMEOUT)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(whole))


def test_store_bandwidth_throttles(make_simulator: Callable[..., Simulator]) -> None:
    sim = make_simulator(store_bandwidth=50_000)
    week = {"startDate": "2024-03-04", "endDate": "2024-03-10"}
    url = wait(sim, create(sim, week)["id"])["url"]
    started = time.monotonic()
    size = len(download(url).content)
    assert size > 10_000
    assert time.monotonic() - started >= size / 50_000 * 0.8


# -- records ---------------------------------------------------------------------------------


def test_requests_are_recorded(simulator: Simulator) -> None:
    obj = create(simulator)
    get(simulator, "players", params={"page": 1})
    get(simulator, "medias", token="bad")
    url = wait(simulator, obj["id"])["url"]
    download(url)
    records = simulator.requests
    assert (records[0].server, records[0].method, records[0].path) == ("api", "POST", "/reports")
    assert records[0].status == 201 and records[0].had_token
    assert (records[1].path, records[1].query) == ("/players", {"page": "1"})
    assert (records[2].path, records[2].status) == ("/medias", 401)
    assert records[-1].server == "store" and not records[-1].had_token
    assert records[-1].status == 200
    assert all(simulator.token not in repr(r) for r in records)
    simulator.reset_requests()
    assert simulator.requests == []


def test_repr_and_records_never_show_the_token(simulator: Simulator) -> None:
    get(simulator, "players")
    assert simulator.token not in repr(simulator)
    assert simulator.token not in str(simulator.requests[0].headers)
