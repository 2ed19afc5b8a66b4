"""``fouryousee-data publish``, run for real through ``cli.main``."""

from __future__ import annotations

from pathlib import Path

import pytest

import fouryousee_data as fy
from conftest import S3Bucket
from fouryousee_data.cli import main
from fouryousee_data.simulator import Simulator


@pytest.mark.slow
def test_publish_to_a_folder_then_s3(
    simulator: Simulator,
    api: fy.Client,
    tmp_path: Path,
    s3_bucket: S3Bucket,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FOURYOUSEE_TOKEN", simulator.token)
    monkeypatch.setenv("FOURYOUSEE_API_URL", simulator.base_url)
    cache = tmp_path / "cache"
    fy.fetch_playlogs("2024-03-01", "2024-03-03", client=api, cache_dir=cache, progress=False)
    lake = tmp_path / "lake"
    args = ["--cache-dir", str(cache), "--start", "2024-03-02"]
    assert main(["publish", str(lake), *args]) == 0
    assert "2 day(s) written" in capsys.readouterr().out
    assert sorted(p.parent.name for p in lake.rglob("*.parquet")) == [
        "date=2024-03-02",
        "date=2024-03-03",
    ]
    assert main(["publish", str(lake), *args]) == 0
    again = capsys.readouterr().out
    assert "0 day(s) written" in again and "2 unchanged" in again
    assert main(["publish", s3_bucket.url, "--cache-dir", str(cache)]) == 0  # AWS_* variables
    assert "3 day(s) written" in capsys.readouterr().out
    rel = fy.scan_playlogs(
        "2024-03-01", "2024-03-03", source=s3_bucket.url, storage_options=s3_bucket.storage_options
    )
    assert len(rel.df()) > 0


def test_publish_errors_are_one_line(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FOURYOUSEE_TOKEN", simulator.token)
    monkeypatch.setenv("FOURYOUSEE_API_URL", simulator.base_url)
    assert main(["publish", "nosuchproto://x/y"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    monkeypatch.delenv("FOURYOUSEE_TOKEN")
    assert main(["publish", "/tmp/x"]) == 1
    assert "FOURYOUSEE_TOKEN" in capsys.readouterr().err
