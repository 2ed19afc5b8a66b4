"""``fouryousee-data read``: a report file to Parquet or CSV, errors as one line."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fouryousee_data import cli
from fouryousee_data.parse import read_playlogs

LINES = [
    {
        "account": "acme",
        "date": "2024-03-01",
        "time": "08:00:00",
        "playerId": 1,
        "mediaId": 7,
        "ip": "10.0.0.1",
        "type": "V",
    },
    {"date": "2024-03-01", "time": "08:00:30", "playerId": 2, "mediaId": 8},
]


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.gz"
    path.write_bytes(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in LINES)))
    return path


def test_read_to_parquet_keeps_the_dtypes(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "playlogs.parquet"
    assert cli.main(["read", str(report), "-o", str(out)]) == 0
    assert "2 playlogs" in capsys.readouterr().out
    back = pd.read_parquet(out)
    back["played_at"] = back["played_at"].astype("datetime64[s]")  # Parquet has no seconds unit
    pd.testing.assert_frame_equal(back, read_playlogs(report), check_categorical=False)
    assert back["player_id"].dtype == "int32"


def test_read_to_csv_with_tz(report: Path, tmp_path: Path) -> None:
    out = tmp_path / "playlogs.csv"
    assert cli.main(["read", str(report), "-o", str(out), "--tz", "America/Sao_Paulo"]) == 0
    back = pd.read_csv(out)
    assert back["played_at"].tolist() == ["2024-03-01 08:00:00-03:00", "2024-03-01 08:00:30-03:00"]
    assert back["player_id"].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html><body>Access Denied</body></html>", "not NDJSON"),
        (gzip.compress(b'{"date":"2024-03-01"}\n', mtime=0)[:-5], "truncated"),
        (b'{"date":"2024-03-01","time":"08:00:00","playerId":1,"mediaId":1}\n{"x":1}\n', "line 2"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    bad = tmp_path / "bad.gz"
    bad.write_bytes(content)
    out = tmp_path / "out.parquet"
    assert cli.main(["read", str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["read", "{missing}", "-o", "{out}.parquet"],
        ["read", "{report}", "-o", "{out}.txt"],
        ["read", "{report}", "-o", "{out}.csv", "--tz", "Mars/Olympus_Mons"],
    ],
)
def test_bad_arguments_are_one_line(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    names = {"missing": tmp_path / "missing.gz", "out": tmp_path / "out", "report": report}
    assert cli.main([a.format(**names) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


@pytest.mark.slow
def test_the_installed_command(report: Path, tmp_path: Path) -> None:
    exe = shutil.which("fouryousee-data") or str(Path(sys.executable).parent / "fouryousee-data")
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    out = tmp_path / "playlogs.parquet"
    ok = subprocess.run(
        [exe, "read", str(report), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    assert len(pd.read_parquet(out)) == 2
    bad = tmp_path / "page.gz"
    bad.write_bytes(b"<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>")
    failed = subprocess.run(
        [exe, "read", str(bad), "-o", str(out)], capture_output=True, text=True, timeout=60, env=env
    )
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1 and "not NDJSON" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_a_closed_pipe_ends_quietly(report: Path, tmp_path: Path) -> None:
    """`fouryousee-data ... | head`: the reader is gone before the command prints."""
    exe = shutil.which("fouryousee-data") or str(Path(sys.executable).parent / "fouryousee-data")
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to the pipe now fails with EPIPE
    try:
        done = subprocess.run(
            [exe, "read", str(report), "-o", str(tmp_path / "out.parquet")],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141 and done.stderr == ""  # as a SIGPIPE, without a word
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 2  # the work was done


def test_the_cli_uses_only_the_public_api() -> None:
    """No ``_private`` module or name of the package is imported by the CLI."""
    import ast

    tree = ast.parse(Path(cli.__file__).read_text(encoding="utf-8"))
    private = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fouryousee_data"):
            parts = (node.module or "").split(".") + [a.name for a in node.names]
            private += [p for p in parts if p.startswith("_")]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("fouryousee_data")]
            private += [p for n in names for p in n.split(".") if p.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            private.append(node.attr)  # fy._x, export._y, ... (the CLI has no dunder use)
    assert private == []
