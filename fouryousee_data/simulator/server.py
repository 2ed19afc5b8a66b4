"""HTTP plumbing shared by the API and the object store.

A threaded stdlib server that

* never does a reverse DNS lookup at bind (``HTTPServer`` would call ``getfqdn``),
* serves from one thread blocked in ``select`` on its socket and a wake-up
  socket, so ``stop()`` returns at once (no polling interval),
* tracks open connections, so stopping shuts keep-alive connections down and
  joins their threads: no thread or socket outlives the simulator.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import socketserver
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fouryousee_data.simulator.faults import Fault

__all__ = ["Handler", "RateLimitViolation", "RequestRecord", "Server"]

log = logging.getLogger("fouryousee_data.simulator")


@dataclass(frozen=True)
class RequestRecord:
    """One request the simulator answered (or dropped: ``status`` None)."""

    server: str  #: "api" or "store"
    method: str
    path: str  #: API: relative to the base URL (``/reports/12``); store: the object path
    query: dict[str, str]
    had_token: bool  #: a ``Secret-Token`` header was present
    status: int | None
    fault: str | None = None  #: the injected fault applied, if any
    headers: dict[str, str] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class RateLimitViolation:
    """A request for a URI the same client asked for less than ``rate_limit_interval`` ago."""

    server: str  #: "api" or "store"
    client: str  #: the client's IP address
    method: str
    uri: str  #: path and query as requested (a presigned query is cut)
    gap: float  #: seconds since the previous request for it

    def __str__(self) -> str:
        return f"{self.server} {self.method} {self.uri} ({self.gap * 1000:.1f} ms after the last)"


class Server(ThreadingHTTPServer):
    """A loopback HTTP server bound to ``(host, port)`` that knows its simulator."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, sim: Any, name: str) -> None:
        self.sim = sim
        self.name = name
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._conns_lock = threading.Lock()
        self._conn_threads: list[threading.Thread] = []
        self._thread: threading.Thread | None = None
        super().__init__(address, handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"fouryousee-sim-{self.name}-conn",
            daemon=True,
        )
        with self._conns_lock:
            self._conns[request] = thread
            # A thread leaves _conns in shutdown_request, a moment before it ends: stop()
            # joins every thread still alive, not only those with an open connection.
            self._conn_threads = [t for t in self._conn_threads if t.is_alive()]
            self._conn_threads.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.pop(request, None)
        super().shutdown_request(request)

    def start(self, wake: socket.socket) -> None:
        """Serve in a background thread until ``wake`` becomes readable."""
        self._thread = threading.Thread(
            target=self._serve, args=(wake,), name=f"fouryousee-sim-{self.name}", daemon=True
        )
        self._thread.start()

    def _serve(self, wake: socket.socket) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self, selectors.EVENT_READ)
            sel.register(wake, selectors.EVENT_READ)
            while True:
                ready = sel.select()
                if any(key.fileobj is wake for key, _ in ready):
                    return
                self._handle_request_noblock()  # type: ignore[attr-defined]  # socketserver, untyped

    def stop(self, timeout: float = 2.0) -> None:
        """After ``wake`` was signalled: join the loop, drop connections, close."""
        if self._thread is not None:
            self._thread.join(timeout)
        with self._conns_lock:
            socks, threads = list(self._conns), list(self._conn_threads)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout)
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    """Common handler: HTTP/1.1 keep-alive, logging, recording, responses."""

    protocol_version = "HTTP/1.1"
    server_version = "fouryousee-simulator"
    sys_version = ""
    timeout = 60
    server: Server
    _fault: str | None = None

    def handle_one_request(self) -> None:
        self._fault = None  # one handler serves every request of a keep-alive connection
        super().handle_one_request()

    def do_GET(self) -> None:
        try:
            self.answer()
        except (ConnectionError, TimeoutError):  # the client hung up mid-answer
            self.close_connection = True

    do_HEAD = do_GET

    def answer(self) -> None:
        """Answer the current request (each server's handler says how)."""
        raise NotImplementedError

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header: the API follows the simulated clock, the store real time."""
        if timestamp is None and self.server.name == "api":
            timestamp = self.server.sim.now().timestamp()
        return super().date_time_string(timestamp)

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # a presigned URL's query carries its signature: log the path only
        path = self.path.split("?", 1)[0]
        log.debug("%s %s %s -> %s", self.server.name, self.command, path, code)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.server.name, format % args)

    def over_rate_limit(self) -> bool:
        """Whether this request comes too soon after the last one for the same (client IP,
        method, URI); then it is counted as a violation and answered (:meth:`rate_limited`
        without ``Retry-After``). Call after reading the body."""
        if not self.server.sim._over_rate_limit(
            self.server.name, str(self.client_address[0]), self.command, self.path
        ):
            return False
        self._fault = "over_rate_limit"
        self.rate_limited(None)
        return True

    def read_body(self) -> bytes:
        """The request body (by ``Content-Length``, or chunked; none without either)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self, limit: int = 16 * 1024 * 1024) -> bytes:
        body = bytearray()
        while len(body) <= limit:
            size = int(self.rfile.readline(64).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                for _ in range(100):  # trailers, up to the blank line
                    if self.rfile.readline(1024) in (b"\r\n", b"\n", b""):
                        break
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline(8)  # the CRLF after each chunk
        self.close_connection = True
        return bytes(body)

    def record(self, status: int | None) -> None:
        """Log this request in ``sim.requests`` (before the client sees the answer)."""
        from urllib.parse import parse_qsl, urlsplit

        url = urlsplit(self.path)
        api = self.server.name == "api"
        path = url.path[3:] if api and url.path.startswith("/v1/") else url.path
        self.server.sim._record(
            RequestRecord(
                server="api" if api else "store",
                method=self.command,
                path=path,
                query=dict(parse_qsl(url.query, keep_blank_values=True)),
                had_token="Secret-Token" in self.headers,
                status=status,
                fault=self._fault,
                headers={
                    k: ("<redacted>" if k.lower() == "secret-token" else v)
                    for k, v in self.headers.items()
                },
            )
        )

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Record, then send a complete response with ``Content-Length``."""
        self.record(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def drop(self, *, record: bool = True) -> None:
        """Reset the connection (RST, not a clean close); recorded unless ``record=False``."""
        if record:
            self.record(None)
        self.close_connection = True
        with contextlib.suppress(OSError):
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.connection.close()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def wait(self, seconds: float) -> None:
        """Sleep, but wake up at once when the simulator stops."""
        self.server.sim._stopping.wait(max(0.0, seconds))

    def apply_fault(self, fault: Fault) -> bool:
        """Apply a request fault; True when it answered (or dropped) the request, False
        when the request goes on (after a ``slow`` delay). How a rate limit or an error
        looks is each server's own (:meth:`rate_limited`, :meth:`failed`)."""
        self._fault = fault.name
        if fault.name == "slow":
            self.wait(float(fault.options["delay"]))
            if not self.server.sim._stopping.is_set():
                return False
            self.drop()  # the simulator stopped meanwhile
        elif fault.name == "reset":
            self.drop()
        elif fault.name == "rate_limit":
            self.rate_limited(fault.options["retry_after"])
        else:
            self.failed(int(fault.options["status"]), fault.options.get("details"))
        return True

    def rate_limited(self, retry_after: Any) -> None:
        """Answer a ``rate_limit`` fault (``retry_after``: its option)."""
        raise NotImplementedError

    def failed(self, status: int, details: Any = None) -> None:
        """Answer an error fault with ``status`` (and the API's ``details``, if given)."""
        raise NotImplementedError
