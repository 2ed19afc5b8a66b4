"""The Dask engine: a graph over the partitions, on the active ``distributed`` client if
any (private module).

Each partition runs the pandas engine's row arithmetic (:func:`._pandas.plan_rows`,
:meth:`Windows.window_of`) and keeps only the columns a question needs; Dask's own
``groupby`` aggregates them across partitions (and workers), and the silences come
from a shuffle by window (all plays of one window on one partition) then a sort. Only
the aggregated answers are computed back.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, partial
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

__all__ = ["DaskPlaylogs", "partitions_mapped"]


def partitions_mapped(
    ddf: dd.DataFrame, per_part: Callable[[pd.DataFrame], pd.DataFrame]
) -> dd.DataFrame:
    """``per_part`` on every partition, lazily (the categories it makes differ between
    partitions: the result's are unknown, as a Parquet scan's are)."""
    from dask.dataframe.utils import clear_known_categories

    run = partial(_text_categories, per_part)
    return ddf.map_partitions(run, meta=clear_known_categories(run(ddf._meta)))


def _text_categories(
    per_part: Callable[[pd.DataFrame], pd.DataFrame], part: pd.DataFrame
) -> pd.DataFrame:
    """``per_part(part)`` with empty categories typed as text, so that partitions' categories
    can be united (a column that is all missing in one partition has untyped categories)."""
    out = per_part(part)
    for col in out.columns:
        dtype = out[col].dtype
        if isinstance(dtype, pd.CategoricalDtype) and len(dtype.categories) == 0:
            out[col] = out[col].cat.set_categories(pd.Index([], dtype="str"))
    return out


class DaskPlaylogs(Playlogs):
    """A ``dask.dataframe.DataFrame`` of playlogs as an analysis engine."""

    def __init__(self, ddf: dd.DataFrame) -> None:
        self.ddf = ddf
        self.schema = ddf._meta.iloc[:0]
        self.clock = Clock.of(self.schema)
        self.attrs: dict[str, Any] = dict(getattr(ddf, "attrs", {}) or {})

    @cached_property
    def _profile(self) -> dict[str, Any]:
        """Accounts, distinct ids and first/last play: one pass, each partition's answer
        small (no shuffle)."""
        parts = [dask.delayed(_profile_part)(part) for part in self.ddf.to_delayed()]
        found = dask.compute(*parts)
        out: dict[str, Any] = {}
        for key in ("account", "player_id", "media_id"):
            values = [f[key] for f in found if key in f]
            if key in self.ddf.columns:
                out[key] = np.concatenate(values) if values else np.empty(0)
        spans = [f["span"] for f in found if f["span"] is not None]
        out["span"] = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None
        return out

    def accounts(self) -> list[Any]:
        if "account" not in self.ddf.columns:
            return []
        found = self._profile["account"]
        return frame_accounts(pd.DataFrame({"account": pd.Series(found, dtype=object)}))

    def only(self, account: Any) -> DaskPlaylogs:
        col = self.ddf["account"]
        return DaskPlaylogs(self.ddf[col.isna() if account is None else col == account])

    def codes(self, col: str, ids: np.ndarray | None) -> Codes:
        if ids is not None:
            return Codes(ids)
        found = self._profile.get(col)
        if found is None:
            found = self.ddf[col].dropna().unique().compute()
        return Codes(np.unique(np.asarray(found, dtype=np.int64)), complete=True)

    def span(self) -> tuple[int, int] | None:
        span: tuple[int, int] | None = self._profile["span"]
        return span

    def count(self, plan: Plan) -> Cells:
        # each partition counts its own rows (small tables), the tables are combined here:
        # no shuffle, one pass over the data
        parts = [dask.delayed(_count_part)(part, plan) for part in self.ddf.to_delayed()]
        counted = dask.compute(*parts)
        keys = [*plan.keys, "slot"]
        slots = pd.concat([c[0] for c in counted]) if counted else _rows_meta(self.schema, plan)
        spec = {"plays": "sum", "first": "min", "last": "max"} if plan.first_last else {}
        slots = slots.groupby(keys, sort=False).agg(spec or {"plays": "sum"}).reset_index()
        if plan.distinct is None or not counted:
            return Cells.from_sparse(plan, slots)
        pairs = pd.concat([c[1] for c in counted]).drop_duplicates()
        buckets = pairs.groupby([*plan.keys, "bucket"], sort=False).size()
        return Cells.from_sparse(plan, slots, buckets.rename("distinct").reset_index())

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


def _profile_part(part: pd.DataFrame) -> dict[str, Any]:
    """One partition's accounts (None for null), distinct ids, first and last play."""
    times = Times.of(part)  # checks: datetime64, no NaT
    out: dict[str, Any] = {"span": None}
    if len(times.wall):
        out["span"] = (int(times.wall.min()), int(times.wall.max()))
    if "account" in part.columns:
        values = part["account"].astype(object)
        found = list(values.dropna().unique()) + ([None] if values.isna().any() else [])
        out["account"] = np.array(found, dtype=object)
    for col in ("player_id", "media_id"):
        if col in part.columns:
            out[col] = pd.unique(part[col].dropna().to_numpy())
    return out


def _rows_meta(schema: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """An empty table of slots (no partition at all)."""
    cols = {k: schema[k] for k in plan.keys}
    cols |= {c: pd.Series(dtype="int64") for c in ("slot", "plays", "first", "last")}
    return pd.DataFrame(cols)


def _count_part(part: pd.DataFrame, plan: Plan) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """One partition's counts: per (keys, slot) plays, first, last; per (keys, bucket) the
    distinct values of ``plan.distinct``."""
    times = Times.of(part)
    values = {col: part[col].to_numpy() for col in (*plan.keys, *plan.filters)}
    rows = plan_rows(plan, times.wall, times.instant, values)
    kept = slice(None) if rows.kept is None else rows.kept
    cols: dict[str, Any] = {k: part[k].to_numpy()[kept] for k in plan.keys}
    slot = plan.axis.bucket(rows.slot) if plan.axis.cycle else rows.slot
    table = pd.DataFrame(cols | {"slot": slot, "instant": rows.instant})
    keys = [*plan.keys, "slot"]
    slots = table.groupby(keys, sort=False)["instant"].agg(["count", "min", "max"])
    slots.columns = ["plays", "first", "last"]
    pairs = None
    if plan.distinct is not None:
        d = part[plan.distinct].to_numpy()[kept]
        pairs = pd.DataFrame(cols | {"bucket": plan.axis.bucket(rows.slot), "d": d})
        pairs = pairs.drop_duplicates()
    return slots.reset_index(), pairs


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
