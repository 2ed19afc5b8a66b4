"""The API's JSON objects as the simulator serves them: reports and players."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from fouryousee_data.simulator import data
from fouryousee_data.simulator.faults import Fault

__all__ = ["ReportRecord", "iso", "player_json", "to_utc"]


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
    online = minutes is not None and minutes <= 15
    return {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "platform": p.platform,
        "group": {"id": p.group[0], "name": p.group[1]},
        "playerStatus": {
            "id": 1 if online else 2,
            "name": "Online" if online else "Offline",
            "time": last_text,
        },
        "lastContactInMinutes": minutes,
        "lastLogReceived": last_text,
    }
