"""Charts render to real PNG files with titles, labels and data (Agg backend)."""

from __future__ import annotations

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
