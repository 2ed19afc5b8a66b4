"""Receive 4YouSee's "report ready" notifications safely and fill the cache.

When a report was requested with ``webhook=URL``, 4YouSee POSTs the report
object to that URL once it is ready, and repeats it 2, 8 and 26 minutes later
unless it gets a 200. No signature is documented, so the body is **untrusted**:
it is only a hint that report ``id`` may be ready.

* :func:`parse_notification` — strict JSON, size-limited, schema-checked;
  anything else is :class:`~fouryousee_data.errors.InvalidNotificationError`.
* :func:`handle_notification` — takes only the id from the body, asks the API
  (authenticated) for the report and its fresh URL, downloads it with the
  client and stores its days in the cache, exactly once per report (a
  :class:`Registry`). **The URL found in the body is never used.**
* :class:`WebhookReceiver` / :func:`serve` — a small HTTP server that answers
  at once and processes in one background worker (``fouryousee-data
  serve-webhook``).

The flow of one delivery::

    POST /webhook/<secret>  →  path, method, deadline, size checks       (_http, _body)
                            →  parse_notification(body)      (400 / 413 / 422; any Content-Type)
                            →  bounded queue, answer 200     (503 when full)
    worker                  →  handle_notification(report.id)             (_handling)
                            →  client.get_report(id) → client.download_table(report) → cache

Modules
-------
``_notification``
    strict parsing of a body (JSON, report object, filter via :mod:`~fouryousee_data.filters`)
    and the sanity checks of its URL.
``_handling``
    once-only handling: :class:`NotificationOutcome`, :class:`Registry` (the processed-id
    record and its locks), :func:`handle_notification`.
``_body``
    reading a request body off the socket: Content-Length or chunked, size limits, and a
    deadline on the whole request.
``_http``
    the HTTP side: :class:`Endpoint` (path, secret, limits), the server and the request
    handler that turns each request into one JSON answer.
``_server``
    :class:`WebhookReceiver` (queue, worker, lifecycle) and :func:`serve`.
"""

from __future__ import annotations

from fouryousee_data.errors import InvalidNotificationError
from fouryousee_data.filters import whole_days
from fouryousee_data.webhook._handling import (
    DEFAULT_REGISTRY,
    LOCK_TIMEOUT,
    NotificationOutcome,
    Registry,
    handle_notification,
)
from fouryousee_data.webhook._http import Endpoint
from fouryousee_data.webhook._notification import (
    MAX_NOTIFICATION_BYTES,
    REPORT_STATUSES,
    parse_notification,
)
from fouryousee_data.webhook._server import DEFAULT_PORT, WebhookReceiver, serve

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_REGISTRY",
    "LOCK_TIMEOUT",
    "MAX_NOTIFICATION_BYTES",
    "REPORT_STATUSES",
    "Endpoint",
    "InvalidNotificationError",
    "NotificationOutcome",
    "Registry",
    "WebhookReceiver",
    "handle_notification",
    "parse_notification",
    "serve",
    "whole_days",
]
