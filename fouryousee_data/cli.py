"""The ``fouryousee-data`` command line: a thin layer over the public API.

Each command is one ``_cmd_*`` function registered in :data:`COMMANDS`. Expected
failures (:class:`~fouryousee_data.errors.FouryouseeError`, ``ValueError``,
``OSError``) print one line to stderr and exit 1; no tracebacks.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from fouryousee_data.errors import FouryouseeError

__all__ = ["main"]

log = logging.getLogger("fouryousee_data")

#: (name, help, add_arguments, run): one entry per command.
Command = tuple[
    str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]
]


def write_frame(df: object, out: Path) -> None:
    """Write a DataFrame to ``out`` by its suffix (.parquet or .csv), atomically."""
    import os
    import tempfile

    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"-o/--output must end in .parquet or .csv, got {out.name!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        if suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _add_read(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="a downloaded report (.gz or plain NDJSON)")
    p.add_argument("-o", "--output", type=Path, required=True, help="OUT.parquet or OUT.csv")
    p.add_argument("--tz", default=None, help="time zone of the account, e.g. America/Sao_Paulo")


def _cmd_read(args: argparse.Namespace) -> int:
    from fouryousee_data.parse import read_playlogs

    df = read_playlogs(args.file, tz=args.tz)
    write_frame(df, args.output)
    print(f"{len(df):,} playlogs -> {args.output}")
    return 0


COMMANDS: list[Command] = [
    ("read", "parse a downloaded report file into Parquet or CSV", _add_read, _cmd_read),
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="fouryousee-data",
        description="4YouSee playlogs as typed tables: fetch, cache, summarise, export.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, add_arguments, run in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Examples
    --------
    >>> main(["read", "missing.gz", "-o", "out.parquet"])  # doctest: +SKIP
    1
    """
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FouryouseeError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
