"""Is parsing hidden behind the network? Download+parse versus download-only, same file.

Through the simulator's object store with a bandwidth cap, one report is
fetched alternately

* download-only: the raw bytes streamed to ``/dev/null`` (requests, no parsing);
* download+parse: ``Client.download_table`` (streamed into the parser's reader
  thread, decompressed and parsed while the bytes arrive).

The bar: download+parse takes at most 1.25x the download-only time. It can
only hold while the parser is faster than the link: the run also prints the
parser alone (from memory) on the same file. The simulator's synthetic data
compresses about 20:1 (real reports about 10:1), so 1 MB/s here carries as many
rows per second as about 2 MB/s (16 Mbit/s) of real reports.

The simulator runs in a separate process, as a real object store would be on
another machine: its generation and serving do not compete with the client
for the GIL.

Usage::

    python benchmarks/bench_fetch.py                 # ~0.9 M rows (~7 MB gzip), 1 MB/s cap
    python benchmarks/bench_fetch.py --quick         # a few seconds, proves it works
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from typing import Any

import requests

from fouryousee_data import parse
from fouryousee_data.client import Client
from fouryousee_data.report import Report

BAR = 1.25


def _serve(conn: Any, options: dict[str, Any]) -> None:
    from fouryousee_data.simulator import Simulator

    with Simulator(**options) as sim:
        conn.send((sim.base_url, sim.token))
        conn.recv()  # blocks until the parent says stop (or closes the pipe)


def download_only(
    report: Report, timeout: tuple[float, float], keep: list[bytes] | None = None
) -> int:
    """Stream the file's raw bytes to /dev/null (or into ``keep``); returns the byte count."""
    assert report.url is not None
    n = 0
    with (
        requests.Session() as session,
        session.get(report.url, stream=True, timeout=timeout) as response,
        open(os.devnull, "wb") as sink,
    ):
        response.raise_for_status()
        response.raw.decode_content = False
        while chunk := response.raw.read(1 << 16):
            sink.write(chunk)
            n += len(chunk)
            if keep is not None:
                keep.append(chunk)
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=40)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--plays-per-hour", type=int, default=60)
    parser.add_argument("--bandwidth-mb", type=float, default=1.0, help="store cap, MB/s")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny run to prove it works")
    args = parser.parse_args(argv)
    if args.quick:
        args.players, args.days, args.repeat, args.bandwidth_mb = 4, 3, 1, 1.0

    options = {
        "seed": 0,
        "players": args.players,
        "medias": 40,
        "plays_per_hour": args.plays_per_hour,
        "report_delay": 0.1,
        "url_ttl": 3600.0,
        "store_bandwidth": args.bandwidth_mb * 1e6,
    }
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, options), daemon=True)
    proc.start()
    try:
        if not parent.poll(60):
            raise SystemExit("the simulator did not start within 60 s")
        base_url, token = parent.recv()
        client = Client(token=token, base_url=base_url, timeout=(10.0, 120.0))
        start = "2024-01-01"
        end = f"2024-01-{args.days:02d}"
        report = client.request_report(start, end)
        report = client.wait_for_report(report, timeout=600, poll_interval=0.1)
        # warm-up of both paths (imports, Arrow kernels, the store's file generation)
        chunks: list[bytes] = []
        n_bytes = download_only(client.get_report(report.id), client.timeout, chunks)
        client.download_table(client.get_report(report.id))
        data = b"".join(chunks)
        only, full, parse_only = [], [], []
        rows = 0
        for _ in range(args.repeat):
            fresh = client.get_report(report.id)
            t0 = time.perf_counter()
            download_only(fresh, client.timeout)
            only.append(time.perf_counter() - t0)
            fresh = client.get_report(report.id)
            t0 = time.perf_counter()
            rows = client.download_table(fresh).num_rows
            full.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            parse.read_table(data)  # the parser alone, from memory: is it faster than the link?
            parse_only.append(time.perf_counter() - t0)
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.terminate()

    ratio = statistics.median(full) / statistics.median(only)
    print(f"file: {n_bytes / 1e6:.1f} MB gzip, {rows:,} rows; store cap {args.bandwidth_mb} MB/s")
    print(f"download-only   : median {statistics.median(only):.2f} s  runs {_fmt(only)}")
    print(f"download+parse  : median {statistics.median(full):.2f} s  runs {_fmt(full)}")
    parse_med = statistics.median(parse_only)
    print(f"parse-only      : median {parse_med:.2f} s  runs {_fmt(parse_only)} (from memory)")
    verdict = "OK" if ratio <= BAR else "ABOVE BAR"
    print(f"ratio           : {ratio:.3f}x (bar {BAR}x) {verdict}")
    return 0 if ratio <= BAR or args.quick else 1


def _fmt(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
