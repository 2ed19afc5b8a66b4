"""Is the cache worth it? Reading 30 cached days versus parsing the same rows from the gzip.

The same rows, same run:

* parse: ``fouryousee_data.read_playlogs(<report>.gz)`` (decompress + parse, the
  work a download does on top of the network);
* cache: ``fetch_playlogs(first, last, ...)`` over the same 30 days that are all in the
  cache and settled: the user-facing path (cache lookup, each day's read copy mapped
  and checked against its Parquet file, filter in Arrow, order check, conversion to
  the playlog DataFrame). It makes no HTTP request: the client points at a closed
  loopback port.

The bar: the cache read is at least 10x faster than parsing. Also printed: the
bare Arrow read of the cached days (``PlaylogCache.load(days).table``, no pandas).
Each is timed best-of-N, the three run in turn so that they see the same load.

The report is generated with numpy in the report format (NDJSON lines, keys
as the API writes them), ``rows_per_day`` plays on each of 30 days.

Usage::

    python benchmarks/bench_cache.py                # 30 days x 33,334 rows (1 M, a busy month)
    python benchmarks/bench_cache.py --quick        # 30 days x 1,000 rows, proves it works
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
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


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """The fastest of ``repeat`` runs of each function (seconds), run in turn so that
    every function sees the same load of a shared machine."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=33_334)  # 1 M rows, as bench_parse
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 rows per day, 3 repeats")
    args = parser.parse_args(argv)
    rows_per_day = 1_000 if args.quick else args.rows_per_day
    repeat = 3 if args.quick else args.repeat

    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        root = Path(tmp)
        gz = root / "report.gz"
        rows = make_report(gz, rows_per_day)
        size_mb = gz.stat().st_size / 1e6
        last = FIRST + dt.timedelta(days=DAYS - 1)

        # Fill the cache the way fetch_playlogs does: one settled report, split by day.
        client = fy.Client(token="bench-token", base_url="http://127.0.0.1:9/v1/")
        cache = PlaylogCache(root / "cache", client.fingerprint)
        created = dt.datetime.combine(last, dt.time(), dt.UTC) + dt.timedelta(days=5)
        report = Report(id=1, status="success", created_at=created)
        cache.store_days(
            read_table(gz), [FIRST + dt.timedelta(days=i) for i in range(DAYS)], report=report
        )

        def from_cache() -> pd.DataFrame:
            return fy.fetch_playlogs(
                FIRST, last, client=client, cache_dir=root / "cache", progress=False
            )

        days = cache_days(last)
        loaded = cache.load(days)
        assert list(loaded.served) == days and loaded.from_parquet == [], "not all read copies"
        parsed, cached = fy.read_playlogs(gz), from_cache()
        times = interleaved(
            {
                "parse": lambda: fy.read_playlogs(gz),
                "cache": from_cache,
                "arrow": lambda: cache.load(days).table,
            },
            repeat,
        )
        t_parse, t_cache, t_arrow = times["parse"], times["cache"], times["arrow"]

    assert len(parsed) == len(cached) == rows, (len(parsed), len(cached), rows)
    ratio = t_parse / t_cache
    print(f"{rows:,} rows over {DAYS} days (gzip {size_mb:.1f} MB), best of {repeat}")
    print(f"  parse the gzip (read_playlogs)        {t_parse * 1e3:8.1f} ms")
    print(f"  fetch_playlogs over the cached days   {t_cache * 1e3:8.1f} ms   {ratio:5.1f}x faster")
    print(f"  cache read, Arrow only                {t_arrow * 1e3:8.1f} ms")
    if args.quick:
        print(f"bar (cache >= {BAR:g}x faster): judged at full size only; files this small")
        print("cost more in per-file overhead than in decoding")
        return 0
    ok = ratio >= BAR
    print(f"bar: cache >= {BAR:g}x faster than parsing: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def cache_days(last: dt.date) -> list[dt.date]:
    """The benchmark's days."""
    return [FIRST + dt.timedelta(days=i) for i in range((last - FIRST).days + 1)]


if __name__ == "__main__":
    sys.exit(main())
