"""One analysis, three engines: the seam between the analysis functions and pandas,
DuckDB and Dask (private subpackage, public names).

The analysis functions are written once, against :class:`Playlogs`: a playlog input
seen through one engine. :func:`playlogs` picks the engine from the input's type (the
only place that does):

=====================================  ============================================
input                                  engine
=====================================  ============================================
``pandas.DataFrame``                   :mod:`._pandas`: numpy over the columns
``duckdb.DuckDBPyRelation``            :mod:`._duckdb`: SQL on the relation's connection
``dask.dataframe.DataFrame``           :mod:`._dask`: a Dask graph (on the active client)
=====================================  ============================================

A backend answers a few questions, each with a *small* result: its schema (a zero-row
frame with the dtypes of the equivalent pandas frame), its accounts, a column's
distinct ids, the first and last play, a :class:`~._tally.Plan` counted into
:class:`~._tally.Cells`, and the plays inside opening :class:`~._windows.Windows`
(a :class:`~._windows.Scan`). Rows never leave an engine as a pandas frame; the
zero-filling, the labels and the result frames are built once, here and in the
analysis modules, from those small answers: the result is the same frame whatever
the engine.

:func:`per_account` runs a function once per account when the input holds several.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset

from fouryousee_data.analysis._kernel import (
    Clock,
    Codes,
    IdList,
    bounds,
    id_list,
    offset,
    require_columns,
)
from fouryousee_data.analysis._tally import Axis, Cells, Plan
from fouryousee_data.analysis._windows import Scan, Windows
from fouryousee_data.timerange import DateLike

if TYPE_CHECKING:
    import dask.dataframe
    import duckdb

__all__ = [
    "SECONDS_OF",
    "Names",
    "PlaylogData",
    "Playlogs",
    "frame_columns",
    "joined",
    "per_account",
    "playlogs",
    "tally",
]

R = TypeVar("R")

#: What the analysis functions accept: playlogs in pandas, DuckDB or Dask.
PlaylogData: TypeAlias = (
    "pd.DataFrame | duckdb.DuckDBPyRelation | dask.dataframe.DataFrame | Playlogs"
)


#: Relations (made by ``scan_playlogs``) whose rows are those of another relation with
#: ``played_at`` cast from microseconds to ``TIMESTAMP_S``: the DuckDB engine counts on
#: the other one (the same values in seconds, without a cast per row and back).
SECONDS_OF: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


class Playlogs:
    """A playlog input seen through one engine; every answer is small (the engines
    subclass it; the analysis functions also accept one in place of a frame)."""

    #: Zero rows with the columns and dtypes of the equivalent pandas frame.
    schema: pd.DataFrame
    #: ``played_at``'s unit and time zone.
    clock: Clock
    #: The input's ``attrs`` (lineage) when it has some, else ``{}``.
    attrs: dict[str, Any]

    def accounts(self) -> list[Any]:
        """The distinct ``account`` values, sorted, None last when some rows have none
        (:func:`per_account` decides what those rows belong to)."""
        raise NotImplementedError

    def only(self, account: Any) -> Playlogs:
        """The rows of one account (None: the null account)."""
        raise NotImplementedError

    def codes(self, col: str, ids: np.ndarray | None) -> Codes:
        """Codes over ``ids``, or over every distinct value of ``col``."""
        raise NotImplementedError

    def span(self) -> tuple[int, int] | None:
        """The first and last ``played_at`` as wall-clock ints; None without rows."""
        raise NotImplementedError

    def count(self, plan: Plan) -> Cells:
        """The plan's counts over its zero-filled grid."""
        raise NotImplementedError

    def scan(self, windows: Windows, min_len: int) -> Scan:
        """Plays per opening window and the silences between them."""
        raise NotImplementedError


def playlogs(data: PlaylogData) -> Playlogs:
    """The engine for ``data``: a pandas DataFrame, a DuckDB relation or a Dask DataFrame.

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00"]).as_unit("s")})
    >>> type(playlogs(df)).__name__, playlogs(df).span()
    ('PandasPlaylogs', (1704103200, 1704103200))
    """
    if isinstance(data, Playlogs):
        return data
    if isinstance(data, pd.DataFrame):
        from fouryousee_data.analysis._backend._pandas import PandasPlaylogs

        return PandasPlaylogs(data)
    # engines are imported only when the input comes from one (no import cost otherwise)
    if "duckdb" in sys.modules and isinstance(data, sys.modules["duckdb"].DuckDBPyRelation):
        from fouryousee_data.analysis._backend._duckdb import DuckDBPlaylogs

        return DuckDBPlaylogs(data)
    dask_frame = getattr(sys.modules.get("dask.dataframe"), "DataFrame", None)
    if dask_frame is not None and isinstance(data, dask_frame):
        from fouryousee_data.analysis._backend._dask import DaskPlaylogs

        return DaskPlaylogs(data)
    raise ValueError(
        "df: expected a playlog DataFrame, a DuckDB relation or a Dask DataFrame, "
        f"got {type(data).__name__}"
    )


@dataclass(frozen=True)
class Names:
    """A small table to join on ``id_col`` (``enrich``): ``table`` has an ``id`` column
    (int64, unique) and the columns to add; an id it lacks gets ``unknown[col]`` (a
    text followed by the id for a name, else as is; None: missing) and False in
    ``known``."""

    id_col: str
    known: str
    table: pd.DataFrame
    unknown: dict[str, str | None]


def frame_columns(data: Any) -> list[str]:
    """The columns of a frame, relation or Dask frame (a frame's index levels too)."""
    if isinstance(data, pd.DataFrame):
        return [*map(str, data.columns), *(str(n) for n in data.index.names if n is not None)]
    columns = getattr(data, "columns", None)
    if columns is None:
        raise ValueError(
            "df: expected a DataFrame, a DuckDB relation or a Dask DataFrame, "
            f"got {type(data).__name__}"
        )
    return [str(c) for c in columns]


def joined(data: Any, names: list[Names], per_part: Callable[[pd.DataFrame], pd.DataFrame]) -> Any:
    """``data`` (a DuckDB relation or a Dask DataFrame) with the ``names`` joined, lazily
    and inside its engine: a SQL join on the relation's connection, or ``per_part`` on
    every Dask partition (each gets the small tables)."""
    if "duckdb" in sys.modules and isinstance(data, sys.modules["duckdb"].DuckDBPyRelation):
        from fouryousee_data.analysis._backend._duckdb import names_joined

        return names_joined(data, names)
    dask_frame = getattr(sys.modules.get("dask.dataframe"), "DataFrame", None)
    if dask_frame is not None and isinstance(data, dask_frame):
        from fouryousee_data.analysis._backend._dask import partitions_mapped

        return partitions_mapped(data, per_part)
    raise ValueError(
        "df: expected a DataFrame, a DuckDB relation or a Dask DataFrame, "
        f"got {type(data).__name__}"
    )


def per_account(data: PlaylogData, run: Callable[[Playlogs, Any], R]) -> R:
    """``run(source, account)`` once per account, the results joined under an ``account`` key.

    One account (or no ``account`` column, or one account plus rows whose account is
    null): ``run(source, None)``, unchanged. Several named accounts:
    each account's rows alone (so its own ids and time axis), results concatenated with
    an ``account`` index level first (a result with an unnamed row index gets an
    ``account`` column first instead). A tuple of frames is joined frame by frame.

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00"] * 3),
    ...                    "account": pd.Categorical(["b", "a", "b"])})
    >>> per_account(df, lambda source, account: pd.DataFrame({"n": [1]}))
      account  n
    0       a  1
    1       b  1
    """
    source = playlogs(data)
    accounts = source.accounts()
    # rows without an account (the API may omit it) belong to the one account a frame
    # holds; they become their own group only beside two or more named accounts
    if len([a for a in accounts if a is not None]) <= 1:
        return run(source, None)
    parts: list[Any] = [run(source.only(account), account) for account in accounts]
    if isinstance(parts[0], tuple):
        joined = [_join([p[i] for p in parts], accounts) for i in range(len(parts[0]))]
        return cast(R, type(parts[0])(*joined))
    return cast(R, _join(parts, accounts))


def _join(parts: list[pd.DataFrame], accounts: list[Any]) -> pd.DataFrame:
    labels = pd.Index(accounts, name="account")
    if all(isinstance(p.index, pd.RangeIndex) and p.index.name is None for p in parts):
        parts = [
            p.assign(account=a)[["account", *p.columns]]
            for p, a in zip(parts, accounts, strict=True)
        ]
        out = pd.concat(parts, ignore_index=True)
        out["account"] = out["account"].astype(labels.dtype)
        return out
    return pd.concat(parts, keys=labels, names=["account"])


def tally(
    source: Playlogs,
    keys: tuple[str, ...],
    *,
    freq: str | BaseOffset | None,
    start: DateLike | None,
    end: DateLike | None,
    ids: dict[str, IdList],
    distinct: str | None = None,
) -> pd.DataFrame:
    """Zero-filled counts over ``keys`` x periods (the engine behind ``per_*``).

    ``ids`` maps a column to its ``ids=`` argument: a key column's list is exactly its
    universe (zeros included), another column's list filters the rows. Columns:
    ``plays``, ``first_played``, ``last_played``, ``active_days`` (unless the buckets
    are shorter than a day) and, with ``distinct``, ``distinct_<name>s``.
    """
    freq_offset = offset(freq)
    clock = source.clock
    lo, hi = bounds(clock, start, end)
    require_columns(source.schema, [*keys, *ids, *([distinct] if distinct else [])])
    lists = {col: id_list(v, f"{col}s") for col, v in ids.items()}
    filters = tuple(col for col in ids if col not in keys and lists[col] is not None)
    codes = {col: source.codes(col, lists.get(col)) for col in (*keys, *filters)}
    span = source.span() if lo is None or hi is None else None
    axis = Axis.of(clock, freq_offset, lo, hi, span)
    plan = Plan(tuple(keys), codes, axis, (lo, hi), filters, distinct)
    return plan.frame(source.count(plan), source.schema, clock)
