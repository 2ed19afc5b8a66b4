"""Fault injection: named faults with options, each consumed a number of times.

A fault applies where it makes sense:

* API faults (``rate_limit``, ``server_error``, ``slow``, ``reset``) to the next
  request(s) on a matching route (``route=None``: any API route; ``"GET store"``
  to hit the object store with them);
* creation faults (``create_then_fail``, ``report_failed``,
  ``report_never_ready``) to the next ``POST reports`` that creates a report;
* ``null_url`` to the next report that becomes ready (it stays ``url: null``);
* store faults to the next download(s) of a report file.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "API_FAULTS",
    "CREATE_FAULTS",
    "FAULTS",
    "STORE_FAULTS",
    "Fault",
    "FaultSet",
    "route_key",
]

#: Every fault name and its options with their defaults.
FAULTS: dict[str, dict[str, Any]] = {
    # API (and "GET store" when given as route)
    "rate_limit": {"retry_after": 0},
    "server_error": {"status": 503, "details": None},
    "slow": {"delay": 1.0},
    "reset": {},
    # POST reports
    "create_then_fail": {"status": 502, "drop": False},
    "report_failed": {"code": 422, "message": "There was an error generating the report"},
    "report_never_ready": {"status": "waiting"},
    # a report becoming ready
    "null_url": {},
    # object store
    "store_reset": {"after_bytes": None},
    "truncated_gzip": {"keep_bytes": None},
    "corrupt_crc": {},
    "malformed_line": {"line": 1, "text": '{"date": "2024-01-01", "time": '},
    "expired_url": {},
    "content_encoding_gzip": {},
    "empty_file": {},
    "empty_gzip": {},
    "redirect": {},
}
API_FAULTS = frozenset({"rate_limit", "server_error", "slow", "reset"})
CREATE_FAULTS = frozenset({"create_then_fail", "report_failed", "report_never_ready"})
STORE_FAULTS = frozenset(
    {
        "store_reset",
        "truncated_gzip",
        "corrupt_crc",
        "malformed_line",
        "expired_url",
        "content_encoding_gzip",
        "empty_file",
        "empty_gzip",
        "redirect",
    }
)
STORE_ROUTE = "GET store"


def route_key(route: str) -> str:
    """Normalise a route: ``"get reports/{id}"`` → ``"GET /reports/{id}"``.

    Examples
    --------
    >>> route_key("post reports"), route_key("GET /v1/reports/12/")
    ('POST /reports', 'GET /reports/12')
    """
    method, _, path = route.strip().partition(" ")
    path = "/" + path.strip().strip("/")
    if path.startswith("/v1/") or path == "/v1":
        path = path[3:] or "/"
    return f"{method.upper()} {path}" if path != "/store" else f"{method.upper()} store"


@dataclass
class Fault:
    """One injected fault; ``remaining`` counts down as it is consumed."""

    name: str
    remaining: int
    route: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def matches(self, route: str, concrete: str) -> bool:
        """Whether this fault applies to a request on ``route`` (template) / ``concrete`` path."""
        if self.route is None:
            return route != STORE_ROUTE
        return self.route in (route, concrete)


class FaultSet:
    """The pending faults of one simulator (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def inject(self, name: str, times: int = 1, route: str | None = None, **options: Any) -> Fault:
        """Add a fault; unknown names or options are ``ValueError``."""
        if name not in FAULTS:
            raise ValueError(f"fault: unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
        unknown = set(options) - set(FAULTS[name])
        if unknown:
            raise ValueError(f"fault {name!r}: unknown option(s) {sorted(unknown)}")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a positive integer, got {times!r}")
        fault = Fault(name, times, route_key(route) if route else None, FAULTS[name] | options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, names: frozenset[str], route: str = "", concrete: str = "") -> Fault | None:
        """Consume the first pending fault among ``names`` that matches the route."""
        with self._lock:
            for fault in self._faults:
                if fault.name in names and (route == "" or fault.matches(route, concrete)):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def take_each(self, names: frozenset[str]) -> dict[str, Fault]:
        """Consume at most one pending fault of each name in ``names``."""
        taken = {}
        for name in sorted(names):
            fault = self.take(frozenset({name}))
            if fault is not None:
                taken[name] = fault
        return taken

    def pending(self) -> list[Fault]:
        """The faults not yet used up."""
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()
