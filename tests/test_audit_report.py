"""The audit for people: the PDF (pt-BR by default, en, branded, paginated) and the Excel."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.text import Text

import fouryousee_data as fy
from conftest import make_playlog_frame
from fouryousee_data import export
from fouryousee_data.analysis import audit, audit_report

PLAYERS = pd.DataFrame({"player_id": [1, 2, 3], "name": ["Loja Ótica 01", "Farmácia", "Café"]})


def audit_result(days: int, players: tuple[int, ...] = (1, 2), campaigns: int = 1) -> pd.DataFrame:
    """``days`` days from 2024-01-01 on ``players``: 15 plays a day, the last day provisional;
    a weekly target of 100 (14.29 a day) so that shortfalls are fractions."""
    first = pd.Timestamp("2024-01-01 08:00")
    rows = [
        (str(first + pd.Timedelta(days=d, minutes=m)), p, 12)
        for d in range(days)
        for p in players
        for m in range(15 - (d % 3) * p)
    ]
    df = make_playlog_frame(rows)
    df.attrs["provisional_days"] = [str((first + pd.Timedelta(days=days - 1)).date())]
    contract = [
        {
            "campaign": f"Verão {n + 1}",
            "media_ids": [12],
            "player_ids": list(players),
            "plays": 100,
            "period": "W",
        }
        for n in range(campaigns)
    ]
    return fy.compliance(df, contract, players=PLAYERS)


def texts(figures: list[Figure]) -> list[str]:
    return [t.get_text() for fig in figures for t in fig.findobj(Text) if t.get_text()]


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", data))


def test_pdf_is_brazilian_by_default(tmp_path: Path) -> None:
    result = audit_result(9)
    words = texts(audit_report.pdf_pages(result, advertiser="Loja Exemplo"))
    for label in (
        "Relatório de comprovação de exibição",
        "Cliente: Loja Exemplo",
        "Cumprimento",
        "Dia",
        "Tela",
        "Faltantes",
        "Totais por campanha",
        "Totais por tela",
    ):
        assert label in words, label
    assert "Período: 01/01/2024 a 09/01/2024" in words  # dd/mm/aaaa
    assert "01/01/2024 seg" in words and "07/01/2024 dom" in words
    assert "14,3" in words  # decimal comma (100 a week = 14.29 a day)
    assert "Veiculações" in words and "contratadas" in words  # the header wrapped
    assert "sim" in words  # the provisional day
    assert not [w for w in words if re.fullmatch(r"\d+\.\d", w)]  # no decimal point
    path = audit.to_pdf(result, tmp_path / "auditoria.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and pdf_pages(data) == 2  # summary + both screens
    if shutil.which("pdftotext"):  # what a reader copies out of the file
        out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True)
        assert "Relatório de comprovação de exibição" in out.stdout and "01/01/2024" in out.stdout


def test_pdf_in_english_on_request() -> None:
    words = texts(audit_report.pdf_pages(audit_result(9), lang="en"))
    assert "Proof-of-play report" in words and "Period: 2024-01-01 to 2024-01-09" in words
    assert "2024-01-01 Mon" in words and "14.3" in words and "yes" in words
    with pytest.raises(ValueError, match="lang"):
        audit_report.pdf_pages(audit_result(2), lang="fr")


@pytest.mark.parametrize("days", [3, 40, 120])
def test_pdf_pages_are_filled_and_tables_paginated(days: int) -> None:
    """Short tables share a page; a long one continues with its header and a caption;
    no page but the last is left more than half empty."""
    result = audit_result(days, players=(1, 2, 3))
    pages = audit_report.pdf_pages(result, lang="en")
    rows_per_page = 45  # at least, on a page with the chart; 60 without
    assert len(pages) <= 2 + 3 * -(-days // rows_per_page)
    screens = pages[1:]
    for fig in screens[:-1]:
        lowest = min(t.get_position()[1] for t in fig.texts if "Page" not in t.get_text())
        assert lowest < 0.5, "a page left half empty"
    days_drawn = [w for w in texts(screens) if re.fullmatch(r"2024-\d\d-\d\d \w{3}", w)]
    assert len(days_drawn) == 3 * days  # every day of every screen, once
    if days == 3:
        assert len(pages) == 1 + 2  # the summary, then two short screens a page
    if days == 120:
        assert sum("(continued)" in w for w in texts(screens)) >= 3


def test_pdf_nothing_outside_the_page_and_columns_aligned() -> None:
    result = audit_result(12, players=(1, 2))
    for fig in audit_report.pdf_pages(result, advertiser="A" * 30):
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        page = fig.bbox
        for artist in [*fig.findobj(Text), *(ax.get_legend() for ax in fig.axes)]:
            shown = artist is not None and artist.get_visible()
            if not shown or not getattr(artist, "get_text", lambda: "x")():
                continue
            box = artist.get_window_extent(renderer)
            assert page.x0 <= box.x0 and box.x1 <= page.x1
            assert page.y0 <= box.y0 <= box.y1 <= page.y1
        for ax in fig.axes:  # legends inside their axes (nothing clipped by a neighbour)
            legend = ax.get_legend()
            if legend is not None:
                assert ax.bbox.contains(*legend.get_window_extent(renderer).p0)
                assert ax.bbox.contains(*legend.get_window_extent(renderer).p1)
    page = audit_report.pdf_pages(result)[1]
    by_text: dict[str, list[Text]] = {}
    for t in page.texts:
        by_text.setdefault(t.get_text(), []).append(t)
    header, flags = by_text["Provisório"][0], by_text["sim"]
    assert header.get_ha() == "center" and all(f.get_ha() == "center" for f in flags)
    assert {round(f.get_position()[0], 6) for f in flags} == {round(header.get_position()[0], 6)}
    rates = [t for t in page.texts if t.get_text().endswith("%")]
    assert len({round(t.get_position()[0], 6) for t in rates}) == 1  # one right edge
    assert len({t.get_text().count(",") for t in rates if t.get_text() != "100%"}) == 1


def test_brand_from_arguments_and_files(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    fig = Figure(figsize=(2, 1))
    fig.text(0.5, 0.5, "LOGO", ha="center")
    fig.savefig(logo)
    config = tmp_path / "brand.toml"
    config.write_text(
        'company = "Mídia Indoor Ltda."\ncnpj = "12.345.678/0001-90"\nlogo = "logo.png"\n'
        'address = "Av. Paulista, 1000\\nSão Paulo/SP"\ncity = "São Paulo"\n'
        'signature = "Maria Souza\\nGerente de operações"\n',
        encoding="utf-8",
    )
    brand = fy.Brand.from_file(config)
    assert brand.logo == logo and brand.address.splitlines() == [
        "Av. Paulista, 1000",
        "São Paulo/SP",
    ]
    as_json = tmp_path / "brand.json"
    as_json.write_text(json.dumps({"company": "Mídia Indoor Ltda.", "logo": str(logo)}))
    assert fy.Brand.from_file(as_json).logo == logo
    pages = audit_report.pdf_pages(audit_result(3), brand=brand)
    words = texts(pages)
    issued = dt.date.today().strftime("%d/%m/%Y")
    for line in (
        "Mídia Indoor Ltda.",
        "CNPJ 12.345.678/0001-90",
        "São Paulo/SP",
        "Maria Souza",
        "Gerente de operações",
        f"São Paulo, {issued}",
    ):
        assert line in words, line
    assert any(isinstance(a, AxesImage) for ax in pages[0].axes for a in ax.get_images())
    assert not any(ax.get_images() for fig in pages[1:] for ax in fig.axes)  # logo once
    footers = [t.get_text() for fig in pages for t in fig.texts if "CNPJ 12.345" in t.get_text()]
    assert len(footers) >= len(pages)  # every page's footer names the company
    path = audit.to_pdf(audit_result(3), tmp_path / "a.pdf", brand=config, lang="en")
    assert pdf_pages(path.read_bytes()) == 2


@pytest.mark.parametrize(
    ("content", "suffix", "match"),
    [
        ('colour = "red"\n', ".toml", "unknown key"),
        ('logo = "nowhere.png"\n', ".toml", "not a file"),
        ("company = 3\n", ".toml", "must be text"),
        ("company = \n", ".toml", "not valid TOML"),
        ("[1, 2]", ".json", "keys and values"),
        ("company: x", ".yaml", "toml or .json"),
    ],
)
def test_brand_file_errors_name_the_problem(
    tmp_path: Path, content: str, suffix: str, match: str
) -> None:
    path = tmp_path / f"brand{suffix}"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        fy.Brand.from_file(path)
    with pytest.raises(ValueError, match="cannot read"):
        fy.Brand.from_file(tmp_path / "missing.toml")


def test_excel_ready_to_send(tmp_path: Path) -> None:
    result = audit_result(9)
    book = openpyxl.load_workbook(audit.to_excel(result, tmp_path / "auditoria.xlsx"))
    assert book.sheetnames == ["Campanhas", "Telas", "Verão 1"]
    # every header in Portuguese: no column name left as the analysis spells it
    headers = [c.value for sheet in book.worksheets for c in sheet[1]]
    assert not [h for h in headers if "_" in str(h)], headers
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
        header = [c.value for c in sheet[1]]
        for j, name in enumerate(header):
            width = sheet.column_dimensions[openpyxl.utils.get_column_letter(j + 1)].width
            assert width >= len(name)
        if sheet.title != "Campanhas":
            assert "Tela" in header  # names on every screen sheet
            names = {sheet.cell(r, header.index("Tela") + 1).value for r in range(2, 4)}
            assert names <= {"Loja Ótica 01", "Farmácia"}
    days = book["Verão 1"]
    header = [c.value for c in days[1]]
    assert header == [
        "ID do player",
        "Tela",
        "Dia",
        "Veiculações contratadas",
        "Veiculações entregues",
        "Faltantes",
        "Cumprimento",
        "Provisório",
    ]
    row = {h: days.cell(2, j + 1) for j, h in enumerate(header)}
    assert isinstance(row["Dia"].value, dt.datetime) and row["Dia"].number_format == "dd/mm/yyyy"
    assert type(row["Veiculações entregues"].value) is int
    assert row["Veiculações entregues"].number_format == "#,##0"
    assert row["Cumprimento"].number_format == "0.0%" and 0 < row["Cumprimento"].value < 2
    assert row["Veiculações contratadas"].number_format == "#,##0.00"  # 14.29 a day
    assert row["Provisório"].value == "não" and days.cell(days.max_row, 8).value == "sim"
    screens = book["Telas"]
    assert [c.value for c in screens[1]][:3] == ["Campanha", "ID do player", "Tela"]
    assert screens.cell(2, 4).number_format == "#,##0.00"  # contracted: 9 x 100/7
    assert type(screens.cell(2, 5).value) is int  # delivered
    english = openpyxl.load_workbook(audit.to_excel(result, tmp_path / "a.xlsx", lang="en"))
    assert english.sheetnames == ["Campaigns", "Screens", "Verão 1"]
    assert english["Verão 1"].cell(2, 3).number_format == "yyyy-mm-dd"


def test_export_excel_formats_any_frame(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "player_id": np.array([12345, 2], dtype="int32"),
            "played_at": pd.to_datetime(["2024-01-01 10:30", "2024-01-02 11:00"]),
            "plays": [1234.0, 5.0],
            "share": [0.25, 0.755],
            "uptime_pct": [99.5, np.nan],
            "hours": [1.5, 2.25],
        }
    )
    sheet = openpyxl.load_workbook(export.to_excel(frame, tmp_path / "x.xlsx")).active
    assert sheet is not None and sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == list(frame.columns)  # lang=None: names kept
    cells = {h: sheet.cell(2, j + 1) for j, h in enumerate(frame.columns)}
    assert cells["player_id"].number_format == "General" and cells["player_id"].value == 12345
    assert cells["played_at"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert type(cells["plays"].value) is int and cells["plays"].number_format == "#,##0"
    assert cells["share"].number_format == "0.0%" and cells["share"].value == 0.25
    assert cells["uptime_pct"].number_format == "0.0%" and cells["uptime_pct"].value == 0.995
    assert sheet.cell(3, 5).value is None  # NaN: an empty cell
    assert cells["hours"].number_format == "#,##0.00"
    people = openpyxl.load_workbook(export.to_excel(frame, tmp_path / "y.xlsx", lang="pt-BR"))
    assert [c.value for c in people.active[1]][:3] == ["ID do player", "Data e hora", "Veiculações"]
    with pytest.raises(ValueError, match="lang"):
        export.to_excel(frame, tmp_path / "z.xlsx", lang="de")


def test_signature_never_stands_alone_atop_a_page() -> None:
    """When the signature block does not fit under a table, the table's last rows move
    with it to the next page (a page holding nothing but a signature is no page)."""
    from fouryousee_data.analysis._pdf import Gap, Signature, Table, layout

    def table(n: int) -> Table:
        return Table(["n"], [[str(i)] for i in range(n)], ["r"], caption="(continued)")

    per_page = layout([table(1000)])[0][0].last
    pages = layout([table(per_page - 2), Gap(0.2), Signature("São Paulo", ["Maria", "Gerente"])])
    assert len(pages) == 2
    first, second = pages
    assert (first[0].first, first[0].last) == (0, per_page - 2 - 3)
    assert isinstance(second[0].block, Table) and (second[0].first, second[0].last) == (
        per_page - 5,
        per_page - 2,
    )
    assert isinstance(second[-1].block, Signature)
    short = layout([table(5), Gap(0.2), Signature("São Paulo", ["Maria"])])
    assert len(short) == 1  # it fits: one page


def test_several_accounts_stay_apart_in_pdf_excel_and_chart(tmp_path: Path) -> None:
    one = audit_result(4)
    both = pd.concat({"acme": one, "beta": one}, names=["account"])
    words = texts(audit_report.pdf_pages(both, lang="en"))
    assert any(w.startswith("acme · Verão 1 · Screen") for w in words)
    assert any(w.startswith("beta · Verão 1 · Screen") for w in words)
    book = pd.read_excel(audit.to_excel(both, tmp_path / "a.xlsx", lang="en"), sheet_name=None)
    assert book["Campaigns"]["Account"].tolist() == ["acme", "beta"]
    assert book["Campaigns"]["Screens"].tolist() == [2, 2]  # not 4: player 1 of each account
    ax = audit_report.compliance_chart(both, ax=Figure().subplots())
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["acme · Loja Ótica 01 (1)", "acme · Farmácia (2)",
                      "beta · Loja Ótica 01 (1)", "beta · Farmácia (2)"]  # fmt: skip
    with pytest.raises(ValueError, match="several accounts"):
        audit_report.compliance_chart(both, player_id=1, ax=Figure().subplots())
    empty = one.iloc[:0]
    assert len(audit_report.pdf_pages(empty)) == 1  # the summary page, no screens
    assert list(pd.read_excel(audit.to_excel(empty, tmp_path / "e.xlsx"), sheet_name=None)) == [
        "Campanhas",
        "Telas",
    ]


def test_unknown_screens_are_named_in_the_report_language(tmp_path: Path) -> None:
    """A contracted screen missing from the players list reads "tela desconhecida 9" in a
    Portuguese PDF and workbook ("unknown player 9" in English), never half-translated."""
    result = audit_result(3, players=(1, 9))  # 9 is not in PLAYERS
    assert "unknown player 9" in set(result["player_name"])  # the data keeps one label
    pt = texts(audit_report.pdf_pages(result))
    assert any("tela desconhecida 9" in w for w in pt)
    assert not any("unknown player" in w for w in pt)
    assert any("unknown player 9" in w for w in texts(audit_report.pdf_pages(result, lang="en")))
    book = openpyxl.load_workbook(audit.to_excel(result, tmp_path / "auditoria.xlsx"))
    cells = {c.value for sheet in book.worksheets for row in sheet.iter_rows() for c in row}
    assert any(isinstance(v, str) and v.startswith("tela desconhecida 9") for v in cells)
    assert not any(isinstance(v, str) and "unknown player" in v for v in cells)
