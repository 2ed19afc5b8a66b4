"""``fouryousee-data simulate``: the simulator from the command line.

Runs the API and the object store on loopback until Ctrl-C or SIGTERM (both stop it
cleanly: its temporary report files are removed) and prints the two
``export`` lines that point the toolkit at it; or, with ``--write-report``,
writes the file a report would hold and exits (how ``data/`` was made).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from fouryousee_data.simulator.core import Simulator
from fouryousee_data.simulator.data import Network
from fouryousee_data.simulator.objects import to_utc

__all__ = ["add_arguments", "run", "write_report"]

DEFAULT_PORT = 8040


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``fouryousee-data simulate``."""
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="API port (0: any free port)")
    p.add_argument("--store-port", type=int, default=0, help="object store port (default: any)")
    p.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    p.add_argument("--players", type=int, default=8, help="number of players (default 8)")
    p.add_argument("--medias", type=int, default=20, help="number of medias (default 20)")
    p.add_argument("--tz", default="America/Sao_Paulo", help="the account's time zone")
    p.add_argument("--plays-per-hour", type=float, default=60, help="per player (default 60)")
    p.add_argument("--report-delay", type=float, default=2.0, help="seconds until ready")
    p.add_argument("--url-ttl", type=float, default=600.0, help="seconds a file URL is valid")
    p.add_argument("--webhook-time-scale", type=float, default=1.0, help="scales 2/8/26 min")
    p.add_argument("--store-bandwidth", type=float, default=None, help="bytes/s per download")
    p.add_argument("--page-size", type=int, default=50, help="items per page")
    p.add_argument(
        "--rate-limit-interval",
        type=float,
        default=1.0,
        help="seconds between two requests for one URI (429 when sooner; default 1.0, 0: off)",
    )
    p.add_argument("--token", default=None, help="the Secret-Token to accept (default: random)")
    p.add_argument("--now", default=None, help="freeze the clock at this ISO 8601 instant (UTC)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument(
        "--write-report",
        type=Path,
        default=None,
        metavar="OUT.gz",
        help="write the report file for --start..--end (all players) and exit",
    )
    p.add_argument("--start", default=None, help="with --write-report: first day, YYYY-MM-DD")
    p.add_argument("--end", default=None, help="with --write-report: last day, YYYY-MM-DD")


def write_report(
    out: Path,
    start: str,
    end: str,
    *,
    now: str | dt.datetime | None = None,
    seed: int = 0,
    players: int = 8,
    medias: int = 20,
    tz: str = "America/Sao_Paulo",
    plays_per_hour: float = 60,
) -> int:
    """Write the gzip file a report over ``start``..``end`` (whole days) created at ``now`` holds.

    Returns the number of lines. Same arguments, same bytes.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_report(folder / "r.gz", "2024-03-04", "2024-03-04", now="2024-04-01", players=1)
    567
    >>> shutil.rmtree(folder)
    """
    moment = to_utc(now) if now is not None else dt.datetime.now(dt.UTC)
    net = Network(seed, players, medias, tz=tz, plays_per_hour=plays_per_hour)
    flt = {"startDate": start, "endDate": end, "sort": 1}
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    with open(part, "wb") as f:
        n = net.write_report(flt, moment.replace(microsecond=0).timestamp(), f)
    part.replace(out)
    return n


def run(args: argparse.Namespace) -> int:
    """Run ``simulate`` from parsed arguments; returns the exit status."""
    if args.write_report is not None:
        if not args.start or not args.end:
            raise ValueError("--write-report needs --start and --end (YYYY-MM-DD)")
        n = write_report(
            args.write_report,
            args.start,
            args.end,
            now=args.now,
            seed=args.seed,
            players=args.players,
            medias=args.medias,
            tz=args.tz,
            plays_per_hour=args.plays_per_hour,
        )
        print(f"{n:,} playlogs -> {args.write_report}")
        return 0
    sim = Simulator(
        seed=args.seed,
        players=args.players,
        medias=args.medias,
        tz=args.tz,
        report_delay=args.report_delay,
        url_ttl=args.url_ttl,
        webhook_time_scale=args.webhook_time_scale,
        plays_per_hour=args.plays_per_hour,
        now=args.now,
        store_bandwidth=args.store_bandwidth,
        page_size=args.page_size,
        token=args.token,
        port=args.port,
        store_port=args.store_port,
        rate_limit_interval=args.rate_limit_interval,
    )
    with sim:
        print(
            f"# 4YouSee simulator: seed {args.seed}, {args.players} players, {args.medias} medias, "
            f"{args.tz}; files served from {sim.store_url}; Ctrl-C to stop"
        )
        print(f"export FOURYOUSEE_API_URL={sim.base_url}")
        print(f"export FOURYOUSEE_TOKEN={sim.token}", flush=True)
        _wait(args.duration)
    print("simulator stopped", file=sys.stderr)
    return 0


def _wait(duration: float | None) -> None:
    """Block until ``duration`` seconds passed (None: until Ctrl-C or SIGTERM)."""
    deadline = None if duration is None else time.monotonic() + duration
    idle = threading.Event()  # never set: waiting on it is an interruptible sleep
    try:
        with _terminate_as_interrupt():
            while deadline is None or time.monotonic() < deadline:
                idle.wait(0.5 if deadline is None else min(0.5, deadline - time.monotonic()))
    except KeyboardInterrupt:
        return


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a service manager) stops the simulator like Ctrl-C, so that
    ``stop()`` runs and removes its report files; only in the main thread (where Python
    delivers signals), the previous handler restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
