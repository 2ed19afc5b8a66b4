"""The audit for people: totals, an Excel workbook, a PDF, the delivered-vs-contracted chart.

All of them take a :func:`~fouryousee_data.analysis.audit.compliance` result
(campaign x player x day rows; any other index level, such as ``account``, is
kept as a key). The workbook and the PDF are written in Brazilian Portuguese by
default (``lang="pt-BR"``: ``dd/mm/aaaa``, decimal comma) or in English
(``lang="en"``); the PDF carries the company's :class:`~fouryousee_data.Brand`.
``plot.compliance_chart`` is the chart drawn here; matplotlib is imported only
when something is drawn.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fouryousee_data import export
from fouryousee_data._fileio import atomic_write
from fouryousee_data._i18n import (
    column_label,
    day,
    lang_of,
    moment,
    number,
    percent,
    percent_decimals,
    text,
    unknown_names,
)
from fouryousee_data.analysis import _pdf as pdf
from fouryousee_data.analysis._audit_chart import compliance_chart
from fouryousee_data.brand import Brand

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["compliance_chart", "pdf_pages", "summary", "to_excel", "to_pdf"]


def summary(
    result: pd.DataFrame, by: str | Sequence[str] = ("campaign", "player_id")
) -> pd.DataFrame:
    """Totals of a :func:`compliance` result (default per campaign x player).

    Columns: ``player_name`` (when the result has names and ``by`` holds
    ``player_id``), ``delivered``, ``contracted``, ``shortfall``, ``delivery_rate``,
    ``days``, ``days_short`` (days below target), ``screens_short`` (above the screen)
    and ``provisional_days``.

    A shortfall is judged **per screen** (campaign x player, and account): within a
    screen a good day makes up for a bad one; above it (per campaign, per account) the
    shortfall is the **sum of the screens' shortfalls**, never a net of one screen's
    surplus against another's, and ``delivery_rate`` is ``1 - shortfall / contracted``
    (a screen's own rate is ``delivered / contracted``, over-delivery included).

    Examples
    --------
    >>> from fouryousee_data.analysis.audit import compliance
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00"]),
    ...                    "player_id": pd.array([1], dtype="int32"),
    ...                    "media_id": pd.array([12], dtype="int32")})
    >>> res = compliance(df, [{"campaign": "C", "media_ids": "12", "player_ids": "1",
    ...                        "plays_per_day": 2}])
    >>> summary(res, by="campaign")[["delivered", "contracted", "delivery_rate"]]
    ... # doctest: +NORMALIZE_WHITESPACE
              delivered  contracted  delivery_rate
    campaign
    C                 1         2.0            0.5
    """
    keys = [by] if isinstance(by, str) else list(by)
    frame = result.assign(
        days=1,
        days_short=(result["delivered"] < result["contracted"]).astype(np.int64),
        provisional_days=result["provisional"].astype(np.int64),
    )
    # the unit a shortfall is judged on: a screen of a campaign (of an account), or finer
    screen = [n for n in result.index.names if n in _SCREEN or n in keys]
    units = frame.groupby(level=screen, sort=False)[["delivered", "contracted"]].sum()
    units["shortfall"] = np.maximum(units["contracted"] - units["delivered"], 0.0)
    units["screens_short"] = (units["shortfall"] > 0).astype(np.int64)
    groups = frame.groupby(level=keys, sort=False)
    totals = groups[["delivered", "contracted", "days", "days_short", "provisional_days"]].sum()
    by_unit = units.groupby(level=keys, sort=False)[["shortfall", "screens_short"]].sum()
    totals = totals.join(by_unit)
    contracted = totals["contracted"].where(totals["contracted"] > 0)
    if set(screen) == set(keys):  # a screen's own rate: over-delivery shows
        totals["delivery_rate"] = totals["delivered"] / contracted
    else:  # above the screen: one screen's surplus never covers another's shortfall
        totals["delivery_rate"] = (contracted - totals["shortfall"]) / contracted
    order = ["delivered", "contracted", "shortfall", "delivery_rate", "days", "days_short"]
    if set(screen) != set(keys):
        order.append("screens_short")
    if "player_name" in result.columns and "player_id" in keys:
        order.insert(0, "player_name")
        totals["player_name"] = groups["player_name"].first()
    return totals[[*order, "provisional_days"]]


#: The index levels that name a screen of a campaign.
_SCREEN = ("account", "campaign", "player_id")


def to_excel(result: pd.DataFrame, path: str | os.PathLike[str], *, lang: str = "pt-BR") -> Path:
    """The audit as a workbook ready to send: totals per campaign, per screen, then one
    sheet of days per campaign.

    Headers in ``lang`` (``"pt-BR"`` or ``"en"``); counts are integers, rates Excel
    percentages, days Excel dates; every sheet has the screens' names (when the
    result has ``player_name``), fitted column widths and a frozen header row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fouryousee_data.analysis.audit import compliance
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00"]),
    ...                    "player_id": pd.array([1], dtype="int32"),
    ...                    "media_id": pd.array([12], dtype="int32")})
    >>> result = compliance(df, [{"campaign": "C", "media_ids": "12", "player_ids": "1",
    ...                           "plays_per_day": 2}])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = to_excel(result, pathlib.Path(tmp) / "audit.xlsx", lang="en")
    ...     list(pd.read_excel(path, sheet_name=None))
    ['Campaigns', 'Screens', 'C']
    """
    lang = lang_of(lang)
    result = _names_in(result, lang)
    keys = _keys(result)
    campaign_keys = [k for k in keys if k != "player_id"]
    sheets = {
        text("sheet_campaigns", lang): _with_screens(result, campaign_keys),
        text("sheet_screens", lang): summary(result, by=keys),
    }
    for campaign, rows in result.groupby(level="campaign", sort=False):
        sheets[str(campaign)] = rows.droplevel("campaign")
    return export.to_excel({k: _for_sheet(v, lang) for k, v in sheets.items()}, path, lang=lang)


def _names_in(result: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``result`` with the names of unknown screens in ``lang``."""
    if "player_name" not in result.columns:
        return result
    return result.assign(player_name=unknown_names(result["player_name"], lang))


_SHEET_ORDER = ("player_id", "player_name", "day", "screens", "contracted", "delivered")


def _for_sheet(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Keys first, the screen's name next to its id, contracted before delivered (as in
    the PDF), ``provisional`` as "sim"/"não" ("yes"/"no")."""
    flat = frame.reset_index()
    first = [c for c in flat.columns if c not in _SHEET_ORDER and c in frame.index.names]
    order = [*first, *(c for c in _SHEET_ORDER if c in flat.columns)]
    flat = flat[[*order, *(c for c in flat.columns if c not in order)]]
    if "provisional" in flat.columns:
        words = np.where(flat["provisional"], text("yes", lang), text("no", lang))
        flat = flat.assign(provisional=words)
    return flat


def _keys(result: pd.DataFrame) -> list[str]:
    """The index levels that name a row's screen: every level but ``day``."""
    return [str(n) for n in result.index.names if n != "day"]


def _with_screens(result: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Totals per ``keys`` (a campaign) with its number of screens first."""
    totals = summary(result, by=keys)
    ids = result.index.to_frame(index=False)
    screens = ids.groupby(keys, sort=False)["player_id"].nunique()
    totals.insert(0, "screens", screens.reindex(totals.index).to_numpy(dtype=np.int64))
    return totals


# --------------------------------------------------------------------------- PDF


def to_pdf(
    result: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    lang: str = "pt-BR",
    brand: Brand | str | os.PathLike[str] | None = None,
    advertiser: str | None = None,
) -> Path:
    """The audit as an A4 PDF to send: a first page with the company block, the totals
    per campaign and per screen (with charts) and the signature block, then for each
    campaign x screen its daily chart and table (matplotlib's PDF backend).

    Parameters
    ----------
    result
        A :func:`compliance` result.
    title
        Default "Relatório de comprovação de exibição" (``"en"``: "Proof-of-play report").
    lang
        ``"pt-BR"`` (default: ``dd/mm/aaaa``, decimal comma) or ``"en"``.
    brand
        A :class:`~fouryousee_data.Brand` or the path of its config file (TOML or
        JSON): logo, company name, CNPJ, address, signature block.
    advertiser
        Printed as "Cliente" ("Advertiser").

    Tables split across pages with their header repeated; a page is only left
    part empty where a new campaign starts.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fouryousee_data.analysis.audit import compliance
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00"]),
    ...                    "player_id": pd.array([1], dtype="int32"),
    ...                    "media_id": pd.array([12], dtype="int32")})
    >>> result = compliance(df, [{"campaign": "C", "media_ids": "12", "player_ids": "1",
    ...                           "plays_per_day": 2}])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = to_pdf(result, pathlib.Path(tmp) / "audit.pdf", advertiser="ACME")
    ...     path.read_bytes()[:5]
    b'%PDF-'
    """
    from matplotlib.backends.backend_pdf import PdfPages

    lang = lang_of(lang)
    brand = Brand.coerce(brand)
    title = title or text("title", lang)
    pages = pdf_pages(result, title=title, lang=lang, brand=brand, advertiser=advertiser)
    meta = {"Title": title, "Creator": "fouryousee_data", "Author": brand.company or None}

    def write(tmp: str) -> None:
        with PdfPages(tmp, metadata=meta) as book:
            for page in pages:
                book.savefig(page)

    return atomic_write(path, write, keep_suffix=True)


def pdf_pages(
    result: pd.DataFrame,
    *,
    title: str | None = None,
    lang: str = "pt-BR",
    brand: Brand | None = None,
    advertiser: str | None = None,
) -> list[Figure]:
    """The pages :func:`to_pdf` writes, as matplotlib figures (to look at or test).

    Examples
    --------
    >>> from fouryousee_data.analysis.audit import compliance
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00"]),
    ...                    "player_id": pd.array([1], dtype="int32"),
    ...                    "media_id": pd.array([12], dtype="int32")})
    >>> result = compliance(df, [{"campaign": "C", "media_ids": "12", "player_ids": "1",
    ...                           "plays_per_day": 2}])
    >>> len(pdf_pages(result, lang="en"))
    2
    """
    lang = lang_of(lang)
    result = _names_in(result, lang)
    brand = brand or Brand()
    issued = dt.datetime.now()
    blocks = _first_page(result, title or text("title", lang), lang, brand, advertiser, issued)
    blocks += _screen_pages(result, lang)
    left = " · ".join(
        p for p in (brand.company, f"CNPJ {brand.cnpj}" if brand.cnpj else "", title) if p
    )

    def footer(fig: Figure, number: int, total: int) -> None:
        pdf.footer_line(fig, left, text("page", lang).format(number, total))

    return pdf.render(pdf.layout(blocks), footer)


_GREY = "0.35"


def _first_page(
    result: pd.DataFrame,
    title: str,
    lang: str,
    brand: Brand,
    advertiser: str | None,
    issued: dt.datetime,
) -> list[pdf.Block]:
    blocks: list[pdf.Block] = []
    company = [(brand.company, 13.0, True, "0")] if brand.company else []
    company += [(f"CNPJ {brand.cnpj}", 9.0, False, _GREY)] if brand.cnpj else []
    company += [(line, 9.0, False, _GREY) for line in brand.address.splitlines() if line]
    if company or brand.logo is not None:
        blocks += [pdf.Logo(brand.logo, company), pdf.Rule(height=0.25)]
    days = result.index.get_level_values("day")
    period = (
        text("period_range", lang).format(day(days.min(), lang), day(days.max(), lang))
        if len(days)
        else text("no_days", lang)
    )
    meta = [(f"{text('advertiser', lang)}: {advertiser}", 10.0, False, "0")] if advertiser else []
    meta += [(f"{text('period', lang)}: {period}", 10.0, False, "0")]
    meta += [(f"{text('issued', lang)} {moment(issued, lang)}", 8.5, False, _GREY)]
    notes = [(text("method_note", lang), 8.0, False, _GREY)]
    if bool(result["provisional"].any()):
        notes.append((text("provisional_note", lang), 8.0, False, _GREY))
    blocks += [pdf.Para([(title, 17.0, True, "0")]), pdf.Gap(0.08), pdf.Para(meta)]
    blocks += [pdf.Gap(0.08), pdf.Para(notes), pdf.Gap(0.15)]
    keys = _keys(result)
    campaign_keys = [k for k in keys if k != "player_id"]
    campaigns = _with_screens(result, campaign_keys)
    blocks += [_heading(text("campaign_totals", lang))]
    blocks += [_totals_table(campaigns, lang, screens=True)]
    if len(campaigns):
        blocks += [pdf.Gap(), pdf.Chart(lambda ax: compliance_chart(result, ax=ax, lang=lang,
                                                                    title=False))]  # fmt: skip
    blocks += [pdf.Gap(0.2), _heading(text("screen_totals", lang))]
    more = f"{text('screen_totals', lang)} {text('continued', lang)}"
    blocks += [_totals_table(summary(result, by=keys), lang, screens=False, caption=more)]
    if brand.signature:
        place = f"{brand.city}, {day(issued, lang)}" if brand.city else day(issued, lang)
        blocks += [pdf.Gap(0.2), pdf.Signature(place, brand.signature.splitlines())]
    return blocks


def _heading(words: str, size: float = 11.5) -> pdf.Para:
    return pdf.Para([(words, size, True, "0")], keep_with_next=True)


def _totals_table(
    totals: pd.DataFrame, lang: str, *, screens: bool, caption: str = ""
) -> pdf.Table:
    """A table of :func:`summary` totals, one row per key."""
    header, rows, align = _totals_cells(totals, lang, screens=screens)
    return pdf.Table(header, rows, align, size=8.0, caption=caption)


def _totals_cells(
    totals: pd.DataFrame, lang: str, *, screens: bool
) -> tuple[list[str], list[list[str]], list[str]]:
    """The header, the rows (as people read them: labels, ``1.234``, ``98,5%``) and the
    alignment (``"l"``/``"r"``) of a table of :func:`summary` totals."""
    names = totals.index.names
    frame = totals.reset_index()
    header = [column_label(str(n), lang) for n in names if n != "player_id"]
    if "player_id" in names:
        header.append(column_label("player_name", lang))
    counts = ["contracted", "delivered", "shortfall"]
    header += [column_label(c, lang) for c in counts]
    header += [column_label("delivery_rate", lang), column_label("days_short", lang)]
    if screens:
        header.insert(len(names), text("screens", lang))
    decimals = {c: _decimals(frame[c]) for c in counts}
    pct = percent_decimals(frame["delivery_rate"])
    rows = []
    for r in frame.itertuples(index=False):
        row = [str(getattr(r, str(n))) for n in names if n != "player_id"]
        if "player_id" in names:
            row.append(_screen_name(r))
        if screens:
            row.append(number(r.screens, lang))
        row += [number(getattr(r, c), lang, decimals=decimals[c]) for c in counts]
        row += [percent(r.delivery_rate, lang, decimals=pct), number(r.days_short, lang)]
        rows.append(row)
    align = ["l"] * (len(header) - 5 - screens) + ["r"] * (5 + screens)
    return header, rows, align


def campaign_totals_text(result: pd.DataFrame, *, lang: str = "pt-BR") -> str:
    """The campaign totals of a :func:`compliance` result as plain text for a terminal:
    the first table of :func:`to_pdf`, with its labels and number formats in ``lang``.

    Examples
    --------
    >>> from fouryousee_data.analysis.audit import compliance
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00"] * 3),
    ...                    "player_id": pd.array([1, 1, 1], dtype="int32"),
    ...                    "media_id": pd.array([12, 12, 12], dtype="int32")})
    >>> res = compliance(df, [{"campaign": "Verão", "media_ids": "12", "player_ids": "1",
    ...                        "plays_per_day": 1200}])
    >>> print(campaign_totals_text(res, lang="en"))
    Campaign  Screens  Contracted plays  Delivered plays  Shortfall  Delivery rate  Days short
    Verão           1             1,200                3      1,197           0.2%           1
    """
    lang = lang_of(lang)
    keys = [k for k in _keys(result) if k != "player_id"]
    header, rows, align = _totals_cells(_with_screens(result, keys), lang, screens=True)
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        padded = [
            cell.ljust(w) if a == "l" else cell.rjust(w)
            for cell, w, a in zip(cells, widths, align, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return "\n".join(line(cells) for cells in [header, *rows])


def _screen_name(row: Any) -> str:
    name = getattr(row, "player_name", None)
    if isinstance(name, str) and name:
        return f"{name} ({row.player_id})"
    return f"player {row.player_id}"


def _decimals(values: pd.Series) -> int:
    """0 when every value is whole, else 1 (one format per column keeps the commas aligned)."""
    finite = values.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    return 0 if np.all(finite == np.round(finite)) else 1


def _screen_pages(result: pd.DataFrame, lang: str) -> list[pdf.Block]:
    """Per campaign (a new page each): per screen its heading, daily chart and table."""
    blocks: list[pdf.Block] = []
    keys = _keys(result)
    campaign_keys = [k for k in keys if k != "player_id"]
    last: dict[str, Any] = {}
    for key, days in result.groupby(level=keys, sort=False):
        values = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        campaign = {k: values[k] for k in campaign_keys}
        if campaign != last:
            blocks.append(pdf.PageBreak())
            last = campaign
        name = days["player_name"].iloc[0] if "player_name" in days.columns else None
        screen = _screen_name(pd.Series({"player_name": name, "player_id": values["player_id"]}))
        where = " · ".join(str(values[k]) for k in keys if k != "player_id")
        heading = f"{where} · {text('screen', lang)} {screen}"
        blocks.append(_heading(heading, size=11.0))

        def draw(ax: Any, days: pd.DataFrame = days, pid: Any = values["player_id"]) -> Any:
            return compliance_chart(days, player_id=pid, ax=ax, lang=lang, title=False)

        blocks += [pdf.Chart(draw, height=2.3, keep_with_next=True), pdf.Gap(0.1)]
        blocks += [_daily_table(days, lang, caption=f"{heading} {text('continued', lang)}")]
        blocks.append(pdf.Gap(0.25))
    return blocks


def _daily_table(days: pd.DataFrame, lang: str, caption: str) -> pdf.Table:
    frame = days.droplevel([n for n in days.index.names if n != "day"])
    counts = ["contracted", "delivered", "shortfall"]
    decimals = {c: _decimals(frame[c]) for c in counts}
    header = [column_label(c, lang) for c in ("day", *counts, "delivery_rate", "provisional")]
    yes, pct = text("yes", lang), percent_decimals(frame["delivery_rate"])
    rows = [
        [day(r.Index, lang, weekday=True)]
        + [number(getattr(r, c), lang, decimals=decimals[c]) for c in counts]
        + [percent(r.delivery_rate, lang, decimals=pct), yes if r.provisional else ""]
        for r in frame.itertuples()
    ]
    return pdf.Table(header, rows, ["l", "r", "r", "r", "r", "c"], size=7.5, caption=caption)
