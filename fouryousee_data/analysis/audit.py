"""Proof-of-play audit: did the contracted spots play on the contracted screens every day?

The contract table
------------------
One row per campaign (a ``DataFrame``, a list of dicts, or a ``.csv`` /
``.xlsx`` / ``.json`` file read by :func:`read_contract`):

================  =========================================================
column            meaning
================  =========================================================
``campaign``      the campaign's name (unique)
``media_ids``     its medias: a list of ids or a comma string ``"12, 13"``;
                  a play of any of them counts
``player_ids``    the screens it must play on (list or comma string)
``plays_per_day`` contracted plays per screen per day, **or** ...
``plays``         ... contracted plays per screen per ``period``
``period``        ``"D"``, ``"nD"``, ``"W"`` (Monday-Sunday week), ``"MS"``
                  (calendar month) or ``"campaign"`` (the whole flight)
``start``/``end`` optional flight dates (inclusive): days outside are not audited
================  =========================================================

A per-period target is spread evenly over the period's days (700 per week is
100 per day), so partial weeks or months at the edges of the flight are
pro-rated and the daily rows always add up.

:func:`compliance` gives one row per campaign x player x day (zero-filled: a
dark day is ``delivered == 0``), with days the fetch marked provisional (late
uploads may still arrive) flagged. :func:`summary`, :func:`to_excel` and
:func:`to_pdf` (from :mod:`~fouryousee_data.analysis.audit_report`, re-exported
here) turn it into something an advertiser can be sent.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fouryousee_data.analysis._backend import PlaylogData, Playlogs, per_account
from fouryousee_data.analysis._kernel import range_bounds
from fouryousee_data.analysis.audit_report import summary, to_excel, to_pdf
from fouryousee_data.analysis.counts import per_player
from fouryousee_data.analysis.names import attach, lookup_table
from fouryousee_data.timerange import DateLike, read_bounds

__all__ = ["CONTRACT_COLUMNS", "compliance", "read_contract", "summary", "to_excel", "to_pdf"]

#: The contract table's columns, in order (see the module docstring).
CONTRACT_COLUMNS = (
    "campaign",
    "media_ids",
    "player_ids",
    "plays_per_day",
    "plays",
    "period",
    "start",
    "end",
)

_READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".csv": pd.read_csv,
    ".xlsx": pd.read_excel,
    ".json": pd.read_json,
}

_RESULT_COLUMNS = ["delivered", "contracted", "shortfall", "delivery_rate", "provisional"]


# --------------------------------------------------------------------------- contract


def read_contract(
    source: pd.DataFrame | Iterable[Mapping[str, Any]] | str | os.PathLike[str],
) -> pd.DataFrame:
    """Read and validate a contract table (see the module docstring for the columns).

    Returns the normalised table: ``media_ids`` / ``player_ids`` as sorted
    tuples of ints, ``plays_per_day`` / ``plays`` as floats (NaN when not
    used), ``period`` as given, ``start`` / ``end`` as timestamps (``NaT``
    when open). Problems are ``ValueError`` naming the column and the campaign.

    Examples
    --------
    >>> table = read_contract([{"campaign": "Summer", "media_ids": "12, 13",
    ...                         "player_ids": [1, 2], "plays": 700, "period": "W"}])
    >>> table.iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'campaign': 'Summer', 'media_ids': (12, 13), 'player_ids': (1, 2), 'plays_per_day': nan,
     'plays': 700.0, 'period': 'W', 'start': NaT, 'end': NaT}
    """
    table = _load(source)
    if "campaign" not in table.columns:
        raise ValueError("contract: missing column 'campaign'")
    if table.empty:
        raise ValueError("contract: no campaigns")
    table = table.reset_index(drop=True).reindex(columns=list(CONTRACT_COLUMNS))
    table["campaign"] = table["campaign"].astype(str)
    dupes = table["campaign"][table["campaign"].duplicated()].tolist()
    if dupes:
        raise ValueError(f"contract: campaign names must be unique, repeated: {dupes}")
    names = table["campaign"].tolist()
    for col in ("media_ids", "player_ids"):
        table[col] = [_ids(v, col, c) for v, c in zip(table[col], names, strict=True)]
    for col in ("plays_per_day", "plays"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    table["period"] = [_period(p, c) for p, c in zip(table["period"], names, strict=True)]
    for col in ("start", "end"):
        days = [_date(v, col, c) for v, c in zip(table[col], names, strict=True)]
        table[col] = pd.to_datetime(pd.Series(days, dtype=object)).astype("datetime64[s]")
    for row in table.itertuples():
        _check_target(row)
    return table[list(CONTRACT_COLUMNS)]


def _load(source: Any) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.suffix.lower() not in _READERS:
            raise ValueError(f"contract: expected a .csv, .xlsx or .json file, got {path.name!r}")
        return _READERS[path.suffix.lower()](path)
    if isinstance(source, Iterable):
        return pd.DataFrame(list(source))
    raise ValueError(f"contract: expected a DataFrame, rows or a file, got {type(source).__name__}")


def _ids(value: Any, col: str, campaign: str) -> tuple[int, ...]:
    items: Iterable[Any]
    if isinstance(value, str):
        items = [p for p in value.replace(";", ",").split(",") if p.strip()]
    elif isinstance(value, int | np.integer | float) and not pd.isna(value):
        items = [value]
    elif isinstance(value, Iterable):
        items = value
    else:
        raise ValueError(f"contract: missing {col} for campaign {campaign!r}")
    try:
        numbers = [float(str(i).strip()) for i in items]
        if any(not n.is_integer() for n in numbers):
            raise ValueError("not an integer")
        ids = tuple(sorted({int(n) for n in numbers}))
    except ValueError as exc:
        raise ValueError(
            f"contract: {col} of {campaign!r} must be integer ids, got {value!r}"
        ) from exc
    if not ids:
        raise ValueError(f"contract: {col} of {campaign!r} is empty")
    return ids


def _period_days(period: str) -> float:
    """Days in a fixed-length period (``"D"``, ``"nD"``, ``"W"``); NaN for the others."""
    if period == "W":
        return 7.0
    if period.endswith("D"):
        return float(period[:-1] or 1)
    return float("nan")


def _period(value: Any, campaign: str) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    if text == "campaign":
        return text
    upper = text.upper()
    if upper in ("D", "W", "MS"):
        return upper
    if upper.endswith("D") and upper[:-1].isdigit() and int(upper[:-1]) > 0:
        return upper
    raise ValueError(
        f"contract: period of {campaign!r} must be 'D', 'nD', 'W', 'MS' or 'campaign', "
        f"got {value!r}"
    )


def _date(value: Any, col: str, campaign: str) -> dt.date | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"contract: {col} of {campaign!r} is not a date: {value!r}") from exc


def _check_target(row: Any) -> None:
    has_daily = not np.isnan(row.plays_per_day)
    has_period = not np.isnan(row.plays) and row.period is not None
    if has_daily == has_period:
        raise ValueError(
            f"contract: campaign {row.campaign!r} needs either plays_per_day or plays + period"
        )
    target = row.plays_per_day if has_daily else row.plays
    if target < 0:
        raise ValueError(f"contract: campaign {row.campaign!r} has a negative target")
    if row.period == "campaign" and (pd.isna(row.start) or pd.isna(row.end)):
        raise ValueError(
            f"contract: campaign {row.campaign!r} with period 'campaign' needs start and end"
        )
    if not pd.isna(row.start) and not pd.isna(row.end) and row.end < row.start:
        raise ValueError(f"contract: end of {row.campaign!r} is before its start")


# --------------------------------------------------------------------------- compliance


def compliance(
    df: PlaylogData,
    contract: Any,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    dayfirst: bool = False,
    provisional_days: Iterable[DateLike] | None = None,
    players: Any = None,
) -> pd.DataFrame:
    """Delivered vs contracted plays per campaign x player x day.

    Parameters
    ----------
    df
        A playlog frame (``fetch_playlogs`` output).
    contract
        The contract table (see :func:`read_contract`).
    start, end
        The audited days (``fetch_playlogs`` rules). Each campaign is audited
        on these days within its own flight; default: the flight, else the
        frame's first to last day.
    dayfirst
        Read ``dd/mm/yyyy`` strings day-first (without it they are a ``ValueError``).
    provisional_days
        Days whose data may still grow (late uploads). Default:
        ``df.attrs["provisional_days"]``, set by ``fetch_playlogs``.
    players
        ``Client.players()`` frame or a ``Client``: adds ``player_name``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``campaign`` (sorted), ``player_id``, ``day``; columns ``delivered``
        (int64), ``contracted`` (float64), ``shortfall`` (float64, never
        negative), ``delivery_rate`` (delivered / contracted; NaN when nothing
        was contracted) and ``provisional`` (bool).

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00"]),
    ...                    "player_id": pd.array([1, 1], dtype="int32"),
    ...                    "media_id": pd.array([12, 12], dtype="int32")})
    >>> contract = [{"campaign": "Summer", "media_ids": [12], "player_ids": [1, 2],
    ...              "plays_per_day": 2}]
    >>> compliance(df, contract)[["delivered", "shortfall", "delivery_rate"]]
    ... # doctest: +NORMALIZE_WHITESPACE
                                  delivered  shortfall  delivery_rate
    campaign player_id day
    Summer   1         2024-01-01          2        0.0            1.0
             2         2024-01-01          0        2.0            0.0
    """
    start, end = read_bounds(start, end, dayfirst=dayfirst)
    table = read_contract(contract)
    return per_account(
        df,
        lambda source, _: _compliance(source, table, start, end, provisional_days, players),
    )


def _compliance(
    source: Playlogs,
    table: pd.DataFrame,
    start: DateLike | None,
    end: DateLike | None,
    provisional_days: Iterable[DateLike] | None,
    players: Any,
) -> pd.DataFrame:
    """:func:`compliance` of one account's playlogs."""
    if provisional_days is None:
        provisional_days = source.attrs.get("provisional_days", ())
    provisional = {_date(d, "provisional_days", "") for d in provisional_days}
    parts = [_campaign(source, row, start, end, provisional) for row in table.itertuples()]
    result = pd.concat(parts).sort_index(level="campaign", sort_remaining=False, kind="stable")
    if players is not None:
        result.insert(0, "player_name", _player_names(result, lookup_table(players, "players")))
    return result


def _player_names(result: pd.DataFrame, players: pd.DataFrame) -> np.ndarray:
    """``player_name`` of each row (``"unknown player 17"`` when not in ``players``)."""
    if "name" not in players.columns:
        raise ValueError("players: expected a 'name' column")
    names = pd.DataFrame(index=result.index)
    attach(names, "player_id", players, {"name": "player_name"}, "player")
    return names["player_name"].to_numpy(dtype=object)


def _flight(
    source: Playlogs, row: Any, start: DateLike | None, end: DateLike | None
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The campaign's audited interval ``[lo, hi)`` as naive local timestamps."""
    clock = source.clock
    lo, hi = range_bounds(start, end, clock.tz)
    if not pd.isna(row.start):
        lo = max(lo, row.start) if lo is not None else row.start
    if not pd.isna(row.end):
        flight_end = row.end + pd.Timedelta(days=1)
        hi = min(hi, flight_end) if hi is not None else flight_end
    if lo is None or hi is None:
        span = source.span()
        if span is None:
            return None
        first, last = clock.naive(np.array(span)).floor("D")
        lo = lo if lo is not None else first
        hi = hi if hi is not None else last + pd.Timedelta(days=1)
    return (lo, hi) if lo < hi else None


def _campaign(
    source: Playlogs, row: Any, start: DateLike | None, end: DateLike | None, provisional: set[Any]
) -> pd.DataFrame:
    bounds = _flight(source, row, start, end)
    if bounds is None:
        index = pd.MultiIndex.from_arrays([[], [], []], names=["campaign", "player_id", "day"])
        return pd.DataFrame({c: [] for c in _RESULT_COLUMNS}, index=index).astype(
            {
                "delivered": "int64",
                "contracted": float,
                "shortfall": float,
                "delivery_rate": float,
                "provisional": bool,
            }
        )
    lo, hi = bounds
    counts = per_player(
        source, freq="D", start=lo, end=hi, player_ids=row.player_ids, media_ids=row.media_ids
    )["plays"]
    days = pd.DatetimeIndex(counts.index.get_level_values("period"))
    delivered = counts.to_numpy()
    contracted = _daily_target(row, days, lo, hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(contracted > 0, delivered / np.where(contracted > 0, contracted, 1), np.nan)
    out = pd.DataFrame(
        {
            "delivered": delivered.astype(np.int64),
            "contracted": contracted,
            "shortfall": np.maximum(contracted - delivered, 0.0),
            "delivery_rate": rate,
            "provisional": [d.date() in provisional for d in days],
        },
        index=pd.MultiIndex.from_arrays(
            [
                np.full(len(counts), row.campaign, dtype=object),
                counts.index.get_level_values("player_id"),
                days.rename("day"),
            ],
            names=["campaign", "player_id", "day"],
        ),
    )
    return out


def _daily_target(
    row: Any, days: pd.DatetimeIndex, lo: pd.Timestamp, hi: pd.Timestamp
) -> np.ndarray:
    """The contracted plays of each day (a per-period target spread over its days)."""
    if not np.isnan(row.plays_per_day):
        return np.full(len(days), float(row.plays_per_day))
    if row.period == "MS":
        return row.plays / np.asarray(days.days_in_month, dtype=float)
    if row.period == "campaign":
        flight = (row.end - row.start).days + 1  # checked to have both
        return np.full(len(days), row.plays / flight)
    return np.full(len(days), row.plays / _period_days(row.period))
