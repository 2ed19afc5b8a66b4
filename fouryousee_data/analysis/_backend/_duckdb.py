"""The DuckDB engine: SQL on the relation's own connection (private module).

Every question is one ``GROUP BY`` (or a ``LAG`` window for the silences) whose
answer is small; DuckDB streams and spills the rows itself, so a relation over a
year of Parquet is analysed out of core. ``played_at`` becomes int64 inside the
query with the same arithmetic as the pandas engine: wall-clock and instants in the
unit ``rel.df()`` would give for a naive type (``TIMESTAMP_S`` seconds, ``TIMESTAMP``
microseconds, ...); a ``TIMESTAMPTZ`` (always microseconds in DuckDB) is read in the
connection's ``TimeZone``, as ``.df()`` does, in seconds: the unit of
``fetch_playlogs(tz=...)``'s frame, so a tz-aware scan gives what that frame gives.
Time slots by floor division, buckets from the plan's small lookup.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from fouryousee_data.analysis._backend import Playlogs
from fouryousee_data.analysis._kernel import Clock, Codes
from fouryousee_data.analysis._tally import Cells, Plan
from fouryousee_data.analysis._windows import Scan, Windows

__all__ = ["DuckDBPlaylogs"]

_VIEW = "_fy_playlogs"
_IDS = ("player_id", "media_id")  # their distinct values come with the profile
#: ``played_at`` as int64 in the unit ``.df()`` gives, per DuckDB type (naive types).
_NAIVE = {
    "TIMESTAMP_S": "epoch_us(played_at) // 1000000",
    "TIMESTAMP_MS": "epoch_us(played_at) // 1000",
    "TIMESTAMP": "epoch_us(played_at)",
    "TIMESTAMP_NS": "epoch_ns(played_at)",
}


class DuckDBPlaylogs(Playlogs):
    """A ``duckdb.DuckDBPyRelation`` of playlogs as an analysis engine."""

    def __init__(self, rel: duckdb.DuckDBPyRelation) -> None:
        self.rel = rel
        schema = rel.limit(0).df()
        kind = str(rel.types[rel.columns.index("played_at")])
        if kind in _NAIVE:
            self.wall = self.instant = _NAIVE[kind]
        elif kind == "TIMESTAMP WITH TIME ZONE":
            # read in the connection's TimeZone (as .df() does), in seconds: the unit of
            # fetch_playlogs(tz=)'s frame (a TIMESTAMPTZ has no unit of its own to follow)
            tz = Clock.of(schema).tz
            schema["played_at"] = schema["played_at"].dt.as_unit("s")
            self.instant = _fdiv("epoch_us(played_at)", 1_000_000)
            self.wall = _fdiv(f"epoch_us(timezone({_text(str(tz))}, played_at))", 1_000_000)
        self.schema = schema
        self.clock = Clock.of(schema)  # checks that played_at is a timestamp
        self.attrs: dict[str, Any] = {}

    def _query(self, sql: str) -> pd.DataFrame:
        """A small answer: ``sql`` over the relation (as ``_fy_playlogs``), as pandas."""
        answer = self.rel.query(_VIEW, sql)
        assert answer is not None  # a SELECT always has a result
        return answer.df()

    @cached_property
    def _profile(self) -> pd.Series:
        """Accounts, distinct ids, first/last play and missing times: one scan."""
        asked = [
            f"min({self.wall}) AS lo",
            f"max({self.wall}) AS hi",
            "count(*) FILTER (WHERE played_at IS NULL) AS nat",
        ]
        if "account" in self.rel.columns:
            asked += [
                "list(DISTINCT CAST(account AS VARCHAR)) FILTER (WHERE account IS NOT NULL)"
                " AS account",
                "bool_or(account IS NULL) AS null_account",
            ]
        asked += [
            f'list(DISTINCT "{c}") FILTER (WHERE "{c}" IS NOT NULL) AS "{c}"'
            for c in _IDS
            if c in self.rel.columns
        ]
        profile: pd.Series = self._query(f"SELECT {', '.join(asked)} FROM {_VIEW}").iloc[0]
        if profile["nat"]:
            raise ValueError("df: 'played_at' has missing values (NULL); drop or fill them first")
        return profile

    def accounts(self) -> list[Any]:
        if "account" not in self.rel.columns:
            return []
        names = sorted(str(a) for a in _items(self._profile["account"]))
        nulls = self._profile["null_account"]  # NULL (no rows) reads as NA
        return [*names, None] if not pd.isna(nulls) and bool(nulls) else names

    def only(self, account: Any) -> DuckDBPlaylogs:
        test = "account IS NULL" if account is None else f"account = {_text(account)}"
        return DuckDBPlaylogs(self.rel.filter(test))

    def codes(self, col: str, ids: np.ndarray | None) -> Codes:
        if ids is not None:
            return Codes(ids)
        if col in _IDS:
            values = np.asarray(_items(self._profile[col]), dtype=np.int64)
        else:
            query = f'SELECT DISTINCT "{col}" AS v FROM {_VIEW} WHERE "{col}" IS NOT NULL'
            values = self._query(query)["v"].to_numpy(dtype=np.int64)
        return Codes(np.unique(values), complete=True)

    def span(self) -> tuple[int, int] | None:
        lo, hi = self._profile["lo"], self._profile["hi"]
        return None if pd.isna(lo) else (int(lo), int(hi))

    def _rows(self, plan: Plan, columns: str) -> str:
        """``SELECT columns`` over the rows the plan counts (``_wall``, ``_instant``,
        ``_slot`` available)."""
        axis = plan.axis
        slot = _fdiv(f"({self.wall} - {axis.origin})", axis.step)
        tests = ["TRUE"]
        lo, hi = plan.window
        if lo is not None:
            tests.append(f"_wall >= {lo}")
        if hi is not None:
            tests.append(f"_wall < {hi}")
        for col, ids in plan.lists().items():
            tests.append(f'"{col}" IN ({", ".join(map(str, ids))})' if len(ids) else "FALSE")
        return (
            f"SELECT {columns} FROM (SELECT *, {self.wall} AS _wall, {self.instant} AS _instant,"
            f" {slot} AS _slot FROM {_VIEW}) WHERE {' AND '.join(tests)}"
        )

    def count(self, plan: Plan) -> Cells:
        keys = "".join(f'"{k}", ' for k in plan.keys)
        slot = _fmod("_slot", plan.axis.cycle) if plan.axis.cycle else "_slot"
        times = ', min(_instant) AS "first", max(_instant) AS "last"' if plan.first_last else ""
        rows = self._rows(plan, f"{keys}{slot} AS slot, _instant")
        slots = self._query(
            f'SELECT {keys}slot, count(*) AS "plays"{times} FROM ({rows}) GROUP BY ALL'
        )
        buckets = None
        if plan.distinct is not None:
            rows = self._rows(plan, f'{keys}{_bucket(plan)} AS bucket, "{plan.distinct}" AS d')
            buckets = self._query(
                f'SELECT {keys}bucket, count(DISTINCT d) AS "distinct" FROM ({rows}) GROUP BY ALL'
            )
        return Cells.from_sparse(plan, slots, buckets)

    def scan(self, windows: Windows, min_len: int) -> Scan:
        n = len(windows.start)
        if n == 0:
            empty = _no_rows("wid", "plays", "first", "last", "start", "end")
            return Scan.of_sparse(0, empty, empty)
        rows = f"SELECT wid, _wall FROM ({self._windowed(windows)}) WHERE wid IS NOT NULL"
        stats = self._query(
            'SELECT wid, count(*) AS "plays", min(_wall) AS "first", max(_wall) AS "last" '
            f"FROM ({rows}) GROUP BY wid"
        )
        inner = self._query(
            'SELECT wid, prev AS "start", _wall AS "end" FROM (SELECT wid, _wall, '
            f"lag(_wall) OVER (PARTITION BY wid ORDER BY _wall) AS prev FROM ({rows})) "
            f"WHERE _wall - prev >= {min_len}"
        )
        return Scan.of_sparse(n, _columns(stats), _columns(inner))

    def _windowed(self, windows: Windows) -> str:
        """Each row's window id (NULL outside every window): ``Windows.window_of`` in SQL."""
        per_day, day0, n_days = self.clock.per_day, windows.day0, windows.n_days
        players = ", ".join(
            f"({pid}, {code}, {_list(week[:, 0])}, {_list(week[:, 1])})"
            for code, (pid, week) in enumerate(
                zip(windows.players.universe, windows.spec, strict=True)
            )
        )
        candidates = []
        for k in (0, 1):
            day = f"(_day - {k})"
            weekday = f"({_fmod(f'{day} + 3', 7)} + 1)"
            start = f"({day} * {per_day} + opens[{weekday}])"
            end = f"({start} + lens[{weekday}])"
            lo, hi = windows.clip  # an empty window (end <= start) holds no row anyway
            start = start if lo is None else f"greatest({start}, {lo})"
            end = end if hi is None else f"least({end}, {hi})"
            test = (
                f"{day} >= {day0} AND {day} < {day0 + n_days} "
                f"AND _wall >= {start} AND _wall < {end}"
            )
            candidates.append(f"WHEN {test} THEN code * {n_days} + ({day} - {day0})")
        return (
            f"SELECT CASE {' '.join(candidates)} END AS wid, _wall FROM ("
            f"SELECT p.code, p.opens, p.lens, _wall, {_fdiv('_wall', per_day)} AS _day FROM "
            f"(SELECT player_id, {self.wall} AS _wall FROM {_VIEW}) AS r JOIN "
            f"(VALUES {players}) AS p(pid, code, opens, lens) ON r.player_id = p.pid)"
        )


def _items(value: Any) -> list[Any]:
    """A LIST answer as a list (an aggregate over no rows is NULL)."""
    return list(value) if isinstance(value, list | tuple | np.ndarray) else []


def _text(value: Any) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _fdiv(a: str, b: int) -> str:
    """Floor division of an integer expression by a positive constant (``//`` truncates)."""
    return f"(({a}) // {b} - CASE WHEN ({a}) % {b} < 0 THEN 1 ELSE 0 END)"


def _fmod(a: str, b: int) -> str:
    """Floor modulo by a positive constant (``%`` truncates)."""
    return f"(((({a}) % {b}) + {b}) % {b})"


def _list(values: np.ndarray) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def _bucket(plan: Plan) -> str:
    """The bucket of ``_slot``: arithmetic, or the axis' lookup as a list literal."""
    axis = plan.axis
    if axis.cycle:
        return _fmod("_slot", axis.cycle)
    if axis.bucket_of_slot is None:
        return "_slot"
    return f"{_list(axis.bucket_of_slot)}[_slot + 1]"


def _columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {str(c): frame[c].to_numpy(dtype=np.int64) for c in frame.columns}


def _no_rows(*names: str) -> dict[str, np.ndarray]:
    return {n: np.empty(0, dtype=np.int64) for n in names}
