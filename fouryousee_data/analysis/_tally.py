"""Zero-filled counting over ids x time buckets: the engine behind ``per_*`` (private
module, public names).

Counting works on integer codes, not on a pandas ``groupby``: ``played_at`` is
floored to integer slots (days, or ``freq`` ticks), the ids become dense codes,
everything is combined into one int64 cell per row and counted over the
zero-filled product of ids x periods, chunk by chunk so the temporaries stay
small. That is several times faster than a ``groupby`` and gives the zero rows
for free.

* :class:`Axis` -- rows -> time slots -> buckets (the ``period`` level).
* :class:`Grid` -- one chunk of rows -> :class:`Rows`, flat cells over
  ids x buckets; :class:`Counter` (plays, first/last played),
  :class:`ActiveDays` and :class:`Distinct` accumulate per cell;
  :class:`Presence` -- which keys occurred. :func:`tally` runs them.

Period semantics
----------------
* ``period`` is the **start** of each bucket, in the frame's time (naive local
  time, or tz-aware when ``played_at`` is). Buckets are local calendar buckets.
* Sub-day frequencies (``"h"``, ``"15min"``, ...) and ``"nD"`` are aligned to
  midnight of the range's first day (like ``resample(origin="start_day")``).
  They are wall-clock buckets: on a tz-aware frame the hour skipped when DST
  starts has no bucket, the hour repeated when it ends is one bucket.
* Anchored frequencies follow pandas' ``resample`` bins, labelled by their first
  day: ``"W"`` (``W-SUN``, weeks ending Sunday) gives Monday-starting weeks;
  ``"MS"`` and ``"ME"`` both give calendar months labelled by the 1st.
* With ``start``/``end`` every bucket touching the range appears (the first and
  last may be partial); without them the buckets run from the frame's first to
  its last play, zero-filled in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset, Day, Tick

from fouryousee_data.analysis._kernel import (
    CHUNK_ROWS,
    Codes,
    IdList,
    Times,
    TimeUnit,
    bounds,
    chunks,
    id_list,
    offset,
    require_columns,
)
from fouryousee_data.timerange import DateLike

__all__ = ["ActiveDays", "Axis", "Counter", "Distinct", "Grid", "Presence", "Rows", "tally"]

_DENSE_PRESENCE = 1 << 26  # a bool presence array up to 64 MB, else sorted unique keys
_END_ANCHORED = {"W", "ME", "QE", "YE", "BME", "BQE", "BYE"}  # resample closes these right
_NAT = np.iinfo(np.int64).min


# --------------------------------------------------------------------------- time axis


@dataclass(frozen=True)
class Axis:
    """Rows -> slots (``(wall - origin) // step``) -> buckets (``bucket_of_slot``)."""

    origin: int
    step: int
    n_slots: int
    bucket_of_slot: np.ndarray | None  # None: one slot per bucket
    periods: np.ndarray | None  # bucket starts as wall-clock ints; None without freq
    daily_slots: bool  # slots are calendar days (active_days can be counted)

    @property
    def n_buckets(self) -> int:
        if self.periods is not None:
            return len(self.periods)
        return 1

    def bucket(self, slot: np.ndarray) -> np.ndarray:
        return slot if self.bucket_of_slot is None else self.bucket_of_slot[slot]

    @classmethod
    def of(cls, times: Times, freq: BaseOffset | None, lo: int | None, hi: int | None) -> Axis:
        """The buckets of ``freq`` over ``[lo, hi)`` (default: the frame's first to last play)."""
        per_day, wall = times.per_day, times.wall
        first = lo if lo is not None else (int(wall.min()) if len(wall) else None)
        last = hi - 1 if hi is not None else (int(wall.max()) if len(wall) else None)
        if first is None or last is None or last < first:
            first, last = 0, -1  # no bucket
        if isinstance(freq, Tick):
            return cls._ticks(times, freq, first, last)
        day0 = first // per_day * per_day
        n_days = max(last // per_day - first // per_day + 1, 0)
        days = day0 + np.arange(n_days) * per_day
        if freq is None:
            return cls(day0, per_day, n_days, np.zeros(n_days, dtype=np.int64), None, True)
        if isinstance(freq, Day):
            if freq.n == 1:
                return cls(day0, per_day, n_days, None, days, True)
            return cls(day0, per_day, n_days, np.arange(n_days) // freq.n, days[:: freq.n], True)
        starts = _anchored_starts(days, freq, times.unit)
        changes = np.flatnonzero(np.diff(starts)) + 1
        bucket = np.zeros(n_days, dtype=np.int64)
        bucket[changes] = 1
        periods = starts[np.concatenate([[0], changes])] if n_days else starts
        return cls(day0, per_day, n_days, np.cumsum(bucket), periods, True)

    @classmethod
    def _ticks(cls, times: Times, freq: Tick, first: int, last: int) -> Axis:
        """Sub-day (or ``nD`` as ticks) buckets aligned to the first day's midnight."""
        day0 = first // times.per_day * times.per_day
        step = int(freq.nanos // pd.Timedelta(1, times.unit).value)
        if step < 1:
            raise ValueError(f"freq: {freq.freqstr!r} is finer than played_at's unit")
        origin = day0 + (first - day0) // step * step
        n = max((last - origin) // step + 1, 0)
        starts = origin + np.arange(n) * step
        exists = _wall_exists(starts, times)
        if exists.all():
            return cls(origin, step, n, None, starts, False)
        # buckets inside a DST gap hold no play (aware times never fall there): drop them
        return cls(origin, step, n, np.cumsum(exists) - 1, starts[exists], False)


def _wall_exists(starts: np.ndarray, times: Times) -> np.ndarray:
    """Which wall-clock bucket starts exist in the frame's time zone (all when naive)."""
    if times.tz is None or len(starts) == 0:
        return np.ones(len(starts), dtype=bool)
    naive = pd.DatetimeIndex(starts.view(f"M8[{times.unit}]"))
    first = np.ones(len(starts), dtype=bool)
    aware = naive.tz_localize(times.tz, ambiguous=first, nonexistent="NaT")
    return ~np.asarray(aware.isna())


def _anchored_starts(days: np.ndarray, freq: BaseOffset, unit: TimeUnit) -> np.ndarray:
    """The first day of the bucket each day falls in, for anchored offsets (W, MS, ME, ...)."""
    if len(days) == 0:
        return days
    index = pd.DatetimeIndex(days.view(f"M8[{unit}]"))
    base = freq.base
    if freq.rule_code.split("-")[0] in _END_ANCHORED:
        lo, hi = base.rollforward(index[0]) - freq, base.rollforward(index[-1]) + freq
        ends = pd.date_range(lo, hi, freq=freq, unit=unit).normalize()
        starts = ends[ends.searchsorted(index, side="left") - 1] + pd.Timedelta(days=1)
    else:
        anchors = pd.date_range(base.rollback(index[0]), index[-1], freq=freq, unit=unit)
        starts = anchors.normalize()[anchors.searchsorted(index, side="right") - 1]
    return starts.as_unit(unit).to_numpy().view(np.int64)


# --------------------------------------------------------------------------- counting


class Presence:
    """Which keys occurred: a dense bool array when small enough, else sorted unique keys."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.dense = np.zeros(size, dtype=bool) if size <= _DENSE_PRESENCE else None
        self.parts: list[np.ndarray] = []

    def add(self, keys: np.ndarray) -> None:
        if self.dense is not None:
            self.dense[keys] = True
        else:
            self.parts.append(np.unique(keys))

    def keys(self) -> np.ndarray:
        if self.dense is not None:
            return np.flatnonzero(self.dense)
        return np.unique(np.concatenate(self.parts)) if self.parts else np.empty(0, np.int64)


@dataclass(frozen=True)
class Rows:
    """The rows of one chunk that count: their cell, id key, time slot and instant."""

    cell: np.ndarray  # id_key * n_buckets + bucket
    id_key: np.ndarray  # the key columns' codes, combined
    slot: np.ndarray
    instant: np.ndarray
    kept: np.ndarray | None  # which of the chunk's rows these are (None: all of them)


class Grid:
    """Ids (the key columns as dense codes) x buckets, one flat int64 cell per pair.

    ``ids`` maps a column to its ``ids=`` argument: a key column's list is
    exactly its universe (zeros included), another column's list filters rows.
    """

    def __init__(
        self,
        df: pd.DataFrame,
        keys: Sequence[str],
        ids: dict[str, IdList],
        times: Times,
        axis: Axis,
        window: tuple[int | None, int | None],
    ) -> None:
        lists = {col: id_list(v, f"{col}s") for col, v in ids.items()}
        self.keys = list(keys)
        # codes only where they are used: the keys and the filters that have a list
        self.filters = [col for col in ids if col not in keys and lists[col] is not None]
        self.values = {col: df[col].to_numpy() for col in (*keys, *self.filters)}
        self.codes = {col: Codes.of(self.values[col], lists.get(col)) for col in self.values}
        self.times, self.axis, self.window = times, axis, window
        self.n_ids = int(np.prod([self.codes[k].n for k in keys]))
        self.size = self.n_ids * axis.n_buckets

    def rows(self, part: slice) -> Rows:
        wall = self.times.wall[part]
        lo, hi = self.window
        conditions = []
        if lo is not None:
            conditions.append(wall >= lo)
        if hi is not None:
            conditions.append(wall < hi)
        id_key = np.zeros(len(wall), dtype=np.int64)
        for col in self.keys:
            codes = self.codes[col]
            c = codes(self.values[col][part])
            if not codes.complete:
                conditions.append(c >= 0)
            id_key *= codes.n
            id_key += c
        conditions += [self.codes[col](self.values[col][part]) >= 0 for col in self.filters]
        kept = np.logical_and.reduce(conditions) if conditions else None
        slot = wall - self.axis.origin
        slot //= self.axis.step
        instant = self.times.instant[part]
        if kept is not None:
            id_key, slot, instant = id_key[kept], slot[kept], instant[kept]
        cell = id_key * self.axis.n_buckets
        cell += self.axis.bucket(slot)
        return Rows(cell, id_key, slot, instant, kept)

    def index(self, df: pd.DataFrame) -> pd.Index:
        """The product of the key columns' universes (x ``period`` with a ``freq``)."""
        levels = [self.codes[k].index(df[k], k) for k in self.keys]
        if self.axis.periods is not None:
            levels.append(self.times.to_index(self.axis.periods, wall=True).rename("period"))
        if len(levels) == 1:
            return levels[0]
        return pd.MultiIndex.from_product(levels)


class Counter:
    """Plays per cell, with the first and last play (as instants)."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.plays = np.zeros(grid.size, dtype=np.int64)
        self.first = np.full(grid.size, np.iinfo(np.int64).max, dtype=np.int64)
        self.last = np.full(grid.size, _NAT, dtype=np.int64)

    def add(self, rows: Rows) -> None:
        if self.grid.size <= CHUNK_ROWS:  # a bincount per chunk is cheap
            self.plays += np.bincount(rows.cell, minlength=self.grid.size)
        else:
            np.add.at(self.plays, rows.cell, 1)
        np.minimum.at(self.first, rows.cell, rows.instant)
        np.maximum.at(self.last, rows.cell, rows.instant)

    def columns(self) -> dict[str, Any]:
        self.first[self.plays == 0] = _NAT
        times = self.grid.times
        return {
            "plays": self.plays,
            "first_played": times.to_index(self.first, wall=False),
            "last_played": times.to_index(self.last, wall=False),
        }


class ActiveDays:
    """Days with at least one play per cell (slots are days; a bucket may span several)."""

    def __init__(self, grid: Grid) -> None:
        self.axis = grid.axis
        one_day_buckets = grid.axis.bucket_of_slot is None
        self.seen = None if one_day_buckets else Presence(grid.n_ids * grid.axis.n_slots)

    def add(self, rows: Rows) -> None:
        """Count ``rows``' days; their ``id_key`` buffer becomes the (id, day) key in place."""
        if self.seen is not None:
            day_key = rows.id_key
            day_key *= self.axis.n_slots
            day_key += rows.slot
            self.seen.add(day_key)

    def column(self, plays: np.ndarray) -> np.ndarray:
        if self.seen is None:
            return (plays > 0).astype(np.int64)
        seen = self.seen.keys()
        cell = seen // self.axis.n_slots * self.axis.n_buckets
        cell += self.axis.bucket(seen % self.axis.n_slots)
        return np.bincount(cell, minlength=len(plays)).astype(np.int64)


class Distinct:
    """How many distinct values of another id column (e.g. medias per player) per cell."""

    def __init__(self, grid: Grid, values: np.ndarray) -> None:
        self.values = values
        self.codes = Codes.of(values, None)
        self.size = grid.size
        self.seen = Presence(grid.size * self.codes.n)

    def add(self, part: slice, rows: Rows) -> None:
        """Count ``rows``' values; their ``cell`` buffer becomes the (cell, value) key in place."""
        codes = self.codes(self.values[part])
        pair = rows.cell
        pair *= self.codes.n
        pair += codes if rows.kept is None else codes[rows.kept]
        self.seen.add(pair)

    def column(self) -> np.ndarray:
        cells = self.seen.keys() // self.codes.n
        return np.bincount(cells, minlength=self.size).astype(np.int64)


def tally(
    df: pd.DataFrame,
    keys: Sequence[str],
    *,
    freq: str | BaseOffset | None,
    start: DateLike | None,
    end: DateLike | None,
    ids: dict[str, IdList],
    distinct: str | None = None,
) -> pd.DataFrame:
    """Zero-filled counts over ``keys`` x periods (the engine behind ``per_*``).

    Columns: ``plays``, ``first_played``, ``last_played``, ``active_days``
    (unless the buckets are shorter than a day) and, with ``distinct``,
    ``distinct_<name>s`` (e.g. ``distinct_medias`` for ``"media_id"``).
    """
    freq_offset = offset(freq)
    times = Times.of(df)
    lo, hi = bounds(times, start, end)
    require_columns(df, [*keys, *ids, *([distinct] if distinct else [])])
    grid = Grid(df, keys, ids, times, Axis.of(times, freq_offset, lo, hi), (lo, hi))
    counter = Counter(grid)
    days = ActiveDays(grid) if grid.axis.daily_slots else None
    others = Distinct(grid, df[distinct].to_numpy()) if distinct else None
    for part in chunks(len(df)):
        rows = grid.rows(part)
        # the counter first: the others reuse the rows' buffers (memory stays one chunk's)
        counter.add(rows)
        if days is not None:
            days.add(rows)
        if others is not None:
            others.add(part, rows)
        del rows  # before the next chunk's rows exist: one chunk's temporaries at a time
    out = counter.columns()
    if days is not None:
        out["active_days"] = days.column(counter.plays)
    if distinct and others is not None:
        out[f"distinct_{distinct.removesuffix('_id')}s"] = others.column()
    return pd.DataFrame(out, index=grid.index(df))
