"""The playlog schema: defined once, everything else derives from it.

A playlog row, as SPEC section 3 draws it:

==============  ===================================  ==========
column          pandas dtype                         source key
==============  ===================================  ==========
``played_at``   ``datetime64`` (naive, or tz-aware)  ``date`` + ``time``
``account``     ``category``                         ``account``
``player_id``   ``int32``                            ``playerId``
``media_id``    ``int32``                            ``mediaId``
``media_type``  ``category``                         ``type``
``ip``          ``category``                         ``ip``
==============  ===================================  ==========
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "COLUMNS",
    "PLAYLOG_SCHEMA",
    "REQUIRED_KEYS",
    "SOURCE_KEYS",
    "conform",
    "empty_playlogs",
    "normalize_ids",
    "pandas_dtypes",
    "to_pandas",
]

#: Timestamp unit of ``played_at`` (the source has whole seconds).
TIME_UNIT = "s"

_DICT = pa.dictionary(pa.int32(), pa.string())

#: The Arrow schema of a playlog table (the Parquet cache stores exactly this).
PLAYLOG_SCHEMA = pa.schema(
    [
        pa.field("played_at", pa.timestamp(TIME_UNIT), nullable=False),
        pa.field("account", _DICT, nullable=True),
        pa.field("player_id", pa.int32(), nullable=False),
        pa.field("media_id", pa.int32(), nullable=False),
        pa.field("media_type", _DICT, nullable=True),
        pa.field("ip", _DICT, nullable=True),
    ]
)

#: Column names, in order.
COLUMNS: tuple[str, ...] = tuple(PLAYLOG_SCHEMA.names)

#: Column name -> key in a report line.
SOURCE_KEYS: dict[str, str] = {
    "account": "account",
    "player_id": "playerId",
    "media_id": "mediaId",
    "media_type": "type",
    "ip": "ip",
}

#: Keys every report line must carry.
REQUIRED_KEYS: tuple[str, ...] = ("date", "time", "playerId", "mediaId")

_CATEGORICAL = tuple(f.name for f in PLAYLOG_SCHEMA if pa.types.is_dictionary(f.type))


def pandas_dtypes(tz: str | None = None) -> dict[str, object]:
    """The pandas dtype of each column, derived from :data:`PLAYLOG_SCHEMA`.

    Examples
    --------
    >>> pandas_dtypes()["player_id"]
    dtype('int32')
    >>> str(pandas_dtypes("UTC")["played_at"])
    'datetime64[s, UTC]'
    """
    naive = pd.api.types.pandas_dtype(f"datetime64[{TIME_UNIT}]")
    played_at = pd.DatetimeTZDtype(unit=TIME_UNIT, tz=tz) if tz else naive
    dtypes: dict[str, object] = {"played_at": played_at}
    for field in PLAYLOG_SCHEMA:
        if field.name == "played_at":
            continue
        if field.name in _CATEGORICAL:
            dtypes[field.name] = pd.CategoricalDtype()
        else:
            dtypes[field.name] = pd.api.types.pandas_dtype(field.type.to_pandas_dtype())
    return dtypes


def conform(table: pa.Table) -> pa.Table:
    """``table`` in exactly :data:`PLAYLOG_SCHEMA` (column order, types, no metadata).

    Examples
    --------
    >>> conform(PLAYLOG_SCHEMA.empty_table()).schema == PLAYLOG_SCHEMA
    True
    >>> conform(pa.table({"played_at": [1]}))
    Traceback (most recent call last):
    ...
    ValueError: table: not in the playlog schema: ...
    """
    try:
        return table.select(list(COLUMNS)).cast(PLAYLOG_SCHEMA)
    except (KeyError, pa.ArrowException) as exc:
        raise ValueError(f"table: not in the playlog schema: {exc}") from exc


def to_pandas(table: pa.Table, tz: str | None = None) -> pd.DataFrame:
    """Convert an Arrow table in :data:`PLAYLOG_SCHEMA` to the playlog DataFrame.

    Without ``tz`` ``played_at`` stays naive local time; with ``tz`` the local
    wall-clock times are localized (see :func:`localize`).

    Examples
    --------
    >>> list(to_pandas(PLAYLOG_SCHEMA.empty_table()).columns) == list(COLUMNS)
    True
    """
    table = table.select(list(COLUMNS))
    df = table.to_pandas(ignore_metadata=True)
    # An all-null dictionary column may come back as object: force the dtype.
    for name in _CATEGORICAL:
        if not isinstance(df[name].dtype, pd.CategoricalDtype):
            df[name] = df[name].astype("category")
    if df["played_at"].dtype != f"datetime64[{TIME_UNIT}]":
        df["played_at"] = df["played_at"].astype(f"datetime64[{TIME_UNIT}]")
    if tz:
        df["played_at"] = localize(df["played_at"], tz)
    return df


def localize(naive: pd.Series, tz: str) -> pd.Series:
    """Give naive local wall-clock times a time zone, deterministically.

    Ambiguous times (the repeated hour when DST ends) are read as the first
    occurrence (daylight time); non-existent times (the skipped hour when DST
    starts) move to the first valid instant after the gap. Nothing is dropped
    or made NaT.

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2024-03-10 02:30:00"]))
    >>> str(localize(s, "America/New_York")[0])
    '2024-03-10 03:00:00-04:00'
    """
    first_occurrence = np.ones(len(naive), dtype=bool)
    return naive.dt.tz_localize(tz, ambiguous=first_occurrence, nonexistent="shift_forward")


def empty_playlogs(tz: str | None = None) -> pd.DataFrame:
    """An empty playlog frame with the exact columns and dtypes.

    Examples
    --------
    >>> df = empty_playlogs()
    >>> len(df), list(df.columns)
    (0, ['played_at', 'account', 'player_id', 'media_id', 'media_type', 'ip'])
    """
    return to_pandas(PLAYLOG_SCHEMA.empty_table(), tz=tz)


_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def normalize_ids(ids: Any, name: str) -> tuple[int, ...]:
    """Player or media ids as a sorted tuple of distinct ints; ``None`` or empty = all.

    Accepts one id or any iterable of integers (lists, numpy arrays, pandas
    Series); a bool, a float, a string or an id outside ``int32`` is a
    ``ValueError`` that names the argument.

    Examples
    --------
    >>> normalize_ids([3, 1, 3], "player_ids")
    (1, 3)
    >>> normalize_ids(np.array([7], dtype="int32"), "media_ids")
    (7,)
    >>> normalize_ids(["x"], "player_ids")
    Traceback (most recent call last):
    ...
    ValueError: player_ids: expected integer ids, got 'x'
    """
    if ids is None:
        return ()
    if isinstance(ids, int | np.integer):
        ids = [ids]
    if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
        raise ValueError(f"{name}: expected a list of integer ids, got {ids!r}")
    out: set[int] = set()
    for item in ids:
        if isinstance(item, bool | np.bool_) or not hasattr(item, "__index__"):
            raise ValueError(f"{name}: expected integer ids, got {item!r}")
        value = operator.index(item)
        if not _INT32_MIN <= value <= _INT32_MAX:
            raise ValueError(f"{name}: id {value} is outside the 32-bit range of ids")
        out.add(value)
    return tuple(sorted(out))
