"""Exports: Parquet, CSV (incl. Brazilian Excel's dialect) and Excel, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import fouryousee_data as fy
from conftest import FOUR_PLAYS, TZ, make_playlog_frame
from fouryousee_data import export
from fouryousee_data._fileio import atomic_write

ROWS = FOUR_PLAYS


def test_parquet_round_trips_playlogs_and_aggregates(tmp_path: Path) -> None:
    df = make_playlog_frame(ROWS, tz=TZ)
    df["ip"] = pd.Categorical(["10.0.0.1"] * len(df))
    back = pd.read_parquet(export.to_parquet(df, tmp_path / "raw.parquet"))
    # Parquet has no second unit: times come back as milliseconds, same instants
    assert back["played_at"].dtype == f"datetime64[ms, {TZ}]"
    assert_frame_equal(seconds(back), df)
    table = fy.per_player(df, freq="D")
    back = pd.read_parquet(export.to_parquet(table, tmp_path / "agg.parquet"))
    assert_frame_equal(seconds(back.reset_index()), table.reset_index())


def seconds(df: pd.DataFrame) -> pd.DataFrame:
    """Datetime columns back to second resolution."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col].dtype):
            out[col] = out[col].dt.as_unit("s")
    return out


def test_csv_brazilian_excel(tmp_path: Path) -> None:
    table = fy.per_player(make_playlog_frame(ROWS, tz=TZ), freq="D").head(2)
    table["share"] = [0.25, 1.5]
    raw = export.to_csv(table, tmp_path / "br.csv", brazil=True).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0].split(";")[:3] == ["player_id", "period", "plays"]
    assert lines[1].split(";")[1] == "2024-01-01"  # local day, no offset
    assert lines[1].split(";")[3] == "2024-01-01 10:00:00"  # first_played, local
    assert lines[1].endswith(";0,25") and lines[2].endswith(";1,5")
    back = pd.read_csv(tmp_path / "br.csv", sep=";", decimal=",", encoding="utf-8-sig")
    assert back["share"].tolist() == [0.25, 1.5]


def test_csv_plain_and_overrides(tmp_path: Path) -> None:
    df = make_playlog_frame(ROWS)
    text = export.to_csv(df, tmp_path / "plain.csv").read_text()
    assert text.splitlines()[0] == "played_at,account,player_id,media_id,media_type,ip"
    assert len(text.splitlines()) == len(ROWS) + 1  # RangeIndex not written
    tabbed = export.to_csv(df, tmp_path / "tab.csv", sep="\t").read_text()
    assert "\t" in tabbed.splitlines()[0]
    with pytest.raises(ValueError, match="sep and decimal"):
        export.to_csv(df, tmp_path / "bad.csv", sep=",", decimal=",")


def test_excel_sheets_and_time_zones(tmp_path: Path) -> None:
    df = make_playlog_frame(ROWS, tz=TZ)
    sheets = {"a/b": df, "A/B": df.head(1), "x" * 40: fy.per_media(df)}
    book = pd.read_excel(export.to_excel(sheets, tmp_path / "book.xlsx"), sheet_name=None)
    assert list(book) == ["a_b", "A_B~2", "x" * 31]
    assert book["a_b"]["played_at"].iloc[0] == pd.Timestamp("2024-01-01 10:00")  # local
    assert book["x" * 31].columns[0] == "media_id"


def test_excel_row_limit(tmp_path: Path) -> None:
    big = pd.DataFrame({"x": np.zeros(export.EXCEL_MAX_ROWS, dtype=np.int8)})
    with pytest.raises(ValueError, match="Parquet or CSV"):
        export.to_excel(big, tmp_path / "big.xlsx")
    assert not list(tmp_path.iterdir())


def test_write_by_suffix_and_atomicity(tmp_path: Path) -> None:
    df = make_playlog_frame(ROWS)
    for name in ("a.parquet", "a.csv", "a.xlsx"):
        assert export.write(df, tmp_path / "out" / name).stat().st_size > 0
    target = tmp_path / "keep.csv"
    target.write_text("old")

    class Boom:
        def to_csv(self, *args: object, **kwargs: object) -> None:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, lambda tmp: Boom().to_csv(tmp))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(ValueError, match="path"):
        export.write(df, tmp_path / "a.json")
