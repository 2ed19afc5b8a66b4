"""The playlog frame as integers, shared by counts, health and audit (private module,
public names: the seam between the analysis modules).

* :class:`Times` -- ``played_at`` as int64 wall-clock and instant values;
  :func:`bounds` / :func:`range_bounds` -- ``start``/``end`` with the rules of
  ``fetch_playlogs``; :func:`whole_day` -- a bound that names a day;
  :func:`offset` -- a checked ``freq``.
* :class:`Codes` -- id values -> dense codes ``0..n-1``; :func:`id_list` -- an
  ``ids=`` argument as an int64 array.
* :func:`chunks` -- row slices, so temporaries stay small on big frames.

The counting itself (time buckets, zero-filled tallies) is in
:mod:`~fouryousee_data.analysis._tally`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset, BusinessHour, CustomBusinessHour

from fouryousee_data.schema import normalize_ids
from fouryousee_data.timerange import DateLike, is_day, resolve_range, to_bound

__all__ = [
    "CHUNK_ROWS",
    "WEEKDAYS",
    "Clock",
    "Codes",
    "IdList",
    "TimeUnit",
    "Times",
    "bounds",
    "chunks",
    "id_list",
    "offset",
    "range_bounds",
    "require_columns",
    "wall_and_instant",
    "whole_day",
]

#: An ``ids=`` argument: any iterable of ints, or None for "all".
IdList = Iterable[int] | None

#: Day-of-week labels, Monday first (``hour_weekday`` columns, opening-hours keys).
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

TimeUnit = Literal["s", "ms", "us", "ns"]

#: Rows per counting chunk: bounded temporaries, cache friendly.
CHUNK_ROWS = 1 << 19
_SMALL_SPAN = 1 << 22  # id ranges up to this are looked up in a table, not hashed
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Clock:
    """``played_at``'s dtype facts: its unit and time zone, and int64 <-> datetime conversions.

    Every engine has one (from the dtype of its equivalent pandas frame); the int64
    values it converts are wall-clock local times or true instants in that unit.
    """

    unit: TimeUnit
    tz: Any

    @classmethod
    def of(cls, df: pd.DataFrame) -> Clock:
        """The clock of a playlog frame's ``played_at`` column (checked: datetime64)."""
        if "played_at" not in df.columns:
            raise ValueError("df: expected a playlog frame with a 'played_at' column")
        col = df["played_at"]
        if not pd.api.types.is_datetime64_any_dtype(col.dtype):
            raise ValueError(f"df: 'played_at' must be datetime64, got {col.dtype}")
        return cls(cast(TimeUnit, col.dt.unit), getattr(col.dtype, "tz", None))

    @property
    def per_second(self) -> int:
        return _PER_SECOND[self.unit]

    @property
    def per_day(self) -> int:
        return 86_400 * self.per_second

    def to_int(self, ts: pd.Timestamp) -> int:
        return int((ts - pd.Timestamp(0)) // pd.Timedelta(1, self.unit))

    def ticks(self, span: pd.Timedelta) -> int:
        """``span`` in units of ``played_at`` (floored)."""
        return int(span // pd.Timedelta(1, self.unit))

    def naive(self, wall: np.ndarray) -> pd.DatetimeIndex:
        """Wall-clock int64 values as naive local datetimes."""
        return pd.DatetimeIndex(np.asarray(wall, dtype=np.int64).view(f"M8[{self.unit}]"))

    def to_index(self, values: np.ndarray, *, wall: bool) -> pd.DatetimeIndex:
        """int64 values back to datetimes (``wall``: local wall-clock, else instants)."""
        idx = self.naive(values)
        if self.tz is None:
            return idx
        if not wall:
            return idx.tz_localize("UTC").tz_convert(self.tz)
        first = np.ones(len(idx), dtype=bool)
        return idx.tz_localize(self.tz, ambiguous=first, nonexistent="shift_forward")

    def days(self, day_numbers: np.ndarray) -> pd.DatetimeIndex:
        """Day numbers (days since the epoch) as local midnights."""
        return self.to_index(np.asarray(day_numbers, dtype=np.int64) * self.per_day, wall=True)


@dataclass(frozen=True)
class Times(Clock):
    """``played_at`` of a pandas frame as int64: wall-clock local time and true instants."""

    wall: np.ndarray
    instant: np.ndarray

    @classmethod
    def of(cls, df: pd.DataFrame) -> Times:
        """The ``played_at`` column of a playlog frame, checked (datetime64, no NaT)."""
        clock = Clock.of(df)
        col = df["played_at"]
        if col.hasnans:
            raise ValueError("df: 'played_at' has missing values (NaT); drop or fill them first")
        return cls(clock.unit, clock.tz, *wall_and_instant(col))


def wall_and_instant(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A datetime64 column as int64 (wall-clock local time, true instant) in its unit."""
    tz = getattr(col.dtype, "tz", None)
    if tz is None:
        wall = col.to_numpy().view(np.int64)
        return wall, wall
    wall = col.dt.tz_localize(None).to_numpy().view(np.int64)
    instant = col.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().view(np.int64)
    return wall, instant


def offset(freq: str | BaseOffset | None) -> BaseOffset | None:
    """``freq`` as a pandas offset, checked (None stays None)."""
    if freq is None:
        return None
    try:
        parsed = to_offset(freq)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"freq: {freq!r} is not a pandas offset alias (e.g. 'h', 'D', 'W', 'MS')"
        ) from exc
    if isinstance(parsed, BusinessHour | CustomBusinessHour) or parsed.n < 1:
        raise ValueError(f"freq: {freq!r} is not supported; use a positive calendar frequency")
    return parsed


def range_bounds(
    start: DateLike | None, end: DateLike | None, tz: Any
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``start``/``end`` as naive local timestamps ``[lo, hi)`` (``fetch_playlogs`` rules);
    ``None`` for an open side. Both given: checked together (end before start is an error)."""
    if start is not None and end is not None:
        rng = resolve_range(start, end, tz=tz)
        return rng.start, rng.end
    lo = None if start is None else to_bound(start, "start", is_end=False, tz=tz)
    hi = None if end is None else to_bound(end, "end", is_end=True, tz=tz)
    return lo, hi


def bounds(
    times: Clock, start: DateLike | None, end: DateLike | None
) -> tuple[int | None, int | None]:
    """:func:`range_bounds` in ``times``' int64 wall-clock units."""
    lo, hi = range_bounds(start, end, times.tz)
    return (
        None if lo is None else times.to_int(lo),
        None if hi is None else times.to_int(hi),
    )


def whole_day(value: DateLike) -> bool:
    """True when a (valid) bound names a whole day (a date or ``"YYYY-MM-DD"``), False
    for an instant (a datetime, a Timestamp, a string with a time)."""
    return is_day(value)


def id_list(ids: IdList, name: str) -> np.ndarray | None:
    """An ``ids=`` argument as an int64 array (checked by ``normalize_ids``)."""
    if ids is None:
        return None
    return np.array(normalize_ids(ids, name), dtype=np.int64)


def require_columns(df: pd.DataFrame, columns: Iterable[str]) -> None:
    for col in columns:
        if col not in df.columns:
            raise ValueError(f"df: expected a playlog frame with a {col!r} column")


class Codes:
    """Maps id values to dense codes ``0..n-1`` (``-1`` for ids outside the universe).

    ``complete`` means every value that will be mapped is in the universe (it
    was built from the same column), so no bounds checks are needed.
    """

    def __init__(self, universe: np.ndarray, *, complete: bool = False) -> None:
        self.universe = universe
        self.n = len(universe)
        self.complete = complete
        self.lo = int(universe[0]) if self.n else 0
        hi = int(universe[-1]) if self.n else -1
        self.identity = self.n > 0 and hi - self.lo + 1 == self.n
        self.lut: np.ndarray | None = None
        if not self.identity and 0 < hi - self.lo + 1 <= max(4 * self.n, _SMALL_SPAN):
            self.lut = np.full(hi - self.lo + 1, -1, dtype=np.int64)
            self.lut[universe - self.lo] = np.arange(self.n)

    @classmethod
    def of(cls, values: np.ndarray, ids: np.ndarray | None) -> Codes:
        """Codes over ``ids``, or over every id present in ``values`` (then ``complete``)."""
        if ids is not None:
            return cls(ids)
        if len(values) == 0:
            return cls(np.empty(0, dtype=np.int64), complete=True)
        lo, hi = int(values.min()), int(values.max())
        if lo >= 0 and hi < max(4 * len(values), _SMALL_SPAN):
            universe = np.flatnonzero(np.bincount(values)).astype(np.int64)
        elif hi - lo < max(4 * len(values), _SMALL_SPAN):
            universe = np.flatnonzero(np.bincount(values.astype(np.int64) - lo)) + lo
        else:
            universe = np.unique(values).astype(np.int64)
        return cls(universe, complete=True)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        if self.n == 0:
            return np.full(len(values), -1, dtype=np.int64)
        if self.identity or self.lut is not None:
            return self._by_position(values)
        pos = np.minimum(np.searchsorted(self.universe, values), self.n - 1)
        return pos if self.complete else np.where(self.universe[pos] == values, pos, -1)

    def _by_position(self, values: np.ndarray) -> np.ndarray:
        pos = values.astype(np.int64)
        pos -= self.lo
        if self.complete:
            return pos if self.lut is None else self.lut[pos]
        inside = (pos >= 0) & (pos < (self.n if self.lut is None else len(self.lut)))
        if self.lut is None:
            return np.where(inside, pos, -1)
        return np.where(inside, self.lut[np.where(inside, pos, 0)], -1)

    def index(self, like: pd.Series, name: str) -> pd.Index:
        """The universe as an index level with ``like``'s dtype."""
        return pd.Index(self.universe, name=name).astype(like.dtype)


def chunks(n: int) -> Iterator[slice]:
    """Row slices of at most ``CHUNK_ROWS`` rows: bounded temporaries."""
    for i in range(0, n, CHUNK_ROWS):
        yield slice(i, min(i + CHUNK_ROWS, n))
