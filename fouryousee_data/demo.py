"""``fouryousee-data demo``: the main job end to end against an in-process simulator.

No token and no network: fetch more than 30 days (report windows), fetch them again
from the cache (zero report requests), print plays per player and per media, write
Parquet and PNG charts to a folder it names (default: a new folder in the system's
temp folder, with the user's normal permissions).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

import fouryousee_data as fy
from fouryousee_data import export

__all__ = ["DEMO_NOW", "DEMO_TZ", "add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``fouryousee-data demo``."""
    p.add_argument("--out", type=Path, default=None, help="output folder (default: a new temp dir)")
    p.add_argument("--days", type=int, default=60, help="days to fetch (default 60)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


#: The demo's fixed simulated clock (the same demo every time) and its account time zone.
DEMO_NOW = dt.datetime(2024, 7, 1, 15, 0, tzinfo=dt.UTC)
DEMO_TZ = "America/Sao_Paulo"


def run(args: argparse.Namespace) -> int:
    """The main job end to end against an in-process simulator: no token, no network."""
    from fouryousee_data.simulator import Simulator

    if not 1 <= args.days <= 366:
        raise ValueError(f"--days must be between 1 and 366, got {args.days}")
    out = args.out or export.new_folder("fouryousee-demo-")
    out.mkdir(parents=True, exist_ok=True)
    last = (DEMO_NOW - dt.timedelta(days=3)).date()
    first = last - dt.timedelta(days=args.days - 1)
    print(f"demo: an in-process 4YouSee simulator; fetching {first}..{last} ({args.days} days)")
    with (
        Simulator(seed=42, players=6, medias=12, tz=DEMO_TZ, report_delay=0.3, now=DEMO_NOW) as sim,
        fy.Client(token=sim.token, base_url=sim.base_url) as client,
    ):

        def fetch() -> pd.DataFrame:
            return fy.fetch_playlogs(
                first,
                last,
                client=client,
                cache_dir=out / "cache",
                tz=DEMO_TZ,
                progress=False if args.no_progress else None,
                poll_interval=0.05,
            )

        t0 = time.perf_counter()
        df = fetch()
        t1 = time.perf_counter()
        print(
            f"run 1: {len(df):,} playlogs from {len(df.attrs['report_ids'])} report(s) "
            f"({len(df.attrs['fetched_days'])} days fetched, windows of at most 30 days) "
            f"in {t1 - t0:.1f} s"
        )
        sim.reset_requests()
        df = fetch()
        t2 = time.perf_counter()
        posts = sum(1 for r in sim.requests if r.method == "POST")
        print(
            f"run 2: {len(df):,} playlogs, {len(df.attrs['cached_days'])} days from the cache "
            f"in {t2 - t1:.2f} s: {posts} report requests, {len(sim.requests)} HTTP requests"
        )
        players, medias = client.players(), client.medias()
    _print_demo_tables(df, players, medias)
    export.write(df, out / "playlogs.parquet")
    charts = _draw_demo_charts(df, players, medias, out)
    print(f"\nwrote playlogs.parquet, {', '.join(charts)} and the cache to {out}")
    return 0


def _print_demo_tables(df: pd.DataFrame, players: pd.DataFrame, medias: pd.DataFrame) -> None:
    player_names = players.set_index("player_id")["name"].rename("player")
    media_names = medias.set_index("media_id")["name"].rename("media")
    columns = ["plays", "active_days", "first_played", "last_played"]
    print("\nplays per player:")
    print(fy.per_player(df)[columns].join(player_names).to_string())
    print("\nplays per media (top 10):")
    by_media = fy.per_media(df).sort_values("plays", ascending=False).head(10)
    print(by_media[columns].join(media_names).to_string())


def _draw_demo_charts(
    df: pd.DataFrame, players: pd.DataFrame, medias: pd.DataFrame, out: Path
) -> list[str]:
    """The demo's PNG charts in ``out``; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no window, no display needed
    import matplotlib.pyplot as plt

    from fouryousee_data import plot

    charts: dict[str, Callable[[Any], object]] = {
        "daily_plays_per_player.png": lambda ax: plot.daily_plays(
            df, by="player", ax=ax, names=players
        ),
        "daily_plays_per_media.png": lambda ax: plot.daily_plays(
            df, by="media", ax=ax, names=medias
        ),
        "hour_weekday_heatmap.png": lambda ax: plot.hour_weekday_heatmap(df, ax=ax),
    }
    for name, draw in charts.items():
        fig, ax = plt.subplots(figsize=(10, 5))
        draw(ax)
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
    return list(charts)
