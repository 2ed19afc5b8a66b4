"""The fetch, summary and cache commands, run for real through ``cli.main``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import fouryousee_data as fy
from conftest import paced_client
from fouryousee_data.cli import main
from fouryousee_data.simulator import Simulator


@pytest.fixture
def env(simulator: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Token and API URL of the simulator in the environment; returns a cache dir."""
    monkeypatch.setenv("FOURYOUSEE_TOKEN", simulator.token)
    monkeypatch.setenv("FOURYOUSEE_API_URL", simulator.base_url)
    monkeypatch.setenv("FOURYOUSEE_CACHE_DIR", str(tmp_path / "default-cache"))
    return tmp_path / "cache"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_fetch_writes_parquet_and_csv(
    env: Path, simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "march.parquet"
    code, text, err = run(
        capsys, "fetch", "2024-03-01", "2024-03-03", "-o", str(out), "--cache-dir", str(env)
    )
    assert (code, err) == (0, "")
    assert "playlogs -> " in text and "0 day(s) from the cache, 3 fetched" in text
    df = pd.read_parquet(out)
    with paced_client(simulator) as api:
        exp = fy.fetch_playlogs("2024-03-01", "2024-03-03", client=api, cache_dir=env)
    assert len(df) == len(exp) > 0
    assert df["player_id"].tolist() == exp["player_id"].tolist()

    player = str(simulator.players[0]["id"])
    csv = tmp_path / "one.csv"
    code, text, _ = run(
        capsys, "fetch", "2024-03-01", "2024-03-03", "--player", player, "-o", str(csv),
        "--cache-dir", str(env), "--tz", "America/Sao_Paulo", "--no-progress",
    )  # fmt: skip
    assert code == 0 and "3 day(s) from the cache, 0 fetched" in text
    rows = pd.read_csv(csv)
    assert set(rows["player_id"]) == {int(player)}
    assert rows["played_at"].str.endswith("-03:00").all()


def test_no_cache_and_default_cache(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.parquet"
    assert run(capsys, "fetch", "2024-03-01", "2024-03-01", "-o", str(out), "--no-cache")[0] == 0
    assert not (tmp_path / "default-cache").exists()
    assert run(capsys, "fetch", "2024-03-01", "2024-03-01", "-o", str(out))[0] == 0
    assert list((tmp_path / "default-cache").rglob("*.parquet"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fetch", "2024-03-02", "2024-03-01", "-o", "x.parquet"], "before start"),
        (["fetch", "2024-03-01", "2024-03-02", "-o", "x.txt"], ".parquet, .csv or .xlsx"),
        (["fetch", "2024-03-01", "2024-03-02", "-o", "x.csv", "--tz", "Nowhere/City"], "tz"),
        (["summary", "2024-03-01", "2024-03-02", "--freq", "fortnightly"], "freq"),
    ],
)
def test_expected_failures_are_one_line(
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv, "--cache-dir", str(env))
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err


def test_missing_token_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FOURYOUSEE_TOKEN", raising=False)
    code, _, err = run(capsys, "fetch", "2024-03-01", "2024-03-02", "-o", str(tmp_path / "x.csv"))
    assert code == 1 and "FOURYOUSEE_TOKEN" in err and err.count("\n") == 1


def test_failed_report_is_one_line(
    env: Path, simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    simulator.inject("report_failed", times=2)
    code, _, err = run(
        capsys, "fetch", "2024-03-01", "2024-03-02", "-o", str(tmp_path / "x.csv"),
        "--cache-dir", str(env),
    )  # fmt: skip
    assert code == 1
    retried, error = err.splitlines()  # the retry, as a warning; then the one error line
    assert retried.startswith("warning: window 2024-03-01..2024-03-02: report ")
    assert retried.endswith("trying again (1 of 1)")
    assert error.startswith("error: 1 of 1 report window(s) failed")


def test_summary_tables(
    env: Path, simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, _ = run(capsys, "summary", "2024-03-01", "2024-03-07", "--cache-dir", str(env))
    assert code == 0
    assert "player_id" in text and "plays" in text
    for p in simulator.players:
        assert str(p["id"]) in text
    out = tmp_path / "daily.csv"
    code, text, _ = run(
        capsys, "summary", "2024-03-01", "2024-03-07", "--by", "media", "--freq", "D",
        "--cache-dir", str(env), "-o", str(out),
    )  # fmt: skip
    assert code == 0 and "period" in text
    table = pd.read_csv(out)
    assert {"media_id", "period", "plays"} <= set(table.columns)
    assert table["period"].nunique() == 7
    code, text, _ = run(
        capsys, "summary", "2024-03-01", "2024-03-02", "--by", "player-media",
        "--cache-dir", str(env),
    )  # fmt: skip
    assert code == 0 and "media_id" in text and "player_id" in text


def test_cache_info_and_clear(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = run(capsys, "cache", "info", "--cache-dir", str(env))
    assert code == 0 and "empty" in text
    run(capsys, "fetch", "2024-03-01", "2024-03-03", "-o", str(env.parent / "x.csv"),
        "--cache-dir", str(env))  # fmt: skip
    code, text, _ = run(capsys, "cache", "info", "--cache-dir", str(env))
    assert code == 0
    assert "2024-03-01" in text and "2024-03-03" in text and "3 day(s)" in text
    assert "3 settled" in text
    code, text, _ = run(capsys, "cache", "clear", "--cache-dir", str(env), "--start", "2024-03-02")
    assert code == 0 and "removed 2 cached day(s)" in text
    code, text, _ = run(capsys, "cache", "clear", "--cache-dir", str(env))
    assert "removed 1 cached day(s)" in text
