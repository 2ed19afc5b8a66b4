"""The report object of the 4YouSee API, as a frozen dataclass."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PENDING", "Report"]

#: Terminal statuses; any other status is still pending.
SUCCESS = "success"
FAILED = "failed"
PENDING = ("waiting", "processing")


@dataclass(frozen=True)
class Report:
    """A playlog report: ``status`` goes ``waiting`` → ``success`` | ``failed``.

    ``url`` is a presigned object-store URL; its ``repr`` hides the query
    string (the signature).

    Examples
    --------
    >>> r = Report.from_api({"id": 7, "status": "waiting", "url": None})
    >>> r.id, r.done
    (7, False)
    """

    id: int
    status: str
    type: str = "detailed"
    format: str = "json"
    filter: dict[str, Any] = field(default_factory=dict)
    url: str | None = field(default=None, repr=False)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    error: dict[str, Any] | None = None

    @classmethod
    def from_api(cls, obj: Any) -> Report:
        """Build a report from the API's JSON object; a malformed object is ``ValueError``."""
        if not isinstance(obj, dict):
            raise ValueError(f"a report must be a JSON object, got {type(obj).__name__}")
        rid = obj.get("id")
        if isinstance(rid, bool) or not isinstance(rid, int | str):
            raise ValueError("a report needs an integer 'id'")
        try:
            rid = int(rid)
        except ValueError as exc:
            raise ValueError("a report needs an integer 'id'") from exc
        status = obj.get("status")
        if not isinstance(status, str):
            raise ValueError(f"report {rid}: 'status' must be a string")
        url = obj.get("url")
        if url is not None and not isinstance(url, str):
            raise ValueError(f"report {rid}: 'url' must be a string or null")
        filt = obj.get("filter") or {}
        err = obj.get("error")
        return cls(
            id=rid,
            status=status,
            type=str(obj.get("type") or "detailed"),
            format=str(obj.get("format") or "json"),
            filter=dict(filt) if isinstance(filt, dict) else {},
            url=url,
            created_at=_parse_time(obj.get("createdAt")),
            updated_at=_parse_time(obj.get("updatedAt")),
            error=dict(err) if isinstance(err, dict) else None,
        )

    @property
    def done(self) -> bool:
        """True once the status is terminal (``success`` or ``failed``)."""
        return self.status in (SUCCESS, FAILED)

    @property
    def succeeded(self) -> bool:
        """True when the report is ready to download."""
        return self.status == SUCCESS

    @property
    def failed(self) -> bool:
        """True when generation failed."""
        return self.status == FAILED


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
