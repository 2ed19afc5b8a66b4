"""Shared pytest fixtures.

``simulator``: a fresh, small, fast :class:`~fouryousee_data.simulator.Simulator`
per test (4 players, 8 medias, 12 plays per hour, time zone America/Sao_Paulo,
reports ready after 0.05 s, webhook retries scaled to ~0.1/0.4/1.1 s), its clock
frozen at :data:`FIXTURE_NOW` (2024-04-01 12:00 UTC), so March 2024 is complete
history and tests are deterministic.

``make_simulator``: a factory ``make_simulator(**overrides)`` for other
configurations; every simulator it starts is stopped after the test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fouryousee_data.client import Client
from fouryousee_data.simulator import Simulator

#: The frozen simulated clock of the ``simulator`` fixture.
FIXTURE_NOW = dt.datetime(2024, 4, 1, 12, 0, 0, tzinfo=dt.UTC)

#: The ``simulator`` fixture's configuration (``make_simulator`` starts from it).
SIMULATOR_DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "players": 4,
    "medias": 8,
    "tz": "America/Sao_Paulo",
    "plays_per_hour": 12,
    "report_delay": 0.05,
    "webhook_time_scale": 0.001,
    "now": FIXTURE_NOW,
    "page_size": 50,
}


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., Simulator]]:
    """Start simulators with ``SIMULATOR_DEFAULTS`` overridden; stopped after the test."""
    started: list[Simulator] = []

    def make(**overrides: Any) -> Simulator:
        sim = Simulator(**(SIMULATOR_DEFAULTS | overrides)).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(make_simulator: Callable[..., Simulator]) -> Simulator:
    """A fresh small simulator, started for the test and stopped after it."""
    return make_simulator()


@pytest.fixture
def client(simulator: Simulator) -> Iterator[Client]:
    """A :class:`~fouryousee_data.Client` for ``simulator`` (its token and base URL)."""
    with Client(token=simulator.token, base_url=simulator.base_url) as c:
        yield c
