"""Which Parquet files hold the days of a scan: the cache's (one folder per account) or a
published dataset's (a local folder or an object-store prefix).

A scan reads whole day files and cuts them in the engine (:class:`Cut`), so this module
only picks files and never reads rows: each cached day's footer is checked (a damaged
file is a miss), a published day is trusted to be whole (it was written whole).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fouryousee_data.cache import CachedDay, PlaylogCache, parse_settle
from fouryousee_data.errors import MissingDaysError
from fouryousee_data.timerange import TimeRange

__all__ = ["Cut", "cached_days", "describe_days", "published_files", "serving_entry"]

log = logging.getLogger("fouryousee_data.dataset")

#: The file name of a published day, inside ``date=YYYY-MM-DD/``.
PUBLISHED_PART = "part-0.parquet"
_DAY_FOLDER = re.compile(r"date=([0-9]{4}-[0-9]{2}-[0-9]{2})$")


@dataclass(frozen=True)
class Cut:
    """The rows a scan keeps of the day files: ``[start, end)`` of local time, the ids
    (empty: all), and the time zone ``played_at`` is given."""

    span: TimeRange
    player_ids: tuple[int, ...] = ()
    media_ids: tuple[int, ...] = ()
    tz: str | None = None


def cached_days(
    caches: Sequence[PlaylogCache], cut: Cut, *, settle: pd.Timedelta | str = "24h"
) -> list[CachedDay]:
    """The cached day serving each day of ``cut`` in every account's cache (day order,
    then account order): the settled one where there is one, else the newest
    provisional one. ``MissingDaysError`` lists the days a cache does not hold.

    Examples
    --------
    >>> import tempfile
    >>> from fouryousee_data.timerange import resolve_range
    >>> cache = PlaylogCache(tempfile.mkdtemp(), "0123456789abcdef")
    >>> cached_days([cache], Cut(resolve_range("2024-03-01", "2024-03-02")))
    Traceback (most recent call last):
    ...
    fouryousee_data.errors.MissingDaysError: 2 day(s) not in the cache: 2024-03-01..2024-03-02 \
(account 0123456789abcdef); fetch them first (scan_playlogs(..., fetch=True) or fetch_playlogs)
    """
    days = cut.span.days()
    found: list[tuple[dt.date, int, CachedDay]] = []
    missing: list[str] = []
    all_missing: set[dt.date] = set()
    for i, cache in enumerate(caches):
        loaded = cache.load(
            days,
            player_ids=cut.player_ids,
            media_ids=cut.media_ids,
            settle=parse_settle(settle),
            tz=cut.tz,
            rows=False,
        )
        lacking = []
        for day in days:
            entry = serving_entry(loaded.served.get(day), loaded.known.get(day, []))
            if entry is None:
                lacking.append(day)
            else:
                found.append((day, i, entry))
        if lacking:
            all_missing.update(lacking)
            missing.append(f"{describe_days(lacking)} (account {cache.fingerprint})")
    if missing:
        raise MissingDaysError(
            f"{len(all_missing)} day(s) not in the cache: {'; '.join(missing)}; fetch them "
            "first (scan_playlogs(..., fetch=True) or fetch_playlogs)",
            sorted(all_missing),
        )
    return [entry for _, _, entry in sorted(found, key=lambda f: (f[0], f[1]))]


def serving_entry(settled: CachedDay | None, known: Sequence[CachedDay]) -> CachedDay | None:
    """The settled entry, else the newest provisional one (``None``: not cached)."""
    if settled is not None:
        return settled
    if not known:
        return None
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return max(known, key=lambda e: e.created_at or epoch)


def published_files(fs: Any, root: str, cut: Cut) -> list[str]:
    """The day files of a published dataset (``root/date=YYYY-MM-DD/part-0.parquet``
    on the fsspec filesystem ``fs``) for the days of ``cut``; ``MissingDaysError``
    lists the days it lacks. One listing of ``root``."""
    present = {}
    for path in fs.glob(f"{root.rstrip('/')}/date=*/{PUBLISHED_PART}"):
        match = _DAY_FOLDER.search(path.rsplit("/", 2)[-2])
        if match:
            present[dt.date.fromisoformat(match.group(1))] = path
    days = cut.span.days()
    lacking = [d for d in days if d not in present]
    if lacking:
        raise MissingDaysError(
            f"{len(lacking)} day(s) not in the published dataset {root}: "
            f"{describe_days(lacking)} (publish_cache copies only settled days)",
            lacking,
        )
    return [present[d] for d in days]


def describe_days(days: Sequence[dt.date]) -> str:
    """Days as runs, ``2024-03-01..2024-03-05, 2024-03-09``.

    Examples
    --------
    >>> d = dt.date(2024, 3, 1)
    >>> describe_days([d, d + dt.timedelta(1), d + dt.timedelta(5)])
    '2024-03-01..2024-03-02, 2024-03-06'
    """
    runs: list[list[dt.date]] = []
    for day in sorted(days):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(f"{run[0]}..{run[-1]}" if len(run) > 1 else run[0].isoformat() for run in runs)
