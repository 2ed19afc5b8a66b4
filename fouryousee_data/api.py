"""The 4YouSee API's HTTP conventions, over a :class:`~fouryousee_data.transport.Transport`.

:class:`API` knows what every call to the Manager API shares (SPEC section 1):
the ``Secret-Token`` header on each request (never on a redirect: the API's
transport does not follow them), JSON bodies, ``{"message": ...}`` errors
translated into the error tree, and paginated listings (``?page=N`` up to
``totalPages``, with ``sort``/``limit`` when given).
:class:`~fouryousee_data.Client` builds the report lifecycle on it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import requests

from fouryousee_data import _config
from fouryousee_data.errors import APIError, AuthenticationError, NotFoundError, RateLimitError
from fouryousee_data.redaction import Secret, redact, scrub_exception
from fouryousee_data.transport import (
    TRANSIENT_ERRORS,
    Budget,
    Transport,
    describe_failure,
    response_retry_after,
)

__all__ = ["API", "MAX_PAGES"]

log = logging.getLogger(__name__)

#: Upper bound on the pages followed for one listing.
MAX_PAGES = 10_000
_USER_AGENT = "fouryousee_data/0.1"


class API:
    """Calls to one Manager API: ``base_url`` with ``token``, sent through ``transport``.

    Parameters
    ----------
    base_url
        The API root, ending with ``/``.
    token
        The ``Secret-Token``, held by a :class:`~fouryousee_data.redaction.Secret`.
    transport
        A :class:`~fouryousee_data.transport.Transport` that does not follow redirects.

    Examples
    --------
    >>> api = API("http://127.0.0.1:9/v1/", Secret("t"), Transport(requests.Session(),
    ...           timeout=(1.0, 1.0), follow_redirects=False))
    >>> api.base_url
    'http://127.0.0.1:9/v1/'
    """

    def __init__(self, base_url: str, token: Secret, transport: Transport) -> None:
        self.base_url = base_url
        self.transport = transport
        self._token = token

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON body of ``GET path``, retried by the transport; errors translated.

        Raises
        ------
        APIError
            (or a subclass) for an error status, invalid JSON, or no answer after the retries.
        """
        what = f"GET {path}"
        budget = Budget(self.transport.retry.attempts - 1)
        try:
            response = self.transport.get(
                self.base_url + path, what=what, budget=budget, params=params, **self._options()
            )
        except TRANSIENT_ERRORS as exc:
            raise self.unreachable(what, budget.failures, exc) from scrub_exception(exc)
        except requests.RequestException as exc:  # a bad URL, a bad proxy...: not retried
            raise APIError(f"{what}: {type(exc).__name__}") from scrub_exception(exc)
        return self.json_or_raise(response, what)

    def post(self, path: str, body: Any) -> requests.Response:
        """One try of ``POST path`` with a JSON ``body`` (never retried here).

        Raises one of :data:`~fouryousee_data.transport.TRANSIENT_ERRORS` as it
        comes (the caller decides whether the server may have acted on it).
        """
        try:
            return self.transport.send("POST", self.base_url + path, json=body, **self._options())
        except TRANSIENT_ERRORS:
            raise
        except requests.RequestException as exc:  # a bad URL, a bad proxy...: not retried
            raise APIError(f"POST {path}: {type(exc).__name__}") from scrub_exception(exc)

    def pages(self, resource: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Every result of a listing, page after page (a body without ``totalPages`` is one page).

        ``params`` (``sort``, ``limit``...) go with every page. A page is asked for only when
        the consumer gets there: stop iterating and no further page is requested.

        Raises
        ------
        APIError
            A body that is not a listing (nor a single object or a list).
        """
        page, total = 1, 1
        while page <= min(total, MAX_PAGES):
            body = self.get_json(resource, params={"page": page, **(params or {})})
            if isinstance(body, list):
                yield from body
                return
            if not isinstance(body, dict):
                raise APIError(f"GET {resource}: expected a JSON object, got {type(body).__name__}")
            if "results" not in body:
                yield body  # a single object
                return
            yield from _results(body, resource)
            pages = body.get("totalPages")
            if not isinstance(pages, int) or isinstance(pages, bool):
                return  # a plain {"results": [...]}: one page
            total = pages
            page += 1

    def json_or_raise(self, response: requests.Response, what: str) -> Any:
        """The JSON body of a 2xx ``response``; otherwise the error it means, raised.

        401/403 is :class:`AuthenticationError`, 404 :class:`NotFoundError`, 429
        :class:`RateLimitError` (with ``retry_after``), a redirect or anything
        else :class:`APIError`; the message is the server's, redacted.
        """
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json()
            except ValueError as exc:
                raise APIError(f"{what}: the API answered invalid JSON", status) from exc
        said, details = _error_message(response, self._token.value)
        text = f"{what}: {said}"
        if status in (401, 403):
            raise AuthenticationError(
                f"{text} (check the token: token= or {_config.TOKEN_ENV})", status, details
            )
        if status == 404:
            raise NotFoundError(text, status, details)
        if status == 429:
            retry_after = response_retry_after(response)
            raise RateLimitError(
                f"{text} (rate limited; retry later)", status, retry_after, details
            )
        if 300 <= status < 400:
            location = redact(response.headers.get("Location", "?"))
            raise APIError(
                f"{what}: the API redirected to {location}; set base_url to the final address "
                "(the token is not sent across redirects)",
                status,
            )
        raise APIError(text, status, details)

    def unreachable(self, what: str, attempts: int, exc: BaseException) -> APIError:
        """The error of a request that got no answer after ``attempts`` tries.

        Examples
        --------
        >>> api = API("http://127.0.0.1:9/v1/", Secret("t"), None)
        >>> str(api.unreachable("GET players", 2, requests.ConnectTimeout("x")))
        'GET players: the API at http://127.0.0.1:9/v1/ did not answer after 2 attempt(s): \
timed out (ConnectTimeout)'
        """
        why = describe_failure(exc, broken="connection failed")
        return APIError(
            f"{what}: the API at {redact(self.base_url)} did not answer after {attempts} "
            f"attempt(s): {why}"
        )

    def _options(self) -> dict[str, Any]:
        """Per-request options: the token header (the session itself is never modified)."""
        headers = {
            "Secret-Token": self._token.value,
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        return {"headers": headers}


def _results(body: dict[str, Any], resource: str) -> list[Any]:
    results = body.get("results") or []
    if not isinstance(results, list):
        raise APIError(f"GET {resource}: 'results' is not a list")
    return results


def _error_message(response: requests.Response, token: str) -> tuple[str, Any]:
    """The server's ``{"message": ...}`` (else a short redacted excerpt of the body) and
    what it said besides (``details``, or ``detail``; redacted), if anything."""
    try:
        body = response.json()
    except ValueError:
        body = None
    details = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = body["message"]
        details = body.get("details", body.get("detail"))
    else:
        message = (response.text or "").strip()[:200] or (response.reason or "error")
    return redact(message, secrets=(token,)), _redacted(details, token)


def _redacted(value: Any, token: str) -> Any:
    """``value`` (JSON) with every string redacted."""
    if isinstance(value, str):
        return redact(value, secrets=(token,))
    if isinstance(value, list):
        return [_redacted(v, token) for v in value]
    if isinstance(value, dict):
        return {redact(str(k), secrets=(token,)): _redacted(v, token) for k, v in value.items()}
    return value
