"""The audit's chart: delivered vs contracted plays (private module, public names).

Drawn into the audit PDF and re-exported as ``plot.compliance_chart``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fouryousee_data._i18n import lang_of, percent, text
from fouryousee_data.analysis._charts import (
    CONTRACTED,
    DELIVERED,
    date_axis,
    new_axes,
    wall_clock,
)

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

__all__ = ["compliance_chart"]


def compliance_chart(
    result: pd.DataFrame,
    *,
    campaign: str | None = None,
    player_id: int | None = None,
    ax: Axes | None = None,
    lang: str = "en",
    title: bool = True,
) -> Axes:
    """Delivered vs contracted plays from an ``audit.compliance`` result.

    * with ``player_id``: that screen's days (bars delivered, contracted as a
      line; provisional days shaded and hatched);
    * else with ``campaign`` (or a result holding one campaign): totals per player;
    * else: totals per campaign.

    ``lang``: ``"en"`` or ``"pt-BR"`` for the labels and dates; ``title=False``
    leaves the title out (the audit PDF has headings). The legend sits inside the
    axes, in headroom above the bars, so no layout can clip it.

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
    lang = lang_of(lang)
    if campaign is not None:
        if campaign not in result.index.get_level_values("campaign"):
            raise ValueError(f"campaign: {campaign!r} is not in the result")
        result = result[result.index.get_level_values("campaign") == campaign]
    campaigns = result.index.get_level_values("campaign").unique()
    names = result.index.names
    accounts = "account" in names and result.index.get_level_values("account").nunique() > 1
    if player_id is not None and accounts:
        raise ValueError(
            "player_id: the result holds several accounts; pass one account's rows "
            "(result.xs(name, level='account', drop_level=False))"
        )
    ax = new_axes(ax, (10, 4.5))
    vs = text("delivered_vs_contracted", lang)
    if player_id is not None:
        _daily_bars(ax, _days_of(result, player_id), lang)
        where = f"{campaigns[0]}, player {player_id}" if len(campaigns) == 1 else ""
        where = where or f"player {player_id}"
        if title:
            ax.set_title(f"{where}: {vs.lower()} {text('per_day', lang)}")
        return ax
    level = "player_id" if len(campaigns) == 1 else "campaign"
    levels = ["account", level] if accounts else [level]  # accounts kept apart
    groups = result.groupby(level=levels, sort=False)
    totals = groups[["delivered", "contracted"]].sum()
    x = np.arange(len(totals))
    ax.bar(x - 0.2, totals["delivered"], width=0.4, color=DELIVERED,
           label=text("legend_delivered", lang))  # fmt: skip
    ax.bar(x + 0.2, totals["contracted"], width=0.4, color=CONTRACTED, alpha=0.6,
           label=text("legend_contracted", lang))  # fmt: skip
    rate = totals["delivered"] / totals["contracted"].where(totals["contracted"] > 0)
    for xi, (top, r) in enumerate(zip(totals.max(axis=1), rate, strict=True)):
        if not np.isnan(r):
            ax.annotate(percent(r, lang), (xi, top), ha="center", va="bottom", fontsize="small")
    named = level == "player_id" and "player_name" in result.columns
    shown = groups["player_name"].first() if named else pd.Series(index=totals.index, dtype=object)
    labels = [_label(key, name) for key, name in zip(totals.index, shown, strict=True)]
    crowded = len(labels) > 8 or sum(len(s) for s in labels) > 60
    ax.set_xticks(x, labels, rotation=30 if crowded else 0, ha="right" if crowded else "center")
    per = text("per_screen" if level == "player_id" else "per_campaign", lang)
    if title:
        ax.set_title(f"{campaigns[0]}: {vs} {per}" if level == "player_id" else f"{vs} {per}")
    ax.set_xlabel(text("screen" if level == "player_id" else "campaigns", lang).lower())
    ax.set_ylabel(text("axis_plays", lang))
    _legend_in_headroom(ax, float(totals.to_numpy().max(initial=0)))
    return ax


def _label(key: object, name: object) -> str:
    """``"acme · Lobby (12)"``: the account (when kept apart), the name and the id."""
    *prefix, last = key if isinstance(key, tuple) else (key,)
    last = f"{name} ({last})" if isinstance(name, str) and name else str(last)
    return " · ".join([*map(str, prefix), last])


def _days_of(result: pd.DataFrame, player_id: int) -> pd.DataFrame:
    """One player's rows, indexed by ``day`` alone."""
    rows = result[result.index.get_level_values("player_id") == player_id]
    if rows.empty:
        raise KeyError(player_id)
    return rows.droplevel([n for n in rows.index.names if n != "day"])


def _daily_bars(ax: Axes, days: pd.DataFrame, lang: str) -> None:
    from matplotlib.dates import date2num
    from matplotlib.patches import Patch

    when = wall_clock(days.index.get_level_values("day"))
    provisional = days["provisional"].to_numpy(dtype=bool)
    half_day = pd.Timedelta(hours=12)
    for day in when[provisional]:  # shaded even when nothing was delivered
        ax.axvspan(date2num(day - half_day), date2num(day + half_day), color="0.9", lw=0)
    bars = ax.bar(when, days["delivered"], width=0.8, color=DELIVERED,
                  label=text("legend_delivered", lang))  # fmt: skip
    for bar, flag in zip(bars, provisional, strict=True):
        if flag:
            bar.set_hatch("//")
            bar.set_alpha(0.5)
    ax.step(when, days["contracted"], where="mid", color=CONTRACTED,
            label=text("legend_contracted", lang))  # fmt: skip
    extra: list[Artist] = []
    if provisional.any():
        extra.append(Patch(facecolor="0.9", hatch="//", edgecolor=DELIVERED,
                           label=text("legend_provisional", lang)))  # fmt: skip
    ax.set_xlabel(text("axis_day", lang))
    ax.set_ylabel(text("axis_plays", lang))
    ax.set_xlim(date2num(when.min() - half_day), date2num(when.max() + half_day))
    top = max(float(days["delivered"].max()), float(days["contracted"].max()))
    _legend_in_headroom(ax, top, extra)
    date_axis(ax, lang)


def _legend_in_headroom(ax: Axes, top: float, extra: Sequence[Artist] = ()) -> None:
    """The y axis from 0 with a third more room on top, the legend in a row in that room."""
    ax.set_ylim(0, max(top, 1.0) * 1.3)
    handles, _ = ax.get_legend_handles_labels()
    handles = [*handles, *extra]
    ax.legend(handles=handles, loc="upper left", ncols=len(handles), fontsize="small",
              frameon=False, borderaxespad=0.3)  # fmt: skip
