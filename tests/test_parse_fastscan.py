"""The C scanner (_fastscan) is an accelerator only: it agrees with the Python path or declines."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fouryousee_data.errors import FouryouseeError
from fouryousee_data.parse import DEFAULT_MAX_LINE, Engine, _stream, read_table
from fouryousee_data.parse._block import STORE_TYPES
from fouryousee_data.parse._fast import BUILT, SIMD_LEVELS, CDictionaries, scan, use_simd

N_KEYS = 7  # the known keys of a usual line

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    # the `simd` fixture only picks a level: the same for every example, by design
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

BASE = (
    '"date":"2021-07-26","time":"15:58:52","playerId":4,"mediaId":48,'
    '"account":"alfareiza-3385E2","ip":"0.0.0.0","type":"I"'
)


@pytest.fixture(params=SIMD_LEVELS)
def simd(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each SIMD level of the scanner this CPU runs ("none": the portable C path)."""
    before = use_simd(request.param)
    try:
        yield request.param
    finally:
        use_simd(before)


def examples_at(level: str) -> settings:
    """SETTINGS' examples at the level reads use (this CPU's best, ``SIMD_LEVELS[0]``), a
    third of them at the others: a random report's lines are rarely the usual line the SIMD
    paths read (they hand the rest to the portable path, which every level runs), and
    test_the_simd_levels_read_usual_lines_as_the_portable_path compares every level on such
    lines, in one example."""
    full = SETTINGS.max_examples
    return settings(SETTINGS, max_examples=full if level == SIMD_LEVELS[0] else full // 3)


def obj(**changes: str) -> bytes:
    """A line from BASE: each change replaces a key's raw JSON value (``""`` drops it)."""
    pairs = dict(pair.split(":", 1) for pair in BASE.split(",") if pair)
    pairs.update({f'"{k}"': v for k, v in changes.items()})
    return ("{" + ",".join(f"{k}:{v}" for k, v in pairs.items() if v) + "}").encode(
        "utf-8",
        "surrogateescape",  # "\udcff" is the raw byte 0xFF
    )


def vouches(data: bytes, max_line: int = DEFAULT_MAX_LINE) -> bool:
    """Whether the C path takes a block (of whole lines) on its own: the scanner
    reads it and the read's dictionaries take its values (UTF-8 is checked there)."""
    parsed = scan(memoryview(data), max_line)
    if parsed is None:
        return False
    out = {name: np.empty(parsed.scanned.n_rows, t) for name, t in STORE_TYPES.items()}
    return CDictionaries().merge(parsed.scanned, 0, out)


def outcome(data: bytes, engine: Engine, **kwargs: Any) -> Any:
    """read_table by one engine: its table, or its error as (type, text, line)."""
    try:
        return read_table(data, engine=engine, **kwargs)
    except FouryouseeError as exc:
        return type(exc), str(exc), getattr(exc, "line_number", None)


def dictionaries(table: pa.Table) -> list[list[Any]]:
    """Each dictionary column's values, in order (the order of the categories)."""
    return [
        table.column(n).chunk(0).dictionary.to_pylist() for n in ("account", "media_type", "ip")
    ]


def assert_same(data: bytes, **kwargs: Any) -> Any:
    """The C scanner, Arrow's reader and the careful path give the same outcome."""
    reference = outcome(data, "careful", **kwargs)
    engines: tuple[Engine, ...] = ("c", "arrow")
    for engine in engines:
        result = outcome(data, engine, **kwargs)
        if isinstance(reference, pa.Table):
            assert isinstance(result, pa.Table), (engine, result)
            assert result.equals(reference), (engine, result.to_pydict(), reference.to_pydict())
            assert dictionaries(result) == dictionaries(reference), engine
        else:
            assert result == reference, engine
    return reference


def test_the_extension_is_built_and_used() -> None:
    assert importlib.util.find_spec("fouryousee_data.parse._fastscan") is not None
    assert BUILT
    assert vouches(obj() + b"\n")
    assert read_table(obj() + b"\n", engine="c").num_rows == 1


# (line, whether the C scanner vouches for it, whether it is a valid playlog)
CASES = [
    (obj(), True, True),
    (obj(account='"çà🙂 ü"', ip='"::1"'), True, True),
    (obj(account='"a\\"b"'), False, True),  # an escape in a kept string
    (obj(type='"\\u0056"'), False, True),
    (obj(x='"a\\"b\\u00e9\\n\\/"'), True, True),  # escapes in an unknown value are skipped
    (obj(x='"\\x"'), False, False),
    (obj(x='"\\u12g4"'), False, False),
    (obj(x='{"a":[1,-2.5e3,{"b":null}],"c":true,"d":false,"e":[],"f":{}}'), True, True),
    (obj(x="[1,]"), False, False),
    (obj(x="01"), False, False),
    (obj(x="1."), False, False),
    (obj(x="NaN"), False, True),  # json.loads takes NaN: not vouched, still valid
    (obj(x="[" * 40 + "]" * 40), False, True),  # deep nesting: declined
    (obj(x='"\udcff\udcfe"'), True, True),  # bytes that are not UTF-8 in an unknown value
    (obj(account='"\udcff"'), False, False),  # ... in a kept value
    (obj(account='"a\tb"'), False, False),  # a control character in a string
    (obj(x="9" * 5000), False, False),  # json.loads refuses > 4300 digits
    (obj()[:-1] + b',"playerId":5}', False, True),  # a duplicated key: the last wins
    (obj()[:-1] + b',"x":1,"x":2}', True, True),  # duplicated unknown keys are fine
    (b'{"d\\u0061te":"2021-07-27",' + obj()[1:], False, True),
    (obj(playerId="2147483647", mediaId="-2147483648"), True, True),
    (obj(playerId="2147483648"), False, False),
    (obj(mediaId="-2147483649"), False, False),
    (obj(playerId="99999999999999999999"), False, False),
    (obj(playerId="-7", mediaId="0"), True, True),
    (obj(playerId="-0"), True, True),
    (obj(playerId="4.0"), False, False),
    (obj(playerId="4e2"), False, False),
    (obj(playerId='"4"'), False, False),
    (obj(playerId="true"), False, False),
    (obj(playerId="null"), False, False),
    (obj(playerId="04"), False, False),
    (obj(date='"2024-02-29"'), True, True),
    (obj(date='"2023-02-29"'), False, False),
    (obj(date='"2000-02-29"', time='"00:00:00"'), True, True),
    (obj(date='"1900-02-29"'), False, False),
    (obj(date='"0001-01-01"'), True, True),
    (obj(date='"9999-12-31"'), True, True),
    (obj(date='"0000-12-31"'), False, False),
    (obj(date='"2024-13-01"'), False, False),
    (obj(date='"2024-04-31"'), False, False),
    (obj(date='"2024-4-01"'), False, False),
    (obj(date='"2024-04-01 "'), False, False),
    (obj(time='"23:59:59"'), True, True),
    (obj(time='"24:00:00"'), False, False),
    (obj(time='"12:60:00"'), False, False),
    (obj(time='"12:00:60"'), False, False),
    (obj(time='"12:00"'), False, False),
    (obj(account="null", ip="null", type="null"), True, True),
    (obj(account="", ip="", type=""), True, True),
    (obj(account="1"), False, False),
    (obj(date=""), False, False),
    (obj(mediaId=""), False, False),
    (
        b'{"type":"V","mediaId":1,"ip":"1.2.3.4","playerId":2,"time":"01:02:03","date":"2024-01-02"}',
        True,
        True,
    ),
    (
        b' { "date" : "2024-01-02" ,\t"time":"01:02:03", "playerId" : 1 , "mediaId":2 } \r',
        True,
        True,
    ),
    # what the SIMD path looks for inside strings and around values
    (obj(account='"a,b"', ip='"}"', type='"V"'), True, True),
    (obj(account='"a:b"', ip='"{"', type='"["'), True, True),
    (obj(account='"\\u002c"'), False, True),
    (obj(ip='"\\":"'), False, True),
    (obj(type='"\\"\\""'), False, True),
    (obj(account='"a"b"'), False, False),
    (obj(ip='"1.2.3.4" '), True, True),
    (obj(ip=' "1.2.3.4"', playerId=" 4"), True, True),
    (obj(playerId="12345678", mediaId="1234567"), True, True),
    (obj(playerId="-12", mediaId="00"), False, False),
    (obj(playerId="0", mediaId="10000000"), True, True),
    (obj(type="nul"), False, False),
    (obj(type="nulll"), False, False),
    (obj(type='"'), False, False),
    (obj()[:-1] + b",}", False, False),
    (obj()[:-1] + b"]", False, False),
    (obj()[:-1] + b',"x"}', False, False),
    (obj()[:-1] + b",,}", False, False),
    (obj()[:-1] + b",", False, False),
    (obj().replace(b',"time"', b'}"time"'), False, False),
    (obj().replace(b'"time":"15:58:52"', b'"date":"2021-07-27"'), False, False),
    (obj().replace(b'"type":"I"', b'"ip":"1"'), False, True),
    (obj()[:-1] + b',"x":1}', True, True),  # unknown keys
    (obj()[:-1] + b',"":1}', True, True),
    (obj()[:-1] + b',"ipx":1}', True, True),
    (obj()[:-1] + b',"ip":"x"}', False, True),  # a duplicated kept key
    (obj().replace(b'"date"', b'"dat\\u0065"'), False, True),
    (obj().replace(b'"date"', b'"Date"'), False, False),
    (obj(account='"' + "a" * 120 + '"'), True, True),  # a line over 192 bytes
    (obj(account='"' + "a" * 40 + '"'), True, True),
    (obj() + obj(), False, False),  # two objects on one line
    (obj() + b" x", False, False),
    (b"{}", False, False),
    (b"[1, 2]", False, False),
    (b"\xef\xbb\xbf" + obj(), False, False),  # a BOM that is not at the file's start
]


@pytest.mark.parametrize(("data", "fast", "valid"), CASES)
def test_the_scanner_agrees_or_declines(data: bytes, fast: bool, valid: bool, simd: str) -> None:
    block = obj() + b"\n \r\n" + data + b"\n" + obj() + b"\r\n"
    assert vouches(block) is fast
    reference = assert_same(block)
    assert isinstance(reference, pa.Table) is valid, reference
    if not valid:
        assert reference[2] == 3  # the line number of the error


def test_blank_lines_crlf_and_a_bom_at_the_start() -> None:
    data = b"\xef\xbb\xbf" + obj() + b"\r\n\r\n\t \n" + obj(ip='"x"') + b"\r\n"
    table = assert_same(data)
    assert table.column("ip").to_pylist() == ["0.0.0.0", "x"]


def test_values_and_dictionaries_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_stream, "BLOCK_SIZE", 300)
    rows = [
        obj(playerId=str(i), type=f'"{"VI"[i % 2]}"', ip=f'"10.0.0.{i % 5}"', account="null")
        for i in range(40)
    ]
    table = assert_same(b"\n".join(rows))
    assert table.column("player_id").to_pylist() == list(range(40))
    assert table.column("ip").chunk(0).dictionary.to_pylist() == [f"10.0.0.{i}" for i in range(5)]
    assert table.column("account").null_count == 40


def test_a_line_over_max_line_bytes_is_left_to_the_python_path() -> None:
    data = obj() + b"\n" + obj(x='"' + "y" * 200 + '"') + b"\n"
    assert not vouches(data, max_line=150)
    reference = assert_same(data, max_line_bytes=150)
    assert "longer than 150 bytes" in reference[1]


# --------------------------------------------------------------------------- properties

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
KNOWN = ("date", "time", "playerId", "mediaId", "account", "ip", "type")


@st.composite
def playlog(draw: st.DrawFn) -> dict[str, Any]:
    when = draw(st.datetimes())
    row: dict[str, Any] = {
        "date": when.strftime("%Y-%m-%d").rjust(10, "0"),
        "time": when.strftime("%H:%M:%S"),
        "playerId": draw(st.integers(-(2**31), 2**31 - 1)),
        "mediaId": draw(st.integers(-(2**31), 2**31 - 1)),
    }
    for key in ("account", "ip", "type"):
        if draw(st.booleans()):
            row[key] = draw(st.none() | st.text(max_size=8) | st.sampled_from(["V", "I"]))
    extra = draw(st.dictionaries(st.text(max_size=5), json_values, max_size=2))
    row.update({k: v for k, v in extra.items() if k not in KNOWN})
    keys = draw(st.permutations(list(row)))
    return {key: row[key] for key in keys}


@st.composite
def report(draw: st.DrawFn) -> bytes:
    rows = draw(st.lists(playlog(), max_size=20))
    ascii_only = draw(st.booleans())  # \\u escapes in kept strings: the scanner declines
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    newline = draw(st.sampled_from([b"\n", b"\r\n"]))
    return b"".join(
        json.dumps(row, ensure_ascii=ascii_only, separators=separators).encode() + newline
        for row in rows
    )


@pytest.mark.slow
def test_random_valid_reports_give_the_same_table(simd: str) -> None:
    @examples_at(simd)
    @given(report())
    def check(data: bytes) -> None:
        assert isinstance(assert_same(data), pa.Table)

    check()


NOISE = st.sampled_from([*b'{}[]",:\\ \t\r\n0123456789.-+eEnultrfa', 0xFF, 0xC3, 0])


@pytest.mark.slow
def test_corrupted_reports_are_declined_or_agree(simd: str) -> None:
    @examples_at(simd)
    @given(report(), st.lists(st.tuples(st.integers(0), st.integers(0, 2), NOISE), max_size=4))
    def check(data: bytes, edits: list[tuple[int, int, int]]) -> None:
        text = bytearray(data)
        for position, kind, byte in edits:
            at = position % (len(text) + 1)
            if kind == 0:
                text[at:at] = bytes([byte])  # insert
            elif kind == 1:
                text[at : at + 1] = bytes([byte])  # replace
            else:
                del text[at : at + 1]
        assert_same(bytes(text))

    check()


def rows_of(parts: list[bytes], max_line: int = DEFAULT_MAX_LINE) -> Any:
    """The C path on a block given in parts: its rows and dictionaries, or None (declined)."""
    parsed = scan([memoryview(part) for part in parts], max_line)
    if parsed is None:
        return None
    dicts = CDictionaries()
    out = {name: np.empty(parsed.scanned.n_rows, t) for name, t in STORE_TYPES.items()}
    assert dicts.merge(parsed.scanned, 0, out)
    values = [dicts.values(name) for name in ("account", "media_type", "ip")]
    return parsed.n_lines, {k: v.tolist() for k, v in out.items()}, values


def test_a_block_in_parts_cut_anywhere_scans_as_in_one_piece(simd: str) -> None:
    # a block of pieces is read where they are; only a line cut between two pieces is
    # copied (the seam). Cut in every pair of places (a piece may hold no line end, or
    # be empty): the same rows, lines and dictionaries as the whole block.
    lines = [obj(), b"", obj(ip='"10.0.0.1"', type="null"), b"  ", obj(account='"b"')]
    data = b"\n".join(lines) + b"\n"
    whole = rows_of([data])
    assert whole is not None and whole[0] == 5
    for i in range(len(data) + 1):
        for j in range(i, len(data) + 1, 3):
            assert rows_of([data[:i], data[i:j], b"", data[j:]]) == whole, (i, j)
    # a bad line across a cut is declined, as in one piece; so is a seam over max_line
    bad = data + obj(playerId='"4"') + b"\n"
    cut = len(data) + 20
    assert rows_of([bad]) is None and rows_of([bad[:cut], bad[cut:]]) is None
    longest = max(map(len, lines))
    assert rows_of([data[:10], data[10:]], max_line=longest - 1) is None
    assert rows_of([data[:10], data[10:]], max_line=longest) == whole


def test_parts_must_end_with_a_newline() -> None:
    with pytest.raises(ValueError, match="newline"):
        scan([memoryview(obj()), memoryview(b"")], DEFAULT_MAX_LINE)
    with pytest.raises(ValueError, match="newline"):
        scan([], DEFAULT_MAX_LINE)


# --------------------------------------------------------------------------- the SIMD path

STRINGS = st.sampled_from(
    [
        '"V"',
        '"alfareiza-3385E2"',
        '"177.5.90.110"',
        '""',
        "null",
        '"a,b"',
        '"}"',
        '"\\""',
        '"\\u00e9"',
        '"é🙂"',
        '"a\tb"',
        '":"',
        '"x" ',
        " null",
        "1",
        '"',
        "nul",
    ]
) | st.text(max_size=12).map(json.dumps)
INTS = st.integers(-(2**33), 2**33).map(str) | st.sampled_from(
    ["0", "-0", "00", "01", "1.0", "1e3", '"4"', "null", "12345678", "9999999", "-", " 7"]
)
USUAL = {
    "date": st.dates().map(lambda d: f'"{d.year:04d}-{d.month:02d}-{d.day:02d}"')
    | st.sampled_from(['"2023-02-29"', '"0000-01-01"', '"2024-3-01"', "null", '"2024-03-01" ']),
    "time": st.times().map(lambda t: f'"{t:%H:%M:%S}"')
    | st.sampled_from(['"24:00:00"', '"1:02:03"', '"12:00:00"']),
    "playerId": INTS,
    "mediaId": INTS,
    "account": STRINGS,
    "type": STRINGS,
    "ip": STRINGS,
}


@st.composite
def usual_lines(draw: st.DrawFn) -> bytes:
    """Lines as the SIMD path expects them (the seven keys, in any order), edge values,
    sometimes a key dropped, doubled or added, then a few bytes changed."""
    keys = draw(st.permutations(list(USUAL)))
    if draw(st.integers(0, 5)) == 0:
        keys = draw(st.sampled_from([keys[1:], [*keys, keys[0]], [*keys, "x"]]))
    line = bytearray(
        ("{" + ",".join(f'"{k}":{draw(USUAL.get(k, INTS))}' for k in keys) + "}").encode()
    )
    for position, kind, byte in draw(
        st.lists(st.tuples(st.integers(0), st.integers(0, 2), NOISE), max_size=2)
    ):
        at = position % (len(line) + 1)
        if kind == 0:
            line[at:at] = bytes([byte])
        elif kind == 1:
            line[at : at + 1] = bytes([byte])
        else:
            del line[at : at + 1]
    return bytes(line)


@SETTINGS
@given(st.lists(usual_lines(), min_size=1, max_size=6), st.integers(0))
def test_the_simd_levels_read_usual_lines_as_the_portable_path(
    lines: list[bytes], cut: int
) -> None:
    # every line through each level's fast path (the last ones through a padded copy),
    # once in one piece and once cut in two (the seam): the same as the portable path
    data = b"\n".join(lines) + b"\n"
    cut %= len(data)
    before = use_simd("none")
    try:
        expected = [rows_of([data]), rows_of([data[:cut], data[cut:]])]
        for level in SIMD_LEVELS:
            use_simd(level)
            assert [rows_of([data]), rows_of([data[:cut], data[cut:]])] == expected, level
    finally:
        use_simd(before)


def test_lines_of_every_length_around_the_window(simd: str) -> None:
    # the SIMD path classifies 192 bytes from a line's start: lines just shorter and
    # longer, with 0 to 300 bytes after them in the block
    other = len(obj(account='""'))
    for length in range(185, 200):
        line = obj(account='"' + "a" * (length - 1 - other) + '"')
        assert len(line) + 1 == length
        for after in (0, 1, 63, 64, 65, 255, 256, 300):
            data = line + b"\n" + b" " * max(after - 1, 0) + (b"\n" if after else b"")
            whole = rows_of([data])
            assert whole is not None and whole[1]["player_id"] == [4], (length, after)


def usual(order: tuple[str, ...] = tuple(USUAL), **values: str) -> bytes:
    """A usual line (the seven keys, compact) in a key order, values from BASE or given."""
    base = {k.strip('"'): v for k, v in (pair.split(":", 1) for pair in BASE.split(","))}
    base.update(values)
    return ("{" + ",".join(f'"{k}":{base[k]}' for k in order) + "}").encode()


def scanned(data: bytes) -> Any:
    """The C scanner's Block for a block of whole lines (None: declined)."""
    parsed = scan(memoryview(data), DEFAULT_MAX_LINE)
    return None if parsed is None else parsed.scanned


def test_the_simd_path_reads_the_usual_line(simd: str) -> None:
    # every usual line through the SIMD path (the portable one reads none): key orders,
    # nulls, '}' ':' '{' inside strings, the longest ints, lines up to the window's end
    lines = [
        usual(),
        usual(tuple(reversed(USUAL))),
        usual(("ip", "type", "account", "mediaId", "playerId", "time", "date")),
        usual(account="null", type="null", ip="null"),
        usual(account='"a}b"', ip='"{:}"', type='"]"'),
        usual(playerId="99999999", mediaId="0"),
        usual(playerId="2147483647", mediaId="12345678"),  # 10 digits: read_int32
        usual(date='"2024-02-29"', time='"23:59:59"'),
        usual(date='"2024-03-01"', time='"00:00:00"'),
        usual(account='"' + "a" * (191 - len(usual(account='""'))) + '"'),
    ]
    assert len(lines[-1]) == 191
    data = b"\n".join(lines) + b"\n"
    block = scanned(data)
    assert block is not None and block.n_rows == len(lines)
    assert block.n_fast == (0 if simd == "none" else len(lines))
    # a comma inside a string, a line of 192 bytes: the portable path
    for line in (usual(account='"a,b"'), lines[-1][:-2] + b'a"}'):
        block = scanned(line + b"\n")
        assert block is not None and (block.n_rows, block.n_fast) == (1, 0)


def same_as_portable(*blocks: bytes) -> None:
    """Each SIMD level reads each block (whole, and each of its lines alone) as the
    portable path does (rows, or a decline)."""
    lines = [line + b"\n" for data in blocks for line in data.split(b"\n")[:-1]]
    chunks = [*blocks, *lines]
    before = use_simd("none")
    try:
        expected = [rows_of([chunk]) for chunk in chunks]
        for level in SIMD_LEVELS:
            use_simd(level)
            assert [rows_of([chunk]) for chunk in chunks] == expected, (level, blocks)
    finally:
        use_simd(before)


@pytest.mark.parametrize("key", list(USUAL))
def test_every_byte_of_every_key_is_checked(key: str) -> None:
    # each byte of `"key":` (and the ',' or '{' before it) changed, in every place of
    # the line: the SIMD path must decline, as a key it does not know is no key of its
    lines = []
    for order in (tuple(USUAL), tuple(reversed(USUAL))):
        line = usual(order)
        at = line.index(f'"{key}":'.encode()) - 1
        for i in range(len(key) + 4):
            for byte in {b"x", b"\x7f", bytes([line[at + i] ^ 0x20]), b'"', b":", b","}:
                lines.append(line[: at + i] + byte + line[at + i + 1 :])
    same_as_portable(b"\n".join(lines) + b"\n")


@pytest.mark.parametrize(
    ("key", "values"),
    [
        (
            "time",
            [
                "00:00:00",
                "23:59:59",
                "19:59:59",
                "20:00:00",
                "24:00:00",
                "29:00:00",
                "23:60:00",
                "23:59:60",
                "2a:00:00",
                "12:5a:00",
                "12:00:0a",
                "12-00-00",
                "12:00:00 ",
                " 12:00:00",
                "1:00:00",
                "12:0:00",
                "12:00:0",
                "/0:00:00",
                ":0:00:00",
                "12:00:00x",
            ],
        ),
        (
            "date",
            [
                "2024-02-29",
                "2023-02-29",
                "0001-01-01",
                "9999-12-31",
                "2024-00-01",
                "2024-01-32",
                "2024-01-1",
                "2024/01/01",
                "2024-01-01 ",
            ],
        ),
    ],
)
def test_times_and_dates_as_the_portable_path(key: str, values: list[str]) -> None:
    lines = [usual(**{key: f'"{v}"'}) for v in values] + [usual(**{key: v}) for v in values[:4]]
    same_as_portable(b"\n".join(lines) + b"\n")


def test_ints_as_the_portable_path() -> None:
    values = [
        "0",
        "7",
        "10",
        "99",
        "1234567",
        "12345678",
        "99999999",
        "100000000",
        "2147483647",
        "2147483648",
        "-1",
        "-0",
        "00",
        "01",
        "+1",
        "1a",
        "1.5",
        "1e5",
        " 1",
        "1 ",
        '"1"',
        "null",
        "",
        "123456789012",
        "0x1",
        "1-",
        "9" * 11,
    ]
    lines = [usual(**{key: v}) for key in ("playerId", "mediaId") for v in values]
    same_as_portable(b"\n".join(lines) + b"\n")


def test_every_segment_at_every_offset(simd: str) -> None:
    # the keys' segments in every place relative to the 64-byte words of the window
    # (the SIMD path gathers each segment's first 16 bytes from three registers)
    lines = []
    for pad in range(0, 128):
        for shift in (0, 3, 6):
            order = tuple(USUAL)[shift:] + tuple(USUAL)[:shift]
            lines.append(usual(order, account='"' + "a" * pad + '"'))
    data = b"\n".join(lines) + b"\n"
    block = scanned(data)
    fits = sum(len(line) < 192 for line in lines)
    assert block is not None and block.n_fast == (0 if simd == "none" else fits)
    same_as_portable(data)


def test_a_key_twice_and_another_missing() -> None:
    # seven segments, one key twice (with a value it takes) and another missing: in
    # every pair, after a valid line of the same layout (what a path could reuse)
    order = ("date", "time", "playerId", "mediaId", "account", "ip", "type")
    base = usual(order)
    segments = [base.split(b",")[i].strip(b"{}") for i in range(N_KEYS)]
    pairs = []
    for missing in range(N_KEYS):
        for twice in range(N_KEYS):
            if twice != missing:
                changed = [segments[twice] if i == missing else s for i, s in enumerate(segments)]
                pairs.append(base + b"\n{" + b",".join(changed) + b"}\n")
    # the same layout exactly: type's value where the second ip's is
    pairs.append(
        usual(order, ip='"0.0.0"') + b"\n" + base.replace(b'"type":"I"', b'"ip":"I"') + b"\n"
    )
    same_as_portable(*pairs)


def test_what_the_simd_path_leaves_to_the_portable_one(simd: str) -> None:
    # CRLF line ends, a comma in the last string (lines of every length: its segment
    # must not pass for the last one), values followed by something
    lines = [usual() + b"\r" for _ in range(3)]
    lines += [usual(account='"' + "a" * pad + '"', ip='"1,2"') for pad in range(64)]
    lines += [usual(account='"' + "a" * pad + '"', ip='",,,"') for pad in range(64)]
    data = b"\n".join(lines) + b"\n"
    block = scanned(data)
    assert block is not None and (block.n_rows, block.n_fast) == (len(lines), 0)
    same_as_portable(data)
    values = ['"12:00:00"x', '"12:00:00" ', '"12:00:00""', '"12:00:00"0']
    same_as_portable(b"\n".join(usual(time=v) for v in values) + b"\n")
    same_as_portable(
        b"\n".join(usual(date=v.replace("12:00:00", "2024-01-01")) for v in values) + b"\n"
    )
