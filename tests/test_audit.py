"""Proof-of-play audit: contract table, compliance, Excel and PDF reports."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import fouryousee_data as fy
from conftest import TZ, make_playlog_frame
from fouryousee_data import export
from fouryousee_data.analysis import audit

ROWS = [
    ("2024-01-01 10:00:00", 1, 12),
    ("2024-01-01 11:00:00", 1, 13),
    ("2024-01-01 12:00:00", 1, 99),  # not the campaign's media
    ("2024-01-02 10:00:00", 2, 12),
    ("2024-01-02 10:00:00", 3, 12),  # not the campaign's player
    ("2024-01-03 10:00:00", 1, 12),
]
CONTRACT = [
    {"campaign": "Summer", "media_ids": "12, 13", "player_ids": [1, 2], "plays_per_day": 2},
]


def days(*values: str, tz: str | None = None) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(values, tz=tz).as_unit("s")


def test_compliance_exact() -> None:
    df = make_playlog_frame(ROWS)
    df.attrs["provisional_days"] = ["2024-01-03"]
    got = fy.compliance(df, CONTRACT)
    index = pd.MultiIndex.from_arrays(
        [
            ["Summer"] * 6,
            np.array([1, 1, 1, 2, 2, 2], dtype="int32"),
            days(*["2024-01-01", "2024-01-02", "2024-01-03"] * 2),
        ],
        names=["campaign", "player_id", "day"],
    )
    expected = pd.DataFrame(
        {
            "delivered": np.array([2, 0, 1, 0, 1, 0], dtype="int64"),
            "contracted": [2.0] * 6,
            "shortfall": [0.0, 2.0, 1.0, 2.0, 1.0, 2.0],
            "delivery_rate": [1.0, 0.0, 0.5, 0.0, 0.5, 0.0],
            "provisional": [False, False, True] * 2,
        },
        index=index,
    )
    assert_frame_equal(got, expected)


def test_provisional_argument_and_range() -> None:
    got = fy.compliance(
        make_playlog_frame(ROWS),
        CONTRACT,
        start="2024-01-02",
        end="2024-01-05",
        provisional_days=["2024-01-05"],
    )
    assert got.xs(1, level="player_id")["delivered"].tolist() == [0, 1, 0, 0]
    assert got["provisional"].sum() == 2  # one day x two players


def test_per_period_targets_are_spread_over_days() -> None:
    contract = pd.DataFrame(
        {
            "campaign": ["weekly", "monthly", "flight"],
            "media_ids": [[12], [12], [12]],
            "player_ids": ["1", "1", "1"],
            "plays": [700, 310, 30],
            "period": ["W", "MS", "campaign"],
            "start": [None, None, "2024-01-01"],
            "end": [None, None, "2024-01-10"],
        }
    )
    got = fy.compliance(make_playlog_frame(ROWS), contract, start="2024-01-01", end="2024-01-03")
    assert got.loc["weekly", "contracted"].tolist() == [100.0] * 3
    assert got.loc["monthly", "contracted"].tolist() == [10.0] * 3
    assert got.loc["flight", "contracted"].tolist() == [3.0] * 3


def test_flight_dates_limit_each_campaign() -> None:
    contract = [
        {**CONTRACT[0], "start": "2024-01-02", "end": "2024-01-10"},
        {"campaign": "Old", "media_ids": 12, "player_ids": 1, "plays_per_day": 1,
         "start": "2023-01-01", "end": "2023-01-31"},
    ]  # fmt: skip
    got = fy.compliance(make_playlog_frame(ROWS), contract, start="2024-01-01", end="2024-01-03")
    assert got.index.get_level_values("campaign").unique().tolist() == ["Summer"]
    assert got.index.get_level_values("day").unique().tolist() == list(
        days("2024-01-02", "2024-01-03")
    )
    # no global range: the flight itself, zero-filled past the data
    got = fy.compliance(make_playlog_frame(ROWS), contract[:1])
    assert len(got) == 2 * 9 and got["delivered"].sum() == 2


def test_tz_aware_frames_and_names() -> None:
    players = pd.DataFrame({"player_id": np.array([1], dtype="int32"), "name": ["Lobby"]})
    got = fy.compliance(make_playlog_frame(ROWS, tz=TZ), CONTRACT, players=players)
    assert got.index.get_level_values("day")[0] == pd.Timestamp("2024-01-01", tz=TZ)
    assert got["player_name"].unique().tolist() == ["Lobby", "unknown player 2"]
    assert got["delivered"].sum() == 4


def test_player_names_repeated_ids_and_missing_name_column() -> None:
    players = pd.DataFrame(
        {"player_id": np.array([2, 1, 2], dtype="int32"), "name": ["Old", "Lobby", "Hall"]}
    )
    got = fy.compliance(make_playlog_frame(ROWS), CONTRACT, players=players)
    assert got.columns[0] == "player_name"
    assert got["player_name"].unique().tolist() == ["Lobby", "Hall"]  # the last row wins
    with pytest.raises(ValueError, match="players: expected a 'name' column"):
        fy.compliance(make_playlog_frame(ROWS), CONTRACT, players=players.drop(columns="name"))


def test_summary() -> None:
    got = audit.summary(fy.compliance(make_playlog_frame(ROWS), CONTRACT))
    assert got.loc[("Summer", 1)].to_dict() == {
        "delivered": 3,
        "contracted": 6.0,
        "shortfall": 3.0,
        "delivery_rate": 0.5,
        "days": 3,
        "days_short": 2,
        "provisional_days": 0,
    }


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ({"media_ids": "12"}, "player_ids"),
        ({"media_ids": "a, b", "player_ids": "1"}, "media_ids"),
        ({"media_ids": "", "player_ids": "1", "plays_per_day": 1}, r"media_ids .* empty"),
        ({"media_ids": "1", "player_ids": "1"}, "plays_per_day or plays"),
        (
            {"media_ids": "1", "player_ids": "1", "plays_per_day": 1, "plays": 7, "period": "W"},
            "either",
        ),
        ({"media_ids": "1", "player_ids": "1", "plays": 7, "period": "fortnight"}, "period"),
        ({"media_ids": "1", "player_ids": "1", "plays": 7, "period": "campaign"}, "start and end"),
        ({"media_ids": "1", "player_ids": "1", "plays_per_day": -1}, "negative"),
        (
            {
                "media_ids": "1",
                "player_ids": "1",
                "plays_per_day": 1,
                "start": "2024-02-01",
                "end": "2024-01-01",
            },
            "before",
        ),
    ],
)
def test_contract_errors_name_the_problem(row: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        audit.read_contract([{"campaign": "C", **row}])


def test_contract_from_files(tmp_path: Path) -> None:
    path = tmp_path / "contract.csv"
    path.write_text(
        'campaign,media_ids,player_ids,plays,period\nSummer,"12,13",1,700,W\n', encoding="utf-8"
    )
    table = audit.read_contract(path)
    assert table.loc[0, "media_ids"] == (12, 13) and table.loc[0, "player_ids"] == (1,)
    export.to_excel(pd.read_csv(path), tmp_path / "contract.xlsx")
    assert audit.read_contract(tmp_path / "contract.xlsx").equals(table)
    with pytest.raises(ValueError, match=r"duplicate|unique"):
        audit.read_contract([CONTRACT[0], CONTRACT[0]])


def test_excel_one_sheet_per_campaign(tmp_path: Path) -> None:
    contract = [CONTRACT[0], {**CONTRACT[0], "campaign": "Winter: promo/2"}]
    result = fy.compliance(make_playlog_frame(ROWS, tz=TZ), contract)
    path = audit.to_excel(result, tmp_path / "audit.xlsx", lang="en")
    book = pd.read_excel(path, sheet_name=None)
    assert list(book) == ["Campaigns", "Screens", "Summer", "Winter_ promo_2"]
    sheet = book["Summer"]
    assert sheet.columns.tolist()[:3] == ["Player ID", "Day", "Contracted plays"]
    assert sheet["Delivered plays"].tolist() == [2, 0, 1, 0, 1, 0]
    assert book["Screens"]["Delivered plays"].tolist() == [3, 1, 3, 1]
    assert book["Campaigns"]["Delivered plays"].tolist() == [4, 4]


@pytest.mark.slow
def test_pdf_cover_and_one_page_per_player(tmp_path: Path) -> None:
    contract = [
        {**CONTRACT[0], "player_ids": [1]},
        {**CONTRACT[0], "campaign": "Winter", "player_ids": [2]},
    ]
    df = make_playlog_frame(ROWS)
    df.attrs["provisional_days"] = ["2024-01-03"]
    result = fy.compliance(df, contract, start="2023-11-25", end="2024-01-03")  # 40 days
    path = audit.to_pdf(result.loc[["Summer"]], tmp_path / "summer.pdf")
    assert pdf_pages(path.read_bytes()) == 1 + 1  # summary + one page: 40 days fit on it
    result = fy.compliance(df, contract, start="2023-11-04", end="2024-01-03")  # 61 days
    path = audit.to_pdf(result, tmp_path / "audit.pdf", title="Audit for ACME")
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    assert pdf_pages(data) == 1 + 2 * 2  # summary + 2 campaigns x (chart page + continuation)
    assert not list(tmp_path.glob(".*.tmp*"))  # written atomically


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
