"""The :class:`Simulator`: the API server, the object store and their shared state."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import math
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

from fouryousee_data.simulator import data
from fouryousee_data.simulator.api import APIHandler
from fouryousee_data.simulator.faults import CREATE_FAULTS, Fault, FaultSet
from fouryousee_data.simulator.objects import ReportRecord, media_json, player_json, to_utc
from fouryousee_data.simulator.server import RateLimitViolation, RequestRecord, Server
from fouryousee_data.simulator.store import ObjectStore, StoreHandler
from fouryousee_data.simulator.webhooks import Notifier, Scheduler, WebhookDelivery

__all__ = ["Simulator"]

log = logging.getLogger("fouryousee_data.simulator")


class Simulator:
    """A real 4YouSee API on loopback, with synthetic playlogs and fault injection.

    The API listens on ``127.0.0.1``; report files are served by an object store
    on another loopback address, ``127.0.0.2`` (or ``localhost`` on another port
    when 127.0.0.2 cannot be bound). Reports are created at :meth:`now` (the
    simulated clock: real time when ``now=None``, else frozen at ``now`` and moved
    only by :meth:`set_now` / :meth:`advance`) and become ready ``report_delay``
    real seconds later.

    Parameters
    ----------
    seed, players, medias, tz, plays_per_hour
        The synthetic network (:class:`~fouryousee_data.simulator.data.Network`).
    report_delay
        Real seconds from creation to ``success``.
    url_ttl
        Seconds a presigned file URL stays valid, on the simulated clock: with a frozen
        clock (``now=``) a URL expires only when :meth:`advance` moves the clock past it.
    webhook_time_scale
        Multiplies the webhook retry delays (2, 8, 26 minutes after the first attempt).
    now
        The simulated clock's start (aware or UTC datetime / ISO string); None = real time.
    store_bandwidth
        Bytes/s per download connection; None = unthrottled.
    page_size
        Items per page of ``reports``, ``players`` and ``medias``.
    token
        The ``Secret-Token`` to accept; random when None.
    rate_limit_interval
        The API's documented rate limit: a second request for the same (client IP,
        method, URI: path and query) within this many real seconds of the previous one
        is answered 429 **without** ``Retry-After`` (the object store: 503 ``SlowDown``)
        and recorded in :attr:`rate_limit_violations`. Default 1.0 s; 0 turns it off.
        The test suite scales it (and the client's ``min_interval``) down, never off.
    port, store_port
        Ports to bind (0 = any free port).

    Examples
    --------
    >>> with Simulator(seed=0, players=2, report_delay=0.01) as sim:  # doctest: +SKIP
    ...     sim.base_url
    'http://127.0.0.1:41234/v1/'
    """

    def __init__(
        self,
        seed: int = 0,
        players: int = 8,
        medias: int = 20,
        tz: str = "America/Sao_Paulo",
        report_delay: float = 0.2,
        url_ttl: float = 600.0,
        webhook_time_scale: float = 1.0,
        plays_per_hour: float = 60,
        now: dt.datetime | str | None = None,
        store_bandwidth: float | None = None,
        page_size: int = 50,
        *,
        token: str | None = None,
        port: int = 0,
        store_port: int = 0,
        account: str | None = None,
        webhook_timeout: float = 5.0,
        gzip_level: int = 6,
        rate_limit_interval: float = 1.0,
    ) -> None:
        for name, value in (
            ("report_delay", report_delay),
            ("url_ttl", url_ttl),
            ("webhook_time_scale", webhook_time_scale),
            ("rate_limit_interval", rate_limit_interval),
        ):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        if store_bandwidth is not None and not store_bandwidth > 0:
            raise ValueError(f"store_bandwidth must be positive or None, got {store_bandwidth}")
        if token is not None and not token.strip():
            raise ValueError("token must not be empty")
        self.network = data.Network(
            seed, players, medias, tz=tz, plays_per_hour=plays_per_hour, account=account
        )
        self.seed = int(seed)
        self.tz = tz
        self.account = self.network.account
        self.report_delay = float(report_delay)
        self.webhook_time_scale = float(webhook_time_scale)
        self.webhook_timeout = float(webhook_timeout)
        self.page_size = int(page_size)
        self.gzip_level = int(gzip_level)
        self.rate_limit_interval = float(rate_limit_interval)
        self._hits: dict[tuple[str, str, str, str], float] = {}
        self._violations: list[RateLimitViolation] = []
        self.token = token or secrets.token_urlsafe(24)
        self._ports = (int(port), int(store_port))
        self._frozen: dt.datetime | None = None if now is None else to_utc(now)
        self._offset = dt.timedelta(0)
        self._lock = threading.RLock()
        self._reports: dict[int, ReportRecord] = {}
        self._next_id = 5_215_464
        self._requests: list[RequestRecord] = []
        self._faults = FaultSet()
        self._store = ObjectStore(url_ttl, store_bandwidth, clock=lambda: self.now().timestamp())
        self._stopping = threading.Event()
        self._servers: list[Server] = []
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._ready = Scheduler("reports")
        self._notifier = Notifier(time_scale=self.webhook_time_scale, timeout=self.webhook_timeout)
        self._tmp: Path | None = None
        self._players: list[dict[str, Any]] | None = None
        self.base_url = ""
        self.store_url = ""

    def __repr__(self) -> str:
        where = self.base_url or "not started"
        return f"Simulator(seed={self.seed}, players={len(self.network.players)}, {where})"

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Simulator:
        """Bind both servers and serve in background threads; returns ``self``."""
        if self._servers:
            raise RuntimeError("the simulator is already started")
        self._stopping.clear()
        self._wake = socket.socketpair()
        try:
            api = Server(("127.0.0.1", self._ports[0]), APIHandler, self, "api")
            self._servers.append(api)
            store, host = self._bind_store(self._ports[1])
            self._servers.append(store)
        except BaseException:
            self.stop()
            raise
        self.base_url = f"http://127.0.0.1:{api.server_port}/v1/"
        self.store_url = f"http://{host}:{store.server_port}/"
        self._store.base_url = self.store_url
        for server in self._servers:
            server.start(self._wake[0])
        if any(f.name == "redirect" for f in self._faults.pending()):
            self._ensure_mirror()
        return self

    def _bind_store(self, port: int, *, mirror: bool = False) -> tuple[Server, str]:
        host = "127.0.0.3" if mirror else "127.0.0.2"
        name = "store-mirror" if mirror else "store"
        try:
            return Server((host, port), StoreHandler, self, name), host
        except OSError:
            log.info("cannot bind %s: the object store uses localhost on another port", host)
            server = Server(("127.0.0.1", port if not mirror else 0), StoreHandler, self, name)
            return server, "127.0.0.1" if mirror else "localhost"

    def stop(self) -> None:
        """Stop both servers, pending jobs and webhook retries; remove the files."""
        self._stopping.set()
        self._ready.stop()
        self._notifier.stop()
        if self._wake is not None:
            self._wake[1].send(b"x")
        for server in self._servers:
            server.stop()
        self._servers.clear()
        if self._wake is not None:
            for sock in self._wake:
                sock.close()
            self._wake = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- clock

    def now(self) -> dt.datetime:
        """The simulated clock (aware UTC)."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return dt.datetime.now(dt.UTC) + self._offset

    def set_now(self, moment: dt.datetime | str) -> None:
        """Freeze the simulated clock at ``moment`` (naive means UTC)."""
        with self._lock:
            self._frozen = to_utc(moment)

    def advance(self, delta: dt.timedelta | float) -> None:
        """Move the simulated clock forward by ``delta`` (a timedelta or seconds)."""
        if not isinstance(delta, dt.timedelta):
            delta = dt.timedelta(seconds=float(delta))
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta
            else:
                self._offset += delta

    def _now_s(self) -> dt.datetime:
        return self.now().replace(microsecond=0)

    # ----------------------------------------------------------------- observation

    @property
    def players(self) -> list[dict[str, Any]]:
        """The objects ``GET players`` serves (fixed when first asked for)."""
        with self._lock:
            if self._players is None:
                self._players = [
                    player_json(p, self.network, self._now_s()) for p in self.network.players
                ]
            return copy.deepcopy(self._players)

    @property
    def medias(self) -> list[dict[str, Any]]:
        """The objects ``GET medias`` serves."""
        return [media_json(m) for m in self.network.medias]

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered so far, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    def reset_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    @property
    def rate_limit_violations(self) -> list[RateLimitViolation]:
        """Every request that broke the rate limit (answered 429), in order (a copy)."""
        with self._lock:
            return list(self._violations)

    def _over_rate_limit(self, server: str, client: str, method: str, uri: str) -> bool:
        """Note a request's arrival; True (and a violation recorded) when the same client
        asked for the same URI less than ``rate_limit_interval`` ago. Every request counts,
        a refused one too."""
        if self.rate_limit_interval <= 0:
            return False
        now = time.monotonic()
        key = (server, client, method, uri)
        with self._lock:
            last = self._hits.get(key)
            self._hits[key] = now
            if len(self._hits) > 10_000:  # a long run: forget URIs that can no longer collide
                stale = now - self.rate_limit_interval
                self._hits = {k: t for k, t in self._hits.items() if t >= stale}
            if last is None or now - last >= self.rate_limit_interval:
                return False
            shown = uri if server == "api" else uri.split("?", 1)[0] + "?<signed>"
            violation = RateLimitViolation(server, client, method, shown, now - last)
            self._violations.append(violation)
        log.warning("rate limit: %s", violation)
        return True

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook attempt so far, in order (a copy)."""
        return self._notifier.deliveries

    def expected_rows(
        self, filter: dict[str, Any], as_of: dt.datetime | str | None = None
    ) -> list[dict[str, Any]]:
        """The JSON objects a report with this API ``filter`` created at ``as_of`` holds.

        ``as_of`` defaults to :meth:`now`; pass a report's ``createdAt`` to
        reproduce that report exactly.
        """
        return self.network.rows(filter, self._as_of(as_of))

    def expected_frame(
        self,
        filter: dict[str, Any],
        as_of: dt.datetime | str | None = None,
        *,
        tz: str | None = None,
    ) -> pd.DataFrame:
        """:meth:`expected_rows` as a playlog DataFrame, built without the parser."""
        return self.network.frame(filter, self._as_of(as_of), tz)

    def _as_of(self, as_of: dt.datetime | str | None) -> float:
        moment = self._now_s() if as_of is None else to_utc(as_of).replace(microsecond=0)
        return moment.timestamp()

    # ----------------------------------------------------------------- faults

    def inject(
        self, fault: str, *, times: int = 1, route: str | None = None, **options: Any
    ) -> Fault:
        """Inject a fault, consumed ``times`` times (see :mod:`.faults` for names/options).

        Examples
        --------
        >>> sim = Simulator()
        >>> sim.inject("rate_limit", times=2, route="GET /reports/{id}", retry_after=1).remaining
        2
        """
        injected = self._faults.inject(fault, times, route, **options)
        if fault == "redirect":
            self._ensure_mirror()
        return injected

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self._faults.clear()

    def _ensure_mirror(self) -> None:
        with self._lock:
            if self._store.mirror_url is not None or self._wake is None:
                return
            server, host = self._bind_store(0, mirror=True)
            self._servers.append(server)
            self._store.mirror_url = f"http://{host}:{server.server_port}/"
            server.start(self._wake[0])

    # ----------------------------------------------------------------- reports

    def _create_report(self, body: Any) -> tuple[dict[str, Any], Fault | None]:
        if not isinstance(body, dict):
            raise ValueError("the request body must be a JSON object")
        if body.get("type", "detailed") != "detailed":
            raise ValueError(f"type must be 'detailed', got {body.get('type')!r}")
        if "filter" not in body:
            raise ValueError("filter is required")
        flt = data.parse_filter(body["filter"])
        webhook = body.get("webhook")
        if webhook is not None and (
            not isinstance(webhook, str) or not webhook.startswith(("http://", "https://"))
        ):
            raise ValueError("webhook must be an http(s) URL")
        faults = self._faults.take_each(CREATE_FAULTS)
        with self._lock:
            rid = self._next_id
            self._next_id += 1
            report = ReportRecord(rid, body["filter"], flt, self._now_s(), webhook, faults=faults)
            report.updated = report.created
            self._reports[rid] = report
            obj = self._json(report)
        if "report_never_ready" not in faults:
            self._ready.call_at(time.monotonic() + self.report_delay, lambda: self._finish(rid))
        return obj, faults.get("create_then_fail")

    def _finish(self, rid: int) -> None:
        with self._lock:
            report = self._reports[rid]
            failed = report.faults.get("report_failed")
            if failed is None:
                report.status = "processing"
        if failed is not None:
            error = {"code": failed.options["code"], "message": failed.options["message"]}
            self._settle(report, "failed", error=error)
            return
        null_url = self._faults.take(frozenset({"null_url"})) is not None
        key = None
        if not null_url:
            key = f"{self.account}/{rid}-{secrets.token_hex(16)}.gz"
            path = self._files() / f"{rid}.gz"
            part = path.with_suffix(".part")
            try:
                with open(part, "wb") as f:
                    self.network.write_report(
                        report.flt,
                        report.created.timestamp(),
                        f,
                        compresslevel=self.gzip_level,
                        cancel=self._stopping,
                    )
            except data.Cancelled:
                part.unlink(missing_ok=True)
                return
            os.replace(part, path)
            self._store.put(key, path)
        self._settle(report, "success", key=key, null_url=null_url)

    def _files(self) -> Path:
        """The folder of this simulator's report files (created on first use)."""
        with self._lock:
            if self._tmp is None:
                self._tmp = Path(tempfile.mkdtemp(prefix="fouryousee-sim-"))
            return self._tmp

    def _settle(self, report: ReportRecord, status: str, **changes: Any) -> None:
        with self._lock:
            report.status = status
            report.updated = max(report.created, self._now_s())
            for name, value in changes.items():
                setattr(report, name, value)
            webhook = report.webhook
        if webhook:
            self._notifier.notify(webhook, report.id, lambda: self._webhook_body(report.id))

    def _webhook_body(self, rid: int) -> bytes:
        with self._lock:
            return json.dumps(self._json(self._reports[rid])).encode()

    def _json(self, report: ReportRecord) -> dict[str, Any]:
        url = None
        if report.status == "success" and report.key is not None:
            url = self._store.presign(report.key)
        return report.to_json(url)

    def _report_json(self, rid: str) -> dict[str, Any] | None:
        if not rid.isdigit():
            return None
        with self._lock:
            report = self._reports.get(int(rid))
            return None if report is None else self._json(report)

    def _all_reports_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._json(r) for r in sorted(self._reports.values(), key=lambda r: -r.id)]

    def report(self, report_id: int) -> dict[str, Any]:
        """The report object as ``GET reports/{id}`` would serve it (``KeyError`` if unknown)."""
        obj = self._report_json(str(report_id))
        if obj is None:
            raise KeyError(report_id)
        return obj

    def wait_ready(self, report_id: int, timeout: float = 10.0) -> dict[str, Any]:
        """Block until the report is ``success`` or ``failed`` (test helper)."""
        deadline = time.monotonic() + timeout
        for _ in range(max(1, math.ceil(timeout / 0.005))):
            obj = self.report(report_id)
            if obj["status"] in ("success", "failed") or time.monotonic() > deadline:
                return obj
            time.sleep(0.005)
        return self.report(report_id)
