"""Read a 4YouSee report file (gzip or plain NDJSON) into the playlog table.

The hot path every download goes through. The pipeline, per source::

    reader thread:   source.read() -> gunzip, member after member -> cut the text
                     into ~1 MiB blocks of whole lines --bounded queue-->
    worker threads:  parse blocks in parallel -> typed columns per block, strings
                     as codes into the block's own small dictionaries (the reader
                     parses a waiting block while its queue is full)
    main thread:     in file order: the block's values merged into one dictionary
                     per string column for the read (in C for the C scanner's
                     blocks), rows written into lazily committed slabs -> table / frame

Each block is first scanned by the C extension ``_fastscan`` (made for
playlog lines, GIL released), which declines any block it cannot vouch for;
such a block, or every block if the extension is not built, is parsed by
Arrow's JSON reader against an explicit schema; a block Arrow rejects, or
whose values break a rule (nulls, impossible dates, two objects on one line,
...), is parsed again line by line with :mod:`json` to name the exact first
bad line. That careful path is the definition of a valid playlog; the fast
paths only accept blocks for which they provably give the same rows.
``engine=`` picks the first path (see :func:`read_table`).

The modules::

    parse/__init__.py   read_table, read_playlogs: the pipeline put together
    parse/_stream.py    open the source; reader thread + gunzip; BOM, start check, line blocks
    parse/_engine.py    engine= : which paths a block tries; the worker threads
    parse/_fast.py      the C scanner (_fastscan.c) on a block, and the C dictionaries of a read
    parse/_arrow.py     Arrow's JSON reader on a block; raw columns -> stored dtypes, checked
    parse/_careful.py   json.loads line by line: the definition of a valid line, line numbers
    parse/_table.py     blocks in file order -> dictionaries, slabs -> table / frame
    parse/_block.py     the shared nouns: Parsed, LineIndex, the raw schema, stored dtypes
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pyarrow as pa

from fouryousee_data.parse._engine import ENGINES, BlockParser, Engine, Parsers
from fouryousee_data.parse._stream import Reader, Source, opened
from fouryousee_data.parse._table import BatchEmitter, TableBuilder
from fouryousee_data.timerange import check_tz

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED",
    "DEFAULT_MAX_LINE",
    "ENGINES",
    "Engine",
    "read_batches",
    "read_playlogs",
    "read_table",
]

#: Default ceiling on the decompressed size of one report (about 130 M playlogs).
DEFAULT_MAX_DECOMPRESSED = 16 * 2**30
#: Default ceiling on the length of one line (a playlog line is ~130 bytes).
DEFAULT_MAX_LINE = 2**20

Progress = Callable[[int, int], None]


def read_table(
    source: Source,
    *,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED,
    max_line_bytes: int = DEFAULT_MAX_LINE,
    on_progress: Progress | None = None,
    engine: Engine = "auto",
) -> pa.Table:
    """Parse a report file into an Arrow table in :data:`~fouryousee_data.schema.PLAYLOG_SCHEMA`.

    Parameters
    ----------
    source
        A path (``str`` or ``Path``), ``bytes``, or a binary file object with
        ``read(n)`` (a file, ``urllib3``'s ``response.raw``). Gzip (one or
        several members) or plain NDJSON, told apart by the magic bytes.
        Exceptions raised by ``source.read()`` propagate unchanged.
    max_decompressed_bytes
        Ceiling on the NDJSON text size; above it, :class:`CorruptReportError`.
    max_line_bytes
        Ceiling on one line's length; above it, :class:`CorruptReportError`.
    on_progress
        Called as ``on_progress(n_source_bytes, n_rows)`` with the increments
        of each block consumed (source bytes are compressed bytes for gzip).
    engine
        The first path each ~1 MiB block tries: ``"auto"`` (the C scanner if
        it was built, else Arrow's JSON reader), ``"c"`` (the C scanner;
        ``ValueError`` if it was not built), ``"arrow"`` or ``"careful"``
        (:mod:`json` line by line). A block a path declines falls to the next
        one (C, Arrow, careful), so every engine gives the same rows and the
        same errors; only the speed differs.

    Returns
    -------
    pyarrow.Table
        Rows in file order; each dictionary column has one dictionary.

    Raises
    ------
    CorruptReportError
        Not gzip/NDJSON, a truncated or corrupt gzip, a ceiling exceeded.
    InvalidPlaylogError
        A line that is not a valid playlog (``line_number`` is 1-based).
    ValueError
        A bad ceiling, source type or engine.

    Examples
    --------
    >>> line = b'{"date":"2024-03-01","time":"08:00:05","playerId":4,"mediaId":48}'
    >>> t = read_table(line + b"\\n")
    >>> t.num_rows, t.column("player_id").to_pylist()
    (1, [4])
    >>> read_table(line, engine="careful").equals(t)
    True
    """
    return _parse(source, max_decompressed_bytes, max_line_bytes, on_progress, engine).table()


def read_playlogs(
    source: Source,
    *,
    tz: str | None = None,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED,
    max_line_bytes: int = DEFAULT_MAX_LINE,
    engine: Engine = "auto",
) -> pd.DataFrame:
    """Parse a report file into the playlog DataFrame (SPEC section 3).

    The same as ``schema.to_pandas(read_table(source, ...), tz)``: see
    :func:`read_table` for ``source``, the ceilings, ``engine`` and the errors.

    Parameters
    ----------
    source
        A path, ``bytes`` or a binary file object; gzip or plain NDJSON.
    tz
        The account's time zone (e.g. ``"America/Sao_Paulo"``): ``played_at``
        becomes tz-aware (see :func:`fouryousee_data.schema.localize` for the
        DST rules). ``None`` keeps naive local wall-clock times.
    max_decompressed_bytes, max_line_bytes
        Ceilings, as in :func:`read_table`.
    engine
        ``"auto"``, ``"c"``, ``"arrow"`` or ``"careful"``, as in :func:`read_table`.

    Returns
    -------
    pandas.DataFrame
        Columns ``played_at, account, player_id, media_id, media_type, ip``.

    Examples
    --------
    >>> line = b'{"date":"2024-03-01","time":"08:00:05","playerId":4,"mediaId":48,"type":"V"}'
    >>> df = read_playlogs(line)
    >>> df.loc[0, "played_at"], df.loc[0, "media_type"]
    (Timestamp('2024-03-01 08:00:05'), 'V')
    >>> str(read_playlogs(line, tz="America/Sao_Paulo").loc[0, "played_at"])
    '2024-03-01 08:00:05-03:00'
    """
    check_tz(tz)
    # Built straight from the parsed numpy columns (no Arrow round trip, no copy):
    # the same frame as schema.to_pandas(read_table(...), tz), with less memory.
    # narrow: the codes stored as narrow as the frame keeps them (no copy at the end)
    builder = _parse(source, max_decompressed_bytes, max_line_bytes, None, engine, narrow=True)
    return builder.frame(tz)


def read_batches(
    source: Source,
    emit: Callable[[pa.RecordBatch], None],
    *,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED,
    max_line_bytes: int = DEFAULT_MAX_LINE,
    on_progress: Progress | None = None,
    engine: Engine = "auto",
) -> None:
    """Parse a report file block by block: ``emit(batch)`` receives each ~1 MiB block's
    rows at once (a ``pyarrow.RecordBatch`` in ``PLAYLOG_SCHEMA``, file order), and
    nothing is kept, so memory stays bounded by a few blocks, not by the file.

    The same rows and errors as :func:`read_table` (its parameters too); an error
    may come after some batches were emitted (the caller discards them).

    Examples
    --------
    >>> line = b'{"date":"2024-03-01","time":"08:00:05","playerId":4,"mediaId":48}'
    >>> batches = []
    >>> read_batches(line + b"\\n" + line, batches.append)
    >>> [b.num_rows for b in batches]
    [2]
    """
    _parse(
        source,
        max_decompressed_bytes,
        max_line_bytes,
        on_progress,
        engine,
        emit,
    )


def _parse(
    source: Source,
    max_decompressed: int,
    max_line: int,
    on_progress: Progress | None,
    engine: Engine,
    emit: Callable[[pa.RecordBatch], None] | None = None,
    *,
    narrow: bool = False,
) -> TableBuilder:
    _check_limits(max_decompressed, max_line)
    parse_block = BlockParser(engine, max_line)
    dictionaries = parse_block.dictionaries()
    if emit is None:
        builder = TableBuilder(max_line, dictionaries, narrow)
    else:
        builder = BatchEmitter(max_line, dictionaries, emit)
    with (
        opened(source) as fileobj,
        Parsers(parse_block.workers, parse_block) as pool,
        Reader(fileobj, max_decompressed, max_line, pool.help) as reader,
    ):
        for parsed, n_source in pool.map(reader):
            n_rows = builder.add(parsed)
            if on_progress is not None:
                on_progress(n_source, n_rows)
    return builder


def _check_limits(max_decompressed_bytes: int, max_line_bytes: int) -> None:
    if not isinstance(max_decompressed_bytes, int) or max_decompressed_bytes < 1:
        raise ValueError(
            f"max_decompressed_bytes must be a positive int, got {max_decompressed_bytes!r}"
        )
    if not isinstance(max_line_bytes, int) or max_line_bytes < 1:
        raise ValueError(f"max_line_bytes must be a positive int, got {max_line_bytes!r}")
