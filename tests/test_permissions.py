"""Files the toolkit writes get the user's normal permissions (the umask), not 0600.

Each test sets an explicit umask (and restores it): 022 gives ``-rw-r--r--``, 027 gives
``-rw-r-----``, so colleagues on a shared server can read what the umask lets them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import fouryousee_data as fy
from fouryousee_data import export
from fouryousee_data._fileio import atomic_write, new_folder
from fouryousee_data.cli import main
from fouryousee_data.simulator import Simulator


@pytest.fixture(params=[0o022, 0o027, 0o002])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_follows_the_umask(umask: int, tmp_path: Path) -> None:
    path = atomic_write(tmp_path / "a.txt", lambda tmp: Path(tmp).write_text("x"))
    assert _mode(path) == 0o666 & ~umask
    path = atomic_write(tmp_path / "a.txt", lambda tmp: Path(tmp).write_text("y"))  # replaced
    assert _mode(path) == 0o666 & ~umask and path.read_text() == "y"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert _mode(new_folder("out-", tmp_path)) == 0o777 & ~umask


def test_exports_and_cache_files_follow_the_umask(
    umask: int, tmp_path: Path, simulator: Simulator, client: fy.Client
) -> None:
    df = fy.fetch_playlogs("2024-03-01", "2024-03-02", client=client, cache_dir=tmp_path / "c")
    written = [export.write(df, tmp_path / f"out{s}") for s in export.SUFFIXES]
    cached = [p for p in (tmp_path / "c").rglob("*") if p.is_file() and p.name != ".lock"]
    assert cached and len(written) == 3
    for path in [*written, *cached]:
        assert _mode(path) == 0o666 & ~umask, path


def test_cli_outputs_follow_the_umask(
    tmp_path: Path,
    simulator: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FOURYOUSEE_TOKEN", simulator.token)
    monkeypatch.setenv("FOURYOUSEE_API_URL", simulator.base_url)
    old = os.umask(0o022)
    try:
        out = tmp_path / "march.xlsx"
        argv = ["fetch", "2024-03-01", "2024-03-01", "-o", str(out), "--cache-dir", str(tmp_path)]
        assert main(argv) == 0
    finally:
        os.umask(old)
    assert stat.filemode(out.stat().st_mode) == "-rw-r--r--"
    assert len(pd.read_excel(out)) > 0
    capsys.readouterr()
