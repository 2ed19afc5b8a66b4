"""Proof-of-play audit: did the contracted spots play on the contracted screens every day?

The contract (which medias, on which screens, how many plays, when) is the table
:mod:`~fouryousee_data.analysis.contract` describes and :func:`read_contract` reads:
one row per campaign, or several to give its screens different targets.

:func:`compliance` gives one row per campaign x player x day (zero-filled: a
dark day is ``delivered == 0``), with days the fetch marked provisional (late
uploads may still arrive) flagged. :func:`summary`, :func:`to_excel` and
:func:`to_pdf` (from :mod:`~fouryousee_data.analysis.audit_report`, re-exported
here) turn it into something an advertiser can be sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from fouryousee_data.analysis._backend import PlaylogData, Playlogs, per_account
from fouryousee_data.analysis._kernel import range_bounds
from fouryousee_data.analysis.audit_report import (
    campaign_totals_text,
    summary,
    to_excel,
    to_pdf,
)
from fouryousee_data.analysis.contract import (
    CONTRACT_COLUMNS,
    as_day,
    flights_from_schedule,
    period_days,
    read_contract,
)
from fouryousee_data.analysis.counts import per_player
from fouryousee_data.analysis.names import attach, lookup_table
from fouryousee_data.timerange import DateLike, read_bounds

__all__ = [
    "CONTRACT_COLUMNS",
    "campaign_totals_text",
    "compliance",
    "flights_from_schedule",
    "read_contract",
    "summary",
    "to_excel",
    "to_pdf",
]

_RESULT_COLUMNS = ["delivered", "contracted", "shortfall", "delivery_rate", "provisional"]


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
    medias: Any = None,
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
    medias
        ``Client.medias()`` frame (with ``schedule_start``/``schedule_end``) or a
        ``Client``: a campaign without ``start``/``end`` takes its flight from its
        medias' schedule (the first start to the last end of its medias).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``campaign`` (sorted), ``player_id``, ``day`` (and ``account`` first
        when the frame holds several accounts); columns ``delivered``
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
    table = read_contract(contract, dayfirst=dayfirst)
    if medias is not None:
        table = flights_from_schedule(table, lookup_table(medias, "medias"))

    def one(source: Playlogs, account: Any) -> pd.DataFrame:
        rows = _rows_of(table, source, account)
        return _compliance(source, rows, start, end, provisional_days, players)

    return per_account(df, one)


def _rows_of(table: pd.DataFrame, source: Playlogs, account: Any) -> pd.DataFrame:
    """The contract rows of one account: those without ``account`` and its own."""
    if table["account"].isna().all():
        return table
    if account is None:  # one account in the frame (or none named): its name, if any
        names = [a for a in source.accounts() if a is not None and not pd.isna(a)]
        account = names[0] if len(names) == 1 else None
    return table[table["account"].isna() | (table["account"] == account)]


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
    provisional = {as_day(d, "provisional_days", "") for d in provisional_days}
    parts = [_campaign(source, row, start, end, provisional) for row in table.itertuples()]
    result = pd.concat(parts or [_empty()]).sort_index(kind="stable")
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
        return _empty()
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


def _empty() -> pd.DataFrame:
    """A result without rows, with its index levels and dtypes."""
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
    return np.full(len(days), row.plays / period_days(row.period))
