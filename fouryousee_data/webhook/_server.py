"""Receive 4YouSee's "report ready" notifications safely and fill the cache.

When a report was requested with ``webhook=URL``, 4YouSee POSTs the report
object to that URL once it is ready, and repeats 2, 6 and 18 minutes later
unless it gets a 200. No signature is documented, so the body is **untrusted**:
it is only a hint that report ``id`` may be ready.

* :func:`parse_notification` — strict JSON, size-limited, schema-checked;
  anything else is :class:`~fouryousee_data.errors.InvalidNotificationError`.
* :func:`handle_notification` — takes only the id from the body, asks the API
  (authenticated) for the report and its fresh URL, downloads it with the
  client and stores its days in the cache, exactly once per report. **The URL
  found in the body is never used.**
* :class:`WebhookReceiver` / :func:`serve` — a small HTTP server that answers
  at once and processes in one background worker (``fouryousee-data
  serve-webhook``).

The flow of one delivery::

    POST /webhook/<secret>  →  path, method, Content-Type, size checks
                            →  parse_notification(body)      (400 / 413 / 415 / 422)
                            →  bounded queue, answer 200     (503 when full)
    worker                  →  handle_notification(report.id)
                            →  client.get_report(id) → client.download_table(report) → cache
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import ipaddress
import json
import logging
import os
import queue
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

import filelock

from fouryousee_data._config import DEFAULT_CACHE, resolve_cache_dir
from fouryousee_data._fileio import atomic_write
from fouryousee_data.errors import FouryouseeError, InvalidNotificationError
from fouryousee_data.report import Report
from fouryousee_data.timerange import MAX_WINDOW_DAYS, day_span

if TYPE_CHECKING:
    from collections.abc import Iterator
    from email.message import Message

    import pyarrow as pa

    from fouryousee_data.client import Client

__all__ = [
    "DEFAULT_PORT",
    "MAX_NOTIFICATION_BYTES",
    "REPORT_STATUSES",
    "InvalidNotificationError",
    "NotificationOutcome",
    "WebhookReceiver",
    "handle_notification",
    "parse_notification",
    "serve",
    "whole_days",
]

log = logging.getLogger("fouryousee_data.webhook")

#: Largest accepted notification body. A report object is a few hundred bytes;
#: this leaves room for filters listing thousands of player/media ids.
MAX_NOTIFICATION_BYTES = 256 * 1024

#: The statuses a notification may carry (SPEC section 1).
REPORT_STATUSES = ("waiting", "processing", "success", "failed")

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_TIME_RE = re.compile(r"\d{2}:\d{2}:\d{2}", re.ASCII)
_SEGMENT_RE = re.compile(r"[A-Za-z0-9._~-]+", re.ASCII)
_MAX_ID = 2**63 - 1


# --------------------------------------------------------------------------- parsing


def parse_notification(
    body: bytes,
    *,
    max_bytes: int = MAX_NOTIFICATION_BYTES,
    url_hosts: Sequence[str] | None = None,
) -> Report:
    """Parse and check a webhook body: the report object 4YouSee POSTs.

    Strict JSON (UTF-8, no ``NaN``/``Infinity``, no duplicate keys), at most
    ``max_bytes``, and the shape of a report object: ``id`` a positive
    integer, ``status`` one of :data:`REPORT_STATUSES`, ``url`` null or a
    plausible object-store URL, ``filter`` an object with exactly the
    documented keys and types (``startDate``/``endDate`` required). Unknown
    top-level keys are ignored (the API may add fields); unknown filter keys
    are refused (the filter echoes what the client sent).

    The ``url`` is never fetched (see :func:`handle_notification`); checking it
    only refuses bodies that cannot come from 4YouSee: a scheme other than
    http(s), credentials in the URL, a numeric-looking host that is not a
    plain IP address, an IP literal that is link-local (``169.254.169.254``,
    cloud metadata), private, multicast, unspecified or reserved, a metadata
    host name, or, when ``url_hosts`` is given, a host not in it.

    Parameters
    ----------
    body
        The raw request body.
    max_bytes
        Size limit; a larger body is refused without being parsed.
    url_hosts
        Allowed object-store hosts for ``url``: exact names or ``*.suffix``
        patterns (e.g. ``["*.amazonaws.com"]``). ``None`` allows any public host.

    Returns
    -------
    Report
        Only a hint: :func:`handle_notification` uses nothing but its ``id``.

    Raises
    ------
    InvalidNotificationError
        With ``status_code`` 400 (not strict JSON), 413 (too large) or 422
        (not a report object). The message names the field, never its value.

    Examples
    --------
    >>> body = b'{"id": 42, "status": "success", "url": null, "filter": {'
    >>> body += b'"startDate": "2024-03-01", "endDate": "2024-03-02"}}'
    >>> parse_notification(body).id
    42
    >>> parse_notification(b'{"id": 42, "status": NaN}')
    Traceback (most recent call last):
    ...
    fouryousee_data.errors.InvalidNotificationError: not strict JSON: NaN is not allowed
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(f"body must be bytes, got {type(body).__name__}")
    if len(body) > max_bytes:
        raise InvalidNotificationError(
            f"notification body is {len(body)} bytes, over the {max_bytes}-byte limit", 413
        )
    obj = _strict_json(bytes(body))
    _check_report_object(obj)
    if obj.get("url") is not None:
        _check_url(obj["url"], url_hosts)
    return Report.from_api(obj)


def _strict_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidNotificationError("notification body is not UTF-8 text", 400) from exc
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except InvalidNotificationError:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidNotificationError(f"notification body is not JSON ({exc.msg})", 400) from exc
    except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
        raise InvalidNotificationError("notification body is not acceptable JSON", 400) from exc


def _reject_constant(name: str) -> Any:
    raise InvalidNotificationError(f"not strict JSON: {name} is not allowed", 400)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise InvalidNotificationError("not strict JSON: an object repeats a key", 400)
    return obj


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_report_object(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise InvalidNotificationError(
            f"a notification must be a JSON object, got {_json_type(obj)}"
        )
    rid = obj.get("id")
    if not _is_int(rid) or not 0 < rid <= _MAX_ID:
        raise InvalidNotificationError(f"'id' must be a positive integer, got {_json_type(rid)}")
    if obj.get("status") not in REPORT_STATUSES:
        raise InvalidNotificationError(f"'status' must be one of {', '.join(REPORT_STATUSES)}")
    optional = {
        "url": str,
        "type": str,
        "format": str,
        "createdAt": str,
        "updatedAt": str,
        "error": dict,
    }
    for key, kind in optional.items():
        value = obj.get(key)
        if value is not None and not isinstance(value, kind):
            expected = "an object" if kind is dict else "a string"
            raise InvalidNotificationError(f"'{key}' must be {expected} or null")
    _check_filter(obj.get("filter"))


#: Host names of cloud metadata services (never a report store).
_METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "instance-data"})
#: inet_aton spellings of an address: 1 to 4 labels, each decimal, octal or 0x-hex.
_NUMERIC_HOST_RE = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}", re.ASCII)
_MAX_URL = 8192


def _check_url(url: str, hosts: Sequence[str] | None) -> None:
    if len(url) > _MAX_URL:
        raise InvalidNotificationError("'url' is too long")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as exc:
        raise InvalidNotificationError("'url' is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidNotificationError("'url' must be an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidNotificationError("'url' must not carry credentials")
    if _forbidden_host(host):
        raise InvalidNotificationError(
            "'url' points at a link-local, private, metadata or otherwise unusable address"
        )
    if hosts is not None and not any(_host_matches(host, pattern) for pattern in hosts):
        raise InvalidNotificationError("'url' is not on an allowed object-store host")


def _forbidden_host(host: str) -> bool:
    """True for hosts a report store never has (loopback stays allowed: the simulator)."""
    if host in _METADATA_HOSTS:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        # 2852039166, 0xa9fea9fe, 0251.0376.0251.0376: other spellings of an IP address
        return bool(_NUMERIC_HOST_RE.fullmatch(host))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return False
    return (
        ip.is_link_local or ip.is_private or ip.is_multicast or ip.is_unspecified or ip.is_reserved
    )


def _host_matches(host: str, pattern: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def _check_filter(filt: Any) -> None:
    if not isinstance(filt, dict):
        raise InvalidNotificationError(f"'filter' must be an object, got {_json_type(filt)}")
    checks: dict[str, Callable[[Any], bool]] = {
        "startDate": _is_date,
        "endDate": _is_date,
        "startTime": _is_time,
        "endTime": _is_time,
        "playerId": _is_id_list,
        "mediaId": _is_id_list,
        "sort": lambda v: _is_int(v) and v in (-1, 1),
    }
    unknown = sorted(set(filt) - set(checks))
    if unknown:
        names = ", ".join(repr(k[:40]) for k in unknown[:3])
        raise InvalidNotificationError(f"'filter' has unknown keys: {names}")
    for key in ("startDate", "endDate"):
        if key not in filt:
            raise InvalidNotificationError(f"'filter.{key}' is required")
    for key, check in checks.items():
        if key in filt and not check(filt[key]):
            raise InvalidNotificationError(f"'filter.{key}' has the wrong type or format")
    if filt["endDate"] < filt["startDate"]:
        raise InvalidNotificationError("'filter' ends before it starts")


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_time(value: Any) -> bool:
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        return False
    try:
        dt.time.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and all(_is_int(v) and 0 < v <= _MAX_ID for v in value)


# --------------------------------------------------------------------------- handling


@dataclass(frozen=True)
class NotificationOutcome:
    """What :func:`handle_notification` did with one notification.

    ``action`` is one of ``"stored"`` (downloaded and cached), ``"duplicate"``
    (already processed, nothing done), ``"failed"`` (the API says the report
    failed; recorded), ``"skipped"`` (not a whole-day filter; recorded, not
    cached) or ``"pending"`` (the API says it is not ready yet; not recorded).

    Examples
    --------
    >>> NotificationOutcome(42, "skipped", "not a whole-day filter").action
    'skipped'
    """

    report_id: int
    action: str
    detail: str = ""
    days: tuple[dt.date, ...] = ()
    rows: int = 0


#: Processed ids of this process, by (cache root, account fingerprint); the
#: files under the cache directory are the record that survives a restart.
_DONE: dict[tuple[str, str, int], str] = {}
_DONE_LOCK = threading.Lock()
_REPORT_LOCKS: dict[tuple[str, str, int], threading.Lock] = {}

#: How long a delivery waits for another process handling the same report.
LOCK_TIMEOUT = 900.0


def handle_notification(
    report_or_body: Report | bytes | int,
    *,
    client: Client,
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
) -> NotificationOutcome:
    """Process one notification: fetch the report **from the API** and cache its days.

    Only the report id is taken from the notification; the report (status,
    filter, fresh presigned URL) comes from ``client.get_report(id)``, and
    the file from ``client.download_table(report)``. The URL in the body is
    never used. Each report is processed once: concurrent deliveries wait on a
    per-report lock (a thread lock and a file lock), and a processed-id record
    (in memory and under the cache directory) turns later deliveries, also
    after a restart, into ``"duplicate"``.

    * ``success`` with a whole-day filter (``00:00:00``..``23:59:59``): the
      days are downloaded and stored in the cache (``"stored"``), player/media
      filters included (such days serve only the same filter).
    * ``success`` with another filter: logged and recorded, not cached (``"skipped"``).
    * ``failed``: logged as a warning and recorded (``"failed"``).
    * still pending at the API: nothing recorded (``"pending"``); a later
      delivery, or ``fetch_playlogs``, picks it up.

    Download and API errors propagate (typed, see :mod:`fouryousee_data.errors`)
    and record nothing, so the report can be processed again.

    Parameters
    ----------
    report_or_body
        A :class:`Report` from :func:`parse_notification`, the raw body, or an id.
    client
        The authenticated :class:`~fouryousee_data.Client` of the account.
    cache_dir
        The cache root (default ``FOURYOUSEE_CACHE_DIR`` or the user cache
        directory); ``None`` is a ``ValueError`` (there would be nowhere to store).

    Examples
    --------
    >>> handle_notification(body, client=fy.Client())  # doctest: +SKIP
    NotificationOutcome(report_id=42, action='stored', detail='', days=(...), rows=1234)
    """
    report_id = _notified_id(report_or_body)
    root = resolve_cache_dir(cache_dir)
    if root is None:
        raise ValueError("cache_dir=None: handle_notification stores reports in the cache")
    record = _Record(root, client.fingerprint, report_id)
    with record.locked():
        previous = record.read()
        if previous is not None:
            log.info("webhook: report %d already processed (%s); ignored", report_id, previous)
            return NotificationOutcome(report_id, "duplicate", previous)
        outcome = _process(client.get_report(report_id), client, root)
        if outcome.action != "pending":
            record.write(outcome)
    return outcome


def _notified_id(value: Report | bytes | int) -> int:
    if isinstance(value, Report):
        return value.id
    if isinstance(value, bytes | bytearray | memoryview):
        return parse_notification(bytes(value)).id
    if _is_int(value) and value > 0:
        return int(value)
    raise ValueError(
        f"report_or_body must be a Report, the body bytes or a positive id, got {value!r}"
    )


def _process(report: Report, client: Client, root: Path) -> NotificationOutcome:
    if report.failed:
        detail = str((report.error or {}).get("message") or "no reason given")
        log.warning("webhook: report %d failed at the API: %s", report.id, detail)
        return NotificationOutcome(report.id, "failed", detail)
    if not report.succeeded:
        log.info(
            "webhook: report %d is still %s at the API; not processed", report.id, report.status
        )
        return NotificationOutcome(report.id, "pending", report.status)
    days = whole_days(report.filter)
    if days is None:
        log.info("webhook: report %d does not cover whole days; not cached", report.id)
        return NotificationOutcome(report.id, "skipped", "not a whole-day filter")
    table = client.download_table(report)
    _store(root, client, report, table)
    log.info(
        "webhook: report %d stored: %d rows, %s..%s", report.id, table.num_rows, days[0], days[-1]
    )
    return NotificationOutcome(report.id, "stored", days=tuple(days), rows=table.num_rows)


def whole_days(filt: dict[str, Any]) -> list[dt.date] | None:
    """The days of a whole-day report filter, or ``None`` for any other filter.

    Examples
    --------
    >>> whole_days({"startDate": "2024-02-28", "startTime": "00:00:00",
    ...             "endDate": "2024-03-01", "endTime": "23:59:59"})
    [datetime.date(2024, 2, 28), datetime.date(2024, 2, 29), datetime.date(2024, 3, 1)]
    >>> whole_days({"startDate": "2024-02-28", "startTime": "10:00:00",
    ...             "endDate": "2024-02-28", "endTime": "23:59:59"}) is None
    True
    """
    if filt.get("startTime", "00:00:00") != "00:00:00" or filt.get("endTime") != "23:59:59":
        return None
    if not (_is_date(filt.get("startDate")) and _is_date(filt.get("endDate"))):
        return None
    first = dt.date.fromisoformat(filt["startDate"])
    last = dt.date.fromisoformat(filt["endDate"])
    if not 0 <= (last - first).days < MAX_WINDOW_DAYS:
        return None
    return day_span(first, last)


class _Record:
    """The processed-id record and the locks of one report of one account."""

    def __init__(self, root: Path, fingerprint: str, report_id: int) -> None:
        self.key = (str(root.resolve()), fingerprint, report_id)
        self.dir = root / fingerprint / "_webhook"
        self.path = self.dir / f"{report_id}.json"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with _DONE_LOCK:
            lock = _REPORT_LOCKS.setdefault(self.key, threading.Lock())
        with lock:
            self.dir.mkdir(parents=True, exist_ok=True)
            file_lock = filelock.FileLock(self.dir / f"{self.key[2]}.lock", timeout=LOCK_TIMEOUT)
            try:
                with file_lock:
                    yield
            except filelock.Timeout as exc:
                raise FouryouseeError(
                    f"report {self.key[2]} is locked by another process "
                    f"for over {LOCK_TIMEOUT:.0f} s"
                ) from exc

    def read(self) -> str | None:
        with _DONE_LOCK:
            action = _DONE.get(self.key)
        if action is not None:
            return action
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            action = str(data["action"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # no record (or a damaged one): process again
        with _DONE_LOCK:
            _DONE[self.key] = action
        return action

    def write(self, outcome: NotificationOutcome) -> None:
        data = {
            "report_id": outcome.report_id,
            "action": outcome.action,
            "detail": outcome.detail,
            "days": [d.isoformat() for d in outcome.days],
            "rows": outcome.rows,
            "processed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        text = json.dumps(data)
        atomic_write(self.path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        with _DONE_LOCK:
            _DONE[self.key] = outcome.action


def _store(root: Path, client: Client, report: Report, table: pa.Table) -> None:
    from fouryousee_data.cache import PlaylogCache

    PlaylogCache(root, client.fingerprint).store_report(report, table)


# --------------------------------------------------------------------------- HTTP receiver

#: A body declared larger than the limit is still read and discarded up to this
#: many bytes, so the client sees the 413 instead of a reset connection.
_DRAIN_BYTES = 4 * 1024 * 1024
_MAX_CHUNK_LINE = 1024
_MAX_TRAILER_LINES = 32


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def _read_body(rfile: BinaryIO, headers: Message, limit: int) -> bytes:
    """The request body, never more than ``limit`` bytes in memory.

    ``Content-Length`` bodies are read exactly; ``Transfer-Encoding: chunked``
    bodies are decoded with the same limit; neither is 411.
    """
    lengths = headers.get_all("Content-Length") or []
    encoding = headers.get("Transfer-Encoding")
    if encoding is not None:
        if lengths:  # a request-smuggling shape: refuse
            raise _BodyError(400, "both Content-Length and Transfer-Encoding")
        if encoding.strip().lower() != "chunked":
            raise _BodyError(501, "only the chunked Transfer-Encoding is supported")
        try:
            return _read_chunked(rfile, limit)
        except TimeoutError as exc:
            raise _BodyError(408, "the body did not arrive in time") from exc
    if not lengths:
        raise _BodyError(411, "Content-Length or chunked Transfer-Encoding required")
    if len(lengths) > 1 or not lengths[0].strip().isdigit() or not lengths[0].isascii():
        raise _BodyError(400, "invalid Content-Length")
    size = int(lengths[0])
    if size > limit:
        if size <= _DRAIN_BYTES:
            _discard(rfile, size)
        raise _BodyError(413, f"body over the {limit}-byte limit")
    try:
        body = rfile.read(size)
    except TimeoutError as exc:
        raise _BodyError(408, "the body did not arrive in time") from exc
    if len(body) != size:
        raise _BodyError(400, "body shorter than its Content-Length")
    return body


def _discard(rfile: BinaryIO, size: int) -> None:
    while size > 0:
        got = rfile.read(min(size, 65536))
        if not got:
            return
        size -= len(got)


def _read_chunked(rfile: BinaryIO, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    for _ in range(_DRAIN_BYTES + 1):  # every chunk has at least one byte
        line = rfile.readline(_MAX_CHUNK_LINE + 1)
        size_text = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_text):
            raise _BodyError(400, "malformed chunked body")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > _DRAIN_BYTES:
            raise _BodyError(413, f"body over the {limit}-byte limit")
        data = rfile.read(size)
        if len(data) != size or rfile.readline(_MAX_CHUNK_LINE + 1).strip():
            raise _BodyError(400, "malformed chunked body")
        if total <= limit:
            parts.append(data)
    for _ in range(_MAX_TRAILER_LINES):
        if not rfile.readline(_MAX_CHUNK_LINE + 1).strip():
            break
    if total > limit:
        raise _BodyError(413, f"body over the {limit}-byte limit")
    return b"".join(parts)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: WebhookReceiver

    def __init__(self, address: tuple[str, int], receiver: WebhookReceiver) -> None:
        self.receiver = receiver
        self._slots = threading.BoundedSemaphore(receiver.max_connections)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):  # too many open connections: drop this one
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken connection is one log line, not a traceback on stderr."""
        exc = sys.exc_info()[1]
        log.info("webhook: connection from %s failed: %s", client_address[0], type(exc).__name__)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "fouryousee-webhook"
    sys_version = ""

    def setup(self) -> None:
        self.timeout = self.server.receiver.read_timeout  # socket timeout: no slow-loris
        super().setup()

    def do_POST(self) -> None:
        self._dispatch()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_POST

    def _dispatch(self) -> None:
        receiver = self.server.receiver
        if not receiver._path_matches(urlsplit(self.path).path):
            self._finish(404, "not found", drain=True)
        elif self.command != "POST":
            self._finish(405, "only POST is allowed", drain=True)
        elif not _is_json_type(self.headers):
            self._finish(415, "Content-Type must be application/json", drain=True)
        else:
            self._post(receiver)

    def _post(self, receiver: WebhookReceiver) -> None:
        try:
            body = _read_body(self.rfile, self.headers, receiver.max_body_bytes)
            report = parse_notification(
                body, max_bytes=receiver.max_body_bytes, url_hosts=receiver.url_hosts
            )
        except _BodyError as exc:
            self._finish(exc.status, exc.message)
        except InvalidNotificationError as exc:
            self._finish(exc.status_code, str(exc))
        else:
            status, message = receiver._enqueue(report)
            self._finish(status, message, report=report)

    def _finish(
        self, status: int, message: str, *, report: Report | None = None, drain: bool = False
    ) -> None:
        length = self.headers.get("Content-Length", "")
        if drain and length.isdigit() and int(length) <= _DRAIN_BYTES:
            # read the unread body (bounded) so the client sees our answer, not a reset
            _discard(self.rfile, int(length))
        payload: dict[str, Any] = {"ok": status == 200, "message": message}
        if report is not None:
            payload["id"] = report.id
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        if status == 405:
            self.send_header("Allow", "POST")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        what = f"report {report.id} ({report.status})" if report else self.command
        log.info(
            "webhook delivery from %s: %s -> %d %s", self.client_address[0], what, status, message
        )

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Deliveries are logged by :meth:`_finish` (without the secret path)."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("webhook http: %s", self.server.receiver._redact(format % args))


def _is_json_type(headers: Message) -> bool:
    charset = headers.get_content_charset()
    return headers.get_content_type() == "application/json" and charset in (None, "utf-8")


class WebhookReceiver:
    """An HTTP server for 4YouSee's notifications, with one background worker.

    It accepts only ``POST`` with ``Content-Type: application/json`` on
    ``path`` (plus ``/<path_secret>`` when given, compared in constant time):
    404 elsewhere, 405 for other methods, 415 for another content type, 411
    without a length, 413 over ``max_body_bytes`` (also for chunked bodies,
    which are decoded with the same limit), 400/422 for bodies
    :func:`parse_notification` refuses. A valid notification is queued and
    answered 200 at once (503 when the bounded queue is full, so 4YouSee
    retries later); the worker calls ``handler(report)``, by default
    :func:`handle_notification` with ``client`` and ``cache_dir``.

    Parameters
    ----------
    client
        A :class:`~fouryousee_data.Client`; default ``Client()`` from the environment.
    host, port
        Where to listen; ``port=0`` picks a free port (see :attr:`url`).
    path
        The URL path 4YouSee posts to.
    path_secret
        A random URL-safe string of at least 16 characters appended to ``path``
        as one more segment: strangers who do not know it get 404.
    cache_dir
        The cache to fill (see :func:`handle_notification`).
    handler
        Replaces :func:`handle_notification` (it receives the parsed :class:`Report`).
    max_body_bytes, queue_size, read_timeout, max_connections
        Limits: body size, queued notifications, seconds a client may take to
        send its request, simultaneous connections.
    public_url
        The address 4YouSee reaches (a reverse proxy or tunnel), used by :attr:`url`.
    url_hosts
        Allowed hosts of the ``url`` in bodies (see :func:`parse_notification`);
        others are 422. The URL is never fetched either way.

    Examples
    --------
    >>> seen = []
    >>> with WebhookReceiver(handler=seen.append, path_secret="s" * 16) as rcv:
    ...     rcv.url.endswith("/webhook/" + "s" * 16)
    True
    """

    def __init__(
        self,
        client: Client | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/webhook",
        path_secret: str | None = None,
        cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
        handler: Callable[[Report], Any] | None = None,
        max_body_bytes: int = MAX_NOTIFICATION_BYTES,
        queue_size: int = 100,
        read_timeout: float = 10.0,
        max_connections: int = 64,
        public_url: str | None = None,
        url_hosts: Sequence[str] | None = None,
    ) -> None:
        self.path = _check_path(path, path_secret)
        self._secret = path_secret
        for name, value in [
            ("max_body_bytes", max_body_bytes),
            ("queue_size", queue_size),
            ("max_connections", max_connections),
        ]:
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not read_timeout > 0:
            raise ValueError(f"read_timeout must be positive, got {read_timeout!r}")
        if public_url is not None and not public_url.startswith(("http://", "https://")):
            raise ValueError(f"public_url must start with http:// or https://, got {public_url!r}")
        if handler is None:
            handler = _default_handler(client, cache_dir)
        self.handler = handler
        self.max_body_bytes = max_body_bytes
        self.read_timeout = float(read_timeout)
        self.max_connections = max_connections
        self.public_url = public_url
        self.url_hosts = None if url_hosts is None else tuple(url_hosts)
        #: The last outcomes of the worker (``handler`` results), newest last.
        self.outcomes: deque[Any] = deque(maxlen=1000)
        #: The last ``(report_id, exception)`` the worker could not process.
        self.errors: deque[tuple[int, BaseException]] = deque(maxlen=1000)
        self._queue: queue.Queue[Report | None] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queued: set[int] = set()  # ids queued or being processed
        self._stopping = False
        self._server = _Server((host, port), self)
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> tuple[str, int]:
        """The ``(host, port)`` the server listens on."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The webhook URL to give 4YouSee (contains the secret: keep it private).

        Behind a reverse proxy or tunnel it starts with ``public_url``.
        """
        host, port = self.address
        base = self.public_url or (
            f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        )
        return base.rstrip("/") + self.path

    def start(self) -> WebhookReceiver:
        """Start serving and the worker in background threads; returns ``self``."""
        if self._threads:
            raise RuntimeError("the receiver is already started")
        self._threads = [
            threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True),
            threading.Thread(target=self._work, name="fouryousee-webhook-worker", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.info("webhook receiver listening on %s:%d", *self.address)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, let the worker finish its current report, and close.

        Notifications still queued are dropped and logged: they were answered
        200, so ``fetch_playlogs`` will find those reports on the account.
        """
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        if self._threads:
            self._server.shutdown()
        self._server.server_close()
        dropped = []
        for _ in range(self._queue.maxsize + 1):
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                dropped.append(item.id)
            self._task_done(item)
        if dropped:
            log.warning("webhook receiver stopped; reports not processed: %s", dropped)
        if self._threads:
            self._queue.put(None)
            self._threads[1].join(timeout)
            if self._threads[1].is_alive():
                log.warning("webhook worker still busy after %.0f s; leaving it", timeout)
        log.info("webhook receiver stopped")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or being processed; False on timeout.

        Examples
        --------
        >>> with WebhookReceiver(handler=print) as rcv:
        ...     rcv.wait_idle(1.0)
        True
        """
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._queued:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def serve_forever(self) -> None:
        """Serve until Ctrl-C (``KeyboardInterrupt``) or :meth:`stop`, then stop cleanly."""
        if not self._threads:
            self.start()
        try:
            while not self._stopping and self._threads[0].is_alive():
                self._threads[0].join(0.5)
        except KeyboardInterrupt:
            log.info("interrupted")
        finally:
            self.stop()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        host, port = self.address
        return f"WebhookReceiver(host={host!r}, port={port}, secret={self._secret is not None})"

    # -- internals used by the request handler and the worker

    def _path_matches(self, path: str) -> bool:
        return hmac.compare_digest(path.encode("utf-8", "replace"), self.path.encode())

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "<secret>") if self._secret else text

    def _enqueue(self, report: Report) -> tuple[int, str]:
        with self._lock:
            if self._stopping:
                return 503, "shutting down, retry later"
            if report.id in self._queued:
                return 200, "already queued"
            try:
                self._queue.put_nowait(report)
            except queue.Full:
                return 503, "busy, retry later"
            self._queued.add(report.id)
        return 200, "accepted"

    def _task_done(self, item: Report | None) -> None:
        with self._idle:
            if item is not None:
                self._queued.discard(item.id)
            self._idle.notify_all()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self.outcomes.append(self.handler(item))
            except Exception as exc:  # logged and kept: the worker must go on
                log.error("webhook: report %d not processed: %s", item.id, exc)
                self.errors.append((item.id, exc))
            finally:
                self._task_done(item)


def _check_path(path: str, secret: str | None) -> str:
    segments = path.strip("/").split("/") if path.strip("/") else []
    if not path.startswith("/") or not all(_SEGMENT_RE.fullmatch(s) for s in segments):
        raise ValueError(f"path must look like /webhook (URL-safe segments), got {path!r}")
    if secret is not None:
        if not _SEGMENT_RE.fullmatch(secret) or len(secret) < 16:
            raise ValueError(
                "path_secret must be at least 16 URL-safe characters (letters, digits, -_.~), "
                "e.g. secrets.token_urlsafe(24)"
            )
        segments.append(secret)
    return "/" + "/".join(segments)


def _default_handler(
    client: Client | None, cache_dir: str | os.PathLike[str] | None
) -> Callable[[Report], NotificationOutcome]:
    if cache_dir is None:
        raise ValueError("cache_dir=None: the webhook receiver stores reports in the cache")
    if client is None:
        from fouryousee_data.client import Client

        client = Client()
    resolved = client

    def handler(report: Report) -> NotificationOutcome:
        return handle_notification(report, client=resolved, cache_dir=cache_dir)

    return handler


#: Default port of ``fouryousee-data serve-webhook``.
DEFAULT_PORT = 8787


def serve(
    client: Client | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    path: str = "/webhook",
    path_secret: str | None = None,
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
    public_url: str | None = None,
    url_hosts: Sequence[str] | None = None,
    ready: Callable[[WebhookReceiver], Any] | None = None,
) -> None:
    """Run a :class:`WebhookReceiver` until Ctrl-C or SIGTERM, then stop cleanly.

    ``ready(receiver)`` is called once it listens (e.g. to print
    :attr:`WebhookReceiver.url`). Blocks; for a background receiver use
    :class:`WebhookReceiver` as a context manager.

    Examples
    --------
    >>> serve(path_secret=secrets.token_urlsafe(24), ready=lambda r: print(r.url))  # doctest: +SKIP
    http://127.0.0.1:8787/webhook/...
    """
    receiver = WebhookReceiver(
        client,
        host=host,
        port=port,
        path=path,
        path_secret=path_secret,
        cache_dir=cache_dir,
        public_url=public_url,
        url_hosts=url_hosts,
    )
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        receiver.start()
        if ready is not None:
            ready(receiver)
        receiver.serve_forever()
    except KeyboardInterrupt:  # a signal before serve_forever() was waiting
        log.info("interrupted")
    finally:
        receiver.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
