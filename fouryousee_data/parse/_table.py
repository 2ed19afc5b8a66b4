"""Parsed blocks, in file order, into one table: line numbers, shared dictionaries, slabs.

Only typed rows are kept (``played_at`` seconds, ``int32`` ids and dictionary
codes), never the decompressed text nor a table of strings, so memory is
bounded by the result. For a frame the codes are stored as narrow as pandas
keeps them (``int8`` below 127 values, ...; widened when a dictionary grows):
the frame is then the slabs themselves, no copy at the end (20 bytes a row
for a realistic report instead of 28).
"""

from __future__ import annotations

import logging
import mmap
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from fouryousee_data import schema
from fouryousee_data.errors import CorruptReportError
from fouryousee_data.parse._block import STORE_TYPES, STRING_COLUMNS, Columns, Dictionaries, Parsed
from fouryousee_data.parse._careful import parse_lines

__all__ = ["BatchEmitter", "PythonDictionaries", "Slabs", "TableBuilder"]

log = logging.getLogger("fouryousee_data.parse")

#: Rows per slab of the result (virtual memory only until written): see Slabs.
_SLAB_ROWS = 8 * 1024 * 1024
_HUGE_PAGE = 2 * 1024 * 1024
_MADV_HUGEPAGE = getattr(mmap, "MADV_HUGEPAGE", None)  # Linux only
_MAP_PRIVATE = getattr(mmap, "MAP_PRIVATE", None)  # not on Windows


class TableBuilder:
    """Takes each parsed block at once, in file order; builds the table at the end.

    A block the engines declined is parsed here by the careful path, which
    needs the number of its first line. A block the C scanner read is merged
    by ``dictionaries`` (then a :class:`~._fast.CDictionaries`) straight into the slabs.
    """

    def __init__(self, max_line: int, dictionaries: Dictionaries, narrow: bool = False) -> None:
        self._max_line = max_line
        self._lines = 0  # lines before the current block
        self._store = Slabs(narrow)  # narrow codes: for frame(); table() widens them
        self._dicts = dictionaries

    def add(self, parsed: Parsed) -> int:
        """Store a parsed block, in file order; returns its number of rows."""
        if parsed.too_long is not None:
            raise CorruptReportError(
                f"line {self._lines + parsed.too_long + 1} is longer than "
                f"{self._max_line:,} bytes (max_line_bytes)"
            )
        if parsed.scanned is not None and self._store.merge(parsed.scanned, self._dicts):
            self._lines += parsed.n_lines
            return int(parsed.scanned.n_rows)
        batches = parsed.columns
        if batches is None:  # name the first bad line, or vouch for the block
            log.debug("lines %d+: parsed line by line", self._lines + 1)
            batches = [parse_lines(parsed.block, self._lines + 1)]
        self._lines += parsed.n_lines
        return sum(self._store.append(self._encoded(columns)) for columns in batches)

    def _encoded(self, columns: Columns) -> Columns:
        for name in STRING_COLUMNS:
            columns[name] = self._dicts.encode(name, *columns[name])
        self._store.fit(self._dicts)
        return columns

    def table(self) -> pa.Table:
        """The result in PLAYLOG_SCHEMA (Arrow wraps the numpy columns, no copy)."""
        columns = self._store.finish()
        arrays = []
        for field in schema.PLAYLOG_SCHEMA:
            values = columns.pop(field.name)
            if field.name in STRING_COLUMNS:
                codes = values.astype(np.int32, copy=False)
                arrays.append(_dictionary_array(codes, self._dicts.array(field.name)))
            else:
                arrays.append(pa.array(values).view(field.type))
            del values
        return pa.Table.from_arrays(arrays, schema=schema.PLAYLOG_SCHEMA)

    def frame(self, tz: str | None) -> pd.DataFrame:
        """The playlog DataFrame, its numeric columns the parsed arrays themselves."""
        columns: dict[str, Any] = self._store.finish()
        columns["played_at"] = columns["played_at"].view(f"datetime64[{schema.TIME_UNIT}]")
        for name in STRING_COLUMNS:  # codes as narrow as pandas keeps them: no copy
            categories = self._categories(name)
            columns[name] = pd.Categorical.from_codes(columns[name], categories=categories)
        df = pd.DataFrame({name: columns.pop(name) for name in schema.COLUMNS}, copy=False)
        if tz:
            df["played_at"] = schema.localize(df["played_at"], tz)
        return df

    def _categories(self, name: str) -> pd.Index:
        """The column's dictionary as the Index pandas makes of a list of str.

        From the Arrow array (no Python str per value): half the time at 65,000 IPs
        (~10 ms per read). Empty: the list's Index, which pandas types differently.
        Marked unique for pandas (see :func:`_known_unique`).
        """
        values = self._dicts.array(name)
        if not len(values):
            return pd.Index([])
        index = pd.Index(values.to_pandas())
        _known_unique(index)
        return index


class BatchEmitter(TableBuilder):
    """Hands each parsed block's rows on at once, as a record batch in
    :data:`~fouryousee_data.schema.PLAYLOG_SCHEMA` (file order), and keeps none: memory
    stays bounded by a few blocks whatever the file's size. A batch's dictionaries are
    the read's shared ones as they stand then (each later one extends the earlier).
    """

    def __init__(
        self, max_line: int, dictionaries: Dictionaries, emit: Callable[[pa.RecordBatch], None]
    ) -> None:
        super().__init__(max_line, dictionaries)
        self._store = _Handover(self._batch)
        self._emit = emit

    def _batch(self, columns: dict[str, np.ndarray]) -> None:
        arrays = []
        for field in schema.PLAYLOG_SCHEMA:
            values = columns[field.name]
            if field.name in STRING_COLUMNS:
                arrays.append(_dictionary_array(values, self._dicts.array(field.name)))
            else:
                arrays.append(pa.array(values).view(field.type))
        self._emit(pa.RecordBatch.from_arrays(arrays, schema=schema.PLAYLOG_SCHEMA))


class Slabs:
    """Typed columns that grow in place in large, lazily committed numpy slabs.

    A slab is an anonymous memory mapping per column: the kernel commits a
    page only when a row is written, so a slab costs the memory of its rows,
    not of its capacity. Keeping the result out of the heap where
    the blocks come and go avoids fragmentation (measured: ~1.5x the frame
    of extra peak RSS with many small chunks). Up to ``_SLAB_ROWS`` rows the
    result is the slab itself: no concatenation at the end.

    ``narrow``: the string columns' codes start as ``int8`` and :meth:`fit`
    widens them (a copy of the rows so far, at most twice a column) as the
    dictionaries grow, as pandas sizes a Categorical's codes.
    """

    def __init__(self, narrow: bool = False) -> None:
        self._slabs: list[dict[str, np.ndarray]] = []
        self._fill = _SLAB_ROWS  # rows used in the last slab
        self._narrow = narrow
        self._types = dict(STORE_TYPES)
        if narrow:
            self._types.update(dict.fromkeys(STRING_COLUMNS, np.dtype(np.int8)))

    def fit(self, dictionaries: Dictionaries) -> None:
        """Widen the code columns the dictionaries have outgrown (before rows are stored)."""
        if not self._narrow:
            return
        for name in STRING_COLUMNS:
            wanted = code_type(dictionaries.size(name))
            if wanted.itemsize > self._types[name].itemsize:
                self._widen(name, wanted)

    def _widen(self, name: str, dtype: np.dtype[Any]) -> None:
        self._types[name] = dtype
        for i, slab in enumerate(self._slabs):
            rows = self._fill if i == len(self._slabs) - 1 else _SLAB_ROWS
            wider = _lazy_empty(_SLAB_ROWS, dtype)
            wider[:rows] = slab[name][:rows]
            slab[name] = wider

    def append(self, columns: dict[str, np.ndarray]) -> int:
        """Copy a block's columns in; returns its number of rows."""
        for done, out in self._room(len(columns["played_at"])):
            for name, part in out.items():
                part[:] = columns[name][done : done + len(part)]
        return len(columns["played_at"])

    def merge(self, scanned: Any, dictionaries: Any) -> bool:
        """Merge a block the C scanner read (``dictionaries.merge``); False: nothing stored
        (a new value is not UTF-8)."""
        if not dictionaries.add(scanned):
            return False
        self.fit(dictionaries)
        for done, out in self._room(scanned.n_rows):
            dictionaries.merge(scanned, done, out)  # True: the values are in already
        return True

    def _room(self, n: int) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Room for ``n`` more rows: ``(rows before, one slice per column)`` per slab;
        the rows count once the caller asks for the next piece."""
        done = 0
        while done < n:
            if self._fill == _SLAB_ROWS:
                self._slabs.append({k: _lazy_empty(_SLAB_ROWS, t) for k, t in self._types.items()})
                self._fill = 0
            take = min(n - done, _SLAB_ROWS - self._fill)
            yield (
                done,
                {k: slab[self._fill : self._fill + take] for k, slab in self._slabs[-1].items()},
            )
            self._fill += take
            done += take

    def finish(self) -> dict[str, np.ndarray]:
        """The rows so far, one array per column (the slabs are handed over)."""
        if not self._slabs:
            return {name: np.empty(0, t) for name, t in self._types.items()}
        sizes = [_SLAB_ROWS] * (len(self._slabs) - 1) + [self._fill]
        slabs, self._slabs = self._slabs, []
        columns = {}
        for name in self._types:
            parts = [slab.pop(name)[:size] for slab, size in zip(slabs, sizes, strict=True)]
            columns[name] = parts[0] if len(parts) == 1 else np.concatenate(parts)
            del parts
        return columns


class _Handover(Slabs):
    """Slabs that keep nothing: each block's rows, in arrays of their own, go to
    ``hand`` as soon as they are stored."""

    def __init__(self, hand: Callable[[dict[str, np.ndarray]], None]) -> None:
        super().__init__()
        self._hand = hand

    def append(self, columns: dict[str, np.ndarray]) -> int:
        self._hand({name: np.asarray(columns[name], t) for name, t in STORE_TYPES.items()})
        return len(columns["played_at"])

    def merge(self, scanned: Any, dictionaries: Any) -> bool:
        out = {name: np.empty(scanned.n_rows, t) for name, t in STORE_TYPES.items()}
        if not dictionaries.merge(scanned, 0, out):
            return False
        self._hand(out)
        return True


def code_type(n_values: int) -> np.dtype[Any]:
    """The codes of a dictionary of ``n_values`` as pandas keeps them in a Categorical
    (``pandas.core.dtypes.cast.coerce_indexer_dtype``): int8 below 127 values, ..."""
    for limit, dtype in _CODE_TYPES:
        if n_values < limit:
            return dtype
    return np.dtype(np.int64)


#: (largest value, dtype) of the narrow code types (np.iinfo per block costs ~20 us).
_CODE_TYPES = [(int(np.iinfo(t).max), np.dtype(t)) for t in (np.int8, np.int16, np.int32)]


def _lazy_empty(n: int, dtype: np.dtype[Any]) -> np.ndarray:
    """``np.empty(n, dtype)`` in its own private anonymous mapping, committed as rows
    are written.

    From 2 MiB on, in transparent huge pages (``MADV_HUGEPAGE``, where the kernel has
    them; Python's default, a shared mapping, would not get them), the array aligned to
    2 MiB: a 5 M-row frame then costs ~50 page faults instead of ~25,000 (~0.1 s of
    system time), for at most 2 MiB per column more than its rows.
    """
    size = max(n, 1) * dtype.itemsize
    if size < _HUGE_PAGE:
        return np.frombuffer(_anonymous(size), dtype, n)
    area = _anonymous(size + _HUGE_PAGE)  # virtual: only written pages count
    if _MADV_HUGEPAGE is not None:
        with suppress(OSError):  # no THP: 4 KiB pages
            area.madvise(_MADV_HUGEPAGE)
    start = np.frombuffer(area, np.uint8, 1).ctypes.data
    return np.frombuffer(area, dtype, n, offset=-start % _HUGE_PAGE)


def _anonymous(size: int) -> mmap.mmap:
    """Private anonymous memory (not shared with a forked child), zeroed on first touch."""
    if _MAP_PRIVATE is None:  # Windows: mmap has no flags
        return mmap.mmap(-1, size)
    return mmap.mmap(-1, size, flags=_MAP_PRIVATE)


class PythonDictionaries:
    """One growing dictionary per string column, in Python (without the C scanner).

    See :class:`~._block.Dictionaries`; :class:`~._fast.CDictionaries` is the same in C.
    """

    def __init__(self) -> None:
        self._codes: dict[str, dict[str, int]] = {name: {} for name in STRING_COLUMNS}

    def encode(self, name: str, values: list[str], codes: np.ndarray) -> np.ndarray:
        """A block's (values, codes with -1 for null) -> codes of this dictionary."""
        column = self._codes[name]
        remap = [column.setdefault(v, len(column)) for v in values]
        remap.append(-1)  # codes of -1 (null) pick this last entry
        return np.array(remap, np.int32)[codes]

    def size(self, name: str) -> int:
        """The number of values in the column's dictionary."""
        return len(self._codes[name])

    def values(self, name: str) -> list[str]:
        """The column's dictionary, in code order."""
        return list(self._codes[name])

    def array(self, name: str) -> pa.Array:
        """The column's dictionary, in code order, as an Arrow string array."""
        return pa.array(self.values(name), pa.string())


def _known_unique(index: pd.Index) -> None:
    """Tells pandas that ``index`` has no duplicates, as a dictionary's values are distinct
    (a hash table keyed by the bytes; UTF-8 decoding keeps them distinct), so that the
    Categorical does not check it again: pandas' check builds a hash table of the values as
    Python strings, ~10 ms per read at 65,000 IPs against ~0.1 ms for a realistic 400. It
    only fills the cache entry pandas' own ``is_unique`` fills (``Index._cache``); where
    pandas keeps it elsewhere, pandas checks, as before."""
    cache = getattr(index, "_cache", None)
    if isinstance(cache, dict):
        cache["is_unique"] = True


def _dictionary_array(codes: np.ndarray, dictionary: pa.Array) -> pa.DictionaryArray:
    """The codes (-1 for null) as a DictionaryArray over ``dictionary``."""
    valid = codes >= 0
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    indices = pa.Array.from_buffers(pa.int32(), len(codes), [bitmap, pa.py_buffer(codes)])
    return pa.DictionaryArray.from_arrays(indices, dictionary)
