"""matplotlib helpers shared by ``plot`` and the audit's PDF (private module, public names).

Nothing here imports matplotlib at module level: importing the package picks no backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "CONTRACTED",
    "DELIVERED",
    "OTHERS",
    "date_axis",
    "distinct_colors",
    "new_axes",
    "wall_clock",
]

#: Colours of delivered and contracted plays (bars, lines).
DELIVERED, CONTRACTED = "#1f77b4", "#d62728"
#: The colour of the "others" line: black, in no palette of :func:`distinct_colors`.
OTHERS = "#000000"


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax`` itself, or the axes of a new pyplot figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # here, not at import: importing us picks no backend

    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def distinct_colors(n: int) -> list[str]:
    """``n`` different colours: tab10 up to 10, tab20 up to 20, then turbo sampled evenly.

    Examples
    --------
    >>> len(set(distinct_colors(11))), distinct_colors(1)
    (11, ['#1f77b4'])
    """
    import matplotlib as mpl
    from matplotlib.colors import to_hex

    if n <= 10:
        return [to_hex(c) for c in mpl.colormaps["tab10"].colors[:n]]  # type: ignore[attr-defined]
    if n <= 20:
        pairs = mpl.colormaps["tab20"].colors  # type: ignore[attr-defined]
        return [to_hex(c) for c in (pairs[0::2] + pairs[1::2])[:n]]
    cmap = mpl.colormaps["turbo"]
    return [to_hex(cmap(0.05 + 0.9 * i / (n - 1))) for i in range(n)]


# ConciseDateFormatter's formats per level: years, months, days, hours, minutes, seconds.
_DATE_FORMATS = {
    "en": (
        ["%Y", "%b", "%b %d", "%H:%M", "%H:%M", "%S.%f"],
        ["", "%Y", "%b %d", "%b %d", "%H:%M", "%H:%M"],
        ["", "%Y", "%Y", "%Y-%m-%d", "%Y-%m-%d", "%Y-%m-%d %H:%M"],
    ),
    "pt-BR": (  # numeric: month names would need the system's pt_BR locale
        ["%Y", "%m/%Y", "%d/%m", "%H:%M", "%H:%M", "%S.%f"],
        ["", "%Y", "%d/%m", "%d/%m", "%H:%M", "%H:%M"],
        ["", "%Y", "%Y", "%d/%m/%Y", "%d/%m/%Y", "%d/%m/%Y %H:%M"],
    ),
}
_TICK_INCHES = 0.8  # room for one date label and the space after it


def date_axis(ax: Axes, lang: str = "en") -> None:
    """Readable dates on the x axis, drawn after the data (the span decides the ticks).

    Days are ticked every 1, 2, 7 (Mondays) or 14 days, evenly, never on both the
    29th and the 1st (matplotlib's ``AutoDateLocator`` ticks days of the month,
    1, 5, ..., 29, which collide at the month's end); longer spans are ticked by
    ``AutoDateLocator`` in months or years. Labels by ``ConciseDateFormatter``
    (``"Mar 04"``; ``"04/03"`` in ``pt-BR``), the year once at the axis' end.
    """
    import matplotlib.dates as mdates

    lo, hi = ax.get_xlim()
    span = hi - lo  # days
    fig = ax.get_figure(root=True)
    width = ax.get_position().width * (fig.get_figwidth() if fig is not None else 6.0)
    room = max(int(width / _TICK_INCHES), 3)
    locator: Any
    if 2 <= span <= 14 * room:
        step = next((s for s in (1, 2, 7, 14) if span / s + 1 <= room), 14)
        if step >= 7:
            locator = mdates.WeekdayLocator(byweekday=mdates.MO, interval=step // 7)
        else:
            locator = mdates.DayLocator(interval=step)  # every step-th day from the view's start
    else:
        locator = mdates.AutoDateLocator(minticks=3, maxticks=room)
    formats, zero, offset = _DATE_FORMATS[lang]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(
            locator, formats=formats, zero_formats=zero, offset_formats=offset
        )
    )


def wall_clock(values: Any) -> pd.DatetimeIndex:
    """Local wall-clock times for matplotlib (it would draw aware times in UTC)."""
    index = pd.DatetimeIndex(values)
    return index.tz_localize(None) if index.tz is not None else index
