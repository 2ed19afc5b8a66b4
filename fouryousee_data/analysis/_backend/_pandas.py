"""The pandas engine: numpy over the frame's columns, chunk by chunk (private module).

Counting works on integer codes, not on a pandas ``groupby``: each row's ids and
time slot become one flat int64 cell of the plan's zero-filled grid, counted chunk
by chunk so the temporaries stay small. That is several times faster than a
``groupby`` and gives the zero rows for free. The Dask engine runs
:func:`plan_rows` on each partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from fouryousee_data.analysis._backend import Playlogs
from fouryousee_data.analysis._kernel import CHUNK_ROWS, Clock, Codes, Times, chunks
from fouryousee_data.analysis._tally import NAT, Cells, Plan
from fouryousee_data.analysis._windows import Scan, Windows

__all__ = ["PandasPlaylogs", "PlanRows", "frame_accounts", "plan_rows"]

_DENSE_PRESENCE = 1 << 26  # a bool presence array up to 64 MB, else sorted unique keys


class PandasPlaylogs(Playlogs):
    """A playlog DataFrame as an analysis engine."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self.schema = df.iloc[:0]
        self.clock = Clock.of(df)
        self.attrs: dict[str, Any] = {str(k): v for k, v in df.attrs.items()}

    @cached_property
    def times(self) -> Times:
        return Times.of(self.df)

    def accounts(self) -> list[Any]:
        return frame_accounts(self.df)

    def only(self, account: Any) -> PandasPlaylogs:
        col = self.df["account"]
        return PandasPlaylogs(self.df[col.isna() if account is None else col == account])

    def codes(self, col: str, ids: np.ndarray | None) -> Codes:
        return Codes.of(self.df[col].to_numpy(), ids)

    def span(self) -> tuple[int, int] | None:
        wall = self.times.wall
        return (int(wall.min()), int(wall.max())) if len(wall) else None

    def count(self, plan: Plan) -> Cells:
        df, times = self.df, self.times
        counter = _Counter(plan)
        days = _ActiveDays(plan) if plan.active_days else None
        others = _Distinct(plan, df[plan.distinct].to_numpy()) if plan.distinct else None
        values = {col: df[col].to_numpy() for col in (*plan.keys, *plan.filters)}
        for part in chunks(len(df)):
            rows = plan_rows(plan, times.wall[part], times.instant[part], values, part)
            # the counter first: the others reuse the rows' buffers (memory stays one chunk's)
            counter.add(rows)
            if days is not None:
                days.add(rows)
            if others is not None:
                others.add(part, rows)
            del rows  # before the next chunk's rows exist: one chunk's temporaries at a time
        cells = counter.cells()
        if days is not None:
            cells.active_days = days.column(cells.plays)
        if others is not None:
            cells.distinct = others.column()
        return cells

    def scan(self, windows: Windows, min_len: int) -> Scan:
        times = self.times
        wid = windows.window_of(times, times.wall, self.df["player_id"].to_numpy())
        ok = wid >= 0
        wid, t = wid[ok], times.wall[ok]
        if len(t) > 1 and not bool((t[1:] >= t[:-1]).all()):
            order = np.lexsort((t, wid))
        else:
            order = np.argsort(wid, kind="stable")  # already in time order
        return Scan.of_sorted(len(windows.start), wid[order], t[order])


def frame_accounts(df: pd.DataFrame) -> list[Any]:
    """The distinct accounts of a pandas frame, sorted, None last when some rows have
    none (none at all: no column)."""
    if "account" not in df.columns:
        return []
    col = df["account"]
    found = sorted(str(a) for a in col.dropna().unique())
    return [*found, None] if col.hasnans else found


# --------------------------------------------------------------------------- counting


@dataclass(frozen=True)
class PlanRows:
    """The rows of one chunk that count: their cell, id key, time slot and instant."""

    cell: np.ndarray  # id_key * n_buckets + bucket
    id_key: np.ndarray  # the key columns' codes, combined
    slot: np.ndarray
    instant: np.ndarray
    kept: np.ndarray | None  # which of the chunk's rows these are (None: all of them)


def plan_rows(
    plan: Plan,
    wall: np.ndarray,
    instant: np.ndarray,
    values: dict[str, np.ndarray],
    part: slice = slice(None),
) -> PlanRows:
    """Which rows of ``wall``/``instant`` (a chunk ``part`` of the ``values`` columns)
    the plan counts, and in which cells."""
    lo, hi = plan.window
    conditions = []
    if lo is not None:
        conditions.append(wall >= lo)
    if hi is not None:
        conditions.append(wall < hi)
    id_key = np.zeros(len(wall), dtype=np.int64)
    for col in plan.keys:
        codes = plan.codes[col]
        c = codes(values[col][part])
        if not codes.complete:
            conditions.append(c >= 0)
        id_key *= codes.n
        id_key += c
    conditions += [plan.codes[col](values[col][part]) >= 0 for col in plan.filters]
    kept = np.logical_and.reduce(conditions) if conditions else None
    slot = wall - plan.axis.origin
    slot //= plan.axis.step
    if kept is not None:
        id_key, slot, instant = id_key[kept], slot[kept], instant[kept]
    cell = id_key * plan.axis.n_buckets
    cell += plan.axis.bucket(slot)
    return PlanRows(cell, id_key, slot, instant, kept)


class _Presence:
    """Which keys occurred: a dense bool array when small enough, else sorted unique keys."""

    def __init__(self, size: int) -> None:
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


class _Counter:
    """Plays per cell, with the first and last play (as instants) when the plan wants them."""

    def __init__(self, plan: Plan) -> None:
        self.size = plan.size
        self.plays = np.zeros(plan.size, dtype=np.int64)
        self.first = self.last = None
        if plan.first_last:
            self.first = np.full(plan.size, np.iinfo(np.int64).max, dtype=np.int64)
            self.last = np.full(plan.size, NAT, dtype=np.int64)

    def add(self, rows: PlanRows) -> None:
        if self.size <= CHUNK_ROWS:  # a bincount per chunk is cheap
            self.plays += np.bincount(rows.cell, minlength=self.size)
        else:
            np.add.at(self.plays, rows.cell, 1)
        if self.first is not None and self.last is not None:
            np.minimum.at(self.first, rows.cell, rows.instant)
            np.maximum.at(self.last, rows.cell, rows.instant)

    def cells(self) -> Cells:
        return Cells(self.plays, self.first, self.last)


class _ActiveDays:
    """Days with at least one play per cell (slots are days; a bucket may span several)."""

    def __init__(self, plan: Plan) -> None:
        self.axis = plan.axis
        one_day_buckets = plan.axis.bucket_of_slot is None
        self.seen = None if one_day_buckets else _Presence(plan.n_ids * plan.axis.n_slots)

    def add(self, rows: PlanRows) -> None:
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


class _Distinct:
    """How many distinct values of another id column (e.g. medias per player) per cell."""

    def __init__(self, plan: Plan, values: np.ndarray) -> None:
        self.values = values
        self.codes = Codes.of(values, None)
        self.size = plan.size
        self.seen = _Presence(plan.size * self.codes.n)

    def add(self, part: slice, rows: PlanRows) -> None:
        """Count ``rows``' values; their ``cell`` buffer becomes the (cell, value) key in place."""
        codes = self.codes(self.values[part])
        pair = rows.cell
        pair *= self.codes.n
        pair += codes if rows.kept is None else codes[rows.kept]
        self.seen.add(pair)

    def column(self) -> np.ndarray:
        cells = self.seen.keys() // self.codes.n
        return np.bincount(cells, minlength=self.size).astype(np.int64)
