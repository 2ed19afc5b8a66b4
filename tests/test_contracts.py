"""Contracts as operators write them: a target per campaign x screen (and per account),
flights from the medias' schedule, totals that add screens' shortfalls (never a net),
and the ``audit`` command end to end against the simulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fouryousee_data as fy
from conftest import make_playlog_frame
from fouryousee_data.analysis import audit
from fouryousee_data.cli import main
from fouryousee_data.simulator import Simulator


def plays(day: str, player: int, media: int, n: int) -> list[tuple[str, int, int]]:
    start = pd.Timestamp(f"{day} 08:00:00")
    return [(str(start + pd.Timedelta(seconds=10 * i)), player, media) for i in range(n)]


def test_totals_add_the_screens_shortfalls_never_a_net() -> None:
    """The issue's case: the campaign looked 97% delivered while two screens were short
    279 and 145 (a third screen's surplus netted them away)."""
    rows = plays("2024-03-01", 1, 7, 1424) + plays("2024-03-01", 2, 7, 721)
    rows += plays("2024-03-01", 3, 7, 855)
    contract = [{"campaign": "Verão", "media_ids": "7", "player_ids": "1,2,3", "plays": 1000,
                 "period": "D"}]  # fmt: skip
    result = fy.compliance(make_playlog_frame(rows), contract)
    by_screen = audit.summary(result)
    assert by_screen["shortfall"].tolist() == [0.0, 279.0, 145.0]
    assert by_screen["delivery_rate"].round(3).tolist() == [1.424, 0.721, 0.855]
    total = audit.summary(result, by="campaign").loc["Verão"]
    assert total["delivered"] == 3000 and total["contracted"] == 3000.0
    assert total["shortfall"] == 424.0  # not max(3000 - 3000, 0) == 0
    assert total["delivery_rate"] == pytest.approx(1 - 424 / 3000)  # 85.9 %, not 100 %
    assert total["screens_short"] == 2


def test_a_target_per_campaign_and_screen() -> None:
    rows = plays("2024-03-01", 1, 7, 30) + plays("2024-03-01", 2, 7, 30)
    contract = [
        {"campaign": "C", "media_ids": "7", "player_ids": "1", "plays_per_day": 20},
        {"campaign": "C", "media_ids": "7", "player_ids": "2", "plays_per_day": 50},
        {"campaign": "D", "media_ids": "7", "player_ids": "1,2", "plays_per_day": 10},
    ]
    result = fy.compliance(make_playlog_frame(rows), contract)
    got = result["contracted"].droplevel("day").to_dict()
    assert got == {("C", 1): 20.0, ("C", 2): 50.0, ("D", 1): 10.0, ("D", 2): 10.0}
    assert result.loc[("C", 2), "shortfall"].tolist() == [20.0]
    assert audit.summary(result, by="campaign").loc["C", "shortfall"] == 20.0
    with pytest.raises(ValueError, match="player 1 is listed twice for campaign 'C'"):
        audit.read_contract([*contract, {**contract[0], "player_ids": "1,3"}])


def test_targets_per_account() -> None:
    one = make_playlog_frame(plays("2024-03-01", 1, 7, 30))
    both = pd.concat(
        [one.assign(account="norte"), one.assign(account="sul")], ignore_index=True
    ).astype({"account": "category"})
    contract = [
        {"campaign": "C", "media_ids": "7", "player_ids": "1", "plays_per_day": 20,
         "account": "norte"},
        {"campaign": "C", "media_ids": "7", "player_ids": "1", "plays_per_day": 40,
         "account": "sul"},
    ]  # fmt: skip
    result = fy.compliance(both, contract)
    assert result.index.names == ["account", "campaign", "player_id", "day"]
    assert result["contracted"].tolist() == [20.0, 40.0]
    assert result["shortfall"].tolist() == [0.0, 10.0]
    # a frame of one account: that account's rows, no account level (as before)
    alone = fy.compliance(both[both["account"] == "sul"].reset_index(drop=True), contract)
    assert alone.index.names == ["campaign", "player_id", "day"]
    assert alone["contracted"].tolist() == [40.0]


def test_flights_from_the_medias_schedule() -> None:
    rows = [r for d in range(1, 11) for r in plays(f"2024-03-{d:02d}", 1, 7, 5)]
    medias = pd.DataFrame(
        {
            "media_id": np.array([7, 8], dtype="int32"),
            "schedule_start": pd.to_datetime(["2024-03-03", "2024-03-05"]),
            "schedule_end": pd.to_datetime(["2024-03-06", "2024-03-08"]),
        }
    )
    contract = [
        {"campaign": "Scheduled", "media_ids": "7,8", "player_ids": "1", "plays_per_day": 5},
        {"campaign": "Dated", "media_ids": "7", "player_ids": "1", "plays_per_day": 5,
         "start": "2024-03-02", "end": ""},
    ]  # fmt: skip
    result = fy.compliance(make_playlog_frame(rows), contract, medias=medias)
    scheduled = result.loc["Scheduled"].index.get_level_values("day")
    assert [str(d.date()) for d in (scheduled.min(), scheduled.max())] == [
        "2024-03-03",
        "2024-03-08",
    ]
    dated = result.loc["Dated"].index.get_level_values("day")  # its start kept, end from 7
    assert [str(d.date()) for d in (dated.min(), dated.max())] == ["2024-03-02", "2024-03-06"]
    with pytest.raises(ValueError, match="schedule_end"):
        fy.compliance(
            make_playlog_frame(rows), contract, medias=medias.drop(columns="schedule_end")
        )


def write_contract(path: Path) -> Path:
    """A contract as Excel pt-BR saves a CSV: ``;``, ISO-8859-1, dd/mm/yyyy dates."""
    text = (
        "campaign;media_ids;player_ids;plays_per_day;start;end\r\n"
        "Promoção Verão;{m};{p1};40;02/03/2024;05/03/2024\r\n"
        "Promoção Verão;{m};{p2};80;02/03/2024;05/03/2024\r\n"
    )
    path.write_bytes(text.encode("latin-1"))
    return path


def test_contract_csv_from_excel_needs_dayfirst(tmp_path: Path) -> None:
    path = tmp_path / "contrato.csv"
    path.write_bytes(
        write_contract(path)
        .read_bytes()
        .replace(b"{m}", b"7")
        .replace(b"{p1}", b"1")
        .replace(b"{p2}", b"2")
    )
    with pytest.raises(ValueError, match="dayfirst"):
        audit.read_contract(path)
    table = audit.read_contract(path, dayfirst=True)
    assert table["campaign"].tolist() == ["Promoção Verão"] * 2
    assert table["start"].tolist() == [pd.Timestamp("2024-03-02")] * 2
    assert table["plays_per_day"].tolist() == [40.0, 80.0]


def test_cli_audit_end_to_end(
    simulator: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FOURYOUSEE_TOKEN", simulator.token)
    monkeypatch.setenv("FOURYOUSEE_API_URL", simulator.base_url)
    p1, p2 = (p["id"] for p in simulator.players[:2])
    media = simulator.medias[0]["id"]
    contract = write_contract(tmp_path / "contrato.csv")
    data = contract.read_bytes().replace(b"{m}", str(media).encode())
    contract.write_bytes(data.replace(b"{p1}", str(p1).encode()).replace(b"{p2}", str(p2).encode()))
    brand = tmp_path / "marca.toml"
    brand.write_text('company = "Mídia Exterior Ltda"\ncnpj = "12.345.678/0001-90"\n')
    common = [str(contract), "01/03/2024", "10/03/2024", "--dayfirst", "--cache-dir",
              str(tmp_path / "cache"), "--no-progress"]  # fmt: skip
    pdf = tmp_path / "auditoria.pdf"
    assert main(["audit", *common, "-o", str(pdf), "--brand", str(brand)]) == 0
    out = capsys.readouterr().out
    assert "Promoção Verão" in out and f"-> {pdf}" in out
    # the terminal preview speaks the report's language: its labels, no raw column names
    head, row = out.splitlines()[:2]
    assert head.split("  ")[0] == "Campanha" and "Cumprimento" in head
    assert "delivery_rate" not in out and "screens_short" not in out
    assert row.startswith("Promoção Verão") and row.split()[-2].endswith("%")
    assert pdf.read_bytes().startswith(b"%PDF")
    book = tmp_path / "auditoria.xlsx"
    assert main(["audit", *common, "-o", str(book), "--lang", "en"]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head.startswith("Campaign") and "Delivery rate" in head
    sheets = pd.read_excel(book, sheet_name=None)
    assert {"Campaigns", "Screens"} <= set(sheets)
    # the contract's flight (2-5 March) inside the range: 4 days x 2 screens
    assert len(sheets["Promoção Verão"]) == 8
    assert main(["audit", *common, "-o", str(tmp_path / "x.csv")]) == 1
    assert "must end in .pdf or .xlsx" in capsys.readouterr().err
    assert main(["audit", str(contract), "01/03/2024", "10/03/2024", "-o", str(pdf)]) == 1
    assert "dayfirst" in capsys.readouterr().err
