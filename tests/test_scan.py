"""scan_playlogs over the cache: DuckDB and Dask, exact cuts, ids, tz, accounts, errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import fouryousee_data as fy
from conftest import paced_client
from fouryousee_data.dataset._tz import offsets
from fouryousee_data.schema import COLUMNS, localize
from fouryousee_data.simulator import Simulator

FAST = {"progress": False, "poll_interval": 0.02}
TZ = "America/Sao_Paulo"


def materialise(obj: object) -> pd.DataFrame:
    """A scan's rows as a pandas frame (text columns as plain strings), sorted stably."""
    relation = isinstance(obj, duckdb.DuckDBPyRelation)
    return comparable(obj.df() if relation else obj.compute())  # type: ignore[attr-defined]


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for name in ("account", "media_type", "ip"):
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    out["played_at"] = out["played_at"].astype(
        "datetime64[s]" if out["played_at"].dt.tz is None else f"datetime64[s, {TZ}]"
    )
    if out["played_at"].dt.tz is not None:
        out["played_at"] = out["played_at"].dt.tz_convert(TZ)
    out = out.sort_values(["played_at", "account", "player_id", "media_id"], kind="stable")
    return out.reset_index(drop=True)


def requests(sim: Simulator) -> int:
    return len(sim.requests)


@pytest.fixture
def filled(simulator: Simulator, api: fy.Client, tmp_path: Path) -> Path:
    """A cache holding 2024-03-01..2024-03-10 of the simulator (settled), unfiltered."""
    fy.fetch_playlogs("2024-03-01", "2024-03-10", client=api, cache_dir=tmp_path, **FAST)
    simulator.reset_requests()
    return tmp_path


@pytest.mark.parametrize("engine", ["duckdb", "dask"])
def test_scan_equals_fetch_for_days_instants_and_ids(
    engine: str, simulator: Simulator, api: fy.Client, filled: Path
) -> None:
    cases: list[dict[str, object]] = [
        {"start": "2024-03-01", "end": "2024-03-10"},
        {"start": "2024-03-02 09:30", "end": pd.Timestamp("2024-03-05 14:00:01")},
        {"start": "2024-03-03", "end": "2024-03-03", "player_ids": [10, 23], "media_ids": 26},
        {"start": dt.datetime(2024, 3, 4, 12), "end": dt.date(2024, 3, 6), "player_ids": 10},
    ]
    for case in cases:
        args = (case.pop("start"), case.pop("end"))
        scan = fy.scan_playlogs(
            *args, client=api, cache_dir=filled, engine=engine, fetch=False, **case
        )  # type: ignore[arg-type]
        want = fy.fetch_playlogs(*args, client=api, cache_dir=filled, **FAST, **case)  # type: ignore[arg-type]
        got = materialise(scan)
        assert list(got.columns) == list(COLUMNS)
        assert len(want) > 0
        pd.testing.assert_frame_equal(got, comparable(want))
    assert requests(simulator) == 0


def test_duckdb_relation_is_lazy_typed_and_on_the_given_connection(
    api: fy.Client, filled: Path
) -> None:
    con = duckdb.connect()
    rel = fy.scan_playlogs(
        "2024-03-01", "2024-03-10", client=api, cache_dir=filled, fetch=False, connection=con
    )
    assert isinstance(rel, duckdb.DuckDBPyRelation)
    assert rel.columns == list(COLUMNS)
    assert [str(t) for t in rel.types] == [
        "TIMESTAMP_S", "VARCHAR", "INTEGER", "INTEGER", "VARCHAR", "VARCHAR"
    ]  # fmt: skip
    con.register("plays", rel)
    n = con.sql("SELECT count(*) FROM plays").fetchall()
    df = rel.df()
    assert n == [(len(df),)]
    assert df["played_at"].dtype == "datetime64[s]"  # the unit of fetch_playlogs' frame
    assert df["player_id"].dtype == "int32" and df["media_id"].dtype == "int32"
    # lazy: removing the files after building the relation makes computing it fail
    rel2 = fy.scan_playlogs("2024-03-01", "2024-03-01", client=api, cache_dir=filled, fetch=False)
    for part in filled.rglob("date=2024-03-01/*"):
        part.unlink()
    with pytest.raises(duckdb.Error):
        rel2.fetchall()


def test_dask_frame_is_lazy_and_typed(api: fy.Client, filled: Path) -> None:
    import dask.dataframe as dd

    ddf = fy.scan_playlogs(
        "2024-03-01", "2024-03-10", client=api, cache_dir=filled, fetch=False, engine="dask"
    )
    assert isinstance(ddf, dd.DataFrame)
    assert list(ddf.columns) == list(COLUMNS)
    df = ddf.compute()
    assert df["played_at"].dtype == ddf.dtypes["played_at"] == "datetime64[s]"
    assert df["player_id"].dtype == "int32" and df["media_id"].dtype == "int32"
    assert isinstance(df["account"].dtype, pd.CategoricalDtype)
    assert ddf.npartitions == 10  # one per day file


@pytest.mark.parametrize("engine", ["duckdb", "dask"])
def test_tz_gives_the_same_instants_as_fetch(engine: str, api: fy.Client, filled: Path) -> None:
    start = pd.Timestamp("2024-03-02 06:00", tz="UTC")  # tz-aware bounds need tz=
    scan = fy.scan_playlogs(
        start, "2024-03-04", client=api, cache_dir=filled, fetch=False, tz=TZ, engine=engine
    )
    want = fy.fetch_playlogs(start, "2024-03-04", client=api, cache_dir=filled, tz=TZ, **FAST)
    if engine == "dask":  # DuckDB's TIMESTAMPTZ is microseconds, whatever the data
        assert scan.dtypes["played_at"] == want["played_at"].dtype == f"datetime64[s, {TZ}]"
    got = materialise(scan)
    assert str(got["played_at"].dt.tz) == TZ
    pd.testing.assert_frame_equal(got, comparable(want))


@pytest.mark.slow
@pytest.mark.parametrize("tz", ["America/New_York", "Europe/London", "America/Sao_Paulo"])
def test_sql_localisation_matches_pandas_across_dst_changes(tz: str) -> None:
    lo, hi = pd.Timestamp("2018-01-01"), pd.Timestamp("2025-01-01")
    naive = pd.Series(pd.date_range(lo, hi, freq="557s").as_unit("s"))
    # every 7th second within two hours of each change too
    found = offsets(tz, lo, hi)
    edges = pd.DatetimeIndex([when + off for when, off in found.changes]).as_unit("s")
    steps = pd.to_timedelta(range(-7300, 7300, 7), unit="s").as_unit("s")
    near = (edges.to_numpy()[:, None] + steps.to_numpy()[None, :]).ravel()
    naive = pd.concat([naive, pd.Series(near)], ignore_index=True)
    sql = found.sql("played_at")
    con = duckdb.connect()
    con.register("frame", pd.DataFrame({"played_at": naive}))
    got = con.sql(f"SELECT {sql} AS u FROM frame").df()["u"].astype("datetime64[s]")
    want = localize(naive, tz).dt.tz_convert("UTC").dt.tz_localize(None)
    assert (got.to_numpy() == want.to_numpy()).all()


def test_days_not_cached_are_an_error_that_lists_them(
    simulator: Simulator, api: fy.Client, filled: Path
) -> None:
    with pytest.raises(fy.MissingDaysError) as info:
        fy.scan_playlogs("2024-02-27", "2024-03-12", client=api, cache_dir=filled, fetch=False)
    assert "2024-02-27..2024-02-29" in str(info.value)
    assert "2024-03-11..2024-03-12" in str(info.value)
    assert info.value.days == [dt.date(2024, 2, d) for d in (27, 28, 29)] + [
        dt.date(2024, 3, 11),
        dt.date(2024, 3, 12),
    ]
    assert isinstance(info.value, LookupError)
    assert requests(simulator) == 0


def test_filter_semantics_of_the_cache(
    simulator: Simulator, api: fy.Client, tmp_path: Path
) -> None:
    fy.fetch_playlogs(
        "2024-03-05", "2024-03-06", player_ids=[10], client=api, cache_dir=tmp_path, **FAST
    )
    # the same filter is served; another filter is not (a filtered day serves only it)
    rel = fy.scan_playlogs(
        "2024-03-05", "2024-03-06", player_ids=[10], client=api, cache_dir=tmp_path, fetch=False
    )
    assert set(rel.df()["player_id"]) == {10}
    with pytest.raises(fy.MissingDaysError):
        fy.scan_playlogs(
            "2024-03-05", "2024-03-06", player_ids=[23], client=api, cache_dir=tmp_path, fetch=False
        )
    with pytest.raises(fy.MissingDaysError):
        fy.scan_playlogs("2024-03-05", "2024-03-06", client=api, cache_dir=tmp_path, fetch=False)
    # an unfiltered day serves any filter
    fy.fetch_playlogs("2024-03-05", "2024-03-06", client=api, cache_dir=tmp_path, **FAST)
    rel = fy.scan_playlogs(
        "2024-03-05", "2024-03-06", player_ids=[23], client=api, cache_dir=tmp_path, fetch=False
    )
    assert set(rel.df()["player_id"]) == {23}


def test_provisional_days_are_scanned_without_fetch_and_refetched_with_it(
    make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = make_simulator(now=dt.datetime(2024, 3, 10, 18, tzinfo=dt.UTC))
    with paced_client(sim) as api:
        fy.fetch_playlogs("2024-03-08", "2024-03-09", client=api, cache_dir=tmp_path, **FAST)
        sim.reset_requests()
        rel = fy.scan_playlogs(
            "2024-03-08", "2024-03-09", client=api, cache_dir=tmp_path, fetch=False
        )
        assert len(rel.df()) > 0 and requests(sim) == 0
        # fetch=True fetches the provisional day again (2024-03-09 ended < 24 h ago)
        fy.scan_playlogs("2024-03-08", "2024-03-09", client=api, cache_dir=tmp_path, progress=False)
        assert requests(sim) > 0


def test_fetch_true_fills_the_cache_then_asks_nothing(
    simulator: Simulator, api: fy.Client, tmp_path: Path
) -> None:
    rel = fy.scan_playlogs(
        "2024-03-01", "2024-03-03", client=api, cache_dir=tmp_path, progress=False
    )
    want = fy.fetch_playlogs("2024-03-01", "2024-03-03", client=api, cache_dir=tmp_path, **FAST)
    pd.testing.assert_frame_equal(materialise(rel), comparable(want))
    simulator.reset_requests()
    fy.scan_playlogs("2024-03-01", "2024-03-03", client=api, cache_dir=tmp_path, progress=False)
    assert requests(simulator) == 0


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["duckdb", "dask"])
def test_several_accounts_are_scanned_together(
    engine: str, make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    """client=[a, b] and client={label: ...}: the rows of fetch_playlogs with the same
    clients, ``account`` named as it names it (the legacy players' rows carry none)."""
    a, b = make_simulator(seed=36), make_simulator(seed=44)  # each has a legacy player
    with (
        paced_client(a) as ca,
        paced_client(b) as cb,
    ):
        alone = [
            fy.fetch_playlogs("2024-03-01", "2024-03-02", client=c, cache_dir=tmp_path, **FAST)
            for c in (ca, cb)
        ]
        assert all(df["account"].isna().any() for df in alone)  # rows without a name
        nameless = int(alone[0].loc[alone[0]["account"].isna(), "player_id"].iloc[0])
        cases: list[dict[str, object]] = [
            {"start": "2024-03-01", "end": "2024-03-02"},
            {"start": "2024-03-02 10:00", "end": "2024-03-02 10:30"},
            {"start": "2024-03-01", "end": "2024-03-01", "player_ids": nameless},  # a: fingerprint
        ]
        for clients in ([ca, cb], {"loja": ca, "matriz": cb}):
            for case in cases:
                kw = {"client": clients, "cache_dir": tmp_path, **case}
                scan = fy.scan_playlogs(fetch=False, engine=engine, **kw)  # type: ignore[arg-type]
                want = fy.fetch_playlogs(**FAST, **kw)  # type: ignore[arg-type]
                got = materialise(scan)
                assert len(got) > 0 and got["account"].notna().all()
                pd.testing.assert_frame_equal(got, comparable(want))
                pd.testing.assert_frame_equal(fy.per_player(scan), fy.per_player(want))
        only = fy.scan_playlogs("2024-03-01", "2024-03-01", client=[ca, cb], cache_dir=tmp_path,
                                player_ids=nameless, fetch=False, engine=engine)  # fmt: skip
        assert ca.fingerprint in set(materialise(only)["account"])  # no name in the cut


def test_argument_errors(api: fy.Client, filled: Path) -> None:
    def scan(**kw: object) -> object:
        args = {"client": api, "cache_dir": filled, "fetch": False} | kw
        return fy.scan_playlogs("2024-03-01", "2024-03-02", **args)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="player_ids"):
        scan(player_ids=[])
    with pytest.raises(ValueError, match="media_ids"):
        scan(media_ids=[])
    with pytest.raises(ValueError, match="engine"):
        scan(engine="pandas")
    with pytest.raises(ValueError, match="cache_dir"):
        scan(cache_dir=None)
    with pytest.raises(ValueError, match="refresh"):
        scan(refresh=True)
    with pytest.raises(ValueError, match="client"):
        scan(client=[])
    with pytest.raises(ValueError, match="the same account twice"):
        scan(client=[api, api])  # as fetch_playlogs: one account's days would come twice
    with pytest.raises(ValueError, match="expected Client objects"):
        scan(client=[api, "token"])
    with pytest.raises(ValueError, match="tz"):
        scan(tz="Nowhere/City")
    with pytest.raises(ValueError, match="before start"):
        fy.scan_playlogs("2024-03-02", "2024-03-01", client=api, cache_dir=filled, fetch=False)
