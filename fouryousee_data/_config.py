"""Configuration, resolved in one place: argument > environment > default.

Nothing here runs at import time; nothing creates directories.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from fouryousee_data.errors import AuthenticationError

DEFAULT_BASE_URL = "https://api.4yousee.com.br/v1/"
TOKEN_ENV = "FOURYOUSEE_TOKEN"
API_URL_ENV = "FOURYOUSEE_API_URL"
CACHE_DIR_ENV = "FOURYOUSEE_CACHE_DIR"

#: Sentinel for "use the default cache directory" (``None`` disables the cache).
DEFAULT_CACHE = "default"


def resolve_token(token: str | None) -> str:
    """The API token: the argument, else ``FOURYOUSEE_TOKEN``; none is an error."""
    value = token if token is not None else os.environ.get(TOKEN_ENV)
    if not value or not value.strip():
        raise AuthenticationError(
            f"no 4YouSee API token: pass token= to Client(...) or set the {TOKEN_ENV} "
            "environment variable (4YouSee Manager > Settings > API)"
        )
    return value.strip()


def resolve_base_url(base_url: str | None) -> str:
    """The API base URL, always ending in ``/``."""
    value = base_url or os.environ.get(API_URL_ENV) or DEFAULT_BASE_URL
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
    return value if value.endswith("/") else value + "/"


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path | None:
    """The cache root: ``None`` disables the cache; the default is
    ``FOURYOUSEE_CACHE_DIR`` or the platform's user cache directory.

    Examples
    --------
    >>> resolve_cache_dir("~/playlogs") == Path.home() / "playlogs"
    True
    >>> resolve_cache_dir(None) is None
    True
    >>> resolve_cache_dir(DEFAULT_CACHE)  # doctest: +SKIP
    PosixPath('/home/me/.cache/fouryousee_data')
    """
    if cache_dir is None:
        return None
    if isinstance(cache_dir, str) and cache_dir == DEFAULT_CACHE:
        env = os.environ.get(CACHE_DIR_ENV)
        if env:
            return Path(env).expanduser()
        import platformdirs

        return Path(platformdirs.user_cache_dir("fouryousee_data", appauthor=False))
    return Path(cache_dir).expanduser()


def account_fingerprint(base_url: str, token: str) -> str:
    """A non-reversible name for an (API URL, token) pair, used as cache namespace.

    Examples
    --------
    >>> fp = account_fingerprint("https://api.4yousee.com.br/v1/", "secret")
    >>> len(fp), "secret" in fp
    (16, False)
    """
    material = f"fouryousee_data/v1\0{base_url.rstrip('/')}\0{token}".encode()
    return hashlib.sha256(material).hexdigest()[:16]
