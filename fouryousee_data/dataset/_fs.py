"""Where a published dataset lives: a local folder or an object-store URL, as an fsspec
filesystem (``s3://`` through ``s3fs``; endpoint and credentials from the usual AWS
environment variables, ``AWS_ENDPOINT_URL`` included, or ``storage_options=``).

No DuckDB extension is ever involved: DuckDB reads remote files through the fsspec
filesystem registered on its connection, Dask through the same ``storage_options``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Location", "locate"]


@dataclass(frozen=True)
class Location:
    """A dataset root on a filesystem."""

    fs: Any  # fsspec.AbstractFileSystem
    root: str  # without the protocol (fsspec's own form)
    storage_options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        """True for a folder on this machine."""
        protocol = self.fs.protocol
        names = protocol if isinstance(protocol, tuple) else (protocol,)
        return "file" in names or "local" in names

    def url(self, path: str) -> str:
        """``path`` as engines open it: a local path, or a URL with its protocol.

        Examples
        --------
        >>> locate("/tmp/x").url("/tmp/x/date=2024-03-01/part-0.parquet")
        '/tmp/x/date=2024-03-01/part-0.parquet'
        """
        return path if self.is_local else str(self.fs.unstrip_protocol(path))

    def join(self, *parts: str) -> str:
        """``root/part/...`` (fsspec form)."""
        return "/".join([self.root.rstrip("/"), *parts])


def locate(dest: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> Location:
    """The filesystem and root of ``dest`` (a path or a URL such as ``s3://bucket/prefix``).

    Raises
    ------
    ValueError
        An unknown protocol, or its filesystem is not installed (the message says which
        extra to install).

    Examples
    --------
    >>> loc = locate("/tmp/published")
    >>> loc.is_local, loc.root
    (True, '/tmp/published')
    """
    import fsspec

    options = dict(storage_options or {})
    text = os.fspath(dest)
    if not isinstance(text, str) or not text:
        raise ValueError(f"dest: expected a path or a URL such as s3://bucket/prefix, got {dest!r}")
    try:
        fs, root = fsspec.core.url_to_fs(text, **options)
    except (ImportError, ValueError) as exc:
        raise ValueError(
            f"{text.split('://')[0]}://: no filesystem for it ({exc}); for s3:// install "
            '"fouryousee-data[distributed]" (s3fs)'
        ) from exc
    return Location(fs, str(root), options)
