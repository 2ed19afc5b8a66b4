"""The Manager's CSV export (``;``, ISO-8859-1, ``Data e Hora``, ...) as the playlog frame.

Files are generated here the way the Manager writes them (latin-1, accents in the
names, ``;``, CRLF), and checked against the same rows as a report file read by
``read_playlogs``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fouryousee_data as fy
from fouryousee_data.cli import main
from fouryousee_data.manager_csv import is_manager_csv
from fouryousee_data.simulator import Simulator

HEADER = ["Data e Hora", "ID do Player", "Nome do Player", "ID do Conteúdo", "Nome do Conteúdo"]
NAMES = ["Açougue São João", "Padaria Conceição", "Farmácia Independência"]


def csv_bytes(
    rows: list[tuple[str, int, int]],
    *,
    encoding: str = "latin-1",
    sep: str = ";",
    bom: bool = False,
    newline: str = "\r\n",
    header: list[str] = HEADER,
    extra: dict[str, list[str]] | None = None,
) -> bytes:
    """A Manager export of ``(dd/mm/YYYY HH:MM:SS, player, media)`` rows."""
    cols = header + list(extra or {})
    lines = [sep.join(cols)]
    for i, (when, player, media) in enumerate(rows):
        values = {
            "Data e Hora": when,
            "ID do Player": str(player),
            "Nome do Player": NAMES[len(str(player)) % len(NAMES)],
            "ID do Conteúdo": str(media),
            "Nome do Conteúdo": f"Promoção Verão nº {media}",
        }
        values.update({k: v[i] for k, v in (extra or {}).items()})
        lines.append(sep.join(values.get(c, "") for c in cols))
    data = (newline.join(lines) + newline).encode(encoding)
    return b"\xef\xbb\xbf" + data if bom else data


ROWS = [
    ("01/02/2024 08:00:12", 3, 345),
    ("01/02/2024 08:00:12", 3, 345),  # identical rows are kept
    ("29/02/2024 23:59:59", 12, 7),
    ("01/02/2024 07:59:00", 12, 346),
]


def expected(rows: list[tuple[str, int, int]], account: str | None = None) -> pd.DataFrame:
    lines = [
        {"date": f"{w[6:10]}-{w[3:5]}-{w[0:2]}", "time": w[11:], "playerId": p, "mediaId": m}
        | ({"account": account} if account else {})
        for w, p, m in rows
    ]
    df = fy.read_playlogs("\n".join(json.dumps(x) for x in lines).encode())
    return df.sort_values("played_at", kind="stable", ignore_index=True)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"encoding": "utf-8", "bom": True, "sep": ","},
        {"encoding": "utf-8", "newline": "\n"},
        {"encoding": "cp1252"},  # Windows' latin-1: the same bytes for these names
    ],
    ids=["latin1-semicolon-crlf", "utf8-bom-comma", "utf8-lf", "cp1252"],
)
def test_a_manager_export_is_the_playlog_frame(tmp_path: Path, options: dict[str, Any]) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes(ROWS, **options))
    df = fy.read_manager_csv(path)
    pd.testing.assert_frame_equal(df, expected(ROWS))
    assert df["played_at"].is_monotonic_increasing and len(df) == 4
    assert df["account"].isna().all() and df["media_type"].isna().all() and df["ip"].isna().all()
    named = fy.read_manager_csv(str(path), account="loja-centro")
    pd.testing.assert_frame_equal(named, expected(ROWS, account="loja-centro"))
    assert is_manager_csv(path)


def test_files_folders_globs_and_lists(tmp_path: Path) -> None:
    (tmp_path / "2024-02").mkdir()
    feb = tmp_path / "2024-02" / "fev.csv"
    feb.write_bytes(csv_bytes(ROWS[2:]))
    jan = tmp_path / "2024-02" / "JAN.CSV"
    jan.write_bytes(csv_bytes([("31/01/2024 10:00:00", 3, 1)]))
    (tmp_path / "2024-02" / "notes.txt").write_text("not a csv")
    whole = expected([*ROWS[2:], ("31/01/2024 10:00:00", 3, 1)])
    pd.testing.assert_frame_equal(fy.read_manager_csv(tmp_path / "2024-02"), whole)
    pd.testing.assert_frame_equal(
        fy.read_manager_csv(str(tmp_path / "*" / "*.[cC][sS][vV]")), whole
    )
    pd.testing.assert_frame_equal(fy.read_manager_csv([feb, jan, feb]), whole)  # once each
    with pytest.raises(FileNotFoundError, match="no file matches"):
        fy.read_manager_csv(str(tmp_path / "*.xlsx"))
    with pytest.raises(FileNotFoundError, match=r"no \.csv file in the folder"):
        fy.read_manager_csv(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        fy.read_manager_csv(tmp_path / "missing.csv")


def test_optional_type_and_ip_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    extra = {"Tipo": ["V", "V", "I", ""], "IP": ["10.0.0.3", "10.0.0.3", "10.0.0.12", " "]}
    path.write_bytes(csv_bytes(ROWS, extra=extra))
    df = fy.read_manager_csv(path)
    by_media = df.set_index("media_id")
    assert by_media.loc[7, "media_type"] == "I" and by_media.loc[7, "ip"] == "10.0.0.12"
    assert pd.isna(by_media.loc[346, "media_type"]) and pd.isna(by_media.loc[346, "ip"])
    assert set(df["media_type"].cat.categories) == {"I", "V"}


def test_empty_export_has_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(csv_bytes([]))
    df = fy.read_manager_csv(path, tz="America/Sao_Paulo")
    pd.testing.assert_frame_equal(df, fy.empty_playlogs("America/Sao_Paulo"))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (("31/02/2024 10:00:00", 3, 1), "not a real date"),
        (("2024-02-01 10:00:00", 3, 1), "not dd/mm/YYYY HH:MM:SS"),
        (("01/02/2024 10:00", 3, 1), "not dd/mm/YYYY HH:MM:SS"),
        (("01/02/2024 24:00:00", 3, 1), "not dd/mm/YYYY HH:MM:SS"),
        (("01/02/2024 23:59:60", 3, 1), "not dd/mm/YYYY HH:MM:SS"),
        (("00/02/2024 10:00:00", 3, 1), "not a real date"),
        (("01/02/2024 10:00:00", "12a", 1), "ID do Player: not an integer id"),
        (("01/02/2024 10:00:00", 3, ""), "ID do Conteúdo: not an integer id"),
        (("01/02/2024 10:00:00", 3, 9_999_999_999), "id out of range"),
        (("", 3, 1), "not dd/mm/YYYY"),
    ],
)
def test_a_bad_row_names_file_and_line(
    tmp_path: Path, bad: tuple[Any, Any, Any], message: str
) -> None:
    path = tmp_path / "bad.csv"
    rows = [*ROWS[:2], bad, *ROWS[2:]]
    data = csv_bytes(rows)  # type: ignore[arg-type]
    data = data.replace(b"\r\n", b"\r\n\r\n", 1)  # a blank line after the header: still line 4
    path.write_bytes(data)
    with pytest.raises(fy.InvalidPlaylogError, match=message) as info:
        fy.read_manager_csv(path)
    assert info.value.line_number == 5
    assert info.value.path == str(path.resolve())  # type: ignore[attr-defined]
    assert str(info.value).startswith(f"{path.resolve()}: line 5: ")


def test_not_a_manager_export(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_bytes(csv_bytes(ROWS, header=["Data e Hora", "Player", "ID do Conteúdo"]))
    with pytest.raises(fy.InvalidPlaylogError, match="no column 'id do player'") as info:
        fy.read_manager_csv(path)
    assert info.value.line_number == 1
    ragged = tmp_path / "ragged.csv"
    ragged.write_bytes(csv_bytes(ROWS) + b"01/02/2024 10:00:00;3\r\n")
    with pytest.raises(fy.InvalidPlaylogError, match="not a valid CSV row") as info:
        fy.read_manager_csv(ragged)
    assert info.value.line_number == 6
    assert not is_manager_csv(tmp_path / "other.csv")


def test_the_same_rows_as_a_report_file(simulator: Simulator, tmp_path: Path) -> None:
    """A day of the simulator as a report file and as a Manager export: one frame."""
    flt = {"startDate": "2024-03-05", "startTime": "00:00:00", "endDate": "2024-03-06",
           "endTime": "23:59:59", "mediaId": [], "playerId": [], "sort": -1}  # fmt: skip
    report = tmp_path / "report.gz"
    with open(report, "wb") as f:
        simulator.network.write_report(flt, simulator.now().timestamp(), f)
    from_report = fy.read_playlogs(report)
    stamps = from_report["played_at"].dt.strftime("%d/%m/%Y %H:%M:%S")
    rows = list(zip(stamps, from_report["player_id"], from_report["media_id"], strict=True))
    extra = {
        "Tipo": from_report["media_type"].astype(str).tolist(),
        "IP": from_report["ip"].astype(str).tolist(),
    }
    export = tmp_path / "export.csv"
    export.write_bytes(csv_bytes(rows, extra=extra))
    got = fy.read_manager_csv(export, account=simulator.account)
    want = from_report.sort_values("played_at", kind="stable", ignore_index=True)
    assert len(got) == len(want) > 500
    for column in want.columns:
        assert got[column].astype(object).tolist() == want[column].astype(object).tolist(), column
    assert (fy.per_player(got)["plays"] == fy.per_player(want)["plays"]).all()
    with gzip.open(report) as f:
        assert f.read(1) == b"{"  # it was a real report file


def test_cli_read_detects_manager_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.csv").write_bytes(csv_bytes(ROWS))
    (folder / "b.csv").write_bytes(csv_bytes([("31/01/2024 10:00:00", 3, 1)], encoding="utf-8"))
    out = tmp_path / "all.parquet"
    assert main(["read", str(folder / "a.csv"), "-o", str(out), "--account", "loja"]) == 0
    assert "4 playlogs" in capsys.readouterr().out
    assert pd.read_parquet(out)["account"].unique().tolist() == ["loja"]
    assert main(["read", str(folder), "-o", str(out)]) == 0
    assert len(pd.read_parquet(out)) == 5
    assert main(["read", str(folder / "*.csv"), "-o", str(tmp_path / "x.xlsx")]) == 0
    assert len(pd.read_excel(tmp_path / "x.xlsx")) == 5
    capsys.readouterr()
    (folder / "c.csv").write_bytes(csv_bytes([("31/02/2024 10:00:00", 3, 1)]))
    assert main(["read", str(folder), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "c.csv" in err and "line 2" in err
