"""Plays per player, per media and per pair, optionally per period; hour x weekday; airtime.

Every function here is pure: playlogs (SPEC section 3: a DataFrame, a DuckDB
relation or a Dask DataFrame) in, a new pandas frame out, counted inside the engine
by :func:`~fouryousee_data.analysis._backend.tally` (the module docstring of
:mod:`~fouryousee_data.analysis._tally` states the period semantics: ``period`` is
the start of a local calendar bucket, ``"W"`` weeks start on Monday, ...). Zero
plays are rows with ``plays == 0``, never missing rows. A frame holding several
accounts is counted per account (an ``account`` level first in the index).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset

from fouryousee_data.analysis._backend import PlaylogData, Playlogs, per_account, tally
from fouryousee_data.analysis._kernel import WEEKDAYS, IdList, bounds, id_list
from fouryousee_data.analysis._tally import Axis, Plan
from fouryousee_data.analysis.names import media_durations
from fouryousee_data.timerange import DateLike, read_bounds

__all__ = ["airtime", "hour_weekday", "per_media", "per_player", "per_player_media"]


def per_player(
    df: PlaylogData,
    *,
    freq: str | BaseOffset | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    dayfirst: bool = False,
    player_ids: IdList = None,
    media_ids: IdList = None,
) -> pd.DataFrame:
    """Plays per player (and per period with ``freq``), zero-filled.

    Parameters
    ----------
    df
        A playlog frame (naive or tz-aware ``played_at``).
    freq
        A pandas offset alias (``"h"``, ``"D"``, ``"W"``, ``"MS"``, ...): adds a
        ``period`` index level, the start of each bucket. Unknown: ``ValueError``.
    start, end
        Restrict the rows, with the rules of ``fetch_playlogs`` (a date-only
        ``end`` is inclusive; instants make a half-open ``[start, end)``).
    dayfirst
        Read ``dd/mm/yyyy`` strings day-first (without it they are a ``ValueError``).
    player_ids
        Exactly these players appear (zeros included); default: every player in ``df``.
    media_ids
        Count only the plays of these medias (a row filter).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``player_id`` (and ``period``), columns ``plays`` (int64),
        ``first_played``, ``last_played`` (NaT without plays), ``active_days``
        (days with at least one play; not for sub-day ``freq``) and
        ``distinct_medias``.

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-03 11:00"]),
    ...                    "player_id": pd.array([1, 2], dtype="int32"),
    ...                    "media_id": pd.array([7, 7], dtype="int32")})
    >>> per_player(df, freq="D")["plays"].tolist()
    [1, 0, 0, 0, 0, 1]
    >>> per_player(df, start="2024-01-02", end="2024-01-03", player_ids=[2, 3])["plays"]
    player_id
    2    1
    3    0
    Name: plays, dtype: int64
    """
    ids = {"player_id": player_ids, "media_id": media_ids}
    return _counts(df, ("player_id",), freq, start, end, dayfirst, ids, distinct="media_id")


def per_media(
    df: PlaylogData,
    *,
    freq: str | BaseOffset | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    dayfirst: bool = False,
    media_ids: IdList = None,
    player_ids: IdList = None,
) -> pd.DataFrame:
    """Plays per media (and per period with ``freq``), zero-filled.

    Same rules as :func:`per_player` with the roles swapped: ``media_ids`` are
    exactly the medias that appear, ``player_ids`` filters the rows; the extra
    columns are ``first_played``, ``last_played``, ``active_days`` and
    ``distinct_players``.

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00"]),
    ...                    "player_id": pd.array([1, 2], dtype="int32"),
    ...                    "media_id": pd.array([7, 7], dtype="int32")})
    >>> per_media(df)[["plays", "distinct_players"]]  # doctest: +NORMALIZE_WHITESPACE
              plays  distinct_players
    media_id
    7             2                 2
    """
    ids = {"media_id": media_ids, "player_id": player_ids}
    return _counts(df, ("media_id",), freq, start, end, dayfirst, ids, distinct="player_id")


def per_player_media(
    df: PlaylogData,
    *,
    freq: str | BaseOffset | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    dayfirst: bool = False,
    player_ids: IdList = None,
    media_ids: IdList = None,
) -> pd.DataFrame:
    """Plays per (player, media) pair (and per period with ``freq``), zero-filled.

    The index is the full product of players x medias (x periods): every player
    in ``df`` (or exactly ``player_ids``) with every media in ``df`` (or exactly
    ``media_ids``), so a media that never played on a screen is a row with
    ``plays == 0``. Columns: ``plays``, ``first_played``, ``last_played``,
    ``active_days`` (not for sub-day ``freq``).

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00"]),
    ...                    "player_id": pd.array([1, 2], dtype="int32"),
    ...                    "media_id": pd.array([7, 8], dtype="int32")})
    >>> per_player_media(df)["plays"]
    player_id  media_id
    1          7           1
               8           0
    2          7           0
               8           1
    Name: plays, dtype: int64
    """
    ids = {"player_id": player_ids, "media_id": media_ids}
    return _counts(df, ("player_id", "media_id"), freq, start, end, dayfirst, ids)


def _counts(
    df: PlaylogData,
    keys: tuple[str, ...],
    freq: str | BaseOffset | None,
    start: DateLike | None,
    end: DateLike | None,
    dayfirst: bool,
    ids: dict[str, IdList],
    *,
    distinct: str | None = None,
) -> pd.DataFrame:
    """The zero-filled counts per ``keys`` (per account when ``df`` holds several)."""
    first, last = read_bounds(start, end, dayfirst=dayfirst)
    return per_account(
        df,
        lambda source, _: tally(
            source, keys, freq=freq, start=first, end=last, ids=ids, distinct=distinct
        ),
    )


def hour_weekday(
    df: PlaylogData,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    dayfirst: bool = False,
    player_ids: IdList = None,
    media_ids: IdList = None,
) -> pd.DataFrame:
    """Plays by local hour of day (rows ``0..23``) x day of week (columns ``Mon..Sun``).

    Always 24 x 7 and zero-filled; ``start``/``end``/``player_ids``/``media_ids``
    restrict the rows first.

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:05", "2024-01-07 23:59"]),
    ...                    "player_id": pd.array([1, 1], dtype="int32"),
    ...                    "media_id": pd.array([7, 7], dtype="int32")})
    >>> table = hour_weekday(df)
    >>> table.shape, int(table.loc[10, "Mon"]), int(table.loc[23, "Sun"]), int(table.values.sum())
    ((24, 7), 1, 1, 2)
    """
    start, end = read_bounds(start, end, dayfirst=dayfirst)
    ids = {"player_id": player_ids, "media_id": media_ids}
    return per_account(df, lambda source, _: _hour_weekday(source, start, end, ids))


def _hour_weekday(
    source: Playlogs, start: DateLike | None, end: DateLike | None, ids: dict[str, IdList]
) -> pd.DataFrame:
    lists = {col: id_list(v, f"{col}s") for col, v in ids.items()}
    codes = {col: source.codes(col, v) for col, v in lists.items() if v is not None}
    window = bounds(source.clock, start, end)
    plan = Plan((), codes, Axis.weekly(source.clock), window, tuple(codes), first_last=False)
    counts = source.count(plan).plays  # weekday * 24 + hour
    return pd.DataFrame(
        counts.reshape(7, 24).T,
        index=pd.RangeIndex(24, name="hour"),
        columns=pd.Index(WEEKDAYS, name="weekday"),
    )


def airtime(
    df: PlaylogData,
    medias: Any,
    *,
    by: str = "player",
    freq: str | BaseOffset | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    dayfirst: bool = False,
    player_ids: IdList = None,
    media_ids: IdList = None,
) -> pd.DataFrame:
    """Screen time: plays x the media's ``duration_s``, per player, media or pair (and period).

    Parameters
    ----------
    medias
        The medias table (``Client.medias()``: ``media_id``, ``duration_s``), a
        ``Client``, or a mapping ``{media_id: seconds}``.
    by
        ``"player"``, ``"media"`` or ``"player_media"``.
    freq, start, end, player_ids, media_ids
        As in :func:`per_player_media`.

    Returns
    -------
    pandas.DataFrame
        ``plays`` (int64), ``airtime_s`` (float64, seconds; medias without a
        known duration count 0) and ``unknown_duration_plays`` (int64: plays
        whose media has no known duration, so the gap is visible).

    Examples
    --------
    >>> df = pd.DataFrame({"played_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00"]),
    ...                    "player_id": pd.array([1, 1], dtype="int32"),
    ...                    "media_id": pd.array([7, 8], dtype="int32")})
    >>> airtime(df, {7: 15.0})  # doctest: +NORMALIZE_WHITESPACE
               plays  airtime_s  unknown_duration_plays
    player_id
    1              2       15.0                       1
    """
    start, end = read_bounds(start, end, dayfirst=dayfirst)
    levels = {"player": ["player_id"], "media": ["media_id"], "player_media": None}
    if by not in levels:
        raise ValueError(f"by: expected 'player', 'media' or 'player_media', got {by!r}")
    durations = media_durations(medias)

    def run(source: Playlogs, _: Any) -> pd.DataFrame:
        grid = per_player_media(
            source, freq=freq, start=start, end=end, player_ids=player_ids, media_ids=media_ids
        )[["plays"]]
        return _airtime(grid, durations, levels[by], freq is not None)

    return per_account(df, run)


def _airtime(
    grid: pd.DataFrame, durations: pd.Series, keep: list[str] | None, periods: bool
) -> pd.DataFrame:
    """Plays x duration on a ``per_player_media`` grid, summed to the ``keep`` levels."""
    seconds = durations.reindex(grid.index.get_level_values("media_id").astype(np.int64))
    known = seconds.notna().to_numpy()
    plays = grid["plays"].to_numpy()
    grid["airtime_s"] = np.where(known, plays * seconds.to_numpy(dtype=float, na_value=0.0), 0.0)
    grid["unknown_duration_plays"] = np.where(known, 0, plays)
    if keep is None:
        return grid
    if periods:
        keep = [*keep, "period"]
    return grid.groupby(level=keep, sort=True).sum()
