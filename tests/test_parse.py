"""read_playlogs / read_table on small inline inputs: every case of issue 2."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import fouryousee_data as fy
from conftest import make_playlog_frame
from fouryousee_data.parse import ENGINES, Engine, _stream, read_playlogs, read_table
from fouryousee_data.parse._fast import BUILT
from fouryousee_data.schema import COLUMNS, PLAYLOG_SCHEMA, empty_playlogs, pandas_dtypes

ROW = {
    "account": "alfareiza-3385E2",
    "date": "2021-07-26",
    "time": "15:58:52",
    "playerId": 4,
    "mediaId": 48,
    "ip": "0.0.0.0",
    "type": "I",
}


def line(**changes: object) -> bytes:
    """One report line: ROW with changes (a value of ... drops the key)."""
    obj = {k: v for k, v in {**ROW, **changes}.items() if v is not ...}
    return json.dumps(obj, separators=(",", ":")).encode()


def lines(*items: bytes, end: bytes = b"\n") -> bytes:
    return b"".join(item + end for item in items)


def assert_rows(df: pd.DataFrame, rows: list[dict[str, Any]]) -> None:
    expected = make_playlog_frame([*rows])
    assert list(df.columns) == list(COLUMNS)
    assert dict(df.dtypes) == dict(expected.dtypes) | {
        c: df[c].dtype for c in ("account", "media_type", "ip")
    }
    for column in COLUMNS:
        assert plain(df[column]) == plain(expected[column]), column


def plain(series: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in series.tolist()]


def no_reader_threads() -> bool:
    return not any(t.name == "fouryousee-reader" for t in threading.enumerate())


# --------------------------------------------------------------------------- valid input


def test_one_line_gives_the_typed_row() -> None:
    df = read_playlogs(line() + b"\n")
    expected = make_playlog_frame([ROW])
    pd.testing.assert_frame_equal(df, expected, check_categorical=False)
    assert dict(df.dtypes) == {c: d for c, d in pandas_dtypes().items()} | {
        c: df[c].dtype for c in ("account", "media_type", "ip")
    }
    assert df["player_id"].dtype == np.int32 and df["played_at"].dtype == "datetime64[s]"


def test_key_order_unknown_keys_and_optional_keys() -> None:
    data = lines(
        b'{"type":"V","mediaId":7,"time":"00:00:00","playerId":1,"date":"2024-02-29"}',
        b'{"date":"2024-03-01","future":{"nested":[1,2,{"x":null}]},"time":"23:59:59",'
        b'"playerId":2,"mediaId":8,"account":null,"ip":null,"type":null,"extra":1.5e300}',
        b'{"playerId":-3,"mediaId":2147483647,"date":"1999-12-31","time":"12:00:00","x":NaN}',
    )
    assert_rows(
        read_playlogs(data),
        [
            {"date": "2024-02-29", "time": "00:00:00", "playerId": 1, "mediaId": 7, "type": "V"},
            {"date": "2024-03-01", "time": "23:59:59", "playerId": 2, "mediaId": 8},
            {"date": "1999-12-31", "time": "12:00:00", "playerId": -3, "mediaId": 2147483647},
        ],
    )


@pytest.mark.parametrize(
    "data",
    [
        lines(line(), line(playerId=5)),  # trailing newline
        line() + b"\n" + line(playerId=5),  # none
        lines(line(), line(playerId=5), end=b"\r\n"),  # CRLF
        b"\xef\xbb\xbf" + lines(line(), line(playerId=5)),  # UTF-8 BOM
        b"\n\n  \r\n" + line() + b"\n\n\t\n" + line(playerId=5) + b"\n\n",  # blank lines
        b"\xef\xbb\xbf\r\n" + lines(line(), line(playerId=5), end=b"\r\n\r\n"),
        b"  " + line() + b"  \n\t" + line(playerId=5) + b" \r\n",  # JSON whitespace around
    ],
)
def test_blank_lines_crlf_bom_are_fine(data: bytes) -> None:
    expected = [ROW, {**ROW, "playerId": 5}]
    assert_rows(read_playlogs(data), expected)
    assert_rows(read_playlogs(gzip.compress(data)), expected)


@pytest.mark.parametrize(
    "data", [b"", gzip.compress(b"", mtime=0), b" \n\r\n\t", b"\xef\xbb\xbf", b"\n"]
)
@pytest.mark.parametrize("tz", [None, "America/Sao_Paulo"])
def test_empty_input_gives_an_empty_frame_with_exact_dtypes(data: bytes, tz: str | None) -> None:
    df = read_playlogs(data, tz=tz)
    pd.testing.assert_frame_equal(df, empty_playlogs(tz))
    assert dict(df.dtypes) == pandas_dtypes(tz) | {
        c: df[c].dtype for c in ("account", "media_type", "ip")
    }
    assert read_table(data).schema == PLAYLOG_SCHEMA


def test_gzip_is_detected_by_content_not_by_name(tmp_path: Path) -> None:
    data = lines(line(), line(mediaId=9))
    looks_gz, looks_json = tmp_path / "report.gz", tmp_path / "report.json"
    looks_gz.write_bytes(data)
    looks_json.write_bytes(gzip.compress(data))
    for source in (looks_gz, str(looks_json)):
        assert_rows(read_playlogs(source), [ROW, {**ROW, "mediaId": 9}])


def test_multi_member_gzip_is_read_whole() -> None:
    data = gzip.compress(lines(line())) + gzip.compress(b"") + gzip.compress(line(playerId=2))
    assert_rows(read_playlogs(data), [ROW, {**ROW, "playerId": 2}])


class Trickle(io.RawIOBase):
    """A binary file object that hands out at most `step` bytes per read."""

    def __init__(self, data: bytes, step: int = 1) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._step if n < 0 else min(n, self._step)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


@pytest.mark.parametrize("compress", [False, True])
def test_sources_path_bytes_and_file_objects(tmp_path: Path, compress: bool) -> None:
    data = b"\xef\xbb\xbf" + lines(line(), line(time="00:00:01"))
    if compress:
        data = gzip.compress(data[:40]) + gzip.compress(data[40:])
    path = tmp_path / "r"
    path.write_bytes(data)
    expected = read_playlogs(data)
    for source in (
        str(path),
        path,
        bytearray(data),
        memoryview(data),
        io.BytesIO(data),
        Trickle(data, 1),
        Trickle(data, 7),
    ):
        pd.testing.assert_frame_equal(read_playlogs(source), expected)
    assert len(expected) == 2


def test_many_blocks_share_one_dictionary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_stream, "BLOCK_SIZE", 300)
    monkeypatch.setattr(_stream, "PIECE_SIZE", 100)
    rows = [
        {**ROW, "playerId": i, "ip": f"10.0.0.{i % 7}", "type": [None, "I", "V"][i % 3]}
        for i in range(200)
    ]
    data = gzip.compress(lines(*(json.dumps(r).encode() for r in rows)))
    table = read_table(data)
    assert table.schema == PLAYLOG_SCHEMA
    for name in ("account", "media_type", "ip"):
        assert table.column(name).num_chunks == 1
    assert table.column("ip").chunk(0).dictionary.to_pylist() == [f"10.0.0.{i}" for i in range(7)]
    assert_rows(read_playlogs(data), rows)


def test_on_progress_counts_every_source_byte_and_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_stream, "BLOCK_SIZE", 500)
    monkeypatch.setattr(_stream, "PIECE_SIZE", 200)
    data = gzip.compress(lines(*(line(playerId=i) for i in range(100))))
    calls: list[tuple[int, int]] = []
    read_table(data, on_progress=lambda n_bytes, n_rows: calls.append((n_bytes, n_rows)))
    assert len(calls) > 3
    assert sum(c[0] for c in calls) == len(data)
    assert sum(c[1] for c in calls) == 100


def test_tz_localizes_deliberately_around_dst() -> None:
    # Sao Paulo: 2018-11-04 00:30 did not exist (clocks 00:00 -> 01:00);
    # 2019-02-16 23:30 happened twice (clocks 00:00 -> 23:00).
    data = lines(
        line(date="2018-11-04", time="00:30:00"),
        line(date="2019-02-16", time="23:30:00"),
        line(date="2024-07-01", time="12:00:00"),
    )
    played = read_playlogs(data, tz="America/Sao_Paulo")["played_at"]
    assert str(played.dtype) == "datetime64[s, America/Sao_Paulo]"
    assert [str(t) for t in played] == [
        "2018-11-04 01:00:00-02:00",  # shifted forward past the gap
        "2019-02-16 23:30:00-02:00",  # first occurrence (daylight time)
        "2024-07-01 12:00:00-03:00",
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_gives_the_same_frame(engine: Engine) -> None:
    data = lines(
        line(),
        line(account="çà🙂", ip="::1", type=None),
        line(account=..., date="2000-02-29", time="00:00:00", playerId=-2147483648),
        b'{"date":"2021-07-26","time":"15:58:52","playerId":1,"mediaId":2,"x":"\xff"}',
    )
    if engine == "c" and not BUILT:
        pytest.skip("the C scanner is not built")
    df = read_playlogs(data, engine=engine)
    pd.testing.assert_frame_equal(df, read_playlogs(data, engine="careful"))
    pd.testing.assert_frame_equal(df, read_playlogs(data))


@pytest.mark.parametrize(
    ("cpus", "engine", "most"), [(2, "auto", 1), (2, "arrow", 2), (4, "auto", 3)]
)
def test_worker_threads_leave_the_reader_a_core_with_the_c_scanner(
    monkeypatch: pytest.MonkeyPatch, cpus: int, engine: Engine, most: int
) -> None:
    # The C scanner's blocks cost about what gunzipping them does: one worker fewer
    # than CPUs (the reader thread keeps one); Arrow's blocks cost more: one per CPU.
    monkeypatch.setattr(_stream, "BLOCK_SIZE", 300)
    monkeypatch.setattr(_stream, "PIECE_SIZE", 100)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    if not BUILT:
        most = min(cpus, 4)
    rows = [{**ROW, "playerId": i, "ip": f"10.0.0.{i % 7}"} for i in range(300)]
    data = gzip.compress(lines(*(json.dumps(r).encode() for r in rows)))
    seen: set[str] = set()

    def progress(n_bytes: int, n_rows: int) -> None:
        seen.update(t.name for t in threading.enumerate() if "fouryousee-parser" in t.name)

    table = read_table(data, engine=engine, on_progress=progress)
    assert 1 <= len(seen) <= most
    assert table.equals(read_table(data, engine="careful"))
    assert_rows(fy.schema.to_pandas(table), rows)


def test_engine_careful_takes_every_block_line_by_line(caplog: pytest.LogCaptureFixture) -> None:
    data = lines(line(), line(playerId=5))
    with caplog.at_level(logging.DEBUG, logger="fouryousee_data.parse"):
        read_table(data)
        assert "line by line" not in caplog.text  # a fast engine vouched for the block
        read_table(data, engine="careful")
    assert "lines 1+: parsed line by line" in caplog.text


def test_an_unknown_engine_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="engine must be one of 'auto', 'c', 'arrow', 'careful'"):
        read_table(line(), engine="fast")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- invalid lines

BAD_LINES = [
    (b'{"date":"2021-07-26","time":"15:58:52","playerId":4,', "not valid JSON"),
    (b"{'date': '2021-07-26'}", "not valid JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'"just a string"', "not a JSON object"),
    (line(date=...), "missing 'date'"),
    (line(time=...), "missing 'time'"),
    (line(playerId=...), "missing 'playerId'"),
    (line(mediaId=...), "missing 'mediaId'"),
    (line(date=None), "missing 'date'"),
    (line(mediaId=None), "missing 'mediaId'"),
    (line(date="2024-02-30"), "impossible date"),
    (line(date="2023-02-29"), "impossible date"),
    (line(date="2024-13-01"), "impossible date"),
    (line(date="0000-01-01"), "impossible date"),
    (line(date="2024-1-01"), "YYYY-MM-DD"),
    (line(date="2024-01-01T10"), "YYYY-MM-DD"),
    (line(date="2024/01/01"), "YYYY-MM-DD"),
    (line(date=20240101), "YYYY-MM-DD"),
    (line(time="25:00:00"), "impossible time"),
    (line(time="23:60:00"), "impossible time"),
    (line(time="23:59:60"), "impossible time"),
    (line(time="9:00:00"), "HH:MM:SS"),
    (line(time="09:00:00.5"), "HH:MM:SS"),
    (line(time="09-00-00"), "HH:MM:SS"),
    (line(playerId="4"), "must be an integer"),
    (line(playerId=4.5), "must be an integer"),
    (line(playerId=4.0), "must be an integer"),
    (line(playerId=True), "must be an integer"),
    (line(mediaId=2**31), "int32"),
    (line(mediaId=-(2**31) - 1), "int32"),
    (line(account=123), "must be a string or null"),
    (line(ip=["0.0.0.0"]), "must be a string or null"),
    (line(type=True), "must be a string or null"),
    (line()[:-1] + b',"account":"\xff"}', "not valid UTF-8"),
    (line() + b" " + line(), "not valid JSON"),  # two objects on one line
    (line()[:-1] + b",\n" + line()[1:], "not valid JSON"),  # one object over two lines
    (b"}", "not valid JSON"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_LINES)
def test_invalid_line_names_its_number_and_starts(bad: bytes, message: str) -> None:
    data = lines(line(), b"", line(playerId=7), bad, line())
    for source in (data, gzip.compress(data)):
        with pytest.raises(fy.InvalidPlaylogError, match=message) as info:
            read_playlogs(source)
        assert info.value.line_number == 4  # blank lines count
        assert info.value.excerpt and bad[:10].decode("utf-8", "replace") in info.value.excerpt
        assert "line 4" in str(info.value)
    assert no_reader_threads()


def test_first_bad_line_found_deep_in_a_long_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_stream, "BLOCK_SIZE", 1000)
    good = [line(playerId=i) for i in range(500)]
    data = lines(*good[:321], b"", line(time="24:00:00"), *good[321:], b"{oops}")
    with pytest.raises(fy.InvalidPlaylogError) as info:
        read_playlogs(gzip.compress(data))
    assert info.value.line_number == 323


def test_a_line_of_only_an_object_start_is_invalid_not_corrupt() -> None:
    with pytest.raises(fy.InvalidPlaylogError) as info:
        read_playlogs(b'{"message": "Internal error"}\n')
    assert info.value.line_number == 1


# --------------------------------------------------------------------------- corrupt files


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>403 Forbidden</body></html>",
        b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>',
        b"\n\n  <!DOCTYPE html>",
        b"\r\n" * 300_000 + b"<html>",  # the first pieces are all blank
        b"\xef\xbb\xbfnot json",
        b"\x00\x01\x02\x03binary",
        b"\x1f",
        b"[" + line() + b"]",
    ],
)
def test_a_body_that_is_not_ndjson_is_corrupt(body: bytes) -> None:
    with pytest.raises(fy.CorruptReportError, match="not NDJSON"):
        read_playlogs(body)
    with pytest.raises(fy.CorruptReportError, match="not NDJSON"):
        read_playlogs(gzip.compress(body))


def test_truncated_gzip_is_corrupt_at_every_cut() -> None:
    whole = gzip.compress(lines(*(line(playerId=i) for i in range(50))))
    for cut in range(2, len(whole)):
        with pytest.raises(fy.CorruptReportError):
            read_playlogs(whole[:cut])
    assert no_reader_threads()


def test_bad_crc_and_bad_length_are_corrupt() -> None:
    whole = bytearray(gzip.compress(lines(line(), line())))
    for position in (-8, -1):  # CRC32, then ISIZE
        bad = bytearray(whole)
        bad[position] ^= 0x40
        with pytest.raises(fy.CorruptReportError, match="corrupt"):
            read_playlogs(bytes(bad))


@pytest.mark.parametrize("tail", [b"junk", b"\x00\x00", b"\x1f", b"\x1f\x8b"])
def test_bytes_after_the_gzip_stream_are_corrupt(tail: bytes) -> None:
    with pytest.raises(fy.CorruptReportError):
        read_playlogs(gzip.compress(lines(line())) + tail)


def test_line_length_ceiling() -> None:
    ok = lines(line(), line())
    assert len(read_playlogs(ok, max_line_bytes=len(line()))) == 2
    with pytest.raises(fy.CorruptReportError, match="line 2 is longer than"):
        read_playlogs(lines(line(), line(account="x" * 50)), max_line_bytes=len(line()) + 10)
    # A line without any newline, as a stream: stops at the ceiling, not at the end.
    endless = Trickle(b"{" + b" " * 10_000_000, 300_000)
    with pytest.raises(fy.CorruptReportError, match="longer than"):
        read_playlogs(endless, max_line_bytes=1_000_000)
    assert endless._pos < 9_000_000


def test_decompressed_size_ceiling_stops_a_gzip_bomb() -> None:
    bomb = gzip.compress(b"\n" * 50_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    with pytest.raises(fy.CorruptReportError, match="max_decompressed_bytes"):
        read_playlogs(bomb, max_decompressed_bytes=10_000_000)
    with pytest.raises(fy.CorruptReportError, match="max_decompressed_bytes"):
        read_playlogs(lines(line(), line()), max_decompressed_bytes=100)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"max_line_bytes": 0}, "max_line_bytes"),
        ({"max_decompressed_bytes": -1}, "max_decompressed"),
    ],
)
def test_bad_arguments_are_value_errors(kwargs: dict[str, int], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        read_playlogs(b"", **kwargs)  # type: ignore[arg-type]


def test_bad_source_types() -> None:
    with pytest.raises(ValueError, match="source"):
        read_playlogs(12)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="binary mode"):
        read_playlogs(io.StringIO(line().decode()))
    with pytest.raises(FileNotFoundError):
        read_playlogs("/nonexistent/report.gz")


# --------------------------------------------------------------------------- the reader thread


class Failing(io.RawIOBase):
    """Serves `data`, then raises `error` (a dropped connection)."""

    def __init__(self, data: bytes, error: BaseException) -> None:
        self._inner, self.error = io.BytesIO(data), error

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        chunk = self._inner.read(min(n, 1000))
        if not chunk:
            raise self.error
        return chunk


@pytest.mark.parametrize("compress", [False, True])
def test_source_errors_propagate_unchanged(compress: bool) -> None:
    data = lines(*(line(playerId=i) for i in range(200)))
    if compress:
        data = gzip.compress(data)
    error = ConnectionResetError(104, "Connection reset by peer")
    with pytest.raises(ConnectionResetError) as info:
        read_playlogs(Failing(data[: len(data) // 2], error))
    assert info.value is error
    assert no_reader_threads()


def test_reading_overlaps_parsing_and_stops_on_a_bad_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_stream, "BLOCK_SIZE", 2000)
    reads: list[int] = []

    class Counting(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            reads.append(self.tell())
            return super().read(min(n or 1000, 1000))

    data = lines(b"{broken", *(line(playerId=i) for i in range(20_000)))
    with pytest.raises(fy.InvalidPlaylogError):
        read_playlogs(Counting(data))
    assert no_reader_threads()
    # The reader ran ahead of the parser, but only a bounded amount.
    assert len(reads) > 1 and reads[-1] < len(data) // 2


def test_arrow_table_round_trips_through_to_pandas() -> None:
    data = lines(line(), line(ip=None))
    table = read_table(data)
    assert isinstance(table, pa.Table) and table.schema == PLAYLOG_SCHEMA
    pd.testing.assert_frame_equal(fy.schema.to_pandas(table), read_playlogs(data))
    assert table.num_rows == 2  # to_pandas left the table usable


def test_the_frame_is_an_ordinary_writable_frame() -> None:
    df = read_playlogs(gzip.compress(lines(line(), line(playerId=5))))
    df.loc[0, "player_id"] = 9
    df["media_id"] += 1
    df.iloc[1, 0] = pd.Timestamp("2020-01-01")
    assert df["player_id"].tolist() == [9, 5] and df["media_id"].tolist() == [49, 49]
    assert df["played_at"].tolist()[1] == pd.Timestamp("2020-01-01")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork: POSIX only")
def test_the_frame_is_not_shared_with_a_forked_child() -> None:
    # The frame's columns are the parser's memory mappings: private ones (a shared
    # one would let a forked worker's writes show in its parent's frame).
    df = read_playlogs(gzip.compress(lines(line(), line(playerId=5))))
    pid = os.fork()
    if pid == 0:  # the child: write, leave at once (no pytest teardown)
        df.iloc[0, df.columns.get_loc("player_id")] = 77
        df.iloc[1, 0] = pd.Timestamp("2020-01-01")
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert df["player_id"].tolist() == [4, 5]
    assert df["played_at"].tolist()[1] != pd.Timestamp("2020-01-01")


# --------------------------------------------------------------------------- the stream pieces


def test_gzip_decoder_reads_every_member_fed_byte_by_byte() -> None:
    data = gzip.compress(b"ab\n") + gzip.compress(b"") + gzip.compress(b"cd\n")
    decoder = _stream.GzipDecoder()
    text = b"".join(piece for i in range(len(data)) for piece in decoder.decode(data[i : i + 1]))
    assert text + b"".join(decoder.flush()) == b"ab\ncd\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (gzip.compress(b"ab", mtime=0)[:-1], "truncated"),
        (gzip.compress(b"ab", mtime=0) + b"\x1f", "after the end"),
    ],
)
def test_gzip_decoder_flush_refuses_a_cut_stream_or_a_stray_byte(data: bytes, message: str) -> None:
    decoder = _stream.GzipDecoder()
    assert b"".join(decoder.decode(data)) in (b"", b"ab")
    with pytest.raises(fy.CorruptReportError, match=message):
        list(decoder.flush())


def test_bom_stripper_drops_a_bom_split_over_pieces_and_only_at_the_start() -> None:
    bom = _stream.BomStripper()
    pieces = [b"\xef", b"\xbb", b"\xbf{", b"\xef\xbb\xbf"]
    assert [bom.decode(piece) for piece in pieces] == [b"", b"", b"{", b"\xef\xbb\xbf"]
    half = _stream.BomStripper()
    assert half.decode(b"\xef\xbb") == b"" and half.flush() == b"\xef\xbb"


def test_line_blocks_cut_after_the_last_newline_and_bound_a_line() -> None:
    cutter = _stream.LineBlocks(max_line=10, block_size=4)
    assert cutter.decode(b"ab") is None
    assert b"".join(cutter.decode(b"\ncd\nef") or [b"-"]) == b"ab\ncd\n"
    assert b"".join(cutter.flush()) == b"ef\n"
    # a block is the pieces it is made of, not joined; a piece without '\n' waits whole
    cutter = _stream.LineBlocks(max_line=10, block_size=4)
    assert cutter.decode(b"abcd") is None and cutter.decode(b"ef") is None
    block = cutter.decode(b"g\nhi\njk")
    assert block is not None and [bytes(part) for part in block] == [b"abcd", b"ef", b"g\nhi\n"]
    assert cutter.decode(b"lmnopqr") is None  # "jk" + 7: 9 bytes, no line end yet
    with pytest.raises(fy.CorruptReportError, match="longer than 10 bytes"):
        cutter.decode(b"stuvw")  # 14 bytes pending, none a line end
    with pytest.raises(fy.CorruptReportError, match="longer than 3 bytes"):
        _stream.LineBlocks(max_line=3, block_size=4).decode(b"abcdef")
