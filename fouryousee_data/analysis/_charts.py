"""matplotlib helpers shared by ``plot`` and the audit's PDF (private module, public names).

Nothing here imports matplotlib at module level: importing the package picks no backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CONTRACTED", "DELIVERED", "date_axis", "new_axes", "wall_clock"]

#: Colours of delivered and contracted plays (bars, lines).
DELIVERED, CONTRACTED = "#1f77b4", "#d62728"


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax`` itself, or the axes of a new pyplot figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # here, not at import: importing us picks no backend

    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def date_axis(ax: Axes) -> None:
    """Readable dates on the x axis (matplotlib's concise date formatter)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def wall_clock(values: Any) -> pd.DatetimeIndex:
    """Local wall-clock times for matplotlib (it would draw aware times in UTC)."""
    index = pd.DatetimeIndex(values)
    return index.tz_localize(None) if index.tz is not None else index
