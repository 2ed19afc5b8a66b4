"""Opening windows and the silences inside them, whatever the engine (private module,
public names: the seam between ``health`` and the engines).

* :class:`Windows` -- the opening window of every (player, day) as wall-clock ints,
  and :meth:`Windows.window_of`: which window a row falls in (numpy; DuckDB computes
  the same arithmetic in SQL from :attr:`Windows.spec` and :attr:`Windows.clip`).
* :class:`Scan` -- what an engine finds in the windows: plays, first and last play per
  window, and the silent intervals between consecutive plays of a window
  (:meth:`Scan.of_sorted` from sorted rows); :meth:`Scan.silences` adds the edges
  (window start to first play, last play to window end, empty windows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fouryousee_data.analysis._kernel import Clock, Codes

__all__ = ["Scan", "Silences", "Windows"]


@dataclass(frozen=True)
class Windows:
    """Opening windows of every (player, day), flattened in C order, as wall-clock ints.

    ``spec`` is the schedule, (players, 7 weekdays Monday first, (open offset, length))
    in ``played_at`` units; ``clip`` the instants that cut the windows (None: open).
    """

    players: Codes
    day0: int  # first day number (days since the epoch)
    n_days: int
    start: np.ndarray
    end: np.ndarray
    spec: np.ndarray
    clip: tuple[int | None, int | None]

    @classmethod
    def of(
        cls,
        clock: Clock,
        players: Codes,
        spec: np.ndarray,
        days: tuple[int | None, int | None],
        clip: tuple[int | None, int | None],
    ) -> Windows:
        """Windows for the days of ``[first, last]`` (wall-clock ints), clipped to ``clip``."""
        per_day = clock.per_day
        (first, last), (clip_lo, clip_hi) = days, clip
        if first is None or last is None:
            first, last = 0, -1
        day0 = first // per_day
        n_days = last // per_day - day0 + 1 if last >= first else 0
        day = day0 + np.arange(n_days)
        week = spec[:, (day + 3) % 7]  # (players, days, 2); 1970-01-01 was a Thursday
        start = day[None, :] * per_day + week[..., 0]
        end = start + week[..., 1]
        if clip_lo is not None:
            start = np.maximum(start, clip_lo)
        if clip_hi is not None:
            end = np.minimum(end, clip_hi)
        end = np.maximum(end, start)
        return cls(players, day0, n_days, start.ravel(), end.ravel(), spec, clip)

    def window_of(self, clock: Clock, wall: np.ndarray, player_ids: np.ndarray) -> np.ndarray:
        """Window id of each row (its day's window, or the previous day's running past
        midnight), ``-1`` for rows outside every window."""
        wid = np.full(len(wall), -1, dtype=np.int64)
        if len(self.start) == 0:
            return wid
        code = self.players(player_ids)
        known = code >= 0
        base = np.where(known, code, 0) * self.n_days
        day = wall // clock.per_day - self.day0
        for k in (day, day - 1):
            ok = known & (wid < 0) & (k >= 0) & (k < self.n_days)
            candidate = base + np.where(ok, k, 0)
            ok &= (wall >= self.start[candidate]) & (wall < self.end[candidate])
            wid = np.where(ok, candidate, wid)
        return wid


@dataclass(frozen=True)
class Silences:
    """Every silence >= ``min_gap``: its window id, start and end (wall-clock ints), sorted."""

    wid: np.ndarray
    start: np.ndarray
    end: np.ndarray


@dataclass(frozen=True)
class Scan:
    """Per window (dense over ``Windows``): plays, first and last play; and the inner
    silences (window, start, end) between consecutive plays, at least the engine's
    ``min_len`` long (engines may return shorter ones: :meth:`silences` filters)."""

    plays: np.ndarray
    first: np.ndarray
    last: np.ndarray
    inner: Silences

    @classmethod
    def of_sorted(cls, n_windows: int, wid: np.ndarray, t: np.ndarray) -> Scan:
        """From rows inside windows sorted by (window, time)."""
        same = wid[1:] == wid[:-1]
        head = np.concatenate([[True], ~same]) if len(wid) else np.zeros(0, bool)
        tail = np.concatenate([~same, [True]]) if len(wid) else np.zeros(0, bool)
        first = np.zeros(n_windows, dtype=np.int64)
        last = np.zeros(n_windows, dtype=np.int64)
        first[wid[head]] = t[head]
        last[wid[tail]] = t[tail]
        inner = Silences(wid[1:][same], t[:-1][same], t[1:][same])
        return cls(np.bincount(wid, minlength=n_windows).astype(np.int64), first, last, inner)

    @classmethod
    def of_sparse(
        cls, n_windows: int, stats: dict[str, np.ndarray], inner: dict[str, np.ndarray]
    ) -> Scan:
        """From an engine's small tables: ``stats`` (``wid``, ``plays``, ``first``,
        ``last``) for the windows with plays, ``inner`` (``wid``, ``start``, ``end``)."""
        wid = np.asarray(stats["wid"], dtype=np.int64)
        dense = {k: np.zeros(n_windows, dtype=np.int64) for k in ("plays", "first", "last")}
        for k, values in dense.items():
            values[wid] = np.asarray(stats[k], dtype=np.int64)
        found = Silences(*(np.asarray(inner[k], dtype=np.int64) for k in ("wid", "start", "end")))
        return cls(dense["plays"], dense["first"], dense["last"], found)

    def silences(self, win: Windows, min_len: int) -> Silences:
        """Every silence >= ``min_len`` between plays or a window's edges, sorted."""
        played = self.plays > 0
        w, empty = np.flatnonzero(played), np.flatnonzero(~played)
        g_wid = np.concatenate([self.inner.wid, w, w, empty])
        g_start = np.concatenate([self.inner.start, win.start[w], self.last[w], win.start[empty]])
        g_end = np.concatenate([self.inner.end, self.first[w], win.end[w], win.end[empty]])
        keep = ((g_end - g_start) >= min_len) & (g_end > g_start)
        g_wid, g_start, g_end = g_wid[keep], g_start[keep], g_end[keep]
        order = np.lexsort((g_start, g_wid))
        return Silences(g_wid[order], g_start[order], g_end[order])
