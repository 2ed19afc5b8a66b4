"""Plays per player, per media and per pair, optionally per period; enrichment.

Every function here is pure: a playlog frame (SPEC section 3) in, a new frame out.

Counting works on integer codes, not on a pandas ``groupby``: ``played_at`` is
floored to integer slots (days, or ``freq`` ticks), the ids become dense codes,
everything is combined into one int64 key per row and counted with
``np.add.at`` over the zero-filled product of ids x periods, chunk by chunk so the
temporaries stay small. That is several times faster than a ``groupby`` and gives
the zero rows for free.

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

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset, BusinessHour, CustomBusinessHour, Day, Tick

from fouryousee_data.schema import normalize_ids
from fouryousee_data.timerange import DateLike, resolve_range, to_bound

__all__ = [
    "airtime",
    "enrich",
    "hour_weekday",
    "per_media",
    "per_player",
    "per_player_media",
]


def __getattr__(name: str) -> Any:
    """``gaps``/``uptime`` (:mod:`~fouryousee_data.health`) and ``compliance``
    (:mod:`~fouryousee_data.audit`) are reachable from here too."""
    if name in ("gaps", "uptime"):
        from fouryousee_data import health

        return getattr(health, name)
    if name == "compliance":
        from fouryousee_data import audit

        return audit.compliance
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


IdList = Iterable[int] | None

_CHUNK = 1 << 19  # rows per counting chunk: bounded temporaries, cache friendly
_SMALL_SPAN = 1 << 22  # id ranges up to this are looked up in a table, not hashed
_DENSE_PRESENCE = 1 << 26  # a bool presence array up to 64 MB, else sorted unique keys
_END_ANCHORED = {"W", "ME", "QE", "YE", "BME", "BQE", "BYE"}  # resample closes these right
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_NAT = np.iinfo(np.int64).min


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class _Times:
    """``played_at`` as int64: wall-clock local time and true instants, plus dtype facts."""

    wall: np.ndarray
    instant: np.ndarray
    unit: str
    tz: Any

    @property
    def per_day(self) -> int:
        return int(np.timedelta64(1, "D") // np.timedelta64(1, self.unit))

    def to_int(self, ts: pd.Timestamp) -> int:
        return int((ts - pd.Timestamp(0)) // pd.Timedelta(1, self.unit))

    def to_index(self, values: np.ndarray, *, wall: bool) -> pd.DatetimeIndex:
        idx = pd.DatetimeIndex(np.asarray(values, dtype=np.int64).view(f"M8[{self.unit}]"))
        if self.tz is None:
            return idx
        if not wall:
            return idx.tz_localize("UTC").tz_convert(self.tz)
        first = np.ones(len(idx), dtype=bool)
        return idx.tz_localize(self.tz, ambiguous=first, nonexistent="shift_forward")


def _times(df: pd.DataFrame) -> _Times:
    if "played_at" not in df.columns:
        raise ValueError("df: expected a playlog frame with a 'played_at' column")
    col = df["played_at"]
    if not pd.api.types.is_datetime64_any_dtype(col.dtype):
        raise ValueError(f"df: 'played_at' must be datetime64, got {col.dtype}")
    if col.hasnans:
        raise ValueError("df: 'played_at' has missing values (NaT); drop or fill them first")
    tz = getattr(col.dtype, "tz", None)
    naive = col.dt.tz_localize(None) if tz is not None else col
    wall = naive.to_numpy().view(np.int64)
    instant = (
        col.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().view(np.int64) if tz else wall
    )
    return _Times(wall, instant, col.dt.unit, tz)


def _offset(freq: str | BaseOffset | None) -> BaseOffset | None:
    if freq is None:
        return None
    try:
        offset = to_offset(freq)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"freq: {freq!r} is not a pandas offset alias (e.g. 'h', 'D', 'W', 'MS')"
        ) from exc
    if isinstance(offset, BusinessHour | CustomBusinessHour) or offset.n < 1:
        raise ValueError(f"freq: {freq!r} is not supported; use a positive calendar frequency")
    return offset


def _range_bounds(
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


def _bounds(
    times: _Times, start: DateLike | None, end: DateLike | None
) -> tuple[int | None, int | None]:
    lo, hi = _range_bounds(start, end, times.tz)
    return (
        None if lo is None else times.to_int(lo),
        None if hi is None else times.to_int(hi),
    )


def _id_list(ids: IdList, name: str) -> np.ndarray | None:
    if ids is None:
        return None
    return np.array(normalize_ids(ids, name), dtype=np.int64)


class _Codes:
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

    def __call__(self, values: np.ndarray) -> np.ndarray:
        if self.n == 0:
            return np.full(len(values), -1, dtype=np.int64)
        if self.identity or self.lut is not None:
            pos = values.astype(np.int64)
            pos -= self.lo
            if self.complete:
                return pos if self.lut is None else self.lut[pos]
            inside = (pos >= 0) & (pos < (self.n if self.lut is None else len(self.lut)))
            if self.lut is None:
                return np.where(inside, pos, -1)
            return np.where(inside, self.lut[np.where(inside, pos, 0)], -1)
        pos = np.minimum(np.searchsorted(self.universe, values), self.n - 1)
        return pos if self.complete else np.where(self.universe[pos] == values, pos, -1)


def _codes(values: np.ndarray, ids: np.ndarray | None) -> _Codes:
    """Codes over ``ids``, or over every id present in ``values`` (then ``complete``)."""
    if ids is not None:
        return _Codes(ids)
    if len(values) == 0:
        return _Codes(np.empty(0, dtype=np.int64), complete=True)
    lo, hi = int(values.min()), int(values.max())
    if lo >= 0 and hi < max(4 * len(values), _SMALL_SPAN):
        universe = np.flatnonzero(np.bincount(values)).astype(np.int64)
    elif hi - lo < max(4 * len(values), _SMALL_SPAN):
        universe = np.flatnonzero(np.bincount(values.astype(np.int64) - lo)) + lo
    else:
        universe = np.unique(values).astype(np.int64)
    return _Codes(universe, complete=True)


# --------------------------------------------------------------------------- time axis


@dataclass(frozen=True)
class _Axis:
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


def _axis(times: _Times, offset: BaseOffset | None, lo: int | None, hi: int | None) -> _Axis:
    per_day = times.per_day
    wall = times.wall
    first = lo if lo is not None else (int(wall.min()) if len(wall) else None)
    last = hi - 1 if hi is not None else (int(wall.max()) if len(wall) else None)
    if first is None or last is None or last < first:
        first, last = 0, -1  # no bucket
    day0 = first // per_day * per_day
    if isinstance(offset, Tick):
        step = int(offset.nanos // pd.Timedelta(1, times.unit).value)
        if step < 1:
            raise ValueError(f"freq: {offset.freqstr!r} is finer than played_at's unit")
        origin = day0 + (first - day0) // step * step
        n = max((last - origin) // step + 1, 0)
        starts = origin + np.arange(n) * step
        exists = _wall_exists(starts, times)
        if exists.all():
            return _Axis(origin, step, n, None, starts, False)
        # buckets inside a DST gap hold no play (aware times never fall there): drop them
        return _Axis(origin, step, n, np.cumsum(exists) - 1, starts[exists], False)
    n_days = max(last // per_day - first // per_day + 1, 0)
    days = day0 + np.arange(n_days) * per_day
    if offset is None:
        return _Axis(day0, per_day, n_days, np.zeros(n_days, dtype=np.int64), None, True)
    if isinstance(offset, Day):
        if offset.n == 1:
            return _Axis(day0, per_day, n_days, None, days, True)
        return _Axis(day0, per_day, n_days, np.arange(n_days) // offset.n, days[:: offset.n], True)
    starts = _anchored_starts(days, offset, times.unit)
    changes = np.flatnonzero(np.diff(starts)) + 1
    bucket = np.zeros(n_days, dtype=np.int64)
    bucket[changes] = 1
    periods = starts[np.concatenate([[0], changes])] if n_days else starts
    return _Axis(day0, per_day, n_days, np.cumsum(bucket), periods, True)


def _wall_exists(starts: np.ndarray, times: _Times) -> np.ndarray:
    """Which wall-clock bucket starts exist in the frame's time zone (all when naive)."""
    if times.tz is None or len(starts) == 0:
        return np.ones(len(starts), dtype=bool)
    naive = pd.DatetimeIndex(starts.view(f"M8[{times.unit}]"))
    first = np.ones(len(starts), dtype=bool)
    aware = naive.tz_localize(times.tz, ambiguous=first, nonexistent="NaT")
    return ~np.asarray(aware.isna())


def _anchored_starts(days: np.ndarray, offset: BaseOffset, unit: str) -> np.ndarray:
    """The first day of the bucket each day falls in, for anchored offsets (W, MS, ME, ...)."""
    if len(days) == 0:
        return days
    index = pd.DatetimeIndex(days.view(f"M8[{unit}]"))
    base = offset.base
    if offset.rule_code.split("-")[0] in _END_ANCHORED:
        lo, hi = base.rollforward(index[0]) - offset, base.rollforward(index[-1]) + offset
        ends = pd.date_range(lo, hi, freq=offset, unit=unit).normalize()
        starts = ends[ends.searchsorted(index, side="left") - 1] + pd.Timedelta(days=1)
    else:
        anchors = pd.date_range(base.rollback(index[0]), index[-1], freq=offset, unit=unit)
        starts = anchors.normalize()[anchors.searchsorted(index, side="right") - 1]
    return starts.as_unit(unit).to_numpy().view(np.int64)


# --------------------------------------------------------------------------- counting


def _chunks(n: int) -> Iterator[slice]:
    for i in range(0, n, _CHUNK):
        yield slice(i, min(i + _CHUNK, n))


class _Presence:
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


def _tally(
    df: pd.DataFrame,
    keys: Sequence[str],
    *,
    freq: str | BaseOffset | None,
    start: DateLike | None,
    end: DateLike | None,
    ids: dict[str, IdList],
    distinct: str | None = None,
) -> pd.DataFrame:
    """Zero-filled counts over ``keys`` x periods (the engine behind ``per_*``)."""
    offset = _offset(freq)
    times = _times(df)
    lo, hi = _bounds(times, start, end)
    for col in {*keys, *ids, *([distinct] if distinct else [])}:
        if col not in df.columns:
            raise ValueError(f"df: expected a playlog frame with a {col!r} column")
    lists = {col: _id_list(v, f"{col}s") for col, v in ids.items()}
    filters = [col for col in ids if col not in keys and lists[col] is not None]
    # codes only where they are used: the keys and the filters that have a list
    values = {col: df[col].to_numpy() for col in (*keys, *filters)}
    codes = {col: _codes(values[col], lists.get(col)) for col in values}
    axis = _axis(times, offset, lo, hi)
    n_ids, n_b = int(np.prod([codes[k].n for k in keys])), axis.n_buckets
    size = n_ids * n_b
    plays = np.zeros(size, dtype=np.int64)
    first = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(size, _NAT, dtype=np.int64)
    fine = None
    if axis.daily_slots and axis.bucket_of_slot is not None:
        fine = _Presence(n_ids * axis.n_slots)
    dist_values = df[distinct].to_numpy() if distinct else None
    dist_codes = _codes(dist_values, None) if dist_values is not None else None
    pairs = _Presence(size * dist_codes.n) if dist_codes is not None else None
    for part in _chunks(len(df)):
        wall = times.wall[part]
        conditions = []
        if lo is not None:
            conditions.append(wall >= lo)
        if hi is not None:
            conditions.append(wall < hi)
        id_key = np.zeros(len(wall), dtype=np.int64)
        for col in keys:
            c = codes[col](values[col][part])
            if not codes[col].complete:
                conditions.append(c >= 0)
            id_key *= codes[col].n
            id_key += c
        conditions += [codes[col](values[col][part]) >= 0 for col in filters]
        ok = np.logical_and.reduce(conditions) if conditions else None
        slot = wall - axis.origin
        slot //= axis.step
        instant = times.instant[part]
        if ok is not None:
            id_key, slot, instant = id_key[ok], slot[ok], instant[ok]
        key = id_key * n_b
        key += slot if axis.bucket_of_slot is None else axis.bucket_of_slot[slot]
        if size <= _CHUNK:
            plays += np.bincount(key, minlength=size)
        else:
            np.add.at(plays, key, 1)
        np.minimum.at(first, key, instant)
        np.maximum.at(last, key, instant)
        if fine is not None:
            id_key *= axis.n_slots
            id_key += slot
            fine.add(id_key)
        if pairs is not None and dist_codes is not None and dist_values is not None:
            part_codes = dist_codes(dist_values[part])
            key *= dist_codes.n
            key += part_codes if ok is None else part_codes[ok]
            pairs.add(key)
    first[plays == 0] = _NAT
    out = {
        "plays": plays,
        "first_played": times.to_index(first, wall=False),
        "last_played": times.to_index(last, wall=False),
    }
    if axis.daily_slots:
        if fine is None:
            out["active_days"] = (plays > 0).astype(np.int64)
        else:
            fk = fine.keys()
            bk = fk // axis.n_slots * n_b + axis.bucket_of_slot[fk % axis.n_slots]
            out["active_days"] = np.bincount(bk, minlength=size).astype(np.int64)
    if pairs is not None and dist_codes is not None:
        out[f"distinct_{distinct.removesuffix('_id')}s"] = np.bincount(
            pairs.keys() // dist_codes.n, minlength=size
        ).astype(np.int64)
    return pd.DataFrame(out, index=_index(df, keys, codes, axis, times))


def _index(
    df: pd.DataFrame, keys: Sequence[str], codes: dict[str, _Codes], axis: _Axis, times: _Times
) -> pd.Index:
    levels = [pd.Index(codes[k].universe.astype(df[k].dtype), name=k) for k in keys]
    if axis.periods is not None:
        levels.append(times.to_index(axis.periods, wall=True).rename("period"))
    if len(levels) == 1:
        return levels[0]
    return pd.MultiIndex.from_product(levels)


# --------------------------------------------------------------------------- public


def per_player(
    df: pd.DataFrame,
    *,
    freq: str | BaseOffset | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    player_ids: IdList = None,
    media_ids: IdList = None,
) -> pd.DataFrame:
    """Plays per player (and per period with ``freq``), zero-filled.

    Parameters
    ----------
    df
        A playlog frame (naive or tz-aware ``played_at``).
    freq
        A pandas offset alias (``"h"``, ``"D"``, ``"W"``, ``"MS"``, ...): adds a
        ``period`` index level, the start of each bucket. Unknown: ``ValueError``.
    start, end
        Restrict the rows, with the rules of ``fetch_playlogs`` (a date-only
        ``end`` is inclusive; instants make a half-open ``[start, end)``).
    player_ids
        Exactly these players appear (zeros included); default: every player in ``df``.
    media_ids
        Count only the plays of these medias (a row filter).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``player_id`` (and ``period``), columns ``plays`` (int64),
        ``first_played``, ``last_played`` (NaT without plays), ``active_days``
        (days with at least one play; not for sub-day ``freq``) and
        ``distinct_medias``.

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-03 11:00"]),
    ...                    "player_id": pd.array([1, 2], dtype="int32"),
    ...                    "media_id": pd.array([7, 7], dtype="int32")})
    >>> per_player(df, freq="D")["plays"].tolist()
    [1, 0, 0, 0, 0, 1]
    >>> per_player(df, start="2024-01-02", end="2024-01-03", player_ids=[2, 3])["plays"]
    player_id
    2    1
    3    0
    Name: plays, dtype: int64
    """
    ids = {"player_id": player_ids, "media_id": media_ids}
    return _tally(df, ["player_id"], freq=freq, start=start, end=end, ids=ids, distinct="media_id")


def per_media(
    df: pd.DataFrame,
    *,
    freq: str | BaseOffset | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    media_ids: IdList = None,
    player_ids: IdList = None,
) -> pd.DataFrame:
    """Plays per media (and per period with ``freq``), zero-filled.

    Same rules as :func:`per_player` with the roles swapped: ``media_ids`` are
    exactly the medias that appear, ``player_ids`` filters the rows; the extra
    columns are ``first_played``, ``last_played``, ``active_days`` and
    ``distinct_players``.

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00"]),
    ...                    "player_id": pd.array([1, 2], dtype="int32"),
    ...                    "media_id": pd.array([7, 7], dtype="int32")})
    >>> per_media(df)[["plays", "distinct_players"]]  # doctest: +NORMALIZE_WHITESPACE
              plays  distinct_players
    media_id
    7             2                 2
    """
    ids = {"media_id": media_ids, "player_id": player_ids}
    return _tally(df, ["media_id"], freq=freq, start=start, end=end, ids=ids, distinct="player_id")


def per_player_media(
    df: pd.DataFrame,
    *,
    freq: str | BaseOffset | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    player_ids: IdList = None,
    media_ids: IdList = None,
) -> pd.DataFrame:
    """Plays per (player, media) pair (and per period with ``freq``), zero-filled.

    The index is the full product of players x medias (x periods): every player
    in ``df`` (or exactly ``player_ids``) with every media in ``df`` (or exactly
    ``media_ids``), so a media that never played on a screen is a row with
    ``plays == 0``. Columns: ``plays``, ``first_played``, ``last_played``,
    ``active_days`` (not for sub-day ``freq``).

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00"]),
    ...                    "player_id": pd.array([1, 2], dtype="int32"),
    ...                    "media_id": pd.array([7, 8], dtype="int32")})
    >>> per_player_media(df)["plays"]
    player_id  media_id
    1          7           1
               8           0
    2          7           0
               8           1
    Name: plays, dtype: int64
    """
    ids = {"player_id": player_ids, "media_id": media_ids}
    return _tally(df, ["player_id", "media_id"], freq=freq, start=start, end=end, ids=ids)


def hour_weekday(
    df: pd.DataFrame,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    player_ids: IdList = None,
    media_ids: IdList = None,
) -> pd.DataFrame:
    """Plays by local hour of day (rows ``0..23``) x day of week (columns ``Mon..Sun``).

    Always 24 x 7 and zero-filled; ``start``/``end``/``player_ids``/``media_ids``
    restrict the rows first.

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:05", "2024-01-07 23:59"]),
    ...                    "player_id": pd.array([1, 1], dtype="int32"),
    ...                    "media_id": pd.array([7, 7], dtype="int32")})
    >>> table = hour_weekday(df)
    >>> table.shape, int(table.loc[10, "Mon"]), int(table.loc[23, "Sun"]), int(table.values.sum())
    ((24, 7), 1, 1, 2)
    """
    times = _times(df)
    lo, hi = _bounds(times, start, end)
    filters = {
        "player_id": _id_list(player_ids, "player_ids"),
        "media_id": _id_list(media_ids, "media_ids"),
    }
    per_day, per_hour = times.per_day, times.per_day // 24
    counts = np.zeros(7 * 24, dtype=np.int64)
    for part in _chunks(len(df)):
        wall = times.wall[part]
        ok = np.ones(len(wall), dtype=bool)
        if lo is not None:
            ok &= wall >= lo
        if hi is not None:
            ok &= wall < hi
        for col, ids in filters.items():
            if ids is not None:
                ok &= np.isin(df[col].to_numpy()[part], ids)
        wall = wall[ok]
        day = wall // per_day
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
        counts += np.bincount(weekday * 24 + (wall - day * per_day) // per_hour, minlength=168)
    table = pd.DataFrame(
        counts.reshape(7, 24).T,
        index=pd.RangeIndex(24, name="hour"),
        columns=pd.Index(_WEEKDAYS, name="weekday"),
    )
    return table


def airtime(
    df: pd.DataFrame,
    medias: Any,
    *,
    by: str = "player",
    freq: str | BaseOffset | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    player_ids: IdList = None,
    media_ids: IdList = None,
) -> pd.DataFrame:
    """Screen time: plays x the media's ``duration_s``, per player, media or pair (and period).

    Parameters
    ----------
    medias
        The medias table (``Client.medias()``: ``media_id``, ``duration_s``), a
        ``Client``, or a mapping ``{media_id: seconds}``.
    by
        ``"player"``, ``"media"`` or ``"player_media"``.
    freq, start, end, player_ids, media_ids
        As in :func:`per_player_media`.

    Returns
    -------
    pandas.DataFrame
        ``plays`` (int64), ``airtime_s`` (float64, seconds; medias without a
        known duration count 0) and ``unknown_duration_plays`` (int64: plays
        whose media has no known duration, so the gap is visible).

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00"]),
    ...                    "player_id": pd.array([1, 1], dtype="int32"),
    ...                    "media_id": pd.array([7, 8], dtype="int32")})
    >>> airtime(df, {7: 15.0})  # doctest: +NORMALIZE_WHITESPACE
               plays  airtime_s  unknown_duration_plays
    player_id
    1              2       15.0                       1
    """
    levels = {"player": ["player_id"], "media": ["media_id"], "player_media": None}
    if by not in levels:
        raise ValueError(f"by: expected 'player', 'media' or 'player_media', got {by!r}")
    grid = per_player_media(
        df, freq=freq, start=start, end=end, player_ids=player_ids, media_ids=media_ids
    )[["plays"]]
    durations = _durations(medias)
    seconds = durations.reindex(grid.index.get_level_values("media_id").astype(np.int64))
    known = seconds.notna().to_numpy()
    plays = grid["plays"].to_numpy()
    grid["airtime_s"] = np.where(known, plays * seconds.to_numpy(dtype=float, na_value=0.0), 0.0)
    grid["unknown_duration_plays"] = np.where(known, 0, plays)
    keep = levels[by]
    if keep is None:
        return grid
    if freq is not None:
        keep = [*keep, "period"]
    return grid.groupby(level=keep, sort=True).sum()


def _durations(medias: Any) -> pd.Series:
    if isinstance(medias, dict):
        return pd.Series({int(k): float(v) for k, v in medias.items()}, dtype=float)
    table = _table(medias, "medias")
    for col in ("media_id", "duration_s"):
        if col not in table.columns:
            raise ValueError(f"medias: expected a {col!r} column")
    table = table.drop_duplicates("media_id", keep="last")
    seconds = pd.to_numeric(table["duration_s"], errors="coerce").astype(float)
    return pd.Series(seconds.to_numpy(), index=table["media_id"].astype(np.int64).to_numpy())


def _table(obj: Any, kind: str) -> pd.DataFrame:
    """A players/medias table: a DataFrame as is, or fetched from a ``Client``."""
    if isinstance(obj, pd.DataFrame):
        return obj
    method = getattr(obj, kind, None)
    if callable(method):
        table = method()
        if isinstance(table, pd.DataFrame):
            return table
    raise ValueError(f"{kind}: expected a DataFrame or a Client, got {type(obj).__name__}")


_PLAYER_COLUMNS = {"name": "player_name", "group_name": "group_name", "platform": "platform"}
_MEDIA_COLUMNS = {"name": "media_name", "duration_s": "duration_s", "categories": "categories"}


def enrich(
    df: pd.DataFrame, players: Any = None, medias: Any = None, *, client: Any = None
) -> pd.DataFrame:
    """Add player and media names (and group, platform, duration, categories) to a frame.

    Works on a playlog frame and on the results of :func:`per_player` & co.
    (ids as columns or index levels). Ids missing from the tables (screens or
    medias deleted from the account) are **kept**: ``player_known`` /
    ``media_known`` are False and the name reads ``"unknown player 17"`` (the
    group ``"unknown"``), so a ``groupby`` on names never drops their plays.

    Parameters
    ----------
    players, medias
        ``Client.players()`` / ``Client.medias()`` frames, or a ``Client``.
        ``enrich(df, client)`` uses the client for both.
    client
        A ``Client`` used for whichever table is not given (skipped when the
        frame has no such id, e.g. ``per_player`` output has no ``media_id``).

    Added columns (those present in the tables): ``player_name``, ``group_name``,
    ``platform``, ``player_known``; ``media_name``, ``duration_s``,
    ``categories`` (a comma-separated string when the table holds lists),
    ``media_known``. String columns are ``category`` dtype (cheap on big frames).

    Examples
    --------
    >>> df = pd.DataFrame({"player_id": pd.array([1, 9], dtype="int32"),
    ...                    "media_id": pd.array([7, 7], dtype="int32")})
    >>> players = pd.DataFrame({"player_id": pd.array([1], dtype="int32"), "name": ["Lobby"],
    ...                         "group_name": ["North"], "platform": ["android"]})
    >>> enrich(df, players)[["player_id", "player_name", "group_name", "player_known"]]
       player_id       player_name group_name  player_known
    0          1             Lobby      North          True
    1          9  unknown player 9    unknown         False
    """
    if players is not None and not isinstance(players, pd.DataFrame) and medias is None:
        client, players = players, None
    out = df.copy()
    for given, id_col, kind, columns in (
        (players, "player_id", "player", _PLAYER_COLUMNS),
        (medias, "media_id", "media", _MEDIA_COLUMNS),
    ):
        source = given if given is not None else client
        if source is None:
            continue
        has_ids = id_col in out.columns or id_col in (out.index.names or [])
        if given is None and not has_ids:
            continue  # a client's table the frame cannot join on (e.g. per_player output)
        _attach(out, id_col, _table(source, f"{kind}s"), columns, kind)
    return out


def _attach(
    out: pd.DataFrame, id_col: str, table: pd.DataFrame, columns: dict[str, str], kind: str
) -> None:
    if id_col in out.columns:
        ids = out[id_col].to_numpy()
    elif id_col in (out.index.names or []):
        ids = out.index.get_level_values(id_col).to_numpy()
    else:
        raise ValueError(f"df: expected a {id_col!r} column or index level")
    if id_col not in table.columns:
        raise ValueError(f"{kind}s: expected a {id_col!r} column")
    table = table.drop_duplicates(id_col, keep="last")
    table = table.set_index(table[id_col].astype(np.int64))
    inverse, uniq = pd.factorize(ids.astype(np.int64))
    pos = table.index.get_indexer(uniq)
    known = pos >= 0
    for src, dst in columns.items():
        if src not in table.columns:
            continue
        small = table[src].to_numpy(dtype=object)[np.where(known, pos, 0)] if len(table) else None
        small = small if small is not None else np.full(len(uniq), None, dtype=object)
        if src == "duration_s":
            values = pd.to_numeric(pd.Series(small), errors="coerce").to_numpy(dtype=float)
            out[dst] = np.where(known, values, np.nan)[inverse]
            continue
        small = np.array([_text(v) for v in small], dtype=object)
        if src == "name":
            small[~known] = [f"unknown {kind} {i}" for i in uniq[~known]]
        else:
            small[~known] = "unknown" if src == "group_name" else None
        cat = pd.Categorical(small)
        out[dst] = pd.Categorical.from_codes(cat.codes[inverse], dtype=cat.dtype)
    out[f"{kind}_known"] = known[inverse]


def _text(value: Any) -> Any:
    if isinstance(value, list | tuple):
        names = [v.get("name", v) if isinstance(v, dict) else v for v in value]
        return ", ".join(str(n) for n in names)
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value
