"""Players and medias: the API's listings as typed frames (for names and enrichment).

:meth:`fouryousee_data.Client.players` and :meth:`~fouryousee_data.Client.medias`
fetch every page; the functions here turn those JSON objects into one row each.
They are pure: objects in, frame out, tolerant of missing or odd fields (an
object without an integer id is dropped, since it cannot be joined).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = ["medias_frame", "players_frame"]


def players_frame(objs: list[Any]) -> pd.DataFrame:
    """One row per player object of ``GET players``.

    Columns: ``player_id`` (int32), ``name``, ``description``, ``platform``,
    ``group_id`` (Int32), ``group_name``, ``status``, ``status_id`` (Int32: 1 Online,
    2 Alert, 3 Offline, as the API numbers them), ``last_contact_min`` (Int64),
    ``last_log_received`` (datetime, naive account-local time, NaT when never),
    ``status_min`` (Int64: ``playerStatus.time``, minutes), ``playlists`` (a dict per
    row, weekday as the API numbers it, ``0`` = Sunday .. ``6``, to the playlist id or
    ``None``), ``playlist_names`` (the same, to the names) and ``audios`` (a dict of
    audio playlist ids).

    Examples
    --------
    >>> df = players_frame([{"id": 1, "name": "Lobby", "group": {"id": 3, "name": "North"}}])
    >>> df[["player_id", "name", "group_name"]].to_dict("records")
    [{'player_id': 1, 'name': 'Lobby', 'group_name': 'North'}]
    """
    rows = [o for o in objs if isinstance(o, dict)]
    frame = pd.DataFrame(
        {
            "player_id": pd.array([_int(o.get("id")) for o in rows], dtype="Int64"),
            "name": _text([o.get("name") for o in rows]),
            "description": _text([o.get("description") for o in rows]),
            "platform": _text([o.get("platform") for o in rows]),
            "group_id": pd.array([_int(_get(o, "group", "id")) for o in rows], dtype="Int32"),
            "group_name": _text([_get(o, "group", "name") for o in rows]),
            "status": _text([_get(o, "playerStatus", "name") for o in rows]),
            "status_id": pd.array(
                [_int(_get(o, "playerStatus", "id")) for o in rows], dtype="Int32"
            ),
            "last_contact_min": pd.array(
                [_int(o.get("lastContactInMinutes")) for o in rows], dtype="Int64"
            ),
            "last_log_received": pd.to_datetime(
                pd.Series([o.get("lastLogReceived") for o in rows], dtype=object),
                errors="coerce",
                format="%Y-%m-%d %H:%M:%S",
            ).astype("datetime64[s]"),
            "status_min": pd.array(
                [_int(_get(o, "playerStatus", "time")) for o in rows], dtype="Int64"
            ),
            "playlists": _objects([_weekly(o.get("playlists"), "id") for o in rows]),
            "playlist_names": _objects([_weekly(o.get("playlists"), "name") for o in rows]),
            "audios": _objects([_weekly(o.get("audios"), "id") for o in rows]),
        }
    )
    return _with_int32_id(frame, "player_id")


def medias_frame(objs: list[Any]) -> pd.DataFrame:
    """One row per media object of ``GET medias``.

    Columns: ``media_id`` (int32), ``name``, ``description``, ``file``,
    ``duration_s`` (float64, NaN when unknown), ``categories`` (a list of
    category names per row), and the flight from ``schedule``:
    ``schedule_start``/``schedule_end`` (``datetime64[s]`` midnights of its first and
    last day, both inclusive; NaT when none), ``schedule_weekdays`` (the sorted list of
    weekdays of its times, as the API numbers them, ``[]`` when none) and
    ``schedule_times`` (a list of ``{"start", "end", "weekdays"}`` dicts, times as sent).

    Examples
    --------
    >>> df = medias_frame([{"id": 10, "durationInSeconds": 15, "categories": [{"name": "Ads"}]}])
    >>> df[["media_id", "duration_s", "categories"]].to_dict("records")
    [{'media_id': 10, 'duration_s': 15.0, 'categories': ['Ads']}]
    """
    rows = [o for o in objs if isinstance(o, dict)]
    frame = pd.DataFrame(
        {
            "media_id": pd.array([_int(o.get("id")) for o in rows], dtype="Int64"),
            "name": _text([o.get("name") for o in rows]),
            "description": _text([o.get("description") for o in rows]),
            "file": _text([o.get("file") for o in rows]),
            "duration_s": pd.Series(
                [_float(o.get("durationInSeconds")) for o in rows], dtype="float64"
            ),
            "categories": pd.Series(
                [_category_names(o.get("categories")) for o in rows], dtype=object
            ),
            "schedule_start": _dates([_get(o, "schedule", "startDate") for o in rows]),
            "schedule_end": _dates([_get(o, "schedule", "endDate") for o in rows]),
            "schedule_weekdays": _objects([_weekdays(_times(o)) for o in rows]),
            "schedule_times": _objects([_times(o) for o in rows]),
        }
    )
    return _with_int32_id(frame, "media_id")


def _objects(values: list[Any]) -> pd.Series:
    return pd.Series(values, dtype=object)


def _dates(values: list[Any]) -> pd.Series:
    """``YYYY-MM-DD`` texts as naive midnights (``datetime64[s]``); anything else is NaT."""
    texts = pd.Series([v if isinstance(v, str) else None for v in values], dtype=object)
    return pd.to_datetime(texts, errors="coerce", format="%Y-%m-%d").astype("datetime64[s]")


def _weekly(value: Any, key: str) -> dict[int, Any]:
    """``{"0": {"id": 3, "name": ...} | null, ...}`` as ``{0: 3, ...}`` (``key``'s values;
    ``None`` for a null day); keys that are not integers are dropped."""
    if not isinstance(value, dict):
        return {}
    out: dict[int, Any] = {}
    for day, item in value.items():
        number = _int(day)
        if number is not None:
            got = _get(item, key)
            out[number] = _int(got) if key == "id" else (got if isinstance(got, str) else None)
    return dict(sorted(out.items()))


def _times(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """``schedule.times`` as ``[{"start": "08:00", "end": "11:00", "weekdays": [1, 2]}]``."""
    times = _get(obj, "schedule", "times")
    if not isinstance(times, list):
        return []
    return [
        {
            "start": t.get("startTime") if isinstance(t.get("startTime"), str) else None,
            "end": t.get("endTime") if isinstance(t.get("endTime"), str) else None,
            "weekdays": sorted({d for d in map(_int, t.get("weekDays") or []) if d is not None})
            if isinstance(t.get("weekDays"), list)
            else [],
        }
        for t in times
        if isinstance(t, dict)
    ]


def _weekdays(times: list[dict[str, Any]]) -> list[int]:
    return sorted({d for t in times for d in t["weekdays"]})


def _with_int32_id(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Drop objects without an integer id (they cannot be joined) and make the id int32."""
    frame = frame[frame[column].notna()].reset_index(drop=True)
    frame[column] = frame[column].astype("int32")
    return frame


def _get(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...``, or ``None`` where a level is missing or not an object."""
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _text(values: list[Any]) -> pd.Series:
    return pd.Series([v if isinstance(v, str) else None for v in values], dtype="str")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _float(value: Any) -> float:
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _category_names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    names = (_get(c, "name") if isinstance(c, dict) else c for c in value)
    return [n for n in names if isinstance(n, str)]
