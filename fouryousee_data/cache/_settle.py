"""The settle policy: when a cached day is final (*settled*) or *provisional*.

Players upload playlogs late, so a report made soon after a day ended may miss some
of its plays. A day is settled once the report that produced it was created at least
``settle`` (default 24 h) after the day ended (SPEC section 4); provisional days are
served by no cache read and fetched again next time. Without the account's time
zone, "the day ended" is judged in the latest zone on earth (UTC-12): never too early.

Empty reports (SPEC section 1): a report with no playlogs at all (``url: null``, an
empty file or an empty gzip) may be a store glitch, so the days it leaves empty are
provisional, whatever their age, until a second, later report finds them empty too.
The day's lineage records it: ``empty_report`` (true) and ``agrees_with`` (the id of
the earlier report that also found the day empty, or null). See :func:`empty_day`
and :func:`agreed`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = [
    "CONSERVATIVE_OFFSET",
    "Settle",
    "agreed",
    "day_end_utc",
    "empty_day",
    "is_settled",
    "parse_settle",
]

#: "The day ended" when the account's time zone is unknown: the latest zone on earth.
CONSERVATIVE_OFFSET = dt.timezone(dt.timedelta(hours=-12))
#: What ``settle=`` accepts.
Settle = str | pd.Timedelta | dt.timedelta

_ONE_DAY = dt.timedelta(days=1)
_ZERO = pd.Timedelta(0)


def parse_settle(settle: Settle) -> pd.Timedelta:
    """``settle`` as a non-negative :class:`pandas.Timedelta` (``"24h"``, ``"2D"``, ...).

    Raises
    ------
    ValueError
        Not a duration, or a negative one.

    Examples
    --------
    >>> parse_settle("24h")
    Timedelta('1 days 00:00:00')
    >>> parse_settle(dt.timedelta(hours=6))
    Timedelta('0 days 06:00:00')
    """
    if isinstance(settle, pd.Timedelta) and settle >= _ZERO:  # already parsed
        return settle
    if isinstance(settle, bool) or not isinstance(settle, str | dt.timedelta | pd.Timedelta):
        raise ValueError(f"settle: expected a duration like '24h' or a timedelta, got {settle!r}")
    try:
        value = pd.Timedelta(settle)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"settle: cannot read {settle!r} as a duration (e.g. '24h')") from exc
    if pd.isna(value) or value < _ZERO:
        raise ValueError(f"settle: must be a non-negative duration, got {settle!r}")
    return value


def day_end_utc(day: dt.date, tz: str | None = None) -> dt.datetime:
    """The instant (aware, UTC) a local calendar day ends.

    With ``tz`` it is the next local midnight there; without, the day's end in
    the latest time zone on earth (UTC-12), which is never too early.

    Examples
    --------
    >>> day_end_utc(dt.date(2024, 3, 1)).isoformat()
    '2024-03-02T12:00:00+00:00'
    >>> day_end_utc(dt.date(2024, 3, 1), "America/Sao_Paulo").isoformat()
    '2024-03-02T03:00:00+00:00'
    """
    if tz is None:
        end = dt.datetime.combine(day + _ONE_DAY, dt.time(), CONSERVATIVE_OFFSET)
        return end.astimezone(dt.UTC)
    midnight = pd.Timestamp(day + _ONE_DAY)
    # A midnight that does not exist or repeats (DST) resolves to the later instant.
    local = midnight.tz_localize(tz, ambiguous=False, nonexistent="shift_forward")
    return local.tz_convert("UTC").to_pydatetime()


def is_settled(
    day: dt.date,
    created_at: dt.datetime | None,
    settle: Settle = "24h",
    tz: str | None = None,
) -> bool:
    """True when a report created at ``created_at`` holds ``day`` settled: created at
    least ``settle`` after the day ended (see :func:`day_end_utc`). Unknown
    ``created_at`` is never settled.

    Examples
    --------
    >>> created = dt.datetime(2024, 3, 3, 12, tzinfo=dt.UTC)
    >>> is_settled(dt.date(2024, 3, 1), created), is_settled(dt.date(2024, 3, 2), created)
    (True, False)
    """
    if created_at is None:
        return False
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=dt.UTC)
    return created_at >= day_end_utc(day, tz) + parse_settle(settle)


def empty_day(lineage: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """The lineage keys of a day written empty from a report that had no playlogs at all:
    ``empty_report`` and ``agrees_with``, the id of the earlier report that found the same
    day empty too (``previous``: the lineage of the file being replaced, if any), else None.

    Agreement takes another report (another id), created no later than this one, whose
    file held zero rows for the day, from an empty report or not.

    Examples
    --------
    >>> first = {"report_id": 1, "report_created_at": "2024-03-03T00:00:00+00:00", "rows": 0}
    >>> second = {"report_id": 2, "report_created_at": "2024-03-04T00:00:00+00:00", "rows": 0}
    >>> empty_day(first, None), empty_day(second, first)["agrees_with"]
    ({'empty_report': True, 'agrees_with': None}, 1)
    >>> empty_day(first, first)["agrees_with"] is None  # the same report does not agree with itself
    True
    """
    agrees = None
    if previous is not None and previous.get("rows") == 0:
        before, now = _created(previous), _created(lineage)
        other = previous.get("report_id") not in (None, lineage.get("report_id"))
        if other and before is not None and now is not None and before <= now:
            agrees = previous.get("report_id")
    return {"empty_report": True, "agrees_with": agrees}


def agreed(lineage: Mapping[str, Any]) -> bool:
    """False for a day left empty by an empty report that no later report confirmed yet
    (it stays provisional); True otherwise.

    Examples
    --------
    >>> agreed({"rows": 3}), agreed({"empty_report": True, "agrees_with": None})
    (True, False)
    """
    return not lineage.get("empty_report") or lineage.get("agrees_with") is not None


def _created(lineage: Mapping[str, Any]) -> dt.datetime | None:
    value = lineage.get("report_created_at")
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
