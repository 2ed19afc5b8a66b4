"""Shared pytest fixtures.

``simulator``: a fresh, small, fast :class:`~fouryousee_data.simulator.Simulator`
per test (4 players, 8 medias, 12 plays per hour, time zone America/Sao_Paulo,
reports ready after 0.05 s, webhook retries scaled to ~0.1/0.5/1.6 s), its clock
frozen at :data:`FIXTURE_NOW` (2024-04-01 12:00 UTC), so March 2024 is complete
history and tests are deterministic.

Rate limit, time scaled: the simulators enforce the API's limit at :data:`PACE`
(10 ms instead of 1 s: ``rate_limit_interval``) and the clients here pace at the
same scale (``min_interval=PACE``). Every simulator a fixture started must end
the test with **zero** rate-limit violations (checked at teardown), unless it
was made with ``make_simulator(allow_violations=True)`` by a test that breaks
the limit on purpose. A bare ``Client(...)`` paces at the real 1 s: correct, slow.

``make_simulator``: a factory ``make_simulator(**overrides)`` for other
configurations; every simulator it starts is stopped after the test.

``client``: a :class:`~fouryousee_data.Client` of ``simulator`` with the default
retry policy (``paced_client(sim, **kw)`` for any simulator); ``api``: the same
with :data:`FAST_RETRY` (tiny backoffs, 4 tries) and a 5 s timeout, for tests
that provoke retries. ``fast_client(sim, **kw)`` builds such a client for any
simulator. ``ScaledTime``: a ``clock=``/``sleep=`` pair that records the sleeps
asked for and sleeps at most :data:`PACE` of each for real.

``playlog_frame``: the factory of playlog frames in the exact schema, built
without the parser (see :func:`make_playlog_frame`).

``s3_endpoint`` (session) / ``s3_bucket``: moto's S3 server on loopback and a fresh
bucket per test (AWS variables pointed at it); ``dask_cluster`` (session) /
``dask_client``: a ``distributed.LocalCluster`` with two worker processes.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests

from fouryousee_data.client import Client, RetryPolicy
from fouryousee_data.pacing import shared_pacer, uri_key
from fouryousee_data.schema import localize
from fouryousee_data.simulator import Simulator

#: The time zone of the test accounts (the simulator's and the inline frames').
TZ = "America/Sao_Paulo"

#: Four plays over two players, two medias and a day boundary, for inline-frame tests.
FOUR_PLAYS = [
    ("2024-01-01 10:00:00", 1, 7),
    ("2024-01-01 10:30:00", 1, 8),
    ("2024-01-03 23:59:59", 2, 7),
    ("2024-01-04 00:00:00", 2, 7),
]

#: The frozen simulated clock of the ``simulator`` fixture.
FIXTURE_NOW = dt.datetime(2024, 4, 1, 12, 0, 0, tzinfo=dt.UTC)

#: The rate limit's time scale in the suite: the simulators refuse a second request for
#: one URI within PACE seconds, the clients wait PACE between two (the real API: 1 s).
PACE = 0.01

#: The ``simulator`` fixture's configuration (``make_simulator`` starts from it).
SIMULATOR_DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "players": 4,
    "medias": 8,
    "tz": TZ,
    "plays_per_hour": 12,
    "report_delay": 0.05,
    "webhook_time_scale": 0.001,
    "now": FIXTURE_NOW,
    "page_size": 50,
    "rate_limit_interval": PACE,
}


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., Simulator]]:
    """Start simulators with ``SIMULATOR_DEFAULTS`` overridden; stopped after the test,
    which fails if one saw a rate-limit violation (``allow_violations=True``: may)."""
    started: list[tuple[Simulator, bool]] = []

    def make(*, allow_violations: bool = False, **overrides: Any) -> Simulator:
        sim = Simulator(**(SIMULATOR_DEFAULTS | overrides)).start()
        started.append((sim, allow_violations))
        return sim

    yield make
    for sim, _ in started:
        sim.stop()
    broken = [str(v) for sim, allowed in started if not allowed for v in sim.rate_limit_violations]
    assert not broken, f"rate limit broken {len(broken)} time(s): {broken[:5]}"


@pytest.fixture
def simulator(make_simulator: Callable[..., Simulator]) -> Simulator:
    """A fresh small simulator, started for the test and stopped after it."""
    return make_simulator()


@pytest.fixture
def client(simulator: Simulator) -> Iterator[Client]:
    """A :class:`~fouryousee_data.Client` for ``simulator`` (its token and base URL)."""
    with paced_client(simulator) as c:
        yield c


def paced_client(sim: Simulator, **kwargs: Any) -> Client:
    """A client of ``sim`` pacing at :data:`PACE` (``kwargs`` go to ``Client``)."""
    options = {"token": sim.token, "base_url": sim.base_url, "min_interval": PACE} | kwargs
    return Client(**options)


#: Retries for tests that provoke them: tiny backoffs, four tries of a request.
FAST_RETRY = RetryPolicy(backoff=0.01, backoff_max=0.05, attempts=4)


def fast_client(sim: Simulator, **kwargs: Any) -> Client:
    """A client of ``sim`` with :data:`FAST_RETRY`, a 5 s timeout and :data:`PACE`
    (``kwargs`` override)."""
    options: dict[str, Any] = {"timeout": 5.0, "retry": FAST_RETRY} | kwargs
    return paced_client(sim, **options)


def paced_request(method: str, url: str, **kwargs: Any) -> requests.Response:
    """``requests.request`` paced like a client at :data:`PACE` (for raw-HTTP tests of the
    simulator: same pacer as the clients, so they never break its rate limit)."""
    key = uri_key(method, url, kwargs.get("params"))
    with shared_pacer().slot(key, PACE, sleep=time.sleep):
        return requests.request(method, url, **kwargs)


class ScaledTime:
    """A ``clock=``/``sleep=`` pair for clients whose waits a test inspects.

    ``sleep(s)`` records ``s`` in :attr:`sleeps`, sleeps ``min(s, PACE)`` for real
    and moves :meth:`clock` on by all of ``s``: a test sees the waits the client
    asked for (a 7 s ``Retry-After``) without waiting them, while the simulator,
    on real time, still sees at least :data:`PACE` between two paced requests.
    """

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self._skipped = 0.0

    def clock(self) -> float:
        return time.monotonic() + self._skipped

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        real = min(seconds, PACE)
        time.sleep(real)
        self._skipped += seconds - real


@pytest.fixture
def api(simulator: Simulator) -> Iterator[Client]:
    """A fast-retrying :class:`~fouryousee_data.Client` of ``simulator`` (see ``fast_client``)."""
    with fast_client(simulator) as c:
        yield c


Row = tuple[str, int, int] | dict[str, Any]


def make_playlog_frame(rows: list[Row], tz: str | None = None) -> pd.DataFrame:
    """A playlog frame in the exact schema of SPEC section 3, built without the parser.

    A row is ``(played_at, player_id, media_id)`` (account ``"acme"``, type
    ``"I"``, no ip) or a report line as a dict (``date``, ``time``, ``playerId``,
    ``mediaId`` and optionally ``account``, ``type``, ``ip``).
    """
    lines = [_as_line(r) for r in rows]
    df = pd.DataFrame(
        {
            "played_at": pd.to_datetime(
                [f"{r['date']} {r['time']}" for r in lines], format="%Y-%m-%d %H:%M:%S"
            ).as_unit("s"),
            "account": pd.Categorical([r.get("account") for r in lines]),
            "player_id": np.array([r["playerId"] for r in lines], np.int32),
            "media_id": np.array([r["mediaId"] for r in lines], np.int32),
            "media_type": pd.Categorical([r.get("type") for r in lines]),
            "ip": pd.Categorical([r.get("ip") for r in lines]),
        }
    )
    if tz:
        df["played_at"] = localize(df["played_at"], tz)
    return df


def _as_line(row: Row) -> dict[str, Any]:
    if isinstance(row, dict):
        return row
    played_at, player_id, media_id = row
    stamp = pd.Timestamp(played_at)
    return {
        "date": stamp.strftime("%Y-%m-%d"),
        "time": stamp.strftime("%H:%M:%S"),
        "playerId": player_id,
        "mediaId": media_id,
        "account": "acme",
        "type": "I",
    }


@pytest.fixture(scope="session")
def playlog_frame() -> Callable[..., pd.DataFrame]:
    """:func:`make_playlog_frame`, as a fixture (session-scoped: fine under hypothesis)."""
    return make_playlog_frame


# -- scale: a real S3 endpoint on loopback and a real distributed cluster ------------------


@dataclass(frozen=True)
class S3Bucket:
    """A fresh bucket on the loopback S3 server: its URL prefix, and fsspec options."""

    url: str
    name: str
    endpoint: str
    storage_options: dict[str, Any]

    def client(self) -> Any:
        """A boto3 client of the server (to list and read objects in tests)."""
        import boto3

        return boto3.client("s3", **_S3_BOTO)


_S3_KEYS = {"key": "testing", "secret": "testing"}
_S3_BOTO: dict[str, Any] = {}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (a free port), for the session; never real AWS."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    _S3_BOTO.update(
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    yield endpoint
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A fresh bucket; the AWS variables point at the loopback server (so a stray call
    can never reach AWS), and ``storage_options`` say the same explicitly."""
    import boto3

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", **_S3_BOTO).create_bucket(Bucket=name)
    options = {**_S3_KEYS, "client_kwargs": {"endpoint_url": s3_endpoint}}
    return S3Bucket(f"s3://{name}/playlogs", name, s3_endpoint, options)


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Any]:
    """A real ``distributed.LocalCluster``: two worker processes, one thread each."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(QUIET_CLUSTER):  # read when the scheduler and workers start
        cluster = LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address="127.0.0.1:0"
        )
    with cluster:
        yield cluster


#: The session's cluster lives as long as its xdist worker but works in a few tests only:
#: no statistical profiler (it samples every worker thread every 10 ms, ~0.1 CPU-second a
#: second while idle) and slower housekeeping ticks and memory checks (the nannies' and
#: workers' every 100 ms: ~40% of what an idle cluster still costs). Nothing in the suite
#: reads profiles or comes near a memory limit. ``dask_environment`` gives the same
#: settings to clusters that other processes start (the notebooks').
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "1s",
    "distributed.admin.tick.interval": "200ms",
    "distributed.worker.memory.monitor-interval": "1s",
}


def dask_environment(config: dict[str, Any]) -> dict[str, str]:
    """Dask configuration as the ``DASK_*`` environment variables that set it in another
    process (``{"distributed.admin.tick.interval": "200ms"}`` ->
    ``{"DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "200ms"}``)."""
    return {
        "DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value)
        for key, value in config.items()
    }


@pytest.fixture
def dask_client(dask_cluster: Any) -> Iterator[Any]:
    """A ``distributed.Client`` of the cluster, active (the default) during the test."""
    from distributed import Client as DaskClient

    with DaskClient(dask_cluster) as c:
        yield c
