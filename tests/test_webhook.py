"""The webhook body parser, the once-only registry and the HTTP receiver, without the API
(a recording handler)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

import fouryousee_data as fy
from fouryousee_data.report import Report
from fouryousee_data.webhook import (
    MAX_NOTIFICATION_BYTES,
    InvalidNotificationError,
    NotificationOutcome,
    Registry,
    WebhookReceiver,
    parse_notification,
    whole_days,
)

SECRET = "s3cr3t-path-segment-0123456789"
FILTER = {
    "startDate": "2024-03-01",
    "startTime": "00:00:00",
    "endDate": "2024-03-02",
    "endTime": "23:59:59",
    "mediaId": [],
    "playerId": [2, 3],
    "sort": -1,
}


def body(**changes: object) -> bytes:
    obj: dict[str, object] = {
        "id": 42,
        "type": "detailed",
        "format": "json",
        "status": "success",
        "url": "http://127.0.0.2:1/acct/42-abc.gz?X-Amz-Signature=abc",
        "filter": dict(FILTER),
        "createdAt": "2024-03-03T10:00:00+00:00",
        "updatedAt": "2024-03-03T10:00:05+00:00",
    }
    obj.update(changes)
    return json.dumps(obj).encode()


# --------------------------------------------------------------------------- parse_notification


def test_parse_valid_notification() -> None:
    report = parse_notification(body())
    assert isinstance(report, Report)
    assert (report.id, report.status, report.filter["playerId"]) == (42, "success", [2, 3])
    assert parse_notification(body(url=None, error=None, extra={"future": 1})).url is None


def test_parse_failed_notification_keeps_error() -> None:
    err = {"code": 422, "message": "There was an error generating the report"}
    report = parse_notification(body(status="failed", url=None, error=err))
    assert report.failed and report.error == err


@pytest.mark.parametrize(
    ("raw", "status", "match"),
    [
        (b"", 400, "not JSON"),
        (b"id=42&status=success", 400, "not JSON"),
        (b"\xff\xfe{}", 400, "UTF-8"),
        (b'{"id": 42, "status": "success", "x": NaN}', 400, "NaN"),
        (b'{"id": 42, "status": "success", "x": Infinity}', 400, "Infinity"),
        (b'{"id": 42, "status": "success", "x": -Infinity}', 400, "Infinity"),
        (b'{"id": 42, "id": 43, "status": "success"}', 400, "repeats a key"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, 400, "JSON", id="deep-nesting"),
        pytest.param(b'{"id": ' + b"9" * 5000 + b"}", 400, "JSON", id="huge-integer"),
        (b"[]", 422, "JSON object, got an array"),
        (b'"report"', 422, "JSON object, got a string"),
        (b"null", 422, "JSON object, got null"),
        (b"42", 422, "JSON object, got a number"),
    ],
)
def test_parse_refuses_non_json_and_non_objects(raw: bytes, status: int, match: str) -> None:
    with pytest.raises(InvalidNotificationError, match=match) as info:
        parse_notification(raw)
    assert info.value.status_code == status
    assert isinstance(info.value, ValueError) and isinstance(info.value, fy.FouryouseeError)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"id": True}, "'id'"),
        ({"id": 0}, "'id'"),
        ({"id": -5}, "'id'"),
        ({"id": 42.0}, "'id'"),
        ({"id": "42"}, "'id'"),
        ({"id": 2**63}, "'id'"),
        ({"id": None}, "'id'"),
        ({"status": "done"}, "'status'"),
        ({"status": None}, "'status'"),
        ({"status": ["success"]}, "'status'"),
        ({"url": 5}, "'url'"),
        ({"url": {"href": "file:///etc/passwd"}}, "'url'"),
        ({"createdAt": 1700000000}, "'createdAt'"),
        ({"error": "boom"}, "'error'"),
        ({"type": 1}, "'type'"),
        ({"filter": None}, "'filter' must be an object"),
        ({"filter": [1, 2]}, "'filter' must be an object"),
        ({"filter": {**FILTER, "evil": 1}}, "unknown keys: 'evil'"),
        ({"filter": {k: v for k, v in FILTER.items() if k != "endDate"}}, "filter.endDate"),
        ({"filter": {**FILTER, "startDate": "2024-02-30"}}, "filter.startDate"),
        ({"filter": {**FILTER, "startDate": "20240301"}}, "filter.startDate"),
        ({"filter": {**FILTER, "endTime": "24:00:00"}}, "filter.endTime"),
        ({"filter": {**FILTER, "endTime": "23:59"}}, "filter.endTime"),
        ({"filter": {**FILTER, "playerId": "2"}}, "filter.playerId"),
        ({"filter": {**FILTER, "playerId": [2, "3"]}}, "filter.playerId"),
        ({"filter": {**FILTER, "mediaId": [True]}}, "filter.mediaId"),
        ({"filter": {**FILTER, "mediaId": [-1]}}, "filter.mediaId"),
        ({"filter": {**FILTER, "sort": 0}}, "filter.sort"),
        ({"filter": {**FILTER, "sort": "-1"}}, "filter.sort"),
        ({"filter": {**FILTER, "endDate": "2024-02-01"}}, "ends before it starts"),
    ],
)
def test_parse_refuses_wrong_types(changes: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidNotificationError, match=match) as info:
        parse_notification(body(**changes))
    assert info.value.status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/report.gz",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "javascript:alert(1)",
        "/relative/path.gz",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://2852039166/latest/meta-data/",
        "http://0xa9.0xfe.0xa9.0xfe/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://10.0.0.5/internal",
        "http://192.168.1.1/admin",
        "http://[fe80::1]/",
        "http://0.0.0.0:8080/",
        "https://user:pass@s3.amazonaws.com/x.gz",
        "http://s3.amazonaws.com:99999/x.gz",
        "https://" + "a" * 9000 + ".com/",
    ],
)
def test_parse_refuses_urls_that_cannot_come_from_4yousee(url: str) -> None:
    with pytest.raises(InvalidNotificationError, match="'url'") as info:
        parse_notification(body(url=url))
    assert info.value.status_code == 422
    assert "passwd" not in str(info.value) and "169.254" not in str(info.value)


def test_parse_url_hosts_allowlist() -> None:
    s3 = "https://4yousee-playlogs-reports.s3.amazonaws.com/acct/42-abc.gz?X-Amz-Signature=x"
    assert parse_notification(body(url=s3)).url == s3  # any public host by default
    assert parse_notification(body(url=s3), url_hosts=["*.amazonaws.com"]).id == 42
    assert parse_notification(body(url=None), url_hosts=[]).url is None
    for hosts in (["*.example.org"], ["amazonaws.com"], []):
        with pytest.raises(InvalidNotificationError, match="allowed object-store host"):
            parse_notification(body(url=s3), url_hosts=hosts)
    with pytest.raises(InvalidNotificationError):
        parse_notification(body(url="https://evilamazonaws.com/x"), url_hosts=["*.amazonaws.com"])


def test_parse_messages_never_echo_values() -> None:
    with pytest.raises(InvalidNotificationError) as info:
        parse_notification(body(id="file:///etc/passwd"))
    assert "passwd" not in str(info.value)


def test_parse_size_limit() -> None:
    big = body(padding="x" * MAX_NOTIFICATION_BYTES)
    with pytest.raises(InvalidNotificationError, match="limit") as info:
        parse_notification(big)
    assert info.value.status_code == 413
    assert parse_notification(body(), max_bytes=len(body())).id == 42
    with pytest.raises(InvalidNotificationError):
        parse_notification(body(), max_bytes=len(body()) - 1)


def test_parse_needs_bytes() -> None:
    with pytest.raises(TypeError, match="bytes"):
        parse_notification(body().decode())  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode)))
def test_parse_any_bytes_is_a_report_or_a_clear_error(raw: bytes) -> None:
    try:
        report = parse_notification(raw)
    except InvalidNotificationError as exc:
        assert exc.status_code in (400, 413, 422)
    else:
        assert report.id > 0


_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "status", "url", "filter", "error"]), _json))
def test_parse_any_json_object_is_a_report_or_a_422(obj: dict[str, object]) -> None:
    try:
        parse_notification(json.dumps(obj).encode())
    except InvalidNotificationError as exc:
        assert exc.status_code == 422


def test_whole_days() -> None:
    assert whole_days(FILTER) is not None and len(whole_days(FILTER) or []) == 2
    assert whole_days({**FILTER, "endTime": "12:00:00"}) is None
    assert whole_days({**FILTER, "endDate": "2024-04-30"}) is None  # over 30 days
    assert whole_days({**FILTER, "endDate": "bogus"}) is None


# --------------------------------------------------------------------------- the registry


def test_registry_processes_a_report_once(tmp_path: Path) -> None:
    registry = Registry()
    calls: list[int] = []

    def process() -> NotificationOutcome:
        calls.append(1)
        time.sleep(0.05)  # others arrive meanwhile and must wait for this one
        return NotificationOutcome(7, "stored", rows=3)

    outcomes: list[NotificationOutcome] = []
    threads = [
        threading.Thread(
            target=lambda: outcomes.append(registry.once(tmp_path, "acct", 7, process))
        )
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1 and len(registry) == 1
    assert sorted(o.action for o in outcomes) == ["duplicate"] * 4 + ["stored"]
    assert all(o.detail == "stored" for o in outcomes if o.action == "duplicate")
    record = json.loads((tmp_path / "acct" / "_webhook" / "7.json").read_text())
    assert (record["action"], record["rows"]) == ("stored", 3)
    # a new registry (a restarted process) knows it from the file; another account does not
    assert Registry().once(tmp_path, "acct", 7, process).action == "duplicate"
    assert Registry().once(tmp_path, "other", 7, process).action == "stored"
    assert len(calls) == 2


def test_registry_records_neither_errors_nor_pending(tmp_path: Path) -> None:
    registry = Registry()

    def fail() -> NotificationOutcome:
        raise fy.DownloadError("store unreachable")

    with pytest.raises(fy.DownloadError):
        registry.once(tmp_path, "acct", 8, fail)
    pending = registry.once(tmp_path, "acct", 8, lambda: NotificationOutcome(8, "pending"))
    assert pending.action == "pending" and len(registry) == 0
    assert registry.once(tmp_path, "acct", 8, lambda: NotificationOutcome(8, "failed")).action == (
        "failed"
    )
    with pytest.raises(ValueError, match="lock_timeout"):
        Registry(lock_timeout=0)


# --------------------------------------------------------------------------- the receiver


class Recorder:
    """A handler recording what the worker was given; optionally blocks on ``gate``."""

    def __init__(self) -> None:
        self.reports: list[Report] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, report: Report) -> str:
        if not self.gate.wait(10):
            raise RuntimeError("gate never opened")
        self.reports.append(report)
        return f"handled {report.id}"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def receiver(recorder: Recorder) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(handler=recorder, path_secret=SECRET, read_timeout=0.5) as rcv:
        yield rcv


def post(url: str, data: bytes, content_type: str = "application/json") -> requests.Response:
    return requests.post(url, data=data, headers={"Content-Type": content_type}, timeout=5)


def raw_request(receiver: WebhookReceiver, request: bytes) -> bytes:
    """Send bytes as they are and return the whole answer."""
    with socket.create_connection(receiver.address, timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        for _ in range(1000):
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_receiver_accepts_and_processes_in_background(
    receiver: WebhookReceiver, recorder: Recorder
) -> None:
    assert receiver.url.startswith("http://127.0.0.1:") and receiver.url.endswith(SECRET)
    recorder.gate.clear()  # the worker is stuck: the answer must not wait for it
    started = time.monotonic()
    answer = post(receiver.url, body())
    assert time.monotonic() - started < 1.0
    assert answer.status_code == 200 and answer.json() == {
        "ok": True,
        "message": "accepted",
        "id": 42,
    }
    assert recorder.reports == []
    recorder.gate.set()
    assert receiver.wait_idle(5)
    assert [r.id for r in recorder.reports] == [42]
    assert list(receiver.outcomes) == ["handled 42"]


@pytest.mark.parametrize(
    "path",
    [
        "/webhook",
        "/webhook/",
        "/webhook/wrong-secret-0123456789ab",
        f"/webhook/{SECRET}/",
        f"/webhook/{SECRET}x",
        f"/webhook/{SECRET[:-1]}",
        f"/other/{SECRET}",
        "/",
    ],
)
def test_receiver_wrong_path_is_404(
    receiver: WebhookReceiver, recorder: Recorder, path: str
) -> None:
    host, port = receiver.address
    answer = post(f"http://{host}:{port}{path}", body())
    assert answer.status_code == 404
    assert receiver.wait_idle(5) and recorder.reports == []


def test_receiver_query_string_is_ignored(receiver: WebhookReceiver) -> None:
    assert post(receiver.url + "?source=4yousee", body()).status_code == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_receiver_other_methods_are_405(receiver: WebhookReceiver, method: str) -> None:
    answer = requests.request(method, receiver.url, data=body(), timeout=5)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    host, port = receiver.address
    wrong = requests.request(method, f"http://{host}:{port}/elsewhere", timeout=5)
    assert wrong.status_code == 404  # wrong path first: 405 would reveal the path


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "text/plain",
        "text/plain; charset=latin-1",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
        None,
    ],
)
def test_receiver_judges_the_body_by_its_bytes_whatever_the_content_type(
    receiver: WebhookReceiver, recorder: Recorder, content_type: str | None
) -> None:
    """4YouSee documents no Content-Type: none is required, and none makes a bad body good."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    ok = requests.post(receiver.url, data=body(), headers=headers, timeout=5)
    assert ok.status_code == 200
    for data, status in [(b"id=42&status=success", 400), (b"[]", 422)]:
        bad = requests.post(receiver.url, data=data, headers=headers, timeout=5)
        assert bad.status_code == status
    too_big = body(padding="x" * MAX_NOTIFICATION_BYTES)
    assert requests.post(receiver.url, data=too_big, headers=headers, timeout=5).status_code == 413
    assert receiver.wait_idle(5) and [r.id for r in recorder.reports] == [42]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"not json", 400),
        (b'{"id": 1, "status": "success", "x": NaN}', 400),
        (b"[]", 422),
        (body(id="42"), 422),
        (body(status="exploded"), 422),
        (body(filter={"startDate": "2024-03-01"}), 422),
    ],
)
def test_receiver_bad_bodies(
    receiver: WebhookReceiver, recorder: Recorder, data: bytes, status: int
) -> None:
    answer = post(receiver.url, data)
    assert answer.status_code == status
    assert answer.json()["ok"] is False
    assert receiver.wait_idle(5) and recorder.reports == []


def test_receiver_oversized_body_is_413(receiver: WebhookReceiver, recorder: Recorder) -> None:
    answer = post(receiver.url, body(padding="x" * MAX_NOTIFICATION_BYTES))
    assert answer.status_code == 413
    answer = post(receiver.url, b" " * (3 * MAX_NOTIFICATION_BYTES) + body())
    assert answer.status_code == 413
    assert receiver.wait_idle(5) and recorder.reports == []


def test_receiver_small_limit(recorder: Recorder) -> None:
    with WebhookReceiver(handler=recorder, max_body_bytes=100) as rcv:
        assert post(rcv.url, body()).status_code == 413
        assert post(rcv.url, b'{"id": 7, "status": "success", "filter": []}').status_code == 422


def _chunked(payload: bytes, size: int = 100) -> bytes:
    out = b""
    for i in range(0, len(payload), size):
        part = payload[i : i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


def _head(receiver: WebhookReceiver, extra: str) -> bytes:
    host, port = receiver.address
    return (
        f"POST /webhook/{SECRET} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


def test_receiver_chunked_body_within_limit(receiver: WebhookReceiver, recorder: Recorder) -> None:
    answer = raw_request(
        receiver, _head(receiver, "Transfer-Encoding: chunked\r\n") + _chunked(body())
    )
    assert status_of(answer) == 200
    assert receiver.wait_idle(5) and [r.id for r in recorder.reports] == [42]


def test_receiver_chunked_body_over_limit_is_413(
    receiver: WebhookReceiver, recorder: Recorder
) -> None:
    huge = b" " * (MAX_NOTIFICATION_BYTES + 10) + body()
    answer = raw_request(
        receiver, _head(receiver, "Transfer-Encoding: chunked\r\n") + _chunked(huge, 8192)
    )
    assert status_of(answer) == 413
    assert receiver.wait_idle(5) and recorder.reports == []


def test_requests_streamed_body_without_length(receiver: WebhookReceiver) -> None:
    def gen() -> Iterator[bytes]:
        yield body()[:10]
        yield body()[10:]

    answer = requests.post(
        receiver.url, data=gen(), headers={"Content-Type": "application/json"}, timeout=5
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("extra", "payload", "status"),
    [
        pytest.param("", body(), 411, id="no-length"),
        pytest.param(
            f"Content-Length: {len(body())}\r\nTransfer-Encoding: chunked\r\n",
            body(),
            400,
            id="length-and-chunked",
        ),
        pytest.param("Transfer-Encoding: gzip\r\n", body(), 501, id="gzip-encoding"),
        pytest.param("Content-Length: -1\r\n", body(), 400, id="negative-length"),
        pytest.param("Content-Length: 12\r\nContent-Length: 12\r\n", body(), 400, id="two-lengths"),
        pytest.param("Transfer-Encoding: chunked\r\n", b"zz\r\n" + body(), 400, id="bad-chunk"),
        pytest.param(f"Content-Length: {len(body()) + 50}\r\n", body(), 408, id="short-body"),
    ],
)
def test_receiver_malformed_framing(
    receiver: WebhookReceiver, recorder: Recorder, extra: str, payload: bytes, status: int
) -> None:
    answer = raw_request(receiver, _head(receiver, extra) + payload)
    assert status_of(answer) == status
    assert receiver.wait_idle(5) and recorder.reports == []


def test_slow_client_does_not_block_others(receiver: WebhookReceiver) -> None:
    with socket.create_connection(receiver.address, timeout=5) as slow:
        slow.sendall(_head(receiver, "Content-Length: 1000\r\n") + b'{"id": ')  # then stalls
        assert post(receiver.url, body()).status_code == 200
        answer = slow.recv(65536)  # the read timeout (0.5 s) closes the stalled request
    assert status_of(answer) == 408


def test_read_timeout_bounds_the_whole_request(receiver: WebhookReceiver) -> None:
    """A byte every 0.1 s never leaves a 0.5 s gap, yet the request is cut at 0.5 s in all."""
    stop = threading.Event()
    with socket.create_connection(receiver.address, timeout=5) as slow:

        def trickle() -> None:
            while not stop.wait(0.1):
                try:
                    slow.sendall(b" ")
                except OSError:
                    return

        slow.sendall(_head(receiver, "Content-Length: 1000\r\n"))
        started = time.monotonic()
        thread = threading.Thread(target=trickle)
        thread.start()
        try:
            answer = slow.recv(65536)
        finally:
            stop.set()
            thread.join(5)
    assert status_of(answer) == 408
    assert time.monotonic() - started < 2.0


def test_receiver_duplicate_while_queued_is_processed_once(
    receiver: WebhookReceiver, recorder: Recorder
) -> None:
    recorder.gate.clear()
    answers = [post(receiver.url, body()) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[1].json()["message"] == "already queued"
    recorder.gate.set()
    assert receiver.wait_idle(5)
    assert [r.id for r in recorder.reports] == [42]


def test_receiver_full_queue_is_503(recorder: Recorder) -> None:
    recorder.gate.clear()
    with WebhookReceiver(handler=recorder, queue_size=1) as rcv:
        first = post(rcv.url, body(id=1))
        for _ in range(100):  # until the worker took the first one
            if rcv.pending == 0:
                break
            time.sleep(0.01)
        second = post(rcv.url, body(id=2))
        third = post(rcv.url, body(id=3))
        assert [first.status_code, second.status_code, third.status_code] == [200, 200, 503]
        recorder.gate.set()
        assert rcv.wait_idle(5)
        assert post(rcv.url, body(id=3)).status_code == 200  # the retry gets in
        assert rcv.wait_idle(5)
    assert [r.id for r in recorder.reports] == [1, 2, 3]


def test_handler_errors_are_logged_and_the_worker_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[int] = []

    def handler(report: Report) -> None:
        if report.id == 1:
            raise fy.DownloadError("store unreachable")
        seen.append(report.id)

    with caplog.at_level(logging.DEBUG), WebhookReceiver(handler=handler) as rcv:
        assert post(rcv.url, body(id=1)).status_code == 200
        assert post(rcv.url, body(id=2)).status_code == 200
        assert rcv.wait_idle(5)
        assert seen == [2]
        assert [(rid, str(exc)) for rid, exc in rcv.errors] == [(1, "store unreachable")]
    assert "report 1 not processed: store unreachable" in caplog.text


def test_client_hanging_up_is_one_log_line(
    receiver: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_connection(receiver.address, timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.sendall(_head(receiver, "Content-Length: 1000\r\n") + b"{")
    assert post(receiver.url, body()).status_code == 200
    assert "Traceback" not in capsys.readouterr().err


def test_stop_is_clean_and_idempotent(recorder: Recorder) -> None:
    rcv = WebhookReceiver(handler=recorder).start()
    url = rcv.url
    assert post(url, body()).status_code == 200
    rcv.stop(timeout=5)
    rcv.stop()
    assert not rcv.running
    with pytest.raises(requests.ConnectionError):
        post(url, body())


def test_stop_drops_queued_reports_with_a_log(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.gate.clear()
    rcv = WebhookReceiver(handler=recorder).start()
    for rid in (1, 2, 3):
        assert post(rcv.url, body(id=rid)).status_code == 200
    threading.Timer(0.3, recorder.gate.set).start()
    with caplog.at_level(logging.WARNING):
        rcv.stop(timeout=5)
    assert [r.id for r in recorder.reports] == [1]  # the one in progress finished
    assert "reports not processed: [2, 3]" in caplog.text


def test_serve_forever_returns_once_stopped(recorder: Recorder) -> None:
    rcv = WebhookReceiver(handler=recorder)
    timer = threading.Timer(0.3, rcv.stop)
    timer.start()
    rcv.serve_forever()  # returns once stopped
    timer.join()
    assert not rcv.running


def test_secret_never_logged(recorder: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.DEBUG),
        WebhookReceiver(handler=recorder, path_secret=SECRET, read_timeout=0.5) as rcv,
    ):
        assert post(rcv.url, body()).status_code == 200
        assert requests.get(rcv.url, timeout=5).status_code == 405
        # a malformed request line carrying the secret is logged by http.server: redacted
        answer = raw_request(rcv, f"POST /webhook/{SECRET} HTTP/9.9 junk\r\n\r\n".encode())
        assert b"400" in answer
        assert rcv.wait_idle(5)
    ours = [r for r in caplog.records if r.name.startswith("fouryousee_data")]
    assert len(ours) >= 4  # (urllib3 logs the test's own requests, secret included: not ours)
    assert all(SECRET not in r.getMessage() for r in ours)
    assert "webhook delivery from 127.0.0.1: report 42 (success) -> 200 accepted" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"path_secret": "short"}, "path_secret"),
        ({"path_secret": "has/slash/0123456789abc"}, "path_secret"),
        ({"path_secret": "with space 0123456789abc"}, "path_secret"),
        ({"path": "webhook"}, "path"),
        ({"path": "/a b"}, "path"),
        ({"queue_size": 0}, "queue_size"),
        ({"max_body_bytes": -1}, "max_body_bytes"),
        ({"read_timeout": 0}, "read_timeout"),
        ({"public_url": "ftp://x"}, "public_url"),
        ({"cache_dir": None, "handler": None}, "cache_dir"),
    ],
)
def test_receiver_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    kwargs.setdefault("handler", print)
    with pytest.raises(ValueError, match=match):
        WebhookReceiver(**kwargs)  # type: ignore[arg-type]


def test_public_url_and_repr(recorder: Recorder) -> None:
    with WebhookReceiver(
        handler=recorder,
        path="/hooks/4yousee",
        path_secret=SECRET,
        public_url="https://hooks.example.org/",
    ) as rcv:
        assert rcv.url == f"https://hooks.example.org/hooks/4yousee/{SECRET}"
        assert SECRET not in repr(rcv)
        host, port = rcv.address
        assert post(f"http://{host}:{port}/hooks/4yousee/{SECRET}", body()).status_code == 200
