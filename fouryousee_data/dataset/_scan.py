"""``scan_playlogs``: the cache (or a published dataset) as one lazy engine object."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from fouryousee_data._config import DEFAULT_CACHE, resolve_cache_dir
from fouryousee_data.accounts import account_label, labelled
from fouryousee_data.cache import PlaylogCache, parse_settle
from fouryousee_data.client import Client
from fouryousee_data.dataset._engines import (
    ENGINES,
    Files,
    dask_frame,
    duckdb_relation,
    names_beside_nulls,
)
from fouryousee_data.dataset._files import Cut, cached_days, published_files
from fouryousee_data.dataset._fs import locate
from fouryousee_data.fetch import fill_cache
from fouryousee_data.progress import want_progress
from fouryousee_data.schema import normalize_ids
from fouryousee_data.timerange import DateLike, resolve_range
from fouryousee_data.windows import Ask

if TYPE_CHECKING:
    import dask.dataframe
    import duckdb

__all__ = ["Clients", "clients_of", "opened_clients", "scan_playlogs"]

log = logging.getLogger("fouryousee_data.dataset")

#: One account's client, several accounts' (``client=[c1, c2]``), or named accounts
#: (``client={"loja": c1, "matriz": c2}``), as in ``fetch_playlogs``.
Clients = Client | Sequence[Client] | Mapping[str, Client] | None


def scan_playlogs(
    start: DateLike,
    end: DateLike,
    *,
    player_ids: int | Sequence[int] | None = None,
    media_ids: int | Sequence[int] | None = None,
    client: Clients = None,
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
    source: str | os.PathLike[str] | None = None,
    engine: Literal["duckdb", "dask"] = "duckdb",
    fetch: bool = True,
    settle: str | pd.Timedelta | dt.timedelta = "24h",
    refresh: bool = False,
    progress: bool | None = None,
    tz: str | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
    storage_options: dict[str, Any] | None = None,
    dayfirst: bool = False,
) -> duckdb.DuckDBPyRelation | dask.dataframe.DataFrame:
    """Playlogs of any range as a lazy DuckDB relation or Dask DataFrame.

    The cache is the dataset: the rows stay in its Parquet files until the engine
    computes something (SQL in DuckDB, out of core; a Dask graph on the active
    ``distributed`` client). Columns as in the playlog frame (SPEC section 3); the
    range and ids are cut exactly inside the engine, not to whole files.

    Parameters
    ----------
    start, end, dayfirst
        As in :func:`~fouryousee_data.fetch_playlogs`: a date (or ``"YYYY-MM-DD"``) is a
        whole day, ``end`` inclusive; a datetime/``Timestamp`` is an instant,
        ``[start, end)``; ``dd/mm/yyyy`` strings only with ``dayfirst=True``.
    player_ids, media_ids
        Only these players/medias (``None``: all; an empty list is a ``ValueError``).
    client
        A :class:`~fouryousee_data.Client`, a list of them or a mapping ``{label:
        client}`` (several accounts: every account's days are scanned; the ``account``
        column tells them apart, named as ``fetch_playlogs`` names it: a list gives a row
        without an account its account's one name, else the client's fingerprint; a
        mapping gives every row its label). Default ``Client()`` from the environment.
        Not used with ``source=``.
    cache_dir
        The cache root, as in ``fetch_playlogs`` (``None`` is refused: the cache is the
        dataset).
    source
        A published dataset (:func:`publish_cache`): a folder or a URL such as
        ``s3://bucket/prefix``. Read instead of the cache; nothing is fetched.
    engine
        ``"duckdb"`` (default; a ``duckdb.DuckDBPyRelation``) or ``"dask"`` (a
        ``dask.dataframe.DataFrame``, ``pip install "fouryousee-data[distributed]"``).
    fetch
        ``True``: the days the cache lacks (and provisional ones) are fetched into it
        first, a day at a time in memory. ``False``: a day not cached is an error
        (:class:`~fouryousee_data.MissingDaysError` lists them); a cached provisional
        day is scanned as it is.
    settle, refresh, progress
        As in ``fetch_playlogs`` (used when fetching; ``refresh`` needs ``fetch=True``).
    tz
        The account's time zone: ``played_at`` becomes an instant (DuckDB
        ``TIMESTAMPTZ``; a new connection shows it in ``tz``; Dask tz-aware), with the
        DST rules of ``fetch_playlogs``. Tz-aware ``start``/``end`` need it.
    connection
        The DuckDB connection the relation lives on (default: a new in-memory one).
    storage_options
        For ``source=`` on an object store: fsspec options (``key``, ``secret``,
        ``client_kwargs={"endpoint_url": ...}``); default: the AWS environment variables.

    Returns
    -------
    duckdb.DuckDBPyRelation or dask.dataframe.DataFrame
        Lazy. Each day's rows in ``played_at`` order; ``.df()``/``.compute()``
        materialises (DuckDB returns text columns as strings, not categories).

    Raises
    ------
    MissingDaysError
        ``fetch=False`` or ``source=``: days that are not there (all listed).
    ValueError
        Bad arguments (as ``fetch_playlogs``; an unknown engine; ``cache_dir=None``).

    Examples
    --------
    >>> rel = scan_playlogs("2024-01-01", "2024-12-31")  # doctest: +SKIP
    >>> rel.aggregate("player_id, count(*) AS plays").df()  # doctest: +SKIP
    >>> scan_playlogs("2024-01-01", "2024-01-31", engine="spark")
    Traceback (most recent call last):
    ...
    ValueError: engine: expected 'duckdb' or 'dask', got 'spark'
    """
    if engine not in ENGINES:
        raise ValueError(f"engine: expected 'duckdb' or 'dask', got {engine!r}")
    cut = Cut(
        resolve_range(start, end, tz=tz, dayfirst=dayfirst),  # also checks tz
        _ids(player_ids, "player_ids"),
        _ids(media_ids, "media_ids"),
        tz,
    )
    settle = parse_settle(settle)
    if refresh and (source is not None or not fetch):
        raise ValueError("refresh=True needs fetch=True and no source= (it fetches again)")
    if source is not None:
        return _scan_source(source, cut, engine, connection, storage_options)
    root = resolve_cache_dir(cache_dir)
    if root is None:
        raise ValueError("cache_dir: None is not possible here, the cache is the dataset")
    with opened_clients(client, labels=True) as pairs:
        clients = [c for _, c in pairs]
        caches = [PlaylogCache(root, c.fingerprint) for c in clients]
        if fetch:
            _fill(clients, root, cut, settle=settle, refresh=refresh, progress=progress)
        entries = cached_days(caches, cut, settle=settle)
    files = [
        _named(label, cache, [str(e.path) for e in entries if e.path.is_relative_to(cache.path)],
               cut, several=not isinstance(client, Client | None))
        for (label, _), cache in zip(pairs, caches, strict=True)
    ]  # fmt: skip
    log.info("scan_playlogs: %d day file(s) from %d account(s)", len(entries), len(caches))
    if engine == "dask":
        return dask_frame(files, cut)
    return duckdb_relation(files, cut, connection=connection)


def _named(
    label: str | None, cache: PlaylogCache, paths: list[str], cut: Cut, *, several: bool
) -> Files:
    """An account's day files and its ``account`` values as ``fetch_playlogs`` names them:
    one client as the data has them; a list of clients: a row without one takes the one
    name its account's other rows carry, else the account's fingerprint; a mapping: its
    key, for every row (:mod:`fouryousee_data.accounts`)."""
    if label is not None:
        return Files(tuple(paths), label, every_row=True)
    if not several:
        return Files(tuple(paths))
    names = names_beside_nulls(paths, cut)
    if names is None:
        return Files(tuple(paths))
    return Files(tuple(paths), account_label(names, cache.fingerprint))


def _scan_source(
    source: str | os.PathLike[str],
    cut: Cut,
    engine: str,
    connection: duckdb.DuckDBPyConnection | None,
    storage_options: dict[str, Any] | None,
) -> duckdb.DuckDBPyRelation | dask.dataframe.DataFrame:
    where = locate(source, storage_options)
    paths = [where.url(p) for p in published_files(where.fs, where.root, cut)]
    log.info("scan_playlogs: %d day file(s) from %s", len(paths), source)
    files = [Files(tuple(paths))]
    if engine == "dask":
        return dask_frame(files, cut, storage_options=where.storage_options)
    return duckdb_relation(
        files, cut, connection=connection, filesystem=None if where.is_local else where.fs
    )


def _fill(
    clients: Sequence[Client],
    root: os.PathLike[str],
    cut: Cut,
    *,
    settle: pd.Timedelta,
    refresh: bool,
    progress: bool | None,
) -> None:
    """Fetch into each account's cache what it lacks for the cut (its provisional days
    too), a day of rows in memory at a time."""
    ask = Ask(
        cut.span,
        cut.player_ids,
        cut.media_ids,
        settle=settle,
        tz=cut.tz,
        refresh=refresh,
        progress=want_progress(progress),
    )
    for client in clients:
        fill_cache(ask, client, PlaylogCache(root, client.fingerprint))


def _ids(ids: int | Sequence[int] | None, name: str) -> tuple[int, ...]:
    """Ids as :func:`~fouryousee_data.schema.normalize_ids`, but an empty list is a
    ``ValueError`` (it almost always comes from an empty frame; the API reads it as all)."""
    if ids is not None and not isinstance(ids, int) and not isinstance(ids, str | bytes):
        ids = list(ids)
        if not ids:
            raise ValueError(f"{name}: an empty list selects nothing; pass None for all")
    return normalize_ids(ids, name)


def clients_of(client: Clients, *, labels: bool = False) -> list[tuple[str | None, Client]] | None:
    """``client`` as (label, client) pairs: a mapping's keys are labels, a list's are
    ``None`` (``None``: the caller makes ``Client()``). A bad value, an empty list, the
    same account twice, or a mapping without ``labels=True`` is a ``ValueError``.

    Examples
    --------
    >>> clients_of(None) is None
    True
    >>> clients_of([])
    Traceback (most recent call last):
    ...
    ValueError: client: expected a Client or a non-empty list of them, got []
    """
    if client is None:
        return None
    items = [client] if isinstance(client, Client) else client
    kinds = Sequence | Mapping if labels else Sequence
    if isinstance(items, str | bytes) or not isinstance(items, kinds) or not items:
        what = "list or mapping" if labels else "list"
        raise ValueError(f"client: expected a Client or a non-empty {what} of them, got {client!r}")
    return labelled(items)  # no account twice


@contextlib.contextmanager
def opened_clients(
    client: Clients, *, labels: bool = False
) -> Iterator[list[tuple[str | None, Client]]]:
    """The (label, client) pairs to use (:func:`clients_of`); a default ``Client()`` is
    closed afterwards."""
    given = clients_of(client, labels=labels)
    if given is not None:
        yield given
        return
    with Client() as default:
        yield [(None, default)]
