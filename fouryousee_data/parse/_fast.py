"""The C scanner (``_fastscan.c``) on one block: typed columns, or None where it cannot vouch.

Why C: with Arrow's reader first, 1 M rows took 1.43 s and 5 M 6.75 s on the
2-core machine (5.5x and 6.6x pandas; the bars are 6x and 12x), Arrow's
generic tokenizer alone ~2 s of CPU per million lines. ``_fastscan.scan``
reads the known flat playlog keys in one pass with the GIL released, writes
the final types directly, and declines anything unusual (escapes in kept
strings, duplicated keys, floats as ids, bad dates, ...), which then takes
the Arrow / careful path, so errors and line numbers are unchanged.

The extension is optional: ``pip install`` builds it when a C compiler is
there (``ext-modules`` in ``pyproject.toml``); without it :data:`BUILT` is
False and every block starts on Arrow's reader.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from fouryousee_data import schema
from fouryousee_data.parse._block import STORE_TYPES, Columns, Parsed

try:  # the C scanner of _fastscan.c, built by pip install; Arrow's reader without it
    import fouryousee_data.parse._fastscan as fastscan
except ImportError:  # pragma: no cover - depends on the build
    fastscan = None
    logging.getLogger("fouryousee_data.parse").debug(
        "the C scanner (_fastscan) is not built: every block takes Arrow's JSON reader"
    )

__all__ = ["BUILT", "scan"]

#: Whether the C scanner was built (``engine="c"`` needs it).
BUILT: bool = fastscan is not None

# The dictionary columns in the order _fastscan.scan takes them (keys account, type, ip).
_SCAN_STRINGS = ("account", "media_type", "ip")


def scan(block: memoryview, max_line: int) -> Parsed | None:
    """The C scanner on a block of whole lines; None where it cannot vouch for every line."""
    if fastscan is None:
        return None
    rows = len(block) // 64  # a valid line has at least 65 bytes
    columns = {name: np.empty(rows, STORE_TYPES[name]) for name in schema.COLUMNS}
    result = fastscan.scan(
        block,
        max_line,
        *(columns[name] for name in ("played_at", "player_id", "media_id")),
        *(columns[name] for name in _SCAN_STRINGS),
    )
    if result is None:
        return None
    n_lines, n_rows, *raw_values = result
    out: Columns = {name: columns[name][:n_rows] for name in schema.COLUMNS}
    for name, raw in zip(_SCAN_STRINGS, raw_values, strict=True):
        values = _utf8(raw)
        if values is None:
            return None
        out[name] = (values, out[name])
    return Parsed(block, n_lines, [out])


def _utf8(raw: list[Any]) -> list[str] | None:
    """The scanner's raw distinct values as text; None if one is not UTF-8."""
    try:
        return [value.decode("utf-8") for value in raw]
    except UnicodeDecodeError:
        return None
