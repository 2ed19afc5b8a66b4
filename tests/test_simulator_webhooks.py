"""Webhook notifications of the simulator: body, retries 2/8/26 min after the first, loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from test_simulator import create, get

from fouryousee_data.simulator import RETRY_MINUTES, Simulator

SCALE = 0.001  # 2, 8, 26 minutes after the first -> 0.12, 0.48, 1.56 s


class Receiver:
    """A webhook endpoint on loopback answering a scripted list of statuses."""

    def __init__(self, statuses: list[int], first_delay: float = 0.0) -> None:
        self.statuses = list(statuses)
        self.first_delay = first_delay  # seconds the first answer takes
        self.calls: list[tuple[float, dict[str, Any], dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((time.monotonic(), json.loads(body), dict(self.headers)))
                if len(receiver.calls) == 1:
                    time.sleep(receiver.first_delay)  # a slow receiver, not a test's wait
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,))
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(statuses: list[int], first_delay: float = 0.0) -> Receiver:
        made.append(Receiver(statuses, first_delay))
        return made[-1]

    yield make
    for r in made:
        r.close()


def deliveries(sim: Simulator, n: int, timeout: float = 5.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while len(sim.webhook_deliveries) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return sim.webhook_deliveries


def test_notification_posts_the_ready_report(
    simulator: Simulator, receiver: Callable[..., Receiver]
) -> None:
    hook = receiver([200])
    obj = create(simulator, webhook=hook.url)
    (delivery,) = deliveries(simulator, 1)
    assert (delivery.url, delivery.report_id, delivery.attempt, delivery.status) == (
        hook.url, obj["id"], 1, 200,
    )  # fmt: skip
    _, body, headers = hook.calls[0]
    assert body["id"] == obj["id"] and body["status"] == "success"
    assert body["url"].startswith(simulator.store_url)
    assert headers["Content-Type"] == "application/json"
    assert "Secret-Token" not in headers
    time.sleep(RETRY_MINUTES[0] * 60 * SCALE * 2)
    assert len(simulator.webhook_deliveries) == 1  # answered 200: no repeat


def test_failed_answers_are_repeated_at_2_8_26_minutes_scaled(
    simulator: Simulator, receiver: Callable[..., Receiver]
) -> None:
    hook = receiver([500, 404, 503, 500])
    obj = create(simulator, webhook=hook.url)
    got = deliveries(simulator, 4)
    assert [(d.attempt, d.status) for d in got] == [(1, 500), (2, 404), (3, 503), (4, 500)]
    first = got[0].at
    assert RETRY_MINUTES == (2, 8, 26)  # SPEC: 2 after the 1st, 6 after the 2nd, 18 after the 3rd
    for d, minutes in zip(got[1:], RETRY_MINUTES, strict=True):
        assert d.at - first >= minutes * 60 * SCALE * 0.95
        assert d.at - first < minutes * 60 * SCALE + 0.5
    assert all(body["id"] == obj["id"] for _, body, _ in hook.calls)
    time.sleep(0.3)
    assert len(simulator.webhook_deliveries) == 4  # three repeats at most


def test_attempts_are_stamped_when_they_start_the_instant_repeats_count_from(
    simulator: Simulator, receiver: Callable[..., Receiver]
) -> None:
    """A first answer taking 0.1 s (most of the 0.12 s until the first repeat) shifts
    neither the recorded times nor the schedule: both use the attempt's start."""
    hook = receiver([500, 500], first_delay=0.1)
    create(simulator, webhook=hook.url)
    first, second = deliveries(simulator, 2)[:2]
    assert first.at <= hook.calls[0][0] and second.at <= hook.calls[1][0]
    repeat = RETRY_MINUTES[0] * 60 * SCALE
    assert first.at + repeat <= second.at < first.at + repeat + 0.5


def test_retries_stop_once_answered_200(
    simulator: Simulator, receiver: Callable[..., Receiver]
) -> None:
    hook = receiver([500, 200])
    create(simulator, webhook=hook.url)
    got = deliveries(simulator, 2)
    time.sleep(RETRY_MINUTES[1] * 60 * SCALE + 0.1)
    assert [(d.attempt, d.status) for d in simulator.webhook_deliveries] == [(1, 500), (2, 200)]
    assert len(got) == 2


def test_unreachable_receiver_is_recorded_as_none(simulator: Simulator) -> None:
    create(simulator, webhook="http://127.0.0.1:9/hook")
    got = deliveries(simulator, 2)
    assert [(d.attempt, d.status) for d in got[:2]] == [(1, None), (2, None)]


def test_failed_reports_are_notified_too(
    simulator: Simulator, receiver: Callable[..., Receiver]
) -> None:
    hook = receiver([200])
    simulator.inject("report_failed")
    create(simulator, webhook=hook.url)
    deliveries(simulator, 1)
    assert hook.calls[0][1]["status"] == "failed" and "error" in hook.calls[0][1]


def test_only_loopback_hosts_are_contacted(simulator: Simulator) -> None:
    obj = create(simulator, webhook="https://example.org/hook")
    (delivery,) = deliveries(simulator, 1)
    assert delivery.refused and delivery.status is None and delivery.report_id == obj["id"]
    time.sleep(RETRY_MINUTES[0] * 60 * SCALE * 2)
    assert len(simulator.webhook_deliveries) == 1
    assert get(simulator, f"reports/{obj['id']}").json()["status"] == "success"


def test_stop_cancels_pending_retries_promptly(
    make_simulator: Callable[..., Simulator], receiver: Callable[..., Receiver]
) -> None:
    sim = make_simulator(webhook_time_scale=1.0)
    hook = receiver([500])
    create(sim, webhook=hook.url)
    deliveries(sim, 1)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 0.5
    assert len(hook.calls) == 1
