"""Aggregation (SPEC section 3): per_player, per_media, per_player_media, hour_weekday,
airtime and enrich, on inline frames."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal, assert_index_equal, assert_series_equal

import fouryousee_data as fy
from conftest import FOUR_PLAYS, TZ, make_playlog_frame
from fouryousee_data import analysis
from fouryousee_data.schema import empty_playlogs

ROWS = FOUR_PLAYS


def days(*values: str, tz: str | None = None) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(values, name="period", tz=tz).as_unit("s")


def test_per_player_counts_and_columns() -> None:
    got = fy.per_player(make_playlog_frame(ROWS))
    expected = pd.DataFrame(
        {
            "plays": np.array([2, 2], dtype="int64"),
            "first_played": pd.to_datetime(["2024-01-01 10:00:00", "2024-01-03 23:59:59"]),
            "last_played": pd.to_datetime(["2024-01-01 10:30:00", "2024-01-04 00:00:00"]),
            "active_days": np.array([1, 2], dtype="int64"),
            "distinct_medias": np.array([2, 1], dtype="int64"),
        },
        index=pd.Index(np.array([1, 2], dtype="int32"), name="player_id"),
    ).astype({"first_played": "datetime64[s]", "last_played": "datetime64[s]"})
    assert_frame_equal(got, expected)


def test_daily_zero_fill_with_date_range_inclusive_end() -> None:
    got = fy.per_player(make_playlog_frame(ROWS), freq="D", start="2023-12-31", end="2024-01-03")
    index = pd.MultiIndex.from_product(
        [
            pd.Index(np.array([1, 2], dtype="int32"), name="player_id"),
            days("2023-12-31", "2024-01-01", "2024-01-02", "2024-01-03"),
        ]
    )
    expected = pd.Series([0, 2, 0, 0, 0, 0, 0, 1], index=index, name="plays", dtype="int64")
    assert_series_equal(got["plays"], expected)
    assert got["active_days"].tolist() == [0, 1, 0, 0, 0, 0, 0, 1]


def test_instants_are_half_open() -> None:
    df = make_playlog_frame(ROWS)
    got = fy.per_player(df, start=pd.Timestamp("2024-01-01 10:00"), end="2024-01-04 00:00:00")
    assert got["plays"].tolist() == [2, 1]  # 00:00 on the 4th is excluded
    got = fy.per_player(df, start="2024-01-01 10:00:01", end=dt.date(2024, 1, 4))
    assert got["plays"].tolist() == [1, 2]


def test_freq_without_range_spans_the_data_zero_filled() -> None:
    got = fy.per_media(make_playlog_frame(ROWS), freq="D")
    assert_index_equal(
        got.index.get_level_values("period").unique(),
        days("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"),
    )
    assert got.loc[(7, pd.Timestamp("2024-01-02")), "plays"] == 0
    assert got["plays"].sum() == 4 and len(got) == 2 * 4


def test_listed_ids_exactly() -> None:
    df = make_playlog_frame(ROWS)
    got = fy.per_player(df, freq="D", start="2024-01-01", end="2024-01-02", player_ids=[2, 99, 2])
    assert got.index.get_level_values("player_id").unique().tolist() == [2, 99]
    assert (got["plays"] == 0).all() and len(got) == 4
    by_media = fy.per_media(df, media_ids=[8, 9])
    assert by_media["plays"].to_dict() == {8: 1, 9: 0}
    # the other id list is a row filter
    assert fy.per_player(df, media_ids=[8])["plays"].to_dict() == {1: 1, 2: 0}


def test_per_player_media_is_the_full_product() -> None:
    got = fy.per_player_media(
        make_playlog_frame(ROWS), freq="D", start="2024-01-01", end="2024-01-01"
    )
    assert got.index.names == ["player_id", "media_id", "period"]
    assert got["plays"].tolist() == [1, 1, 0, 0]
    assert got.index.get_level_values("media_id").dtype == np.dtype("int32")


@pytest.mark.parametrize(
    ("freq", "expected"),
    [
        ("W", ["2024-01-01", "2024-01-08"]),  # weeks ending Sunday -> Monday starts
        ("W-WED", ["2023-12-28", "2024-01-04"]),
        ("MS", ["2024-01-01", "2024-02-01"]),
        ("ME", ["2024-01-01", "2024-02-01"]),
        ("2D", ["2024-01-01", "2024-01-03", "2024-01-05", "2024-01-07", "2024-01-09"]),
    ],
)
def test_anchored_periods_are_bucket_starts(freq: str, expected: list[str]) -> None:
    df = make_playlog_frame([("2024-01-01 08:00:00", 1, 7), ("2024-01-04 09:00:00", 1, 7)])
    end = "2024-02-01" if "M" in freq else "2024-01-09"
    got = fy.per_player(df, freq=freq, start="2024-01-01", end=end)
    assert_index_equal(got.index.get_level_values("period"), days(*expected))
    assert got["plays"].sum() == 2


def test_hourly_with_instants() -> None:
    got = fy.per_player(
        make_playlog_frame(ROWS), freq="h", start="2024-01-01 09:30:00", end="2024-01-01 11:00:00"
    )
    assert got.xs(1)["plays"].tolist() == [0, 2]
    assert "active_days" not in got.columns  # meaningless below a day


def test_tz_aware_frame() -> None:
    df = make_playlog_frame(ROWS, tz=TZ)
    got = fy.per_player(df, freq="D", start="2024-01-01", end="2024-01-04")
    assert_index_equal(
        got.index.get_level_values("period").unique(),
        days("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", tz=TZ),
    )
    assert got["plays"].tolist() == [2, 0, 0, 0, 0, 0, 1, 1]
    assert str(got["first_played"].dtype) == f"datetime64[s, {TZ}]"
    assert got["first_played"].iloc[0] == pd.Timestamp("2024-01-01 10:00", tz=TZ)
    # an aware bound is converted to the frame's zone
    aware = pd.Timestamp("2024-01-01 13:15", tz="UTC")  # 10:15 in Sao Paulo
    assert fy.per_player(df, start=aware, end="2024-01-04")["plays"].tolist() == [1, 2]


def test_dst_hours_are_wall_clock_buckets() -> None:
    ny = "America/New_York"
    spring = make_playlog_frame(
        [("2024-03-10 01:30:00", 1, 7), ("2024-03-10 03:10:00", 1, 7)], tz=ny
    )
    got = fy.per_player(spring, freq="h", start="2024-03-10", end="2024-03-10")
    periods = got.index.get_level_values("period")
    assert len(periods) == 23 and periods.is_unique  # 02:00 does not exist that day
    assert got.loc[(1, pd.Timestamp("2024-03-10 03:00", tz=ny)), "plays"] == 1
    autumn = make_playlog_frame([("2024-11-03 01:30:00", 1, 7)], tz=ny)
    got = fy.per_player(autumn, freq="h", start="2024-11-03", end="2024-11-03")
    assert len(got) == 24 and got["plays"].sum() == 1


def test_nanosecond_frames_work_too() -> None:
    df = make_playlog_frame(ROWS)
    df["played_at"] = df["played_at"].astype("datetime64[ns]")
    got = fy.per_player(df, freq="D")
    assert got.index.get_level_values("period").dtype == np.dtype("datetime64[ns]")
    assert got["plays"].sum() == 4


def test_empty_frames() -> None:
    got = fy.per_player(empty_playlogs(), freq="D")
    assert got.empty and got.index.names == ["player_id", "period"]
    assert got["plays"].dtype == np.dtype("int64")
    got = fy.per_player(empty_playlogs(), freq="D", start="2024-01-01", end="2024-01-02",
                        player_ids=[5])  # fmt: skip
    assert got["plays"].tolist() == [0, 0]
    assert fy.per_media(empty_playlogs(TZ), media_ids=[3])["plays"].tolist() == [0]


def test_bad_arguments_name_themselves() -> None:
    df = make_playlog_frame(ROWS)
    with pytest.raises(ValueError, match="freq"):
        fy.per_player(df, freq="fortnightly")
    with pytest.raises(ValueError, match="freq"):
        fy.per_media(df, freq="bh")
    with pytest.raises(ValueError, match="before start"):
        fy.per_player(df, start="2024-01-05", end="2024-01-01")
    with pytest.raises(ValueError, match="player_ids"):
        fy.per_player(df, player_ids="1,2")
    with pytest.raises(ValueError, match="played_at"):
        fy.per_player(df.drop(columns="played_at"))
    with pytest.raises(ValueError, match="NaT"):
        fy.per_player(df.assign(played_at=df["played_at"].where(df["player_id"] == 1)))
    assert fy.per_player(df, player_ids=2)["plays"].tolist() == [2]  # one id is a list of one


def test_hour_weekday() -> None:
    got = fy.hour_weekday(make_playlog_frame(ROWS, tz=TZ), player_ids=[2])
    assert got.shape == (24, 7) and got.columns.tolist()[0] == "Mon"
    assert got.loc[23, "Wed"] == 1 and got.loc[0, "Thu"] == 1 and got.to_numpy().sum() == 2
    assert fy.hour_weekday(make_playlog_frame(ROWS), end="2024-01-01").to_numpy().sum() == 2


def test_airtime() -> None:
    medias = pd.DataFrame(
        {"media_id": np.array([7, 8], dtype="int32"), "name": ["a", "b"], "duration_s": [10, None]}
    )
    got = fy.airtime(make_playlog_frame(ROWS), medias, by="media")
    assert got.to_dict("index") == {
        7: {"plays": 3, "airtime_s": 30.0, "unknown_duration_plays": 0},
        8: {"plays": 1, "airtime_s": 0.0, "unknown_duration_plays": 1},
    }
    daily = fy.airtime(make_playlog_frame(ROWS), {7: 15}, freq="D")
    assert daily.index.names == ["player_id", "period"]
    assert daily["airtime_s"].sum() == 45.0
    with pytest.raises(ValueError, match="by"):
        fy.airtime(make_playlog_frame(ROWS), {}, by="screen")


PLAYERS = pd.DataFrame(
    {
        "player_id": np.array([1], dtype="int32"),
        "name": ["Lobby"],
        "group_name": ["North"],
        "platform": ["android"],
        "last_log_received": [pd.Timestamp("2024-01-01 10:00")],
    }
)
MEDIAS = pd.DataFrame(
    {
        "media_id": np.array([7], dtype="int32"),
        "name": ["Promo"],
        "duration_s": [15.0],
        "categories": [["ads", "food"]],
    }
)


class FakeClient:
    """Only what enrich needs from a Client: players() and medias() frames."""

    def players(self) -> pd.DataFrame:
        return PLAYERS

    def medias(self) -> pd.DataFrame:
        return MEDIAS


def test_enrich_keeps_unknown_ids() -> None:
    df = make_playlog_frame(ROWS)
    got = fy.enrich(df, PLAYERS, MEDIAS)
    assert len(got) == len(df) and got.columns[: len(df.columns)].tolist() == df.columns.tolist()
    assert got["player_name"].tolist() == ["Lobby", "Lobby", "unknown player 2", "unknown player 2"]
    assert got["player_known"].tolist() == [True, True, False, False]
    assert got["group_name"].tolist() == ["North", "North", "unknown", "unknown"]
    assert got["media_name"].tolist() == ["Promo", "unknown media 8", "Promo", "Promo"]
    assert got["duration_s"].isna().tolist() == [False, True, False, False]
    assert got["categories"].iloc[0] == "ads, food"
    assert isinstance(got["player_name"].dtype, pd.CategoricalDtype)
    # grouping by name never drops the unknown screen's plays
    assert got.groupby("player_name", observed=True).size().sum() == len(df)


def test_enrich_aggregates_and_clients() -> None:
    table = fy.per_player(make_playlog_frame(ROWS))
    got = fy.enrich(table, FakeClient())
    assert got["player_name"].tolist() == ["Lobby", "unknown player 2"]
    assert "media_name" not in got.columns  # nothing to join medias on
    got = fy.enrich(fy.per_player_media(make_playlog_frame(ROWS)), client=FakeClient())
    assert got["media_name"].tolist() == ["Promo", "unknown media 8"] * 2
    with pytest.raises(ValueError, match="media_id"):
        fy.enrich(table, medias=MEDIAS)
    with pytest.raises(ValueError, match="players"):
        fy.enrich(table, players=42)


def test_enrich_repeated_ids_in_table_keep_the_last_row() -> None:
    players = pd.DataFrame(
        {"player_id": np.array([1, 2, 1], dtype="int32"), "name": ["Old", "Hall", "Lobby"]}
    )
    got = fy.enrich(make_playlog_frame(ROWS), players)
    assert got["player_name"].tolist() == ["Lobby", "Lobby", "Hall", "Hall"]
    assert got["player_known"].all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 20 * 24 * 60), st.integers(1, 4), st.integers(1, 3)),
        max_size=60,
    ),
    st.sampled_from(["h", "D", "W", "MS", "3D"]),
)
def test_matches_a_groupby_reference(rows: list[tuple[int, int, int]], freq: str) -> None:
    base = pd.Timestamp("2024-02-20")
    df = make_playlog_frame([(str(base + pd.Timedelta(minutes=m)), p, md) for m, p, md in rows])
    got = fy.per_player_media(df, freq=freq, start="2024-02-20", end="2024-03-11")
    assert len(got) == got.index.levshape[0] * got.index.levshape[1] * got.index.levshape[2]
    assert got["plays"].sum() == len(df)
    if df.empty:
        return
    t = df["played_at"]
    if freq == "W":
        bucket = t.dt.to_period("W").dt.start_time
    elif freq == "MS":
        bucket = t.dt.to_period("M").dt.start_time
    elif freq == "3D":
        bucket = base + ((t - base) // pd.Timedelta(days=3)) * pd.Timedelta(days=3)
    else:
        bucket = t.dt.floor(freq)
    reference = df.groupby(["player_id", "media_id", bucket.rename("period")]).size()
    nonzero = got["plays"][got["plays"] > 0]
    assert nonzero.to_dict() == reference.to_dict()


def test_module_exports() -> None:
    functions = [n for n in analysis.__all__ if inspect.isfunction(getattr(analysis, n))]
    assert {"gaps", "uptime", "compliance", "read_contract", "per_player"} <= set(functions)
    for name in functions:
        assert getattr(fy, name) is getattr(analysis, name)
    with pytest.raises(AttributeError):
        analysis.nothing_here  # noqa: B018


MODULES = [
    "analysis",
    "analysis.counts",
    "analysis.names",
    "analysis.health",
    "analysis.audit",
    "analysis.audit_report",
    "export",
    "plot",
]
#: The modules whose every public function the user docs name (README or docs/).
USER_FACING = {"analysis", "analysis.audit", "export", "plot"}


@pytest.mark.parametrize("module", MODULES)
def test_public_functions_documented(module: str) -> None:
    """Every public function has an Examples section; the user-facing ones a line in the
    README or the docs."""
    root = Path(__file__).resolve().parents[1]
    pages = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    text = "\n".join(p.read_text(encoding="utf-8") for p in pages if p.is_file())
    mod = importlib.import_module(f"fouryousee_data.{module}")
    for name in mod.__all__:
        obj = getattr(mod, name)
        if not inspect.isfunction(obj):
            continue
        assert "Examples\n" in (obj.__doc__ or ""), f"{module}.{name} has no Examples"
        if module in USER_FACING:
            documented = re.search(rf"[`.]{name}\(", text)  # `name(...)` or `module.name(...)`
            assert documented, f"{module}.{name} is not in the README or the docs"
