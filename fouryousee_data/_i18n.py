"""Words, numbers and dates for people, in Brazilian Portuguese (``"pt-BR"``) or English (``"en"``).

A private module with public names: the audit's PDF and Excel and ``export.to_excel``
share them. Brazilian conventions: ``dd/mm/aaaa`` dates, decimal comma, ``.``
between thousands.

Examples
--------
>>> number(1234.5, "pt-BR", decimals=1), number(1234.5, "en", decimals=1)
('1.234,5', '1,234.5')
>>> percent(0.9996, "pt-BR"), day(pd.Timestamp("2024-03-31"), "pt-BR", weekday=True)
('99,9%', '31/03/2024 dom')
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "LANGS",
    "column_label",
    "day",
    "day_excel_format",
    "lang_of",
    "moment",
    "number",
    "percent",
    "percent_decimals",
    "text",
    "unknown_names",
]

#: The languages the toolkit writes for people (the first is the default).
LANGS = ("pt-BR", "en")

_ALIASES = {"pt-br": "pt-BR", "pt": "pt-BR", "en": "en", "en-us": "en", "en-gb": "en"}

_WEEKDAYS = {
    "pt-BR": ("seg", "ter", "qua", "qui", "sex", "sáb", "dom"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def lang_of(value: str) -> str:
    """The language ``value`` names (``"pt-BR"`` or ``"en"``), or a ``ValueError``.

    Examples
    --------
    >>> lang_of("pt_br"), lang_of("EN-us")
    ('pt-BR', 'en')
    """
    key = str(value).strip().lower().replace("_", "-")
    if key not in _ALIASES:
        raise ValueError(f"lang: expected one of {', '.join(LANGS)}, got {value!r}")
    return _ALIASES[key]


def number(value: Any, lang: str, *, decimals: int = 0) -> str:
    """``1.234,5`` (pt-BR) or ``1,234.5`` (en); empty for NaN.

    Examples
    --------
    >>> number(21.428571, "pt-BR", decimals=1), number(float("nan"), "en")
    ('21,4', '')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    plain = f"{value:,.{decimals}f}"
    if lang == "pt-BR":
        return plain.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return plain


def percent(rate: Any, lang: str, *, decimals: int | None = None) -> str:
    """A rate as a percentage, never rounded up to 100%; ``decimals=None``: whole when
    exact, else one decimal (:func:`percent_decimals` picks one for a whole column).

    Examples
    --------
    >>> percent(0.26, "pt-BR"), percent(0.583, "en"), percent(1.0, "en", decimals=1)
    ('26%', '58.3%', '100.0%')
    """
    if rate is None or pd.isna(rate):
        return ""
    shown = round(float(rate) * 100, 1)
    if rate < 1 and shown >= 100:
        shown = 99.9  # a shortfall is never shown as 100%
    if decimals is None:
        decimals = 0 if shown == int(shown) else 1
    return number(shown, lang, decimals=decimals) + "%"


def percent_decimals(rates: Any) -> int:
    """0 when every rate is a whole percentage, else 1: one format per column.

    Examples
    --------
    >>> percent_decimals([0.5, 0.25]), percent_decimals([0.5, 0.375, float("nan")])
    (0, 1)
    """
    shown = np.round(np.asarray(rates, dtype=float) * 100, 1)
    shown = shown[np.isfinite(shown)]
    return 0 if np.all(shown == np.round(shown)) else 1


def day(value: Any, lang: str, *, weekday: bool = False) -> str:
    """``31/03/2024`` (pt-BR) or ``2024-03-31`` (en), optionally with the weekday.

    Examples
    --------
    >>> day(dt.date(2024, 3, 31), "en", weekday=True)
    '2024-03-31 Sun'
    """
    stamp = pd.Timestamp(value)
    text = f"{stamp:%d/%m/%Y}" if lang == "pt-BR" else f"{stamp:%Y-%m-%d}"
    return f"{text} {_WEEKDAYS[lang][stamp.weekday()]}" if weekday else text


def moment(value: dt.datetime, lang: str) -> str:
    """A date and time to the minute: ``31/03/2024 14:05`` or ``2024-03-31 14:05``.

    Examples
    --------
    >>> moment(dt.datetime(2024, 3, 31, 14, 5), "pt-BR")
    '31/03/2024 14:05'
    """
    return f"{day(value, lang)} {value:%H:%M}"


def day_excel_format(lang: str | None, *, with_time: bool = False) -> str:
    """Excel's number format for a date (and time) in ``lang`` (ISO when ``None``).

    Examples
    --------
    >>> day_excel_format("pt-BR"), day_excel_format(None, with_time=True)
    ('dd/mm/yyyy', 'yyyy-mm-dd hh:mm:ss')
    """
    date = "dd/mm/yyyy" if lang == "pt-BR" else "yyyy-mm-dd"
    return f"{date} hh:mm:ss" if with_time else date


_TEXTS: dict[str, tuple[str, str]] = {
    # key: (pt-BR, en)
    "title": ("Relatório de comprovação de exibição", "Proof-of-play report"),
    "advertiser": ("Cliente", "Advertiser"),
    "period": ("Período", "Period"),
    "period_range": ("{} a {}", "{} to {}"),
    "no_days": ("sem dias", "no days"),
    "issued": ("Emitido em", "Issued"),
    "cnpj": ("CNPJ", "CNPJ"),
    "page": ("Página {} de {}", "Page {} of {}"),
    "continued": ("(continuação)", "(continued)"),
    "campaigns": ("Campanhas", "Campaigns"),
    "screens": ("Telas", "Screens"),
    "campaign_totals": ("Totais por campanha", "Totals per campaign"),
    "screen_totals": ("Totais por tela", "Totals per screen"),
    "daily": ("Veiculações por dia", "Plays per day"),
    "screen": ("Tela", "Screen"),
    "player": ("player", "player"),
    "yes": ("sim", "yes"),
    "no": ("não", "no"),
    "unknown player": ("tela desconhecida", "unknown player"),
    "unknown media": ("conteúdo desconhecido", "unknown media"),
    "provisional_note": (
        "Dias provisórios (sombreados, marcados «sim»): envios atrasados ainda podem somar"
        " veiculações.",
        "Provisional days (shaded, marked “yes”): late uploads may still add plays.",
    ),
    "method_note": (
        "Faltantes: a soma do que faltou em cada tela no período (o excedente de uma tela não"
        " cobre a falta de outra). Cumprimento de uma tela = entregues ÷ contratadas; de uma"
        " campanha = 1 − faltantes ÷ contratadas.",
        "Shortfall: the sum of what each screen missed over the period (one screen's surplus"
        " never covers another's). A screen's delivery rate = delivered ÷ contracted; a"
        " campaign's = 1 − shortfall ÷ contracted.",
    ),
    "signature": ("Assinatura", "Signature"),
    "delivered_vs_contracted": ("Entregues × contratadas", "Delivered vs contracted"),
    "per_campaign": ("por campanha", "per campaign"),
    "per_screen": ("por tela", "per screen"),
    "per_day": ("por dia", "per day"),
    "axis_plays": ("veiculações", "plays"),
    "axis_day": ("dia", "day"),
    "legend_delivered": ("entregues", "delivered"),
    "legend_contracted": ("contratadas", "contracted"),
    "legend_provisional": ("provisório (pode aumentar)", "provisional (may still grow)"),
    "sheet_campaigns": ("Campanhas", "Campaigns"),
    "sheet_screens": ("Telas", "Screens"),
}

_COLUMNS: dict[str, tuple[str, str]] = {
    "account": ("Conta", "Account"),
    "campaign": ("Campanha", "Campaign"),
    "player_id": ("ID do player", "Player ID"),
    "player_name": ("Tela", "Screen"),
    "media_id": ("ID do conteúdo", "Media ID"),
    "media_name": ("Conteúdo", "Media"),
    "name": ("Nome", "Name"),
    "group_name": ("Grupo", "Group"),
    "day": ("Dia", "Day"),
    "period": ("Período", "Period"),
    "played_at": ("Data e hora", "Played at"),
    "media_type": ("Tipo", "Type"),
    "ip": ("IP", "IP"),
    "plays": ("Veiculações", "Plays"),
    "delivered": ("Veiculações entregues", "Delivered plays"),
    "contracted": ("Veiculações contratadas", "Contracted plays"),
    "shortfall": ("Faltantes", "Shortfall"),
    "delivery_rate": ("Cumprimento", "Delivery rate"),
    "provisional": ("Provisório", "Provisional"),
    "days": ("Dias", "Days"),
    "screens": ("Telas", "Screens"),
    "days_short": ("Dias abaixo da meta", "Days short"),
    "screens_short": ("Telas abaixo da meta", "Screens short"),
    "provisional_days": ("Dias provisórios", "Provisional days"),
    "first_played": ("Primeira veiculação", "First played"),
    "last_played": ("Última veiculação", "Last played"),
    "active_days": ("Dias ativos", "Active days"),
    "uptime_pct": ("Disponibilidade", "Uptime"),
    "gaps": ("Interrupções", "Gaps"),
    "duration_s": ("Duração (s)", "Duration (s)"),
}


def text(key: str, lang: str) -> str:
    """A phrase of the reports in ``lang``.

    Examples
    --------
    >>> text("title", "pt-BR")
    'Relatório de comprovação de exibição'
    """
    return _TEXTS[key][LANGS.index(lang)]


def column_label(column: str, lang: str | None) -> str:
    """A column's header for people (the column's own name when unknown or ``lang=None``).

    Examples
    --------
    >>> column_label("delivery_rate", "pt-BR"), column_label("zzz", "en")
    ('Cumprimento', 'zzz')
    """
    if lang is None or column not in _COLUMNS:
        return str(column)
    return _COLUMNS[column][LANGS.index(lang)]


def unknown_names(names: pd.Series, lang: str) -> pd.Series:
    """``names`` with the analysis' labels of ids it does not know (``"unknown player 17"``,
    ``"unknown media 8"``) in ``lang``; known names unchanged.

    Examples
    --------
    >>> unknown_names(pd.Series(["Loja 1", "unknown player 17"]), "pt-BR").tolist()
    ['Loja 1', 'tela desconhecida 17']
    """
    out = names.astype(object)
    for kind in ("player", "media"):
        label = f"unknown {kind}"
        out = out.str.replace(rf"^{label} (?=\d)", text(label, lang) + " ", regex=True)
    return out.where(names.notna(), names)
