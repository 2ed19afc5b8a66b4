"""Date/instant semantics shared by the client, ``fetch_playlogs`` and analysis.

* A ``datetime.date`` or a string without a time part (``"2024-03-31"``) is a
  whole day; as ``end`` it is inclusive.
* A ``datetime``, a ``pandas.Timestamp`` (even at midnight) or a string with a
  time part is an exact instant; the interval is half-open ``[start, end)``.
* Strings are ISO (``YYYY-MM-DD``, optionally ``[T ]HH:MM[:SS[.f]]`` and an
  offset). ``dd/mm/yyyy`` (optionally with ``HH:MM[:SS]``) is read only with
  ``dayfirst=True`` (CLI ``--dayfirst``); a slashed date without it is a
  ``ValueError`` naming the fix, never silently another day. :func:`read_bound`
  is the one place a string becomes a day or an instant.

Internally a range is two naive local timestamps, ``start`` inclusive and
``end`` exclusive.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

__all__ = [
    "DateLike",
    "TimeRange",
    "check_tz",
    "day_span",
    "is_day",
    "is_iso_date",
    "is_iso_time",
    "read_bound",
    "read_bounds",
    "resolve_range",
    "split_windows",
    "to_bound",
]

#: What ``start`` and ``end`` accept.
DateLike = str | dt.date | dt.datetime | pd.Timestamp

#: The API refuses reports over this many days (startDate..endDate inclusive).
MAX_WINDOW_DAYS = 30

_ONE_DAY = pd.Timedelta(days=1)
_ONE_SECOND = pd.Timedelta(seconds=1)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_TIME = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}")
#: An ISO instant: a date, ``T`` or a space, ``HH:MM[:SS[.fraction]]``, an optional offset.
_ISO_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
)
#: A day-first date, optionally with a time: ``dd/mm/yyyy[ HH:MM[:SS]]``.
_DAYFIRST = re.compile(
    r"(?P<d>[0-9]{1,2})/(?P<m>[0-9]{1,2})/(?P<y>[0-9]{4})"
    r"(?:[ T](?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2}))?)?"
)


def is_iso_date(value: object) -> bool:
    """True for a real calendar day written exactly ``YYYY-MM-DD`` (the API's and the
    report lines' date format).

    Examples
    --------
    >>> is_iso_date("2024-02-29"), is_iso_date("2023-02-29"), is_iso_date("2024-2-9")
    (True, False, False)
    """
    if not isinstance(value, str) or _ISO_DATE.fullmatch(value) is None:
        return False
    try:
        dt.date(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError:
        return False
    return True


def is_iso_time(value: object) -> bool:
    """True for a wall-clock time written exactly ``HH:MM:SS`` (00:00:00..23:59:59).

    Examples
    --------
    >>> is_iso_time("23:59:59"), is_iso_time("24:00:00"), is_iso_time("9:00:00")
    (True, False, False)
    """
    if not isinstance(value, str) or _ISO_TIME.fullmatch(value) is None:
        return False
    return int(value[:2]) <= 23 and int(value[3:5]) <= 59 and int(value[6:]) <= 59


@dataclass(frozen=True)
class TimeRange:
    """A half-open interval ``[start, end)`` of naive local time."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def first_day(self) -> dt.date:
        """The first calendar day the range touches."""
        return self.start.date()

    @property
    def last_day(self) -> dt.date:
        """The last calendar day the range touches (inclusive)."""
        if self.end <= self.start:
            return self.start.date()
        return (self.end - pd.Timedelta(1, "ns")).date()

    def days(self) -> list[dt.date]:
        """Every calendar day the range touches, in order.

        Examples
        --------
        >>> resolve_range("2024-02-28", "2024-03-01").days()
        [datetime.date(2024, 2, 28), datetime.date(2024, 2, 29), datetime.date(2024, 3, 1)]
        """
        if self.end <= self.start:
            return []
        return day_span(self.first_day, self.last_day)

    def api_filter_bounds(self) -> dict[str, str]:
        """``startDate/startTime/endDate/endTime`` for the API (its end is inclusive).

        Examples
        --------
        >>> resolve_range("2024-01-01", "2024-01-02").api_filter_bounds()["endTime"]
        '23:59:59'
        """
        start = self.start.floor("s")
        end = self.end.ceil("s") - _ONE_SECOND
        return {
            "startDate": start.strftime("%Y-%m-%d"),
            "startTime": start.strftime("%H:%M:%S"),
            "endDate": end.strftime("%Y-%m-%d"),
            "endTime": end.strftime("%H:%M:%S"),
        }


def read_bound(value: DateLike, name: str, *, dayfirst: bool = False) -> dt.date | pd.Timestamp:
    """A bound as what it means: a ``datetime.date`` (a whole day) or a
    ``pandas.Timestamp`` (an instant, tz-aware if it carried an offset).

    The one place strings are read: ISO ``YYYY-MM-DD`` (a day) or ISO with a time
    (an instant); ``dd/mm/yyyy`` (a day) or ``dd/mm/yyyy HH:MM[:SS]`` (an instant)
    only with ``dayfirst=True``. Anything else is a ``ValueError`` naming ``name``.

    Examples
    --------
    >>> read_bound("2024-02-01", "start")
    datetime.date(2024, 2, 1)
    >>> read_bound("01/02/2024", "start", dayfirst=True)
    datetime.date(2024, 2, 1)
    >>> read_bound("01/02/2024 08:30", "start", dayfirst=True)
    Timestamp('2024-02-01 08:30:00')
    >>> read_bound("01/02/2024", "start")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: start: '01/02/2024' is ambiguous (1 February or 2 January?): write ISO ...
    """
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            raise ValueError(f"{name}: {value!r} is not a date")
        return value
    if isinstance(value, dt.datetime):
        return pd.Timestamp(value)
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"{name}: expected a str, datetime.date, datetime.datetime or pandas.Timestamp, "
            f"got {type(value).__name__}"
        )
    text = value.strip()
    if "/" in text:
        return _read_dayfirst(text, value, name, dayfirst=dayfirst)
    if _ISO_DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{name}: {value!r} is not a valid date") from exc
    if _ISO_INSTANT.fullmatch(text):
        try:
            return pd.Timestamp(text)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name}: {value!r} is not a valid date and time") from exc
    raise ValueError(
        f"{name}: cannot read {value!r} as a date or a date and time: write ISO YYYY-MM-DD "
        "or YYYY-MM-DD HH:MM[:SS] (or dd/mm/yyyy with dayfirst=True, CLI: --dayfirst)"
    )


def _read_dayfirst(text: str, value: str, name: str, *, dayfirst: bool) -> dt.date | pd.Timestamp:
    """``dd/mm/yyyy[ HH:MM[:SS]]`` with ``dayfirst``; without it, an error naming the fix."""
    match = _DAYFIRST.fullmatch(text)
    if not dayfirst:
        raise ValueError(f"{name}: {_slashed_hint(value, match)}")
    if match is None:
        raise ValueError(
            f"{name}: {value!r} is not dd/mm/yyyy (optionally with HH:MM[:SS]) nor ISO YYYY-MM-DD"
        )
    try:
        day = dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
        if match["H"] is None:
            return day
        clock = dt.time(int(match["H"]), int(match["M"]), int(match["S"] or 0))
    except ValueError as exc:
        raise ValueError(f"{name}: {value!r} is not a valid dd/mm/yyyy date or time") from exc
    return pd.Timestamp(dt.datetime.combine(day, clock))


def _slashed_hint(value: str, match: re.Match[str] | None) -> str:
    """Why a slashed date is refused without ``dayfirst``, and how to write it."""
    fix = "pass dayfirst=True (CLI: --dayfirst) to read dd/mm/yyyy"
    if match is None or not 1 <= int(match["m"]) <= 12 or not 1 <= int(match["d"]) <= 31:
        return f"cannot read {value!r}: write ISO YYYY-MM-DD, or {fix}"
    d, m, y = int(match["d"]), int(match["m"]), match["y"]
    iso = f"'{y}-{m:02d}-{d:02d}' for {d} {_MONTHS[m - 1]}"
    if d <= 12 and d != m:
        why = f"is ambiguous ({d} {_MONTHS[m - 1]} or {m} {_MONTHS[d - 1]}?)"
    else:
        why = "is a slashed date, read only day-first on request"
    return f"{value!r} {why}: write ISO YYYY-MM-DD ({iso}), or {fix}"


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def read_bounds(
    start: DateLike | None, end: DateLike | None, *, dayfirst: bool = False
) -> tuple[dt.date | pd.Timestamp | None, dt.date | pd.Timestamp | None]:
    """Both bounds through :func:`read_bound` (``None`` stays ``None``): after this, no
    string is left, so the day/instant meaning is fixed by type.

    Examples
    --------
    >>> read_bounds("01/02/2024", None, dayfirst=True)
    (datetime.date(2024, 2, 1), None)
    """
    return (
        None if start is None else read_bound(start, "start", dayfirst=dayfirst),
        None if end is None else read_bound(end, "end", dayfirst=dayfirst),
    )


def is_day(value: DateLike, *, dayfirst: bool = False) -> bool:
    """True when a bound names a whole day, False for an instant.

    Examples
    --------
    >>> is_day("2024-03-01"), is_day("2024-03-01 00:00"), is_day(dt.date(2024, 3, 1))
    (True, False, True)
    """
    return not isinstance(read_bound(value, "value", dayfirst=dayfirst), pd.Timestamp)


def to_bound(
    value: DateLike, name: str, *, is_end: bool, tz: str | None = None, dayfirst: bool = False
) -> pd.Timestamp:
    """One bound as a naive local timestamp (a date-only ``end`` means the next midnight).

    A tz-aware instant is converted to ``tz`` (required then) and made naive.

    Examples
    --------
    >>> to_bound("2024-03-31", "end", is_end=True)
    Timestamp('2024-04-01 00:00:00')
    >>> to_bound("2024-03-31 10:30", "end", is_end=True)
    Timestamp('2024-03-31 10:30:00')
    >>> to_bound("31/03/2024", "end", is_end=True, dayfirst=True)
    Timestamp('2024-04-01 00:00:00')
    """
    when = read_bound(value, name, dayfirst=dayfirst)
    if not isinstance(when, pd.Timestamp):
        ts = pd.Timestamp(when)
        return ts + _ONE_DAY if is_end else ts
    ts = when
    if pd.isna(ts):
        raise ValueError(f"{name}: {value!r} is not a date")
    if ts.tzinfo is not None:
        if tz is None:
            raise ValueError(
                f"{name}: {value!r} carries a time zone but tz= was not given; "
                "pass tz= (the account's time zone) or a naive local time"
            )
        ts = ts.tz_convert(tz).tz_localize(None)
    return ts


def check_tz(tz: str | None) -> None:
    """``ValueError`` unless ``tz`` is None or a time zone pandas knows (a name, or a
    ``tzinfo`` such as the one of a tz-aware frame).

    Examples
    --------
    >>> check_tz("America/Sao_Paulo")
    >>> check_tz("Nowhere/City")
    Traceback (most recent call last):
    ...
    ValueError: tz: unknown time zone 'Nowhere/City' (e.g. 'America/Sao_Paulo')
    """
    if tz is None:
        return
    try:
        pd.Timestamp(0).tz_localize(tz)
    except Exception as exc:  # zoneinfo, pytz and dateutil each raise their own
        raise ValueError(f"tz: unknown time zone {tz!r} (e.g. 'America/Sao_Paulo')") from exc


def resolve_range(
    start: DateLike, end: DateLike, *, tz: str | None = None, dayfirst: bool = False
) -> TimeRange:
    """Resolve ``start``/``end`` to a :class:`TimeRange`; end before start is ``ValueError``
    (so is an unknown ``tz``). ``dayfirst`` reads ``dd/mm/yyyy`` (see :func:`read_bound`).

    Examples
    --------
    >>> r = resolve_range("2024-03-01", "2024-03-31")
    >>> r.start, r.end
    (Timestamp('2024-03-01 00:00:00'), Timestamp('2024-04-01 00:00:00'))
    >>> resolve_range("2024-03-02", "2024-03-01")
    Traceback (most recent call last):
    ...
    ValueError: end (2024-03-01) is before start (2024-03-02)
    """
    check_tz(tz)
    lo = to_bound(start, "start", is_end=False, tz=tz, dayfirst=dayfirst)
    hi = to_bound(end, "end", is_end=True, tz=tz, dayfirst=dayfirst)
    end_is_day = is_day(end, dayfirst=dayfirst)
    if hi < lo or (end_is_day and hi <= lo):
        raise ValueError(f"end ({end}) is before start ({start})")
    return TimeRange(lo, hi)


def day_span(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from ``first`` to ``last``, both included (empty if ``last < first``).

    Examples
    --------
    >>> day_span(dt.date(2024, 2, 28), dt.date(2024, 3, 1))
    [datetime.date(2024, 2, 28), datetime.date(2024, 2, 29), datetime.date(2024, 3, 1)]
    """
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def split_windows(
    days: list[dt.date], max_days: int = MAX_WINDOW_DAYS
) -> list[tuple[dt.date, dt.date]]:
    """Group sorted days into runs of consecutive days, each at most ``max_days`` long.

    Examples
    --------
    >>> d = dt.date(2024, 1, 1)
    >>> split_windows([d + dt.timedelta(days=i) for i in range(45)])
    [(datetime.date(2024, 1, 1), datetime.date(2024, 1, 30)), \
(datetime.date(2024, 1, 31), datetime.date(2024, 2, 14))]
    """
    if max_days < 1:
        raise ValueError(f"max_days must be at least 1, got {max_days}")
    windows: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if windows:
            first, last = windows[-1]
            if (day - last).days == 1 and (day - first).days < max_days:
                windows[-1] = (first, day)
                continue
        windows.append((day, day))
    return windows
