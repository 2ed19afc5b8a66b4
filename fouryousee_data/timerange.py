"""Date/instant semantics shared by the client, ``fetch_playlogs`` and analysis.

* A ``datetime.date`` or a string without a time part (``"2024-03-31"``) is a
  whole day; as ``end`` it is inclusive.
* A ``datetime``, a ``pandas.Timestamp`` (even at midnight) or a string with a
  time part is an exact instant; the interval is half-open ``[start, end)``.

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
    "is_iso_date",
    "is_iso_time",
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


def to_bound(value: DateLike, name: str, *, is_end: bool, tz: str | None = None) -> pd.Timestamp:
    """One bound as a naive local timestamp (a date-only ``end`` means the next midnight).

    A tz-aware instant is converted to ``tz`` (required then) and made naive.

    Examples
    --------
    >>> to_bound("2024-03-31", "end", is_end=True)
    Timestamp('2024-04-01 00:00:00')
    >>> to_bound("2024-03-31 10:30", "end", is_end=True)
    Timestamp('2024-03-31 10:30:00')
    """
    day = _as_day(value, name)
    if day is not None:
        ts = pd.Timestamp(day)
        return ts + _ONE_DAY if is_end else ts
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: cannot read {value!r} as a date or a date and time") from exc
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


def _as_day(value: object, name: str) -> dt.date | None:
    if isinstance(value, pd.Timestamp | dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            try:
                return dt.date.fromisoformat(text)
            except ValueError as exc:
                raise ValueError(f"{name}: {value!r} is not a valid date") from exc
        return None
    raise ValueError(
        f"{name}: expected a str, datetime.date, datetime.datetime or pandas.Timestamp, "
        f"got {type(value).__name__}"
    )


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


def resolve_range(start: DateLike, end: DateLike, *, tz: str | None = None) -> TimeRange:
    """Resolve ``start``/``end`` to a :class:`TimeRange`; end before start is ``ValueError``
    (so is an unknown ``tz``).

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
    lo = to_bound(start, "start", is_end=False, tz=tz)
    hi = to_bound(end, "end", is_end=True, tz=tz)
    end_is_day = _as_day(end, "end") is not None
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
