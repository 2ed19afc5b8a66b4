"""Every error the toolkit raises on purpose.

::

    FouryouseeError
    ├── APIError                (.status_code, .message, .details)
    │   ├── AuthenticationError (401/403, or no token)
    │   ├── NotFoundError       (404)
    │   └── RateLimitError      (429 after retries; .retry_after)
    ├── ReportFailedError       (.report)
    ├── ReportTimeoutError      (.report_id)
    ├── DownloadError           (object store unreachable / expired and not refreshable)
    ├── CorruptReportError      (not gzip/NDJSON, truncated gzip, size limits exceeded)
    ├── InvalidPlaylogError     (a line that is not a valid playlog; .line_number, .excerpt)
    ├── InvalidNotificationError (a webhook body that is not a report object; also a
    │                             ValueError; .status_code = the HTTP answer, 400/413/422)
    └── MissingDaysError        (scan_playlogs(fetch=False) / source=: days not there;
                                  also a LookupError; .days)

Bad arguments (end before start, a window over 30 days, an unknown ``freq``)
raise the built-in :class:`ValueError` with a message that names the argument.

Third-party exceptions (``requests``, ``zlib``, ``pyarrow``) are translated
where they happen, with ``raise ... from exc``. Messages never contain the
API token nor presigned URL signatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt

    from fouryousee_data.report import Report

__all__ = [
    "APIError",
    "AuthenticationError",
    "CorruptReportError",
    "DownloadError",
    "FouryouseeError",
    "InvalidNotificationError",
    "InvalidPlaylogError",
    "MissingDaysError",
    "NotFoundError",
    "RateLimitError",
    "ReportFailedError",
    "ReportTimeoutError",
]  # the exceptions only (re-exported at top level); the helpers below are module-level


class FouryouseeError(Exception):
    """Base class of every error raised by fouryousee_data."""


class APIError(FouryouseeError):
    """The 4YouSee API answered with an error status.

    ``details`` holds what the API said besides its ``message`` (e.g. which field of a
    request was invalid), as it sent it; the text of the error ends with them.

    Examples
    --------
    >>> e = APIError("POST reports: Validation error", 422, {"report": ["over 30 days"]})
    >>> str(e)
    'HTTP 422: POST reports: Validation error (report: over 30 days)'
    >>> e.details
    {'report': ['over 30 days']}
    """

    def __init__(self, message: str, status_code: int | None = None, details: Any = None) -> None:
        self.status_code = status_code
        self.message = message
        self.details = details
        prefix = f"HTTP {status_code}: " if status_code is not None else ""
        shown = describe_details(details)
        super().__init__(prefix + message + (f" ({shown})" if shown else ""))


class AuthenticationError(APIError):
    """The token is missing, or the API refused it (401/403)."""


class NotFoundError(APIError):
    """The API has no such object (404)."""


class RateLimitError(APIError):
    """The API kept answering 429 after the retries; ``retry_after`` is in seconds."""

    def __init__(
        self,
        message: str,
        status_code: int | None = 429,
        retry_after: float | None = None,
        details: Any = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status_code, details)


class ReportFailedError(FouryouseeError):
    """The API reported ``status: failed`` for a report; ``report`` holds it."""

    def __init__(self, report: Report, message: str | None = None) -> None:
        self.report = report
        if message is None:
            err: Any = report.error or {}
            detail = err.get("message") if isinstance(err, dict) else None
            message = f"report {report.id} failed" + (f": {detail}" if detail else "")
        super().__init__(message)


class ReportTimeoutError(FouryouseeError):
    """A report was not ready before the deadline; ``report_id`` says which."""

    def __init__(self, report_id: int, message: str | None = None) -> None:
        self.report_id = report_id
        super().__init__(message or f"report {report_id} was not ready before the timeout")


class DownloadError(FouryouseeError):
    """The report file could not be downloaded (unreachable, reset, expired URL)."""


class CorruptReportError(FouryouseeError):
    """The report file is not gzip/NDJSON, is truncated, or exceeds a size limit."""


class InvalidPlaylogError(FouryouseeError):
    """A line of a report is not a valid playlog.

    ``line_number`` is 1-based; ``excerpt`` is the start of the offending line.
    """

    def __init__(self, message: str, line_number: int, excerpt: str = "") -> None:
        self.line_number = line_number
        self.excerpt = excerpt
        text = f"line {line_number}: {message}"
        if excerpt:
            text += f" (line starts {excerpt!r})"
        super().__init__(text)


class InvalidNotificationError(FouryouseeError, ValueError):
    """A webhook body is not a well-formed report notification.

    ``status_code`` is the HTTP status the receiver answers: 400 (not strict
    JSON), 413 (too large) or 422 (JSON, but not a report object). The message
    names the offending field, never its value.
    """

    def __init__(self, message: str, status_code: int = 422) -> None:
        self.status_code = status_code
        super().__init__(message)


class MissingDaysError(FouryouseeError, LookupError):
    """Days of a scan are not in the cache (``fetch=False``) or the published dataset
    (``source=``); ``days`` lists them (``datetime.date``), the message too."""

    def __init__(self, message: str, days: list[dt.date]) -> None:
        self.days = days
        super().__init__(message)


def describe_details(details: Any, limit: int = 300) -> str:
    """The API's ``details`` as one short line: ``field: problem; other: ...``.

    Examples
    --------
    >>> describe_details({"report": ["too long", "bad"], "filter": "x"})
    'report: too long, bad; filter: x'
    >>> describe_details(None), describe_details(["a", "b"])
    ('', 'a, b')
    """
    if details is None or details == {} or details == []:
        return ""
    if isinstance(details, dict):
        text = "; ".join(f"{k}: {describe_details(v, limit)}" for k, v in details.items())
    elif isinstance(details, list | tuple):
        text = ", ".join(describe_details(v, limit) for v in details)
    else:
        text = str(details)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rerun_may_help(exc: BaseException) -> bool:
    """Whether running the same call again may succeed where ``exc`` failed.

    No for a refused token (401/403), a missing object (404), a request the API
    judged invalid (other 4xx) and a bad argument (``ValueError``, anything not ours):
    those fail the same way until something is fixed. Yes for a failed or late report,
    a broken download or file, a rate limit, a 5xx, an API that did not answer.

    Examples
    --------
    >>> rerun_may_help(ReportTimeoutError(7)), rerun_may_help(APIError("x", 503))
    (True, True)
    >>> rerun_may_help(AuthenticationError("x", 401)), rerun_may_help(APIError("x", 422))
    (False, False)
    >>> rerun_may_help(ValueError("bad date"))
    False
    """
    if isinstance(exc, RateLimitError):
        return True
    if isinstance(exc, APIError):
        status = exc.status_code
        return status is None or status >= 500 or status == 429
    return isinstance(exc, FouryouseeError) and not isinstance(exc, InvalidNotificationError)


def failure_summary(
    failures: Sequence[tuple[object, BaseException]],
    total: int,
    *,
    noun: str,
    others: str,
    rerun: str = "Run the same call again.",
) -> str:
    r"""One message for a call of ``total`` parts (``noun``: windows, accounts) whose
    ``failures`` are ``(part, exception)``: each failure, what became of the others
    (``others``, e.g. ``"were cached"``; left out when none finished) and ``rerun`` only
    when running again may help (:func:`rerun_may_help`), else that it fails the same way.

    Examples
    --------
    >>> text = failure_summary(
    ...     [("B", ReportTimeoutError(7))], 2, noun="account(s)", others="finished"
    ... )
    >>> print(*text.split(". "), sep="\n")
    1 of 2 account(s) failed (B: report 7 was not ready before the timeout)
    The other 1 finished
    Run the same call again.
    >>> text = failure_summary(
    ...     [("A", AuthenticationError("token refused", 401))], 1, noun="window(s)", others="-"
    ... )
    >>> print(*text.split(". "), sep="\n")
    1 of 1 window(s) failed (A: HTTP 401: token refused)
    Running the same call again fails the same way until that is fixed.
    """
    listed = "; ".join(f"{part}: {exc}" for part, exc in failures)
    text = f"{len(failures)} of {total} {noun} failed ({listed})."
    done = total - len(failures)
    if done:
        text += f" The other {done} {others}."
    if all(rerun_may_help(exc) for _, exc in failures):
        return f"{text} {rerun}"
    return f"{text} Running the same call again fails the same way until that is fixed."
