"""The API's JSON objects as the simulator serves them: reports and players.

Players carry ``playerStatus`` with the documented ids (1 Online, 2 Alert, 3 Offline;
6 Never accessed) and ``time`` in integer minutes, and ``playlists`` per weekday and
``audios`` as the Manager's objects do (``{"0": {"id", "name"} | null, ...}``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from fouryousee_data.simulator import data
from fouryousee_data.simulator.faults import Fault

__all__ = [
    "ReportRecord",
    "iso",
    "media_json",
    "media_schedule",
    "player_json",
    "player_status",
    "to_utc",
]


@dataclass
class ReportRecord:
    """One report the simulated API holds, and its state."""

    id: int
    body_filter: dict[str, Any]  #: the filter as sent
    flt: data.Filter
    created: dt.datetime
    webhook: str | None
    status: str = "waiting"
    updated: dt.datetime | None = None
    error: dict[str, Any] | None = None
    key: str | None = None  #: object key once the file exists
    null_url: bool = False
    faults: dict[str, Fault] = field(default_factory=dict)

    def to_json(self, url: str | None) -> dict[str, Any]:
        """The report object of ``GET reports/{id}``, with ``url`` (presigned or None)."""
        status = self.status
        never = self.faults.get("report_never_ready")
        if never is not None:
            status = str(never.options["status"])
        obj: dict[str, Any] = {
            "id": self.id,
            "type": "detailed",
            "format": "json",
            "filter": self.body_filter,
            "status": status,
            "url": url,
            "createdAt": iso(self.created),
            "updatedAt": iso(self.updated or self.created),
        }
        if self.error is not None:
            obj["error"] = self.error
        return obj


def iso(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with an offset, to the second, as the API writes timestamps."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def to_utc(value: dt.datetime | str) -> dt.datetime:
    """An aware UTC datetime from a datetime (naive = UTC) or an ISO 8601 string."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, dt.datetime):
        raise ValueError(f"now: expected a datetime or an ISO 8601 string, got {value!r}")
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


#: ``playerStatus`` ids and names (SPEC section 1; 6 is the Manager's "Never accessed").
ONLINE, ALERT, OFFLINE, NEVER = (1, "Online"), (2, "Alert"), (3, "Offline"), (6, "Never accessed")
#: Minutes since the last contact up to which a player is Online, then Alert, then Offline.
ONLINE_MINUTES, ALERT_MINUTES = 15, 60


def player_status(minutes: int | None) -> dict[str, Any]:
    """``playerStatus`` from the minutes since the last contact (``time``: those minutes).

    Examples
    --------
    >>> [player_status(m)["id"] for m in (0, 15, 16, 60, 61)], player_status(None)["name"]
    ([1, 1, 2, 2, 3], 'Never accessed')
    """
    if minutes is None:
        ident, name = NEVER
        return {"id": ident, "name": name, "time": 0}
    ident, name = ONLINE if minutes <= ONLINE_MINUTES else (
        ALERT if minutes <= ALERT_MINUTES else OFFLINE
    )  # fmt: skip
    return {"id": ident, "name": name, "time": int(minutes)}


def player_json(p: data.Player, network: data.Network, now: dt.datetime) -> dict[str, Any]:
    """The object ``GET players`` serves for ``p`` at simulated time ``now``."""
    last = network.last_log(p, now.timestamp())
    last_text = None
    minutes = None
    if last is not None:
        last_local = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=last)
        last_text = f"{last_local:%Y-%m-%d %H:%M:%S}"
        utc = last_local.replace(tzinfo=network.zone).astimezone(dt.UTC)
        minutes = max(0, int((now - utc).total_seconds() // 60))
    return {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "platform": p.platform,
        "group": {"id": p.group[0], "name": p.group[1]},
        "playerStatus": player_status(minutes),
        "lastContactInMinutes": minutes,
        "lastLogReceived": last_text,
        "playlists": weekly_playlists(p),
        "audios": audios(p),
    }


def weekly_playlists(p: data.Player) -> dict[str, dict[str, Any] | None]:
    """``playlists``: per weekday (``"0"`` Sunday .. ``"6"`` Saturday) the playlist the
    player runs, ``None`` on the days it stays closed. One playlist per player here."""
    playlist = {"id": 100 + p.id, "name": f"Playlist {p.name}"}
    closed = {(d + 1) % 7 for d in p.closed_weekdays}  # date.weekday() -> 0 = Sunday
    return {str(day): (None if day in closed else dict(playlist)) for day in range(7)}


def audios(p: data.Player) -> dict[str, dict[str, Any] | None]:
    """``audios``: the background-audio playlist (every third player has one)."""
    return {"0": {"id": 900, "name": "Rádio ambiente"} if p.id % 3 == 0 else None}


def media_json(m: data.Media) -> dict[str, Any]:
    """The object ``GET medias`` serves for ``m``, with its ``schedule``."""
    return m.to_api() | {"schedule": media_schedule(m.id)}


def media_schedule(media_id: int) -> dict[str, Any]:
    """A media's flight (``startDate``, ``endDate``, ``times`` with their ``weekDays``, 0 =
    Sunday). The synthetic players rotate every media of their playlist whenever they are
    open, so every flight covers all of it: years around the simulated data, all day (in one
    or two spans), every weekday.

    Examples
    --------
    >>> media_schedule(7)["startDate"], len(media_schedule(8)["times"])
    ('2020-08-01', 2)
    """
    every_day = [0, 1, 2, 3, 4, 5, 6]
    spans = [("00:00", "23:59")] if media_id % 2 else [("00:00", "11:59"), ("12:00", "23:59")]
    return {
        "startDate": f"{2019 + media_id % 2}-{1 + media_id % 12:02d}-01",
        "endDate": f"{2030 + media_id % 3}-12-31",
        "times": [{"startTime": a, "endTime": b, "weekDays": every_day} for a, b in spans],
    }
