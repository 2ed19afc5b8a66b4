"""Dates as operators write them: ISO is the language, ``dd/mm/yyyy`` only when asked.

The bug this guards against: ``fetch 01/02/2024 05/02/2024`` fetched 2 January to
1 May (month first, the end read as an exclusive instant).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import fouryousee_data as fy
from conftest import paced_client
from fouryousee_data.cli import main
from fouryousee_data.filters import report_filter
from fouryousee_data.simulator import Simulator
from fouryousee_data.timerange import read_bound, resolve_range


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01/02/2024", dt.date(2024, 2, 1)),
        ("1/2/2024", dt.date(2024, 2, 1)),
        ("31/12/2024", dt.date(2024, 12, 31)),
        (" 05/02/2024 ", dt.date(2024, 2, 5)),
        ("01/02/2024 08:30", pd.Timestamp("2024-02-01 08:30")),
        ("01/02/2024 08:30:15", pd.Timestamp("2024-02-01 08:30:15")),
        ("2024-02-01", dt.date(2024, 2, 1)),  # ISO stays ISO with dayfirst
        ("2024-02-01T08:30", pd.Timestamp("2024-02-01 08:30")),
    ],
)
def test_dayfirst_reads_day_month_year(text: str, expected: object) -> None:
    assert read_bound(text, "start", dayfirst=True) == expected
    assert type(read_bound(text, "start", dayfirst=True)) is type(expected)


@pytest.mark.parametrize("text", ["01/02/2024", "13/02/2024", "01/02/2024 10:00", "2024/02/01"])
def test_a_slashed_date_without_dayfirst_names_the_fix(text: str) -> None:
    with pytest.raises(ValueError, match="dayfirst=True") as info:
        read_bound(text, "start")
    assert "--dayfirst" in str(info.value) and "YYYY-MM-DD" in str(info.value)


def test_the_message_spells_both_readings() -> None:
    with pytest.raises(ValueError) as info:
        resolve_range("01/02/2024", "05/02/2024")
    text = str(info.value)
    assert text.startswith("start: '01/02/2024' is ambiguous (1 February or 2 January?)")
    assert "'2024-02-01' for 1 February" in text


@pytest.mark.parametrize(
    "text",
    ["31/02/2024", "01/13/2024", "01/02/24", "01/02/2024 25:00", "01-02-2024", "1.2.2024"],
)
def test_bad_dayfirst_dates_are_errors(text: str) -> None:
    with pytest.raises(ValueError, match="start: "):
        read_bound(text, "start", dayfirst=True)


@pytest.mark.parametrize(
    "text", ["2024-3-1", "20240301", "Feb 1 2024", "yesterday", "2024-02-30", "now"]
)
def test_non_iso_strings_are_refused(text: str) -> None:
    """pandas would read some of these (``now``, ``Feb 1 2024``, ``2024-3-1`` as an
    instant, so an exclusive end): never silently."""
    with pytest.raises(ValueError, match="start: "):
        read_bound(text, "start")


def test_dayfirst_end_is_inclusive_like_iso() -> None:
    slashed = resolve_range("01/02/2024", "05/02/2024", dayfirst=True)
    assert slashed == resolve_range("2024-02-01", "2024-02-05")
    assert (slashed.start, slashed.end) == (pd.Timestamp("2024-02-01"), pd.Timestamp("2024-02-06"))
    instant = resolve_range("01/02/2024 06:00", "05/02/2024 18:00", dayfirst=True)
    assert instant.end == pd.Timestamp("2024-02-05 18:00")
    assert report_filter("01/02/2024", "05/02/2024", dayfirst=True)["endDate"] == "2024-02-05"


def test_fetch_and_request_report_with_dayfirst(simulator: Simulator, tmp_path: Path) -> None:
    with paced_client(simulator) as client:
        with pytest.raises(ValueError, match="dayfirst"):
            fy.fetch_playlogs("01/03/2024", "03/03/2024", client=client, cache_dir=None)
        with pytest.raises(ValueError, match="dayfirst"):
            client.request_report("01/03/2024", "03/03/2024")
        assert simulator.requests == []  # refused before asking anything
        report = client.request_report("01/03/2024", "03/03/2024", dayfirst=True)
        assert (report.filter["startDate"], report.filter["endDate"]) == (
            "2024-03-01",
            "2024-03-03",
        )
        slashed = fy.fetch_playlogs(
            "01/03/2024", "03/03/2024", client=client, cache_dir=tmp_path, dayfirst=True
        )
        iso = fy.fetch_playlogs("2024-03-01", "2024-03-03", client=client, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(slashed, iso)
    assert slashed["played_at"].dt.date.unique().tolist() == [
        dt.date(2024, 3, 1),
        dt.date(2024, 3, 2),
        dt.date(2024, 3, 3),
    ]


def test_analysis_functions_take_dayfirst() -> None:
    df = fy.read_playlogs(
        b'{"date":"2024-02-01","time":"10:00:00","playerId":1,"mediaId":7}\n'
        b'{"date":"2024-02-05","time":"23:59:59","playerId":1,"mediaId":7}\n'
        b'{"date":"2024-02-06","time":"00:00:00","playerId":1,"mediaId":7}\n'
    )
    assert fy.per_player(df, start="01/02/2024", end="05/02/2024", dayfirst=True)[
        "plays"
    ].tolist() == [2]
    assert fy.per_media(df, start="05/02/2024", dayfirst=True)["plays"].tolist() == [2]
    with pytest.raises(ValueError, match="dayfirst"):
        fy.per_player(df, start="01/02/2024", end="05/02/2024")
    with pytest.raises(ValueError, match="dayfirst"):
        fy.uptime(df, end="05/02/2024")
    daily = fy.per_player(df, freq="D", start="01/02/2024", end="05/02/2024", dayfirst=True)
    assert len(daily) == 5


def test_cli_refuses_slashed_dates_and_reads_them_with_dayfirst(
    simulator: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FOURYOUSEE_TOKEN", simulator.token)
    monkeypatch.setenv("FOURYOUSEE_API_URL", simulator.base_url)
    out = tmp_path / "feb.parquet"
    code = main(["fetch", "01/03/2024", "03/03/2024", "-o", str(out), "--no-cache"])
    _, err = capsys.readouterr()
    assert code == 1 and not out.exists()
    assert err.count("\n") == 1 and "--dayfirst" in err and "ambiguous" in err
    assert simulator.requests == []
    argv = ["fetch", "01/03/2024", "03/03/2024", "--dayfirst", "-o", str(out), "--no-cache"]
    assert main(argv) == 0
    days = pd.read_parquet(out)["played_at"].dt.date.unique()
    assert [str(d) for d in days] == ["2024-03-01", "2024-03-02", "2024-03-03"]


def test_scan_playlogs_takes_dayfirst(simulator: Simulator, tmp_path: Path) -> None:
    with paced_client(simulator) as client:
        fy.fetch_playlogs("2024-03-01", "2024-03-03", client=client, cache_dir=tmp_path)
        with pytest.raises(ValueError, match="dayfirst"):
            fy.scan_playlogs("01/03/2024", "02/03/2024", client=client, cache_dir=tmp_path)
        scan = fy.scan_playlogs(
            "01/03/2024",
            "02/03/2024",
            client=client,
            cache_dir=tmp_path,
            fetch=False,
            dayfirst=True,
        )
        iso = fy.scan_playlogs(
            "2024-03-01", "2024-03-02", client=client, cache_dir=tmp_path, fetch=False
        )
        got, want = scan.df(), iso.df()
    assert len(got) == len(want) > 0
    assert sorted(pd.to_datetime(got["played_at"]).dt.date.unique().tolist()) == [
        dt.date(2024, 3, 1),
        dt.date(2024, 3, 2),
    ]
