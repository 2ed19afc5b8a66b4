"""The careful path: a block line by line with :mod:`json`, the definition of a valid playlog.

A block every faster engine declined comes here, in file order, with the
number of its first line: the first line that is not a valid playlog raises
:class:`~fouryousee_data.errors.InvalidPlaylogError` naming that line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from fouryousee_data import schema
from fouryousee_data.errors import InvalidPlaylogError
from fouryousee_data.parse._arrow import convert
from fouryousee_data.parse._block import JSON_WS, RAW_SCHEMA, STRING_COLUMNS, Columns, excerpt
from fouryousee_data.timerange import is_iso_date, is_iso_time

__all__ = ["check_line", "parse_lines"]

Invalid = Callable[[str], Exception]

# Digits to "9": the shape of a date or time, to tell a wrong format from an impossible value.
_SHAPE = str.maketrans("0123456789", "9" * 10)


def parse_lines(block: memoryview, first_line: int) -> Columns:
    """The rows of a block, checked line by line; ``first_line`` is its first line's number."""
    rows: dict[str, list[Any]] = {key: [] for key in RAW_SCHEMA.names}
    for number, line in enumerate(bytes(block).split(b"\n")[:-1], start=first_line):
        if not line.strip(JSON_WS):
            continue
        for key, value in check_line(line, number).items():
            rows[key].append(value)
    return convert(pa.RecordBatch.from_pydict(rows, schema=RAW_SCHEMA))


def check_line(line: bytes, number: int) -> dict[str, Any]:
    """One line's values by report key; InvalidPlaylogError unless a valid playlog."""

    def invalid(message: str) -> InvalidPlaylogError:
        return InvalidPlaylogError(message, number, excerpt(line))

    obj = _json_object(line, invalid)
    for key in schema.REQUIRED_KEYS:
        if obj.get(key) is None:
            raise invalid(f"missing {key!r}")
    row = {
        "date": _check_date(obj["date"], invalid),
        "time": _check_time(obj["time"], invalid),
        "playerId": _check_id(obj, "playerId", invalid),
        "mediaId": _check_id(obj, "mediaId", invalid),
    }
    for key in STRING_COLUMNS.values():
        row[key] = _check_string(obj, key, invalid)
    return row


def _json_object(line: bytes, invalid: Invalid) -> dict[str, Any]:
    # surrogateescape: bytes that are not UTF-8 are only an error where a value is kept
    text = line.decode("utf-8", "surrogateescape")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also an int over 4300 digits
        raise invalid(f"not valid JSON ({getattr(exc, 'msg', exc)})") from exc
    if not isinstance(obj, dict):
        raise invalid("not a JSON object")
    return obj


def _check_date(value: Any, invalid: Invalid) -> str:
    if is_iso_date(value):
        return str(value)
    if isinstance(value, str) and value.translate(_SHAPE) == "9999-99-99":
        raise invalid(f"impossible date {value!r}")
    raise invalid(f"'date' must be YYYY-MM-DD, got {value!r}")


def _check_time(value: Any, invalid: Invalid) -> str:
    if is_iso_time(value):
        return str(value)
    if isinstance(value, str) and value.translate(_SHAPE) == "99:99:99":
        raise invalid(f"impossible time {value!r}")
    raise invalid(f"'time' must be HH:MM:SS, got {value!r}")


def _check_id(obj: dict[str, Any], key: str, invalid: Invalid) -> int:
    value = obj[key]
    if type(value) is not int:
        raise invalid(f"{key!r} must be an integer, got {value!r}")
    if not schema.INT32_RANGE[0] <= value <= schema.INT32_RANGE[1]:
        raise invalid(f"{key!r} is out of the int32 range: {value}")
    return value


def _check_string(obj: dict[str, Any], key: str, invalid: Invalid) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{key!r} must be a string or null, got {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise invalid(f"{key!r} is not valid UTF-8") from exc
    return value
