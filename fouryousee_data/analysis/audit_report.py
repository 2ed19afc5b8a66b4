"""The audit for people: totals, an Excel workbook, a PDF, the delivered-vs-contracted chart.

All of them take a :func:`~fouryousee_data.analysis.audit.compliance` result
(campaign x player x day rows). ``plot.compliance_chart`` is the chart drawn
here; matplotlib is imported only when something is drawn.
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
from fouryousee_data.analysis._charts import (
    CONTRACTED,
    DELIVERED,
    date_axis,
    new_axes,
    wall_clock,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["compliance_chart", "summary", "to_excel", "to_pdf"]


def summary(
    result: pd.DataFrame, by: str | Sequence[str] = ("campaign", "player_id")
) -> pd.DataFrame:
    """Totals of a :func:`compliance` result (default per campaign x player).

    Columns: ``delivered``, ``contracted``, ``shortfall`` (of the totals: a
    good day makes up for a bad one), ``delivery_rate``, ``days``,
    ``days_short`` (days below target) and ``provisional_days``.

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
    totals = frame.groupby(level=keys, sort=False)[
        ["delivered", "contracted", "days", "days_short", "provisional_days"]
    ].sum()
    totals["shortfall"] = np.maximum(totals["contracted"] - totals["delivered"], 0.0)
    contracted = totals["contracted"].where(totals["contracted"] > 0)
    totals["delivery_rate"] = totals["delivered"] / contracted
    order = ["delivered", "contracted", "shortfall", "delivery_rate", "days", "days_short"]
    return totals[[*order, "provisional_days"]]


def to_excel(result: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """The audit as a workbook: a ``summary`` sheet, then one sheet per campaign.

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
    ...     path = to_excel(result, pathlib.Path(tmp) / "audit.xlsx")
    ...     list(pd.read_excel(path, sheet_name=None))
    ['summary', 'C']
    """
    sheets = {"summary": summary(result)}
    for campaign, rows in result.groupby(level="campaign", sort=False):
        sheets[str(campaign)] = rows.droplevel("campaign")
    return export.to_excel(sheets, path)


def to_pdf(
    result: pd.DataFrame, path: str | os.PathLike[str], *, title: str = "Proof-of-play audit"
) -> Path:
    """The audit as a PDF: a cover with the totals per campaign, then for each campaign
    one page per player with the daily chart and table (matplotlib's PDF backend).

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
    ...     path = to_pdf(result, pathlib.Path(tmp) / "audit.pdf", title="Summer campaign")
    ...     path.read_bytes()[:5]
    b'%PDF-'
    """
    from matplotlib.backends.backend_pdf import PdfPages

    def write(tmp: str) -> None:
        with PdfPages(tmp, metadata={"Title": title, "Creator": "fouryousee_data"}) as pdf:
            pdf.savefig(_cover(result, title))
            for _, days in result.groupby(level=["campaign", "player_id"]):
                for page in _player_pages(days):
                    pdf.savefig(page)

    return atomic_write(path, write, keep_suffix=True)


_A4 = (8.27, 11.69)
_TABLE_FONT = 7.5
# table rows on a page with / without the chart: up to 40 days fit on one page
_ROWS_FIRST, _ROWS_MORE = 40, 70


def _cover(result: pd.DataFrame, title: str) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=_A4)
    days = result.index.get_level_values("day")
    period = f"{days.min():%Y-%m-%d} to {days.max():%Y-%m-%d}" if len(days) else "no days"
    fig.text(0.08, 0.93, title, fontsize=20, weight="bold")
    fig.text(0.08, 0.895, f"Audited days: {period}", fontsize=11)
    fig.text(0.08, 0.875, f"Generated {dt.datetime.now():%Y-%m-%d %H:%M}", fontsize=9, color="0.4")
    totals = summary(result, by="campaign")
    if bool(result["provisional"].any()):
        note = "Hatched / flagged days are provisional: late uploads may still add plays."
        fig.text(0.08, 0.855, note, fontsize=9, color="0.3")
    rows = [
        [str(r.Index), f"{r.delivered:,.0f}", f"{r.contracted:,.0f}", f"{r.shortfall:,.0f}",
         _pct(r.delivery_rate), f"{r.days_short:,}", f"{r.provisional_days:,}"]
        for r in totals.itertuples()
    ]  # fmt: skip
    header = ["campaign", "delivered", "contracted", "shortfall", "rate", "days short"]
    header.append("provisional")
    _text_table(fig, 0.82, header, rows, fontsize=9)
    if len(totals):
        compliance_chart(result, ax=fig.add_axes((0.1, 0.08, 0.85, 0.32)))
    return fig


def _player_pages(days: pd.DataFrame) -> list[Any]:
    """The pages of one campaign x player: the chart and the first rows, then the rest."""
    from matplotlib.figure import Figure

    campaign = str(days.index.get_level_values("campaign")[0])
    player_id = int(days.index.get_level_values("player_id")[0])
    frame = days.droplevel(["campaign", "player_id"])
    name = f" — {frame['player_name'].iloc[0]}" if "player_name" in frame.columns else ""
    rows = [
        [f"{r.Index:%Y-%m-%d %a}", f"{r.delivered:,}", f"{r.contracted:,.1f}",
         f"{r.shortfall:,.1f}", _pct(r.delivery_rate), "yes" if r.provisional else ""]
        for r in frame.itertuples()
    ]  # fmt: skip
    header = ["day", "delivered", "contracted", "shortfall", "rate", "provisional"]
    chunks = [rows[:_ROWS_FIRST]]
    chunks += [rows[i : i + _ROWS_MORE] for i in range(_ROWS_FIRST, len(rows), _ROWS_MORE)]
    pages = []
    for number, chunk in enumerate(chunks):
        fig = Figure(figsize=_A4)
        fig.text(0.08, 0.95, f"{campaign} · player {player_id}{name}", fontsize=14, weight="bold")
        if number == 0:
            compliance_chart(days, player_id=player_id, ax=fig.add_axes((0.1, 0.66, 0.66, 0.25)))
            top = 0.6
        else:
            fig.text(0.08, 0.925, "(continued)", fontsize=9, color="0.4")
            top = 0.9
        _text_table(fig, top, header, chunk, fontsize=_TABLE_FONT)
        pages.append(fig)
    return pages


def _text_table(
    fig: Any, top: float, header: list[str], rows: list[list[str]], fontsize: float
) -> None:
    """A table as one right-aligned text block per column: fast to draw, crisp in PDF
    (matplotlib's ``Axes.table`` lays out every cell separately and is ~100x slower)."""
    from matplotlib.lines import Line2D

    left, right = 0.08, 0.92
    step = (right - left) / len(header)
    line = fontsize * 1.45 / 72 / fig.get_figheight()  # one text line, in figure fraction
    for i, name in enumerate(header):
        x = left + step * (i + 1) - 0.01
        fig.text(x, top, name, ha="right", va="top", fontsize=fontsize, weight="bold")
        column = "\n".join(row[i] for row in rows)
        fig.text(x, top - 1.6 * line, column, ha="right", va="top", fontsize=fontsize,
                 linespacing=1.45, family="monospace")  # fmt: skip
    rule = top - 1.3 * line
    fig.add_artist(Line2D([left, right], [rule, rule], color="0.5", linewidth=0.6))


def _pct(rate: Any) -> str:
    return "" if pd.isna(rate) else f"{rate:.0%}"


def compliance_chart(
    result: pd.DataFrame,
    *,
    campaign: str | None = None,
    player_id: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Delivered vs contracted plays from an ``audit.compliance`` result.

    * with ``player_id``: that screen's days (bars delivered, contracted as a
      line; provisional days hatched);
    * else with ``campaign`` (or a result holding one campaign): totals per player;
    * else: totals per campaign.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> df = pd.DataFrame({"played_at": pd.date_range("2024-03-01 08:00", periods=96, freq="h"),
    ...                    "player_id": pd.array([1, 2] * 48, dtype="int32"),
    ...                    "media_id": pd.array([7, 8, 9] * 32, dtype="int32")})
    >>> from fouryousee_data.analysis.audit import compliance
    >>> result = compliance(df, [{"campaign": "Summer", "media_ids": [7], "player_ids": [1, 2],
    ...                           "plays_per_day": 10}])
    >>> ax = compliance_chart(result, campaign="Summer", ax=Figure().subplots())
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['1', '2']
    """
    if campaign is not None:
        if campaign not in result.index.get_level_values("campaign"):
            raise ValueError(f"campaign: {campaign!r} is not in the result")
        result = result[result.index.get_level_values("campaign") == campaign]
    campaigns = result.index.get_level_values("campaign").unique()
    ax = new_axes(ax, (10, 4.5))
    if player_id is not None:
        _daily_bars(ax, _days_of(result, player_id))
        where = (
            f"{campaigns[0]}, player {player_id}" if len(campaigns) == 1 else f"player {player_id}"
        )
        ax.set_title(f"{where}: delivered vs contracted per day")
        return ax
    level = "player_id" if len(campaigns) == 1 else "campaign"
    totals = result.groupby(level=level, sort=False)[["delivered", "contracted"]].sum()
    x = np.arange(len(totals))
    ax.bar(x - 0.2, totals["delivered"], width=0.4, color=DELIVERED, label="delivered")
    ax.bar(
        x + 0.2, totals["contracted"], width=0.4, color=CONTRACTED, alpha=0.6, label="contracted"
    )
    rate = totals["delivered"] / totals["contracted"].where(totals["contracted"] > 0)
    for xi, (top, r) in enumerate(zip(totals.max(axis=1), rate, strict=True)):
        if not np.isnan(r):
            ax.annotate(f"{r:.0%}", (xi, top), ha="center", va="bottom", fontsize="small")
    labels = [str(v) for v in totals.index]
    ax.set_xticks(
        x,
        labels,
        rotation=45 if len(labels) > 8 else 0,
        ha="right" if len(labels) > 8 else "center",
    )
    what = f"{campaigns[0]}: per player" if level == "player_id" else "per campaign"
    ax.set_title(f"Delivered vs contracted plays, {what}")
    ax.set_xlabel("player" if level == "player_id" else "campaign")
    ax.set_ylabel("plays")
    ax.legend(fontsize="small", frameon=False)
    return ax


def _days_of(result: pd.DataFrame, player_id: int) -> pd.DataFrame:
    """One player's rows, indexed by ``day`` alone."""
    rows = result[result.index.get_level_values("player_id") == player_id]
    if rows.empty:
        raise KeyError(player_id)
    return rows.droplevel([n for n in rows.index.names if n != "day"])


def _daily_bars(ax: Axes, days: pd.DataFrame) -> None:
    from matplotlib.dates import date2num

    when = wall_clock(days.index.get_level_values("day"))
    provisional = days["provisional"].to_numpy(dtype=bool)
    half_day = pd.Timedelta(hours=12)
    for day in when[provisional]:  # shaded even when nothing was delivered
        ax.axvspan(date2num(day - half_day), date2num(day + half_day), color="0.9", lw=0)
    bars = ax.bar(when, days["delivered"], width=0.8, color=DELIVERED, label="delivered")
    for bar, flag in zip(bars, provisional, strict=True):
        if flag:
            bar.set_hatch("//")
            bar.set_alpha(0.5)
    ax.step(when, days["contracted"], where="mid", color=CONTRACTED, label="contracted")
    if provisional.any():
        ax.fill_between([], [], color="0.9", label="provisional (may still grow)")
    ax.set_xlabel("day")
    ax.set_ylabel("plays")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    date_axis(ax)
