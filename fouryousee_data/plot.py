"""Charts of playlogs with matplotlib: look at the data rather than read it.

``compliance_chart`` is drawn by :mod:`fouryousee_data.analysis.audit_report`
(the audit's PDF uses it too) and re-exported here.

Each function draws on ``ax`` (or a new figure when ``ax`` is None) and returns
the ``Axes``, with a title, axis labels and readable dates. Nothing here calls
``plt.show()`` or picks a backend: in a notebook the figure shows itself, in a
script call ``ax.figure.savefig("chart.png")``. Times are drawn as local
wall-clock time (tz-aware frames too).

Examples
--------
>>> from fouryousee_data import plot
>>> ax = plot.daily_plays(fy.read_playlogs("report.gz"), by="media")  # doctest: +SKIP
>>> ax.figure.savefig("daily.png")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from fouryousee_data.analysis import (
    DEFAULT_OPENING_HOURS,
    IdList,
    OpeningHours,
    hour_weekday,
    per_media,
    per_player,
)
from fouryousee_data.analysis._charts import (
    OTHERS,
    date_axis,
    distinct_colors,
    new_axes,
    wall_clock,
)
from fouryousee_data.analysis.audit_report import compliance_chart
from fouryousee_data.analysis.health import timeline
from fouryousee_data.timerange import DateLike, read_bounds

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["compliance_chart", "daily_plays", "hour_weekday_heatmap", "player_timeline"]

_GAP, _OPEN = "#d62728", "#cfe8cf"
#: "others" peaking above this many times the busiest line shown gets its own axis.
_FLATTENS = 1.5


def _labels(ids: Any, names: Any, kind: str) -> list[str]:
    """``"Lobby (12)"`` from a names mapping / players or medias frame, else ``"player 12"``."""
    lookup: Mapping[int, Any] = {}
    if isinstance(names, pd.DataFrame):
        lookup = dict(zip(names[f"{kind}_id"].astype(int), names["name"], strict=False))
    elif isinstance(names, Mapping):
        lookup = {int(k): v for k, v in names.items()}
    return [f"{lookup[int(i)]} ({i})" if int(i) in lookup else f"{kind} {i}" for i in ids]


def daily_plays(
    df: pd.DataFrame,
    by: str = "player",
    *,
    ax: Axes | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    dayfirst: bool = False,
    top: int = 10,
    names: Any = None,
) -> Axes:
    """Plays per day, one line per player (``by="player"``) or media (``by="media"``).

    The ``top`` busiest ids get their own line, each its own colour (never one
    twice in a chart). The rest are summed into "N others", a black dashed line;
    when that sum peaks above 1.5 times the busiest line it goes on its own scale
    (the right axis), so it cannot flatten the lines that matter. ``names``: a
    players/medias frame or ``{id: name}`` for the legend, drawn under the chart.
    Days without plays are drawn as 0.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> df = pd.DataFrame({"played_at": pd.date_range("2024-03-01 08:00", periods=96, freq="h"),
    ...                    "player_id": pd.array([1, 2] * 48, dtype="int32"),
    ...                    "media_id": pd.array([7, 8, 9] * 32, dtype="int32")})
    >>> ax = daily_plays(df, by="media", names={7: "Promo"}, ax=Figure().subplots())
    >>> [t.get_text() for t in ax.get_legend().get_texts()], ax.get_title()
    (['Promo (7)', 'media 8', 'media 9'], 'Daily plays per media')
    """
    start, end = read_bounds(start, end, dayfirst=dayfirst)
    if by not in ("player", "media"):
        raise ValueError(f"by: expected 'player' or 'media', got {by!r}")
    if top < 1:
        raise ValueError(f"top: must be at least 1, got {top}")
    counts = (per_player if by == "player" else per_media)(df, freq="D", start=start, end=end)
    wide = counts["plays"].unstack(level=0, fill_value=0)
    order = wide.sum().sort_values(ascending=False, kind="stable").index
    shown = wide[order[:top]]
    labels = _labels(shown.columns, names, by)
    ax = new_axes(ax, (10, 5))
    days = wall_clock(wide.index)
    colors = distinct_colors(len(labels))
    for column, label, color in zip(shown.columns, labels, colors, strict=True):
        ax.plot(days, shown[column].to_numpy(), marker="o", markersize=3, label=label, color=color)
    ax.set_ylim(bottom=0)
    handles = ax.get_lines()
    if len(order) > top:
        rest = wide[order[top:]].sum(axis=1).to_numpy()
        handles.append(_others(ax, days, rest, len(order) - top, float(shown.to_numpy().max())))
    ax.set_title(f"Daily plays per {by}")
    ax.set_xlabel("day")
    ax.set_ylabel("plays")
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False,
                  ncols=min(len(handles), 4), fontsize="small")  # fmt: skip
    date_axis(ax)
    return ax


def _others(ax: Axes, days: pd.DatetimeIndex, rest: Any, count: int, busiest: float) -> Any:
    """The "N others" line: dashed black, on a right axis of its own when it peaks
    well above the busiest line shown (on the same axis it would flatten them)."""
    style: dict[str, Any] = {"color": OTHERS, "linestyle": "--", "linewidth": 1.2}
    if float(rest.max(initial=0)) <= _FLATTENS * busiest:
        (line,) = ax.plot(days, rest, label=f"{count} others", **style)
        return line
    right = ax.twinx()
    (line,) = right.plot(days, rest, label=f"{count} others (right axis)", **style)
    right.set_ylim(bottom=0)
    right.set_ylabel(f"plays, {count} others (dashed)")
    return line


def hour_weekday_heatmap(
    df: pd.DataFrame,
    *,
    ax: Axes | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    dayfirst: bool = False,
    player_ids: IdList = None,
    media_ids: IdList = None,
) -> Axes:
    """Heatmap of plays by local hour of day (rows) x weekday (columns), with a colorbar.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> df = pd.DataFrame({"played_at": pd.date_range("2024-03-01 08:00", periods=96, freq="h"),
    ...                    "player_id": pd.array([1, 2] * 48, dtype="int32"),
    ...                    "media_id": pd.array([7, 8, 9] * 32, dtype="int32")})
    >>> ax = hour_weekday_heatmap(df, player_ids=[1], ax=Figure().subplots())
    >>> int(ax.get_images()[0].get_array().sum())
    48
    """
    start, end = read_bounds(start, end, dayfirst=dayfirst)
    table = hour_weekday(df, start=start, end=end, player_ids=player_ids, media_ids=media_ids)
    ax = new_axes(ax, (6, 7))
    image = ax.imshow(table.to_numpy(), aspect="auto", cmap="viridis", origin="upper")
    ax.set_xticks(range(7), list(table.columns))
    ax.set_yticks(range(0, 24, 2), [f"{h:02d}:00" for h in range(0, 24, 2)])
    ax.set_title("Plays by hour and weekday")
    ax.set_xlabel("weekday")
    ax.set_ylabel("hour of day")
    ax.figure.colorbar(image, ax=ax, label="plays")
    return ax


def player_timeline(
    df: pd.DataFrame,
    *,
    min_gap: str | pd.Timedelta | dt.timedelta = "30min",
    opening_hours: OpeningHours = DEFAULT_OPENING_HOURS,
    start: DateLike | None = None,
    end: DateLike | None = None,
    dayfirst: bool = False,
    player_ids: IdList = None,
    names: Any = None,
    ax: Axes | None = None,
) -> Axes:
    """One row per player: opening hours in green, silent gaps (``gaps``) in red.

    Arguments as in :func:`fouryousee_data.analysis.health.gaps`; ``names`` labels the
    rows (a players frame or ``{id: name}``).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> df = pd.DataFrame({"played_at": pd.date_range("2024-03-01 08:00", periods=96, freq="h"),
    ...                    "player_id": pd.array([1, 2] * 48, dtype="int32"),
    ...                    "media_id": pd.array([7, 8, 9] * 32, dtype="int32")})
    >>> ax = player_timeline(df, min_gap="90min", ax=Figure().subplots())
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['player 1', 'player 2']
    """
    start, end = read_bounds(start, end, dayfirst=dayfirst)
    import matplotlib.dates as mdates
    from matplotlib.patches import Patch

    # one scan gives both what gaps and uptime return
    silent, windows = timeline(
        df, min_gap, opening_hours, start=start, end=end, player_ids=player_ids
    )
    ids = windows.index.get_level_values("player_id").unique()
    silent_of = dict(tuple(silent.groupby("player_id", sort=False)))
    ax = new_axes(ax, (10, 0.6 * max(len(ids), 1) + 1.8))
    for row, pid in enumerate(ids):
        w = windows.xs(pid, level="player_id")
        w = w[w["open_s"] > 0]  # closed days have no window
        g = silent_of.get(pid, silent.iloc[:0])
        for frame, color, key in (
            (w, _OPEN, ("opens", "closes")),
            (g, _GAP, ("gap_start", "gap_end")),
        ):
            left = mdates.date2num(wall_clock(frame[key[0]]).to_pydatetime())
            right = mdates.date2num(wall_clock(frame[key[1]]).to_pydatetime())
            ax.broken_barh(
                list(zip(left, right - left, strict=True)), (row - 0.4, 0.8), color=color
            )
    ax.set_yticks(range(len(ids)), _labels(ids, names, "player"))
    ax.set_ylim(len(ids) - 0.5, -0.5)
    ax.xaxis_date()
    date_axis(ax)
    ax.set_title(f"Player timeline: silent gaps of at least {_duration(min_gap)} in red")
    ax.set_xlabel("local time")
    ax.set_ylabel("player")
    ax.legend(
        handles=[Patch(color=_OPEN, label="open, playing"), Patch(color=_GAP, label="gap")],
        loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False,
    )  # fmt: skip
    return ax


def _duration(value: Any) -> str:
    """``"1h 30min"`` for a Timedelta-like."""
    minutes = int(pd.Timedelta(value).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return (
        " ".join(p for p in (f"{hours}h" if hours else "", f"{minutes}min" if minutes else "") if p)
        or "0min"
    )
