"""Is zero-filled aggregation as cheap as a plain groupby?

``per_player_media(df, freq="D")`` (every player x media x day, zeros included,
plus first/last played) versus a plain ``groupby(...).size()`` without zero
fill, on the same in-memory frame, same run. The baseline is the faster of
``groupby([player_id, media_id, Grouper(freq="D")])`` and
``groupby([player_id, media_id, played_at.dt.floor("D")])``.

The bars: at most 1.5x the plain groupby's time, and peak memory allocated
during the call (``tracemalloc``, which sees numpy and pandas buffers) at most
2x the frame's own memory.

The frame is generated with numpy in the playlog schema: ``players`` screens,
``medias`` medias, rows spread over ``days`` days, sorted by ``played_at``.

Usage::

    python benchmarks/bench_analysis.py              # 20 million rows
    python benchmarks/bench_analysis.py --quick      # 1 million rows, same shape: proves it works
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pandas as pd

from fouryousee_data.analysis import per_player_media

TIME_BAR = 1.5
MEMORY_BAR = 2.0


def make_frame(rows: int, players: int, medias: int, days: int, seed: int = 0) -> pd.DataFrame:
    """A playlog-schema frame of ``rows`` plays, built in memory with numpy."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01", "s").astype(np.int64)
    seconds = np.sort(rng.integers(0, days * 86_400, rows, dtype=np.int64)) + start
    player = rng.integers(1, players + 1, rows, dtype=np.int32)
    media = (player * 7 + rng.integers(0, medias // 2 + 1, rows, dtype=np.int32)) % medias + 1
    return pd.DataFrame(
        {
            "played_at": seconds.view("M8[s]"),
            "account": pd.Categorical.from_codes(np.zeros(rows, np.int8), ["acme"]),
            "player_id": player,
            "media_id": media.astype(np.int32),
            "media_type": pd.Categorical.from_codes(rng.integers(0, 2, rows, np.int8), ["I", "V"]),
            "ip": pd.Categorical.from_codes(np.zeros(rows, np.int8), ["0.0.0.0"]),
        }
    )


def baseline(df: pd.DataFrame) -> pd.Series:
    return df.groupby(["player_id", "media_id", pd.Grouper(key="played_at", freq="D")]).size()


def baseline_floor(df: pd.DataFrame) -> pd.Series:
    return df.groupby(["player_id", "media_id", df["played_at"].dt.floor("D")]).size()


def zero_filled(df: pd.DataFrame) -> pd.DataFrame:
    return per_player_media(df, freq="D")


def best_time(fn: Callable[[pd.DataFrame], object], df: pd.DataFrame, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn(df)
        times.append(time.perf_counter() - t0)
    return min(times)


def peak_bytes(fn: Callable[[pd.DataFrame], object], df: pd.DataFrame) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        result = fn(df)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--players", type=int, default=100)
    parser.add_argument("--medias", type=int, default=50)
    parser.add_argument("--days", type=int, default=240)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 million rows, once")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.repeat = 1_000_000, 1  # same shape, 1/20 of the size
        args.players, args.medias, args.days = 20, 25, 120
    df = make_frame(args.rows, args.players, args.medias, args.days)
    frame_bytes = int(df.memory_usage(deep=True).sum())
    result = zero_filled(df)  # warm up, and check it agrees with the baseline
    plain = baseline(df)
    assert result["plays"].sum() == len(df) == plain.sum()
    assert (result["plays"] > 0).sum() == len(plain)
    t_plain = min(best_time(baseline, df, args.repeat), best_time(baseline_floor, df, args.repeat))
    t_ours = best_time(zero_filled, df, args.repeat)
    peak = peak_bytes(zero_filled, df)
    ratio, mem_ratio = t_ours / t_plain, peak / frame_bytes
    mib = 2**20
    print(f"rows: {len(df):,}  frame: {frame_bytes / mib:,.0f} MiB  "
          f"zero-filled result rows: {len(result):,}  non-zero groups: {len(plain):,}")  # fmt: skip
    print(f"plain groupby().size():       {t_plain:6.2f} s")
    print(f"per_player_media(freq='D'):   {t_ours:6.2f} s   = {ratio:.2f}x  (bar {TIME_BAR}x)")
    print(f"peak memory during the call:  {peak / mib:6.0f} MiB = {mem_ratio:.2f}x the frame "
          f"(bar {MEMORY_BAR}x)")  # fmt: skip
    ok = ratio <= TIME_BAR and mem_ratio <= MEMORY_BAR
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
