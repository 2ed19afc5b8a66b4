"""How fast and lean is ``read_playlogs`` against what 4YouSee scripts do today?

On the same generated report (gzip NDJSON, key order varying per line) it
measures, each in a fresh subprocess:

* ``fouryousee``   ``fouryousee_data.read_playlogs`` (this package);
* ``polars``       ``polars.read_ndjson`` (typed) on the text gunzipped by ISA-L, then
                   ``played_at`` and categoricals, a polars frame;
* ``duckdb``       DuckDB's ``read_json`` (typed columns, ``played_at`` as a timestamp)
                   into an Arrow table;
* ``pyarrow-json`` a straightforward ``pyarrow.json.read_json`` + ``to_pandas``;
* ``pandas``       ``pandas.read_json(lines=True)`` + ``to_datetime``;
* ``json-loop``    ``json.loads`` line by line into a DataFrame;
* ``gunzip``       bare decompression with ISA-L (``isal.igzip``, what the parser
                   uses), one thread: the floor. Every method's time is also
                   printed as a ratio to it.

``polars`` and ``duckdb`` are benchmark-only dependencies (the ``bench`` extra).

Peak memory is the process's peak RSS (``resource.getrusage`` ``ru_maxrss``)
minus its RSS after the imports, so it counts what the method itself needed.
The bars: at 1 M rows ``fouryousee`` at least 6x faster than ``pandas`` with
peak extra memory at most 3x the final frame, at 5 M rows at least 12x
(issue 2); at 5 M rows at most 1.6x ``gunzip`` with at most 1.5x the frame,
and with ``--cardinality 65000`` at 1 M rows at most 1.2x the realistic
file's time and faster than ``polars`` (issue 15).

``--cardinality N`` generates reports with ``N`` distinct IPs per million rows
(drawn at random per row) instead of one IP per player (400): a network
with dynamic IPs over a year.

Inputs are generated deterministically (numpy + Arrow string kernels, no
Python loop per row) under ``benchmarks/_data/`` (gitignored) and reused.

Usage::

    python benchmarks/bench_parse.py                    # 1 M and 5 M rows, every method
    python benchmarks/bench_parse.py --rows 100000      # a quick proof that it works
    python benchmarks/bench_parse.py --methods fouryousee gunzip --repeat 3
    python benchmarks/bench_parse.py --rows 1000000 --cardinality 0 65000 \\
        --methods fouryousee polars gunzip              # realistic vs 65,000 IPs
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib
import itertools
import json
import os
import resource
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "_data"
METHODS = ("fouryousee", "polars", "duckdb", "pyarrow-json", "pandas", "json-loop", "gunzip")
BARS = {1_000_000: (6.0, 3.0), 5_000_000: (12.0, None)}  # rows: (speed-up, memory ratio)
GUNZIP_BAR = {5_000_000: (1.6, 1.5)}  # rows: (x gunzip, memory ratio) for the realistic file
CARDINALITY_BAR = 1.2  # x the realistic file's time, at the same number of rows
_GEN_CHUNK = 500_000


# --------------------------------------------------------------------------- the input


def report_path(rows: int, cardinality: int = 0, seed: int = 0) -> Path:
    tail = f"_ip{cardinality}" if cardinality else ""
    return DATA_DIR / f"report_{rows}_{seed}{tail}.ndjson.gz"


def generate(rows: int, cardinality: int = 0, seed: int = 0) -> Path:
    """Write (once) a report of ``rows`` lines; returns its path.

    ``cardinality``: distinct IPs per million rows, drawn per row (0: one IP per player).
    """
    path = report_path(rows, cardinality, seed)
    if path.exists():
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    started = time.perf_counter()
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    with open(tmp, "wb") as out:
        writer: threading.Thread | None = None
        for first in range(0, rows, _GEN_CHUNK):
            text = _lines(first, min(_GEN_CHUNK, rows - first), rows, cardinality, seed)
            if writer is not None:
                writer.join()  # compress chunk k while generating chunk k+1
            writer = threading.Thread(target=lambda t=text: out.write(compressor.compress(t)))
            writer.start()
        if writer is not None:
            writer.join()
        out.write(compressor.flush())
    tmp.rename(path)
    print(
        f"generated {path.name}: {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB gzip "
        f"in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return path


def _lines(first: int, n: int, total: int, cardinality: int, seed: int) -> bytes:
    """Rows first..first+n of the report, as NDJSON bytes (vectorised)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng([seed, first])
    players, medias, playlist = 400, 3000, 20
    # 30 days, shops open 07:00-22:00, rows in time order across the whole report.
    span = 30 * 15 * 3600
    offset = (np.arange(first, first + n) * span) // total + rng.integers(0, span // total + 1, n)
    day, sec = np.divmod(offset, 15 * 3600)
    sec += 7 * 3600
    player = rng.integers(1, players + 1, n)
    playlists = np.random.default_rng(seed).integers(1, medias + 1, (players + 1, playlist))
    media = playlists[player, rng.integers(0, playlist, n)]
    day0 = dt.date(2024, 3, 1)

    def table(values: list[str]) -> pa.Array:
        return pa.array(values, pa.string())

    dates = table([f'"date":"{day0 + dt.timedelta(days=d)}"' for d in range(31)])
    times = table(
        [f'"time":"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"' for s in range(86400)]
    )
    player_ids = table([f'"playerId":{i}' for i in range(players + 1)])
    media_ids = table([f'"mediaId":{i}' for i in range(medias + 1)])
    if cardinality:
        n_ips = max(1, cardinality * total // 1_000_000)
        ips = table([f'"ip":"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"' for i in range(n_ips)])
        ip = rng.integers(0, n_ips, n)
    else:
        ips = table([f'"ip":"177.{i % 7}.{i % 251}.{(i * 7) % 253}"' for i in range(players + 1)])
        ip = player
    kinds = table(['"type":"V"', '"type":"I"', '"type":null'])
    kind = np.where(media % 4 == 0, 1, 0)
    kind[rng.random(n) < 0.01] = 2
    parts = [
        table(['"account":"alfareiza-3385E2"']).take(np.zeros(n, np.int64)),
        dates.take(day),
        times.take(sec),
        player_ids.take(player),
        media_ids.take(media),
        ips.take(ip),
        kinds.take(kind),
    ]
    orders = np.array(list(itertools.permutations(range(7))))[rng.permutation(5040)[:64]]
    order = orders[rng.integers(0, len(orders), n)]
    slots = [pc.choose(pa.array(order[:, j].astype(np.int8)), *parts) for j in range(7)]
    body = pc.binary_join_element_wise(*slots, ",")
    lines = pc.binary_join_element_wise("{", body, "}\n", "")
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    offsets = np.frombuffer(lines.buffers()[1], np.int32, len(lines) + 1, lines.offset * 4)
    return lines.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]


# --------------------------------------------------------------------------- the methods


def _fouryousee(path: Path) -> Any:
    from fouryousee_data import read_playlogs

    return read_playlogs(path)


def _polars(path: Path) -> Any:
    import polars as pl
    from isal import igzip

    with open(path, "rb") as f:
        text = igzip.decompress(f.read())
    schema = {
        "date": pl.String,
        "time": pl.String,
        "playerId": pl.Int32,
        "mediaId": pl.Int32,
        "account": pl.String,
        "type": pl.String,
        "ip": pl.String,
    }
    df = pl.read_ndjson(text, schema=schema)
    del text
    return df.select(
        (pl.col("date") + " " + pl.col("time"))
        .str.to_datetime("%Y-%m-%d %H:%M:%S")
        .alias("played_at"),
        pl.col("account").cast(pl.Categorical),
        pl.col("playerId").alias("player_id"),
        pl.col("mediaId").alias("media_id"),
        pl.col("type").cast(pl.Categorical).alias("media_type"),
        pl.col("ip").cast(pl.Categorical),
    )


def _duckdb(path: Path) -> Any:
    import duckdb

    columns = {
        "date": "VARCHAR",
        "time": "VARCHAR",
        "playerId": "INTEGER",
        "mediaId": "INTEGER",
        "account": "VARCHAR",
        "type": "VARCHAR",
        "ip": "VARCHAR",
    }
    with duckdb.connect() as con:
        return con.execute(
            "SELECT CAST(date || ' ' || time AS TIMESTAMP) AS played_at, account, "
            "playerId AS player_id, mediaId AS media_id, type AS media_type, ip "
            "FROM read_json(?, format = 'newline_delimited', columns = ?)",
            [str(path), columns],
        ).to_arrow_table()


def _pyarrow_json(path: Path) -> Any:
    import pyarrow.json as pj

    return pj.read_json(path).to_pandas()


def _pandas(path: Path) -> Any:
    import pandas as pd

    df = pd.read_json(path, lines=True, convert_dates=False)
    df["played_at"] = pd.to_datetime(df["date"] + " " + df["time"], format="%Y-%m-%d %H:%M:%S")
    return df


def _json_loop(path: Path) -> Any:
    import gzip

    import pandas as pd

    with gzip.open(path, "rb") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    df = pd.DataFrame(rows)
    df["played_at"] = pd.to_datetime(df["date"] + " " + df["time"], format="%Y-%m-%d %H:%M:%S")
    return df


def _gunzip(path: Path) -> Any:
    from isal import igzip

    with igzip.open(path, "rb") as f:
        while f.read(1 << 20):
            pass
    return None


RUNNERS = {
    "fouryousee": _fouryousee,
    "polars": _polars,
    "duckdb": _duckdb,
    "pyarrow-json": _pyarrow_json,
    "pandas": _pandas,
    "json-loop": _json_loop,
    "gunzip": _gunzip,
}
IMPORTS = ("numpy", "pandas", "pyarrow", "pyarrow.json", "pyarrow.compute", "fouryousee_data")
OWN_IMPORTS = {"polars": ("polars", "isal.igzip"), "duckdb": ("duckdb",), "gunzip": ("isal.igzip",)}


def _cpu() -> float:
    """CPU seconds of this process so far, every thread (less sensitive to a loaded machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _maxrss() -> int:
    """Peak RSS of this process so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(method: str, path: Path) -> dict[str, Any]:
    """Run one method in this (fresh) process; the measurement as a dict."""
    # the same imports for every method (and the peers' own), outside the measurement
    for name in IMPORTS + OWN_IMPORTS.get(method, ()):
        importlib.import_module(name)
    gc.collect()
    baseline = _maxrss()
    cpu_before = _cpu()
    started = time.perf_counter()
    df = RUNNERS[method](path)
    seconds = time.perf_counter() - started
    cpu = _cpu() - cpu_before
    peak = _maxrss() - baseline
    return {
        "method": method,
        "seconds": seconds,
        "cpu": cpu,
        "rows": len(df) if df is not None else None,
        "peak_extra": peak,
        "frame": _frame_bytes(df),
    }


def _frame_bytes(df: Any) -> int:
    """The result's own memory (pandas, polars or Arrow)."""
    if df is None:
        return 0
    if hasattr(df, "memory_usage"):
        return int(df.memory_usage(deep=True).sum())
    if hasattr(df, "estimated_size"):
        return int(df.estimated_size())
    return int(df.nbytes)


def measure(method: str, path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", method, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the report


def run(rows: int, cardinality: int, methods: list[str], repeat: int) -> dict[str, Any]:
    """Measure every method on one report; prints a table, returns the results."""
    # In a subprocess: a process inherits its parent's peak RSS across fork+exec,
    # so this one must stay small for the workers' baselines to be right.
    subprocess.run(
        [sys.executable, __file__, "--generate", str(rows), str(cardinality)], check=True
    )
    path = report_path(rows, cardinality)
    size = path.stat().st_size
    ips = f"{cardinality:,} distinct IPs per million rows" if cardinality else "one IP per player"
    print(f"\n{rows:,} rows, {ips}, {size / 1e6:.0f} MB gzip ({path.name})")
    results: dict[str, dict[str, Any]] = {}
    for method in methods:
        runs = [measure(method, path) for _ in range(repeat if method != "pandas" else 1)]
        best = min(runs, key=lambda r: r["seconds"])
        best["peak_extra"] = max(r["peak_extra"] for r in runs)
        results[method] = best
    frame = results.get("fouryousee", {}).get("frame") or 0
    floor = results.get("gunzip", {}).get("seconds")
    print(
        f"{'method':<14}{'seconds':>9}{'x gunzip':>10}{'cpu s':>8}{'rows/s':>13}"
        f"{'peak extra MB':>15}{'x frame':>9}{'own frame MB':>14}"
    )
    for method, r in results.items():
        ratio = f"{r['peak_extra'] / frame:.1f}" if frame else "-"
        to_floor = f"{r['seconds'] / floor:.2f}" if floor else "-"
        print(
            f"{method:<14}{r['seconds']:>9.2f}{to_floor:>10}{r['cpu']:>8.2f}"
            f"{rows / r['seconds']:>13,.0f}"
            f"{r['peak_extra'] / 1e6:>15,.0f}{ratio:>9}{r['frame'] / 1e6:>14,.0f}"
        )
    if frame:
        print(f"final frame (fouryousee): {frame / 1e6:.0f} MB")
    if "fouryousee" in results:
        _verdicts(rows, cardinality, results, frame, floor)
    return results


def _verdicts(
    rows: int, cardinality: int, results: dict[str, Any], frame: int, floor: float | None
) -> None:
    ours = results["fouryousee"]
    if "pandas" in results:
        speedup = results["pandas"]["seconds"] / ours["seconds"]
        bar_speed, bar_memory = BARS.get(rows, (None, None))
        verdict = [f"speed-up {speedup:.1f}x" + (f" (bar {bar_speed:.0f}x)" if bar_speed else "")]
        if bar_memory:
            ratio = ours["peak_extra"] / frame
            verdict.append(f"peak extra {ratio:.1f}x the frame (bar {bar_memory:.0f}x)")
        print("fouryousee vs pandas: " + ", ".join(verdict))
    if floor:
        bar = GUNZIP_BAR.get(rows) if not cardinality else None
        text = f"fouryousee vs gunzip: {ours['seconds'] / floor:.2f}x"
        if bar:
            text += f" (bar {bar[0]}x), peak extra {ours['peak_extra'] / frame:.2f}x the frame"
            text += f" (bar {bar[1]}x)"
        print(text)
    if "polars" in results:
        ratio = ours["seconds"] / results["polars"]["seconds"]
        print(f"fouryousee vs polars: {ratio:.2f}x the time (bar for --cardinality: < 1)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument(
        "--cardinality",
        type=int,
        nargs="+",
        default=[0],
        metavar="N",
        help="distinct IPs per million rows (0: one per player, the realistic report)",
    )
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--repeat", type=int, default=1, help="runs per method (best time)")
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generate:
        generate(*args.generate)
        return
    if args.worker:
        method, path = args.worker
        print(json.dumps(worker(method, Path(path))))
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; times are wall-clock seconds")
    for rows in args.rows:
        ours = {}
        for cardinality in args.cardinality:
            results = run(rows, cardinality, args.methods, args.repeat)
            if "fouryousee" in results:
                ours[cardinality] = results["fouryousee"]
        if 0 in ours:
            for cardinality, r in ours.items():
                if cardinality:
                    print(
                        f"\n{rows:,} rows: {cardinality:,} IPs per million take "
                        f"{r['seconds'] / ours[0]['seconds']:.2f}x the realistic file's time "
                        f"(bar {CARDINALITY_BAR}x), {r['cpu'] / ours[0]['cpu']:.2f}x its CPU"
                    )


if __name__ == "__main__":
    main()
