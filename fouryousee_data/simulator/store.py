"""The object store: serves report files at presigned-looking, expiring URLs.

Like S3 it answers errors as XML, refuses requests that carry the API's
``Secret-Token`` header (400 ``InvalidArgument``: only one auth mechanism),
checks the URL's signature (403 ``SignatureDoesNotMatch``) and its expiry
(403 ``AccessDenied``, "Request has expired"), supports ``Range: bytes=a-b``
and throttles to ``bandwidth`` bytes/s per connection when set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hmac
import math
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

from fouryousee_data.simulator.api import retry_after_header
from fouryousee_data.simulator.faults import API_FAULTS, STORE_FAULTS, STORE_ROUTE, Fault
from fouryousee_data.simulator.server import Handler

__all__ = ["ObjectStore", "StoreHandler"]

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class _Grant:
    key: str
    expires: float  #: simulated time (epoch seconds) after which the URL is expired
    ttl: int


class ObjectStore:
    """Objects (report files on disk) and the URLs granted to them."""

    def __init__(
        self, url_ttl: float, bandwidth: float | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.url_ttl = float(url_ttl)
        self.clock = clock  #: epoch seconds on the simulator's clock (URL expiry runs on it)
        self.bandwidth = bandwidth
        self.base_url = ""  #: set when the server is bound
        self.mirror_url: str | None = None  #: the other host name a ``redirect`` points to
        self._secret = secrets.token_bytes(16)
        self._objects: dict[str, Path] = {}
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    def put(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key``."""
        with self._lock:
            self._objects[key] = path

    def get(self, key: str) -> Path | None:
        """The file of ``key``, if any."""
        with self._lock:
            return self._objects.get(key)

    def presign(self, key: str) -> str:
        """A fresh URL for ``key``, valid ``url_ttl`` seconds from now (simulated time)."""
        now = self.clock()
        stamp = dt.datetime.fromtimestamp(now, dt.UTC)
        nonce = secrets.token_hex(8)
        signature = hmac.new(self._secret, f"{key}\n{nonce}".encode(), "sha256").hexdigest()
        ttl = max(1, math.ceil(self.url_ttl))
        with self._lock:
            self._grants[signature] = _Grant(key, now + self.url_ttl, ttl)
        credential = quote(f"ASIASIMULATOR/{stamp:%Y%m%d}/us-east-1/s3/aws4_request", safe="")
        return (
            f"{self.base_url}{quote(key)}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential={credential}&X-Amz-Date={stamp:%Y%m%dT%H%M%SZ}"
            f"&X-Amz-Expires={ttl}&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}"
        )

    def grant(self, signature: str | None) -> _Grant | None:
        """The grant behind a signature, if it was issued."""
        with self._lock:
            return self._grants.get(signature or "")


def xml_error(code: str, message: str, **extra: str) -> bytes:
    """An S3-style XML error document."""
    fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in extra.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{fields}"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId>"
        f"<HostId>{secrets.token_urlsafe(24)}</HostId></Error>"
    ).encode()


class StoreHandler(Handler):
    """``GET``/``HEAD`` of an object by its presigned URL."""

    def _error(self, status: int, code: str, message: str, **extra: str) -> None:
        self.send(status, xml_error(code, message, **extra), "application/xml")

    def answer(self) -> None:
        sim = self.server.sim
        store: ObjectStore = sim._store
        self.read_body()
        if self.over_rate_limit():
            return
        url = urlsplit(self.path)
        key = unquote(url.path.lstrip("/"))
        query = dict(parse_qsl(url.query))
        fault = sim._faults.take(API_FAULTS, STORE_ROUTE, STORE_ROUTE)
        if fault is not None and self.apply_fault(fault):
            return
        if "Secret-Token" in self.headers:
            self._error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified",
                ArgumentName="Secret-Token",
            )
            return
        grant = store.grant(query.get("X-Amz-Signature"))
        if grant is None or grant.key != key:
            if "X-Amz-Signature" not in query:
                self._error(403, "AccessDenied", "Access Denied")
            else:
                self._error(
                    403,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you "
                    "provided.",
                )
            return
        if store.clock() > grant.expires:
            self._expired(grant)
            return
        path = store.get(key)
        if path is None:
            self._error(404, "NoSuchKey", "The specified key does not exist.", Key=key)
            return
        fault = sim._faults.take(STORE_FAULTS)
        if fault is not None:
            self._fault = fault.name
        self._object(path, fault, store)

    def rate_limited(self, retry_after: Any) -> None:
        self.send(503, xml_error("SlowDown", "Please reduce your request rate."),
                  "application/xml", retry_after_header(retry_after))  # fmt: skip

    def failed(self, status: int, details: Any = None) -> None:
        self._error(status, "InternalError", "We encountered an internal error.")

    def _expired(self, grant: _Grant) -> None:
        now = self.server.sim.now()
        expires = dt.datetime.fromtimestamp(grant.expires, dt.UTC)
        self._error(
            403,
            "AccessDenied",
            "Request has expired",
            **{"X-Amz-Expires": str(grant.ttl)},
            Expires=f"{min(expires, now):%Y-%m-%dT%H:%M:%SZ}",
            ServerTime=f"{now:%Y-%m-%dT%H:%M:%SZ}",
        )

    def _object(self, path: Path, fault: Fault | None, store: ObjectStore) -> None:
        name = fault.name if fault else None
        options: dict[str, Any] = fault.options if fault else {}
        if name == "expired_url":
            self._expired(_Grant("", store.clock() - 1, max(1, math.ceil(store.url_ttl))))
            return
        if name == "redirect" and store.mirror_url:
            location = store.mirror_url + self.path.lstrip("/")
            self.send(302, b"", "application/xml", {"Location": location})
            return
        if name == "empty_file":
            self.send(200, b"", "application/gzip")
            return
        if name == "empty_gzip":
            self.send(200, gzip.compress(b"", mtime=0), "application/gzip")
            return
        size = path.stat().st_size
        patch: tuple[int, bytes] | None = None
        drop_after: int | None = None
        headers = {"ETag": f'"{path.stem}"', "Accept-Ranges": "bytes"}
        content_type = "application/gzip"
        if name == "malformed_line":
            path = _with_line(path, int(options["line"]), str(options["text"]))
            size = path.stat().st_size
        elif name == "truncated_gzip":
            keep = options["keep_bytes"]
            size = max(1, size // 2) if keep is None else min(int(keep), size)
        elif name == "corrupt_crc" and size >= 8:
            with open(path, "rb") as f:
                f.seek(size - 8)
                patch = (size - 8, bytes([f.read(1)[0] ^ 0xFF]))
        elif name == "content_encoding_gzip":
            headers["Content-Encoding"] = "gzip"
            content_type = "application/json"
        elif name == "store_reset":
            after = options["after_bytes"]
            drop_after = size // 2 if after is None else int(after)
        start, end = 0, size
        status = 200
        ranged = _parse_range(self.headers.get("Range"), size)
        if isinstance(ranged, str):  # "invalid"
            self._error(416, "InvalidRange", "The requested range is not satisfiable")
            return
        if ranged is not None:
            start, end = ranged
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        self.record(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(end - start))
        for header, value in headers.items():
            self.send_header(header, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        self._stream(path, start, end, patch, drop_after, store.bandwidth)

    def cut(self) -> None:
        """Close the connection mid-body (a clean FIN: the client sees a short body)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)

    def _stream(
        self,
        path: Path,
        start: int,
        end: int,
        patch: tuple[int, bytes] | None,
        drop_after: int | None,
        bandwidth: float | None,
    ) -> None:
        began = time.monotonic()
        sent = 0
        step = _CHUNK if not bandwidth else max(1, min(_CHUNK, int(bandwidth / 20)))
        with open(path, "rb") as f:
            f.seek(start)
            while start + sent < end and not self.server.sim._stopping.is_set():
                n = min(step, end - start - sent)
                if drop_after is not None:
                    n = min(n, drop_after - sent)
                    if n <= 0:
                        self.cut()
                        return
                data = f.read(n)
                if not data:
                    break
                if patch is not None and start + sent <= patch[0] < start + sent + len(data):
                    i = patch[0] - start - sent
                    data = data[:i] + patch[1] + data[i + 1 :]
                self.wfile.write(data)
                sent += len(data)
                if bandwidth:
                    self.wait(sent / bandwidth - (time.monotonic() - began))
        if drop_after is not None and drop_after <= sent:
            self.cut()


def _parse_range(value: str | None, size: int) -> tuple[int, int] | str | None:
    """``Range: bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` → ``(start, end_exclusive)``."""
    if not value or not value.startswith("bytes=") or "," in value:
        return None
    first, _, last = value[6:].strip().partition("-")
    try:
        if first == "":
            n = int(last)
            return (max(0, size - n), size) if n > 0 else "invalid"
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start >= size or end <= start:
        return "invalid"
    return start, min(end, size)


def _with_line(path: Path, line: int, text: str) -> Path:
    """A copy of the gzip file at ``path`` with line ``line`` (1-based) replaced by ``text``.

    When the file has fewer lines, ``text`` is appended as the last line.
    """
    out = path.with_name(f"{path.stem}.line{line}-{secrets.token_hex(4)}.gz")
    done = False
    with gzip.open(path, "rb") as src, gzip.open(out, "wb", compresslevel=1) as dst:
        for i, raw in enumerate(src, start=1):
            if i == line:
                dst.write(text.encode() + b"\n")
                done = True
            else:
                dst.write(raw)
        if not done:
            dst.write(text.encode() + b"\n")
    return out
