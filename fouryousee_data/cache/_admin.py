"""The cache for its users: what it holds (:func:`cache_info`) and removing days
(:func:`clear_cache`), for one account or every account under a cache root."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from fouryousee_data._config import DEFAULT_CACHE, resolve_cache_dir
from fouryousee_data.cache._dayfile import CachedDay
from fouryousee_data.cache._leftovers import leftovers
from fouryousee_data.cache._settle import Settle, parse_settle
from fouryousee_data.cache._store import PlaylogCache
from fouryousee_data.timerange import DateLike

if TYPE_CHECKING:
    from fouryousee_data.client import Client

__all__ = ["cache_info", "clear_cache"]

log = logging.getLogger("fouryousee_data.cache")

_INFO_COLUMNS = [
    "account",
    "scope",
    "date",
    "rows",
    "bytes",
    "report_id",
    "created_at",
    "fetched_at",
    "settled",
    "player_ids",
    "media_ids",
    "valid",
]


def cache_info(
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
    client: Client | str | None = None,
    *,
    settle: Settle = "24h",
    tz: str | None = None,
) -> pd.DataFrame:
    """What the cache holds: one row per cached day.

    Parameters
    ----------
    cache_dir
        The cache root (default ``FOURYOUSEE_CACHE_DIR`` or the user cache directory).
    client
        A :class:`~fouryousee_data.Client`, an account fingerprint, or ``None`` for
        every account in the cache.
    settle, tz
        How ``settled`` is judged (as in :func:`~fouryousee_data.fetch_playlogs`).

    Returns
    -------
    pandas.DataFrame
        Columns ``account`` (fingerprint), ``scope``, ``date``, ``rows``, ``bytes``,
        ``report_id``, ``created_at``, ``fetched_at``, ``settled``, ``player_ids``,
        ``media_ids``, ``valid`` (False for an unreadable file, which the next fetch
        replaces). ``attrs["leftover_files"]`` and ``attrs["leftover_bytes"]``: temp
        files and spills that killed writers left behind (older than an hour), which
        the next write into that account's cache removes.

    Examples
    --------
    >>> import tempfile
    >>> cache_info(tempfile.mkdtemp()).columns.tolist()[:4]
    ['account', 'scope', 'date', 'rows']
    """
    settle_td = parse_settle(settle)
    root = _root(cache_dir)
    fingerprints = _fingerprints(root, client)
    records = [
        _record(fp, item, settle_td, tz)
        for fp in fingerprints
        for item in PlaylogCache(root, fp).entries()
    ]
    info = _info_frame(records)
    found = [size for fp in fingerprints for _, size in leftovers(root / fp)]
    info.attrs.update(leftover_files=len(found), leftover_bytes=sum(found))
    return info


def clear_cache(
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
    client: Client | str | None = None,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    scope: str | None = None,
) -> int:
    """Remove cached days; returns how many were removed.

    Parameters
    ----------
    cache_dir
        The cache root (default ``FOURYOUSEE_CACHE_DIR`` or the user cache directory).
    client
        A :class:`~fouryousee_data.Client`, an account fingerprint, or ``None`` for
        every account.
    start, end
        Only days in ``start..end`` (dates, ``end`` inclusive); default all days.
    scope
        Only this scope (``"all"`` or an ``f-...`` filter scope); default all scopes.

    Examples
    --------
    >>> import tempfile
    >>> clear_cache(tempfile.mkdtemp(), start="2024-01-01", end="2024-01-31")
    0
    """
    root = _root(cache_dir)
    removed = 0
    for fp in _fingerprints(root, client):
        removed += PlaylogCache(root, fp).clear(start=start, end=end, scope=scope)
    log.info("cache: removed %d cached day(s) from %s", removed, root)
    return removed


def _root(cache_dir: str | os.PathLike[str] | None) -> Path:
    root = resolve_cache_dir(cache_dir)
    if root is None:
        raise ValueError("cache_dir: None means no cache; give a directory or leave the default")
    return root


def _fingerprints(root: Path, client: Client | str | None) -> list[str]:
    """The accounts to look at: the client's, or every one under ``root``."""
    if client is None:
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    fingerprint = client if isinstance(client, str) else getattr(client, "fingerprint", None)
    if not isinstance(fingerprint, str):
        raise ValueError("client: expected a Client, an account fingerprint (str) or None")
    return [fingerprint]


def _record(
    fp: str, item: CachedDay | Path, settle: pd.Timedelta, tz: str | None
) -> dict[str, Any]:
    """One row of :func:`cache_info`: a cached day, or an unreadable file."""
    if isinstance(item, Path):
        day = item.parent.name.removeprefix("date=")
        scope = item.parent.parent.name.removeprefix("scope=")
        size = item.stat().st_size if item.exists() else 0
        return {"account": fp, "scope": scope, "date": day, "bytes": size}
    return {
        "account": fp,
        "scope": item.scope,
        "date": item.day.isoformat(),
        "rows": item.rows,
        "bytes": item.bytes,
        "report_id": item.report_id,
        "created_at": item.created_at,
        "fetched_at": item.fetched_at,
        "settled": item.is_settled(settle, tz),
        "player_ids": list(item.player_ids),
        "media_ids": list(item.media_ids),
        "valid": True,
    }


def _info_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The records as :func:`cache_info`'s frame, with its dtypes."""
    df = pd.DataFrame.from_records(records, columns=_INFO_COLUMNS)
    df["date"] = pd.to_datetime(df["date"]).astype("datetime64[s]")
    for name in ("rows", "report_id"):
        df[name] = df[name].astype("Int64")
    df["bytes"] = df["bytes"].astype("int64")
    for name in ("created_at", "fetched_at"):
        df[name] = pd.to_datetime(df[name], utc=True)
    for name in ("settled", "valid"):
        df[name] = df[name].fillna(False).astype(bool)
    return df
