"""What one read asks of the cache: where to look, which cached days serve, which rows stay.

A request with a player/media filter is served by the day's ``all`` scope (the ids
applied locally) or else by a day stored with the same filter (SPEC section 4). Only
settled days serve (see :mod:`._settle`). Rows are cut to ``[start, end)`` and the ids,
and only where it changes something: a partial first or last day, the ids on an
``all``-scope day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fouryousee_data.cache._dayfile import CachedDay
from fouryousee_data.cache._settle import Settle, parse_settle
from fouryousee_data.filters import ALL_SCOPE, scope
from fouryousee_data.schema import normalize_ids

__all__ = ["Query", "restrict"]

_ONE_DAY = dt.timedelta(days=1)
_DEFAULT_SETTLE = pd.Timedelta(hours=24)


@dataclass(frozen=True)
class Query:
    """One read of the cache: the filter, the settle policy, the instants wanted.

    Examples
    --------
    >>> q = Query.of(player_ids=[3, 1, 3])
    >>> q.player_ids, q.scopes[0], q.scopes[1].startswith("f-")
    ((1, 3), 'all', True)
    """

    player_ids: tuple[int, ...] = ()
    media_ids: tuple[int, ...] = ()
    settle: pd.Timedelta = _DEFAULT_SETTLE
    tz: str | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    #: False: no day serves, the days are only listed (``refresh``).
    serve: bool = True
    #: False: the serving days are found, their rows not read (a lazy scan reads them).
    read_rows: bool = True

    @classmethod
    def of(
        cls,
        *,
        player_ids: Sequence[int] = (),
        media_ids: Sequence[int] = (),
        settle: Settle = "24h",
        tz: str | None = None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        serve: bool = True,
        read_rows: bool = True,
    ) -> Query:
        """A query from user-facing arguments (ids normalised, ``settle`` parsed)."""
        return cls(
            player_ids=normalize_ids(player_ids, "player_ids"),
            media_ids=normalize_ids(media_ids, "media_ids"),
            settle=parse_settle(settle),
            tz=tz,
            start=start,
            end=end,
            serve=serve,
            read_rows=serve and read_rows,
        )

    @property
    def scopes(self) -> list[str]:
        """The scopes that can serve this filter, in the order they are tried."""
        own = scope(self.player_ids, self.media_ids)
        return [ALL_SCOPE] if own == ALL_SCOPE else [ALL_SCOPE, own]

    def serves(self, entry: CachedDay) -> bool:
        """Whether this cached day serves the read: it is settled."""
        return self.serve and entry.is_settled(self.settle, self.tz)

    def cut(self, table: pa.Table, entry: CachedDay) -> pa.Table:
        """The rows of one cached day that this query keeps."""
        bounds = self.bounds(entry)
        return table if bounds is None else restrict(table, **bounds)

    def bounds(self, entry: CachedDay) -> dict[str, Any] | None:
        """What :func:`restrict` must cut from one cached day (``start``, ``end``,
        ``player_ids``, ``media_ids``, only where it changes something: a partial first
        or last day, the ids on an ``all``-scope day); ``None``: the whole day stays."""
        lo = dt.datetime.combine(entry.day, dt.time())
        hi = lo + _ONE_DAY
        unfiltered = entry.scope == ALL_SCOPE
        by_ids = unfiltered and bool(self.player_ids or self.media_ids)
        whole_day = (self.start is None or self.start <= lo) and (
            self.end is None or self.end >= hi
        )
        if whole_day and not by_ids:
            return None
        return {
            "start": self.start if self.start is not None and self.start > lo else None,
            "end": self.end if self.end is not None and self.end < hi else None,
            "player_ids": self.player_ids if unfiltered else (),
            "media_ids": self.media_ids if unfiltered else (),
        }


def restrict(
    table: pa.Table,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    player_ids: Sequence[int] = (),
    media_ids: Sequence[int] = (),
) -> pa.Table:
    """Rows of ``table`` in ``[start, end)`` and among the ids (empty = all), in Arrow.

    Examples
    --------
    >>> from fouryousee_data.schema import PLAYLOG_SCHEMA
    >>> restrict(PLAYLOG_SCHEMA.empty_table(), player_ids=(1,)).num_rows
    0
    """
    ts = table.column("played_at")
    unit = ts.type.unit
    conditions = []
    if start is not None:
        conditions.append(
            pc.greater_equal(ts, pa.scalar(start.to_pydatetime(), pa.timestamp(unit)))
        )
    if end is not None:
        conditions.append(pc.less(ts, pa.scalar(end.to_pydatetime(), pa.timestamp(unit))))
    for name, ids in (("player_id", player_ids), ("media_id", media_ids)):
        if ids:
            conditions.append(pc.is_in(table.column(name), pa.array(list(ids), pa.int32())))
    if not conditions:
        return table
    mask = conditions[0]
    for cond in conditions[1:]:
        mask = pc.and_(mask, cond)
    return table.filter(mask)
