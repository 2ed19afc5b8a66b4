"""The C scanner (``_fastscan.c``) on one block, and the C dictionaries of one read.

Why C: with Arrow's reader first, 1 M rows took 1.43 s and 5 M 6.75 s on the
2-core machine (5.5x and 6.6x pandas; the bars are 6x and 12x), Arrow's
generic tokenizer alone ~2 s of CPU per million lines. ``_fastscan.scan``
reads the known flat playlog keys in one pass with the GIL released, writes
the final types directly, and declines anything unusual (escapes in kept
strings, duplicated keys, floats as ids, bad dates, ...), which then takes
the Arrow / careful path, so errors and line numbers are unchanged.

Dictionary encoding is in C too (issue 15): :class:`CDictionaries` holds one
hash table per column for the read, keyed by the raw bytes. The scanner
threads look each value up there (while the main thread adds to it: see
``Shared`` in the C file) and keep in a block's own small dictionary only the
values it did not hold yet; the main thread, in file order, adds those
(UTF-8 checked once per new value) and writes the block's rows into the
result with the read's codes. Python sees only the final dictionaries, so
the per-row Python work no longer grows with cardinality.

The usual line (the seven keys, compact, no escape) is read with SIMD where the
CPU has AVX-512 (VBMI2, GFNI) or AVX2 (chosen at import; :data:`SIMD_LEVELS`,
:func:`use_simd`), any other line by the portable C path, which decides.

The extension is optional: ``pip install`` builds it when a C compiler is
there (``ext-modules`` in ``pyproject.toml``); without it :data:`BUILT` is
False and every block starts on Arrow's reader.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyarrow as pa

from fouryousee_data.parse._block import STRING_COLUMNS, Parsed

log = logging.getLogger("fouryousee_data.parse")

_VERSION = 6  # the interface of _fastscan.c this module speaks (its VERSION)

try:  # the C scanner of _fastscan.c, built by pip install; Arrow's reader without it
    import fouryousee_data.parse._fastscan as fastscan
except ImportError:  # pragma: no cover - depends on the build
    fastscan = None
    log.debug("the C scanner (_fastscan) is not built: every block takes Arrow's JSON reader")
if fastscan is not None and getattr(fastscan, "VERSION", 1) != _VERSION:  # pragma: no cover
    log.warning(
        "the C scanner (%s) was built from an older _fastscan.c: rebuild it "
        "(pip install -e .); every block takes Arrow's JSON reader meanwhile",
        fastscan.__file__,
    )
    fastscan = None

__all__ = ["BUILT", "SIMD_LEVELS", "CDictionaries", "scan", "use_simd"]

#: Whether the C scanner was built (``engine="c"`` needs it).
BUILT: bool = fastscan is not None

#: The scanner's SIMD levels this CPU runs, best first (a read uses the best):
#: ``"avx512"`` (with VBMI2 and GFNI), ``"avx2"``, then ``"none"``, the portable C path. The
#: SIMD paths read the usual line (the seven keys, compact, no escape) from bitmaps
#: of its bytes and hand any other line to the portable path: the same rows and
#: declines either way (tests run every level).
_LEVELS = ("avx512", "avx2", "none")
SIMD_LEVELS: tuple[str, ...] = _LEVELS[_LEVELS.index(fastscan.simd()) :] if fastscan else ()


def use_simd(level: str) -> str:
    """Make the scanner use a SIMD level of :data:`SIMD_LEVELS` (tests, measurements);
    returns the level it used. ``ValueError`` for a level this CPU does not run."""
    if fastscan is None:
        raise RuntimeError("the C scanner is not built")
    if level not in SIMD_LEVELS:
        raise ValueError(f"SIMD level {level!r} is not one of {SIMD_LEVELS} (this CPU's)")
    before: str = fastscan.simd()
    fastscan.simd(level)
    return before


# Each dictionary column's index in _fastscan.Dictionaries (keys account, type, ip),
# and the order of the columns Dictionaries.merge writes.
_COLUMN = {name: i for i, name in enumerate(STRING_COLUMNS)}
_MERGED = ("played_at", "player_id", "media_id", *STRING_COLUMNS)


def scan(
    block: memoryview | list[Any], max_line: int, dictionaries: CDictionaries | None = None
) -> Parsed | None:
    """The C scanner on a block of whole lines (one buffer, or a list of the pieces it
    is made of: read where they are, not joined); None where it cannot vouch for every
    line.

    With the read's ``dictionaries`` (in a worker thread while the main thread merges
    earlier blocks into them), values they hold already get their codes there and
    then; the block must then be merged into them.
    """
    if fastscan is None:
        return None
    parts = block if isinstance(block, list) else [block]
    scanned = fastscan.scan(parts, max_line, None if dictionaries is None else dictionaries._c)
    if scanned is None:
        return None
    return Parsed(parts, scanned.n_lines, scanned=scanned)


class CDictionaries:
    """One dictionary per string column, in C, for one read (used by one thread).

    The same interface as :class:`~._table.Dictionaries`, plus :meth:`merge`
    for the blocks the C scanner read.
    """

    def __init__(self) -> None:
        if fastscan is None:
            raise RuntimeError("the C scanner is not built")
        self._c = fastscan.Dictionaries()

    def encode(self, name: str, values: list[str], codes: np.ndarray) -> np.ndarray:
        """A block's (values, codes with -1 for null) -> codes of this dictionary."""
        remap = np.frombuffer(self._c.lookup(_COLUMN[name], values), np.int32)
        return remap[codes]  # -1 picks the last entry, -1

    def values(self, name: str) -> list[str]:
        """The column's dictionary, in code order."""
        values: list[str] = self._c.values(_COLUMN[name])
        return values

    def array(self, name: str) -> pa.Array:
        """The column's dictionary as an Arrow string array, built from C's buffers."""
        n, offsets, data = self._c.arrow(_COLUMN[name])
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        return pa.Array.from_buffers(pa.string(), n, buffers)

    def size(self, name: str) -> int:
        """The number of values in the column's dictionary."""
        size: int = self._c.sizes()[_COLUMN[name]]
        return size

    def add(self, scanned: Any) -> bool:
        """A scanned block's values added (once; :meth:`merge` does it too), so that the
        result's code columns can be widened first; False, nothing added, if a new value
        is not UTF-8."""
        added: bool = self._c.add(scanned)
        return added

    def merge(self, scanned: Any, start: int, out: dict[str, np.ndarray]) -> bool:
        """Rows ``start..`` of a scanned block into ``out`` (one slice per column, equal
        lengths; codes of 1, 2 or 4 bytes), codes of this read; False, nothing added, if a
        new value is not UTF-8."""
        merged: bool = self._c.merge(scanned, start, *(out[name] for name in _MERGED))
        return merged
