"""The 4YouSee Manager API (SPEC section 1) under ``/v1/``.

Routes: ``POST reports``, ``GET reports`` (paginated, newest first),
``GET reports/{id}``, ``GET players``, ``GET medias`` (paginated). Listings take
``page``, ``limit`` (1..100, default ``page_size``) and ``sort`` (``-id``,
``id,-name``). Every route needs the ``Secret-Token`` header (401 otherwise).
Errors are JSON ``{"message": ...}``: 400 unreadable JSON body, 422 invalid body,
``page``, ``limit`` or ``sort``, 404 unknown report or route, 405 wrong method,
429 a second request for one URI within ``rate_limit_interval``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hmac
import json
import math
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fouryousee_data.simulator.faults import API_FAULTS, route_key
from fouryousee_data.simulator.server import Handler

__all__ = ["MAX_LIMIT", "APIHandler", "paginate", "sort_items"]

_RESOURCES = {
    "/reports": ("GET", "POST"),
    "/reports/{id}": ("GET",),
    "/players": ("GET",),
    "/medias": ("GET",),
}


#: The largest page a listing serves (``limit``); more is refused (422), not clamped.
MAX_LIMIT = 100


def paginate(items: list[Any], page: int, size: int) -> dict[str, Any]:
    """One page of ``items`` as the API serves it (pages start at 1).

    Examples
    --------
    >>> paginate(list(range(5)), 2, 2)
    {'results': [2, 3], 'total': 5, 'currentPage': 2, 'totalPages': 3}
    >>> paginate([], 1, 2)
    {'results': [], 'total': 0, 'currentPage': 1, 'totalPages': 0}
    """
    return {
        "results": items[(page - 1) * size : page * size],
        "total": len(items),
        "currentPage": page,
        "totalPages": math.ceil(len(items) / size),
    }


def sort_items(items: list[dict[str, Any]], spec: str) -> list[dict[str, Any]]:
    """``items`` ordered by a ``sort`` parameter: fields separated by commas, each
    ascending or, with a leading ``-``, descending (``-id``, ``id,-name``); a missing
    value sorts first; numbers before strings before objects (by their JSON). An empty
    field name is ``ValueError``.

    Examples
    --------
    >>> rows = [{"id": 1, "name": "b"}, {"id": 2, "name": "a"}, {"id": 3, "name": "b"}]
    >>> [r["id"] for r in sort_items(rows, "-id")], [r["id"] for r in sort_items(rows, "name,-id")]
    ([3, 2, 1], [2, 3, 1])
    """
    fields = [f.strip() for f in spec.split(",")]
    if not all(f.lstrip("-") for f in fields):
        raise ValueError(f"sort: expected fields such as '-id' or 'id,-name', got {spec!r}")
    out = list(items)
    for field in reversed(fields):  # stable sorts, last key first
        name = field.lstrip("-")
        present = [r for r in out if r.get(name) is not None]
        missing = [r for r in out if r.get(name) is None]
        present.sort(key=lambda r: _sort_key(r[name]), reverse=field.startswith("-"))
        out = missing + present
    return out


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers, then strings, then anything else by its JSON text (never a TypeError)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, json.dumps(value, sort_keys=True))


def _positive(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name, str(default))
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


def _resource(path: str) -> tuple[str | None, str | None]:
    """``/v1/reports/12`` → ``("/reports/{id}", "12")``; unknown → ``(None, None)``."""
    if not path.startswith("/v1/"):
        return None, None
    parts = [p for p in path[3:].split("/") if p]
    if len(parts) == 1 and "/" + parts[0] in _RESOURCES:
        return "/" + parts[0], None
    if len(parts) == 2 and parts[0] == "reports":
        return "/reports/{id}", parts[1]
    return None, None


class APIHandler(Handler):
    """Answers the API routes from the simulator's state."""

    do_POST = do_PUT = do_PATCH = do_DELETE = Handler.do_GET

    def reply(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        """Send ``obj`` as JSON."""
        body = json.dumps(obj, ensure_ascii=False).encode()
        self.send(status, body, "application/json", headers)

    def message(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        """Send a JSON error ``{"message": text}``."""
        self.reply(status, {"message": text}, headers)

    def answer(self) -> None:
        sim = self.server.sim
        body = self.read_body()
        if self.over_rate_limit():
            return
        url = urlsplit(self.path)
        resource, arg = _resource(url.path)
        concrete = route_key(f"{self.command} {url.path}")
        route = f"{self.command} {resource}" if resource else concrete
        fault = sim._faults.take(API_FAULTS, route, concrete)
        if fault is not None and self.apply_fault(fault):
            return
        token = self.headers.get("Secret-Token")
        if token is None or not hmac.compare_digest(token.encode(), sim.token.encode()):
            self.message(401, "Unauthenticated: missing or invalid Secret-Token header")
            return
        if resource is None:
            self.message(404, f"No route for {self.command} {url.path}")
            return
        if self.command not in _RESOURCES[resource]:
            self.message(405, f"Method {self.command} not allowed on {url.path}")
            return
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if resource == "/reports" and self.command == "POST":
            self._create(body)
        elif resource == "/reports/{id}":
            obj = sim._report_json(arg or "")
            if obj is None:
                self.message(404, f"Report with ID {arg} was not found")
            else:
                self.reply(200, obj)
        else:
            self._page(resource, query)

    def _page(self, resource: str, query: dict[str, str]) -> None:
        sim = self.server.sim
        try:
            page = _positive(query, "page", 1)
            size = _positive(query, "limit", sim.page_size)
            if size > MAX_LIMIT:
                raise ValueError(f"limit must be at most {MAX_LIMIT}, got {size}")
            if resource == "/players":
                items = sim.players
            elif resource == "/medias":
                items = sim.medias
            else:
                items = sim._all_reports_json()
            if "sort" in query:
                items = sort_items(items, query["sort"])
        except ValueError as exc:
            self.message(422, str(exc))
            return
        self.reply(200, paginate(items, page, size))

    def _create(self, body: bytes) -> None:
        sim = self.server.sim
        try:
            obj = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            self.message(400, "The request body is not valid JSON")
            return
        try:
            report, fault = sim._create_report(obj)
        except ValueError as exc:  # as the Manager answers: a message and the details
            self.reply(422, {"message": "Validation error", "details": {"report": [str(exc)]}})
            return
        if fault is not None:
            self._fault = fault.name
            if fault.options["drop"]:
                self.drop()
            else:
                status = int(fault.options["status"])
                self.message(status, _phrase(status))
            return
        self.reply(201, report)

    def rate_limited(self, retry_after: Any) -> None:
        self.message(429, "Too Many Requests", retry_after_header(retry_after))

    def failed(self, status: int, details: Any = None) -> None:
        body: dict[str, Any] = {"message": _phrase(status)}
        if details is not None:
            body["details"] = details
        self.reply(status, body)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server Error"


def retry_after_header(value: Any) -> dict[str, str]:
    """The ``Retry-After`` header for a ``rate_limit`` fault's ``retry_after`` option.

    A number is seconds, a ``datetime`` an HTTP-date (build it from ``sim.now()``:
    the API's ``Date`` header follows the simulated clock), a string is sent as is,
    None sends no header.

    Examples
    --------
    >>> import datetime as dt
    >>> retry_after_header(dt.datetime(2024, 4, 1, 12, 0, 2, tzinfo=dt.UTC))
    {'Retry-After': 'Mon, 01 Apr 2024 12:00:02 GMT'}
    >>> retry_after_header(None), retry_after_header(1.5)
    ({}, {'Retry-After': '1.5'})
    """
    if value is None:
        return {}
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return {"Retry-After": email.utils.format_datetime(aware.astimezone(dt.UTC), usegmt=True)}
    return {"Retry-After": str(value)}
