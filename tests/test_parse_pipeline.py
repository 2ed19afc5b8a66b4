"""The parse pipeline's threads: the reader helps parse while its queue is full."""

from __future__ import annotations

import gzip
import json
import threading
from typing import Any

import pytest

import fouryousee_data as fy
from fouryousee_data.parse import _engine, _stream, read_playlogs, read_table

ROW = {"date": "2024-03-01", "time": "08:00:05", "playerId": 4, "mediaId": 48, "ip": "10.0.0.1"}
WAIT = 30.0  # seconds: a generous bound on an event that comes at once when all is well


def report(n: int) -> bytes:
    rows = (json.dumps({**ROW, "playerId": i, "ip": f"10.0.{i % 5}.{i % 7}"}) for i in range(n))
    return gzip.compress("".join(r + "\n" for r in rows).encode())


def pipeline_threads() -> list[str]:
    names = ("fouryousee-reader", "fouryousee-parser")
    return [t.name for t in threading.enumerate() if t.name.startswith(names)]


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_stream, "BLOCK_SIZE", 400)
    monkeypatch.setattr(_stream, "PIECE_SIZE", 150)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("engine", ["auto", "arrow", "careful"])
def test_the_reader_parses_blocks_while_its_queue_is_full(
    monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    # The workers wait until the reader has parsed a block: the read can only end
    # (before WAIT per block) if the reader helps, and the rows stay in file order.
    parse = _engine.BlockParser.__call__
    helped = threading.Event()
    where: list[str] = []

    def watched(self: _engine.BlockParser, parts: list[Any]) -> Any:
        name = threading.current_thread().name
        where.append(name)
        if name == "fouryousee-reader":
            helped.set()
        else:
            assert helped.wait(WAIT), "the reader never helped"
        return parse(self, parts)

    monkeypatch.setattr(_engine.BlockParser, "__call__", watched)
    data = report(300)
    table = read_table(data, engine=engine)  # type: ignore[arg-type]
    assert "fouryousee-reader" in where and any(n.startswith("fouryousee-parser") for n in where)
    monkeypatch.setattr(_engine.BlockParser, "__call__", parse)
    assert table.equals(read_table(data, engine="careful"))
    assert table.column("player_id").to_pylist() == list(range(300))
    assert not pipeline_threads()


class Boom(Exception):
    pass


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("thread", ["fouryousee-reader", "fouryousee-parser"])
def test_an_error_while_parsing_reaches_the_caller_whichever_thread_parsed(
    monkeypatch: pytest.MonkeyPatch, thread: str
) -> None:
    # The workers wait until the reader has parsed a block (as above); the first block
    # the named thread parses after that raises.
    parse = _engine.BlockParser.__call__
    helped = threading.Event()

    def failing(self: _engine.BlockParser, parts: list[Any]) -> Any:
        name = threading.current_thread().name
        if name == "fouryousee-reader":
            helped.set()
        else:
            assert helped.wait(WAIT), "the reader never helped"
        if name.startswith(thread):
            raise Boom("parse failed")
        return parse(self, parts)

    monkeypatch.setattr(_engine.BlockParser, "__call__", failing)
    with pytest.raises(Boom, match="parse failed"):
        read_playlogs(report(300))
    assert not pipeline_threads()


@pytest.mark.usefixtures("small_blocks")
def test_a_bad_line_stops_every_thread_of_the_read() -> None:
    good = [json.dumps({**ROW, "playerId": i}).encode() for i in range(2000)]
    data = b"\n".join([*good[:1000], b'{"date":"2024-03-01"', *good[1000:]]) + b"\n"
    with pytest.raises(fy.InvalidPlaylogError) as info:
        read_playlogs(gzip.compress(data))
    assert info.value.line_number == 1001
    assert not pipeline_threads()


def test_an_abandoned_batch_read_leaves_no_thread(small_blocks: None) -> None:
    class Enough(Exception):
        pass

    def emit(batch: Any) -> None:
        raise Enough

    with pytest.raises(Enough):
        fy.parse.read_batches(report(2000), emit)
    assert not pipeline_threads()
