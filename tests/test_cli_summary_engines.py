"""``fouryousee-data summary --engine``: pandas, DuckDB and Dask print and write the same table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fouryousee_data import summary
from fouryousee_data.cli import main
from fouryousee_data.simulator import Simulator


@pytest.fixture
def env(simulator: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Token and API URL of the simulator in the environment; returns a cache dir."""
    monkeypatch.setenv("FOURYOUSEE_TOKEN", simulator.token)
    monkeypatch.setenv("FOURYOUSEE_API_URL", simulator.base_url)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    return tmp_path / "cache"


def summarise(capsys: pytest.CaptureFixture[str], out: Path, *argv: str) -> tuple[str, Any]:
    code = main(["summary", "2024-03-01", "2024-03-05", "--by", "media", "--freq", "D",
                 "--no-progress", "-o", str(out), *argv])  # fmt: skip
    text, err = capsys.readouterr()
    assert (code, err) == (0, "")
    return text, pd.read_csv(out)


@pytest.mark.slow
def test_every_engine_gives_the_same_table(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], dask_cluster: Any
) -> None:
    cache = ["--cache-dir", str(env)]
    text, want = summarise(capsys, tmp_path / "pandas.csv", *cache, "--engine", "pandas")
    assert len(want) > 0 and want["plays"].sum() > 0
    got_text, got = summarise(capsys, tmp_path / "duckdb.csv", *cache, "--engine", "duckdb")
    pd.testing.assert_frame_equal(got, want)
    assert got_text.replace("duckdb.csv", "pandas.csv") == text
    address = ["--scheduler", dask_cluster.scheduler_address]
    got_text, got = summarise(capsys, tmp_path / "dask.csv", *cache, "--engine", "dask", *address)
    pd.testing.assert_frame_equal(got, want)
    assert got_text.replace("dask.csv", "pandas.csv") == text


def test_engine_needs_the_cache(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["summary", "2024-03-01", "2024-03-02", "--no-cache", "--engine", "duckdb"])
    _, err = capsys.readouterr()
    assert code != 0 and "--no-cache" in err


def test_default_engine_by_range_length() -> None:
    assert summary.default_engine("2024-03-01", "2024-03-07") == "pandas"
    assert summary.default_engine("2024-01-01", "2024-03-31") == "duckdb"
    assert summary.default_engine("01/01/2024", "31/03/2024", dayfirst=True) == "duckdb"
    assert summary.default_engine("2024-01-01", "2024-12-31", cache=False) == "pandas"
