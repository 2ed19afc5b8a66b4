"""Property tests: random valid reports round-trip exactly; corruption never passes silently."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fouryousee_data as fy
from fouryousee_data.parse import ENGINES, Engine, _stream, read_playlogs
from fouryousee_data.parse._fast import BUILT, SIMD_LEVELS, use_simd

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
optional_text = st.none() | st.text(max_size=12) | st.sampled_from(["I", "V", "0.0.0.0"])
KNOWN = {"date", "time", "playerId", "mediaId", "account", "ip", "type"}


@st.composite
def playlogs(draw: st.DrawFn) -> dict[str, Any]:
    when = draw(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)))
    obj: dict[str, Any] = {
        "date": f"{when.year:04d}-{when.month:02d}-{when.day:02d}",
        "time": when.strftime("%H:%M:%S"),
        "playerId": draw(st.integers(-(2**31), 2**31 - 1)),
        "mediaId": draw(st.integers(-(2**31), 2**31 - 1)),
    }
    usual = draw(st.booleans())  # the seven keys, nothing else: the scanner's SIMD path
    for key in ("account", "ip", "type"):
        if usual or draw(st.booleans()):
            obj[key] = draw(optional_text)
    if not usual:
        extra = draw(st.dictionaries(st.text(max_size=6), json_values, max_size=2))
        obj.update({k: v for k, v in extra.items() if k not in KNOWN})
    keys = draw(st.permutations(list(obj)))
    return {key: obj[key] for key in keys}


@st.composite
def reports(draw: st.DrawFn) -> tuple[list[dict[str, Any]], bytes]:
    """(rows, the NDJSON text) with random formatting."""
    rows = draw(st.lists(playlogs(), max_size=25))
    newline = draw(st.sampled_from([b"\n", b"\r\n"]))
    ascii_only = draw(st.booleans())
    compact = draw(st.booleans())
    parts = [b"\xef\xbb\xbf"] if draw(st.booleans()) else []
    for row in rows:
        if draw(st.integers(0, 9)) == 0:
            parts.append(draw(st.sampled_from([b"", b" ", b"\t", b"\r"])) + newline)
        separators = (",", ":") if compact else (", ", ": ")
        parts.append(json.dumps(row, ensure_ascii=ascii_only, separators=separators).encode())
        parts.append(newline)
    if parts and parts[-1] == newline and draw(st.booleans()):
        parts.pop()  # no trailing newline
    return rows, b"".join(parts)


def expected_frame(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """What the frame must hold, built without the parser."""
    return {
        "played_at": [pd.Timestamp(f"{r['date']}T{r['time']}") for r in rows],
        "account": [r.get("account") for r in rows],
        "player_id": [r["playerId"] for r in rows],
        "media_id": [r["mediaId"] for r in rows],
        "media_type": [r.get("type") for r in rows],
        "ip": [r.get("ip") for r in rows],
    }


def as_lists(df: pd.DataFrame) -> dict[str, list[Any]]:
    return {c: [None if pd.isna(v) else v for v in df[c].tolist()] for c in df.columns}


def gzipped(data: bytes, members: int) -> bytes:
    size = len(data) // members + 1
    return b"".join(gzip.compress(data[i : i + size]) for i in range(0, len(data), size)) or (
        gzip.compress(b"")
    )


#: The C scanner's SIMD levels (its portable path "none" included), drawn per example.
simd_levels = st.sampled_from(SIMD_LEVELS) if SIMD_LEVELS else st.just(None)


@contextmanager
def simd(level: str | None) -> Iterator[None]:
    """The C scanner at this SIMD level (None: nothing to choose, it is not built)."""
    before = use_simd(level) if level else None
    try:
        yield
    finally:
        if before:
            use_simd(before)


@contextmanager
def small_blocks(block: int, piece: int) -> Iterator[None]:
    """Force many blocks and pieces so boundaries fall everywhere."""
    with (
        mock.patch.object(_stream, "BLOCK_SIZE", block),
        mock.patch.object(_stream, "PIECE_SIZE", piece),
    ):
        yield


@SETTINGS
@given(
    report=reports(),
    compress=st.booleans(),
    members=st.integers(1, 3),
    block=st.sampled_from([64, 512, 4 * 1024 * 1024]),
    piece=st.sampled_from([1, 7, 1024 * 1024]),
    engine=st.sampled_from([e for e in ENGINES if BUILT or e != "c"]),
    level=simd_levels,
)
def test_valid_reports_round_trip_exactly(
    report: tuple[list[dict[str, Any]], bytes],
    compress: bool,
    members: int,
    block: int,
    piece: int,
    engine: Engine,
    level: str | None,
) -> None:
    rows, data = report
    source = gzipped(data, members) if compress else data
    with small_blocks(block, piece), simd(level):  # every engine: the very same frame
        df = read_playlogs(source, engine=engine)
    assert list(df.columns) == list(fy.schema.COLUMNS)
    assert str(df["played_at"].dtype) == "datetime64[s]"
    assert df["player_id"].dtype == "int32" and df["media_id"].dtype == "int32"
    assert as_lists(df) == expected_frame(rows)


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}\Z")


def is_valid_playlog(line: bytes) -> bool:
    """An independent, simple statement of what a valid line is.

    Bytes that are not UTF-8 only matter in the values that are kept.
    """
    try:
        obj = json.loads(line.decode("utf-8", "surrogateescape"))
        if not isinstance(obj, dict):
            return False
        dt.datetime.strptime(f"{obj['date']} {obj['time']}", "%Y-%m-%d %H:%M:%S")
    except (ValueError, KeyError, TypeError, RecursionError):
        return False
    if not (_DATE.match(obj["date"]) and _TIME.match(obj["time"])):
        return False
    ids = [obj.get("playerId"), obj.get("mediaId")]
    if not all(type(v) is int and -(2**31) <= v < 2**31 for v in ids):
        return False
    kept = [obj.get(k) for k in ("account", "ip", "type")]
    if not all(isinstance(v, str | None) for v in kept):
        return False
    try:
        [v.encode() for v in kept if v is not None]
    except UnicodeEncodeError:
        return False
    return True


junk_lines = (
    st.binary(max_size=40)
    | st.text(max_size=40).map(str.encode)
    | st.sampled_from(
        [b"{", b"}", b"{}", b"<html>", b'{"date":"2024-02-30","time":"10:00:00"}', b"null"]
    )
)


@SETTINGS
@given(
    report=reports(),
    how=st.sampled_from(["truncate", "flip", "junk"]),
    where=st.floats(0, 1),
    flip=st.integers(1, 255),
    junk=junk_lines,
    block=st.sampled_from([64, 4 * 1024 * 1024]),
    level=simd_levels,
)
def test_corruption_is_an_error_or_changes_nothing(
    report: tuple[list[dict[str, Any]], bytes],
    how: str,
    where: float,
    flip: int,
    junk: bytes,
    block: int,
    level: str | None,
) -> None:
    rows, data = report
    whole = gzip.compress(data)
    if how == "truncate":
        cut = 1 + int(where * (len(whole) - 2))
        damaged = whole[:cut]
    elif how == "flip":
        at = int(where * (len(whole) - 1))
        damaged = whole[:at] + bytes([whole[at] ^ flip]) + whole[at + 1 :]
    else:  # a junk line inserted between two lines (plain text and gzip alike)
        assume(not any(is_valid_playlog(part) for part in junk.split(b"\n")))
        text_lines = data.split(b"\n")
        at = int(where * len(text_lines))
        damaged = b"\n".join([*text_lines[:at], junk, *text_lines[at:]])
    for source in [damaged] + ([gzip.compress(damaged)] if how == "junk" else []):
        try:
            with small_blocks(block, 1024 * 1024), simd(level):
                df = read_playlogs(source)
        except (fy.CorruptReportError, fy.InvalidPlaylogError):
            continue
        assert as_lists(df) == expected_frame(rows)
