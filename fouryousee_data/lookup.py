"""Finding reports the account already has: newest first, and no further than needed.

An account's report list only grows, and each page is a request (paced at one a
second per URI), so a look at it never walks every page:

* the listing is asked newest first with the largest page, :data:`LISTING`
  (``sort=-id``, ``limit=100``);
* a look stops as soon as its answer is known: every filter asked about has its
  newest usable report, or the listing has gone back past ``since`` (reports are
  listed by id, newest first, so every later one is older);
* :class:`~fouryousee_data.Client` looks only :data:`REUSE_WITHIN` back for a
  report to reuse, and ``fetch_playlogs`` looks once per call for all its windows.

:func:`newest_matches` is the pure core: reports in, one answer per filter out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fouryousee_data import filters
from fouryousee_data.cache import CachedDay
from fouryousee_data.report import Report

__all__ = [
    "LISTING",
    "MAX_LIMIT",
    "PAGE",
    "REUSE_WITHIN",
    "before",
    "cached_from",
    "newest_matches",
]

#: The API's largest page (SPEC section 1: ``limit`` at most 100).
MAX_LIMIT = 100
#: How the players and medias listings are asked for: the largest pages.
PAGE: dict[str, Any] = {"limit": MAX_LIMIT}
#: How the report listing is asked for: newest first, the largest pages.
LISTING: dict[str, Any] = {"sort": "-id", "limit": MAX_LIMIT}
#: A report to reuse must have been created at most this long ago (older data
#: is worth a fresh report, and the look stops there).
REUSE_WITHIN = dt.timedelta(hours=24)


def before(report: Report, since: dt.datetime | None) -> bool:
    """Whether ``report`` was created before ``since`` (``None``: never).

    Examples
    --------
    >>> r = Report(id=1, status="success", created_at=dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    >>> before(r, dt.datetime(2024, 3, 2, tzinfo=dt.UTC)), before(r, None)
    (True, False)
    """
    return since is not None and report.created_at is not None and report.created_at < since


def newest_matches(
    reports: Iterable[Report],
    wanted: Sequence[dict[str, Any]],
    *,
    accept: Callable[[int, Report], bool] | None = None,
    since: Callable[[], dt.datetime | None] | None = None,
) -> list[Report | None]:
    """For each filter in ``wanted``, the first report of ``reports`` (newest first) whose
    normalised filter equals it and that ``accept(index, report)`` takes; ``None`` if none.

    Stops consuming ``reports`` once every filter has its report, or at the first report
    created before ``since()`` (called once the first report has arrived, so it may read a
    clock the first page set).

    Examples
    --------
    >>> f = filters.report_filter("2024-03-01", "2024-03-02")
    >>> g = filters.report_filter("2024-03-03", "2024-03-04")
    >>> listing = iter([Report(id=3, status="failed", filter=f),
    ...                 Report(id=2, status="success", filter=f),
    ...                 Report(id=1, status="success", filter=g)])
    >>> [r and r.id for r in newest_matches(listing, [f], accept=lambda i, r: not r.failed)]
    [2]
    >>> next(listing).id  # the answer was known at id 2: id 1 was never asked for
    1
    """
    keys = [filters.normalize(f) for f in wanted]
    found: list[Report | None] = [None] * len(keys)
    cutoff: dt.datetime | None = None
    for n, report in enumerate(reports):
        if n == 0 and since is not None:
            cutoff = since()
        if before(report, cutoff):
            break
        key = filters.normalize(report.filter)
        for i, wanted_key in enumerate(keys):
            if found[i] is None and key == wanted_key and (accept is None or accept(i, report)):
                found[i] = report
        if all(r is not None for r in found):
            break
    return found


def cached_from(
    report: Report, days: Iterable[dt.date], known: Mapping[dt.date, list[CachedDay]]
) -> bool:
    """True when the cache already holds one of ``days`` from ``report`` or a newer one
    (reusing ``report`` would return the same rows again).

    Examples
    --------
    >>> r = Report(id=5, status="success")
    >>> cached_from(r, [dt.date(2024, 3, 1)], {}), cached_from(r, [], {})
    (False, False)
    """
    for day in days:
        for entry in known.get(day, ()):
            if entry.report_id == report.id:
                return True
            if report.created_at and entry.created_at and entry.created_at >= report.created_at:
                return True
    return False
