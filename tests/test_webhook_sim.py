"""The webhook receiver against the simulator, which delivers real (time-scaled) webhooks."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pytest
import requests

import fouryousee_data as fy
from conftest import paced_client, paced_request
from fouryousee_data import webhook
from fouryousee_data.cache import PlaylogCache
from fouryousee_data.client import Client
from fouryousee_data.simulator import Simulator
from fouryousee_data.webhook import Registry, WebhookReceiver, handle_notification

SECRET = "hook-secret-0123456789abcdef"


def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def api_paths(sim: Simulator) -> list[tuple[str, str, str]]:
    return [(r.server, r.method, r.path) for r in sim.requests]


def notification(sim: Simulator, client: Client, report_id: int, **changes: Any) -> bytes:
    """The body 4YouSee would post for this report, with ``changes``."""
    response = paced_request(
        "GET", f"{sim.base_url}reports/{report_id}", headers={"Secret-Token": sim.token}, timeout=5
    )
    obj = response.json()
    obj.update(changes)
    return json.dumps(obj).encode()


def post(url: str, data: bytes) -> int:
    headers = {"Content-Type": "application/json"}
    return requests.post(url, data=data, headers=headers, timeout=5).status_code


def ready_report(client: Client, start: str = "2024-03-01", end: str = "2024-03-02") -> fy.Report:
    report = client.request_report(start, end)
    return client.wait_for_report(report, timeout=10, poll_interval=0.02)


# --------------------------------------------------------------------------- the happy path


def test_delivery_fills_the_cache_then_fetch_requests_nothing(
    simulator: Simulator, api: Client, tmp_path: Path
) -> None:
    with WebhookReceiver(api, cache_dir=tmp_path, path_secret=SECRET) as rcv:
        report = api.request_report("2024-03-01", "2024-03-03", webhook=rcv.url)
        assert wait_until(lambda: len(rcv.outcomes) == 1) and rcv.wait_idle(10)
    (outcome,) = rcv.outcomes
    assert (outcome.report_id, outcome.action, len(outcome.days)) == (report.id, "stored", 3)
    assert [(d.attempt, d.status) for d in simulator.webhook_deliveries] == [(1, 200)]
    entries = PlaylogCache(tmp_path, api.fingerprint).entries()
    assert [e.day.isoformat() for e in entries] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert {e.report_id for e in entries} == {report.id}
    assert sum(e.rows for e in entries) == outcome.rows > 0

    simulator.reset_requests()
    df = fy.fetch_playlogs(
        "2024-03-01", "2024-03-03", client=api, cache_dir=tmp_path, progress=False
    )
    assert simulator.requests == []  # served from what the webhook stored
    expected = simulator.expected_frame(report.filter, as_of=report.created_at)
    expected = expected.sort_values("played_at", kind="stable").reset_index(drop=True)
    df.attrs = {}
    pd.testing.assert_frame_equal(df.reset_index(drop=True), expected)


def test_fetch_playlogs_passes_the_webhook_and_both_paths_agree(
    simulator: Simulator, api: Client, tmp_path: Path
) -> None:
    with WebhookReceiver(api, cache_dir=tmp_path, path_secret=SECRET) as rcv:
        df = fy.fetch_playlogs(
            "2024-03-05", "2024-03-06", client=api, cache_dir=tmp_path, webhook=rcv.url,
            progress=False, poll_interval=0.02,
        )  # fmt: skip
        assert wait_until(lambda: len(rcv.outcomes) == 1) and rcv.wait_idle(10)
    assert rcv.outcomes[0].action == "stored"
    assert [d.url for d in simulator.webhook_deliveries] == [rcv.url]
    simulator.reset_requests()
    again = fy.fetch_playlogs(
        "2024-03-05", "2024-03-06", client=api, cache_dir=tmp_path, progress=False
    )
    assert simulator.requests == []
    df.attrs, again.attrs = {}, {}
    pd.testing.assert_frame_equal(df, again)


def test_filtered_and_partial_day_reports(
    simulator: Simulator, api: Client, tmp_path: Path
) -> None:
    with WebhookReceiver(api, cache_dir=tmp_path) as rcv:
        filtered = api.request_report("2024-03-01", "2024-03-01", player_ids=[1], webhook=rcv.url)
        partial = api.request_report("2024-03-02 06:00", "2024-03-02 18:00", webhook=rcv.url)
        assert wait_until(lambda: len(rcv.outcomes) == 2) and rcv.wait_idle(10)
    actions = {o.report_id: o.action for o in rcv.outcomes}
    assert actions == {filtered.id: "stored", partial.id: "skipped"}
    entries = PlaylogCache(tmp_path, api.fingerprint).entries()
    assert [(e.day.isoformat(), e.player_ids) for e in entries] == [("2024-03-01", (1,))]
    store = [r for r in simulator.requests if r.server == "store"]
    assert len(store) == 1  # the partial report was never downloaded


def test_failed_report_is_recorded_and_logged(
    simulator: Simulator, api: Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    simulator.inject("report_failed")
    with caplog.at_level(logging.INFO), WebhookReceiver(api, cache_dir=tmp_path) as rcv:
        report = api.request_report("2024-03-01", "2024-03-01", webhook=rcv.url)
        assert wait_until(lambda: len(rcv.outcomes) == 1) and rcv.wait_idle(10)
        assert post(rcv.url, notification(simulator, api, report.id)) == 200  # a redelivery
        assert rcv.wait_idle(10)
    assert [o.action for o in rcv.outcomes] == ["failed", "duplicate"]
    assert "There was an error generating the report" in rcv.outcomes[0].detail
    assert f"report {report.id} failed at the API" in caplog.text
    assert not [r for r in simulator.requests if r.server == "store"]
    record = json.loads((tmp_path / api.fingerprint / "_webhook" / f"{report.id}.json").read_text())
    assert record["action"] == "failed"


# --------------------------------------------------------------------------- retries


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_retry_after_the_receiver_was_not_listening(
    make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = make_simulator(webhook_time_scale=0.005)  # retries after 0.6, 1.8, 5.4 s
    port = _free_port()
    url = f"http://127.0.0.1:{port}/webhook/{SECRET}"
    with paced_client(sim) as client:
        report = client.request_report("2024-03-01", "2024-03-01", webhook=url)
        assert wait_until(lambda: sim.webhook_deliveries)
        with WebhookReceiver(client, port=port, cache_dir=tmp_path, path_secret=SECRET) as rcv:
            assert wait_until(lambda: len(rcv.outcomes) == 1) and rcv.wait_idle(10)
    attempts = [(d.attempt, d.status) for d in sim.webhook_deliveries]
    assert attempts[0] == (1, None) and attempts[-1][1] == 200
    assert rcv.outcomes[0].report_id == report.id and rcv.outcomes[0].action == "stored"


def test_retry_after_503_from_a_full_queue(
    make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = make_simulator(webhook_time_scale=0.005)
    gate = threading.Event()
    with paced_client(sim) as client:

        def handler(report: fy.Report) -> webhook.NotificationOutcome:
            gate.wait(10)
            return handle_notification(report, client=client, cache_dir=tmp_path)

        with WebhookReceiver(handler=handler, queue_size=1) as rcv:
            decoy = ready_report(client)
            busy = notification(sim, client, decoy.id)
            assert post(rcv.url, busy) == 200  # taken by the worker, which waits at the gate
            assert wait_until(lambda: rcv.pending == 0)
            decoy2 = ready_report(client, "2024-03-03", "2024-03-03")
            assert post(rcv.url, notification(sim, client, decoy2.id)) == 200  # fills the queue
            report = client.request_report("2024-03-05", "2024-03-05", webhook=rcv.url)
            assert wait_until(lambda: sim.webhook_deliveries)
            assert sim.webhook_deliveries[0].status == 503
            gate.set()
            assert wait_until(lambda: len(rcv.outcomes) == 3) and rcv.wait_idle(10)
    assert [(d.attempt, d.status) for d in sim.webhook_deliveries][-1] == (2, 200)
    assert {o.report_id: o.action for o in rcv.outcomes} == {
        decoy.id: "stored",
        decoy2.id: "stored",
        report.id: "stored",
    }


# --------------------------------------------------------------------------- exactly once


def test_duplicate_and_concurrent_deliveries_are_processed_once(
    simulator: Simulator, api: Client, tmp_path: Path
) -> None:
    report = ready_report(api)
    body = notification(simulator, api, report.id)
    simulator.reset_requests()
    results: list[Any] = []

    def deliver() -> None:
        results.append(handle_notification(body, client=api, cache_dir=tmp_path))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(o.action for o in results) == ["duplicate"] * 5 + ["stored"]
    assert len([r for r in simulator.requests if r.server == "store"]) == 1
    assert len([r for r in simulator.requests if r.server == "api"]) == 1

    # more deliveries through the receiver, then a restarted receiver (memory forgotten)
    simulator.reset_requests()
    with WebhookReceiver(api, cache_dir=tmp_path) as rcv:
        assert [post(rcv.url, body) for _ in range(3)] == [200, 200, 200]
        assert rcv.wait_idle(10)
    # a receiver's own registry starts empty, as after a restart: only the files remain
    with WebhookReceiver(api, cache_dir=tmp_path, registry=Registry()) as rcv2:
        assert post(rcv2.url, body) == 200
        assert rcv2.wait_idle(10)
    assert {o.action for o in [*rcv.outcomes, *rcv2.outcomes]} == {"duplicate"}
    assert simulator.requests == []  # not even the API was asked again


def test_errors_record_nothing_so_a_redelivery_processes(
    simulator: Simulator, api: Client, tmp_path: Path
) -> None:
    report = ready_report(api)
    simulator.inject("expired_url", times=100, route="GET store")
    with pytest.raises(fy.DownloadError):
        handle_notification(report, client=api, cache_dir=tmp_path)
    simulator.clear_faults()
    assert handle_notification(report.id, client=api, cache_dir=tmp_path).action == "stored"


def test_pending_report_is_not_recorded(simulator: Simulator, api: Client, tmp_path: Path) -> None:
    simulator.inject("report_never_ready")
    report = api.request_report("2024-03-01", "2024-03-01")
    assert handle_notification(report, client=api, cache_dir=tmp_path).action == "pending"
    assert not (tmp_path / api.fingerprint / "_webhook" / f"{report.id}.json").exists()


def test_unknown_report_id_is_an_api_error(api: Client, tmp_path: Path) -> None:
    with pytest.raises(fy.NotFoundError):
        handle_notification(999_999_999, client=api, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="cache_dir"):
        handle_notification(1, client=api, cache_dir=None)
    with pytest.raises(ValueError, match="report_or_body"):
        handle_notification(-3, client=api, cache_dir=tmp_path)


# --------------------------------------------------------------------------- hostile input


class Trap(ThreadingHTTPServer):
    """A loopback server on another address that records any request it gets."""

    daemon_threads = True

    def __init__(self) -> None:
        self.hits: list[str] = []
        trap = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                trap.hits.append(self.path)
                self.send_error(418)

            do_POST = do_HEAD = do_GET

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.9", 0), Handler)


@pytest.fixture
def trap() -> Iterator[Trap]:
    server = Trap()
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address a socket of this process connects to during the test."""
    seen: list[Any] = []
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        seen.append(address)
        original(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def variant(base: bytes, **changes: Any) -> bytes:
    return json.dumps({**json.loads(base), **changes}).encode()


def test_hostile_bodies_are_refused_and_nothing_is_fetched(
    simulator: Simulator,
    api: Client,
    tmp_path: Path,
    trap: Trap,
    connections: list[Any],
) -> None:
    report = ready_report(api)
    ok = notification(simulator, api, report.id)
    trap_host, trap_port = trap.server_address[:2]
    store_host = urlsplit(simulator.store_url).hostname or ""
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    hostile = {
        "file": (variant(ok, url="file:///etc/passwd"), 422),
        "metadata": (variant(ok, url=metadata), 422),
        "another host": (variant(ok, url=f"http://{trap_host}:{trap_port}/x.gz"), 422),
        "oversized": (b'{"id": 1, "pad": "' + b"x" * 300_000 + b'"}', 413),
        "not json": (b"<xml>report</xml>", 400),
        "wrong types": (variant(ok, id=str(report.id)), 422),
        "not an object": (b"[" + ok + b"]", 422),
    }
    simulator.reset_requests()
    with WebhookReceiver(
        api, cache_dir=tmp_path, path_secret=SECRET, url_hosts=[store_host]
    ) as rcv:
        host, port = rcv.address
        for name, (data, status) in hostile.items():
            assert post(rcv.url, data) == status, name
        assert post(f"http://{host}:{port}/webhook/wrong-secret-0123456789", ok) == 404
        assert post(f"http://{host}:{port}/webhook", ok) == 404
        assert rcv.wait_idle(10)
        assert list(rcv.outcomes) == []
    assert trap.hits == []
    assert simulator.requests == []  # refused bodies cause no API call and no download
    assert all(ipaddress.ip_address(a[0]).is_loopback for a in connections)
    assert not PlaylogCache(tmp_path, api.fingerprint).entries()


def test_the_url_in_a_body_is_never_used(
    simulator: Simulator,
    api: Client,
    tmp_path: Path,
    trap: Trap,
    connections: list[Any],
) -> None:
    """Without a host allowlist, a body pointing at another host is accepted (200),
    but the file comes from the API's fresh URL on the real store; the trap gets nothing."""
    report = ready_report(api)
    trap_host, trap_port = trap.server_address[:2]
    evil = notification(simulator, api, report.id, url=f"http://{trap_host}:{trap_port}/x.gz")
    simulator.reset_requests()
    with WebhookReceiver(api, cache_dir=tmp_path) as rcv:
        assert post(rcv.url, evil) == 200
        assert wait_until(lambda: rcv.outcomes) and rcv.wait_idle(10)
    assert rcv.outcomes[0].action == "stored"
    assert trap.hits == []
    assert all(address[:2] != (trap_host, trap_port) for address in connections)
    calls = [(r.server, r.method, r.had_token) for r in simulator.requests]
    assert calls == [("api", "GET", True), ("store", "GET", False)]
    assert simulator.requests[0].path.endswith(f"reports/{report.id}")


def test_token_and_secret_never_logged(
    simulator: Simulator, api: Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3 and the simulator included
    simulator.inject("report_failed")
    with WebhookReceiver(api, cache_dir=tmp_path, path_secret=SECRET) as rcv:
        failed = api.request_report("2024-03-01", "2024-03-01", webhook=rcv.url)
        good = api.request_report("2024-03-02", "2024-03-02", webhook=rcv.url)
        assert wait_until(lambda: len(rcv.outcomes) == 2) and rcv.wait_idle(10)
        assert post(rcv.url, b"junk") == 400
        assert post(rcv.url, notification(simulator, api, good.id)) == 200
        assert rcv.wait_idle(10)
    assert {o.report_id: o.action for o in rcv.outcomes if o.action != "duplicate"} == {
        failed.id: "failed",
        good.id: "stored",
    }
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "webhook delivery from 127.0.0.1" in text
    assert simulator.token not in text
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("fouryousee_data.webhook")]
    assert ours and not any(SECRET in m or "X-Amz" in m or "?" in m for m in ours)


# --------------------------------------------------------------------------- the command


def test_serve_webhook_command_end_to_end(
    simulator: Simulator, api: Client, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    env = {
        **os.environ,
        "FOURYOUSEE_TOKEN": simulator.token,
        "FOURYOUSEE_API_URL": simulator.base_url,
        "FOURYOUSEE_WEBHOOK_SECRET": SECRET,
    }
    cmd = [sys.executable, "-m", "fouryousee_data", "serve-webhook", "--port", "0"]
    proc = subprocess.Popen(
        [*cmd, "--cache-dir", str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        for _ in range(10):  # the banner: a few lines, the URL among them
            line = proc.stdout.readline() if proc.stdout else ""
            lines.append(line)
            if not line or line.startswith("Ctrl-C"):
                break
        url = next(x.split(": ", 1)[1].strip() for x in lines if x.startswith("webhook URL"))
        assert url.startswith("http://127.0.0.1:") and url.endswith(f"/webhook/{SECRET}")
        report = api.request_report("2024-03-01", "2024-03-01", webhook=url)
        cache = PlaylogCache(tmp_path, api.fingerprint)
        assert wait_until(lambda: cache.entries(), timeout=20)
        assert [d.status for d in simulator.webhook_deliveries] == [200]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert "webhook receiver stopped" in out
    assert f"report {report.id} (success) -> 200 accepted" in err
    assert f"report {report.id} stored" in err
    assert "Traceback" not in err
    assert simulator.token not in out + err
    assert SECRET not in err  # printed once on stdout for the user, never logged


def test_serve_webhook_command_stops_on_sigterm(simulator: Simulator, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "FOURYOUSEE_TOKEN": simulator.token}
    env["FOURYOUSEE_API_URL"] = simulator.base_url
    env.pop("FOURYOUSEE_WEBHOOK_SECRET", None)
    cmd = [sys.executable, "-m", "fouryousee_data", "serve-webhook", "--port", "0"]
    proc = subprocess.Popen(
        [*cmd, "--cache-dir", str(tmp_path), "--public-url", "https://hooks.example.org"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() if proc.stdout else "" for _ in range(4)]
        assert "webhook URL to give 4YouSee: https://hooks.example.org/webhook\n" in lines
        assert any(line.startswith("note: no --path-secret") for line in lines)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert "webhook receiver stopped" in out and "Traceback" not in err


def test_serve_webhook_command_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fouryousee_data.cli import main

    monkeypatch.delenv("FOURYOUSEE_TOKEN", raising=False)
    assert main(["serve-webhook", "--port", "0"]) == 1
    assert "FOURYOUSEE_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("FOURYOUSEE_TOKEN", "t0k3n-value")
    monkeypatch.setenv("FOURYOUSEE_API_URL", "http://127.0.0.1:9/v1/")
    assert main(["serve-webhook", "--port", "0", "--path-secret", "short"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: path_secret") and "t0k3n-value" not in err
