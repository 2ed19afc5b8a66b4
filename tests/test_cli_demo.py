"""``fouryousee-data demo``, run as a real subprocess: no token, no network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fouryousee_data.cli import main


@pytest.mark.slow
def test_demo_runs_as_a_real_command(tmp_path: Path) -> None:
    exe = shutil.which("fouryousee-data")
    cmd = [exe] if exe else [sys.executable, "-m", "fouryousee_data"]
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOURYOUSEE_")}
    result = subprocess.run(
        [*cmd, "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=110,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "from 2 report(s)" in text  # 60 days: two windows
    assert "run 2:" in text and "0 report requests, 0 HTTP requests" in text
    assert "plays per player" in text and "plays per media" in text
    assert str(out) in text.splitlines()[-1]
    df = pd.read_parquet(out / "playlogs.parquet")
    assert df["played_at"].dt.normalize().nunique() >= 60
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) >= 2
    for png in pngs:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in result.stderr


def test_demo_bad_days_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--days", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --days") and err.count("\n") == 1
