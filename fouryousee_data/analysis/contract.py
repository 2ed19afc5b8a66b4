"""The contract of a proof-of-play audit: which medias, on which screens, how often, when.

The contract table
------------------
One row per campaign, or several rows per campaign to give its screens different
targets (a ``DataFrame``, a list of dicts, or a ``.csv`` (``,`` or ``;``, UTF-8 or
ISO-8859-1) / ``.xlsx`` / ``.json`` file read by :func:`read_contract`):

================  =========================================================
column            meaning
================  =========================================================
``campaign``      the campaign's name
``media_ids``     its medias: a list of ids or a comma string ``"12, 13"``;
                  a play of any of them counts
``player_ids``    the screens it must play on (list or comma string)
``plays_per_day`` contracted plays per screen per day, **or** ...
``plays``         ... contracted plays per screen per ``period``
``period``        ``"D"``, ``"nD"``, ``"W"`` (Monday-Sunday week), ``"MS"``
                  (calendar month) or ``"campaign"`` (the whole flight)
``start``/``end`` optional flight dates (inclusive): days outside are not audited;
                  ISO, or ``dd/mm/yyyy`` with ``dayfirst=True``; missing ones
                  may come from the medias' schedule (``compliance(medias=)``)
``account``       optional: the row applies to this account only (frames of
                  several accounts); empty: to every account
================  =========================================================

A screen appears at most once per campaign (and account): two rows of one
campaign list different players, each with its own target.

A per-period target is spread evenly over the period's days (700 per week is
100 per day), so partial weeks or months at the edges of the flight are
pro-rated and the daily rows always add up.


:func:`read_contract` reads and checks it; :func:`flights_from_schedule` fills missing
flight dates from the medias' schedule. :mod:`~fouryousee_data.analysis.audit` audits
playlogs against it.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fouryousee_data.timerange import read_bound

__all__ = [
    "CONTRACT_COLUMNS",
    "as_day",
    "flights_from_schedule",
    "period_days",
    "read_contract",
]

CONTRACT_COLUMNS = (
    "campaign",
    "media_ids",
    "player_ids",
    "plays_per_day",
    "plays",
    "period",
    "start",
    "end",
    "account",
)

_READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".csv": lambda path: _read_csv(path),
    ".xlsx": pd.read_excel,
    ".json": pd.read_json,
}


def _read_csv(path: Path) -> pd.DataFrame:
    """A contract CSV as Excel writes it: ``,`` or ``;``, UTF-8 (BOM or not) or ISO-8859-1."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    header = text.split("\n", 1)[0]
    sep = ";" if header.count(";") > header.count(",") else ","
    return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)


def read_contract(
    source: pd.DataFrame | Iterable[Mapping[str, Any]] | str | os.PathLike[str],
    *,
    dayfirst: bool = False,
) -> pd.DataFrame:
    """Read and validate a contract table (see the module docstring for the columns).

    Returns the normalised table: ``media_ids`` / ``player_ids`` as sorted
    tuples of ints, ``plays_per_day`` / ``plays`` as floats (NaN when not
    used), ``period`` as given, ``start`` / ``end`` as timestamps (``NaT``
    when open; strings ISO, or ``dd/mm/yyyy`` with ``dayfirst=True``), ``account``
    (``None``: every account). Problems are ``ValueError`` naming the column and
    the campaign.

    Examples
    --------
    >>> table = read_contract([{"campaign": "Summer", "media_ids": "12, 13",
    ...                         "player_ids": [1, 2], "plays": 700, "period": "W"}])
    >>> table.iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'campaign': 'Summer', 'media_ids': (12, 13), 'player_ids': (1, 2), 'plays_per_day': nan,
     'plays': 700.0, 'period': 'W', 'start': NaT, 'end': NaT, 'account': None}
    """
    table = _load(source)
    if "campaign" not in table.columns:
        raise ValueError("contract: missing column 'campaign'")
    if table.empty:
        raise ValueError("contract: no campaigns")
    table = table.reset_index(drop=True).reindex(columns=list(CONTRACT_COLUMNS))
    table["campaign"] = table["campaign"].astype(str).str.strip()
    names = table["campaign"].tolist()
    table["account"] = [_account(v) for v in table["account"]]
    for col in ("media_ids", "player_ids"):
        table[col] = [_ids(v, col, c) for v, c in zip(table[col], names, strict=True)]
    _check_screens_once(table)
    for col in ("plays_per_day", "plays"):
        values = table[col].replace("", None) if table[col].dtype == object else table[col]
        table[col] = pd.to_numeric(values, errors="coerce").astype(float)
    table["period"] = [_period(p, c) for p, c in zip(table["period"], names, strict=True)]
    for col in ("start", "end"):
        days = [as_day(v, col, c, dayfirst) for v, c in zip(table[col], names, strict=True)]
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


def period_days(period: str) -> float:
    """Days in a fixed-length period (``"D"``, ``"nD"``, ``"W"``); NaN for the others.

    Examples
    --------
    >>> period_days("W"), period_days("3D")
    (7.0, 3.0)
    """
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


def as_day(value: Any, col: str, campaign: str, dayfirst: bool = False) -> dt.date | None:
    """A contract date (``None`` when empty); a bad one is a ``ValueError`` naming it.

    Examples
    --------
    >>> as_day("01/02/2024", "start", "C", dayfirst=True)
    datetime.date(2024, 2, 1)
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, str) and not value.strip():
        return None
    try:
        when = read_bound(value, col, dayfirst=dayfirst)
    except ValueError as exc:
        raise ValueError(f"contract: {col} of {campaign!r}: {exc}") from exc
    return when.date() if isinstance(when, pd.Timestamp) else when


def _account(value: Any) -> str | None:
    """An account name, or ``None`` (empty: every account)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _check_screens_once(table: pd.DataFrame) -> None:
    """A screen is listed at most once per campaign and account (an empty account
    covers them all)."""
    seen: dict[tuple[str, int], list[str | None]] = {}
    rows = zip(table["campaign"], table["player_ids"], table["account"], strict=True)
    for campaign, players, account in rows:
        for player in players:
            seen.setdefault((campaign, player), []).append(account)
    for (campaign, player), accounts in seen.items():
        if len(accounts) > 1 and (None in accounts or len(set(accounts)) < len(accounts)):
            raise ValueError(
                f"contract: player {player} is listed twice for campaign {campaign!r} "
                "(a screen's target must be unique: give each row of a campaign its own players)"
            )


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


def flights_from_schedule(table: pd.DataFrame, medias: pd.DataFrame) -> pd.DataFrame:
    """``start``/``end`` missing in a contract, taken from the campaign's medias'
    ``schedule_start``/``schedule_end`` (the first start, the last end); a campaign
    whose medias have no schedule stays open.

    Examples
    --------
    >>> table = read_contract([{"campaign": "C", "media_ids": "7, 8", "player_ids": "1",
    ...                         "plays_per_day": 10}])
    >>> medias = pd.DataFrame({"media_id": [7, 8],
    ...     "schedule_start": pd.to_datetime(["2024-03-04", "2024-03-01"]),
    ...     "schedule_end": pd.to_datetime(["2024-03-20", pd.NaT])})
    >>> flights_from_schedule(table, medias)[["start", "end"]].iloc[0].tolist()
    [Timestamp('2024-03-01 00:00:00'), Timestamp('2024-03-20 00:00:00')]
    """
    missing = {"media_id", "schedule_start", "schedule_end"} - set(medias.columns)
    if missing:
        raise ValueError(
            f"medias: no {', '.join(sorted(missing))} column (Client.medias() gives them)"
        )
    flights = medias.set_index("media_id")[["schedule_start", "schedule_end"]]
    out = table.copy()
    for label in table.index:
        media_ids: Any = table.at[label, "media_ids"]
        known = flights.reindex(list(media_ids))
        starts, ends = known["schedule_start"].dropna(), known["schedule_end"].dropna()
        start: Any = table.at[label, "start"]
        end: Any = table.at[label, "end"]
        if pd.isna(start) and len(starts):
            out.at[label, "start"] = starts.min().floor("D")
        if pd.isna(end) and len(ends):
            out.at[label, "end"] = ends.max().floor("D")
    for row in out.itertuples():
        _check_target(row)
    return out
