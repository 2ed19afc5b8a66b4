"""Day files to a lazy engine object with the playlog columns: a DuckDB relation or a
Dask DataFrame, cut to the scan's range and ids, ``played_at`` tz-aware with ``tz=``.

Nothing is read here: DuckDB and Dask read the files when the result is computed
(DuckDB out of core, Dask on the workers of the active ``distributed`` client, which
open the files, or the objects, themselves).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fouryousee_data.analysis._backend import SECONDS_OF
from fouryousee_data.dataset._files import Cut
from fouryousee_data.dataset._tz import offsets
from fouryousee_data.schema import COLUMNS, TIME_UNIT, localize

if TYPE_CHECKING:
    import dask.dataframe
    import duckdb

__all__ = ["ENGINES", "Files", "dask_frame", "duckdb_relation", "names_beside_nulls"]

log = logging.getLogger("fouryousee_data.dataset")

#: The engines ``scan_playlogs`` builds for.
ENGINES = ("duckdb", "dask")

#: The SQL types of the playlog columns (an empty scan is a relation of these).
#: ``played_at`` in seconds, as in ``fetch_playlogs``' frame (``.df()`` gives
#: ``datetime64[s]``; with ``tz=`` it is a ``TIMESTAMPTZ``, which has no unit choice).
_SQL_TYPES = {
    "played_at": "TIMESTAMP_S",
    "account": "VARCHAR",
    "player_id": "INTEGER",
    "media_id": "INTEGER",
    "media_type": "VARCHAR",
    "ip": "VARCHAR",
}


@dataclass(frozen=True)
class Files:
    """One account's day files, and the ``account`` its rows show: ``name`` for the rows
    without one (``every_row``: for all its rows, a label given by the caller); with
    ``name=None`` as the files have it."""

    paths: tuple[str, ...]
    name: str | None = None
    every_row: bool = False


# -- DuckDB -------------------------------------------------------------------------------
def duckdb_relation(
    files: Sequence[Files],
    cut: Cut,
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
    filesystem: Any = None,
) -> duckdb.DuckDBPyRelation:
    """A lazy relation over the Parquet files (local, or on the fsspec ``filesystem``
    registered on the connection), cut to ``cut``, each account's rows named as its
    :class:`Files` says.

    Examples
    --------
    >>> from fouryousee_data.timerange import resolve_range
    >>> rel = duckdb_relation([], Cut(resolve_range("2024-03-01", "2024-03-01")))
    >>> rel.columns, rel.fetchall()
    (['played_at', 'account', 'player_id', 'media_id', 'media_type', 'ip'], [])
    """
    con = connection if connection is not None else new_connection(cut.tz)
    if filesystem is not None:
        _register(con, filesystem)
    rels = []
    for part in files:
        # a day the cut covers whole needs no time test (a day file holds only its day)
        inner = [p for p in part.paths if _whole_day(p, cut)]
        edges = [p for p in part.paths if not _whole_day(p, cut)]
        pieces = [(inner, _where(cut, time=False)), (edges, _where(cut))]
        rel = None
        for paths, where in pieces:
            if paths:
                piece = con.read_parquet(paths)
                piece = piece.filter(where) if where else piece
                rel = piece if rel is None else rel.union(piece)
        if rel is None:
            continue
        if part.name is not None:
            name = _text(part.name)
            account = name if part.every_row else f"coalesce(CAST(account AS VARCHAR), {name})"
            rel = rel.project(f"* REPLACE ({account} AS account)")
        rels.append(rel)
    if not rels:
        empty = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in _SQL_TYPES.items())
        return _project(con.sql(f"SELECT {empty} WHERE false"), cut)
    union = rels[0]
    for rel in rels[1:]:
        union = union.union(rel)  # UNION ALL: every row kept
    scan = _project(union, cut)
    if cut.tz is None:  # the analysis functions count on the rows before the cast to seconds
        SECONDS_OF[scan] = _project(union, cut, seconds=False)
    return scan


def names_beside_nulls(paths: Sequence[str], cut: Cut) -> list[str] | None:
    """The ``account`` names of the cut's rows in the local day files ``paths`` when some
    of those rows have none (``None``: every row has one). The files' footers answer when
    no row lacks an account; else one pass over the cut's rows.

    Examples
    --------
    >>> from fouryousee_data.timerange import resolve_range
    >>> names_beside_nulls([], Cut(resolve_range("2024-03-01", "2024-03-01"))) is None
    True
    """
    if not paths:
        return None
    con = new_connection()
    files = "[" + ", ".join(_text(p) for p in paths) + "]"
    maybe = con.sql(
        "SELECT coalesce(bool_or(stats_null_count IS NULL OR stats_null_count > 0), false) "
        f"FROM parquet_metadata({files}) WHERE path_in_schema = 'account'"
    ).fetchall()[0][0]
    if not maybe:
        return None
    names, nulls = (
        con.read_parquet(list(paths))
        .filter(_where(cut))
        .aggregate(
            "list(DISTINCT CAST(account AS VARCHAR)) FILTER (WHERE account IS NOT NULL), "
            "coalesce(bool_or(account IS NULL), false)"
        )
        .fetchall()[0]
    )
    return sorted(names or []) if nulls else None


def new_connection(tz: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that never downloads an extension; with ``tz``,
    its ``TimeZone`` is ``tz`` (so tz-aware results come back in the account's zone)."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    if tz is not None:
        con.execute("SET TimeZone = ?", [str(tz)])
    return con


def _where(cut: Cut, *, time: bool = True) -> str:
    """The SQL condition of the cut (bounds in naive local time unless ``time=False``,
    ids); ``""`` when nothing is cut."""
    span = cut.span
    conditions = []
    if time:
        conditions += [
            f"played_at >= TIMESTAMP '{span.start.isoformat(sep=' ')}'",
            f"played_at < TIMESTAMP '{span.end.isoformat(sep=' ')}'",
        ]
    for name, ids in (("player_id", cut.player_ids), ("media_id", cut.media_ids)):
        if ids:
            conditions.append(f"{name} IN ({', '.join(str(int(i)) for i in ids)})")
    return " AND ".join(conditions)


_DAY = re.compile(r"date=([0-9]{4}-[0-9]{2}-[0-9]{2})/[^/]+$")


def _whole_day(path: str, cut: Cut) -> bool:
    """Whether the cut covers the day of the day file ``path`` (``.../date=YYYY-MM-DD/
    part-0.parquet``, in the cache and in a published dataset) from midnight to midnight."""
    found = _DAY.search(path)
    if found is None:
        return False
    day = pd.Timestamp(found.group(1))
    return bool(cut.span.start <= day and day + pd.Timedelta(days=1) <= cut.span.end)


def _project(
    rel: duckdb.DuckDBPyRelation, cut: Cut, *, seconds: bool = True
) -> duckdb.DuckDBPyRelation:
    """The playlog columns in order; ``played_at`` a TIMESTAMP_S (``seconds=False``: a
    TIMESTAMP), a TIMESTAMPTZ with ``tz``."""
    played_at = f"CAST(played_at AS {'TIMESTAMP_S' if seconds else 'TIMESTAMP'})"
    if cut.tz is not None:
        utc = offsets(str(cut.tz), cut.span.start, cut.span.end).sql(played_at)
        played_at = f"timezone('UTC', {utc})"
    others = ", ".join(f"CAST({n} AS {_SQL_TYPES[n]}) AS {n}" for n in COLUMNS[1:])
    return rel.project(f"{played_at} AS played_at, {others}")


def _text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _register(con: duckdb.DuckDBPyConnection, filesystem: Any) -> None:
    """Make DuckDB read ``filesystem``'s URLs (e.g. ``s3://``) through it (fsspec), not
    through its ``httpfs`` extension (which would be downloaded)."""
    names = set(con.list_filesystems())
    protocols = (
        filesystem.protocol if isinstance(filesystem.protocol, tuple) else (filesystem.protocol,)
    )
    for name in protocols:
        if name in names:
            con.unregister_filesystem(name)
    con.register_filesystem(filesystem)


# -- Dask ---------------------------------------------------------------------------------
def dask_frame(
    files: Sequence[Files], cut: Cut, *, storage_options: dict[str, Any] | None = None
) -> dask.dataframe.DataFrame:
    """A lazy Dask DataFrame over the Parquet files (one partition per file), cut to
    ``cut``, each account's rows named as its :class:`Files` says; ``storage_options``
    travel with the graph, so workers open remote objects themselves.

    Examples
    --------
    >>> from fouryousee_data.timerange import resolve_range
    >>> ddf = dask_frame([], Cut(resolve_range("2024-03-01", "2024-03-01")))
    >>> len(ddf.compute()), str(ddf.dtypes["player_id"]), str(ddf.dtypes["played_at"])
    (0, 'int32', 'datetime64[s]')
    """
    import dask.dataframe as dd

    from fouryousee_data.schema import empty_playlogs

    parts = [_dask_part(f, cut, storage_options) for f in files if f.paths]
    if not parts:
        return dd.from_pandas(empty_playlogs(cut.tz), npartitions=1)
    return parts[0] if len(parts) == 1 else dd.concat(parts)


def _dask_part(
    files: Files, cut: Cut, storage_options: dict[str, Any] | None
) -> dask.dataframe.DataFrame:
    import dask.dataframe as dd

    span = cut.span
    ddf = dd.read_parquet(
        list(files.paths),
        columns=list(COLUMNS),
        filters=[("played_at", ">=", span.start), ("played_at", "<", span.end)],
        storage_options=storage_options or None,
        dataset={"partitioning": None},
        split_row_groups=False,
        aggregate_files=False,
    )
    mask = (ddf["played_at"] >= span.start) & (ddf["played_at"] < span.end)
    for name, ids in (("player_id", cut.player_ids), ("media_id", cut.media_ids)):
        if ids:
            mask = mask & ddf[name].isin(list(ids))
    ddf = ddf[mask]
    # seconds, as in fetch_playlogs' frame (Parquet has no seconds unit: files hold ms)
    dtype = pd.DatetimeTZDtype(TIME_UNIT, cut.tz) if cut.tz else np.dtype(f"M8[{TIME_UNIT}]")
    meta = pd.Series([], dtype=dtype, name="played_at")
    ddf = ddf.assign(played_at=ddf["played_at"].map_partitions(_seconds, cut.tz, meta=meta))
    if files.name is not None:
        account = ddf["account"].map_partitions(
            _named, files.name, files.every_row, meta=ddf["account"]._meta
        )
        ddf = ddf.assign(account=account)
    return ddf


def _named(account: pd.Series, name: str, every_row: bool) -> pd.Series:
    """One partition's ``account`` with ``name`` where it is null (or everywhere)."""
    values = account.astype(object)
    values = values.where(values.notna() & (not every_row), name)
    return values.astype("category")


def _seconds(played_at: pd.Series, tz: str | None) -> pd.Series:
    """One partition's ``played_at`` in the frame's unit, localized with ``tz``."""
    naive = played_at.astype(np.dtype(f"M8[{TIME_UNIT}]"))
    return localize(naive, tz) if tz else naive
