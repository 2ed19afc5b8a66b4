"""One analysis API at every scale: DuckDB relations and Dask DataFrames give the pandas result.

Property tests draw random playlog frames (several accounts, time zones with and
without DST, empty frames) and random arguments (freq, start/end as dates or
instants, ids lists including empty ones) and check that every analysis function
returns, for the frame as a DuckDB relation and as a Dask DataFrame, exactly
(index, dtypes, order) what it returns for the frame itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import dask
import dask.dataframe as dd
import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fouryousee_data as fy
from conftest import make_playlog_frame, paced_client

FREQS = [None, "h", "3h", "D", "2D", "W", "MS"]
BASE = dt.datetime(2024, 3, 25)  # Europe/Berlin moves its clocks on 2024-03-31
TZS = [None, "America/Sao_Paulo", "Europe/Berlin"]


def as_duckdb(df: pd.DataFrame) -> duckdb.DuckDBPyRelation:
    """The frame as a relation on its own connection (a tz-aware frame: TIMESTAMPTZ read in
    the connection's TimeZone, which is what ``rel.df()`` gives back)."""
    con = duckdb.connect()
    tz = getattr(df["played_at"].dtype, "tz", None)
    if tz is not None:
        con.execute(f"SET TimeZone = '{tz}'")
    return con.from_df(df)


def as_dask(df: pd.DataFrame) -> dd.DataFrame:
    return dd.from_pandas(df, npartitions=3)


ENGINES: dict[str, Callable[[pd.DataFrame], Any]] = {"duckdb": as_duckdb, "dask": as_dask}


def equivalent(df: pd.DataFrame, engine: str) -> pd.DataFrame:
    """The pandas frame an engine input stands for: the frame itself (a TIMESTAMPTZ has
    no unit of its own in DuckDB: its results are in seconds, as fetch_playlogs' frames)."""
    if engine == "duckdb" and getattr(df["played_at"].dtype, "tz", None) is not None:
        return df.assign(played_at=df["played_at"].dt.as_unit("s"))
    return df


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 30))
    accounts = draw(st.sampled_from([["acme"], ["acme", "c'o"]]))
    rows = []
    for _ in range(n):
        when = BASE + dt.timedelta(seconds=draw(st.integers(0, 12 * 86_400 - 1)))
        rows.append(
            {
                "date": when.strftime("%Y-%m-%d"),
                "time": when.strftime("%H:%M:%S"),
                "playerId": draw(st.integers(1, 4)),
                "mediaId": draw(st.integers(1, 4)),
                "account": draw(st.sampled_from(accounts)),
                "type": "I",
            }
        )
    return make_playlog_frame(rows, tz=draw(st.sampled_from(TZS)))


bounds = st.one_of(
    st.none(),
    st.integers(0, 13).map(lambda d: (BASE + dt.timedelta(days=d)).strftime("%Y-%m-%d")),
    st.integers(0, 13 * 24).map(lambda h: pd.Timestamp(BASE + dt.timedelta(hours=h))),
)
ids = st.one_of(st.none(), st.lists(st.integers(1, 5), max_size=3))


@st.composite
def ranges(draw: st.DrawFn) -> dict[str, Any]:
    start, end = draw(bounds), draw(bounds)
    if start is not None and end is not None and pd.Timestamp(end) < pd.Timestamp(start):
        start, end = end, start
    return {"start": start, "end": end}


def same(fn: Callable[..., Any], df: pd.DataFrame, engine: str, **kwargs: Any) -> None:
    want = fn(equivalent(df, engine), **kwargs)
    got = fn(ENGINES[engine](df), **kwargs)
    if isinstance(want, tuple):
        for w, g in zip(want, got, strict=True):
            pd.testing.assert_frame_equal(g, w)
    else:
        pd.testing.assert_frame_equal(got, want)


def property_test(examples: dict[str, int], **strategies: Any) -> Callable[..., Any]:
    """A hypothesis test per engine, each with its own (small) number of examples."""

    def wrap(check: Callable[..., None]) -> Callable[..., Any]:
        def make(engine: str) -> Callable[..., Any]:
            @settings(
                max_examples=examples[engine],
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            )
            @given(**strategies)
            def test(**kwargs: Any) -> None:
                check(engine, **kwargs)

            return test

        return make

    return wrap


@pytest.fixture(autouse=True)
def _sync_dask() -> Any:
    """Property tests on the synchronous scheduler (the cluster test uses real workers)."""
    with dask.config.set(scheduler="sync"):
        yield


@property_test(
    {"duckdb": 8, "dask": 4},
    df=frames(),
    freq=st.sampled_from(FREQS),
    span=ranges(),
    players=ids,
    medias=ids,
)
def check_counts(
    engine: str, df: pd.DataFrame, freq: str | None, span: dict[str, Any], players: Any, medias: Any
) -> None:
    kw = {"player_ids": players, "media_ids": medias, **span}
    for fn in (fy.per_player, fy.per_media, fy.per_player_media):
        same(fn, df, engine, freq=freq, **kw)
    same(fy.hour_weekday, df, engine, **kw)
    same(fy.airtime, df, engine, medias={1: 15.0, 2: 7.5}, by="media", freq=freq, **kw)


@property_test(
    {"duckdb": 8, "dask": 3},
    df=frames(),
    span=ranges(),
    players=ids,
    hours=st.sampled_from(
        [("08:00", "22:00"), None, ("20:00", "02:00"), {"Mon-Fri": ("9:00", "18:00")}]
    ),
    min_gap=st.sampled_from(["10min", "2h"]),
)
def check_health_and_audit(
    engine: str, df: pd.DataFrame, span: dict[str, Any], players: Any, hours: Any, min_gap: str
) -> None:
    same(
        fy.analysis.health.timeline,
        df,
        engine,
        min_gap=min_gap,
        opening_hours=hours,
        player_ids=players,
        **span,
    )
    contract = [
        {"campaign": "Spring", "media_ids": [1, 2], "player_ids": [1, 2, 3], "plays_per_day": 2},
        {"campaign": "Week", "media_ids": [3], "player_ids": [4], "plays": 7, "period": "W"},
    ]
    same(fy.compliance, df, engine, contract=contract, **span)


test_counts_duckdb = pytest.mark.slow(check_counts("duckdb"))
test_counts_dask = pytest.mark.slow(check_counts("dask"))
test_health_and_audit_duckdb = pytest.mark.slow(check_health_and_audit("duckdb"))
test_health_and_audit_dask = check_health_and_audit("dask")


# --------------------------------------------------------------------------- a real cache


@pytest.mark.slow
@pytest.mark.parametrize("tz", [None, "America/Sao_Paulo"])
def test_scanned_cache_matches_fetched_frame(
    tz: str | None, simulator: Any, tmp_path: Any, dask_client: Any
) -> None:
    """``scan_playlogs`` over a real cache, on DuckDB and on a LocalCluster with worker
    processes: every analysis function returns exactly (dtypes included) what it returns
    for ``fetch_playlogs``' frame of the same days, naive and with ``tz=``."""
    cache = tmp_path / "cache"
    with paced_client(simulator) as api:
        df = fy.fetch_playlogs("2024-03-01", "2024-03-03", client=api, cache_dir=cache, tz=tz)
        scans = {
            engine: fy.scan_playlogs(
                "2024-03-01", "2024-03-03", client=api, cache_dir=cache, tz=tz, fetch=False,
                engine=engine,
            )
            for engine in ("duckdb", "dask")
        }  # fmt: skip
    assert len(df) > 0
    contract = [{"campaign": "All", "media_ids": sorted(set(df["media_id"])),
                 "player_ids": sorted(set(df["player_id"])), "plays_per_day": 100}]  # fmt: skip
    durations = {m: 10.0 + m % 7 for m in set(df["media_id"])}
    calls: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (fy.per_player, {"freq": "h"}),
        (fy.per_player, {"freq": "D", "start": "2024-03-01", "end": "2024-03-03"}),
        (fy.per_media, {"freq": "W", "start": "2024-03-02"}),
        (fy.per_player_media, {}),
        (fy.hour_weekday, {}),
        (fy.airtime, {"medias": durations, "freq": "D"}),
        (fy.gaps, {"min_gap": "10min"}),
        (fy.uptime, {"opening_hours": ("20:00", "02:00")}),
        (fy.analysis.health.timeline, {"min_gap": "30min"}),
        (fy.compliance, {"contract": contract}),
    ]
    with dask.config.set(scheduler=dask_client):  # the cluster's workers, not threads
        for engine, scan in scans.items():
            for fn, kw in calls:
                want, got = fn(df, **kw), fn(scan, **kw)
                pairs = zip(want, got, strict=True) if isinstance(want, tuple) else [(want, got)]
                for w, g in pairs:
                    pd.testing.assert_frame_equal(g, w, obj=f"{engine} {fn.__name__}")


@pytest.mark.parametrize("engine", ["pandas", *ENGINES])
def test_rows_without_an_account_stay_with_the_one_account(engine: str) -> None:
    """The API may leave ``account`` out of some lines: in one account's frame those rows
    are that account's (no ``account`` level), on every engine; beside a second named
    account they are a group of their own."""
    df = make_playlog_frame(
        [
            {"date": "2024-03-01", "time": "10:00:00", "playerId": 1, "mediaId": 5,
             "account": "acme"},
            {"date": "2024-03-01", "time": "11:00:00", "playerId": 1, "mediaId": 5,
             "account": None},
            {"date": "2024-03-02", "time": "10:00:00", "playerId": 2, "mediaId": 5,
             "account": "acme"},
        ]
    )  # fmt: skip
    named = df.assign(account=pd.Categorical(["acme"] * 3))
    data = df if engine == "pandas" else ENGINES[engine](df)
    got = fy.per_player(data, freq="D")
    pd.testing.assert_frame_equal(got, fy.per_player(named, freq="D"))
    assert list(got["plays"]) == [2, 0, 0, 1] and "account" not in got.index.names

    two = df.assign(account=pd.Categorical(["acme", None, "other"]))
    split = fy.per_player(two if engine == "pandas" else ENGINES[engine](two))
    assert split.index.names[0] == "account"
    assert split["plays"].sum() == 3


@pytest.mark.parametrize("engine", ["pandas", "duckdb", "dask"])
def test_accounts_kept_apart(engine: str) -> None:
    """Player 3 of client A and player 3 of client B are two screens; one account's part is
    exactly its own result; lines without an account go with the only account there is."""
    a = make_playlog_frame([("2024-03-01 10:00:00", 3, 7), ("2024-03-02 11:00:00", 3, 8)])
    b = make_playlog_frame([("2024-03-01 12:00:00", 3, 7), ("2024-03-01 13:00:00", 4, 7)])
    b["account"] = pd.Categorical(["beta"] * len(b))
    both = pd.concat([a, b], ignore_index=True)
    both["account"] = both["account"].astype("category")
    convert = {"pandas": lambda df: df, **ENGINES}[engine]
    got = fy.per_player(convert(both), freq="D")
    assert got.index.names == ["account", "player_id", "period"]
    pd.testing.assert_frame_equal(got.loc["acme"], fy.per_player(a, freq="D"))
    pd.testing.assert_frame_equal(got.loc["beta"], fy.per_player(b, freq="D"))
    assert got["plays"].sum() == 4
    gaps = fy.gaps(convert(both))
    assert list(gaps.columns[:2]) == ["account", "player_id"]
    assert set(gaps["account"]) == {"acme", "beta"}
    nameless = a.assign(account=pd.Categorical(["acme", None]))
    pd.testing.assert_frame_equal(fy.per_player(convert(nameless)), fy.per_player(a))


def test_bad_inputs_are_clear_errors() -> None:
    """A NULL played_at in a relation and an input no engine takes are ValueErrors that say so."""
    con = duckdb.connect()
    rel = con.sql("SELECT NULL::TIMESTAMP AS played_at, 1 AS player_id, 2 AS media_id")
    with pytest.raises(ValueError, match="missing values"):
        fy.per_player(rel)
    with pytest.raises(ValueError, match="missing values"):  # bounds and ids: no profile asked
        fy.per_player(rel, freq="D", start="2024-01-01", end="2024-01-02", player_ids=[1])
    with pytest.raises(ValueError, match="missing values"):
        fy.gaps(rel, start="2024-01-01", end="2024-01-02", player_ids=[1])
    with pytest.raises(ValueError, match="DuckDB relation or a Dask DataFrame"):
        fy.per_player([1, 2, 3])  # type: ignore[arg-type]
    text = con.sql("SELECT 'x' AS played_at, 1 AS player_id")
    with pytest.raises(ValueError, match="must be datetime64"):
        fy.per_player(text)
    medias = pd.DataFrame({"media_id": [2], "name": ["Promo"]})
    with pytest.raises(ValueError, match="expected a 'media_id' column"):
        fy.enrich(con.sql("SELECT 1 AS player_id"), medias=medias)
    with pytest.raises(ValueError, match="expected a 'media_id' column"):
        fy.enrich(dd.from_pandas(pd.DataFrame({"player_id": [1]}), npartitions=1), medias=medias)


# --------------------------------------------------------------------------- enrich


def plain(df: pd.DataFrame) -> pd.DataFrame:
    """A frame's text columns as objects (None for missing), rows in one order: an engine's
    result and pandas' compared value by value (DuckDB gives text, pandas categories)."""
    out = df.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]) and out[col].dtype.kind != "M":
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    key = ["played_at", "account", "player_id", "media_id"]
    return out.sort_values(key, kind="stable", na_position="first").reset_index(drop=True)


@pytest.mark.parametrize("engine", ["duckdb", "dask"])
def test_enrich_joins_the_names_inside_the_engine(
    engine: str, simulator: Any, tmp_path: Any, dask_client: Any
) -> None:
    """enrich on a scan: a lazy object of the same engine (a join with the small names
    tables), whose rows are those of enrich on fetch_playlogs' frame: names, groups,
    durations, categories, unknown ids kept and labelled, a name with a quote."""
    cache = tmp_path / "cache"
    with paced_client(simulator) as api:
        df = fy.fetch_playlogs("2024-03-01", "2024-03-02", client=api, cache_dir=cache)
        scan = fy.scan_playlogs(
            "2024-03-01", "2024-03-02", client=api, cache_dir=cache, fetch=False, engine=engine
        )
        players, medias = api.players(), api.medias()
        players.loc[0, "name"] = "Lobby d'Or"
        gone = int(df["player_id"].iloc[0])  # a screen deleted from the account since
        players = players[players["player_id"] != gone]
        got = fy.enrich(scan, players, medias)
        assert isinstance(got, type(scan))  # lazy, computed by the engine
        with dask.config.set(scheduler=dask_client):
            rows = got.df() if engine == "duckdb" else got.compute()
            want = fy.enrich(df, players, medias)
            pd.testing.assert_frame_equal(plain(rows), plain(want))
            assert set(rows.loc[rows["player_id"] == gone, "player_name"]) == {
                f"unknown player {gone}"
            }
            # a client for both tables, as in pandas (per_player output has no media_id)
            by_client = fy.enrich(scan, api)
            rows = by_client.df() if engine == "duckdb" else by_client.compute()
            pd.testing.assert_frame_equal(plain(rows), plain(fy.enrich(df, api)))
