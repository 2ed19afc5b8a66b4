"""The simulator against raw ``requests`` calls written from SPEC section 1."""

from __future__ import annotations

import gzip
import time

import requests

from fouryousee_data.simulator import Simulator

TIMEOUT = 5
WINDOW = {"startDate": "2024-03-04", "endDate": "2024-03-05"}


def _get(sim: Simulator, path: str, **kw: object) -> requests.Response:
    return requests.get(
        sim.base_url + path, headers={"Secret-Token": sim.token}, timeout=TIMEOUT, **kw
    )


def _post(sim: Simulator, body: object) -> requests.Response:
    return requests.post(
        sim.base_url + "reports", json=body, headers={"Secret-Token": sim.token}, timeout=TIMEOUT
    )


def _wait(sim: Simulator, rid: int) -> dict:
    for _ in range(400):
        obj = _get(sim, f"reports/{rid}").json()
        if obj["status"] in ("success", "failed"):
            return obj
        time.sleep(0.01)
    raise AssertionError(f"report {rid} never finished")


def test_report_round_trip(simulator: Simulator) -> None:
    created = _post(simulator, {"type": "detailed", "filter": WINDOW})
    assert created.status_code == 201
    obj = created.json()
    assert obj["status"] == "waiting" and obj["url"] is None
    assert obj["createdAt"] == "2024-04-01T12:00:00+00:00"
    ready = _wait(simulator, obj["id"])
    assert ready["status"] == "success"
    with requests.get(ready["url"], timeout=TIMEOUT) as r:
        assert r.status_code == 200
        lines = gzip.decompress(r.content).decode().splitlines()
    assert len(lines) == len(simulator.expected_rows(WINDOW)) > 0
