"""Day files to a lazy engine object with the playlog columns: a DuckDB relation or a
Dask DataFrame, cut to the scan's range and ids, ``played_at`` tz-aware with ``tz=``.

Nothing is read here: DuckDB and Dask read the files when the result is computed
(DuckDB out of core, Dask on the workers of the active ``distributed`` client, which
open the files, or the objects, themselves).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fouryousee_data.dataset._files import Cut
from fouryousee_data.dataset._tz import offsets
from fouryousee_data.schema import COLUMNS, TIME_UNIT, localize

if TYPE_CHECKING:
    import dask.dataframe
    import duckdb

__all__ = ["ENGINES", "dask_frame", "duckdb_relation"]

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


# -- DuckDB -------------------------------------------------------------------------------
def duckdb_relation(
    paths: Sequence[str],
    cut: Cut,
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
    filesystem: Any = None,
) -> duckdb.DuckDBPyRelation:
    """A lazy relation over the Parquet ``paths`` (local, or on the fsspec ``filesystem``
    registered on the connection), cut to ``cut``.

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
    if not paths:
        empty = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in _SQL_TYPES.items())
        return _project(con.sql(f"SELECT {empty} WHERE false"), cut)
    rel = con.read_parquet(list(paths))
    return _project(rel.filter(_where(cut)), cut)


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


def _where(cut: Cut) -> str:
    """The SQL condition of the cut (bounds in naive local time, ids)."""
    span = cut.span
    conditions = [
        f"played_at >= TIMESTAMP '{span.start.isoformat(sep=' ')}'",
        f"played_at < TIMESTAMP '{span.end.isoformat(sep=' ')}'",
    ]
    for name, ids in (("player_id", cut.player_ids), ("media_id", cut.media_ids)):
        if ids:
            conditions.append(f"{name} IN ({', '.join(str(int(i)) for i in ids)})")
    return " AND ".join(conditions)


def _project(rel: duckdb.DuckDBPyRelation, cut: Cut) -> duckdb.DuckDBPyRelation:
    """The playlog columns in order; ``played_at`` a TIMESTAMP_S, a TIMESTAMPTZ with ``tz``."""
    played_at = "CAST(played_at AS TIMESTAMP_S)"
    if cut.tz is not None:
        utc = offsets(str(cut.tz), cut.span.start, cut.span.end).sql(played_at)
        played_at = f"timezone('UTC', {utc})"
    others = ", ".join(f"CAST({n} AS {_SQL_TYPES[n]}) AS {n}" for n in COLUMNS[1:])
    return rel.project(f"{played_at} AS played_at, {others}")


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
    paths: Sequence[str], cut: Cut, *, storage_options: dict[str, Any] | None = None
) -> dask.dataframe.DataFrame:
    """A lazy Dask DataFrame over the Parquet ``paths`` (one partition per file), cut to
    ``cut``; ``storage_options`` travel with the graph, so workers open remote objects
    themselves.

    Examples
    --------
    >>> from fouryousee_data.timerange import resolve_range
    >>> ddf = dask_frame([], Cut(resolve_range("2024-03-01", "2024-03-01")))
    >>> len(ddf.compute()), str(ddf.dtypes["player_id"])
    (0, 'int32')
    """
    import dask.dataframe as dd

    from fouryousee_data.schema import empty_playlogs

    if not paths:
        return dd.from_pandas(empty_playlogs(cut.tz), npartitions=1)
    span = cut.span
    ddf = dd.read_parquet(
        list(paths),
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
    return ddf.assign(played_at=ddf["played_at"].map_partitions(_seconds, cut.tz, meta=meta))


def _seconds(played_at: pd.Series, tz: str | None) -> pd.Series:
    """One partition's ``played_at`` in the frame's unit, localized with ``tz``."""
    naive = played_at.astype(np.dtype(f"M8[{TIME_UNIT}]"))
    return localize(naive, tz) if tz else naive
