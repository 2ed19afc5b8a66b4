"""The report filter: the one noun the client, cache, fetch, webhook and simulator share.

A filter is the ``filter`` object of ``POST reports`` (SPEC section 1)::

    {"startDate": "2024-03-01", "startTime": "00:00:00",
     "endDate": "2024-03-30", "endTime": "23:59:59",
     "mediaId": [], "playerId": [2], "sort": -1}

* :func:`report_filter` builds it from ``start``/``end`` (whole days or instants)
  and ids, refusing a window over 30 days;
* :func:`normalize` puts one (as sent, or as echoed by the API) in canonical form,
  so that two filters compare equal when they ask for the same report;
* :func:`check` validates one that came from outside (a webhook body);
* :func:`covered_days` and :func:`whole_days` say which whole days it holds
  (the unit of the cache);
* :func:`scope` names the cache scope of its ids (``all`` or ``f-<hash>``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from fouryousee_data.schema import normalize_ids
from fouryousee_data.timerange import (
    MAX_WINDOW_DAYS,
    DateLike,
    day_span,
    is_iso_date,
    is_iso_time,
    resolve_range,
)

__all__ = [
    "ALL_SCOPE",
    "check",
    "covered_days",
    "normalize",
    "report_filter",
    "scope",
    "whole_days",
]

#: The cache scope of a filter without ids (all players, all medias).
ALL_SCOPE = "all"

DAY_START = "00:00:00"
DAY_END = "23:59:59"
_BOUNDS = ("startDate", "startTime", "endDate", "endTime")
_ID_KEYS = ("mediaId", "playerId")
_MAX_ID = 2**63 - 1


def report_filter(
    start: DateLike,
    end: DateLike,
    *,
    player_ids: Iterable[int] | None = (),
    media_ids: Iterable[int] | None = (),
    sort: int = -1,
    tz: str | None = None,
    dayfirst: bool = False,
) -> dict[str, Any]:
    """The canonical API filter of a report over ``start``..``end``.

    Whole days map to ``00:00:00``..``23:59:59``; instants map to ``start`` and,
    the API's end being inclusive, ``end - 1 s``. Ids are sorted, deduplicated
    ints (empty = all). ``tz`` is needed only for tz-aware instants (converted
    to the account's local time). ``dayfirst`` reads ``dd/mm/yyyy`` strings.

    Raises
    ------
    ValueError
        End before start, an empty interval, a window over 30 days, bad ids or sort.

    Examples
    --------
    >>> report_filter("2024-03-01", "2024-03-30", player_ids=[3, 1, 3])
    {'startDate': '2024-03-01', 'startTime': '00:00:00', 'endDate': '2024-03-30', \
'endTime': '23:59:59', 'mediaId': [], 'playerId': [1, 3], 'sort': -1}
    >>> report_filter("2024-03-01", "2024-03-31")
    Traceback (most recent call last):
    ...
    ValueError: end: the window 2024-03-01..2024-03-31 spans 31 days; one report covers at most 30
    """
    if sort not in (-1, 1) or isinstance(sort, bool):
        raise ValueError(f"sort must be -1 (newest first) or 1, got {sort!r}")
    span = resolve_range(start, end, tz=tz, dayfirst=dayfirst)
    if span.end <= span.start:
        raise ValueError(f"end ({end}) must be after start ({start})")
    first, last = span.first_day, span.last_day  # the dates of startDate and endDate
    days = (last - first).days + 1
    if days > MAX_WINDOW_DAYS:
        raise ValueError(
            f"end: the window {first}..{last} spans {days} days; "
            f"one report covers at most {MAX_WINDOW_DAYS}"
        )
    return {
        **span.api_filter_bounds(),
        "mediaId": list(normalize_ids(media_ids, "media_ids")),
        "playerId": list(normalize_ids(player_ids, "player_ids")),
        "sort": sort,
    }


def normalize(obj: Any) -> dict[str, Any]:
    """A filter (as sent or as echoed by the API) in canonical form, for comparison.

    Ids become sorted distinct ints, ``sort`` an int (default -1); values that
    cannot be read that way are kept as they are (so they compare unequal).

    Examples
    --------
    >>> normalize({"startDate": "2024-01-01", "playerId": ["2", 1, 2]})["playerId"]
    [1, 2]
    >>> normalize("not a filter")
    {}
    """
    if not isinstance(obj, dict):
        return {}
    out: dict[str, Any] = {k: obj.get(k) for k in _BOUNDS}
    for key in _ID_KEYS:
        try:
            out[key] = sorted({int(i) for i in (obj.get(key) or [])})
        except (TypeError, ValueError):
            out[key] = obj.get(key)
    try:
        out["sort"] = int(obj.get("sort", -1))
    except (TypeError, ValueError):
        out["sort"] = obj.get("sort")
    return out


def check(obj: Any) -> dict[str, Any]:
    """``obj`` if it is a well-formed filter, else ``ValueError`` saying what is wrong.

    For filters from outside (a webhook body): only the known keys, dates
    ``YYYY-MM-DD``, times ``HH:MM:SS``, positive integer ids, ``sort`` -1 or 1,
    ``startDate``/``endDate`` required and in order.

    Examples
    --------
    >>> check({"startDate": "2024-03-01", "endDate": "2024-03-02"})["endDate"]
    '2024-03-02'
    >>> check({"startDate": "2024-03-01", "endDate": "2024-02-30"})
    Traceback (most recent call last):
    ...
    ValueError: 'filter.endDate' has the wrong type or format
    """
    if not isinstance(obj, dict):
        raise ValueError(f"'filter' must be an object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - set(_CHECKS))
    if unknown:
        names = ", ".join(repr(str(k)[:40]) for k in unknown[:3])
        raise ValueError(f"'filter' has unknown keys: {names}")
    for key in ("startDate", "endDate"):
        if key not in obj:
            raise ValueError(f"'filter.{key}' is required")
    for key, valid in _CHECKS.items():
        if key in obj and not valid(obj[key]):
            raise ValueError(f"'filter.{key}' has the wrong type or format")
    if obj["endDate"] < obj["startDate"]:
        raise ValueError("'filter' ends before it starts")
    return obj


def covered_days(obj: dict[str, Any]) -> list[dt.date]:
    """The whole days a filter covers, in order (a missing time means the day's edge).

    A partly covered first or last day is left out: only whole days are cached.

    Examples
    --------
    >>> covered_days({"startDate": "2024-03-01", "startTime": "00:00:00",
    ...               "endDate": "2024-03-03", "endTime": "12:00:00"})
    [datetime.date(2024, 3, 1), datetime.date(2024, 3, 2)]
    """
    first, start_time, last, end_time = _edges(obj)
    if start_time != DAY_START:
        first += dt.timedelta(days=1)
    if end_time != DAY_END:
        last -= dt.timedelta(days=1)
    return day_span(first, last)


def whole_days(obj: dict[str, Any]) -> list[dt.date] | None:
    """The days of a filter that is exactly whole days (``00:00:00``..``23:59:59``
    written out, at most 30 of them), or ``None`` for any other or unreadable filter.

    Stricter than :func:`covered_days`: a report received from outside is cached
    only when it plainly is a whole-day report.

    Examples
    --------
    >>> whole_days({"startDate": "2024-02-28", "startTime": "00:00:00",
    ...             "endDate": "2024-03-01", "endTime": "23:59:59"})
    [datetime.date(2024, 2, 28), datetime.date(2024, 2, 29), datetime.date(2024, 3, 1)]
    >>> whole_days({"startDate": "2024-02-28", "startTime": "10:00:00",
    ...             "endDate": "2024-02-28", "endTime": "23:59:59"}) is None
    True
    """
    if obj.get("startTime", DAY_START) != DAY_START or obj.get("endTime") != DAY_END:
        return None
    try:
        days = covered_days(obj)
    except ValueError:
        return None
    return days if 0 < len(days) <= MAX_WINDOW_DAYS else None


def scope(player_ids: Sequence[int] = (), media_ids: Sequence[int] = ()) -> str:
    """The cache scope of (normalised) ids: ``all`` or ``f-<12 hex>``.

    Examples
    --------
    >>> scope()
    'all'
    >>> scope((2,), ()) == scope((2,), ()), scope((2,), ()).startswith("f-")
    (True, True)
    """
    if not player_ids and not media_ids:
        return ALL_SCOPE
    material = json.dumps({"mediaId": list(media_ids), "playerId": list(player_ids)})
    return "f-" + hashlib.sha256(material.encode()).hexdigest()[:12]


def _edges(obj: dict[str, Any]) -> tuple[dt.date, str, dt.date, str]:
    """``(first day, start time, last day, end time)`` of a filter, or ``ValueError``."""
    start_time = obj.get("startTime") or DAY_START
    end_time = obj.get("endTime") or DAY_END
    first, last = obj.get("startDate"), obj.get("endDate")
    if not (is_iso_date(first) and is_iso_date(last) and is_iso_time(start_time)) or not (
        is_iso_time(end_time)
    ):
        raise ValueError(f"filter: cannot read the report's date range from {_bounds(obj)}")
    return dt.date.fromisoformat(str(first)), start_time, dt.date.fromisoformat(str(last)), end_time


def _bounds(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: obj.get(k) for k in _BOUNDS}


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and all(type(v) is int and 0 < v <= _MAX_ID for v in value)


_CHECKS = {
    "startDate": is_iso_date,
    "endDate": is_iso_date,
    "startTime": is_iso_time,
    "endTime": is_iso_time,
    "playerId": _is_id_list,
    "mediaId": _is_id_list,
    "sort": lambda v: type(v) is int and v in (-1, 1),
}
