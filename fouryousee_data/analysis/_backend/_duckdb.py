"""The DuckDB engine: SQL on the relation's own connection (private module).

Every question is one ``GROUP BY`` (or a ``LAG`` window for the silences) whose
answer is small; DuckDB streams and spills the rows itself, so a relation over a
year of Parquet is analysed out of core. ``played_at`` becomes int64 ticks inside the
query (``epoch_us``) and is compared and divided once, with the same floors as the
pandas engine: wall-clock and instants in the unit ``rel.df()`` would give for a naive
type (``TIMESTAMP_S`` seconds, ``TIMESTAMP`` microseconds, ...); a ``TIMESTAMPTZ``
(always microseconds in DuckDB) is read in the connection's ``TimeZone``, as ``.df()``
does, in seconds: the unit of ``fetch_playlogs(tz=...)``'s frame, so a tz-aware scan
gives what that frame gives. A count is one pass over the rows (a distinct count comes
from per-(keys, slot, value) groups); first/last plays are converted after
aggregating. Each query holds at most one ``DISTINCT`` aggregate (with several,
DuckDB spools the rows to feed them).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from fouryousee_data.analysis._backend import SECONDS_OF, Names, Playlogs
from fouryousee_data.analysis._kernel import Clock, Codes
from fouryousee_data.analysis._tally import Cells, Plan
from fouryousee_data.analysis._windows import Scan, Windows

__all__ = ["DuckDBPlaylogs", "names_joined"]

_VIEW = "_fy_playlogs"
_IDS = ("player_id",)  # their distinct values come with the profile (others: when asked)
#: ``played_at`` (``{c}``) per naive DuckDB type: int64 ticks, and ticks per unit of the
#: pandas frame ``.df()`` gives (``TIMESTAMP_S``: microseconds, a million per second).
_NAIVE = {
    "TIMESTAMP_S": ("epoch_us({c})", 1_000_000),
    "TIMESTAMP_MS": ("epoch_us({c})", 1_000),
    "TIMESTAMP": ("epoch_us({c})", 1),
    "TIMESTAMP_NS": ("epoch_ns({c})", 1),
}


class DuckDBPlaylogs(Playlogs):
    """A ``duckdb.DuckDBPyRelation`` of playlogs as an analysis engine."""

    def __init__(self, rel: duckdb.DuckDBPyRelation, *, seconds: bool = False) -> None:
        # ``seconds``: rel's TIMESTAMP (microseconds) stands for a TIMESTAMP_S (SECONDS_OF)
        raw = None if seconds else SECONDS_OF.get(rel)
        self.seconds = seconds or raw is not None
        self.rel = rel if raw is None else raw
        schema = rel.limit(0).df()
        kind = str(self.rel.types[self.rel.columns.index("played_at")])
        # int64 templates of a ``played_at`` expression ``{c}``: wall-clock local ticks and
        # instant ticks (monotonic, so a min/max is converted after aggregating), and the
        # ticks per unit of the equivalent frame (its values: ticks floor-divided by that)
        ticks, self.per_unit = _NAIVE.get(kind, ("", 1))
        self.wall_ticks = self.instant_ticks = ticks
        if self.seconds and kind == "TIMESTAMP":
            schema["played_at"] = schema["played_at"].dt.as_unit("s")
            self.per_unit = 1_000_000
        if kind == "TIMESTAMP WITH TIME ZONE":
            # read in the connection's TimeZone (as .df() does), in seconds: the unit of
            # fetch_playlogs(tz=)'s frame (a TIMESTAMPTZ has no unit of its own to follow)
            tz = Clock.of(schema).tz
            schema["played_at"] = schema["played_at"].dt.as_unit("s")
            self.per_unit = 1_000_000
            self.instant_ticks = "epoch_us({c})"
            self.wall_ticks = f"epoch_us(timezone({_text(str(tz))}, {{c}}))"
        self.schema = schema
        self.clock = Clock.of(schema)  # checks that played_at is a timestamp
        self.wall = self.wall_of("played_at")
        self.attrs: dict[str, Any] = {}

    def wall_of(self, column: str) -> str:
        """``column``'s wall-clock local time as int64 in the frame's unit."""
        return _fdiv(self.wall_ticks.format(c=column), self.per_unit)

    def instant_of(self, column: str) -> str:
        """``column``'s instant as int64 in the frame's unit."""
        return _fdiv(self.instant_ticks.format(c=column), self.per_unit)

    def _query(self, sql: str) -> pd.DataFrame:
        """A small answer: ``sql`` over the relation (as ``_fy_playlogs``), as pandas."""
        answer = self.rel.query(_VIEW, sql)
        assert answer is not None  # a SELECT always has a result
        return answer.df()

    @cached_property
    def _profile(self) -> pd.Series:
        """First/last play, missing times and the distinct players: one scan of two
        columns (one DISTINCT per query: DuckDB spools the rows for several)."""
        monotonic = self.wall_ticks == self.instant_ticks  # naive: min/max converted once
        span = "played_at" if monotonic else self.wall
        asked = [f"min({span}) AS lo", f"max({span}) AS hi", "count(*) - count(played_at) AS nat"]
        asked += [
            f'list(DISTINCT "{c}") FILTER (WHERE "{c}" IS NOT NULL) AS "{c}"'
            for c in _IDS
            if c in self.rel.columns
        ]
        sql = f"SELECT {', '.join(asked)} FROM {_VIEW}"
        if monotonic:
            lo, hi = self.wall_of("lo"), self.wall_of("hi")
            sql = f"SELECT * REPLACE ({lo} AS lo, {hi} AS hi) FROM ({sql})"
        return _checked(self._query(sql).iloc[0])

    def accounts(self) -> list[Any]:
        if "account" not in self.rel.columns:
            return []
        found = self._query(
            "SELECT list(DISTINCT CAST(account AS VARCHAR)) FILTER (WHERE account IS NOT NULL)"
            f" AS account, bool_or(account IS NULL) AS null_account FROM {_VIEW}"
        ).iloc[0]
        names = sorted(str(a) for a in _items(found["account"]))
        nulls = found["null_account"]  # NULL (no rows) reads as NA
        return [*names, None] if not pd.isna(nulls) and bool(nulls) else names

    def only(self, account: Any) -> DuckDBPlaylogs:
        test = "account IS NULL" if account is None else f"account = {_text(account)}"
        return DuckDBPlaylogs(self.rel.filter(test), seconds=self.seconds)

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

    def _rows(self, plan: Plan, columns: str, *, exact: bool = False) -> str:
        """``SELECT columns`` over the rows the plan counts (``_slot`` and ``played_at``
        available). Wall-clock ticks are compared and divided once (no conversion to the
        frame's unit first: the same floors). Slots are floored by plain ``//``: every
        counted row is at or after the axis' origin, except on the weekly cycle
        (``exact``: floor division)."""
        axis, k = plan.axis, self.per_unit
        offset = f"(_ticks - {axis.origin * k})"
        slot = _fdiv(offset, axis.step * k) if exact else f"{offset} // {axis.step * k}"
        tests = []
        lo, hi = plan.window
        if lo is not None:
            tests.append(f"_ticks >= {lo * k}")
        if hi is not None:
            tests.append(f"_ticks < {hi * k}")
        for col, ids in plan.lists().items():
            tests.append(f'"{col}" IN ({", ".join(map(str, ids))})' if len(ids) else "FALSE")
        # a row without played_at is kept (its slot is NULL) to be refused by _slots
        where = f" WHERE ({' AND '.join(tests)}) OR played_at IS NULL" if tests else ""
        ticks = self.wall_ticks.format(c="played_at")
        return (
            f"SELECT {columns} FROM (SELECT *, {slot} AS _slot FROM (SELECT *, {ticks} AS _ticks"
            f" FROM {_VIEW})){where}"
        )

    def count(self, plan: Plan) -> Cells:
        """One pass over the rows. With a distinct count: plays per (keys, slot, value)
        first, then the small per-slot and per-bucket answers from those groups."""
        axis = plan.axis
        keys = "".join(f'"{k}", ' for k in plan.keys)
        slot = _fmod("_slot", axis.cycle) if axis.cycle else "_slot"
        if plan.distinct is None:
            rows = self._rows(plan, f"{keys}{slot} AS slot, played_at", exact=bool(axis.cycle))
            times = self._times(plan, "played_at", "played_at")
            sql = f'SELECT {keys}slot, count(*) AS "plays"{times} FROM ({rows}) GROUP BY ALL'
            return Cells.from_sparse(plan, _slots(self._query(sql)))
        picked = f'{keys}{slot} AS slot, "{plan.distinct}" AS d, played_at'
        rows = self._rows(plan, picked, exact=bool(axis.cycle))
        times = ", min(played_at) AS f, max(played_at) AS l" if plan.first_last else ""
        grouped = f"SELECT {keys}slot, d, count(*) AS n{times} FROM ({rows}) GROUP BY ALL"
        per_slot = f'SELECT {keys}slot, sum(n)::BIGINT AS "plays"{self._times(plan, "f", "l")}'
        if axis.cycle or axis.bucket_of_slot is None:  # the bucket is the slot
            sql = f'{per_slot}, count(d) AS "distinct" FROM ({grouped}) GROUP BY ALL'
            slots = _slots(self._query(sql))
            return Cells.from_sparse(plan, slots, slots.rename(columns={"slot": "bucket"}))
        per_bucket = (
            f"SELECT {keys}{_bucket(plan, 'slot')} AS bucket, count(DISTINCT d) AS "
            '"distinct" FROM g GROUP BY ALL'
        )
        both = self._query(
            f"WITH g AS MATERIALIZED ({grouped}) SELECT 0 AS part, * FROM ({per_slot} FROM g "
            f"GROUP BY ALL) UNION ALL BY NAME SELECT 1 AS part, * FROM ({per_bucket})"
        )
        slots = _slots(both[both["part"] == 0].drop(columns=["part", "bucket", "distinct"]))
        buckets = both[both["part"] == 1][[*plan.keys, "bucket", "distinct"]]
        return Cells.from_sparse(plan, slots, buckets)

    def _times(self, plan: Plan, first: str, last: str) -> str:
        """The plan's first/last play columns (if it wants them) from ``min`` / ``max`` of
        timestamps (the instant conversion is monotonic: converted after aggregating)."""
        if not plan.first_last:
            return ""
        lo, hi = self.instant_of(f"min({first})"), self.instant_of(f"max({last})")
        return f', {lo} AS "first", {hi} AS "last"'

    def scan(self, windows: Windows, min_len: int) -> Scan:
        _ = self._profile  # refuses rows without played_at (a window test would drop them)
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


def names_joined(rel: duckdb.DuckDBPyRelation, names: list[Names]) -> duckdb.DuckDBPyRelation:
    """``rel`` with each small table LEFT JOINed on its id column, inside DuckDB and lazy;
    an added column replaces one of the same name, unknown ids read as :class:`Names` says."""
    for i, n in enumerate(names):
        t = f"_fy_names{i}"
        added = [str(c) for c in n.table.columns if c != "id"]
        picks = []
        for c in added:
            unknown = n.unknown.get(c)
            if unknown is None:
                picks.append(f'{t}."{c}" AS "{c}"')
                continue
            text = _text(unknown)
            if unknown.endswith(" "):  # a name: the id follows
                text = f'{text} || CAST(r."{n.id_col}" AS VARCHAR)'
            picks.append(f'CASE WHEN {t}.id IS NULL THEN {text} ELSE {t}."{c}" END AS "{c}"')
        picks.append(f'{t}.id IS NOT NULL AS "{n.known}"')
        kept = [f'r."{c}"' for c in rel.columns if c not in (*added, n.known)]
        sql = (
            f"SELECT {', '.join([*kept, *picks])} FROM _fy_rows AS r "
            f'LEFT JOIN ({_values(n.table)}) AS {t} ON r."{n.id_col}" = {t}.id'
        )
        joined = rel.query("_fy_rows", sql)
        assert joined is not None  # a SELECT
        rel = joined
    return rel


def _values(table: pd.DataFrame) -> str:
    """A small frame (int ``id``, float or text columns) as a typed SQL table."""
    types = {
        str(c): "BIGINT" if c == "id" else "DOUBLE" if table[c].dtype.kind == "f" else "VARCHAR"
        for c in table.columns
    }
    casts = ", ".join(f'CAST("{c}" AS {k}) AS "{c}"' for c, k in types.items())
    if table.empty:
        nulls = ", ".join(f'CAST(NULL AS {k}) AS "{c}"' for c, k in types.items())
        return f"SELECT {nulls} WHERE false"
    rows = ", ".join(
        "(" + ", ".join(_literal(v) for v in row) + ")"
        for row in table.itertuples(index=False, name=None)
    )
    names = ", ".join(f'"{c}"' for c in types)
    return f"SELECT {casts} FROM (VALUES {rows}) AS v({names})"


def _literal(value: Any) -> str:
    """A SQL literal of a number, a text or a missing value."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "NULL"
    if isinstance(value, int | float | np.integer | np.floating):
        return repr(float(value)) if isinstance(value, float | np.floating) else str(int(value))
    return _text(value)


def _slots(table: pd.DataFrame) -> pd.DataFrame:
    """A per-slot answer, refused when a row had no ``played_at`` (a NULL slot)."""
    _checked(pd.Series({"nat": int(table["slot"].isna().sum())}))
    return table


def _checked(profile: pd.Series) -> pd.Series:
    """A profile whose ``nat`` (rows without ``played_at``) is zero, else a ValueError."""
    if profile["nat"]:
        raise ValueError("df: 'played_at' has missing values (NULL); drop or fill them first")
    return profile


def _items(value: Any) -> list[Any]:
    """A LIST answer as a list (an aggregate over no rows is NULL)."""
    return list(value) if isinstance(value, list | tuple | np.ndarray) else []


def _text(value: Any) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _fdiv(a: str, b: int) -> str:
    """Floor division of an integer expression by a positive constant (``//`` truncates)."""
    if b == 1:
        return f"({a})"
    return f"(({a}) // {b} - CASE WHEN ({a}) % {b} < 0 THEN 1 ELSE 0 END)"


def _fmod(a: str, b: int) -> str:
    """Floor modulo by a positive constant (``%`` truncates)."""
    return f"(((({a}) % {b}) + {b}) % {b})"


def _list(values: np.ndarray) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def _bucket(plan: Plan, slot: str) -> str:
    """The bucket of a ``slot`` column: arithmetic, or the axis' lookup as a list literal."""
    axis = plan.axis
    if axis.cycle:
        return _fmod(slot, axis.cycle)
    if axis.bucket_of_slot is None:
        return slot
    return f"{_list(axis.bucket_of_slot)}[{slot} + 1]"


def _columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {str(c): frame[c].to_numpy(dtype=np.int64) for c in frame.columns}


def _no_rows(*names: str) -> dict[str, np.ndarray]:
    return {n: np.empty(0, dtype=np.int64) for n in names}
