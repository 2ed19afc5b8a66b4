"""Atomic file writes: a temporary file in the target folder, then ``os.replace``.

A reader (or a crash) never sees a half-written file: the target is either the
old file or the complete new one. The temporary name starts with ``.`` so that
pyarrow datasets (which ignore ``.``/``_`` prefixes) never pick it up, and ends in
``.tmp`` (:data:`TEMP_SUFFIX`) so that leftovers of a killed process can be found.

Errors name the file the caller asked for, never the temporary name (which means
nothing to a user): an ``OSError`` while creating, writing or renaming the temporary
file is raised again, of the same type, with the target path in its place.

Files get the user's normal permissions (``0o666`` less the umask, e.g. ``0o644``
under umask 022), as ``open(path, "w")`` would give them: the temporary file is
created with ``os.open(..., 0o666)``, not ``tempfile.mkstemp`` (whose ``0o600``
would make every output unreadable to colleagues on a shared server).
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["TEMP_SUFFIX", "atomic_write", "new_folder", "temp_name_pattern"]

#: How every temporary file of :func:`atomic_write` ends (before a kept extension).
TEMP_SUFFIX = ".tmp"


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[str], None], *, keep_suffix: bool = False
) -> Path:
    """Call ``write(tmp_path)``, then move the file into place as ``path``.

    ``keep_suffix`` ends the temporary name with the target's extension (writers
    such as openpyxl check it); otherwise it ends in ``.tmp`` so that globs on
    the extension never match a file being written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = atomic_write(pathlib.Path(d) / "a.txt", lambda t: pathlib.Path(t).write_text("x"))
    ...     p.read_text(), sorted(x.name for x in p.parent.iterdir())
    ('x', ['a.txt'])
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = f"{TEMP_SUFFIX}{target.suffix}" if keep_suffix else TEMP_SUFFIX
    try:
        tmp = _new_file(target.parent, f".{target.name}.", suffix)
        try:
            write(tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise _naming(exc, target, suffix) from None  # the cause would show the temp name
    return target


def temp_name_pattern(target_name: str = "", suffix: str = TEMP_SUFFIX) -> re.Pattern[str]:
    """The names :func:`atomic_write` gives its temporary files (for ``target_name``, or
    any target).

    Examples
    --------
    >>> bool(temp_name_pattern("r.parquet").fullmatch(".r.parquet.5f0c2a9b81d3.tmp"))
    True
    >>> bool(temp_name_pattern().fullmatch("r.parquet.tmp"))
    False
    """
    name = re.escape(target_name) if target_name else r"[^/\\]+?"
    return re.compile(rf"\.{name}\.[A-Za-z0-9_]{{8,}}{re.escape(suffix)}")


def _naming(exc: OSError, target: Path, suffix: str) -> OSError:
    """``exc`` again, of the same type, naming ``target`` wherever it named the temp file."""
    pattern = temp_name_pattern(target.name, suffix)
    about_temp = exc.filename is None or bool(pattern.search(os.fspath(exc.filename)))
    if exc.errno is not None and exc.strerror and about_temp:
        try:
            return type(exc)(exc.errno, exc.strerror, str(target))
        except TypeError:
            pass
    text = re.sub(re.escape(str(target.parent) + os.sep) + pattern.pattern, str(target), str(exc))
    text = pattern.sub(target.name, text)
    try:
        return type(exc)(text)
    except TypeError:
        return OSError(text)


def _new_file(folder: Path, prefix: str, suffix: str) -> str:
    """A new empty file with a unique name, created ``0o666`` less the umask."""
    for _ in range(100):
        path = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return str(path)
    raise FileExistsError(f"no free temporary name in {folder}")


def new_folder(prefix: str, parent: str | os.PathLike[str] | None = None) -> Path:
    """A new, uniquely named folder in ``parent`` (default: the system's temp folder),
    with the user's normal permissions (``tempfile.mkdtemp`` makes it ``0o700``).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     new_folder("demo-", d).name.startswith("demo-")
    True
    """
    root = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    for _ in range(100):
        path = root / f"{prefix}{secrets.token_hex(4)}"
        try:
            path.mkdir(mode=0o777)  # less the umask, as any mkdir
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free folder name in {root}")
