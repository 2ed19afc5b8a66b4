"""The 4YouSee Manager API (SPEC section 1) under ``/v1/``.

Routes: ``POST reports``, ``GET reports`` (paginated, newest first),
``GET reports/{id}``, ``GET players``, ``GET medias`` (paginated). Every route
needs the ``Secret-Token`` header (401 otherwise). Errors are JSON
``{"message": ...}``: 400 unreadable JSON body, 422 invalid body or ``page``,
404 unknown report or route, 405 wrong method.
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

__all__ = ["APIHandler", "paginate"]

_RESOURCES = {
    "/reports": ("GET", "POST"),
    "/reports/{id}": ("GET",),
    "/players": ("GET",),
    "/medias": ("GET",),
}


def paginate(items: list[Any], page: int, size: int) -> dict[str, Any]:
    """One page of ``items`` as the API serves it (pages start at 1).

    Examples
    --------
    >>> paginate(list(range(5)), 2, 2)
    {'totalPages': 3, 'results': [2, 3]}
    >>> paginate([], 1, 2)
    {'totalPages': 1, 'results': []}
    """
    total = max(1, math.ceil(len(items) / size))
    return {"totalPages": total, "results": items[(page - 1) * size : page * size]}


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
        raw = query.get("page", "1")
        if not raw.isdigit() or int(raw) < 1:
            self.message(422, f"page must be a positive integer, got {raw!r}")
            return
        if resource == "/players":
            items = sim.players
        elif resource == "/medias":
            items = sim.medias
        else:
            items = sim._all_reports_json()
        self.reply(200, paginate(items, int(raw), sim.page_size))

    def _create(self, body: bytes) -> None:
        sim = self.server.sim
        try:
            obj = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            self.message(400, "The request body is not valid JSON")
            return
        try:
            report, fault = sim._create_report(obj)
        except ValueError as exc:
            self.message(422, str(exc))
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

    def failed(self, status: int) -> None:
        self.message(status, _phrase(status))


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
