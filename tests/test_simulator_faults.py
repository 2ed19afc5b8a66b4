"""Every fault of the simulator (interfaces.md), observed with raw ``requests`` calls."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from test_simulator import TIMEOUT, WINDOW, create, download, get, post, wait

from fouryousee_data.simulator import FAULTS, Simulator

# -- API faults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [
        (2, "2"),
        ("garbage", "garbage"),
        ("Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT"),
        (dt.datetime(2024, 4, 1, 12, 0, 3, tzinfo=dt.UTC), "Mon, 01 Apr 2024 12:00:03 GMT"),
        (None, None),
    ],
)
def test_rate_limit(simulator: Simulator, retry_after: Any, header: str | None) -> None:
    simulator.inject("rate_limit", route="GET /players", retry_after=retry_after)
    assert get(simulator, "medias").status_code == 200  # another route is not affected
    r = get(simulator, "players")
    assert r.status_code == 429 and "message" in r.json()
    assert r.headers.get("Retry-After") == header
    assert get(simulator, "players").status_code == 200  # consumed
    assert [x.fault for x in simulator.requests] == [None, "rate_limit", None]


def test_server_error_burst_on_any_route(simulator: Simulator) -> None:
    simulator.inject("server_error", times=3, status=502)
    statuses = [get(simulator, p).status_code for p in ("players", "reports", "medias", "players")]
    assert statuses == [502, 502, 502, 200]


def test_route_with_a_concrete_id(simulator: Simulator) -> None:
    a, b = create(simulator), create(simulator)
    simulator.inject("server_error", route=f"GET /reports/{b['id']}")
    assert get(simulator, f"reports/{a['id']}").status_code == 200
    assert get(simulator, f"reports/{b['id']}").status_code == 503


def test_slow(simulator: Simulator) -> None:
    simulator.inject("slow", route="GET /reports", delay=0.3)
    started = time.monotonic()
    assert get(simulator, "reports").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        simulator.inject("slow", delay=2.0)
        requests.get(simulator.base_url + "players", timeout=0.2)


def test_reset_drops_the_connection(simulator: Simulator) -> None:
    simulator.inject("reset", route="GET /players")
    with pytest.raises(requests.ConnectionError):
        get(simulator, "players")
    assert get(simulator, "players").status_code == 200
    assert simulator.requests[0].status is None and simulator.requests[0].fault == "reset"


@pytest.mark.parametrize("options", [{}, {"status": 500}, {"drop": True}])
def test_create_then_fail_creates_the_report(simulator: Simulator, options: dict) -> None:
    simulator.inject("create_then_fail", **options)
    if options.get("drop"):
        with pytest.raises(requests.ConnectionError):
            post(simulator, {"type": "detailed", "filter": WINDOW})
    else:
        r = post(simulator, {"type": "detailed", "filter": WINDOW})
        assert r.status_code == options.get("status", 502) and "message" in r.json()
    listed = get(simulator, "reports").json()["results"]
    assert [x["filter"] for x in listed] == [WINDOW]
    assert wait(simulator, listed[0]["id"])["status"] == "success"


def test_report_failed(simulator: Simulator) -> None:
    simulator.inject("report_failed")
    failed = wait(simulator, create(simulator)["id"])
    assert failed["status"] == "failed" and failed["url"] is None
    assert failed["error"] == {"code": 422, "message": "There was an error generating the report"}
    assert wait(simulator, create(simulator)["id"])["status"] == "success"


def test_report_never_ready(simulator: Simulator) -> None:
    simulator.inject("report_never_ready")
    obj = create(simulator)
    time.sleep(simulator.report_delay * 5)
    assert get(simulator, f"reports/{obj['id']}").json()["status"] == "waiting"
    simulator.inject("report_never_ready", status="processing")
    other = create(simulator)
    time.sleep(simulator.report_delay * 3)
    assert get(simulator, f"reports/{other['id']}").json()["status"] == "processing"


def test_null_url(simulator: Simulator) -> None:
    simulator.inject("null_url")
    ready = wait(simulator, create(simulator)["id"])
    assert ready["status"] == "success" and ready["url"] is None
    assert get(simulator, f"reports/{ready['id']}").json()["url"] is None


def test_unknown_fault_or_option_is_value_error(simulator: Simulator) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        simulator.inject("meteor")
    with pytest.raises(ValueError, match="unknown option"):
        simulator.inject("rate_limit", delay=3)
    with pytest.raises(ValueError, match="times"):
        simulator.inject("reset", times=0)


def test_clear_faults(simulator: Simulator) -> None:
    simulator.inject("server_error", times=5)
    simulator.clear_faults()
    assert get(simulator, "players").status_code == 200


# -- store faults ----------------------------------------------------------------------------


@pytest.fixture
def ready(simulator: Simulator) -> dict[str, Any]:
    """A finished report and its file's bytes (``_bytes``)."""
    obj = wait(simulator, create(simulator)["id"])
    obj["_bytes"] = download(obj["url"]).content
    return obj


def fresh_url(sim: Simulator, obj: dict[str, Any]) -> str:
    return get(sim, f"reports/{obj['id']}").json()["url"]


def test_store_reset_mid_body(simulator: Simulator, ready: dict[str, Any]) -> None:
    simulator.inject("store_reset", after_bytes=1000)
    with requests.get(fresh_url(simulator, ready), stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == 200
        assert r.headers["Content-Length"] == str(len(ready["_bytes"]))
        got = b""
        with pytest.raises(requests.RequestException, match="1000 bytes read"):
            for block in r.iter_content(256):
                got += block
    assert got == ready["_bytes"][: len(got)] and len(got) <= 1000
    assert download(fresh_url(simulator, ready)).content == ready["_bytes"]


def test_truncated_gzip(simulator: Simulator, ready: dict[str, Any]) -> None:
    simulator.inject("truncated_gzip")
    body = download(fresh_url(simulator, ready)).content
    assert body == ready["_bytes"][: len(ready["_bytes"]) // 2]
    with pytest.raises(EOFError):
        gzip.decompress(body)
    simulator.inject("truncated_gzip", keep_bytes=15)
    assert len(download(fresh_url(simulator, ready)).content) == 15


def test_corrupt_crc(simulator: Simulator, ready: dict[str, Any]) -> None:
    simulator.inject("corrupt_crc")
    body = download(fresh_url(simulator, ready)).content
    assert len(body) == len(ready["_bytes"]) and body != ready["_bytes"]
    with pytest.raises(gzip.BadGzipFile, match="CRC"):
        gzip.decompress(body)
    # every line is intact (raw deflate after the 10-byte header): only the trailer is wrong
    assert zlib.decompressobj(-zlib.MAX_WBITS).decompress(body[10:]) == gzip.decompress(
        ready["_bytes"]
    )


def test_malformed_line(simulator: Simulator, ready: dict[str, Any]) -> None:
    simulator.inject("malformed_line", line=3, text='{"date": "2024-03-04", "time": 12')
    lines = gzip.decompress(download(fresh_url(simulator, ready)).content).splitlines()
    good = gzip.decompress(ready["_bytes"]).splitlines()
    assert lines[2] == b'{"date": "2024-03-04", "time": 12'
    assert lines[:2] == good[:2] and lines[3:] == good[3:]
    simulator.inject("malformed_line", line=10**6)
    lines = gzip.decompress(download(fresh_url(simulator, ready)).content).splitlines()
    assert lines[:-1] == good and lines[-1] == FAULTS["malformed_line"]["text"].encode()


def test_expired_url_fault(simulator: Simulator, ready: dict[str, Any]) -> None:
    simulator.inject("expired_url")
    url = fresh_url(simulator, ready)
    r = download(url)
    assert r.status_code == 403 and "Request has expired" in r.text
    assert download(url).status_code == 200


def test_content_encoding_gzip(simulator: Simulator, ready: dict[str, Any]) -> None:
    simulator.inject("content_encoding_gzip")
    with requests.get(fresh_url(simulator, ready), stream=True, timeout=TIMEOUT) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        raw = r.raw.read(decode_content=False)
    assert raw == ready["_bytes"]
    simulator.inject("content_encoding_gzip")
    decoded = download(fresh_url(simulator, ready)).content  # requests decodes it
    assert decoded == gzip.decompress(ready["_bytes"])


@pytest.mark.parametrize("fault", ["empty_file", "empty_gzip"])
def test_empty_files(simulator: Simulator, ready: dict[str, Any], fault: str) -> None:
    simulator.inject(fault)
    body = download(fresh_url(simulator, ready)).content
    assert body == b"" if fault == "empty_file" else gzip.decompress(body) == b""


def test_redirect_to_another_host(simulator: Simulator, ready: dict[str, Any]) -> None:
    simulator.inject("redirect")
    url = fresh_url(simulator, ready)
    r = requests.get(url, timeout=TIMEOUT, allow_redirects=False)
    assert r.status_code == 302
    target = r.headers["Location"]
    assert urlsplit(target).hostname != urlsplit(url).hostname
    assert urlsplit(target).hostname in ("127.0.0.3", "127.0.0.1")
    assert download(target).content == ready["_bytes"]
    with_token = download(target, headers={"Secret-Token": simulator.token})
    assert with_token.status_code == 400


def test_api_faults_on_the_store_route(simulator: Simulator, ready: dict[str, Any]) -> None:
    simulator.inject("server_error", route="GET store")
    assert get(simulator, "players").status_code == 200  # the API is not affected
    r = download(fresh_url(simulator, ready))
    assert r.status_code == 503 and "<Error>" in r.text
    simulator.inject("rate_limit", route="GET store", retry_after=1)
    r = download(fresh_url(simulator, ready))
    assert r.status_code == 503 and r.headers["Retry-After"] == "1" and "SlowDown" in r.text
    simulator.inject("reset", route="GET store")
    with pytest.raises(requests.ConnectionError):
        download(fresh_url(simulator, ready))


def test_store_faults_are_recorded(simulator: Simulator, ready: dict[str, Any]) -> None:
    simulator.reset_requests()
    simulator.inject("empty_gzip")
    download(fresh_url(simulator, ready))
    store = [r for r in simulator.requests if r.server == "store"]
    assert [(r.status, r.fault) for r in store] == [(200, "empty_gzip")]


def test_every_documented_fault_is_known() -> None:
    documented = {
        "rate_limit", "server_error", "slow", "reset", "create_then_fail", "report_failed",
        "report_never_ready", "store_reset", "truncated_gzip", "corrupt_crc", "malformed_line",
        "expired_url", "content_encoding_gzip", "empty_file", "empty_gzip", "null_url",
        "redirect",
    }  # fmt: skip
    assert documented == set(FAULTS)
    assert json.dumps(FAULTS, default=str)
