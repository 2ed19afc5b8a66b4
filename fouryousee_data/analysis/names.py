"""Player and media names (and group, platform, duration, categories) next to the ids.

The tables come from ``Client.players()`` / ``Client.medias()``, or from a
``Client`` directly. Ids missing from them (screens or medias deleted from the
account) are kept, labelled ``"unknown player 17"``, so a ``groupby`` on names
never drops their plays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fouryousee_data.analysis._backend import Names, PlaylogData, frame_columns, joined

if TYPE_CHECKING:  # names only: analysis does not import the HTTP client at run time
    from fouryousee_data.client import Client

__all__ = ["attach", "enrich", "lookup_table", "media_durations"]

_PLAYER_COLUMNS = {"name": "player_name", "group_name": "group_name", "platform": "platform"}
_MEDIA_COLUMNS = {"name": "media_name", "duration_s": "duration_s", "categories": "categories"}
#: What an unknown id's column reads (a name gets the id after it; others: missing).
_UNKNOWN = {"name": "unknown {kind} ", "group_name": "unknown"}


def enrich(
    df: PlaylogData,
    players: pd.DataFrame | Client | None = None,
    medias: pd.DataFrame | Client | None = None,
    *,
    client: Client | None = None,
) -> Any:
    """Add player and media names (and group, platform, duration, categories) to a frame.

    Works on a playlog frame and on the results of :func:`per_player` & co.
    (ids as columns or index levels), and on playlogs at scale: a DuckDB relation
    or a Dask DataFrame (:func:`~fouryousee_data.scan_playlogs`) is enriched inside
    its engine (a join with the small names table) and comes back as a lazy object
    of the same engine. Ids missing from the tables (screens or medias deleted from
    the account) are **kept**: ``player_known`` / ``media_known`` are False and the
    name reads ``"unknown player 17"`` (the group ``"unknown"``), so a ``groupby`` on
    names never drops their plays.

    Parameters
    ----------
    players, medias
        ``Client.players()`` / ``Client.medias()`` frames, or a ``Client``.
        ``enrich(df, client)`` uses the client for both.
    client
        A ``Client`` used for whichever table is not given (skipped when the
        frame has no such id, e.g. ``per_player`` output has no ``media_id``).

    Returns
    -------
    pandas.DataFrame, duckdb.DuckDBPyRelation or dask.dataframe.DataFrame
        A copy of ``df`` (of its engine's type) with the columns the tables provide:
        ``player_name``, ``group_name``, ``platform``, ``player_known``;
        ``media_name``, ``duration_s``, ``categories`` (a comma-separated string when
        the table holds lists), ``media_known``. String columns are ``category``
        dtype in pandas and Dask (cheap on big frames), ``VARCHAR`` in DuckDB. The
        rows of a relation come in the order the join gives (sort if you need one).

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
    columns = list(frame_columns(df))
    tables: list[Lookup] = []
    for given, id_col, kind, names in (
        (players, "player_id", "player", _PLAYER_COLUMNS),
        (medias, "media_id", "media", _MEDIA_COLUMNS),
    ):
        source = given if given is not None else client
        if source is None:
            continue
        if given is None and id_col not in columns:
            continue  # a client's table the frame cannot join on (e.g. per_player output)
        tables.append(Lookup(id_col, kind, lookup_table(source, f"{kind}s"), names))
    if not isinstance(df, pd.DataFrame):
        for t in tables:
            if t.id_col not in columns:
                raise ValueError(f"df: expected a {t.id_col!r} column")
        return joined(df, [t.small() for t in tables], lambda part: _attached(part, tables))
    return _attached(df, tables)


def _attached(df: pd.DataFrame, tables: list[Lookup]) -> pd.DataFrame:
    out = df.copy()
    for t in tables:
        attach(out, t.id_col, t.table, t.columns, t.kind)
    return out


@dataclass(frozen=True)
class Lookup:
    """One names table to add: by ``id_col``, its ``columns`` (``{source: added}``)."""

    id_col: str
    kind: str
    table: pd.DataFrame
    columns: dict[str, str]

    def small(self) -> Names:
        """The table as the engines join it: one row per id (the last one wins), the
        added columns as plain values (text, or float seconds), and how unknown ids read."""
        if self.id_col not in self.table.columns:
            raise ValueError(f"{self.kind}s: expected a {self.id_col!r} column")
        table = self.table.drop_duplicates(self.id_col, keep="last")
        values: dict[str, Any] = {"id": table[self.id_col].to_numpy(dtype=np.int64)}
        unknown: dict[str, str | None] = {}
        for src, dst in self.columns.items():
            if src not in table.columns:
                continue
            if src == "duration_s":
                values[dst] = pd.to_numeric(table[src], errors="coerce").to_numpy(dtype=float)
            else:
                values[dst] = np.array([_text(v) for v in table[src]], dtype=object)
            unknown[dst] = _UNKNOWN.get(src, "").format(kind=self.kind) or None
        return Names(self.id_col, f"{self.kind}_known", pd.DataFrame(values), unknown)


def lookup_table(obj: Any, kind: str) -> pd.DataFrame:
    """A players/medias table: a DataFrame as is, or fetched from a ``Client``.

    ``kind`` is ``"players"`` or ``"medias"`` (the ``Client`` method called).

    Examples
    --------
    >>> lookup_table(pd.DataFrame({"player_id": [1]}), "players").columns.tolist()
    ['player_id']
    >>> lookup_table(42, "players")
    Traceback (most recent call last):
    ...
    ValueError: players: expected a DataFrame or a Client, got int
    """
    if isinstance(obj, pd.DataFrame):
        return obj
    method = getattr(obj, kind, None)
    if callable(method):
        table = method()
        if isinstance(table, pd.DataFrame):
            return table
    raise ValueError(f"{kind}: expected a DataFrame or a Client, got {type(obj).__name__}")


def attach(
    out: pd.DataFrame, id_col: str, table: pd.DataFrame, columns: dict[str, str], kind: str
) -> None:
    """Add ``table``'s ``columns`` (``{source: added name}``) to ``out`` by ``id_col``, in place.

    ``id_col`` is a column or an index level of ``out``. Ids not in ``table``
    get ``"unknown <kind> <id>"`` as name, ``"unknown"`` as group, NaN/None
    elsewhere; ``<kind>_known`` says which ids were found.

    Examples
    --------
    >>> out = pd.DataFrame({"media_id": [7, 8]})
    >>> attach(out, "media_id", pd.DataFrame({"media_id": [7], "name": ["Promo"]}),
    ...        {"name": "media_name"}, "media")
    >>> out["media_name"].tolist(), out["media_known"].tolist()
    (['Promo', 'unknown media 8'], [True, False])
    """
    ids = _ids(out, id_col)
    if id_col not in table.columns:
        raise ValueError(f"{kind}s: expected a {id_col!r} column")
    table = table.drop_duplicates(id_col, keep="last")
    table = table.set_index(table[id_col].astype(np.int64))
    inverse, uniq = pd.factorize(ids.astype(np.int64))
    pos = table.index.get_indexer(pd.Index(uniq))
    known = pos >= 0
    for src, dst in columns.items():
        if src not in table.columns:
            continue
        small = (
            table[src].to_numpy(dtype=object)[np.where(known, pos, 0)]
            if len(table)
            else np.full(len(uniq), None, dtype=object)
        )
        if src == "duration_s":
            values = pd.to_numeric(pd.Series(small), errors="coerce").to_numpy(dtype=float)
            out[dst] = np.where(known, values, np.nan)[inverse]
            continue
        labels = _labels(small, known, uniq, src, kind)
        cat = pd.Categorical(labels)
        out[dst] = pd.Categorical.from_codes(cat.codes[inverse], dtype=cat.dtype)
    out[f"{kind}_known"] = known[inverse]


def media_durations(medias: Any) -> pd.Series:
    """Seconds per media id, from a medias table, a ``Client`` or ``{media_id: seconds}``.

    Examples
    --------
    >>> media_durations({7: 15}).to_dict()
    {7: 15.0}
    >>> media_durations(pd.DataFrame({"media_id": [7, 7], "duration_s": [10, "20"]})).to_dict()
    {7: 20.0}
    """
    if isinstance(medias, dict):
        return pd.Series({int(k): float(v) for k, v in medias.items()}, dtype=float)
    table = lookup_table(medias, "medias")
    for col in ("media_id", "duration_s"):
        if col not in table.columns:
            raise ValueError(f"medias: expected a {col!r} column")
    table = table.drop_duplicates("media_id", keep="last")
    seconds = pd.to_numeric(table["duration_s"], errors="coerce").astype(float)
    return pd.Series(seconds.to_numpy(), index=table["media_id"].astype(np.int64).to_numpy())


def _has_ids(out: pd.DataFrame, id_col: str) -> bool:
    return id_col in out.columns or id_col in (out.index.names or [])


def _ids(out: pd.DataFrame, id_col: str) -> np.ndarray:
    """``id_col`` of every row of ``out``, from its columns or its index."""
    if id_col in out.columns:
        return out[id_col].to_numpy()
    if id_col in (out.index.names or []):
        return out.index.get_level_values(id_col).to_numpy()
    raise ValueError(f"df: expected a {id_col!r} column or index level")


def _labels(
    small: np.ndarray, known: np.ndarray, uniq: np.ndarray, src: str, kind: str
) -> np.ndarray:
    """Text of each unique id (``"unknown player 17"`` / ``"unknown"`` / None when unknown)."""
    labels = np.array([_text(v) for v in small], dtype=object)
    if src == "name":
        labels[~known] = [f"unknown {kind} {i}" for i in uniq[~known]]
    else:
        labels[~known] = "unknown" if src == "group_name" else None
    return labels


def _text(value: Any) -> Any:
    """A list of categories as ``"a, b"``; NaN as None; anything else as is."""
    if isinstance(value, list | tuple):
        names = [v.get("name", v) if isinstance(v, dict) else v for v in value]
        return ", ".join(str(n) for n in names)
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value
