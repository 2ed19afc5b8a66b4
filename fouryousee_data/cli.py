"""The ``fouryousee-data`` command line: a thin layer over the public API.

Each command is one ``_cmd_*`` function registered in :data:`COMMANDS`. Expected
failures (:class:`~fouryousee_data.errors.FouryouseeError`, ``ValueError``,
``OSError``) print one line to stderr and exit 1; no tracebacks.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

import fouryousee_data as fy
from fouryousee_data import export, summary
from fouryousee_data.manager_csv import is_manager_csv

__all__ = ["main"]

log = logging.getLogger("fouryousee_data")

#: The ``-o`` help of the commands that write a frame.
OUTPUT_HELP = "OUT.parquet, OUT.csv or OUT.xlsx"

#: (name, help, add_arguments, run): one entry per command.
Command = tuple[
    str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]
]


def write_frame(df: pd.DataFrame, out: Path) -> None:
    """Write a DataFrame to ``out`` by its suffix (.parquet, .csv or .xlsx), atomically.

    Examples
    --------
    >>> write_frame(fy.empty_playlogs(), Path("playlogs.parquet"))  # doctest: +SKIP
    """
    export.write(df, out)


def _check_output(out: Path) -> None:
    """Refuse an output no command can write, before fetching anything."""
    export.check_path(out, "-o/--output")


def _add_read(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "file",
        type=Path,
        help="a downloaded report (.gz or plain NDJSON), or the Manager's CSV export(s): "
        "a file, a folder or a quoted glob",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help=OUTPUT_HELP)
    p.add_argument("--tz", default=None, help="time zone of the account, e.g. America/Sao_Paulo")
    p.add_argument("--account", default=None, help="Manager CSV: the account of every row")


def _cmd_read(args: argparse.Namespace) -> int:
    _check_output(args.output)
    path: Path = args.file
    if path.is_dir() or not path.exists() or is_manager_csv(path):
        df = fy.read_manager_csv(path, account=args.account, tz=args.tz)
    else:
        if args.account is not None:
            raise ValueError("--account is for Manager CSV exports (a report names its account)")
        df = fy.read_playlogs(path, tz=args.tz)
    write_frame(df, args.output)
    print(f"{len(df):,} playlogs -> {args.output}")
    return 0


def _add_range_options(p: argparse.ArgumentParser, *, ids: bool = True) -> None:
    """START END and the options of ``fetch_playlogs`` (shared by fetch, summary, audit)."""
    p.add_argument("start", help="first day (YYYY-MM-DD) or instant (YYYY-MM-DDTHH:MM:SS)")
    p.add_argument("end", help="last day, inclusive (YYYY-MM-DD), or an exclusive instant")
    _add_dayfirst(p)
    for kind in ("player", "media") if ids else ():
        p.add_argument(
            f"--{kind}",
            dest=f"{kind}_ids",
            action="extend",
            nargs="+",
            type=int,
            metavar="ID",
            default=None,
            help=f"only these {kind} ids",
        )
    p.add_argument("--tz", default=None, help="time zone of the account, e.g. America/Sao_Paulo")
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("--cache-dir", type=Path, default=None, help="cache directory")
    cache.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument("--refresh", action="store_true", help="fetch every day again")
    p.add_argument("--settle", default="24h", help="when a day is final (default 24h)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_dayfirst(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dayfirst",
        action="store_true",
        help="read START/END as dd/mm/yyyy [HH:MM[:SS]] (without it, slashed dates are refused)",
    )


def _fetch_from_args(args: argparse.Namespace) -> pd.DataFrame:
    return fy.fetch_playlogs(args.start, args.end, **_fetch_options(args))


def _fetch_options(args: argparse.Namespace) -> dict[str, Any]:
    """``fetch_playlogs``' keyword arguments from the range options."""
    return {
        "dayfirst": args.dayfirst,
        "player_ids": getattr(args, "player_ids", None),
        "media_ids": getattr(args, "media_ids", None),
        "cache_dir": _cache_dir(args),
        "refresh": args.refresh,
        "settle": args.settle,
        "progress": False if args.no_progress else None,
        "tz": args.tz,
    }


def _cache_dir(args: argparse.Namespace) -> str | Path | None:
    """``--no-cache``: none; ``--cache-dir``: that folder; else ``fetch_playlogs``' default."""
    if getattr(args, "no_cache", False):
        return None
    return args.cache_dir if args.cache_dir is not None else fy.DEFAULT_CACHE


def _add_fetch(p: argparse.ArgumentParser) -> None:
    _add_range_options(p)
    p.add_argument("-o", "--output", type=Path, required=True, help=OUTPUT_HELP)


def _cmd_fetch(args: argparse.Namespace) -> int:
    _check_output(args.output)
    df = _fetch_from_args(args)
    write_frame(df, args.output)
    lineage = df.attrs
    note = f" ({len(lineage['provisional_days'])} provisional day(s))"
    print(
        f"{len(df):,} playlogs -> {args.output}: {len(lineage['cached_days'])} day(s) from "
        f"the cache, {len(lineage['fetched_days'])} fetched"
        + (note if lineage["provisional_days"] else "")
    )
    return 0


def _add_summary(p: argparse.ArgumentParser) -> None:
    _add_range_options(p)
    p.add_argument(
        "--by", choices=["player", "media", "player-media"], default="player", help="grouping"
    )
    p.add_argument("--freq", default=None, help="also per period: h, D, W, MS, ...")
    p.add_argument("-o", "--output", type=Path, default=None, help="also write " + OUTPUT_HELP)
    p.add_argument(
        "--max-rows",
        type=int,
        default=SUMMARY_MAX_ROWS,
        metavar="N",
        help=f"print at most N rows (default {SUMMARY_MAX_ROWS}; 0: all); -o writes them all",
    )
    p.add_argument(
        "--engine",
        choices=summary.ENGINES,
        default=None,
        help="where to count: pandas (the range in memory), duckdb (the cache scanned out of "
        "core, memory about a day of rows), dask (a distributed cluster: --scheduler, else "
        "DASK_SCHEDULER_ADDRESS, else local worker processes). Default: duckdb for "
        f"{summary.LARGE_RANGE_DAYS} days or more (a month of a large network is gigabytes "
        "in pandas), else pandas; pandas with --no-cache",
    )
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="dask scheduler address")


#: Rows ``summary`` prints by default (a longer table says how many it left out).
SUMMARY_MAX_ROWS = 1000


def _cmd_summary(args: argparse.Namespace) -> int:
    if args.output is not None:
        _check_output(args.output)
    if args.max_rows < 0:
        raise ValueError(f"--max-rows must be 0 (all) or more, got {args.max_rows}")
    engine = args.engine or summary.default_engine(
        args.start, args.end, dayfirst=args.dayfirst, cache=not args.no_cache
    )
    summarise = {
        "player": fy.per_player,
        "media": fy.per_media,
        "player-media": fy.per_player_media,
    }[args.by]
    options = _fetch_options(args)
    with summary.playlogs_on(
        engine, args.start, args.end, scheduler=args.scheduler, **options
    ) as playlogs:
        table = summarise(
            playlogs,
            freq=args.freq,
            start=args.start,
            end=args.end,
            dayfirst=args.dayfirst,
            player_ids=args.player_ids,
            media_ids=args.media_ids,
        )
    assert isinstance(table, pd.DataFrame)
    _print_table(table, args.max_rows, args.output)
    if args.output is not None:
        write_frame(table.reset_index(), args.output)
        print(f"-> {args.output}")
    return 0


def _print_table(table: pd.DataFrame, max_rows: int, output: Path | None) -> None:
    """The whole table, or its first ``max_rows`` rows and a line saying so."""
    shown = table if max_rows == 0 or len(table) <= max_rows else table.head(max_rows)
    with pd.option_context("display.width", 160, "display.max_columns", None):
        print(shown.to_string())
    if len(shown) < len(table):
        where = f"all of them in {output}" if output is not None else "use -o FILE for all"
        print(f"showing {len(shown):,} of {len(table):,} rows ({where}; --max-rows 0 prints all)")


def _add_audit(p: argparse.ArgumentParser) -> None:
    p.add_argument("contract", type=Path, help="the contract: .csv (, or ;), .xlsx or .json")
    _add_range_options(p, ids=False)
    p.add_argument("-o", "--output", type=Path, required=True, help="audit.pdf or audit.xlsx")
    p.add_argument("--lang", choices=["pt-BR", "en"], default="pt-BR", help="default pt-BR")
    p.add_argument("--brand", type=Path, default=None, help="brand file (.toml or .json)")
    p.add_argument("--title", default=None, help="the PDF's title")
    p.add_argument("--advertiser", default=None, help="the advertiser named in the PDF")
    p.add_argument("--no-names", action="store_true", help="do not ask the API for screen names")
    p.add_argument(
        "--schedule",
        action="store_true",
        help="flight dates missing in the contract from the medias' schedule (asks the API)",
    )


def _cmd_audit(args: argparse.Namespace) -> int:
    from fouryousee_data.analysis import audit

    if args.output.suffix.lower() not in (".pdf", ".xlsx"):
        raise ValueError(f"-o/--output must end in .pdf or .xlsx, got {args.output.name!r}")
    contract = fy.read_contract(args.contract, dayfirst=args.dayfirst)  # checked before fetching
    brand = fy.Brand.coerce(args.brand)
    df = fy.fetch_playlogs(args.start, args.end, **_fetch_options(args))
    with fy.Client() as client:
        result = fy.compliance(
            df,
            contract,
            start=args.start,
            end=args.end,
            dayfirst=args.dayfirst,
            players=None if args.no_names else client,
            medias=client if args.schedule else None,
        )
    if args.output.suffix.lower() == ".pdf":
        options = {"title": args.title, "advertiser": args.advertiser}
        audit.to_pdf(result, args.output, lang=args.lang, brand=brand, **options)
    else:
        audit.to_excel(result, args.output, lang=args.lang)
    print(audit.campaign_totals_text(result, lang=args.lang))
    print(f"-> {args.output}")
    return 0


def _add_cache(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["info", "clear"], help="list cached days, or remove them")
    p.add_argument("--cache-dir", type=Path, default=None, help="cache directory")
    p.add_argument("--account", default=None, help="only this account fingerprint")
    p.add_argument("--start", default=None, help="clear: only from this day")
    p.add_argument("--end", default=None, help="clear: only up to this day (inclusive)")
    p.add_argument("--scope", default=None, help="clear: only this scope (all, f-...)")


def _cmd_cache(args: argparse.Namespace) -> int:
    cache_dir = _cache_dir(args)
    root = fy.resolve_cache_dir(cache_dir)
    if args.action == "clear":
        n = fy.clear_cache(
            cache_dir, args.account, start=args.start, end=args.end, scope=args.scope
        )
        print(f"removed {n} cached day(s) from {root}")
        return 0
    info = fy.cache_info(cache_dir, args.account)
    if info.empty:
        print(f"the cache at {root} is empty")
    else:
        shown = info.drop(columns=["player_ids", "media_ids", "fetched_at"])
        with pd.option_context("display.width", 160):
            print(shown.to_string(index=False, max_rows=200))
        print(
            f"{len(info)} day(s), {int(info['rows'].sum()):,} rows, "
            f"{info['bytes'].sum() / 1e6:.1f} MB, {int(info['settled'].sum())} settled, in {root}"
        )
    if info.attrs.get("leftover_files"):
        print(
            f"{info.attrs['leftover_files']} leftover temp file(s) of interrupted writes, "
            f"{info.attrs['leftover_bytes'] / 1e6:.1f} MB: removed by the next write"
        )
    return 0


def _add_publish(p: argparse.ArgumentParser) -> None:
    p.add_argument("dest", help="a folder, or s3://bucket/prefix (credentials: AWS_* variables)")
    p.add_argument("--start", default=None, help="only from this day (YYYY-MM-DD)")
    p.add_argument("--end", default=None, help="only up to this day, inclusive")
    p.add_argument("--cache-dir", type=Path, default=None, help="cache directory")
    p.add_argument("--settle", default="24h", help="when a day is final (default 24h)")
    p.add_argument("--tz", default=None, help="time zone of the account, e.g. America/Sao_Paulo")


def _cmd_publish(args: argparse.Namespace) -> int:
    summary = fy.publish_cache(
        args.dest,
        start=args.start,
        end=args.end,
        cache_dir=_cache_dir(args),
        settle=args.settle,
        tz=args.tz,
    )
    print(summary)
    return 0


def _add_demo(p: argparse.ArgumentParser) -> None:
    from fouryousee_data.demo import add_arguments

    add_arguments(p)


def _cmd_demo(args: argparse.Namespace) -> int:
    """The main job end to end against an in-process simulator: no token, no network."""
    from fouryousee_data.demo import run

    return run(args)


def _add_simulate(p: argparse.ArgumentParser) -> None:
    from fouryousee_data.simulator.cli import add_arguments

    add_arguments(p)


def _cmd_simulate(args: argparse.Namespace) -> int:
    """Run the simulator until Ctrl-C (or write one report file with --write-report)."""
    from fouryousee_data.simulator.cli import run

    return run(args)


def _add_serve_webhook(p: argparse.ArgumentParser) -> None:
    from fouryousee_data.webhook.cli import add_arguments

    add_arguments(p)


def _cmd_serve_webhook(args: argparse.Namespace) -> int:
    """Receive 4YouSee's webhooks until Ctrl-C, filling the cache."""
    from fouryousee_data.webhook.cli import run

    return run(args)


COMMANDS: list[Command] = [
    (
        "read",
        "a downloaded report file, or Manager CSV exports, into Parquet, CSV or Excel",
        _add_read,
        _cmd_read,
    ),
    (
        "simulate",
        "run a local 4YouSee API simulator (prints the URL and token to use)",
        _add_simulate,
        _cmd_simulate,
    ),
    (
        "fetch",
        "fetch playlogs of any date range (cached) into Parquet, CSV or Excel",
        _add_fetch,
        _cmd_fetch,
    ),
    (
        "summary",
        "plays per player / media (/ period) over a date range",
        _add_summary,
        _cmd_summary,
    ),
    (
        "audit",
        "proof of play: a contract against the playlogs of a range, to a PDF or Excel file",
        _add_audit,
        _cmd_audit,
    ),
    ("cache", "show (info) or remove (clear) cached days", _add_cache, _cmd_cache),
    (
        "publish",
        "copy the settled cached days to a folder or s3:// as hive-partitioned Parquet",
        _add_publish,
        _cmd_publish,
    ),
    (
        "demo",
        "the whole job against a built-in simulator: no token, no network",
        _add_demo,
        _cmd_demo,
    ),
    (
        "serve-webhook",
        "receive 4YouSee's report-ready webhooks and fill the cache",
        _add_serve_webhook,
        _cmd_serve_webhook,
    ),
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
    with _warnings_to_stderr(quiet=args.verbose):
        return _run(args)


@contextlib.contextmanager
def _warnings_to_stderr(*, quiet: bool) -> Iterator[None]:
    """The library's warnings (``logging``, WARNING) as ``warning: ...`` lines on stderr
    while a command runs. Errors are left out: the command prints its own ``error:``
    line (without a handler, Python's last resort would print both). ``-v`` logs
    everything through the root handler instead."""
    if quiet:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    handler.addFilter(lambda record: record.levelno == logging.WARNING)
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`fouryousee-data demo | head`): stop quietly, as a
        # SIGPIPE would, and keep Python's exit-time flush from complaining.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
    except (fy.FouryouseeError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
