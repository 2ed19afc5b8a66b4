"""The Dask engine: a graph over the partitions, on the active ``distributed`` client if
any (private module).

Each partition runs the pandas engine's row arithmetic (:func:`._pandas.plan_rows`,
:meth:`Windows.window_of`) and keeps only the columns a question needs; Dask's own
``groupby`` aggregates them across partitions (and workers), and the silences come
from a shuffle by window (all plays of one window on one partition) then a sort. Only
the aggregated answers are computed back.
"""

from __future__ import annotations

from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from fouryousee_data.analysis._backend import Playlogs
from fouryousee_data.analysis._backend._pandas import frame_accounts, plan_rows
from fouryousee_data.analysis._kernel import Clock, Codes, Times
from fouryousee_data.analysis._tally import Cells, Plan
from fouryousee_data.analysis._windows import Scan, Windows

__all__ = ["DaskPlaylogs"]


class DaskPlaylogs(Playlogs):
    """A ``dask.dataframe.DataFrame`` of playlogs as an analysis engine."""

    def __init__(self, ddf: dd.DataFrame) -> None:
        self.ddf = ddf
        self.schema = ddf._meta.iloc[:0]
        self.clock = Clock.of(self.schema)
        self.attrs: dict[str, Any] = dict(getattr(ddf, "attrs", {}) or {})

    def accounts(self) -> list[Any]:
        if "account" not in self.ddf.columns:
            return []
        found = self.ddf["account"].map_partitions(_distinct_accounts, meta=("account", object))
        return frame_accounts(pd.DataFrame({"account": found.compute().to_numpy()}))

    def only(self, account: Any) -> DaskPlaylogs:
        col = self.ddf["account"]
        return DaskPlaylogs(self.ddf[col.isna() if account is None else col == account])

    def codes(self, col: str, ids: np.ndarray | None) -> Codes:
        if ids is not None:
            return Codes(ids)
        found = self.ddf[col].dropna().unique().compute()
        return Codes(np.sort(np.asarray(found, dtype=np.int64)), complete=True)

    def span(self) -> tuple[int, int] | None:
        meta = pd.DataFrame({"lo": pd.Series(dtype="int64"), "hi": pd.Series(dtype="int64")})
        parts = self.ddf[["played_at"]].map_partitions(_span, meta=meta).compute()
        return (int(parts["lo"].min()), int(parts["hi"].max())) if len(parts) else None

    def count(self, plan: Plan) -> Cells:
        meta = _rows_meta(self.schema, plan)
        rows = self.ddf.map_partitions(_plan_part, plan, meta=meta)
        keys = [*plan.keys, "slot"]
        spec = {"instant": ["count", "min", "max"] if plan.first_last else ["count"]}
        slots = rows[[*keys, "instant"]].groupby(keys).agg(spec)
        if plan.distinct is None:
            (slots,) = dask.compute(slots)
            return Cells.from_sparse(plan, _flat(slots))
        distinct = rows[[*plan.keys, "bucket", "d"]].groupby([*plan.keys, "bucket"])["d"]
        slots, buckets = dask.compute(slots, distinct.nunique())
        return Cells.from_sparse(plan, _flat(slots), buckets.rename("distinct").reset_index())

    def scan(self, windows: Windows, min_len: int) -> Scan:
        meta = pd.DataFrame({"wid": pd.Series(dtype="int64"), "wall": pd.Series(dtype="int64")})
        rows = self.ddf[["played_at", "player_id"]].map_partitions(
            _windowed, windows, self.clock, meta=meta
        )
        stats = rows.groupby("wid")["wall"].agg(["count", "min", "max"])
        pairs_meta = pd.DataFrame({k: pd.Series(dtype="int64") for k in ("wid", "start", "end")})
        inner = rows.shuffle(on="wid").map_partitions(_inner, min_len, meta=pairs_meta)
        stats, inner = dask.compute(stats, inner)
        found = {
            "wid": stats.index.to_numpy(dtype=np.int64),
            "plays": stats["count"].to_numpy(dtype=np.int64),
            "first": stats["min"].to_numpy(dtype=np.int64),
            "last": stats["max"].to_numpy(dtype=np.int64),
        }
        pairs = {k: inner[k].to_numpy(dtype=np.int64) for k in ("wid", "start", "end")}
        return Scan.of_sparse(len(windows.start), found, pairs)


# --------------------------------------------------------------------------- per partition


def _distinct_accounts(col: pd.Series) -> pd.Series:
    values = col.astype(object)
    uniq = list(values.dropna().unique()) + ([None] if values.isna().any() else [])
    return pd.Series(uniq, dtype=object, name="account")


def _span(part: pd.DataFrame) -> pd.DataFrame:
    times = Times.of(part)  # checks: datetime64, no NaT
    if not len(times.wall):
        return pd.DataFrame({"lo": pd.Series(dtype="int64"), "hi": pd.Series(dtype="int64")})
    return pd.DataFrame({"lo": [int(times.wall.min())], "hi": [int(times.wall.max())]})


def _rows_meta(schema: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    cols = {k: schema[k] for k in plan.keys}
    cols |= {c: pd.Series(dtype="int64") for c in ("slot", "instant")}
    if plan.distinct is not None:
        cols |= {"bucket": pd.Series(dtype="int64"), "d": schema[plan.distinct]}
    return pd.DataFrame(cols)


def _plan_part(part: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The partition's rows the plan counts: key values, slot, instant (bucket, d)."""
    times = Times.of(part)
    values = {col: part[col].to_numpy() for col in (*plan.keys, *plan.filters)}
    rows = plan_rows(plan, times.wall, times.instant, values)
    kept = slice(None) if rows.kept is None else rows.kept
    cols: dict[str, Any] = {k: part[k].to_numpy()[kept] for k in plan.keys}
    cols |= {"slot": rows.slot, "instant": rows.instant}
    if plan.axis.cycle:
        cols["slot"] = plan.axis.bucket(rows.slot)
    if plan.distinct is not None:
        cols["bucket"] = plan.axis.bucket(rows.slot)
        cols["d"] = part[plan.distinct].to_numpy()[kept]
    return pd.DataFrame(cols)


def _flat(slots: pd.DataFrame) -> pd.DataFrame:
    """A ``groupby(...).agg({"instant": [...]})`` result as flat columns."""
    slots.columns = ["plays", "first", "last"][: len(slots.columns)]
    return slots.reset_index()


def _windowed(part: pd.DataFrame, windows: Windows, clock: Clock) -> pd.DataFrame:
    times = Times.of(part)
    wid = windows.window_of(clock, times.wall, part["player_id"].to_numpy())
    ok = wid >= 0
    return pd.DataFrame({"wid": wid[ok], "wall": times.wall[ok]})


def _inner(part: pd.DataFrame, min_len: int) -> pd.DataFrame:
    """Silences >= ``min_len`` between consecutive plays of a window (whole windows here)."""
    part = part.sort_values(["wid", "wall"])
    wid, t = part["wid"].to_numpy(), part["wall"].to_numpy()
    ok = (wid[1:] == wid[:-1]) & (t[1:] - t[:-1] >= min_len)
    return pd.DataFrame({"wid": wid[1:][ok], "start": t[:-1][ok], "end": t[1:][ok]})
