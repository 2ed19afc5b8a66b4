"""Secrets out of messages, reprs and logs.

Two kinds of secret travel with a request: the API token (``Secret-Token``) and
the signature of a presigned object-store URL (its query string,
``X-Amz-Signature``, ``X-Amz-Credential``...). This module keeps both out of
what a user sees:

* :class:`Secret` holds the token, so that no ``repr`` of the client's state shows it;
* :func:`redact` removes query strings, ``X-Amz-*`` parameters and given secrets from a text;
* :func:`scrub_exception` redacts a whole exception chain before it becomes the
  ``__cause__`` of one of our errors (requests and urllib3 put the URL in their messages);
* :func:`install_log_redaction` adds :data:`LOG_FILTER` to the loggers that log
  request lines (urllib3, requests, ours), with no handler and no level change.
"""

from __future__ import annotations

import contextlib
import logging
import re

__all__ = ["LOG_FILTER", "Secret", "install_log_redaction", "redact", "scrub_exception"]

#: A URL's (or a path's) query string, the part that holds signatures: a ``?`` right
#: after ``scheme://...`` or ``/...``, up to whitespace, a quote or a closing parenthesis.
#: A ``?`` anywhere else ("cut short?") is prose and stays.
_QUERY = re.compile(r"((?:\b[a-zA-Z][a-zA-Z0-9+.-]*://|(?<![\w.-])/)[^\s'\"<>?]*)\?[^\s'\"<>)]*")
#: A signature parameter standing alone (``X-Amz-Signature=...``), also URL-encoded.
_AMZ_PARAM = re.compile(r"(?i)(x-amz-[a-z-]+)(=|%3d)[^&\s'\"<>]*")

#: urllib3 logs request lines (path + query) at DEBUG and retried URLs at
#: WARNING; filters apply per logger (not inherited), hence the explicit list.
_REDACTED_LOGGERS = (
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
    "fouryousee_data.api",
    "fouryousee_data.client",
    "fouryousee_data.download",
    "fouryousee_data.transport",
)


class Secret:
    """Holds a secret (the token) so that no repr/str of an object's state shows it.

    Examples
    --------
    >>> s = Secret("s3cr3t")
    >>> repr(s), str(s), s.value
    ('<secret>', '<secret>', 's3cr3t')
    """

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove the query strings of URLs, ``X-Amz-*`` parameters and the given secrets from
    ``text``; nothing else (a question mark in prose stays, with what follows it).

    Examples
    --------
    >>> redact("GET https://s3.example/a/1.gz?X-Amz-Signature=abc&X-Amz-Expires=60 failed")
    'GET https://s3.example/a/1.gz?<redacted> failed'
    >>> redact("token s3cr3t", secrets=("s3cr3t",))
    'token <redacted>'
    >>> redact("the body was cut short? try again (see /docs?page=2)")
    'the body was cut short? try again (see /docs?<redacted>)'
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    text = _QUERY.sub(r"\1?<redacted>", text)
    return _AMZ_PARAM.sub(r"\1=<redacted>", text)


def scrub_exception(exc: BaseException) -> BaseException:
    """Redact the messages of ``exc`` and of every exception chained to it, in place.

    Third-party exceptions (requests, urllib3) put the request URL in their
    message; a traceback prints the whole chain, so the whole chain is cleaned
    before it becomes the ``__cause__`` of one of our errors.

    Examples
    --------
    >>> e = ValueError("bad url /x.gz?X-Amz-Signature=abc")
    >>> str(scrub_exception(e))
    'bad url /x.gz?<redacted>'
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        _redact_args(current)
        for attr in ("reason", "original_error"):
            inner = getattr(current, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)
        todo.extend([current.__cause__, current.__context__])
    return exc


def _redact_args(exc: BaseException) -> None:
    """Redact the text arguments of one exception (an OSError's errno/strerror pair stays)."""
    if isinstance(exc, OSError) and exc.strerror:
        return
    with contextlib.suppress(AttributeError, TypeError):  # exotic exception types
        exc.args = tuple(a if isinstance(a, int | float) else redact(str(a)) for a in exc.args)


class _RedactFilter(logging.Filter):
    """Rewrites a log record whose message carries a query string or signature."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix; let logging report it
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


#: The filter :func:`install_log_redaction` adds (one instance, so adding it is idempotent).
LOG_FILTER: logging.Filter = _RedactFilter()


def install_log_redaction() -> None:
    """Make urllib3/requests log records free of presigned query strings (idempotent).

    Called by :class:`fouryousee_data.Client`; adds :data:`LOG_FILTER` to those
    loggers (and to every ``urllib3.*`` logger that exists by then) only, no
    handler and no level change.

    Examples
    --------
    >>> install_log_redaction()
    >>> LOG_FILTER in logging.getLogger("urllib3.connectionpool").filters
    True
    """
    names = set(_REDACTED_LOGGERS)
    names.update(n for n in logging.root.manager.loggerDict if n.startswith("urllib3."))
    for name in sorted(names):
        logger = logging.getLogger(name)
        if LOG_FILTER not in logger.filters:
            logger.addFilter(LOG_FILTER)
