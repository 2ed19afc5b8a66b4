"""Zero-filled counting over ids x time buckets, whatever the engine (private module,
public names).

Counting works on integer codes, not on a pandas ``groupby``: ``played_at`` is
floored to integer slots (days, or ``freq`` ticks), the ids become dense codes,
and every (ids, bucket) pair is one flat int64 *cell* of a zero-filled grid.

* :class:`Axis` -- rows -> time slots -> buckets (the ``period`` level).
* :class:`Plan` -- what one count asks, independent of the engine: the key columns'
  universes (:class:`~fouryousee_data.analysis._kernel.Codes`), the id filters, the
  axis, the time window, the wanted columns. Engines count a plan into :class:`Cells`
  (the pandas engine densely, chunk by chunk; DuckDB and Dask as a small sparse table
  per (ids, slot) that :meth:`Cells.from_sparse` scatters into the grid), and
  :meth:`Plan.frame` turns the cells into the result.

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

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset, Day, Tick

from fouryousee_data.analysis._kernel import Clock, Codes, TimeUnit

__all__ = ["NAT", "Axis", "Cells", "Plan"]

_END_ANCHORED = {"W", "ME", "QE", "YE", "BME", "BQE", "BYE"}  # resample closes these right
#: The int64 of ``NaT`` (an empty cell's first/last play).
NAT = np.iinfo(np.int64).min
_MONDAY = 4  # 1970-01-05, the first Monday after the epoch (day number)


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
    cycle: int = 0  # > 0: bucket = slot mod cycle (hour x weekday), no lookup

    @property
    def n_buckets(self) -> int:
        if self.cycle:
            return self.cycle
        if self.periods is not None:
            return len(self.periods)
        return 1

    def bucket(self, slot: np.ndarray) -> np.ndarray:
        if self.cycle:
            return slot % self.cycle
        return slot if self.bucket_of_slot is None else self.bucket_of_slot[slot]

    @classmethod
    def weekly(cls, clock: Clock) -> Axis:
        """Hours of the week: bucket ``weekday * 24 + hour`` (Monday 0), any range."""
        per_hour = clock.per_day // 24
        return cls(_MONDAY * clock.per_day, per_hour, 0, None, None, False, cycle=7 * 24)

    @classmethod
    def of(
        cls,
        times: Clock,
        freq: BaseOffset | None,
        lo: int | None,
        hi: int | None,
        span: tuple[int, int] | None,
    ) -> Axis:
        """The buckets of ``freq`` over ``[lo, hi)``; an open side is taken from ``span``,
        the frame's first and last play as wall-clock ints (None: no rows)."""
        per_day = times.per_day
        first = lo if lo is not None else (span[0] if span else None)
        last = hi - 1 if hi is not None else (span[1] if span else None)
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
    def _ticks(cls, times: Clock, freq: Tick, first: int, last: int) -> Axis:
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


def _wall_exists(starts: np.ndarray, times: Clock) -> np.ndarray:
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


# --------------------------------------------------------------------------- plan and cells


@dataclass(frozen=True)
class Plan:
    """One count, independent of the engine: ids x buckets, the rows that count, the columns.

    ``codes`` holds every key column's universe and every filter column's list; a
    ``Codes`` that is not ``complete`` came from an ``ids=`` list, so rows must be
    restricted to it (:meth:`lists`). ``window`` is ``[lo, hi)`` in wall-clock ints.
    """

    keys: tuple[str, ...]
    codes: dict[str, Codes]
    axis: Axis
    window: tuple[int | None, int | None]
    filters: tuple[str, ...] = ()
    distinct: str | None = None
    first_last: bool = True

    @property
    def n_ids(self) -> int:
        return int(np.prod([self.codes[k].n for k in self.keys]))

    @property
    def size(self) -> int:
        return self.n_ids * self.axis.n_buckets

    @property
    def active_days(self) -> bool:
        return self.axis.daily_slots

    def lists(self) -> dict[str, np.ndarray]:
        """The columns whose rows must be in a list (``ids=`` given), and the lists."""
        cols = (*self.keys, *self.filters)
        return {c: self.codes[c].universe for c in cols if not self.codes[c].complete}

    def id_key(self, table: pd.DataFrame) -> np.ndarray:
        """The key columns' ids of each row of ``table`` as one combined code (-1: not
        counted)."""
        n = len(table)
        key = np.zeros(n, dtype=np.int64)
        ok = np.ones(n, dtype=bool)
        for col in self.keys:
            codes = self.codes[col]
            c = codes(table[col].to_numpy())
            ok &= c >= 0
            key *= codes.n
            key += c
        return np.where(ok, key, -1)

    def index(self, schema: pd.DataFrame, clock: Clock) -> pd.Index:
        """The product of the key columns' universes (x ``period`` with a ``freq``)."""
        levels = [self.codes[k].index(schema[k], k) for k in self.keys]
        if self.axis.periods is not None:
            levels.append(clock.to_index(self.axis.periods, wall=True).rename("period"))
        if len(levels) == 1:
            return levels[0]
        return pd.MultiIndex.from_product(levels)

    def frame(self, cells: Cells, schema: pd.DataFrame, clock: Clock) -> pd.DataFrame:
        """The counts as the result frame (``plays``, ``first_played``, ...)."""
        out: dict[str, Any] = {"plays": cells.plays}
        if cells.first is not None and cells.last is not None:
            cells.first[cells.plays == 0] = NAT
            out["first_played"] = clock.to_index(cells.first, wall=False)
            out["last_played"] = clock.to_index(cells.last, wall=False)
        if cells.active_days is not None:
            out["active_days"] = cells.active_days
        if self.distinct is not None and cells.distinct is not None:
            out[f"distinct_{self.distinct.removesuffix('_id')}s"] = cells.distinct
        return pd.DataFrame(out, index=self.index(schema, clock))


@dataclass
class Cells:
    """Dense per-cell results of a :class:`Plan` (None: not asked)."""

    plays: np.ndarray
    first: np.ndarray | None = None
    last: np.ndarray | None = None
    active_days: np.ndarray | None = None
    distinct: np.ndarray | None = field(default=None)

    @classmethod
    def from_sparse(
        cls, plan: Plan, slots: pd.DataFrame, buckets: pd.DataFrame | None = None
    ) -> Cells:
        """Scatter an engine's small tables into the grid.

        ``slots``: one row per (keys, ``slot``) with plays (``plays``, and ``first`` /
        ``last`` instants when the plan wants them); ``buckets``: one row per (keys,
        ``bucket``) with ``distinct`` values of ``plan.distinct``.
        """
        key = plan.id_key(slots)
        keep = key >= 0
        slot = slots["slot"].to_numpy(dtype=np.int64)[keep]
        cell = key[keep] * plan.axis.n_buckets + plan.axis.bucket(slot)
        plays = slots["plays"].to_numpy(dtype=np.int64)[keep]
        out = cls(np.zeros(plan.size, dtype=np.int64))
        np.add.at(out.plays, cell, plays)
        if plan.first_last:
            out.first = np.full(plan.size, np.iinfo(np.int64).max, dtype=np.int64)
            out.last = np.full(plan.size, NAT, dtype=np.int64)
            np.minimum.at(out.first, cell, slots["first"].to_numpy(dtype=np.int64)[keep])
            np.maximum.at(out.last, cell, slots["last"].to_numpy(dtype=np.int64)[keep])
        if plan.active_days:  # one sparse row per (ids, day) with plays: count them per cell
            out.active_days = np.bincount(cell[plays > 0], minlength=plan.size).astype(np.int64)
        if plan.distinct is not None and buckets is not None:
            key = plan.id_key(buckets)
            keep = key >= 0
            cell = key[keep] * plan.axis.n_buckets + buckets["bucket"].to_numpy(np.int64)[keep]
            out.distinct = np.zeros(plan.size, dtype=np.int64)
            np.add.at(out.distinct, cell, buckets["distinct"].to_numpy(np.int64)[keep])
        return out
