"""Once-only handling of a notification: ask the API, download, store the days in the cache.

:func:`handle_notification` takes nothing from a body but the report id. A
:class:`Registry` makes the handling of each report happen once: one thread
and one process at a time (a thread lock and a file lock), and a processed-id
record (remembered in the registry, written under the cache directory) that
turns later deliveries, also after a restart, into ``"duplicate"``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import filelock

from fouryousee_data import filters
from fouryousee_data._config import DEFAULT_CACHE, resolve_cache_dir
from fouryousee_data._fileio import atomic_write
from fouryousee_data.cache import PlaylogCache
from fouryousee_data.errors import FouryouseeError
from fouryousee_data.report import Report
from fouryousee_data.webhook._notification import is_strict_int, parse_notification

if TYPE_CHECKING:
    from fouryousee_data.client import Client

__all__ = [
    "DEFAULT_REGISTRY",
    "LOCK_TIMEOUT",
    "NotificationOutcome",
    "Registry",
    "handle_notification",
]

log = logging.getLogger("fouryousee_data.webhook")

#: How long a delivery waits for another process handling the same report.
LOCK_TIMEOUT = 900.0

#: A report of an account in a cache: (resolved cache root, account fingerprint, report id).
_Key = tuple[str, str, int]


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


class Registry:
    """The once-only record of handled reports, with the locks that make it hold.

    One report of one account (cache root, account fingerprint, report id) is
    handled by one thread at a time (a thread lock of this registry) and one
    process at a time (a file lock beside its record
    ``<cache>/<fingerprint>/_webhook/<id>.json``). The record on disk is what
    survives a restart; the registry remembers the actions it read or wrote, so
    a repeated delivery does not read the disk again.

    A :class:`WebhookReceiver` owns one (a fresh one unless given one);
    :func:`handle_notification` uses :data:`DEFAULT_REGISTRY` unless given one.
    A new registry behaves like a restarted process: it knows only the files.

    Parameters
    ----------
    lock_timeout
        Seconds to wait for another process handling the same report, then
        :class:`~fouryousee_data.errors.FouryouseeError`.

    Examples
    --------
    >>> import tempfile
    >>> registry = Registry()
    >>> root = Path(tempfile.mkdtemp())
    >>> registry.once(root, "acct", 7, lambda: NotificationOutcome(7, "failed", "boom"))
    NotificationOutcome(report_id=7, action='failed', detail='boom', days=(), rows=0)
    >>> Registry().once(root, "acct", 7, lambda: NotificationOutcome(7, "stored")).action
    'duplicate'
    """

    def __init__(self, *, lock_timeout: float = LOCK_TIMEOUT) -> None:
        if not lock_timeout > 0:
            raise ValueError(f"lock_timeout must be positive, got {lock_timeout!r}")
        self.lock_timeout = float(lock_timeout)
        self._guard = threading.Lock()
        self._done: dict[_Key, str] = {}
        self._locks: dict[_Key, threading.Lock] = {}

    def once(
        self,
        root: Path,
        fingerprint: str,
        report_id: int,
        process: Callable[[], NotificationOutcome],
    ) -> NotificationOutcome:
        """``process()`` unless the report was handled already (then ``"duplicate"``).

        Its outcome is recorded unless it is ``"pending"``; an exception
        records nothing, so a later delivery processes the report again.
        """
        record = _Record(root, fingerprint, report_id)
        with self._locked(record):
            previous = self._recall(record)
            if previous is not None:
                log.info("webhook: report %d already processed (%s); ignored", report_id, previous)
                return NotificationOutcome(report_id, "duplicate", previous)
            outcome = process()
            if outcome.action != "pending":
                record.write(outcome)
                self._remember(record, outcome.action)
        return outcome

    def __len__(self) -> int:
        """How many handled reports this registry remembers."""
        with self._guard:
            return len(self._done)

    def __repr__(self) -> str:
        return f"Registry(remembered={len(self)}, lock_timeout={self.lock_timeout:g})"

    @contextlib.contextmanager
    def _locked(self, record: _Record) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(record.key, threading.Lock())
        with lock:
            record.folder.mkdir(parents=True, exist_ok=True)
            try:
                with filelock.FileLock(record.lock_path, timeout=self.lock_timeout):
                    yield
            except filelock.Timeout as exc:
                raise FouryouseeError(
                    f"report {record.report_id} is locked by another process "
                    f"for over {self.lock_timeout:.0f} s"
                ) from exc

    def _recall(self, record: _Record) -> str | None:
        with self._guard:
            action = self._done.get(record.key)
        if action is None:
            action = record.read()
            if action is not None:
                self._remember(record, action)
        return action

    def _remember(self, record: _Record, action: str) -> None:
        with self._guard:
            self._done[record.key] = action


#: The registry :func:`handle_notification` uses when it is given none.
DEFAULT_REGISTRY = Registry()


def handle_notification(
    report_or_body: Report | bytes | int,
    *,
    client: Client,
    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE,
    registry: Registry | None = None,
) -> NotificationOutcome:
    """Process one notification: fetch the report **from the API** and cache its days.

    Only the report id is taken from the notification; the report (status,
    filter, fresh presigned URL) comes from ``client.get_report(id)``, and
    the file from ``client.download_table(report)``. The URL in the body is
    never used. Each report is processed once (see :class:`Registry`):
    concurrent deliveries wait for the first, later ones, also after a
    restart, are ``"duplicate"``.

    * ``success`` with a whole-day filter (``00:00:00``..``23:59:59``, see
      :func:`fouryousee_data.filters.whole_days`): the days are downloaded and
      stored in the cache (``"stored"``), player/media filters included (such
      days serve only the same filter).
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
    registry
        The once-only record to use; default :data:`DEFAULT_REGISTRY`.

    Examples
    --------
    >>> handle_notification(body, client=fy.Client())  # doctest: +SKIP
    NotificationOutcome(report_id=42, action='stored', detail='', days=(...), rows=1234)
    """
    report_id = _notified_id(report_or_body)
    root = resolve_cache_dir(cache_dir)
    if root is None:
        raise ValueError("cache_dir=None: handle_notification stores reports in the cache")
    registry = DEFAULT_REGISTRY if registry is None else registry
    return registry.once(
        root,
        client.fingerprint,
        report_id,
        lambda: _process(client.get_report(report_id), client, root),
    )


def _notified_id(value: Report | bytes | int) -> int:
    if isinstance(value, Report):
        return value.id
    if isinstance(value, bytes | bytearray | memoryview):
        return parse_notification(bytes(value)).id
    if is_strict_int(value) and value > 0:
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
    days = filters.whole_days(report.filter)
    if days is None:
        log.info("webhook: report %d does not cover whole days; not cached", report.id)
        return NotificationOutcome(report.id, "skipped", "not a whole-day filter")
    table = client.download_table(report)
    PlaylogCache(root, client.fingerprint).store_report(report, table)
    log.info(
        "webhook: report %d stored: %d rows, %s..%s", report.id, table.num_rows, days[0], days[-1]
    )
    return NotificationOutcome(report.id, "stored", days=tuple(days), rows=table.num_rows)


# --------------------------------------------------------------------------- the record on disk


class _Record:
    """Where the processed-id record and the file lock of one report of one account live."""

    def __init__(self, root: Path, fingerprint: str, report_id: int) -> None:
        self.report_id = report_id
        self.key: _Key = (str(root.resolve()), fingerprint, report_id)
        self.folder = root / fingerprint / "_webhook"
        self.path = self.folder / f"{report_id}.json"
        self.lock_path = self.folder / f"{report_id}.lock"

    def read(self) -> str | None:
        """The recorded action, or None (no record, or a damaged one: process again)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return str(data["action"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

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

        def write(tmp: str) -> None:
            Path(tmp).write_text(text, encoding="utf-8")

        atomic_write(self.path, write)
