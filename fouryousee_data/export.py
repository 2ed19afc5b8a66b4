"""Write frames to Parquet, CSV (incl. Brazilian Excel's dialect) and Excel, atomically.

Every writer writes to a temporary file in the target folder and renames it
into place, so a reader never sees half a file. Aggregates (frames indexed by
``player_id`` / ``period`` ...) keep their index as leading columns in CSV and
Excel.

Examples
--------
>>> import tempfile, pathlib
>>> df = pd.DataFrame({"player_id": [1], "share": [0.5]})
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = to_csv(df, pathlib.Path(tmp) / "out.csv", brazil=True)
...     path.read_bytes()
b'\\xef\\xbb\\xbfplayer_id;share\\r\\n1;0,5\\r\\n'
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fouryousee_data._fileio import atomic_write, new_folder
from fouryousee_data._i18n import column_label, day_excel_format, lang_of

__all__ = [
    "EXCEL_MAX_ROWS",
    "SUFFIXES",
    "check_path",
    "new_folder",
    "to_csv",
    "to_excel",
    "to_parquet",
    "write",
]

#: The file types :func:`write` writes, by suffix.
SUFFIXES = (".parquet", ".csv", ".xlsx")

#: Rows an Excel sheet holds (header included).
EXCEL_MAX_ROWS = 1_048_576


def _flat(df: pd.DataFrame) -> pd.DataFrame:
    """The index as leading columns, unless it is a plain row number."""
    if isinstance(df.index, pd.RangeIndex) and df.index.name is None:
        return df
    return df.reset_index()


def _naive_local(df: pd.DataFrame) -> pd.DataFrame:
    """tz-aware columns as local wall-clock time (what spreadsheets understand)."""
    aware = [c for c in df.columns if isinstance(df[c].dtype, pd.DatetimeTZDtype)]
    if not aware:
        return df
    out = df.copy()
    for col in aware:
        out[col] = out[col].dt.tz_localize(None)
    return out


def to_parquet(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` (dtypes, tz and index kept) to a Parquet file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = to_parquet(pd.DataFrame({"a": [1]}), pathlib.Path(tmp) / "a.parquet")
    ...     pd.read_parquet(p)["a"].tolist()
    [1]
    """
    return atomic_write(path, lambda tmp: df.to_parquet(tmp, engine="pyarrow"))


@dataclass(frozen=True)
class _Dialect:
    """A CSV dialect: the keyword arguments of ``DataFrame.to_csv`` that make one."""

    sep: str
    decimal: str
    encoding: str
    lineterminator: str

    def but(self, **changes: str | None) -> _Dialect:
        """This dialect with the ``changes`` that are not None."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


_PLAIN = _Dialect(",", ".", "utf-8", "\n")
_BRAZIL = _Dialect(";", ",", "utf-8-sig", "\r\n")  # what Brazilian Excel opens as is


def to_csv(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    brazil: bool = False,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
) -> Path:
    """Write ``df`` to CSV, the index as leading columns when it is meaningful.

    Parameters
    ----------
    brazil
        Brazilian Excel's dialect: ``;`` separator, decimal comma, UTF-8 with a
        BOM (so accents open correctly), CRLF line ends, and tz-aware times
        written as local time without the offset.
    sep, decimal, encoding
        Override the dialect (defaults ``,`` / ``.`` / ``utf-8``, or the
        Brazilian ones above).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = to_csv(pd.DataFrame({"a": [1.5]}), pathlib.Path(tmp) / "a.csv")
    ...     p.read_text()
    'a\\n1.5\\n'
    """
    flat = _naive_local(_flat(df)) if brazil else _flat(df)
    d = (_BRAZIL if brazil else _PLAIN).but(sep=sep, decimal=decimal, encoding=encoding)
    if d.sep == d.decimal:
        raise ValueError(f"sep and decimal must differ, both are {d.sep!r}")

    def write(tmp: str) -> None:
        flat.to_csv(
            tmp,
            index=False,
            sep=d.sep,
            decimal=d.decimal,
            encoding=d.encoding,
            lineterminator=d.lineterminator,
        )

    return atomic_write(path, write)


_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _sheet_names(names: list[str]) -> list[str]:
    """Valid, unique Excel sheet names (at most 31 characters, no ``[]:*?/\\``)."""
    out: list[str] = []
    for name in names:
        base = _BAD_SHEET_CHARS.sub("_", str(name)).strip("'")[:31] or "sheet"
        candidate, n = base, 1
        while candidate.lower() in (o.lower() for o in out):
            n += 1
            candidate = f"{base[: 31 - len(str(n)) - 1]}~{n}"
        out.append(candidate)
    return out


def to_excel(
    frames: pd.DataFrame | Mapping[str, pd.DataFrame],
    path: str | os.PathLike[str],
    *,
    sheet_name: str = "data",
    lang: str | None = None,
) -> Path:
    """Write one frame, or a mapping ``{sheet name: frame}``, to an ``.xlsx`` workbook
    ready to send.

    Every sheet gets a frozen header row and column widths fitted to the values;
    whole numbers are written as integers (``1,234``; ids without separators),
    rates (``*_rate``, ``share``) as Excel percentages, ``*_pct`` columns (0-100)
    as percentages too, other decimals with two places, and times as Excel dates
    (a column of midnights as plain dates). tz-aware times are written as local
    time (Excel has no time zones); sheet names are made valid and unique; a frame
    over Excel's row limit is a ``ValueError`` (use Parquet or CSV for raw playlogs).

    Parameters
    ----------
    lang
        ``None`` keeps the column names; ``"pt-BR"`` or ``"en"`` writes headers for
        people (``delivery_rate`` -> "Cumprimento" / "Delivery rate") and dates as
        ``dd/mm/yyyy`` (pt-BR) rather than ``yyyy-mm-dd``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = to_excel({"a": pd.DataFrame({"x": [1]}), "b": pd.DataFrame({"y": [2]})},
    ...                  pathlib.Path(tmp) / "book.xlsx")
    ...     sorted(pd.read_excel(p, sheet_name=None))
    ['a', 'b']
    """
    lang = lang_of(lang) if lang is not None else None
    sheets = {sheet_name: frames} if isinstance(frames, pd.DataFrame) else dict(frames)
    if not sheets:
        raise ValueError("frames: nothing to write")
    for name, df in sheets.items():
        if len(df) + 1 > EXCEL_MAX_ROWS:
            raise ValueError(
                f"frames: sheet {name!r} has {len(df):,} rows, over Excel's limit of "
                f"{EXCEL_MAX_ROWS - 1:,}; write Parquet or CSV instead"
            )

    def write(tmp: str) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, df in zip(_sheet_names(list(sheets)), sheets.values(), strict=True):
                frame = _naive_local(_flat(df))
                cells, formats = _for_people(frame, lang)
                header = [column_label(str(c), lang) for c in frame.columns]
                cells.to_excel(writer, sheet_name=name, index=False, header=header)
                _dress(writer.sheets[name], frame, header, formats)

    return atomic_write(path, write, keep_suffix=True)


def _is_rate(column: str) -> bool:
    return column.endswith(("_rate", "_share")) or column == "share"


def _for_people(df: pd.DataFrame, lang: str | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame as the cells should hold it, and the Excel number formats of the
    columns that need one (ids need none: "General" shows them whole)."""
    out, formats = df.copy(), {}
    for col in df.columns:
        name, values = str(col), df[col]
        if pd.api.types.is_bool_dtype(values.dtype):
            continue
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            times = values.dropna()
            days = bool((times == times.dt.normalize()).all())  # midnights: days, as dates
            formats[name] = day_excel_format(lang, with_time=not days)
        elif pd.api.types.is_numeric_dtype(values.dtype):
            if name.endswith("_pct") or _is_rate(name):
                out[col] = values / 100 if name.endswith("_pct") else values
                formats[name] = "0.0%"
            elif _whole(values):
                out[col] = values.astype("Int64") if values.hasnans else values.astype("int64")
                if name != "id" and not name.endswith("_id"):  # ids: no thousands separator
                    formats[name] = "#,##0"
            else:
                formats[name] = "#,##0.00"
    return out, formats


def _whole(values: pd.Series) -> bool:
    """Whether every value is a whole number (NaN aside) that an int64 holds exactly."""
    if pd.api.types.is_integer_dtype(values.dtype):
        return True
    finite = values.dropna().to_numpy(dtype=float)
    return bool(
        np.isfinite(finite).all()
        and (finite == np.round(finite)).all()
        and (np.abs(finite) < 2**53).all()
    )


def _dress(sheet: Any, df: pd.DataFrame, header: list[str], formats: dict[str, str]) -> None:
    """Frozen header row, number formats, and column widths fitted to ``df``'s values."""
    from openpyxl.utils import get_column_letter

    sheet.freeze_panes = "A2"
    for j, col in enumerate(df.columns, start=1):
        fmt = formats.get(str(col))
        if fmt is not None and len(df):
            for (cell,) in sheet.iter_rows(min_row=2, max_row=len(df) + 1, min_col=j, max_col=j):
                cell.number_format = fmt
        sheet.column_dimensions[get_column_letter(j)].width = _width(df[col], header[j - 1], fmt)


def _width(values: pd.Series, header: str, fmt: str | None) -> float:
    """Characters a column needs: its header or its longest value as shown (at most 60)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        times = values.dropna()
        longest = 10 if (times == times.dt.normalize()).all() else 19  # dd/mm/yyyy hh:mm:ss
    elif fmt is not None and len(values):
        biggest = float(np.nanmax(np.abs(values.to_numpy(dtype=float, na_value=np.nan))))
        longest = len(f"{biggest:,.2f}") + 1 if np.isfinite(biggest) else 0
    else:
        most = values.astype(object).dropna().astype(str).str.len().max()
        longest = 0 if pd.isna(most) else int(most)
    return float(min(max(len(header), longest) + 2, 60))


def write(df: pd.DataFrame, path: str | os.PathLike[str], **options: object) -> Path:
    """Write by suffix: ``.parquet``, ``.csv`` or ``.xlsx`` (``options`` go to that writer).

    Examples
    --------
    >>> write(pd.DataFrame(), "out.txt")
    Traceback (most recent call last):
    ...
    ValueError: path: expected a .parquet, .csv or .xlsx file name, got 'out.txt'
    """
    writers: dict[str, Callable[..., Path]] = {
        ".parquet": to_parquet,
        ".csv": to_csv,
        ".xlsx": to_excel,
    }
    return writers[check_path(path)](df, path, **options)


def check_path(path: str | os.PathLike[str], name: str = "path") -> str:
    """The suffix of a file :func:`write` can write (lower case), else ``ValueError``
    naming ``name``: the one output-format check (the CLI calls it before fetching).

    Examples
    --------
    >>> check_path("Audit.XLSX")
    '.xlsx'
    >>> check_path("out.txt", "-o/--output")
    Traceback (most recent call last):
    ...
    ValueError: -o/--output: expected a .parquet, .csv or .xlsx file name, got 'out.txt'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"{name}: expected a .parquet, .csv or .xlsx file name, got {Path(path).name!r}"
        )
    return suffix
