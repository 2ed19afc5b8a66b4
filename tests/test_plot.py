"""Charts render to real PNG files with titles, labels and data (Agg backend)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

import fouryousee_data as fy
from conftest import TZ, make_playlog_frame
from fouryousee_data import plot

ROWS = [
    ("2024-01-01 08:05:00", 1, 12),
    ("2024-01-01 09:00:00", 1, 13),
    ("2024-01-01 15:00:00", 2, 12),
    ("2024-01-02 10:00:00", 2, 12),
    ("2024-01-02 11:00:00", 3, 14),
    ("2024-01-03 21:30:00", 1, 12),
]


@pytest.fixture(autouse=True)
def no_show(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Charts never call plt.show(); every figure is closed after the test."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("plt.show() was called")

    monkeypatch.setattr(plt, "show", forbidden)
    yield
    plt.close("all")


def render(ax: Axes, path: Path) -> np.ndarray:
    """Save the figure as PNG and read it back: a real image, not a blank one."""
    ax.figure.savefig(path, dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0.01  # not a single flat colour
    return image


def assert_labelled(ax: Axes) -> None:
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_daily_plays_per_player(tmp_path: Path) -> None:
    names = pd.DataFrame({"player_id": np.array([1], dtype="int32"), "name": ["Lobby"]})
    ax = plot.daily_plays(make_playlog_frame(ROWS), by="player", top=2, names=names)
    assert isinstance(ax, Axes)
    assert_labelled(ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Lobby (1)", "player 2", "1 others"]
    first = ax.get_lines()[0]
    assert first.get_ydata().tolist() == [2, 0, 1]  # zero-filled days
    render(ax, tmp_path / "daily.png")


def test_daily_plays_per_media_on_given_axes_and_tz(tmp_path: Path) -> None:
    _, ax = plt.subplots()
    got = plot.daily_plays(
        make_playlog_frame(ROWS, tz=TZ), by="media", ax=ax, start="2024-01-01", end="2024-01-04"
    )
    assert got is ax and "media" in ax.get_title()
    x = ax.get_lines()[0].get_xdata()
    assert len(x) == 4 and pd.Timestamp(x[0]) == pd.Timestamp("2024-01-01")  # local days
    render(ax, tmp_path / "media.png")
    with pytest.raises(ValueError, match="by"):
        plot.daily_plays(make_playlog_frame(ROWS), by="screen")


def test_heatmap(tmp_path: Path) -> None:
    ax = plot.hour_weekday_heatmap(make_playlog_frame(ROWS))
    assert_labelled(ax)
    data = ax.get_images()[0].get_array()
    assert data.shape == (24, 7) and data.sum() == len(ROWS)
    assert ax.get_xticklabels()[0].get_text() == "Mon"
    render(ax, tmp_path / "heatmap.png")


def test_player_timeline(tmp_path: Path) -> None:
    ax = plot.player_timeline(make_playlog_frame(ROWS), min_gap="2h", player_ids=[1, 2, 9])
    assert_labelled(ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["player 1", "player 2", "player 9"]
    assert len(ax.collections) == 2 * 3  # windows + gaps per player
    render(ax, tmp_path / "timeline.png")


def test_compliance_chart_modes(tmp_path: Path) -> None:
    contract = [
        {"campaign": "Summer", "media_ids": [12], "player_ids": [1, 2], "plays_per_day": 1},
        {"campaign": "Winter", "media_ids": [13], "player_ids": [1], "plays_per_day": 2},
    ]
    df = make_playlog_frame(ROWS)
    df.attrs["provisional_days"] = ["2024-01-03"]
    result = fy.compliance(df, contract)
    per_campaign = plot.compliance_chart(result)
    assert_labelled(per_campaign)
    assert [t.get_text() for t in per_campaign.get_xticklabels()] == ["Summer", "Winter"]
    render(per_campaign, tmp_path / "campaigns.png")
    per_player = plot.compliance_chart(result, campaign="Summer")
    assert "Summer" in per_player.get_title()
    assert len(per_player.patches) == 2 * 2  # delivered + contracted bars per player
    render(per_player, tmp_path / "players.png")
    daily = plot.compliance_chart(result, campaign="Summer", player_id=1)
    assert_labelled(daily)
    hatched = [p for p in daily.patches if p.get_hatch()]
    assert len(hatched) == 1  # the provisional day
    render(daily, tmp_path / "daily.png")
    with pytest.raises(ValueError, match="campaign"):
        plot.compliance_chart(result, campaign="Autumn")


def test_importing_plot_selects_no_backend() -> None:
    code = (
        "import sys, fouryousee_data, fouryousee_data.plot, fouryousee_data.analysis.audit;"
        "print('matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"


def busy_frame(days: int, counts: dict[int, int]) -> pd.DataFrame:
    """``counts[media]`` plays a day for ``days`` days from 2024-02-20 (player 1)."""
    rows = [
        (str(pd.Timestamp("2024-02-20 08:00") + pd.Timedelta(days=d, seconds=k)), 1, media)
        for d in range(days)
        for media, n in counts.items()
        for k in range(n)
    ]
    return make_playlog_frame(rows)


def line_colours(ax: Axes) -> list[tuple[float, ...]]:
    from matplotlib.colors import to_rgba

    axes = [ax, *(other for other in ax.figure.axes if other is not ax)]
    return [to_rgba(line.get_color()) for a in axes for line in a.get_lines()]


def test_daily_plays_never_reuses_a_colour_and_others_keep_their_place(tmp_path: Path) -> None:
    # ten medias shown (the default top) plus two summed into "others": eleven lines
    df = busy_frame(5, {m: 20 - m for m in range(1, 11)} | {11: 3, 12: 2})
    ax = plot.daily_plays(df, by="media", names={1: "Natal 01"})
    colours = line_colours(ax)
    assert len(colours) == 11 and len(set(colours)) == 11
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "2 others"
    assert len(ax.figure.axes) == 1  # small "others" share the axis
    render(ax, tmp_path / "eleven.png")
    for top in (3, 15, 25):  # tab10, tab20, turbo: still one colour each
        many = busy_frame(2, {m: 10 + m for m in range(1, 31)})
        drawn = line_colours(plot.daily_plays(many, by="media", top=top))
        assert len(drawn) == top + 1 and len(set(drawn)) == top + 1
    # "others" twenty times the shown lines: on its own axis, the shown lines keep their scale
    df = busy_frame(5, {1: 30, 2: 25} | {m: 10 for m in range(3, 23)})
    ax = plot.daily_plays(df, by="media", top=2)
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "20 others (right axis)"
    right = [a for a in ax.figure.axes if a is not ax]
    assert len(right) == 1 and right[0].get_ylim()[1] >= 200
    assert ax.get_ylim()[1] < 35  # the top lines fill their axis
    render(ax, tmp_path / "others.png")


@pytest.mark.parametrize("days", [3, 10, 29, 36, 61, 92, 200, 400])
def test_date_ticks_never_collide(days: int) -> None:
    """matplotlib's AutoDateLocator ticked days 25, 29, then "Mar": the labels collided."""
    df = busy_frame(days, {1: 2, 2: 1})
    fig = plt.figure(figsize=(10, 5), layout="constrained")
    plot.daily_plays(df, by="media", ax=fig.add_subplot())
    contract = [{"campaign": "C", "media_ids": [1], "player_ids": [1], "plays_per_day": 2}]
    result = fy.compliance(df, contract)
    narrow = plt.figure(figsize=(8.27, 2.3))  # as wide as the audit PDF's chart
    plot.compliance_chart(result, player_id=1, ax=narrow.add_axes((0.15, 0.2, 0.8, 0.7)),
                          lang="pt-BR")  # fmt: skip
    for figure in (fig, narrow):
        figure.canvas.draw()
        ax = figure.axes[0]
        labels = [t for t in ax.get_xticklabels() if t.get_text() and t.get_visible()]
        assert len(labels) >= 2, [t.get_text() for t in labels]
        boxes = sorted((t.get_window_extent() for t in labels), key=lambda b: b.x0)
        for left, right in itertools.pairwise(boxes):
            assert left.x1 + 2 < right.x0, [t.get_text() for t in labels]
