"""Local wall-clock time to instants inside an engine, with the DST rules of
:func:`fouryousee_data.schema.localize`.

The engines' own conversions disagree with pandas at DST changes (DuckDB's
``timezone()`` reads an ambiguous time as the *second* occurrence and moves a
nonexistent one by the gap's length). So the offsets of ``tz`` over the scanned range
are worked out here with pandas and written as one ``CASE`` over local time: an
ambiguous time is its first occurrence (the offset before the change), a nonexistent
one becomes the instant the gap ends. The same instants as ``localize``, always.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["Offsets", "offsets"]

_SAMPLE = pd.Timedelta(minutes=15)  # no zone changes its offset twice within this
_SECOND = pd.Timedelta(seconds=1)


@dataclass(frozen=True)
class Offsets:
    """The UTC offsets of a zone over a stretch of time: ``first`` before the first
    change, then each change as ``(instant in UTC, offset after it)``."""

    first: pd.Timedelta
    changes: tuple[tuple[pd.Timestamp, pd.Timedelta], ...]

    def sql(self, column: str) -> str:
        """A DuckDB expression: the naive local ``column`` as the naive UTC instant.

        Examples
        --------
        >>> offsets("America/Sao_Paulo", pd.Timestamp("2024-03-01"),
        ...         pd.Timestamp("2024-03-02")).sql("played_at")
        "(played_at + INTERVAL '10800 seconds')"
        """
        if not self.changes:
            return _minus(column, self.first)
        cases, before = [], self.first
        for when, after in self.changes:
            cases.append(f"WHEN {column} < {_literal(when + before)} THEN {_minus(column, before)}")
            if after > before:  # a gap: local times in it are the instant it ends
                cases.append(f"WHEN {column} < {_literal(when + after)} THEN {_literal(when)}")
            before = after
        return f"(CASE {' '.join(cases)} ELSE {_minus(column, before)} END)"


def offsets(tz: str, lo: pd.Timestamp, hi: pd.Timestamp) -> Offsets:
    """The offsets of ``tz`` for local times in ``[lo, hi)`` (naive), changes found to
    the second.

    Examples
    --------
    >>> o = offsets("America/New_York", pd.Timestamp("2024-03-01"), pd.Timestamp("2024-04-01"))
    >>> o.first, o.changes
    (Timedelta('-1 days +19:00:00'), ((Timestamp('2024-03-10 07:00:00'), \
Timedelta('-1 days +20:00:00')),))
    """
    lo_utc = lo - pd.Timedelta(days=2)
    hi_utc = max(hi, lo) + pd.Timedelta(days=2)
    grid = pd.date_range(lo_utc, hi_utc + _SAMPLE, freq=_SAMPLE, tz="UTC")
    off = list(_offset(grid, tz))
    changes = []
    for i in range(len(off) - 1):
        if off[i + 1] != off[i]:
            when = _first_after(grid[i], grid[i + 1], tz, off[i])
            changes.append((when.tz_localize(None), pd.Timedelta(off[i + 1])))
    return Offsets(pd.Timedelta(off[0]), tuple(changes))


def _offset(instants: pd.DatetimeIndex, tz: str) -> pd.Index:
    """The UTC offset of ``tz`` at each instant (local wall clock minus UTC)."""
    local = instants.tz_convert(tz).tz_localize(None)
    return pd.Index(local - instants.tz_localize(None))


def _first_after(a: pd.Timestamp, b: pd.Timestamp, tz: str, old: object) -> pd.Timestamp:
    """The first second in ``(a, b]`` whose offset is not ``old`` (bisection)."""
    while b - a > _SECOND:
        mid = (a + (b - a) / 2).floor("s")
        if mid <= a:
            mid = a + _SECOND
        if _offset(pd.DatetimeIndex([mid]), tz)[0] == old:
            a = mid
        else:
            b = mid
    return b


def _minus(column: str, offset: pd.Timedelta) -> str:
    seconds = -int(offset.total_seconds())
    return f"({column} + INTERVAL '{seconds} seconds')"


def _literal(ts: pd.Timestamp) -> str:
    return f"TIMESTAMP '{ts.isoformat(sep=' ')}'"
