"""What ``fetch`` and ``summary`` hand back: Excel like Parquet and CSV, the whole table
(or a line saying how much is left out), and the ids that have no plays, by name."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fouryousee_data.cli import main
from fouryousee_data.simulator import Simulator


@pytest.fixture
def env(simulator: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("FOURYOUSEE_TOKEN", simulator.token)
    monkeypatch.setenv("FOURYOUSEE_API_URL", simulator.base_url)
    return tmp_path / "cache"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_fetch_and_summary_write_xlsx(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw.xlsx"
    code, text, err = run(
        capsys, "fetch", "2024-03-01", "2024-03-02", "-o", str(raw), "--cache-dir", str(env)
    )
    assert (code, err) == (0, "") and f"-> {raw}" in text
    rows = pd.read_excel(raw)
    assert list(rows.columns[:3]) == ["played_at", "account", "player_id"] and len(rows) > 0
    table = tmp_path / "daily.xlsx"
    code, text, err = run(
        capsys, "summary", "2024-03-01", "2024-03-02", "--freq", "D", "-o", str(table),
        "--cache-dir", str(env),
    )  # fmt: skip
    assert (code, err) == (0, "")
    daily = pd.read_excel(table)
    assert {"player_id", "period", "plays"} <= set(daily.columns)
    assert daily["plays"].sum() == len(rows)


def test_a_bad_output_is_refused_before_fetching(
    env: Path, simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("fetch", "summary"):
        code, _, err = run(capsys, command, "2024-03-01", "2024-03-02", "-o", "x.json")
        assert code == 1 and err == (
            "error: -o/--output: expected a .parquet, .csv or .xlsx file name, got 'x.json'\n"
        )
    assert simulator.requests == []


def test_summary_prints_the_whole_table_or_says_what_it_left_out(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["summary", "2024-03-01", "2024-03-10", "--by", "player-media", "--freq", "D",
            "--cache-dir", str(env)]  # fmt: skip
    code, text, _ = run(capsys, *argv)
    assert code == 0
    lines = text.splitlines()
    n_rows = 4 * 8 * 10  # every player x media x day, zero-filled
    assert len(lines) == n_rows + 2  # two header lines (columns, index names), then the rows
    assert "..." not in text and "showing" not in text
    out = tmp_path / "all.csv"
    code, text, _ = run(capsys, *argv, "--max-rows", "25", "-o", str(out))
    assert code == 0
    assert f"showing 25 of {n_rows} rows (all of them in {out}; --max-rows 0 prints all)" in text
    assert len(pd.read_csv(out)) == n_rows
    code, text, _ = run(capsys, *argv, "--max-rows", "25")
    assert f"showing 25 of {n_rows} rows (use -o FILE for all" in text
    code, _, err = run(capsys, *argv, "--max-rows", "-1")
    assert code == 1 and "--max-rows" in err


def test_ids_without_plays_are_warned_about_by_name(
    env: Path, simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    player = str(simulator.players[0]["id"])
    code, text, err = run(
        capsys, "summary", "2024-03-01", "2024-03-02", "--player", player, "4242",
        "--cache-dir", str(env),
    )  # fmt: skip
    assert code == 0
    assert err == (
        "warning: no plays from 2024-03-01 00:00:00 to 2024-03-03 00:00:00 (exclusive) for "
        "player id(s) 4242: unknown ids, or silent in that range\n"
    )
    assert "4242" in text  # the zero-filled row is in the table too
