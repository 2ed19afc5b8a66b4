"""Screen health: silent intervals inside opening hours, and uptime per player per day.

A screen that plays nothing for a while during opening hours is dark (off,
frozen, offline or without content). The unit is the **opening window** of one
player on one local day: ``[day + open, day + close)`` (a ``close`` at or
before ``open`` runs past midnight into the next day; ``open == close`` is the
whole day). Inside each window, a *gap* is a silent interval of at least
``min_gap`` between two plays, or between the window's edges and the first /
last play; a window without any play is one gap as long as the window.

Intervals are measured between play start times (a play's own duration is not
known from the playlog).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from fouryousee_data.analysis._backend import PlaylogData, Playlogs, per_account
from fouryousee_data.analysis._kernel import (
    WEEKDAYS,
    Clock,
    IdList,
    bounds,
    id_list,
    require_columns,
    whole_day,
)
from fouryousee_data.analysis._windows import Silences, Windows
from fouryousee_data.timerange import DateLike, read_bounds

__all__ = ["DEFAULT_OPENING_HOURS", "OpeningHours", "Timeline", "gaps", "timeline", "uptime"]

#: Opening hours used when none are given: 08:00 to 22:00, local time.
DEFAULT_OPENING_HOURS: tuple[str, str] = ("08:00", "22:00")

#: What ``opening_hours=`` accepts (see :func:`gaps`).
OpeningHours = tuple[Any, Any] | Mapping[Any, Any] | pd.DataFrame | None


def gaps(
    df: PlaylogData,
    min_gap: str | pd.Timedelta | dt.timedelta = "30min",
    opening_hours: OpeningHours = DEFAULT_OPENING_HOURS,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    dayfirst: bool = False,
    player_ids: IdList = None,
) -> pd.DataFrame:
    """Silent intervals of at least ``min_gap`` inside each player's opening hours.

    Parameters
    ----------
    df
        A playlog frame.
    min_gap
        The shortest silence reported (a ``Timedelta`` or a string like ``"30min"``).
    opening_hours
        ``(open, close)`` as ``"HH:MM"`` strings or ``datetime.time`` (default
        08:00-22:00); ``None`` for 24 hours; a weekly schedule
        ``{"Mon-Fri": ("08:00", "22:00"), "Sat": ("09:00", "14:00")}`` (days
        not listed are closed: no window, no gaps); or per player: a mapping
        ``{player_id: hours}`` (hours in any of the forms above) or a DataFrame
        with ``player_id``, ``open``, ``close`` and optionally ``weekday``
        (``"Mon"``, ``"Mon-Fri"``). Players not listed get the default.
    start, end
        The days to check (``fetch_playlogs`` rules); default: the frame's
        first to last day. Dates pick whole opening windows (an overnight
        window of the last day runs past ``end``: fetch the next day too);
        instants clip the windows.
    dayfirst
        Read ``dd/mm/yyyy`` strings day-first (without it they are a ``ValueError``).
    player_ids
        The players to check; default: every player in ``df``. A listed player
        without plays is dark the whole time.

    Returns
    -------
    pandas.DataFrame
        One row per gap: ``player_id``, ``day`` (the window's local day),
        ``gap_start``, ``gap_end`` (``played_at``'s dtype) and ``duration``
        (Timedelta), sorted by player and time.

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 08:10", "2024-01-01 21:00"]),
    ...                    "player_id": pd.array([1, 1], dtype="int32"),
    ...                    "media_id": pd.array([7, 7], dtype="int32")})
    >>> gaps(df)[["gap_start", "gap_end", "duration"]]
                gap_start             gap_end        duration
    0 2024-01-01 08:10:00 2024-01-01 21:00:00 0 days 12:50:00
    1 2024-01-01 21:00:00 2024-01-01 22:00:00 0 days 01:00:00
    """
    start, end = read_bounds(start, end, dayfirst=dayfirst)
    return timeline(df, min_gap, opening_hours, start=start, end=end, player_ids=player_ids).gaps


def uptime(
    df: PlaylogData,
    min_gap: str | pd.Timedelta | dt.timedelta = "30min",
    opening_hours: OpeningHours = DEFAULT_OPENING_HOURS,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    dayfirst: bool = False,
    player_ids: IdList = None,
) -> pd.DataFrame:
    """Uptime per player per day: the share of opening hours not inside a :func:`gaps` gap.

    Arguments as in :func:`gaps`. Every player x day appears (a dark day is
    ``uptime_pct == 0``; a closed day has ``open_s == 0`` and NaN uptime).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``player_id`` and ``day``; columns ``opens`` / ``closes``
        (the window, ``played_at``'s dtype), ``plays`` (in the window),
        ``open_s`` (window length, seconds), ``silent_s`` (seconds in gaps),
        ``gaps`` (how many) and ``uptime_pct`` (0-100; NaN when there is no
        window: a closed day, or clipped away by ``start``/``end``).

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.date_range("2024-01-01 08:00", periods=57, freq="15min"),
    ...                    "player_id": pd.array([1] * 57, dtype="int32"),
    ...                    "media_id": pd.array([7] * 57, dtype="int32")})
    >>> uptime(df, opening_hours=("08:00", "22:00"))["uptime_pct"].tolist()
    [100.0]
    >>> uptime(df, min_gap="10min")["gaps"].tolist()
    [56]
    """
    start, end = read_bounds(start, end, dayfirst=dayfirst)
    return timeline(df, min_gap, opening_hours, start=start, end=end, player_ids=player_ids).uptime


class Timeline(NamedTuple):
    """What one scan of the opening windows finds: :func:`gaps` and :func:`uptime`."""

    gaps: pd.DataFrame
    uptime: pd.DataFrame


def timeline(
    df: PlaylogData,
    min_gap: str | pd.Timedelta | dt.timedelta = "30min",
    opening_hours: OpeningHours = DEFAULT_OPENING_HOURS,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    dayfirst: bool = False,
    player_ids: IdList = None,
) -> Timeline:
    """Gaps and uptime from one scan: ``(gaps(...), uptime(...))`` at the cost of one.

    Arguments as in :func:`gaps`; ``plot.player_timeline`` draws both.

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 08:10", "2024-01-01 21:00"]),
    ...                    "player_id": pd.array([1, 1], dtype="int32"),
    ...                    "media_id": pd.array([7, 7], dtype="int32")})
    >>> found = timeline(df)
    >>> len(found.gaps), found.uptime["gaps"].tolist()
    (2, [2])
    """
    start, end = read_bounds(start, end, dayfirst=dayfirst)
    gap = _min_gap(min_gap)
    return per_account(
        df,
        lambda source, _: _timeline(source, gap, opening_hours, start, end, player_ids),
    )


def _timeline(
    source: Playlogs,
    gap: pd.Timedelta,
    opening_hours: OpeningHours,
    start: DateLike | None,
    end: DateLike | None,
    player_ids: IdList,
) -> Timeline:
    clock = source.clock
    require_columns(source.schema, ["player_id"])
    lo, hi = bounds(clock, start, end)
    # a date-only bound picks whole days (an overnight window may run past it);
    # an instant clips the windows
    clip_lo = None if start is None or whole_day(start) else lo
    clip_hi = None if end is None or whole_day(end) else hi
    players = source.codes("player_id", id_list(player_ids, "player_ids"))
    spec = _schedule(opening_hours, players.universe) * clock.per_second
    span = source.span() if lo is None or hi is None else None
    first = lo if lo is not None else (span[0] if span else None)
    last = hi - 1 if hi is not None else (span[1] if span else None)
    win = Windows.of(clock, players, spec, (first, last), (clip_lo, clip_hi))
    min_len = clock.ticks(gap)
    scan = source.scan(win, min_len)
    silences = scan.silences(win, min_len)
    universe = players.index(source.schema["player_id"], "player_id")
    return Timeline(
        _gap_rows(clock, win, silences, universe),
        _window_rows(clock, win, silences, scan.plays, universe),
    )


# --------------------------------------------------------------------------- opening hours


def _seconds_of_day(value: Any, name: str) -> int:
    """``"HH:MM[:SS]"`` / ``datetime.time`` -> seconds after midnight (``"24:00"`` allowed)."""
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, str):
        parts = value.strip().split(":")
        if 2 <= len(parts) <= 3 and all(p.isdigit() for p in parts):
            h, m, s = (int(p) for p in [*parts, "0"][:3])
            if (h < 24 and m < 60 and s < 60) or (h, m, s) == (24, 0, 0):
                return h * 3600 + m * 60 + s
    raise ValueError(f"opening_hours: {name} {value!r} is not a time of day like '08:00'")


def _window(hours: Any) -> tuple[int, int]:
    """``(open, close)`` -> (open offset, window length) in seconds; None is 24 hours."""
    if hours is None:
        return 0, 86_400
    if isinstance(hours, str) or not isinstance(hours, tuple | list) or len(hours) != 2:
        raise ValueError(f"opening_hours: expected an (open, close) pair, got {hours!r}")
    open_s = _seconds_of_day(hours[0], "open") % 86_400
    close_s = _seconds_of_day(hours[1], "close")
    length = (close_s - open_s) % 86_400 or 86_400
    return open_s, length


def _weekdays(key: Any) -> list[int]:
    """``"Sat"`` or ``"Mon-Fri"`` (wrapping ``"Fri-Mon"`` allowed) -> weekday numbers."""
    names = [p.strip()[:3].title() for p in str(key).split("-")]
    if not 1 <= len(names) <= 2 or any(n not in WEEKDAYS for n in names):
        raise ValueError(f"opening_hours: {key!r} is not a weekday like 'Mon' or 'Mon-Fri'")
    first, last = (WEEKDAYS.index(n) for n in (names[0], names[-1]))
    return [(first + i) % 7 for i in range((last - first) % 7 + 1)]


def _is_weekly(hours: Any) -> bool:
    return isinstance(hours, Mapping) and all(isinstance(k, str) for k in hours)


def _week(hours: Any) -> np.ndarray:
    """(7, 2) (open offset, length) per weekday; a weekly mapping closes the days it omits."""
    if not _is_weekly(hours):
        return np.tile(np.array(_window(hours), dtype=np.int64), (7, 1))
    week = np.zeros((7, 2), dtype=np.int64)
    for key, value in hours.items():
        week[_weekdays(key)] = _window(value)
    return week


def _schedule(opening_hours: OpeningHours, players: np.ndarray) -> np.ndarray:
    """(n_players, 7, 2) array of (open offset, length) seconds per weekday."""
    if isinstance(opening_hours, pd.DataFrame):
        opening_hours = _table_hours(opening_hours)
    if isinstance(opening_hours, Mapping) and not _is_weekly(opening_hours):
        default = _week(DEFAULT_OPENING_HOURS)
        table = {int(k): _week(v) for k, v in opening_hours.items()}
        weeks = [table.get(int(p), default) for p in players]
        return np.stack(weeks) if weeks else np.zeros((0, 7, 2), dtype=np.int64)
    return np.tile(_week(opening_hours), (len(players), 1, 1))


def _table_hours(table: pd.DataFrame) -> dict[int, Any]:
    """A ``player_id, open, close[, weekday]`` table -> ``{player_id: hours}``."""
    missing = {"player_id", "open", "close"} - set(table.columns)
    if missing:
        raise ValueError(f"opening_hours: missing columns {sorted(missing)}")
    if "weekday" not in table.columns:
        rows = table[["player_id", "open", "close"]].itertuples(index=False)
        return {int(p): (o, c) for p, o, c in rows}
    hours: dict[int, dict[str, Any]] = {}
    for p, o, c, w in table[["player_id", "open", "close", "weekday"]].itertuples(index=False):
        hours.setdefault(int(p), {})[str(w)] = (o, c)
    return hours


# --------------------------------------------------------------------------- rows


def _min_gap(value: Any) -> pd.Timedelta:
    try:
        gap = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"min_gap: {value!r} is not a duration like '30min'") from exc
    if pd.isna(gap) or gap <= pd.Timedelta(0):
        raise ValueError(f"min_gap: must be a positive duration, got {value!r}")
    return gap


def _gap_rows(times: Clock, win: Windows, found: Silences, universe: pd.Index) -> pd.DataFrame:
    """One row per gap (what :func:`gaps` returns)."""
    n_days = max(win.n_days, 1)
    rows = pd.DataFrame(
        {
            "player_id": universe[found.wid // n_days],
            "day": times.days(win.day0 + found.wid % n_days),
            "gap_start": times.to_index(found.start, wall=True),
            "gap_end": times.to_index(found.end, wall=True),
        }
    )
    rows["duration"] = rows["gap_end"] - rows["gap_start"]
    return rows


def _window_rows(
    times: Clock, win: Windows, found: Silences, plays: np.ndarray, universe: pd.Index
) -> pd.DataFrame:
    """One row per player x day (what :func:`uptime` returns)."""
    n = len(win.start)
    open_len = (win.end - win.start).astype(float)
    silent = np.bincount(found.wid, weights=found.end - found.start, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(open_len > 0, 100.0 * (1.0 - silent / open_len), np.nan)
    index = pd.MultiIndex.from_product(
        [universe, times.days(win.day0 + np.arange(win.n_days)).rename("day")]
    )
    second = times.per_second
    return pd.DataFrame(
        {
            "opens": times.to_index(win.start, wall=True),
            "closes": times.to_index(win.end, wall=True),
            "plays": plays,
            "open_s": open_len / second,
            "silent_s": silent / second,
            "gaps": np.bincount(found.wid, minlength=n).astype(np.int64),
            "uptime_pct": pct,
        },
        index=index,
    )
