"""Starting and stopping the simulator (fast, nothing leaks) and ``fouryousee-data simulate``."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from test_simulator import create, download, get, wait

from conftest import PACE
from fouryousee_data.cli import main
from fouryousee_data.simulator import Simulator


def sim_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fouryousee-sim")]


def refused(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parts.hostname or "", parts.port or 80)) != 0


def test_start_and_stop_are_fast_and_leave_nothing_behind() -> None:
    started = time.perf_counter()
    for seed in range(20):
        with Simulator(seed=seed, players=2, medias=3, report_delay=0.01) as sim:
            assert sim.base_url
    assert (time.perf_counter() - started) / 20 < 0.5  # prompt, with room for a loaded machine
    assert sim_threads() == []
    assert refused(sim.base_url) and refused(sim.store_url)


def test_stop_is_prompt_with_open_connections_and_pending_work(
    capfd: pytest.CaptureFixture[str],
) -> None:
    sim = Simulator(seed=0, players=2, medias=3, report_delay=60.0, now="2024-04-01").start()
    with requests.Session() as session:  # a keep-alive connection stays open on the server
        headers = {"Secret-Token": sim.token}
        assert session.get(sim.base_url + "players", headers=headers, timeout=5).ok
        create(sim)  # will not be ready before stop
        sim.inject("slow", delay=30.0)
        errors: list[BaseException] = []

        def call() -> None:
            try:
                session.get(sim.base_url + "medias", headers=headers, timeout=10)
            except requests.RequestException as exc:
                errors.append(exc)

        slow = threading.Thread(target=call)
        slow.start()
        time.sleep(0.1)
        began = time.monotonic()
        sim.stop()
        assert time.monotonic() - began < 1.0
        slow.join(5)
    assert len(errors) == 1  # dropped, not answered after stop
    assert sim_threads() == []
    sim.stop()  # idempotent
    assert "Traceback" not in capfd.readouterr().err  # no handler thread failed


def test_restart_is_refused_while_running(simulator: Simulator) -> None:
    with pytest.raises(RuntimeError):
        simulator.start()


def test_bad_arguments_are_value_errors() -> None:
    for kw in ({"players": 0}, {"page_size": 0}, {"report_delay": -1}, {"plays_per_hour": 0},
               {"store_bandwidth": 0}, {"token": " "}, {"now": "yesterday"}):  # fmt: skip
        with pytest.raises(ValueError):
            Simulator(**kw)  # type: ignore[arg-type]


def test_report_files_are_removed_on_stop(simulator: Simulator) -> None:
    wait(simulator, create(simulator)["id"])
    folder = simulator._tmp
    assert folder is not None and any(folder.iterdir())
    simulator.stop()
    assert not folder.exists()


def test_cli_simulate_prints_exports_and_serves(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--port", "0", "--seed", "3", "--players", "2", "--medias", "3",
            "--now", "2024-04-01T12:00:00Z", "--duration", "1.5"]  # fmt: skip
    status: list[int] = []
    thread = threading.Thread(target=lambda: status.append(main(argv)))
    thread.start()
    out = ""
    for _ in range(300):
        out += capsys.readouterr().out
        if "FOURYOUSEE_TOKEN=" in out:
            break
        time.sleep(0.01)
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in out.splitlines()
        if line.startswith("export ")
    )
    url, token = exports["FOURYOUSEE_API_URL"], exports["FOURYOUSEE_TOKEN"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1/")
    r = requests.get(url + "players", headers={"Secret-Token": token}, timeout=5)
    assert r.status_code == 200 and len(r.json()["results"]) == 2
    # the documented rate limit is on by default: the same URI again at once is refused
    again = requests.get(url + "players", headers={"Secret-Token": token}, timeout=5)
    assert again.status_code == 429 and "Retry-After" not in again.headers
    thread.join(10)
    assert status == [0]
    assert refused(url)


def test_cli_write_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.gz"
    argv = ["simulate", "--players", "2", "--now", "2024-04-01T00:00:00Z",
            "--start", "2024-03-04", "--end", "2024-03-04", "--write-report", str(out)]  # fmt: skip
    assert main(argv) == 0
    n = len(gzip.decompress(out.read_bytes()).splitlines())
    assert f"{n:,} playlogs" in capsys.readouterr().out
    assert main(["simulate", "--write-report", str(out)]) == 1
    assert "--start" in capsys.readouterr().err


def test_cli_simulate_port_in_use_is_one_line_error(
    simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    port = urlsplit(simulator.base_url).port
    assert main(["simulate", "--port", str(port), "--duration", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_served_file_matches_download_helper(simulator: Simulator) -> None:
    ready = wait(simulator, create(simulator)["id"])
    assert download(ready["url"]).content == download(get(simulator, "reports").json()[
        "results"][0]["url"]).content  # fmt: skip


def bindable(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def test_store_falls_back_to_localhost_when_127_0_0_2_is_taken() -> None:
    # The fallback binds 127.0.0.1 on the port 127.0.0.2 could not have. The port is held
    # on 127.0.0.1 too until the simulator starts, so that a parallel test's connection or
    # server cannot take it first; if one still does in that instant (127.0.0.1:port busy
    # after the failure), that is the machine's doing and another port is tried.
    for _ in range(5):
        with socket.socket() as held, socket.socket() as taken:
            held.bind(("127.0.0.1", 0))
            port = held.getsockname()[1]
            try:
                taken.bind(("127.0.0.2", port))
            except OSError:
                continue  # in use on 127.0.0.2 by someone else: another port
            taken.listen()
            held.close()
            try:
                sim = Simulator(
                    players=2, medias=3, report_delay=0.01, store_port=port,
                    rate_limit_interval=PACE,
                ).start()  # fmt: skip
            except OSError:
                if not bindable("127.0.0.1", port):
                    continue  # taken on 127.0.0.1 by another test in that instant
                pytest.fail("the store did not fall back to 127.0.0.1")
            try:
                assert sim.store_url == f"http://localhost:{port}/"
                ready = wait(sim, create(sim)["id"])
                assert ready["url"].startswith(sim.store_url)
                assert download(ready["url"]).status_code == 200
                assert sim.rate_limit_violations == []
            finally:
                sim.stop()
            return
    pytest.fail("no port was free on both 127.0.0.1 and 127.0.0.2 in five tries")


def test_cli_simulate_killed_with_sigterm_removes_its_report_files(tmp_path: Path) -> None:
    """A real process: SIGTERM stops it like Ctrl-C, and its report files leave $TMPDIR."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "fouryousee_data", "simulate", "--port", "0", "--players", "2",
           "--medias", "3", "--report-delay", "0.05", "--now", "2024-04-01T12:00:00Z"]  # fmt: skip
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    proc = subprocess.Popen(cmd, env=env, text=True, **pipes)  # type: ignore[call-overload]
    try:
        lines = [proc.stdout.readline() if proc.stdout else "" for _ in range(3)]
        exports = dict(
            line.strip().removeprefix("export ").split("=", 1)
            for line in lines
            if line.startswith("export ")
        )
        url, token = exports["FOURYOUSEE_API_URL"], exports["FOURYOUSEE_TOKEN"]
        body = {"type": "detailed", "filter": {"startDate": "2024-03-04", "endDate": "2024-03-04"}}
        headers = {"Secret-Token": token}
        rid = requests.post(url + "reports", json=body, headers=headers, timeout=5).json()["id"]
        for _ in range(20):  # the simulator's default rate limit is 1 s per URI: poll slower
            time.sleep(1.05)
            obj = requests.get(f"{url}reports/{rid}", headers=headers, timeout=5).json()
            if obj["status"] == "success":
                break
        assert obj["status"] == "success"
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert any(p.name == f"{rid}.gz" for p in files)  # the report file is in $TMPDIR
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert "simulator stopped" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing left behind
