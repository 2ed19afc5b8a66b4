"""Pacing (one request per second per URI) and the simulator's rate limit, at the real 1 s.

Most of the suite runs both at 10 ms (``PACE`` in conftest); these tests run the documented
defaults, with few requests each.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import pytest
import requests

import fouryousee_data as fy
from conftest import PACE
from fouryousee_data.client import Client
from fouryousee_data.pacing import Pacer, check_interval, uri_key
from fouryousee_data.simulator import Simulator
from fouryousee_data.transport import RetryPolicy, Transport

REAL = 1.0  # the API's documented limit and both defaults


def real_simulator(make_simulator: Callable[..., Simulator], **kw: object) -> Simulator:
    sim = make_simulator(rate_limit_interval=REAL, **kw)
    assert sim.rate_limit_interval == Simulator().rate_limit_interval == REAL  # the default
    return sim


def default_client(sim: Simulator, **kw: object) -> Client:
    c = Client(token=sim.token, base_url=sim.base_url, **kw)  # type: ignore[arg-type]
    assert c.min_interval == REAL  # the default
    return c


# -- the pacer ---------------------------------------------------------------------------


def test_threads_take_turns_on_one_uri_and_keep_the_interval() -> None:
    pacer, interval = Pacer(), 0.05
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(3):
            with pacer.slot("GET http://h/x", interval, sleep=time.sleep):
                began = time.monotonic()
                time.sleep(0.002)  # the request
                with lock:
                    spans.append((began, time.monotonic()))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    spans.sort()
    assert len(spans) == 12
    # one at a time, and each starts at least the interval after the previous one's answer
    assert all(b[0] - a[1] >= interval for a, b in itertools.pairwise(spans))


def test_other_uris_and_a_first_request_never_wait() -> None:
    now, waits = [0.0], []
    pacer = Pacer(clock=lambda: now[0])
    for key in ("GET http://h/a", "GET http://h/a?page=2", "POST http://h/a", "GET http://g/a"):
        with pacer.slot(key, REAL, sleep=waits.append):
            pass
    assert waits == []
    now[0] = 0.4
    with pacer.slot("GET http://h/a", REAL, sleep=waits.append):
        pass
    assert waits == [pytest.approx(0.6)]


def test_uri_key_is_method_url_and_query() -> None:
    assert uri_key("get", "http://h/v1/reports", {"page": 1}) != uri_key(
        "get", "http://h/v1/reports", {"page": 2}
    )
    assert uri_key("GET", "http://h/v1/x") != uri_key("GET", "http://g/v1/x")
    with pytest.raises(ValueError, match="min_interval"):
        check_interval(-0.5)
    with pytest.raises(ValueError, match="min_interval"):
        Client(token="t", base_url="http://127.0.0.1:9/v1/", min_interval=float("nan"))


class _Answer:
    def __init__(self, status: int) -> None:
        self.status_code, self.headers = status, {}

    def close(self) -> None:
        pass


class _Session:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses

    def request(self, method: str, url: str, **options: object) -> _Answer:
        return _Answer(self.statuses.pop(0))


@pytest.mark.parametrize("backoff", [0.01, 0.5])
def test_429_without_retry_after_waits_at_least_a_second_growing(backoff: float) -> None:
    now, sleeps = [0.0], []

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    policy = RetryPolicy(attempts=4, backoff=backoff, backoff_max=30.0)
    t = Transport(
        _Session([429, 429, 429, 200]),  # type: ignore[arg-type]
        timeout=(1.0, 1.0),
        retry=policy,
        clock=lambda: now[0],
        sleep=sleep,
    )
    assert t.get("http://h/x", what="GET x").status_code == 200
    assert len(sleeps) == 3  # the pacer added nothing: each wait was already >= 1 s
    assert sleeps[0] >= 1.0 and sleeps[1] >= 2.0 and sleeps[2] >= 4.0


# -- the simulator's limit ---------------------------------------------------------------


def test_simulator_refuses_a_second_hit_within_a_second(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = real_simulator(make_simulator, allow_violations=True)
    headers = {"Secret-Token": sim.token}

    def get(path: str) -> requests.Response:
        return requests.get(sim.base_url + path, headers=headers, timeout=5)

    assert get("players").status_code == 200
    second = get("players")
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert second.json()["message"]
    assert get("players?page=1").status_code == 200  # another URI (its query differs)
    assert get("medias").status_code == 200
    [violation] = sim.rate_limit_violations
    assert (violation.server, violation.method, violation.uri) == ("api", "GET", "/v1/players")
    assert 0 <= violation.gap < REAL
    time.sleep(REAL + 0.05)
    assert get("players").status_code == 200
    assert len(sim.rate_limit_violations) == 1
    assert [r.fault for r in sim.requests].count("over_rate_limit") == 1


def test_store_refuses_a_second_hit_of_one_url(make_simulator: Callable[..., Simulator]) -> None:
    sim = real_simulator(make_simulator, allow_violations=True)
    with fy.Client(token=sim.token, base_url=sim.base_url) as c:
        ready = c.wait_for_report(c.request_report("2024-03-04", "2024-03-04"), poll_interval=0.1)
    assert requests.get(ready.url, timeout=5).status_code == 200  # type: ignore[arg-type]
    again = requests.get(ready.url, timeout=5)  # type: ignore[arg-type]
    assert again.status_code == 503 and b"SlowDown" in again.content
    [violation] = sim.rate_limit_violations
    assert violation.server == "store" and "X-Amz-Signature" not in violation.uri


# -- the client against it, at the real second -------------------------------------------


@pytest.mark.slow
def test_fetch_with_a_fast_poll_keeps_the_real_limit(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = real_simulator(make_simulator, report_delay=1.5)
    with default_client(sim) as c:
        df = fy.fetch_playlogs(
            "2024-02-01", "2024-03-31", client=c, cache_dir=None, poll_interval=0.1,
            max_concurrency=2, progress=False,
        )  # fmt: skip
    assert len(df) > 0 and len(df.attrs["report_ids"]) == 2
    polls = [r for r in sim.requests if r.method == "GET" and r.path.startswith("/reports/")]
    assert len(polls) >= 4  # polled, each report more than once: the pacer was exercised
    posts = [r for r in sim.requests if r.method == "POST"]
    assert len(posts) == 2  # one URI for both windows' threads: they took turns
    assert sim.rate_limit_violations == []  # checked again by the fixture


def test_two_clients_of_one_process_share_the_pacer(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = real_simulator(make_simulator)
    with default_client(sim) as a, default_client(sim) as b:
        assert len(a.players()) == len(b.players()) == len(sim.players)
        assert len(b.medias()) == len(a.medias())
    assert len(sim.requests) == 4 and sim.rate_limit_violations == []


def test_a_download_streamed_again_waits_for_its_url(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = real_simulator(make_simulator)
    with default_client(sim, retry=RetryPolicy(backoff=0.01, backoff_max=0.02)) as c:
        ready = c.wait_for_report(c.request_report("2024-03-04", "2024-03-04"), poll_interval=0.1)
        sim.inject("store_reset", route="GET store", after_bytes=100)
        assert c.download_table(ready).num_rows > 0
    store = [r for r in sim.requests if r.server == "store"]
    assert len(store) == 2 and store[0].query == store[1].query  # the same presigned URL
    assert sim.rate_limit_violations == []


def test_the_suite_scale_is_the_same_for_both_sides(simulator: Simulator, api: Client) -> None:
    assert simulator.rate_limit_interval == api.min_interval == PACE


def test_one_pacer_per_clock_process_wide() -> None:
    from conftest import ScaledTime
    from fouryousee_data.pacing import shared_pacer

    scaled = ScaledTime()
    a = Client(token="t", base_url="http://127.0.0.1:9/v1/", clock=scaled.clock)
    b = Client(token="u", base_url="http://127.0.0.1:9/v1/", clock=scaled.clock)
    assert shared_pacer(scaled.clock) is shared_pacer(scaled.clock)  # bound methods: one clock
    assert Client(token="t", base_url="http://127.0.0.1:9/v1/").min_interval == REAL
    for c in (a, b):
        c.close()
