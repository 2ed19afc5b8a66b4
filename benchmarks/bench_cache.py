"""Is the cache worth it? Reading 30 cached days versus parsing the same rows from the gzip.

The same rows, same run:

* parse: ``fouryousee_data.read_playlogs(<report>.gz)`` (decompress + parse, the
  work a download does on top of the network);
* cache: ``fetch_playlogs(first, last, ...)`` over the same 30 days that are all in the
  cache and settled: the user-facing path (cache lookup, each day's Parquet identity
  checked and its read copy opened, the 30 copies read into the frame's arrays with
  their CRCs and category codes checked, the DataFrame made of those arrays). It makes
  no HTTP request: the client points at a closed loopback port.

The bar: the cache read is at least 10x faster than parsing, with all the checks on.
Also printed: ``PlaylogCache.load(days)`` alone (the same read, no DataFrame), of which
finding the days (``load(days, rows=False)``: each day's Parquet identity, its read copy
opened and its head checked, the lineage), and ``.table`` on top (per-day Arrow tables,
the path when some days are fetched). Each is timed best-of-N, all run in turn so that
they see the same load, with the CPU time of the best runs (less disturbed by a shared
machine than wall time).

Then the same parse and cache read again in a fresh process whose malloc a streaming
fetch has bounded (``cache.bound_heap``, set for the rest of a process by any
``fetch_playlogs`` that downloads): the state of a notebook that fetched, then reads from
the cache. There every large block is fresh memory from the kernel (page faults, zeroed
pages), where this process reuses the blocks it freed. Printed, not judged by the bar.

The report is generated with numpy in the report format (NDJSON lines, keys
as the API writes them), ``rows_per_day`` plays on each of 30 days.

Usage::

    python benchmarks/bench_cache.py                # 30 days x 33,334 rows (1 M, a busy month)
    python benchmarks/bench_cache.py --quick        # 30 days x 1,000 rows, proves it works
    python benchmarks/bench_cache.py --no-bound     # without the bounded-heap process
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import fouryousee_data as fy
from fouryousee_data.cache import PlaylogCache
from fouryousee_data.parse import read_table
from fouryousee_data.report import Report

BAR = 10.0
DAYS = 30
FIRST = dt.date(2024, 1, 1)


def make_report(path: Path, rows_per_day: int, players: int = 8, seed: int = 0) -> int:
    """Write a gzip report of ``DAYS`` days to ``path``; returns the number of rows."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(FIRST.isoformat(), "s").astype(np.int64)
    day = np.repeat(np.arange(DAYS, dtype=np.int64), rows_per_day)
    seconds = start + day * 86_400 + rng.integers(7 * 3600, 22 * 3600, day.size)
    ts = pa.array(np.sort(seconds)[::-1].astype("M8[s]"))  # newest first, like sort=-1
    player = pc.cast(pa.array(rng.integers(1, players + 1, day.size)), pa.string())
    media = pc.cast(pa.array(rng.integers(100, 160, day.size)), pa.string())
    kind = pa.array(np.where(rng.random(day.size) < 0.7, "I", "V"))
    parts = [
        '{"account":"acme-3385E2","date":"', pc.strftime(ts, "%Y-%m-%d"),
        '","time":"', pc.strftime(ts, "%H:%M:%S"),
        '","playerId":', player, ',"mediaId":', media,
        ',"ip":"10.0.0.', player, '","type":"', kind, '"}',
    ]  # fmt: skip
    lines = pc.binary_join_element_wise(*parts, "")
    with gzip.open(path, "wt", compresslevel=6, encoding="utf-8") as out:
        out.write("\n".join(lines.to_pylist()) + "\n")
    return int(day.size)


def interleaved(
    fns: dict[str, Callable[[], object]], repeat: int
) -> tuple[dict[str, float], dict[str, float]]:
    """The fastest of ``repeat`` runs of each function (seconds of wall time, and of
    CPU time), run in turn so that every function sees the same load of a shared
    machine."""
    best = dict.fromkeys(fns, float("inf"))
    cpu = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
    return best, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=33_334)  # 1 M rows, as bench_parse
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 rows per day, 3 repeats")
    parser.add_argument("--no-bound", action="store_true", help="skip the bounded-heap process")
    parser.add_argument("--bounded-read", metavar="DIR", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args(argv)
    if args.bounded_read:
        return bounded_read(Path(args.bounded_read), args.repeat)
    rows_per_day = 1_000 if args.quick else args.rows_per_day
    repeat = 3 if args.quick else args.repeat

    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        root = Path(tmp)
        gz = root / "report.gz"
        rows = make_report(gz, rows_per_day)
        size_mb = gz.stat().st_size / 1e6
        last = FIRST + dt.timedelta(days=DAYS - 1)

        # Fill the cache the way fetch_playlogs does: one settled report, split by day.
        client = bench_client()
        cache = PlaylogCache(root / "cache", client.fingerprint)
        created = dt.datetime.combine(last, dt.time(), dt.UTC) + dt.timedelta(days=5)
        report = Report(id=1, status="success", created_at=created)
        cache.store_days(
            read_table(gz), [FIRST + dt.timedelta(days=i) for i in range(DAYS)], report=report
        )

        def from_cache() -> pd.DataFrame:
            return read_cache(root, last, client)

        days = cache_days(last)
        loaded = cache.load(days)
        assert list(loaded.served) == days and loaded.from_parquet == [], "not all read copies"
        parsed, cached = fy.read_playlogs(gz), from_cache()
        times, cpu = interleaved(
            {
                "parse": lambda: fy.read_playlogs(gz),
                "cache": from_cache,
                "load": lambda: cache.load(days),
                "find": lambda: cache.load(days, rows=False),
                "arrow": lambda: cache.load(days).table,
            },
            repeat,
        )
        t_parse, t_cache = times["parse"], times["cache"]
        bounded = None
        if not args.no_bound:
            command = [sys.executable, __file__, "--bounded-read", tmp, "--repeat", str(repeat)]
            bounded = subprocess.run(command, check=True, capture_output=True, text=True).stdout

    assert len(parsed) == len(cached) == rows, (len(parsed), len(cached), rows)
    ratio = t_parse / t_cache
    print(f"{rows:,} rows over {DAYS} days (gzip {size_mb:.1f} MB), best of {repeat}")
    lines = [
        ("parse the gzip (read_playlogs)", "parse"),
        ("fetch_playlogs over the cached days", "cache"),
        ("  of which PlaylogCache.load (no frame)", "load"),
        ("    of which finding the days", "find"),
        ("PlaylogCache.load(...).table (Arrow)", "arrow"),
    ]
    for label, key in lines:
        extra = f"   {ratio:5.1f}x faster" if key == "cache" else ""
        print(f"  {label:<40} {times[key] * 1e3:7.1f} ms (CPU {cpu[key] * 1e3:6.1f} ms){extra}")
    print(f"  CPU time ratio: {cpu['parse'] / cpu['cache']:.1f}x")
    if bounded:
        print(f"after a streaming fetch (malloc bounded, a fresh process), best of {repeat}:")
        print(bounded, end="")
    if args.quick:
        print(f"bar (cache >= {BAR:g}x faster): judged at full size only; files this small")
        print("cost more in per-file overhead than in decoding")
        return 0
    ok = ratio >= BAR
    print(f"bar: cache >= {BAR:g}x faster than parsing: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def bench_client() -> fy.Client:
    """The account of the benchmark's cache (its port is closed: no request is made)."""
    return fy.Client(token="bench-token", base_url="http://127.0.0.1:9/v1/")


def read_cache(root: Path, last: dt.date, client: fy.Client) -> pd.DataFrame:
    """The benchmark's cache read: ``fetch_playlogs`` over the cached days."""
    return fy.fetch_playlogs(FIRST, last, client=client, cache_dir=root / "cache", progress=False)


def bounded_read(root: Path, repeat: int) -> int:
    """The child process: parse and cache read with malloc bounded as a streaming fetch
    leaves it (prints two lines, the ratio)."""
    from fouryousee_data.cache import bound_heap

    if not bound_heap():
        print("  (malloc cannot be bounded here: not glibc, or MALLOC_MMAP_THRESHOLD_ set)")
        return 0
    last = FIRST + dt.timedelta(days=DAYS - 1)
    gz, client = root / "report.gz", bench_client()
    times, cpu = interleaved(
        {"parse": lambda: fy.read_playlogs(gz), "cache": lambda: read_cache(root, last, client)},
        repeat,
    )
    labels = {"parse": "parse the gzip", "cache": "fetch_playlogs over the cached days"}
    for key, label in labels.items():
        print(f"  {label:<40} {times[key] * 1e3:7.1f} ms (CPU {cpu[key] * 1e3:6.1f} ms)")
    ratio, cpu_ratio = times["parse"] / times["cache"], cpu["parse"] / cpu["cache"]
    print(f"  ratio {ratio:.1f}x (CPU time {cpu_ratio:.1f}x)")
    return 0


def cache_days(last: dt.date) -> list[dt.date]:
    """The benchmark's days."""
    return [FIRST + dt.timedelta(days=i) for i in range((last - FIRST).days + 1)]


if __name__ == "__main__":
    sys.exit(main())
