"""One account or several behind ``fetch_playlogs(client=...)``: one frame either way.

``client`` is ``None`` (``Client()`` from the environment), one
:class:`~fouryousee_data.Client`, a list of clients, or a mapping ``{label: client}``.
With several, each account is fetched in turn through its own client and its own
cache namespace (exactly as alone), and the frames are concatenated, sorted by
``played_at`` (stable: at the same second, accounts keep their order). The
``account`` column tells them apart:

* a mapping names the accounts: its keys become the ``account`` of every row of
  that client (the names the data carries are replaced);
* a list keeps the names the data carries; a row whose ``account`` is null (old
  player firmware writes none) takes its account's name: the one name that
  account's other rows carry, or, if they carry none or several, the client's
  ``fingerprint`` (its cache namespace; never the token). Pass a mapping for
  names of your own.

One account failing does not lose the others: every account runs to its end (its
windows cached as usual), then the first failure is raised, its message naming
every failed account. After the fetch, ids asked for that have no plays in the
range are named in a warning (``logging``, logger ``fouryousee_data.fetch``):
an unknown id, or a silent screen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from fouryousee_data.client import Client
from fouryousee_data.errors import FouryouseeError, failure_summary
from fouryousee_data.schema import pandas_dtypes
from fouryousee_data.timerange import TimeRange

__all__ = ["Clients", "account_label", "each_account", "labelled", "warn_missing_ids"]

log = logging.getLogger("fouryousee_data.fetch")

#: What ``client=`` accepts: none (from the environment), one, a list, or ``{label: client}``.
Clients = Client | Sequence[Client] | Mapping[str, Client] | None


def labelled(client: Sequence[Client] | Mapping[str, Client]) -> list[tuple[str | None, Client]]:
    """The clients of a list (label ``None``) or a mapping, checked: at least one, all
    :class:`Client`, no account twice (the same API URL and token).

    Examples
    --------
    >>> a = Client(token="a", base_url="http://127.0.0.1:9/v1/")
    >>> b = Client(token="b", base_url="http://127.0.0.1:9/v1/")
    >>> [label for label, _ in labelled({"loja": a, "matriz": b})]
    ['loja', 'matriz']
    >>> labelled([a, a])
    Traceback (most recent call last):
    ...
    ValueError: client: the same account twice (fingerprint ...)
    """
    pairs: list[tuple[str | None, Client]] = (
        [(str(k), v) for k, v in client.items()]
        if isinstance(client, Mapping)
        else [(None, c) for c in client]
    )
    if not pairs:
        raise ValueError("client: an empty list of clients")
    seen: set[str] = set()
    for label, c in pairs:
        if not isinstance(c, Client):
            raise ValueError(f"client: expected Client objects, got {type(c).__name__}")
        if c.fingerprint in seen:
            raise ValueError(f"client: the same account twice (fingerprint {c.fingerprint})")
        if label is not None and not label.strip():
            raise ValueError("client: an account label must not be empty")
        seen.add(c.fingerprint)
    return pairs


def account_label(names: Iterable[object], fingerprint: str) -> str:
    """The name given to an account's null ``account`` rows (a list of clients): the one
    name its other rows carry, else its fingerprint.

    Examples
    --------
    >>> account_label(["alfa-1", None, "alfa-1"], "0123456789abcdef")
    'alfa-1'
    >>> account_label([None, None], "0123456789abcdef")
    '0123456789abcdef'
    """
    found = {n for n in names if isinstance(n, str)}
    return found.pop() if len(found) == 1 else fingerprint


def each_account(
    client: Clients,
    fetch: Callable[[Client], pd.DataFrame],
    span: TimeRange,
    *,
    player_ids: Sequence[int] = (),
    media_ids: Sequence[int] = (),
) -> pd.DataFrame:
    """``fetch(client)`` for one client (``None``: ``Client()``) or every client of a list
    or mapping, as one frame (see the module docstring); then the warning about ids
    without plays.

    Examples
    --------
    >>> each_account([c1, c2], lambda c: fetch_one(c), span)  # doctest: +SKIP
    """
    if client is None:
        with Client() as api:
            df = fetch(api)
    elif isinstance(client, Client):
        df = fetch(client)
    else:
        df = _several(labelled(client), fetch)
    warn_missing_ids(df, span, player_ids=player_ids, media_ids=media_ids)
    return df


def _several(
    pairs: list[tuple[str | None, Client]], fetch: Callable[[Client], pd.DataFrame]
) -> pd.DataFrame:
    frames: list[pd.DataFrame] = []
    failures: list[tuple[str, Exception]] = []
    for label, c in pairs:
        try:
            df = fetch(c)
        except Exception as exc:  # raised below, after every other account ran
            failures.append((label or c.fingerprint, exc))
            continue
        frames.append(_named(df, label, c.fingerprint))
    if failures:
        raise _combined(failures, len(pairs))
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values("played_at", kind="stable", ignore_index=True)
    out = out.astype(_CATEGORIES)  # concat made categories that differ plain objects
    by_label = {label or c.fingerprint: f for (label, c), f in zip(pairs, frames, strict=True)}
    out.attrs = _lineage(by_label)
    return out


#: The categorical columns of the playlog frame.
_CATEGORIES = {k: v for k, v in pandas_dtypes().items() if isinstance(v, pd.CategoricalDtype)}


def _named(df: pd.DataFrame, label: str | None, fingerprint: str) -> pd.DataFrame:
    """``df`` with its ``account`` column as plain strings, named as the module says."""
    accounts = df["account"].astype(object)
    if label is None:
        name = account_label(accounts.dropna().unique(), fingerprint)
        accounts = accounts.where(accounts.notna(), name)
    else:
        accounts = pd.Series(label, index=df.index, dtype=object)
    out = df.copy()
    out["account"] = accounts
    return out


def _lineage(by_label: dict[str, pd.DataFrame]) -> dict[Hashable, Any]:
    """Each account's lineage under ``accounts``, and the days and reports of all."""
    frames = list(by_label.values())
    merged: dict[Hashable, Any] = {"accounts": {k: f.attrs for k, f in by_label.items()}}
    for key in ("cached_days", "fetched_days", "provisional_days", "report_ids"):
        merged[key] = sorted({v for f in frames for v in f.attrs.get(key, ())})
    for key in ("player_ids", "media_ids", "tz", "fetched_at"):
        if frames and key in frames[0].attrs:
            merged[key] = frames[-1].attrs[key]
    return merged


def _combined(failures: list[tuple[str, Exception]], total: int) -> Exception:
    """The first failure, its message naming every failed account."""
    first = failures[0][1]
    text = failure_summary(
        [(f"account {label}", exc) for label, exc in failures],
        total,
        noun="account(s)",
        others="finished (kept in their caches)",
        rerun="Run the same call again to fetch only what is missing.",
    )
    log.error("fetch_playlogs: %s", text)
    if isinstance(first, FouryouseeError):
        first.args = (text,)
    else:
        first.add_note(text)
    first.failed_accounts = [label for label, _ in failures]  # type: ignore[attr-defined]
    return first


def warn_missing_ids(
    df: pd.DataFrame,
    span: TimeRange,
    *,
    player_ids: Sequence[int] = (),
    media_ids: Sequence[int] = (),
) -> None:
    """Log a warning naming the ids asked for (``player_ids``, ``media_ids``) that have no
    plays in ``df``.

    Examples
    --------
    >>> import logging, sys
    >>> logging.getLogger("fouryousee_data").addHandler(h := logging.StreamHandler(sys.stdout))
    >>> span = TimeRange(pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-02"))
    >>> df = pd.DataFrame({"player_id": [1], "media_id": [7]})
    >>> warn_missing_ids(df, span, player_ids=(1, 99, 98))
    no plays from 2024-03-01 00:00:00 to 2024-03-02 00:00:00 (exclusive) for player id(s) 98, \
99: unknown ids, or silent in that range
    >>> logging.getLogger("fouryousee_data").removeHandler(h)
    """
    for asked, column in ((player_ids, "player_id"), (media_ids, "media_id")):
        missing = sorted(set(asked) - set(df[column].unique().tolist())) if asked else []
        if missing:
            log.warning(
                "no plays from %s to %s (exclusive) for %s id(s) %s: unknown ids, "
                "or silent in that range",
                span.start,
                span.end,
                column.removesuffix("_id"),
                ", ".join(map(str, missing)),
            )
