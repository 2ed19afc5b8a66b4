"""``POST reports``, never blindly repeated.

A POST that failed ambiguously (a timeout, a reset, a 5xx: the server may have
created the report) is followed by a look at the newest reports for one with the
identical filter created moments ago, and repeated only when there is none, with
the retry policy's delays and budget. A 429 created nothing: it is simply
retried. :class:`ReportPoster` does this for :class:`~fouryousee_data.Client`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import requests
import urllib3

from fouryousee_data.api import API
from fouryousee_data.errors import APIError
from fouryousee_data.filters import normalize
from fouryousee_data.lookup import before
from fouryousee_data.redaction import scrub_exception
from fouryousee_data.report import PENDING, Report
from fouryousee_data.transport import (
    RETRY_STATUSES,
    TRANSIENT_ERRORS,
    Budget,
    describe_failure,
    response_retry_after,
)

__all__ = ["RECENT_REPORT_SLACK", "ReportPoster", "report_from_api"]

log = logging.getLogger("fouryousee_data.client")

#: A report with the identical filter created this long before an ambiguous
#: POST failed (server clock, with skew allowance) is taken as the one we created.
RECENT_REPORT_SLACK = 120.0


def report_from_api(obj: Any) -> Report:
    """A :class:`Report` from the API's JSON; a malformed one is :class:`APIError`.

    Examples
    --------
    >>> report_from_api({"id": 7, "status": "waiting"}).id
    7
    >>> report_from_api([])
    Traceback (most recent call last):
    ...
    fouryousee_data.errors.APIError: the API answered a malformed report: a report must be a \
JSON object, got list
    """
    try:
        return Report.from_api(obj)
    except ValueError as exc:
        raise APIError(f"the API answered a malformed report: {exc}") from exc


class ReportPoster:
    """Creates reports through ``api``; looks at ``listing()`` (newest first) after an
    ambiguous failure; ``clock`` measures how long ago the first try started."""

    def __init__(
        self, api: API, listing: Callable[[], Iterator[Report]], clock: Callable[[], float]
    ) -> None:
        self.api = api
        self.listing = listing
        self.clock = clock

    def create(self, body: dict[str, Any]) -> Report:
        """POST reports; after an ambiguous failure, wait, look, and only then post again."""
        started = self.clock()
        transport = self.api.transport
        budget = Budget(transport.retry.attempts - 1)
        while True:  # bounded: every retry spends the budget
            outcome = self._post(body)
            if isinstance(outcome, Report):
                return outcome
            retry = outcome.retryable and budget.retry()
            if retry:
                transport.pause("POST reports", outcome.why, budget, outcome.retry_after)
            if outcome.ambiguous:
                found = self._recent(body["filter"], started, outcome.why)
                if found is not None:
                    return found
            if not retry:
                self._raise(outcome, budget.failures)

    def _post(self, body: dict[str, Any]) -> Report | _Failure:
        """The created report, or why one try of ``POST reports`` failed."""
        try:
            response = self.api.post("reports", body)
        except TRANSIENT_ERRORS as exc:
            why = describe_failure(exc, broken="connection failed")
            return _Failure(why, ambiguous=not _surely_not_sent(exc), retryable=True, exc=exc)
        status = response.status_code
        if status < 500 and status not in RETRY_STATUSES:
            return report_from_api(self.api.json_or_raise(response, "POST reports"))
        # 429: refused, nothing created. 5xx: maybe created; other 5xx are not retried.
        retryable = status in RETRY_STATUSES
        return _Failure(f"HTTP {status}", status != 429, retryable, response=response)

    def _raise(self, failure: _Failure, attempts: int) -> NoReturn:
        """Raise the error of the last failed ``POST reports``: its status, or no answer."""
        if failure.response is not None:
            self.api.json_or_raise(failure.response, "POST reports")  # raises: not a 2xx
        assert failure.exc is not None
        error = self.api.unreachable("POST reports", attempts, failure.exc)
        raise error from scrub_exception(failure.exc)

    def _recent(self, filt: dict[str, Any], started: float, why: str) -> Report | None:
        """The newest non-failed report with this filter created since ``started`` (or a bit
        before, on the server's clock): the one an ambiguously failed POST created. The
        listing is read newest first, only back to that instant."""
        wanted = normalize(filt)
        slack = dt.timedelta(seconds=self.clock() - started + RECENT_REPORT_SLACK)
        since: dt.datetime | None = None
        for n, report in enumerate(self.listing()):
            if n == 0:  # the first page refreshed the server clock estimate
                since = self.api.transport.server_now() - slack
            if before(report, since):
                break
            if report.failed or normalize(report.filter) != wanted:
                continue
            if report.created_at is not None or report.status in PENDING:
                log.info("POST reports failed (%s) but created report %s", why, report.id)
                return report
        return None


@dataclass
class _Failure:
    """Why one try of ``POST reports`` failed, and whether the server may have acted on it."""

    why: str
    ambiguous: bool
    retryable: bool
    exc: BaseException | None = None
    response: requests.Response | None = None

    @property
    def retry_after(self) -> float | None:
        return response_retry_after(self.response)


def _surely_not_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached the server (it was never connected)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)
