"""Atomic file writes: a temporary file in the target folder, then ``os.replace``.

A reader (or a crash) never sees a half-written file: the target is either the
old file or the complete new one. The temporary name starts with ``.`` so that
pyarrow datasets (which ignore ``.``/``_`` prefixes) never pick it up.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write"]


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
    suffix = f".tmp{target.suffix}" if keep_suffix else ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
