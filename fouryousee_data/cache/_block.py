"""The rows of the days one :meth:`PlaylogCache.load` serves, read into range-wide columns.

Each column of the whole range is one numpy array in its final dtype (``played_at``
int64 seconds, ids int32, category codes in the width pandas gives them), allocated
once; each day's read copy is read straight into its rows of those arrays (one
``preadv`` a day, its CRC and codes checked there), and the DataFrame is made of the
arrays themselves: every value is copied once, out of the page cache. A day read from
Parquet (no usable copy) is copied in from its Arrow table.

The categories of a column are its days' dictionaries in day order, each value where it
first appears (as Arrow's ``unify_dictionaries`` orders them); a day whose dictionary
is not a prefix of them has its codes mapped. Per-day Arrow tables (``parts``) are made
on demand from the same arrays, each with its own dictionary, as the day was written.

    block = read_block(sources, query)   # DamagedCopy(i): source i's copy is unusable
    block.frame(tz)                      # the playlog DataFrame of the kept rows
    block.parts()                        # [(day, Arrow table of its kept rows)]
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fouryousee_data.cache._dayfile import PER_DAY, CachedDay, day_seconds
from fouryousee_data.cache._parallel import split
from fouryousee_data.cache._query import Query
from fouryousee_data.cache._readcopy import CATEGORIES, Copy, codes_fit
from fouryousee_data.schema import (
    COLUMNS,
    PLAYLOG_SCHEMA,
    TIME_UNIT,
    categories_index,
    codes_dtype,
    localize,
    one_buffer,
    to_pandas,
)

__all__ = ["Block", "DamagedCopy", "Source", "read_block"]

_INTS: dict[str, np.dtype] = {
    "played_at": np.dtype(np.int64),
    "player_id": np.dtype(np.int32),
    "media_id": np.dtype(np.int32),
}
_NO_VALUES = pa.array([], pa.string())
#: A range's columns of this many bytes or more start at a huge page's boundary (see
#: ``schema.one_buffer``): when the memory comes fresh from the kernel (a process whose
#: malloc a streaming fetch bounded), reading a 1 M-play month then takes ~40 page
#: faults instead of ~550, ~1-2 ms less.
_HUGE_PAGE = 2 << 20
_ALIGN_FROM = 4 << 20
#: The pandas dtype of categories made into frames, by the identity of their Arrow array,
#: while that array lives (``_readcopy`` keeps the last few dictionaries and gives the same
#: arrays again: the days of one report share theirs): pandas' dtype checks its categories
#: (hashes them) when made, ~0.1-0.3 ms a column, ~10 ms at 65,000 IPs.
_CATEGORICAL: dict[int, tuple[weakref.ref[pa.Array], pd.CategoricalDtype]] = {}


@dataclass
class Source:
    """One served day: its entry, and its rows to read from its read copy (verified on
    the way) or already read from its Parquet file (checked, sorted)."""

    entry: CachedDay
    copy: Copy | None = None
    table: pa.Table | None = None

    def __post_init__(self) -> None:
        if self.table is not None:
            self.table = self.table.unify_dictionaries()  # one dictionary per column
        elif self.copy is None:
            raise ValueError("a source is a read copy or a table")

    @property
    def rows(self) -> int:
        return self.copy.rows if self.copy is not None else self.arrow().num_rows

    def arrow(self) -> pa.Table:
        """The rows read from Parquet (a source without a read copy)."""
        if self.table is None:
            raise ValueError("this day is read from its read copy")
        return self.table

    def dictionary(self, name: str) -> pa.Array:
        if self.copy is not None:
            return self.copy.dictionaries[name]
        chunks = self.arrow().column(name).chunks
        return chunks[0].dictionary if chunks else _NO_VALUES


class DamagedCopy(Exception):
    """The read copy of ``sources[index]`` failed its checks (read its Parquet file)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index


class Block:
    """The served days' rows in range-wide columns (see the module docstring)."""

    def __init__(self, sources: list[Source]) -> None:
        self.entries = [s.entry for s in sources]
        counts = [s.rows for s in sources]
        self.starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).tolist()
        #: Each category column's categories (the union of the days' dictionaries)...
        self.categories: dict[str, pa.Array] = {}
        #: ...each day's dictionary, and its codes' place in them (None: the same codes).
        self.dictionaries: dict[str, list[pa.Array]] = {}
        self.maps: dict[str, list[np.ndarray | None]] = {}
        for name in CATEGORIES:
            own = [s.dictionary(name) for s in sources]
            self.dictionaries[name] = own
            self.categories[name], self.maps[name] = _union(own)
        n = self.starts[-1]
        dtypes = {
            name: _INTS.get(name) or codes_dtype(len(self.categories[name])) for name in COLUMNS
        }
        row = sum(d.itemsize for d in dtypes.values())
        self.columns = one_buffer(n, dtypes, align=_HUGE_PAGE if n * row >= _ALIGN_FROM else 0)
        #: The rows each day keeps (None: all of them), once :meth:`cut`.
        self.kept: list[np.ndarray | None] = [None] * len(sources)

    def day(self, i: int) -> dict[str, np.ndarray]:
        """Views of day ``i``'s rows in every column."""
        lo, hi = self.starts[i], self.starts[i + 1]
        return {name: values[lo:hi] for name, values in self.columns.items()}

    def cut(self, query: Query) -> None:
        """Keep, of each day, the rows ``query`` keeps (a partial day, ids)."""
        for i, entry in enumerate(self.entries):
            bounds = query.bounds(entry)
            if bounds is None:
                continue
            day = self.day(i)
            ts = day["played_at"]
            lo = 0 if bounds["start"] is None else _search(ts, bounds["start"])
            hi = len(ts) if bounds["end"] is None else _search(ts, bounds["end"])
            keep = np.arange(lo, hi)
            for name, ids in (("player_id", "player_ids"), ("media_id", "media_ids")):
                if bounds[ids]:
                    keep = keep[np.isin(day[name][keep], bounds[ids])]
            self.kept[i] = keep

    def _rows(self) -> slice | np.ndarray:
        """Which rows of the columns are kept (a slice when they are contiguous)."""
        if all(k is None for k in self.kept):
            return slice(None)
        rows = np.concatenate(
            [
                np.arange(lo, hi) if k is None else k + lo
                for k, lo, hi in zip(self.kept, self.starts, self.starts[1:], strict=False)
            ]
        )
        if not len(rows):
            return slice(0, 0)
        if rows[-1] - rows[0] + 1 == len(rows):
            return slice(int(rows[0]), int(rows[-1]) + 1)
        return rows

    def frame(self, tz: str | None = None) -> pd.DataFrame:
        """The playlog DataFrame of the kept rows, made of the columns themselves (a slice
        of them, or a copy of the kept rows when a filter left holes)."""
        rows = self._rows()
        columns = {name: values[rows] for name, values in self.columns.items()}
        if not len(columns["played_at"]):  # no rows: as to_pandas makes it
            tables = [t for _, t in self.parts()] or [PLAYLOG_SCHEMA.empty_table()]
            return to_pandas(pa.concat_tables(tables), tz)
        frame: dict[str, object] = {}
        for name in COLUMNS:
            values = columns[name]
            if name == "played_at":
                frame[name] = values.view(f"M8[{TIME_UNIT}]")
            elif name in CATEGORIES:
                dtype = _categorical(self.categories[name])
                frame[name] = pd.Categorical.from_codes(values, dtype=dtype, validate=False)
            else:
                frame[name] = values
        df = pd.DataFrame(frame, copy=False)
        if tz:
            df["played_at"] = localize(df["played_at"], tz)
        return df

    def parts(self) -> list[tuple[dt.date, pa.Table]]:
        """Each day's kept rows as an Arrow table in the playlog schema, with the
        dictionaries the day was written with."""
        shared = all(
            all(d is self.categories[name] for d in self.dictionaries[name]) for name in CATEGORIES
        )
        if shared and all(k is None for k in self.kept):  # one table, cut into days
            whole = self._arrow(self.columns, {n: self.categories[n] for n in CATEGORIES})
            starts = self.starts
            return [
                (e.day, whole.slice(lo, hi - lo))
                for e, lo, hi in zip(self.entries, starts, starts[1:], strict=False)
            ]
        return [(e.day, self._part(i)) for i, e in enumerate(self.entries)]

    def _part(self, i: int) -> pa.Table:
        """Day ``i``'s kept rows, its codes mapped back to its own dictionaries."""
        day, keep = self.day(i), self.kept[i]
        columns = {name: v if keep is None else v[keep] for name, v in day.items()}
        for name in CATEGORIES:
            mapping = self.maps[name][i]
            if mapping is not None:
                inverse = np.full(len(self.categories[name]) + 1, -1, np.int32)
                inverse[mapping] = np.arange(len(mapping))
                columns[name] = inverse[columns[name]]  # -1 (null) takes the last, -1
        return self._arrow(columns, {n: self.dictionaries[n][i] for n in CATEGORIES})

    @staticmethod
    def _arrow(columns: dict[str, np.ndarray], dictionaries: dict[str, pa.Array]) -> pa.Table:
        """Columns (codes into ``dictionaries``) as an Arrow table in the playlog schema."""
        arrays = []
        n = len(columns["played_at"])
        wide = one_buffer(n, dict.fromkeys(CATEGORIES, np.dtype(np.int32)))  # one allocation
        for field in PLAYLOG_SCHEMA:
            values = columns[field.name]
            if field.name in CATEGORIES:
                indices = _indices(values, wide[field.name])
                arrays.append(pa.DictionaryArray.from_arrays(indices, dictionaries[field.name]))
            else:
                arrays.append(pa.array(values).view(field.type))
        return pa.Table.from_arrays(arrays, schema=PLAYLOG_SCHEMA)


def _indices(codes: np.ndarray, values: np.ndarray) -> pa.Array:
    """Category codes (-1: null) as Arrow int32 dictionary indices (``values``: where)."""
    np.copyto(values, codes)
    if not len(codes) or codes.min() >= 0:
        return pa.array(values)
    valid = pa.py_buffer(np.packbits(codes >= 0, bitorder="little"))
    return pa.Array.from_buffers(pa.int32(), len(values), [valid, pa.py_buffer(values)])


def read_block(sources: list[Source], query: Query) -> Block:
    """The rows of ``sources`` (served days, in day order) in one :class:`Block`, cut as
    ``query`` asks. ``DamagedCopy`` if a day's read copy fails its checks (the first such
    day), raised once every copy was read: the days' copies are read in two halves at
    once (see :mod:`._parallel`), and no value is used before its day's CRC matched."""
    block = Block(sources)
    reads: list[_Read] = []
    for i, source in enumerate(sources):
        if source.copy is not None:
            reads.append(_Read(i, source.copy, block))
        else:
            _copy_table(source.arrow(), block.day(i), block, i)
    damage = split(_Read.run, reads, [read.copy.size for read in reads])
    for damaged in damage:
        if damaged is not None:
            raise damaged
    #: Per category column, the days whose codes were read in place, unchecked:
    #: ``(day, dictionary length, nulls)``, checked below in runs (see _check_codes).
    unchecked: dict[str, list[tuple[int, int, int]]] = {name: [] for name in CATEGORIES}
    for read in reads:
        for name in read.in_place:
            copy = read.copy
            unchecked[name].append((read.i, len(copy.dictionaries[name]), copy.nulls[name]))
    _check_days(block)
    for name, days in unchecked.items():
        _check_codes(block, name, days)
    block.cut(query)
    return block


class _Read:
    """Reading one day's copy into its rows of the block (codes through a scratch array,
    checked, when they need mapping or widening), on whichever thread runs it."""

    def __init__(self, i: int, copy: Copy, block: Block) -> None:
        self.i, self.copy, self.block = i, copy, block
        day = block.day(i)
        self.day, self.targets = day, dict(day)
        self.scratch: dict[str, np.ndarray] = {}
        for name in CATEGORIES:
            if block.maps[name][i] is not None or copy.dtypes[name] != day[name].dtype:
                self.targets[name] = self.scratch[name] = np.empty(copy.rows, copy.dtypes[name])
        #: The category columns whose codes are read in place, unchecked.
        self.in_place = [name for name in CATEGORIES if name not in self.scratch]

    def run(self) -> DamagedCopy | None:
        """Read the copy; the damage found, if any (returned: the other days go on)."""
        try:
            self.copy.read_into(self.targets, check=self.scratch)
        except (OSError, ValueError) as exc:
            return DamagedCopy(self.i, str(exc))
        for name, codes in self.scratch.items():
            _place(codes, self.block.maps[name][self.i], self.day[name])
        return None


def _check_days(block: Block) -> None:
    """Check that every day's rows are inside the day: its rows are sorted (as written,
    and checked by the CRC), so its first and last bound it. ``DamagedCopy`` names the
    first day at fault."""
    starts = np.asarray(block.starts)
    days = np.flatnonzero(starts[1:] > starts[:-1])  # the days with rows
    if not len(days):
        return
    ts = block.columns["played_at"]
    first = np.array([day_seconds(block.entries[i].day) for i in days.tolist()], np.int64)
    outside = (ts[starts[days]] < first) | (ts[starts[days + 1] - 1] >= first + PER_DAY)
    if outside.any():
        raise DamagedCopy(int(days[np.argmax(outside)]), "rows outside the day")


def _check_codes(block: Block, name: str, days: list[tuple[int, int, int]]) -> None:
    """Check the codes of column ``name`` that ``days`` read in place: consecutive days
    with the same dictionary length in one pass (the days of one report share their
    dictionaries); ``DamagedCopy`` names the day at fault."""
    codes, starts = block.columns[name], block.starts
    at = 0
    while at < len(days):
        first, n, nulls = days[at]
        end = at + 1
        while end < len(days) and days[end][0] == days[end - 1][0] + 1 and days[end][1] == n:
            nulls += days[end][2]
            end += 1
        if not codes_fit(codes[starts[first] : starts[days[end - 1][0] + 1]], n, nulls):
            for i, _, nulls_i in days[at:end]:
                if not codes_fit(codes[starts[i] : starts[i + 1]], n, nulls_i):
                    raise DamagedCopy(i, f"column {name}: a code outside its {n} categories")
        at = end


def _copy_table(table: pa.Table, day: dict[str, np.ndarray], block: Block, i: int) -> None:
    """Copy one day's Arrow table (read from Parquet) into its rows of the block."""
    for name in COLUMNS:
        chunks = table.column(name).chunks
        if name in CATEGORIES:
            codes = [(c.indices.fill_null(-1) if c.null_count else c.indices) for c in chunks]
            values = [c.to_numpy() for c in codes]
        elif name == "played_at":
            values = [c.view(pa.int64()).to_numpy() for c in chunks]
        else:
            values = [c.to_numpy() for c in chunks]
        if not values:
            continue
        if name in CATEGORIES:
            _place(np.concatenate(values), block.maps[name][i], day[name])
        else:
            np.concatenate(values, out=day[name])


def _place(codes: np.ndarray, mapping: np.ndarray | None, out: np.ndarray) -> None:
    """A day's codes (-1: null) into ``out``, through ``mapping`` into the block's
    categories (None: the same codes)."""
    if mapping is None:
        np.copyto(out, codes, casting="unsafe")  # they fit: within the categories
    else:  # the null code -1 takes the last entry, -1
        np.take(np.append(mapping, -1).astype(out.dtype), codes, out=out, mode="wrap")


def _union(dictionaries: list[pa.Array]) -> tuple[pa.Array, list[np.ndarray | None]]:
    """The categories of several days (their values in order of first appearance) and
    each day's codes' place in them (None: the day's dictionary is a prefix of them)."""
    if not dictionaries:
        return _NO_VALUES, []
    first = dictionaries[0]
    if all(d is first or d.equals(first) for d in dictionaries):
        return first, [None] * len(dictionaries)
    union = pc.unique(pa.chunked_array(dictionaries, pa.string()))
    maps: list[np.ndarray | None] = []
    for d in dictionaries:
        if union.slice(0, len(d)).equals(d):
            maps.append(None)
        else:
            where = pc.index_in(d, value_set=union)
            maps.append(where.to_numpy(zero_copy_only=False).astype(np.int64))
    return union, maps


def _categorical(categories: pa.Array) -> pd.CategoricalDtype:
    """The pandas dtype of ``categories`` (made once for the same array object)."""
    key = id(categories)
    known = _CATEGORICAL.get(key)
    if known is not None and known[0]() is categories:
        return known[1]
    dtype = pd.CategoricalDtype(categories_index(categories))
    if len(_CATEGORICAL) >= 32:
        _CATEGORICAL.clear()
    alive = weakref.ref(categories, lambda _: _CATEGORICAL.pop(key, None))
    _CATEGORICAL[key] = (alive, dtype)
    return dtype


def _search(ts: np.ndarray, at: pd.Timestamp) -> int:
    """Where ``at`` goes in the sorted seconds ``ts``: the first value >= ``at``."""
    per_unit = int(np.timedelta64(1, TIME_UNIT) // np.timedelta64(1, "ns"))
    units = -(-pd.Timestamp(at).as_unit("ns").value // per_unit)  # rounded up
    return int(np.searchsorted(ts, units, "left"))
