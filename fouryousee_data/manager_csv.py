"""The 4YouSee Manager's CSV export as the playlog frame: years of operators' files.

The Manager's UI exports playlogs as CSV: ``;``-separated (``,`` seen too),
ISO-8859-1 (UTF-8, with or without a BOM, too), a header naming the columns,
of which three are read::

    Data e Hora;ID do Player;ID do Conteúdo;...      (other columns ignored)
    01/02/2024 08:00:12;12;345;...

``Data e Hora`` is ``dd/mm/YYYY HH:MM:SS`` (the account's wall clock), the ids are
integers. Optional ``IP`` and ``Tipo`` columns fill ``ip`` and ``media_type``
(null without them); ``account`` is the argument (else null).

Each file is read whole by pyarrow's CSV reader (multithreaded, no Python loop
per row) and checked column by column; the first bad row is reported with its
file and line (:class:`~fouryousee_data.errors.InvalidPlaylogError`, ``.path``).
"""

from __future__ import annotations

import glob
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fouryousee_data.errors import InvalidPlaylogError
from fouryousee_data.schema import INT32_RANGE, PLAYLOG_SCHEMA, to_pandas
from fouryousee_data.timerange import check_tz

__all__ = ["MANAGER_COLUMNS", "is_manager_csv", "manager_csv_files", "read_manager_csv"]

#: The export's columns this reader uses: header (compared without case) -> frame column.
MANAGER_COLUMNS = {
    "data e hora": "played_at",
    "id do player": "player_id",
    "id do conteúdo": "media_id",
}
#: Optional columns, used when present.
OPTIONAL_COLUMNS = {"ip": "ip", "ip do player": "ip", "tipo": "media_type"}

_TIME_FORMAT = "%d/%m/%Y %H:%M:%S"
#: ``dd/mm/YYYY HH:MM:SS`` with hours, minutes and seconds in range (``strptime`` alone
#: takes single digits, and 23:59:60 as the next day).
_TIME_PATTERN = r"^[0-9]{2}/[0-9]{2}/[0-9]{4} ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
_ID_PATTERN = r"^ *[0-9]{1,10} *$"
_BOM = b"\xef\xbb\xbf"
_GLOB_CHARS = re.compile(r"[*?\[]")

Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


def read_manager_csv(
    paths: Paths, *, account: str | None = None, tz: str | None = None
) -> pd.DataFrame:
    """The Manager's CSV export(s) as the playlog frame (SPEC section 3).

    Parameters
    ----------
    paths
        A file, a folder (its ``*.csv`` files), a glob (``"exports/2023-*.csv"``), or a
        list of any of these. Files are read in name order; a file named twice is read once.
    account
        The ``account`` of every row (the export does not say); default null.
    tz
        The account's time zone: ``played_at`` becomes tz-aware (as in ``read_playlogs``).

    Returns
    -------
    pandas.DataFrame
        The playlog frame sorted by ``played_at`` (stable: file order within a second);
        ``media_type``/``ip`` from ``Tipo``/``IP`` columns when present, else null.
        Rows identical in the files are kept (overlapping exports repeat rows).

    Raises
    ------
    FileNotFoundError
        A path, folder or glob that names no CSV file.
    InvalidPlaylogError
        A file that is not a Manager export (missing column) or a bad row: the message
        names the file and the line; ``.path`` and ``.line_number`` too.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> text = "Data e Hora;ID do Player;ID do Conteúdo;Nome do Conteúdo\\n"
    >>> text += "01/02/2024 08:00:12;12;345;Promoção Verão\\n"
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "export.csv"
    ...     _ = p.write_bytes(text.encode("latin-1"))
    ...     df = read_manager_csv(p, account="loja-centro")
    >>> df[["played_at", "account", "player_id", "media_id"]].to_dict("records")
    [{'played_at': Timestamp('2024-02-01 08:00:12'), 'account': 'loja-centro', \
'player_id': 12, 'media_id': 345}]
    """
    check_tz(tz)
    if account is not None and (not isinstance(account, str) or not account.strip()):
        raise ValueError(f"account: expected a non-empty name or None, got {account!r}")
    tables = [_read_file(path, account) for path in manager_csv_files(paths)]
    table = pa.concat_tables(tables).combine_chunks() if tables else None
    if table is None or not table.num_rows:
        return to_pandas(PLAYLOG_SCHEMA.empty_table(), tz)
    order = pc.sort_indices(table, sort_keys=[("played_at", "ascending")])  # stable
    return to_pandas(table.take(order), tz)


def manager_csv_files(paths: Paths) -> list[Path]:
    """The files ``paths`` names (files, folders' ``*.csv``, globs), each once, sorted
    within each folder or glob; naming nothing is a ``FileNotFoundError``.

    Examples
    --------
    >>> manager_csv_files("/nonexistent/*.csv")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no file matches '/nonexistent/*.csv'
    """
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise FileNotFoundError("paths: an empty list names no file")
    out: dict[Path, None] = {}
    for item in items:
        for path in _expand(item):
            out.setdefault(path.resolve(), None)
    return list(out)


def _expand(item: str | os.PathLike[str]) -> list[Path]:
    path = Path(item).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
        if not found:
            raise FileNotFoundError(f"no .csv file in the folder {str(path)!r}")
        return found
    if path.exists():
        return [path]
    if _GLOB_CHARS.search(str(item)):
        found = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
        if not found:
            raise FileNotFoundError(f"no file matches {str(item)!r}")
        return found
    raise FileNotFoundError(f"no such file: {str(item)!r}")


def is_manager_csv(path: str | os.PathLike[str]) -> bool:
    """Whether a file starts like a Manager CSV export (its header names the columns).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "x.gz"
    ...     _ = p.write_bytes(b"Data e Hora;ID do Player;ID do Conte\\xfado\\r\\n")
    ...     is_manager_csv(p)
    True
    """
    with open(path, "rb") as f:
        head = f.read(4096)
    try:
        header = _Text.of(head).header
    except InvalidPlaylogError:
        return False
    return all(name in header for name in MANAGER_COLUMNS)


@dataclass(frozen=True)
class _Text:
    """A file's bytes, as they are (UTF-8 or ISO-8859-1), and what its header says."""

    data: bytes
    encoding: str
    sep: str
    header: list[str]

    @classmethod
    def of(cls, raw: bytes) -> _Text:
        data = raw.removeprefix(_BOM)
        first = data.split(b"\n", 1)[0].rstrip(b"\r")
        encoding = "utf-8" if _is_utf8(data[:65536]) else "latin-1"
        line = first.decode(encoding, "replace")
        sep = ";" if line.count(";") >= line.count(",") else ","
        header = [c.strip().strip('"').strip().lower() for c in line.split(sep)]
        if len(header) < 2:
            raise InvalidPlaylogError("not a CSV file with a header line", 1, line[:60])
        return cls(data, encoding, sep, header)

    def lines(self) -> Iterable[tuple[int, str]]:
        """(line number, text) of each non-empty data line (the reader skips empty ones)."""
        text = self.data.decode(self.encoding, "replace")
        for number, line in enumerate(io.StringIO(text, newline=None), start=1):
            if number > 1 and line.strip("\r\n"):
                yield number, line.rstrip("\r\n")


def _is_utf8(head: bytes) -> bool:
    """Whether the start of a file is UTF-8 (a character cut at the end is forgiven)."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def _read_file(path: Path, account: str | None) -> pa.Table:
    try:
        return _parse(_Text.of(path.read_bytes()), account)
    except InvalidPlaylogError as exc:
        exc.path = str(path)  # type: ignore[attr-defined]
        if str(path) not in str(exc):
            exc.args = (f"{path}: {exc.args[0]}",)
        raise


def _parse(text: _Text, account: str | None) -> pa.Table:
    wanted = {**MANAGER_COLUMNS, **OPTIONAL_COLUMNS}
    missing = [name for name in MANAGER_COLUMNS if name not in text.header]
    if missing:
        raise InvalidPlaylogError(
            f"not a Manager CSV export: no column {', '.join(map(repr, missing))} "
            f"(it has {', '.join(text.header[:8])})",
            1,
        )
    names = [f"c{i}" for i in range(len(text.header))]
    keep = {f"c{i}": wanted[h] for i, h in enumerate(text.header) if h in wanted}
    try:
        raw = pacsv.read_csv(
            io.BytesIO(text.data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=text.sep),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(keep),
                column_types=dict.fromkeys(keep, pa.string()),
                strings_can_be_null=False,
                check_utf8=False,  # the columns read are ASCII: ISO-8859-1 needs no transcoding
            ),
        )
    except pa.ArrowInvalid as exc:
        line, excerpt = _bad_shape(text, len(names))
        raise InvalidPlaylogError(f"not a valid CSV row ({exc})", line, excerpt) from exc
    columns = {keep[c]: _utf8(raw.column(c).combine_chunks(), text) for c in raw.column_names}
    return _typed(columns, raw.num_rows, text, account)


def _utf8(values: pa.Array, text: _Text) -> pa.Array:
    """A string column as valid UTF-8: ISO-8859-1 values (rare: the names are not read)
    are transcoded."""
    try:
        values.validate(full=True)
    except pa.ArrowInvalid:
        raw = values.cast(pa.binary()).to_pylist()
        return pa.array([None if v is None else v.decode(text.encoding, "replace") for v in raw])
    return values


def _typed(columns: dict[str, pa.Array], n: int, text: _Text, account: str | None) -> pa.Table:
    """The checked columns in :data:`PLAYLOG_SCHEMA`; the first bad value names its line."""
    stamp = columns["played_at"]
    shape = pc.match_substring_regex(stamp, _TIME_PATTERN)
    _check(shape, text, "Data e Hora: not dd/mm/YYYY HH:MM:SS (a real time of day)")
    played_at = pc.strptime(stamp, format=_TIME_FORMAT, unit="s", error_is_null=True)
    _check(_as_written(played_at, stamp), text, "Data e Hora: not a real date")
    ids = {}
    for name, label in (("player_id", "ID do Player"), ("media_id", "ID do Conteúdo")):
        values = columns[name]
        _check(pc.match_substring_regex(values, _ID_PATTERN), text, f"{label}: not an integer id")
        as_int = pc.cast(pc.utf8_trim_whitespace(values), pa.int64())
        _check(pc.less_equal(as_int, INT32_RANGE[1]), text, f"{label}: id out of range")
        ids[name] = pc.cast(as_int, pa.int32())
    return pa.table(
        {
            "played_at": played_at,
            "account": _category(columns.get("account"), n, account),
            **ids,
            "media_type": _category(columns.get("media_type"), n),
            "ip": _category(columns.get("ip"), n),
        },
        schema=PLAYLOG_SCHEMA,
    )


def _as_written(parsed: pa.Array, stamp: pa.Array) -> pa.Array:
    """True where the parsed time has the day written: ``strptime`` turns 31/02 into 02/03
    (the pattern already bounds the clock; a ``strftime`` round trip is 15x slower)."""
    written = pc.cast(pc.utf8_slice_codeunits(stamp, 0, 2), pa.int64())
    return pc.fill_null(pc.equal(pc.day(parsed), written), False)


def _category(values: pa.Array | None, n: int, constant: str | None = None) -> pa.Array:
    """A dictionary column: the file's values (empty = null), a constant, or nulls."""
    kind = PLAYLOG_SCHEMA.field("ip").type
    if values is not None:
        trimmed = pc.utf8_trim_whitespace(values)
        valid = pc.not_equal(trimmed, "")
        return (
            pc.if_else(valid, trimmed, pa.scalar(None, pa.string())).dictionary_encode().cast(kind)
        )
    if constant is None:
        return pa.nulls(n, pa.string()).dictionary_encode().cast(kind)
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([constant]))


def _check(ok: pa.Array, text: _Text, message: str) -> None:
    """Raise for the first row where ``ok`` is false, with its line number and start."""
    if pc.all(ok).as_py() is not False:
        return
    row = pc.index(ok, False).as_py()
    line, excerpt = _line_of_row(text, row)
    raise InvalidPlaylogError(message, line, excerpt)


def _line_of_row(text: _Text, row: int) -> tuple[int, str]:
    for i, (number, line) in enumerate(text.lines()):
        if i == row:
            return number, line[:60]
    return 0, ""


def _bad_shape(text: _Text, n_columns: int) -> tuple[int, str]:
    """The first data line with another number of fields than the header (error path)."""
    for number, line in text.lines():
        if len(line.split(text.sep)) != n_columns and '"' not in line:
            return number, line[:60]
    return 0, ""
