"""Slow clients against the webhook receiver, with real sockets: a request trickled a byte
at a time is cut at ``read_timeout`` in all (a total deadline), and trickling clients never
lock real deliveries out, not even when they hold every connection slot."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from fouryousee_data.report import Report
from fouryousee_data.webhook import WebhookReceiver

SECRET = "s3cr3t-path-segment-0123456789"
#: Seconds between two trickled bytes: far below every read_timeout used here.
TRICKLE = 0.05


def delivery(report_id: int) -> bytes:
    """A notification body, as 4YouSee sends it."""
    window = {"startDate": "2024-03-01", "startTime": "00:00:00"}
    window |= {"endDate": "2024-03-01", "endTime": "23:59:59"}
    report = {"id": report_id, "type": "detailed", "format": "json", "status": "success"}
    report |= {"url": None, "filter": window | {"mediaId": [], "playerId": [], "sort": -1}}
    return json.dumps(report).encode()


class Trickler:
    """A client that sends a request head, then one body byte every :data:`TRICKLE` s (never a
    long gap), until the server answers or drops it, or :meth:`close`."""

    def __init__(self, receiver: WebhookReceiver) -> None:
        host, port = receiver.address
        self.started = time.monotonic()
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.sendall(
            f"POST /webhook/{SECRET} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Length: 100000\r\n\r\n".encode()
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        while not self._stop.wait(TRICKLE):
            try:
                self.sock.sendall(b" ")
            except OSError:
                return

    def answer(self) -> tuple[bytes, float]:
        """What the server sent before closing (b"" if it dropped the connection), and the
        seconds since this client connected."""
        chunks = []
        try:
            while chunk := self.sock.recv(65536):
                chunks.append(chunk)
        except OSError:  # reset: dropped
            pass
        return b"".join(chunks), time.monotonic() - self.started

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.sock.close()


def status_of(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None


def wait_for_connections(receiver: WebhookReceiver, n: int) -> None:
    for _ in range(1000):  # bounded: ~10 s
        if receiver.open_connections == n:
            return
        time.sleep(0.01)
    raise AssertionError(f"{receiver.open_connections} open connections, expected {n}")


@pytest.fixture
def seen() -> list[Report]:
    return []


def receiver_with(seen: list[Report], read_timeout: float, max_connections: int) -> WebhookReceiver:
    return WebhookReceiver(
        handler=seen.append,
        path_secret=SECRET,
        read_timeout=read_timeout,
        max_connections=max_connections,
    )


@pytest.fixture
def tricklers() -> Iterator[list[Trickler]]:
    started: list[Trickler] = []
    yield started
    for t in started:
        t.close()


def test_trickling_clients_are_cut_at_the_deadline_while_deliveries_get_through(
    seen: list[Report], tricklers: list[Trickler]
) -> None:
    """Four clients trickle a byte every 0.05 s (never a 1 s gap) with read_timeout=1: each
    gets 408 about 1 s after it connected, and deliveries meanwhile are answered at once."""
    with receiver_with(seen, read_timeout=1.0, max_connections=8) as rcv:
        tricklers += [Trickler(rcv) for _ in range(4)]
        wait_for_connections(rcv, 4)
        for report_id in (1, 2, 3):
            answer = requests.post(rcv.url, data=delivery(report_id), timeout=10)
            assert answer.status_code == 200
        for t in tricklers:
            answer, seconds = t.answer()
            assert status_of(answer) == 408
            assert 1.0 <= seconds < 6.0  # the whole request: 1 s, not 1 s per byte
        assert rcv.wait_idle(10)
    assert [r.id for r in seen] == [1, 2, 3]


def test_trickling_clients_holding_every_slot_cannot_lock_deliveries_out(
    seen: list[Report], tricklers: list[Trickler]
) -> None:
    """Three trickling clients take all three connection slots (read_timeout=30, so their
    deadline is not what frees them): each delivery drops the one reading the longest."""
    with receiver_with(seen, read_timeout=30.0, max_connections=3) as rcv:
        for n in (1, 2, 3):
            tricklers.append(Trickler(rcv))
            wait_for_connections(rcv, n)  # connected in this order: the first is the oldest
        answer = requests.post(rcv.url, data=delivery(7), timeout=10)
        assert answer.status_code == 200
        dropped, seconds = tricklers[0].answer()
        assert dropped == b"" and seconds < 30.0  # dropped to make room, long before its deadline
        wait_for_connections(rcv, 2)  # the two younger tricklers are still connected
        tricklers.append(Trickler(rcv))  # a fourth fills the freed slot
        wait_for_connections(rcv, 3)
        assert requests.post(rcv.url, data=delivery(8), timeout=10).status_code == 200
        assert tricklers[1].answer()[0] == b""  # the oldest one now
        assert rcv.wait_idle(10)
    assert [r.id for r in seen] == [7, 8]
