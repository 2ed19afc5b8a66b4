"""Strict parsing of a notification body, and the sanity checks of the URL it carries.

The body is untrusted (4YouSee documents no signature): it must be strict JSON,
small, and shaped like a report object, or it is refused with an
:class:`~fouryousee_data.errors.InvalidNotificationError` whose ``status_code``
is the HTTP answer (400, 413 or 422). Its ``url`` is never fetched; checking it
only refuses bodies that cannot come from 4YouSee.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from fouryousee_data import filters
from fouryousee_data.errors import InvalidNotificationError
from fouryousee_data.report import Report

__all__ = ["MAX_NOTIFICATION_BYTES", "REPORT_STATUSES", "is_strict_int", "parse_notification"]

#: Largest accepted notification body. A report object is a few hundred bytes;
#: this leaves room for filters listing thousands of player/media ids.
MAX_NOTIFICATION_BYTES = 256 * 1024

#: The statuses a notification may carry (SPEC section 1).
REPORT_STATUSES = ("waiting", "processing", "success", "failed")

_MAX_ID = 2**63 - 1
#: Optional top-level keys of a report object and the JSON type each must have.
_OPTIONAL: dict[str, type] = {
    "url": str,
    "type": str,
    "format": str,
    "createdAt": str,
    "updatedAt": str,
    "error": dict,
}
#: Host names of cloud metadata services (never a report store).
_METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "instance-data"})
#: inet_aton spellings of an address: 1 to 4 labels, each decimal, octal or 0x-hex.
_NUMERIC_HOST_RE = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}", re.ASCII)
_MAX_URL = 8192


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
    documented keys and types (``startDate``/``endDate`` required, checked by
    :func:`fouryousee_data.filters.check`). Unknown top-level keys are ignored
    (the API may add fields); unknown filter keys are refused (the filter
    echoes what the client sent).

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


def is_strict_int(value: Any) -> TypeGuard[int]:
    """True for an ``int`` that is not a ``bool`` (JSON's integers, as Python reads them).

    Examples
    --------
    >>> is_strict_int(3), is_strict_int(True), is_strict_int(3.0)
    (True, False, False)
    """
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------- strict JSON


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


# --------------------------------------------------------------------------- the report object


def _check_report_object(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise InvalidNotificationError(
            f"a notification must be a JSON object, got {_json_type(obj)}"
        )
    rid = obj.get("id")
    if not is_strict_int(rid) or not 0 < rid <= _MAX_ID:
        raise InvalidNotificationError(f"'id' must be a positive integer, got {_json_type(rid)}")
    if obj.get("status") not in REPORT_STATUSES:
        raise InvalidNotificationError(f"'status' must be one of {', '.join(REPORT_STATUSES)}")
    for key, kind in _OPTIONAL.items():
        value = obj.get(key)
        if value is not None and not isinstance(value, kind):
            expected = "an object" if kind is dict else "a string"
            raise InvalidNotificationError(f"'{key}' must be {expected} or null")
    _check_filter(obj.get("filter"))


def _check_filter(filt: Any) -> None:
    """:func:`filters.check`, its ``ValueError`` as a 422 (JSON type names for a non-object)."""
    if not isinstance(filt, dict):
        raise InvalidNotificationError(f"'filter' must be an object, got {_json_type(filt)}")
    try:
        filters.check(filt)
    except ValueError as exc:
        raise InvalidNotificationError(str(exc)) from exc


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


# --------------------------------------------------------------------------- the url


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
