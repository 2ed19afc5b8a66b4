"""What killed writers leave behind: temp files and spills older than an hour are swept by
the next write into that cache and shown by ``cache_info``; a concurrent writer's fresh temp
files are never touched. And errors name the file the user asked for, never a temp name."""

from __future__ import annotations

import gzip
import json
import os
import re
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import fouryousee_data as fy
from conftest import paced_client
from fouryousee_data import cli
from fouryousee_data._fileio import atomic_write
from fouryousee_data.cache import PlaylogCache
from fouryousee_data.simulator import Simulator

HOUR = 3600
TEMP_NAME = re.compile(r"\.[^/\s'\"]+\.[A-Za-z0-9_]{8}\.tmp")


def plant(path: Path, data: bytes, *, age: float) -> Path:
    """A file as a killed writer left it, last modified ``age`` seconds ago (no sleeping)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_leftovers_are_shown_then_swept_by_the_next_write(
    simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = {"cache_dir": tmp_path, "progress": False, "poll_interval": 0.01}
    with paced_client(simulator) as api:
        fy.fetch_playlogs("2024-03-04", "2024-03-04", client=api, **options)
        account = tmp_path / api.fingerprint
        day = account / "scope=all" / "date=2024-03-04"
        killed = [  # kill -9 mid-write: a day file, a read copy, a streaming report's spill
            plant(day / ".part-0.parquet.k9k9k9k9.tmp", b"x" * 1000, age=2 * HOUR),
            plant(day / "..part-0.arrow.z8z8z8z8.tmp", b"y" * 500, age=1.5 * HOUR),
            plant(account / ".spill-q7q7q7q7" / "2024-03-04.arrows", b"z" * 300, age=3 * HOUR),
        ]
        os.utime(killed[2].parent, (time.time() - 3 * HOUR,) * 2)
        # A concurrent writer's files: fresh (and a spill with one fresh file).
        busy = [
            plant(day / ".part-0.parquet.w1w1w1w1.tmp", b"w" * 700, age=5),
            plant(account / ".spill-b2b2b2b2" / "2024-03-05.arrows", b"v" * 100, age=10),
        ]
        plant(account / ".spill-b2b2b2b2" / "2024-03-04.arrows", b"u" * 100, age=2 * HOUR)

        info = fy.cache_info(tmp_path)
        assert (info.attrs["leftover_files"], info.attrs["leftover_bytes"]) == (3, 1800)
        assert cli.main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
        assert "3 leftover temp file(s)" in capsys.readouterr().out

        fy.fetch_playlogs("2024-03-04", "2024-03-04", client=api, **options)  # no write
        assert all(p.exists() for p in killed)  # reading alone removes nothing
        fy.fetch_playlogs("2024-03-05", "2024-03-05", client=api, **options)  # a write
    assert not any(p.exists() for p in killed) and not killed[2].parent.exists()
    assert all(p.exists() for p in busy)  # never a concurrent writer's fresh files
    after = fy.cache_info(tmp_path)
    assert after.attrs["leftover_files"] == 0 and len(after) == 2


def test_a_cache_with_only_leftovers_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plant(tmp_path / "0123456789abcdef" / "scope=all" / "x" / ".a.b1b1b1b1.tmp", b"1", age=HOUR + 1)
    assert cli.main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "is empty" in out and "1 leftover temp file(s)" in out


def test_the_sweep_runs_once_per_cache_object(tmp_path: Path) -> None:
    cache = PlaylogCache(tmp_path, "0123456789abcdef")
    old = plant(cache.path / "scope=all" / ".part-0.parquet.o1o1o1o1.tmp", b"12", age=2 * HOUR)
    assert cache.sweep_leftovers() == (1, 2) and not old.exists()
    plant(old, b"12", age=2 * HOUR)
    assert cache.sweep_leftovers() == (0, 0) and old.exists()  # done for this instance


# -- errors name the final path -----------------------------------------------------------
def test_atomic_write_errors_name_the_target_not_the_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "r.parquet"

    def disk_full(tmp: str) -> None:
        raise OSError(28, "No space left on device", tmp)

    def arrow_fails(tmp: str) -> None:
        raise pa.ArrowIOError(f"Failed to open local file '{tmp}'. Detail: [errno 28] No space")

    for write in (disk_full, arrow_fails):
        with pytest.raises(OSError) as caught:
            atomic_write(target, write)
        assert str(target) in str(caught.value)
        assert not TEMP_NAME.search(str(caught.value)), caught.value
    assert os.listdir(tmp_path) == []  # and nothing left behind
    target.mkdir()  # the rename itself fails: the path is a folder
    with pytest.raises(IsADirectoryError) as caught:
        atomic_write(target, lambda tmp: Path(tmp).write_bytes(b"x"))
    assert str(target) in str(caught.value) and not TEMP_NAME.search(str(caught.value))


def test_the_cli_error_names_the_output_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.gz"
    line = {"date": "2024-03-01", "time": "08:00:00", "playerId": 1, "mediaId": 7}
    report.write_bytes(gzip.compress(json.dumps(line).encode() + b"\n"))
    out = tmp_path / "r.parquet"
    out.mkdir()  # a folder where the file should go
    assert cli.main(["read", str(report), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert str(out) in err and not TEMP_NAME.search(err) and ".tmp" not in err
    assert pd.Series(os.listdir(tmp_path)).sort_values().tolist() == ["r.parquet", "report.gz"]
