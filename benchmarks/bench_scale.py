"""Playlogs at scale: memory and speed of scan_playlogs (fetch and analysis) against pandas.

On a simulated network (``--players`` screens, ``--plays-per-hour`` each, ``--days`` days:
about 20 M playlogs by default), each step in its own process so that its peak RSS is its
own (``ru_maxrss`` minus the RSS after the imports, as ``bench_parse.py`` measures):

* ``scan-fetch``: ``scan_playlogs(..., fetch=True)`` into an empty cache (the simulator runs
  in another process, as the real API would be on another machine). Bar: peak extra RSS
  at most 0.25x the frame of the same rows.
* ``fetch``: ``fetch_playlogs`` into another empty cache (the same report, reused): the
  frame is now its only allocation that grows with the range (was 5.1x the frame).
* ``pandas``: ``per_player(fetch_playlogs(...), freq="D")`` from the cache (the baseline).
* ``duckdb``: ``per_player(scan_playlogs(..., fetch=False), freq="D")`` (DuckDB computes).
  Bars: peak extra RSS at most 0.25x the frame, faster than ``pandas``, equal result.
* ``dask``: the same on Dask with a ``LocalCluster`` of 2 worker processes (time reported,
  the client's RSS only; the workers are other processes).

Until ``per_player`` accepts engine objects, the ``duckdb``/``dask`` steps compute the same
counts natively (a ``GROUP BY`` of player and day; Dask ``groupby().size()``) and compare
them with the non-zero rows of the pandas result; the output says which ran.

The data lives in ``benchmarks/_data/scale-<players>x<days>x<plays>/`` (out of git), emptied
on every run unless ``--keep``: then the analysis steps read the cache a previous
``scan-fetch`` left (and the frame size it measured, in ``frame.json``); the ``scan-fetch`` and
``fetch`` steps always start from an empty cache of their own. The machine is shared: times
are indicative.

``--trace`` samples the step's RSS every 10 ms in a thread, with the phase it is in
(``stream``: download and parse into the spill; ``commit``, ``read back``, ``parquet``,
``read copy``: committing a window's days), Arrow's memory pools and glibc's heap in use
(``mallinfo2``); it prints each phase's peak and writes the samples to ``trace-<step>.csv``.

Usage::

    python benchmarks/bench_scale.py                 # ~20 M rows (100 screens, 60 days)
    python benchmarks/bench_scale.py --days 15       # ~5 M rows: how it grows
    python benchmarks/bench_scale.py --steps scan-fetch --days 4 --trace   # where the peak is
    python benchmarks/bench_scale.py --quick         # a few seconds, proves it works
    python benchmarks/bench_scale.py --keep --steps pandas,duckdb,dask
                                   # only the analysis steps, on the caches of a previous run
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "_data"
FETCH_BAR = 0.25
ANALYSIS_BAR = 0.25
START = "2024-01-01"


def _maxrss() -> int:
    """Peak RSS of this process so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --------------------------------------------------------------------------- --trace
def _rss() -> int:
    """RSS of this process now, in bytes."""
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _rss_file() -> int:
    """The file-backed part of the RSS now (mapped files), in bytes."""
    with open("/proc/self/status", "rb") as f:
        line = next(x for x in f if x.startswith(b"RssFile:"))
    return int(line.split()[1]) * 1024


class Trace:
    """RSS every 10 ms (a thread), labelled with the phase the fetch is in: the library's
    steps are wrapped (in this benchmark process only) to set the phase."""

    WRAPPED = (  # (module, attribute path, phase)
        ("fouryousee_data.client", "Client.download_into", "stream"),
        ("fouryousee_data.cache._spill", "DaySpill.commit", "commit"),
        ("fouryousee_data.cache._spill", "DaySpill._day_rows", "read back"),
        ("pyarrow.parquet", "write_table", "parquet"),
        ("fouryousee_data.cache._dayfile", "write_copy", "read copy"),
    )

    def __init__(self, path: Path) -> None:
        import ctypes
        import importlib
        import threading

        import pyarrow as pa

        self.path, self.phase, self.rows = path, "setup", []  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._pools = [pa.default_memory_pool(), pa.system_memory_pool()]
        self._libc = ctypes.CDLL("libc.so.6")
        self._libc.mallinfo2.restype = _Mallinfo2
        for module, attr, phase in self.WRAPPED:
            owner: Any = importlib.import_module(module)
            *parents, name = attr.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            setattr(owner, name, self._wrap(getattr(owner, name), phase))
        self.base, self.base_file = _rss(), _rss_file()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _wrap(self, fn: Any, phase: str) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            before, self.phase = self.phase, phase
            try:
                return fn(*args, **kwargs)
            finally:
                self.phase = before

        return wrapped

    def _sample(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.wait(0.01):
            info = self._libc.mallinfo2()
            self.rows.append((
                round(time.perf_counter() - t0, 3), self.phase, _rss() - self.base,
                *(p.bytes_allocated() for p in self._pools), info.uordblks + info.hblkhd,
                _rss_file() - self.base_file,
            ))  # fmt: skip

    def stop(self, peak_extra: int) -> dict[str, Any]:
        """Stop sampling; write the CSV; each phase's peak extra RSS (MB) and seconds."""
        self._stop.set()
        self._thread.join()
        with open(self.path, "w") as f:
            f.write(
                "seconds,phase,rss_extra,arrow_default,arrow_system,malloc_in_use,rss_file_extra\n"
            )
            f.writelines(",".join(map(str, r)) + "\n" for r in self.rows)
        phases: dict[str, Any] = {}
        for _, phase, rss, *pools in self.rows:
            top = phases.setdefault(phase, {"peak_mb": 0.0, "seconds": 0.0, "at_peak": []})
            top["seconds"] = round(top["seconds"] + 0.01, 2)
            if rss / 1e6 >= top["peak_mb"]:
                top["peak_mb"] = round(rss / 1e6, 1)
                top["at_peak"] = [round(b / 1e6, 1) for b in pools]
        return {"peak_extra_sampled_mb": round(max(r[2] for r in self.rows) / 1e6, 1),
                "ru_maxrss_extra_mb": round(peak_extra / 1e6, 1), "phases": phases}  # fmt: skip


if sys.platform == "linux":
    import ctypes as _ctypes

    class _Mallinfo2(_ctypes.Structure):
        _fields_ = [(n, _ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost")]  # fmt: skip


# --------------------------------------------------------------------------- the simulator
def _serve(conn: Any, options: dict[str, Any]) -> None:
    from fouryousee_data.simulator import Simulator

    with Simulator(**options) as sim:
        conn.send((sim.base_url, sim.token))
        conn.recv()  # until the parent says stop


# --------------------------------------------------------------------------- the steps
def _client() -> Any:
    import fouryousee_data as fy

    return fy.Client(base_url=os.environ["FOURYOUSEE_API_URL"], timeout=(10.0, 600.0))


def _end(days: int) -> str:
    import datetime as dt

    return (dt.date.fromisoformat(START) + dt.timedelta(days=days - 1)).isoformat()


def step_scan_fetch(work: Path, days: int) -> dict[str, Any]:
    import fouryousee_data as fy

    shutil.rmtree(work / "cache", ignore_errors=True)
    with _client() as client:
        t0, base = time.perf_counter(), _maxrss()
        rel = fy.scan_playlogs(START, _end(days), client=client, cache_dir=work / "cache",
                               progress=False)  # fmt: skip
        seconds, peak = time.perf_counter() - t0, _maxrss() - base
        rows = rel.aggregate("count(*)").fetchall()[0][0]
    return {"seconds": seconds, "peak_extra": peak, "rows": rows}


def step_fetch(work: Path, days: int) -> dict[str, Any]:
    import fouryousee_data as fy

    shutil.rmtree(work / "cache-fetch", ignore_errors=True)
    with _client() as client:
        t0, base = time.perf_counter(), _maxrss()
        df = fy.fetch_playlogs(START, _end(days), client=client, cache_dir=work / "cache-fetch",
                               progress=False)  # fmt: skip
        seconds, peak = time.perf_counter() - t0, _maxrss() - base
    frame = int(df.memory_usage(deep=True).sum())
    return {"seconds": seconds, "peak_extra": peak, "rows": len(df), "frame": frame}


def step_pandas(work: Path, days: int) -> dict[str, Any]:
    import fouryousee_data as fy

    with _client() as client:
        t0, base = time.perf_counter(), _maxrss()
        df = fy.fetch_playlogs(START, _end(days), client=client, cache_dir=work / "cache",
                               progress=False)  # fmt: skip
        rows, frame = len(df), int(df.memory_usage(deep=True).sum())
        result = fy.per_player(df, freq="D")
        seconds, peak = time.perf_counter() - t0, _maxrss() - base
    result.reset_index().to_parquet(work / "per_player-pandas.parquet")
    return {"seconds": seconds, "peak_extra": peak, "rows": rows, "frame": frame}


def _engine_result(scan: Any, engine: str) -> tuple[Any, str]:
    """``per_player(scan, freq="D")`` when it takes engine objects, else the same counts
    natively in the engine (labelled)."""
    import fouryousee_data as fy

    try:
        return fy.per_player(scan, freq="D"), "per_player"
    except (TypeError, AttributeError, ValueError, KeyError):
        pass
    if engine == "duckdb":
        sql = "player_id, date_trunc('day', played_at) AS period, count(*) AS plays"
        out = scan.aggregate(sql, "player_id, period").df()
    else:
        day = scan["played_at"].dt.floor("D").rename("period")
        out = scan.groupby(["player_id", day]).size().rename("plays").compute().reset_index()
    return out.set_index(["player_id", "period"]).sort_index(), "native GROUP BY"


def step_engine(work: Path, days: int, engine: str) -> dict[str, Any]:
    import fouryousee_data as fy

    cluster = dask_client = None
    if engine == "dask":
        from distributed import Client as DaskClient
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                               dashboard_address="127.0.0.1:0")  # fmt: skip
        dask_client = DaskClient(cluster)
    gc.collect()
    with _client() as client:
        t0, base = time.perf_counter(), _maxrss()
        scan = fy.scan_playlogs(START, _end(days), client=client, cache_dir=work / "cache",
                                fetch=False, engine=engine)  # type: ignore[arg-type]  # fmt: skip
        result, how = _engine_result(scan, engine)
        seconds, peak = time.perf_counter() - t0, _maxrss() - base
    result.reset_index().to_parquet(work / f"per_player-{engine}.parquet")
    if dask_client is not None and cluster is not None:
        dask_client.close()
        cluster.close()
    return {"seconds": seconds, "peak_extra": peak, "how": how}


STEPS = {
    "scan-fetch": step_scan_fetch,
    "fetch": step_fetch,
    "pandas": step_pandas,
    "duckdb": lambda work, days: step_engine(work, days, "duckdb"),
    "dask": lambda work, days: step_engine(work, days, "dask"),
}


def worker(step: str, work: Path, days: int, trace: bool) -> None:
    """Run one step in this fresh process; print its measurement as JSON."""
    # imports (and DuckDB's first connection) outside the measurement, the same for every step
    import duckdb
    import pandas  # noqa: F401
    import platformdirs  # noqa: F401
    import pyarrow
    import pyarrow.dataset  # noqa: F401
    import tqdm.auto  # noqa: F401

    import fouryousee_data  # noqa: F401

    duckdb.connect().sql("SELECT 1").fetchall()

    if step == "dask":
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    gc.collect()
    tracer = Trace(work / f"trace-{step}.csv") if trace else None
    result = STEPS[step](work, days)
    if tracer is not None:
        result["trace"] = tracer.stop(result["peak_extra"])
    print(json.dumps(result))


def measure(step: str, work: Path, days: int, env: dict[str, str], trace: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-X", "faulthandler", __file__, "--worker", step, "--work", str(work),
           "--days", str(days), *(["--trace"] if trace else [])]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"step {step} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the run
def equal_results(work: Path, engine: str) -> bool:
    import pandas as pd

    base = pd.read_parquet(work / "per_player-pandas.parquet")
    other = pd.read_parquet(work / f"per_player-{engine}.parquet")
    base["period"] = base["period"].astype("datetime64[s]")
    other["period"] = other["period"].astype("datetime64[s]")
    if len(other) != len(base):  # the native counts have no zero rows
        base = base[base["plays"] > 0]
    key = ["player_id", "period"]
    base = base.sort_values(key).reset_index(drop=True)[[*key, "plays"]]
    other = other.sort_values(key).reset_index(drop=True)[[*key, "plays"]]
    return bool(
        len(base) == len(other)
        and (base["player_id"].to_numpy() == other["player_id"].to_numpy()).all()
        and (base["period"].to_numpy() == other["period"].to_numpy()).all()
        and (base["plays"].to_numpy() == other["plays"].to_numpy()).all()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=100)
    parser.add_argument("--plays-per-hour", type=int, default=240)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="tiny run to prove it works")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="reuse the caches of a previous run with the same sizes (default: start empty); "
        "with --steps pandas,duckdb,dask only the analysis is measured",
    )
    parser.add_argument("--trace", action="store_true", help="RSS over time, by phase")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.work, args.days, args.trace)
        return 0
    if args.quick:
        args.players, args.days, args.plays_per_hour = 6, 3, 60
    steps = [s for s in args.steps.split(",") if s]
    work = DATA / f"scale-{args.players}x{args.days}x{args.plays_per_hour}"
    if args.keep and not (work / "cache").is_dir():
        raise SystemExit(f"--keep: no cache in {work}; run the scan-fetch step once first")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    options = {
        "token": "bench-scale-token",  # one token for every run: --keep finds its account again
        "seed": 0,
        "players": args.players,
        "medias": 200,
        "plays_per_hour": args.plays_per_hour,
        "report_delay": 0.1,
        "url_ttl": 3600.0,
    }
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, options), daemon=True)
    proc.start()
    results: dict[str, dict[str, Any]] = {}
    try:
        if not parent.poll(60):
            raise SystemExit("the simulator did not start within 60 s")
        base_url, token = parent.recv()
        env = dict(os.environ, FOURYOUSEE_TOKEN=token, FOURYOUSEE_API_URL=base_url)
        # An account's cache folder is named by its token and API URL, and the simulator's
        # port changes from run to run: with --keep the analysis steps (which make no request
        # over cached, settled days) use the URL the cache was fetched from.
        saved = work / "api.json"
        kept = dict(env)
        if args.keep and saved.exists():
            kept["FOURYOUSEE_API_URL"] = json.loads(saved.read_text())["base_url"]
        for step in steps:
            fetches = step in ("scan-fetch", "fetch")
            if fetches:
                saved.write_text(json.dumps({"base_url": base_url}))
                kept = env
            results[step] = measure(step, work, args.days, env if fetches else kept, args.trace)
            print(f"  {step}: {results[step]}", flush=True)
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
    return report(results, args, work)


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, work: Path) -> int:
    rows = next((r["rows"] for r in results.values() if "rows" in r), 0)
    frame = next((r["frame"] for r in results.values() if "frame" in r), 0)
    known = work / "frame.json"  # the frame a run measured, for runs of other steps only
    if frame:
        known.write_text(json.dumps({"rows": rows, "frame": frame}))
    elif known.exists():
        rows, frame = (json.loads(known.read_text())[k] for k in ("rows", "frame"))
    print(
        f"\n{rows:,} playlogs ({args.players} screens x {args.days} days x "
        f"{args.plays_per_hour}/h), frame {frame / 1e6:.0f} MB; {os.cpu_count()} CPUs (shared)"
    )
    print(f"{'step':<12}{'seconds':>9}{'rows/s':>12}{'peak extra MB':>15}{'x frame':>9}  note")
    ok = True
    for step, r in results.items():
        x = r["peak_extra"] / frame if frame else float("nan")
        note = ""
        if step == "scan-fetch" and not frame:
            note = "frame unknown: run the fetch or pandas step too (or --keep)"
        elif step == "scan-fetch":
            note = f"bar {FETCH_BAR}x " + ("OK" if x <= FETCH_BAR else "ABOVE BAR")
            ok &= x <= FETCH_BAR
        if step in ("duckdb", "dask"):
            same = "pandas" in results and equal_results(work, step)
            note = f"{r['how']}; equal to pandas: {same}"
            ok &= same
            if step == "duckdb":
                faster = "pandas" in results and r["seconds"] < results["pandas"]["seconds"]
                note += f"; bar {ANALYSIS_BAR}x " + ("OK" if x <= ANALYSIS_BAR else "ABOVE BAR")
                note += f"; faster than pandas: {faster}"
                ok &= x <= ANALYSIS_BAR and faster
        rate = rows / r["seconds"] if r["seconds"] else 0
        print(
            f"{step:<12}{r['seconds']:>9.2f}{rate:>12,.0f}{r['peak_extra'] / 1e6:>15.1f}"
            f"{x:>9.3f}  {note}"
        )
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
