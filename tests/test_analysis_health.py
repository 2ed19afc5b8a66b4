"""Screen health: gaps inside opening hours and uptime per player per day."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import fouryousee_data as fy
from conftest import TZ, make_playlog_frame
from fouryousee_data.analysis import health

ROWS = [
    ("2024-01-01 08:10:00", 1, 7),
    ("2024-01-01 09:00:00", 1, 7),
    ("2024-01-01 12:00:00", 1, 8),
    ("2024-01-01 21:50:00", 1, 7),
    ("2024-01-02 07:00:00", 2, 7),  # before opening: ignored
    ("2024-01-02 08:00:00", 2, 7),
]


def ts(*values: str, tz: str | None = None) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(values, tz=tz).as_unit("s")


def test_gaps_exact() -> None:
    got = fy.gaps(make_playlog_frame(ROWS), min_gap="1h")
    expected = pd.DataFrame(
        {
            "player_id": np.array([1, 1, 1, 2, 2], dtype="int32"),
            "day": ts("2024-01-01", "2024-01-01", "2024-01-02", "2024-01-01", "2024-01-02"),
            "gap_start": ts(
                "2024-01-01 09:00",
                "2024-01-01 12:00",
                "2024-01-02 08:00",
                "2024-01-01 08:00",
                "2024-01-02 08:00",
            ),
            "gap_end": ts(
                "2024-01-01 12:00",
                "2024-01-01 21:50",
                "2024-01-02 22:00",
                "2024-01-01 22:00",
                "2024-01-02 22:00",
            ),
        }
    )
    expected["duration"] = expected["gap_end"] - expected["gap_start"]
    assert_frame_equal(got, expected)


def test_uptime_every_player_and_day() -> None:
    got = fy.uptime(make_playlog_frame(ROWS), min_gap="1h")
    assert got.index.names == ["player_id", "day"] and len(got) == 4
    one = got.loc[(1, pd.Timestamp("2024-01-01"))]
    assert one["plays"] == 4 and one["gaps"] == 2 and one["open_s"] == 14 * 3600
    assert one["silent_s"] == (3 * 60 + 9 * 60 + 50) * 60
    assert one["uptime_pct"] == pytest.approx(100 * (1 - one["silent_s"] / one["open_s"]))
    assert got["uptime_pct"].tolist()[1:] == [0.0, 0.0, 0.0]
    assert got.loc[(2, pd.Timestamp("2024-01-02")), "plays"] == 1  # the 07:00 play is outside


def test_listed_player_without_plays_is_dark() -> None:
    got = fy.uptime(
        make_playlog_frame(ROWS), player_ids=[1, 3], start="2024-01-01", end="2024-01-01"
    )
    assert got["uptime_pct"].tolist() == [pytest.approx(got["uptime_pct"].iloc[0]), 0.0]
    g = fy.gaps(make_playlog_frame(ROWS), player_ids=[3], start="2024-01-01", end="2024-01-02")
    assert g["duration"].tolist() == [pd.Timedelta(hours=14)] * 2


def test_unsorted_input_gives_the_same_result() -> None:
    df = make_playlog_frame(ROWS)
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert_frame_equal(fy.gaps(shuffled, "1h"), fy.gaps(df, "1h"))
    assert_frame_equal(fy.uptime(shuffled, "1h"), fy.uptime(df, "1h"))


def test_overnight_and_per_player_hours() -> None:
    rows = [("2024-01-01 23:00:00", 1, 7), ("2024-01-02 01:30:00", 1, 7)]
    got = fy.gaps(
        make_playlog_frame(rows), "1h", ("22:00", "02:00"), start="2024-01-01", end="2024-01-01"
    )
    assert got[["gap_start", "gap_end"]].astype(str).values.tolist() == [
        ["2024-01-01 22:00:00", "2024-01-01 23:00:00"],
        ["2024-01-01 23:00:00", "2024-01-02 01:30:00"],
    ]
    per_player = {1: (dt.time(23, 0), dt.time(23, 30))}
    up = fy.uptime(
        make_playlog_frame(rows), "10min", per_player, start="2024-01-01", end="2024-01-01"
    )
    assert up["open_s"].tolist() == [1800.0] and up["silent_s"].tolist() == [1800.0]
    table = pd.DataFrame({"player_id": [1], "open": ["00:00"], "close": ["24:00"]})
    up = fy.uptime(make_playlog_frame(rows), "3h", table, start="2024-01-01", end="2024-01-01")
    assert up["open_s"].tolist() == [86400.0] and up["gaps"].tolist() == [1]
    up = fy.uptime(make_playlog_frame(rows), "3h", None, start="2024-01-01", end="2024-01-01")
    assert up["open_s"].tolist() == [86400.0]


def test_weekly_schedules_close_the_days_they_omit() -> None:
    # 2024-01-06 is a Saturday, 2024-01-07 a Sunday
    rows = [("2024-01-06 09:30:00", 1, 7), ("2024-01-08 01:00:00", 1, 7)]
    week = {"Mon-Fri": ("08:00", "22:00"), "Sat": ("09:00", "14:00")}
    up = fy.uptime(make_playlog_frame(rows), "1h", week, start="2024-01-06", end="2024-01-08")
    assert up["open_s"].tolist() == [5 * 3600.0, 0.0, 14 * 3600.0]
    assert up["uptime_pct"].isna().tolist() == [False, True, False]  # closed Sunday
    assert up["plays"].tolist() == [1, 0, 0]  # the Monday 01:00 play is outside hours
    # a Saturday night window runs past midnight into Sunday
    late = {1: {"Sat": ("20:00", "02:00")}, 2: {"Sun-Mon": ("10:00", "11:00")}}
    rows = [("2024-01-07 01:00:00", 1, 7), ("2024-01-08 10:30:00", 2, 7)]
    up = fy.uptime(make_playlog_frame(rows), "2h", late, start="2024-01-06", end="2024-01-08")
    assert up.loc[1, "plays"].tolist() == [1, 0, 0]
    assert up.loc[2, "open_s"].tolist() == [0.0, 3600.0, 3600.0]
    assert up.loc[2, "plays"].tolist() == [0, 0, 1]
    table = pd.DataFrame(
        {"player_id": [1, 1], "weekday": ["Sat", "sun"], "open": ["09:00"] * 2,
         "close": ["10:00"] * 2}
    )  # fmt: skip
    up = fy.uptime(make_playlog_frame(rows), "2h", table, start="2024-01-05", end="2024-01-07")
    assert up.loc[1, "open_s"].tolist() == [0.0, 3600.0, 3600.0]
    with pytest.raises(ValueError, match="weekday"):
        fy.uptime(make_playlog_frame(rows), "1h", {"Weekend": ("08:00", "22:00")})


def test_instants_clip_the_windows() -> None:
    up = fy.uptime(
        make_playlog_frame(ROWS), "1h", start="2024-01-01 12:00:00", end="2024-01-01 23:00:00"
    )
    assert up.loc[1, "open_s"].tolist() == [10 * 3600.0]
    assert up.loc[1, "silent_s"].tolist() == [(9 * 60 + 50) * 60.0]


def test_tz_aware_frames() -> None:
    got = fy.gaps(make_playlog_frame(ROWS, tz=TZ), "1h")
    assert str(got["gap_start"].dtype) == f"datetime64[s, {TZ}]"
    assert got["gap_start"].iloc[0] == pd.Timestamp("2024-01-01 09:00", tz=TZ)
    assert got["day"].iloc[0] == pd.Timestamp("2024-01-01", tz=TZ)
    assert len(got) == 5


def test_empty_frame() -> None:
    assert fy.gaps(fy.empty_playlogs()).empty
    up = fy.uptime(fy.empty_playlogs(), player_ids=[4], start="2024-01-01", end="2024-01-01")
    assert up["uptime_pct"].tolist() == [0.0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_gap": "soon"}, "min_gap"),
        ({"min_gap": "-5min"}, "min_gap"),
        ({"opening_hours": ("8h", "22:00")}, "opening_hours"),
        ({"opening_hours": "08:00-22:00"}, "opening_hours"),
        ({"opening_hours": ("25:00", "22:00")}, "opening_hours"),
        ({"opening_hours": pd.DataFrame({"player_id": [1]})}, "opening_hours"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fy.gaps(make_playlog_frame(ROWS), **kwargs)  # type: ignore[arg-type]


def test_default_hours_documented() -> None:
    assert health.DEFAULT_OPENING_HOURS == ("08:00", "22:00")
