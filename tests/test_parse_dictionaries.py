"""The dictionaries of account/type/ip: one per column per read, in C across blocks (issue 15)."""

from __future__ import annotations

import random
import tracemalloc
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fouryousee_data as fy
from fouryousee_data.parse import Engine, _stream, read_batches, read_playlogs, read_table
from fouryousee_data.parse._block import STORE_TYPES
from fouryousee_data.parse._fast import BUILT, CDictionaries, scan

pytestmark = pytest.mark.skipif(not BUILT, reason="the C scanner is not built")
ENGINES: tuple[Engine, ...] = ("c", "arrow", "careful")


def line(i: int, ip: str, account: str = "acme", kind: str = "V") -> bytes:
    return (
        f'{{"date":"2024-03-01","time":"08:00:{i % 60:02d}","playerId":{i},"mediaId":{i % 7},'
        f'"account":"{account}","ip":"{ip}","type":"{kind}"}}\n'
    ).encode()


def ip_of(k: int) -> str:
    return f"10.{k >> 16 & 255}.{k >> 8 & 255}.{k & 255}"


@contextmanager
def block_size(size: int) -> Iterator[None]:
    """Blocks of about ``size`` bytes, or of a piece read (256 KiB) where that is larger."""
    with mock.patch.object(_stream, "BLOCK_SIZE", size):
        yield


def merged(dicts: CDictionaries, block: bytes, scanned: Any = None) -> tuple[bool, np.ndarray]:
    """The C path on one block (``scanned`` already, or scanned alone now), into
    ``dicts``: (taken, the ip codes)."""
    if scanned is None:
        scanned = scanned_against(None, block)
    out = {name: np.empty(scanned.n_rows, t) for name, t in STORE_TYPES.items()}
    return dicts.merge(scanned, 0, out), out["ip"]


def scanned_against(dicts: CDictionaries | None, block: bytes) -> Any:
    """A block scanned with its values looked up in ``dicts`` as they stand (as a worker
    thread does while the main thread merges earlier blocks)."""
    parsed = scan(memoryview(block), 1 << 20, dicts)
    assert parsed is not None
    return parsed.scanned


@pytest.mark.slow
def test_65k_distinct_ips_over_many_blocks_agree_with_every_engine() -> None:
    # 65,000 IPs in a permuted order, then 15,000 rows repeating earlier ones (in
    # later blocks), and one value first seen in the very last line.
    order = [(i * 7919) % 65_000 for i in range(80_000)]
    data = b"".join(line(i, ip_of(k)) for i, k in enumerate(order)) + line(0, "late")
    with block_size(64 * 1024):  # ~35 blocks
        tables = {engine: read_table(data, engine=engine) for engine in ENGINES}
    expected = [ip_of(k) for k in order] + ["late"]
    for engine, table in tables.items():
        ip = table.column("ip")
        assert ip.num_chunks == 1, engine
        assert ip.chunk(0).dictionary.to_pylist() == [ip_of(k) for k in order[:65_000]] + ["late"]
        assert ip.to_pylist() == expected, engine
        assert table.equals(tables["careful"]), engine


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("ips", [[], ["x", "é", ""]])
def test_the_categories_are_the_index_pandas_makes_of_the_values(
    engine: Engine, ips: list[str]
) -> None:
    # The frame's categories come from the Arrow dictionary: the same Index (and
    # dtype) as pandas makes of the list of str, empty dictionaries included.
    data = b"".join(line(i, ip) for i, ip in enumerate(ips)) or b"\n"
    df = read_playlogs(data, engine=engine)
    expected = pd.Index(ips)
    assert df["ip"].cat.categories.dtype == expected.dtype
    assert df["ip"].cat.categories.equals(expected)


def test_codes_are_the_same_for_a_value_in_every_block() -> None:
    rows = [line(i, ip_of(i % 3), account=f"a{i % 2}", kind="VI"[i % 2]) for i in range(3000)]
    with block_size(1024):
        df = read_playlogs(b"".join(rows), engine="c")
    assert list(df["ip"].cat.categories) == [ip_of(0), ip_of(1), ip_of(2)]
    assert (df["ip"].cat.codes.to_numpy() == np.arange(3000) % 3).all()
    assert (df["account"].cat.codes.to_numpy() == np.arange(3000) % 2).all()
    assert list(df["media_type"].cat.categories) == ["V", "I"]


def test_values_that_differ_in_one_byte_anywhere_get_their_own_codes() -> None:
    # Values of every length up to 40 bytes against the same value with one byte
    # changed, at every position: the C side compares up to 16 bytes as two
    # overlapping words. Row after row (the previous row's value), within a
    # block and across blocks (the read's dictionary), as the careful path does.
    rows = [""]
    for n in range(1, 41):
        for p in range(n):
            rows += ["a" * n, "a" * p + "b" + "a" * (n - p - 1)]
    values = list(dict.fromkeys(rows))
    data = b"".join(line(i, ip) for i, ip in enumerate(rows + rows[::-1]))
    with block_size(1024):
        table = read_table(data, engine="c")
    assert table.column("ip").to_pylist() == rows + rows[::-1]
    assert table.column("ip").chunk(0).dictionary.to_pylist() == values
    assert table.equals(read_table(data, engine="careful"))


def test_blocks_of_the_other_paths_share_the_same_dictionary() -> None:
    # an escaped value makes the C scanner decline the middle block: Arrow parses it,
    # its values go into the same C dictionary, in file order.
    blocks = [
        b"".join(line(i, ip_of(i % 4)) for i in range(50)),
        line(0, "\\u0041") + b"".join(line(i, ip_of(i % 6)) for i in range(50)),
        b"".join(line(i, ip_of(10 - i % 9)) for i in range(50)),
    ]
    with block_size(2048):
        tables = {engine: read_table(b"".join(blocks), engine=engine) for engine in ENGINES}
    values = tables["c"].column("ip").chunk(0).dictionary.to_pylist()
    assert values[:7] == [ip_of(0), ip_of(1), ip_of(2), ip_of(3), "A", ip_of(4), ip_of(5)]
    assert len(values) == len(set(values)) == 12
    for table in tables.values():
        assert table.equals(tables["careful"])


@pytest.mark.parametrize("engine", ENGINES)
def test_a_value_that_is_not_utf8_in_a_late_block_names_its_line(engine: Engine) -> None:
    rows = [line(i, ip_of(i)) for i in range(2000)]
    rows[1500] = line(1500, "10.0.0.\xff").replace(b"\xc3\xbf", b"\xff")
    with block_size(4096), pytest.raises(fy.InvalidPlaylogError) as raised:
        read_table(b"".join(rows), engine=engine)
    assert raised.value.line_number == 1501
    assert "'ip' is not valid UTF-8" in str(raised.value)


def test_a_block_with_a_value_that_is_not_utf8_adds_nothing() -> None:
    dicts = CDictionaries()
    assert merged(dicts, line(0, "a") + line(1, "b"))[0]
    # "c" is new and valid, "\xff" new and not UTF-8: the block adds neither
    taken, _ = merged(dicts, line(2, "c") + line(3, "b") + line(4, "x").replace(b"x", b"\xff"))
    assert not taken
    assert dicts.values("ip") == ["a", "b"]
    taken, codes = merged(dicts, line(5, "c") + line(6, "a") + line(7, "\u00e9"))
    assert taken and codes.tolist() == [2, 0, 3]
    assert dicts.values("ip") == ["a", "b", "c", "é"]
    assert dicts.values("account") == ["acme"] and dicts.values("media_type") == ["V"]


def test_utf8_is_checked_as_python_decodes_it() -> None:
    dicts = CDictionaries()
    samples = [
        b"\xc3\xa9",  # é
        b"\xe2\x82\xac",  # €
        b"\xf0\x9f\x99\x82",  # 🙂
        b"\xc0\xaf",  # overlong
        b"\xe0\x80\xaf",  # overlong
        b"\xed\xa0\x80",  # a surrogate
        b"\xf4\x90\x80\x80",  # past U+10FFFF
        b"\xf0\x9f\x99",  # cut short
        b"\x80",  # a lone continuation byte
        b"\xf5\x80\x80\x80",
    ]
    for raw in samples:
        try:
            raw.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = False
        block = line(0, "x").replace(b'"ip":"x"', b'"ip":"' + raw + b'"')
        assert merged(dicts, block)[0] is valid, raw


def test_two_reads_have_their_own_dictionaries() -> None:
    first = read_table(line(0, "x") + line(1, "y"), engine="c")
    second = read_table(line(0, "z") + line(1, "y"), engine="c")
    assert first.column("ip").chunk(0).dictionary.to_pylist() == ["x", "y"]
    assert second.column("ip").chunk(0).dictionary.to_pylist() == ["z", "y"]


def test_a_block_belongs_to_the_dictionaries_it_was_merged_into() -> None:
    parsed = scan(memoryview(line(0, "x")), 1 << 20)
    assert parsed is not None
    out = {name: np.empty(1, t) for name, t in STORE_TYPES.items()}
    assert CDictionaries().merge(parsed.scanned, 0, out)
    with pytest.raises(ValueError, match="another read"):
        CDictionaries().merge(parsed.scanned, 0, out)


def test_reads_in_threads_at_once_stay_apart() -> None:
    files = [
        b"".join(line(i, f"{t}.{i % (50 + t)}", account=f"acc{t}") for i in range(4000))
        for t in range(6)
    ]
    with block_size(8192):
        alone = [read_playlogs(data, engine="c") for data in files]
        with ThreadPoolExecutor(6) as pool:
            together = list(pool.map(lambda data: read_playlogs(data, engine="c"), files))
    for one, other in zip(alone, together, strict=True):
        assert one.equals(other)
        assert list(one["ip"].cat.categories) == list(other["ip"].cat.categories)


def test_nothing_is_left_behind_by_a_read() -> None:
    data = b"".join(line(i, ip_of(i)) for i in range(20_000))

    def once() -> None:
        for _ in range(3):
            dicts = CDictionaries()
            assert merged(dicts, data)[0]
            assert len(dicts.values("ip")) == 20_000
        read_table(data, engine="c")

    once()  # warm up (caches, lazily built state)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        once()
        once()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 256 * 1024, grown  # one read's dictionaries alone are ~1.5 MB


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.integers(0, 400))
def test_any_bytes_are_declined_or_merged_safely(data: bytes, cut: int) -> None:
    # random bytes, and a valid line cut anywhere: never a crash, never a row
    # json.loads would not give (tests/test_parse_fastscan.py compares values)
    for block in (data + b"\n", line(7, "1.2.3.4")[:cut].rstrip(b"\n") + b"\n"):
        parsed = scan(memoryview(block), 1 << 20)
        if parsed is not None:
            out = {name: np.empty(parsed.scanned.n_rows, t) for name, t in STORE_TYPES.items()}
            CDictionaries().merge(parsed.scanned, 0, out)
            assert parsed.n_lines == block.count(b"\n")


def test_a_table_of_many_values_round_trips_through_arrow() -> None:
    data = b"".join(line(i, ip_of(i * 31)) for i in range(5000))
    table = read_table(data)
    assert isinstance(table.column("ip").chunk(0), pa.DictionaryArray)
    assert fy.schema.to_pandas(table).equals(read_playlogs(data))


@pytest.mark.parametrize("engine", ENGINES)
def test_each_batch_carries_the_dictionary_so_far(engine: Engine) -> None:
    data = b"".join(line(i, ip_of((i * 7919) % 20_000)) for i in range(24_000))
    batches: list[pa.RecordBatch] = []
    with block_size(32 * 1024):
        read_batches(data, batches.append, engine=engine)
        whole = read_table(data, engine=engine)
    final = whole.column("ip").chunk(0).dictionary.to_pylist()
    assert len(batches) > 8 and len(final) == 20_000
    rows = []
    for batch in batches:
        dictionary = batch.column("ip").dictionary.to_pylist()
        assert dictionary == final[: len(dictionary)]  # the read's dictionary as it stood
        rows += batch.column("ip").to_pylist()
    assert rows == whole.column("ip").to_pylist()


@pytest.mark.parametrize("engine", ENGINES)
def test_the_frame_codes_widen_as_the_dictionaries_grow(engine: Engine) -> None:
    # read_playlogs stores codes as narrow as pandas keeps them: int8 while a dictionary
    # has < 127 values, then int16, then int32 (widened mid-read, rows so far copied).
    # IPs: 3 in the first blocks, 126 / 127 around the int8 edge, then 40,000.
    order = [k % 3 for k in range(600)] + list(range(126)) + [126] + list(range(40_000))
    data = b"".join(line(i, ip_of(k), account=f"a{i % 130}") for i, k in enumerate(order))
    data += line(0, "late", account="a0")
    with block_size(16 * 1024):
        df = read_playlogs(data, engine=engine)
        expected = fy.schema.to_pandas(read_table(data, engine="careful"))
    assert df.equals(expected)
    assert df["ip"].cat.codes.dtype == np.int32
    assert df["account"].cat.codes.dtype == np.int16  # 130 accounts
    assert df["media_type"].cat.codes.dtype == np.int8
    assert list(df["ip"].iloc[[0, 1, 2, 3, 727, -1]]) == [
        ip_of(0),
        ip_of(1),
        ip_of(2),
        ip_of(0),
        ip_of(0),
        "late",
    ]


def test_a_code_column_too_narrow_is_refused() -> None:
    data = b"".join(line(i, ip_of(i)) for i in range(300))
    parsed = scan(memoryview(data), 1 << 20)
    assert parsed is not None
    out = {name: np.empty(300, t) for name, t in STORE_TYPES.items()}
    out["ip"] = np.empty(300, np.int8)
    dicts = CDictionaries()
    assert dicts.add(parsed.scanned) and dicts.size("ip") == 300
    with pytest.raises(ValueError, match="too narrow"):
        dicts.merge(parsed.scanned, 0, out)
    out["ip"] = np.empty(300, np.int16)
    assert dicts.merge(parsed.scanned, 0, out)
    assert (out["ip"] == np.arange(300)).all()


def test_a_value_added_while_a_block_was_scanned_keeps_its_first_code() -> None:
    # Worker threads scan later blocks while the main thread merges earlier ones: a
    # block scanned before the merge that added its values (an older snapshot of the
    # read's dictionaries, a table since replaced by a larger one) gets the same codes.
    dicts = CDictionaries()
    first = b"".join(line(i, ip_of(i)) for i in range(5000))  # grows the table 7 times
    early = scanned_against(dicts, line(0, ip_of(4999)) + line(1, "new") + line(2, ip_of(7)))
    mid = scanned_against(dicts, line(0, "new") + line(1, "other"))
    assert merged(dicts, first)[0]
    late = scanned_against(dicts, line(0, ip_of(7)) + line(1, "other") + line(2, "new"))
    assert merged(dicts, b"", early)[1].tolist() == [4999, 5000, 7]
    assert merged(dicts, b"", mid)[1].tolist() == [5000, 5001]
    assert merged(dicts, b"", late)[1].tolist() == [7, 5001, 5000]
    assert dicts.values("ip") == [ip_of(i) for i in range(5000)] + ["new", "other"]
    assert dicts.values("account") == ["acme"]


def test_values_first_seen_in_later_blocks_are_added_in_file_order() -> None:
    # each block repeats earlier values (found in the read's dictionary while
    # scanning, or not yet) and brings new ones, some longer than 16 bytes
    rng = random.Random(5)
    values = [ip_of(k) + ("-and-a-longer-tail" if k % 5 == 0 else "") for k in range(3000)]
    rows = [values[rng.randrange(1 + i // 4)] for i in range(12_000)]
    data = b"".join(line(i, ip) for i, ip in enumerate(rows))
    with block_size(2048):
        table = read_table(data, engine="c")
    assert table.column("ip").to_pylist() == rows
    assert table.column("ip").chunk(0).dictionary.to_pylist() == list(dict.fromkeys(rows))
    assert table.equals(read_table(data, engine="careful"))


def test_values_equal_but_for_trailing_zero_bytes_stay_apart() -> None:
    # "\u0000" is refused by the scanner (an escape): those blocks' values come in by
    # lookup; up to 16 bytes a value is compared as two zero-padded words (and its length)
    names = ["a", "a\\u0000", "a\\u0000\\u0000", "", "\\u0000", "a" * 15 + "\\u0000"]
    blocks = [b"".join(line(i, name) for i, name in enumerate(names)), line(0, "a") + line(1, "")]
    with block_size(256):
        table = read_table(b"".join(blocks), engine="c")
    assert table.column("ip").to_pylist()[-2:] == ["a", ""]
    assert len(table.column("ip").chunk(0).dictionary) == len(names)
    assert table.equals(read_table(b"".join(blocks), engine="careful"))


def test_values_at_the_edges_of_a_key_are_found_by_later_blocks() -> None:
    # a key holds a value of up to 16 bytes as two words (loads that overlap from 9 to
    # 15 bytes), a longer one by its bytes in the arena: values of every length around
    # those edges, and values that differ only in their first or last byte, are added by
    # one block, then looked up in the read's table by the blocks scanned after it
    stems = [("x" * (n - 1), n) for n in (1, 3, 4, 7, 8, 9, 15, 16, 17, 24, 25)]
    values = [f"{c}{s}" for s, _ in stems for c in "ab"] + [
        f"{s}{c}" for s, _ in stems for c in "cd"
    ]
    values = list(dict.fromkeys(values))
    rng = random.Random(15)
    first = b"".join(line(i, v) for i, v in enumerate(values))
    later = [rng.choice(values) for _ in range(400)]
    dicts = CDictionaries()
    assert merged(dicts, first)[0]
    blocks = [later[i : i + 50] for i in range(0, len(later), 50)]
    for rows in blocks:  # every value found while scanning: no new one, codes of the first block
        block = scanned_against(dicts, b"".join(line(i, v) for i, v in enumerate(rows)))
        assert merged(dicts, b"", block)[1].tolist() == [values.index(v) for v in rows]
    assert dicts.values("ip") == values


def test_many_threads_scan_against_the_dictionaries_the_main_thread_merges_into() -> None:
    # 8 threads scan small blocks against the read's dictionaries while the main
    # thread merges them in file order (tables growing, values new in every block)
    rng = random.Random(11)
    values = [ip_of(k) + ("-x" * (k % 11)) for k in range(20_000)]
    rows = [values[min(int(rng.expovariate(1) * 5000), 19_999)] for _ in range(30_000)]
    lines = [line(i, ip, account=f"a{i % 3}") for i, ip in enumerate(rows)]
    blocks, start = [], 0
    while start < len(lines):
        size = rng.choice([1, 7, 60, 400])
        blocks.append(b"".join(lines[start : start + size]))
        start += size
    dicts, codes = CDictionaries(), []
    with ThreadPoolExecutor(8) as pool:
        in_flight: deque[Future[Any]] = deque()
        for i, block in enumerate([*blocks, None]):
            if block is not None:
                in_flight.append(pool.submit(scanned_against, dicts, block))
            while in_flight and (len(in_flight) > 16 or block is None):
                taken, ip = merged(dicts, b"", in_flight.popleft().result())
                assert taken, i
                codes += ip.tolist()
    first = list(dict.fromkeys(rows))
    assert dicts.values("ip") == first
    index = {value: code for code, value in enumerate(first)}
    assert codes == [index[ip] for ip in rows]
    assert dicts.values("account") == ["a0", "a1", "a2"]


def test_a_block_scanned_against_another_read_is_refused() -> None:
    ours, theirs = CDictionaries(), CDictionaries()
    scanned = scanned_against(theirs, line(0, "x"))
    with pytest.raises(ValueError, match="scanned against another read"):
        merged(ours, b"", scanned)
    assert ours.values("ip") == [] and merged(theirs, b"", scanned)[1].tolist() == [0]
