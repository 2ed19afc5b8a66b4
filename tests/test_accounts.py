"""Several accounts in one call: ``fetch_playlogs(client=[c1, c2])`` against two
simulators (two accounts, two tokens) on loopback; and the warning about ids
that have no plays."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import fouryousee_data as fy
from conftest import PACE, paced_client
from fouryousee_data.simulator import Simulator

RANGE = ("2024-03-01", "2024-03-03")


@pytest.fixture
def two(make_simulator: Callable[..., Simulator]) -> tuple[Simulator, Simulator]:
    """Two accounts whose player ids overlap (both number their players from the
    small id range), with different names and tokens."""
    # seed 10 has a player on old firmware (rows without `account`); 19 and 27 are in both
    return make_simulator(seed=10, account="loja-a"), make_simulator(seed=1, account="loja-b")


def _client(sim: Simulator) -> fy.Client:
    return paced_client(sim)


def _posts(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.method == "POST")


def test_two_accounts_one_frame(two: tuple[Simulator, Simulator], tmp_path: Path) -> None:
    a, b = two
    with _client(a) as ca, _client(b) as cb:
        both = fy.fetch_playlogs(*RANGE, client=[ca, cb], cache_dir=tmp_path)
        alone_a = fy.fetch_playlogs(*RANGE, client=ca, cache_dir=tmp_path)
        alone_b = fy.fetch_playlogs(*RANGE, client=cb, cache_dir=tmp_path)
    assert list(both.columns) == list(fy.empty_playlogs().columns)
    assert [str(t) for t in both.dtypes] == [str(t) for t in fy.empty_playlogs().dtypes]
    assert both["played_at"].is_monotonic_increasing
    assert both["account"].notna().all()  # old-firmware rows named after their account
    assert alone_a["account"].isna().any()  # (one account alone: the source's nulls, as today)
    assert set(both["account"]) == {"loja-a", "loja-b"}
    for name, alone in (("loja-a", alone_a), ("loja-b", alone_b)):
        part = both[both["account"] == name].reset_index(drop=True)
        assert len(part) == len(alone) > 0
        expected = alone.assign(account=name)
        for column in ("played_at", "player_id", "media_id"):
            assert part[column].tolist() == expected[column].tolist()
    shared = set(alone_a["player_id"]) & set(alone_b["player_id"])
    assert shared  # the same player ids in both accounts: kept apart by `account`
    per = both.groupby(["account", "player_id"], observed=True).size()
    one = next(iter(shared))
    assert per[("loja-a", one)] == (alone_a["player_id"] == one).sum()
    assert per[("loja-b", one)] == (alone_b["player_id"] == one).sum()
    assert set(both.attrs["accounts"]) == {ca.fingerprint, cb.fingerprint}
    assert both.attrs["fetched_days"] == ["2024-03-01", "2024-03-02", "2024-03-03"]


def test_a_mapping_names_the_accounts_and_caches_stay_apart(
    two: tuple[Simulator, Simulator], tmp_path: Path
) -> None:
    a, b = two
    with _client(a) as ca, _client(b) as cb:
        df = fy.fetch_playlogs(*RANGE, client={"Centro": ca, "Norte": cb}, cache_dir=tmp_path)
        assert df["account"].value_counts().to_dict() == {
            "Centro": (df["account"] == "Centro").sum(),
            "Norte": (df["account"] == "Norte").sum(),
        }
        assert set(df["account"].cat.categories) == {"Centro", "Norte"}
        assert set(df.attrs["accounts"]) == {"Centro", "Norte"}
        a.reset_requests()
        b.reset_requests()
        again = fy.fetch_playlogs(*RANGE, client={"Centro": ca, "Norte": cb}, cache_dir=tmp_path)
    assert (_posts(a), _posts(b)) == (0, 0)  # each account served from its own cache
    pd.testing.assert_frame_equal(again, df)
    folders = {p.name for p in tmp_path.rglob("*") if p.is_dir()}
    assert {ca.fingerprint, cb.fingerprint} <= folders


def test_one_account_failing_keeps_the_other(
    two: tuple[Simulator, Simulator], tmp_path: Path
) -> None:
    a, b = two
    b.inject("report_failed", times=2)  # the first report and its one retry
    with _client(a) as ca, _client(b) as cb:
        with pytest.raises(fy.ReportFailedError) as info:
            fy.fetch_playlogs(
                *RANGE, client={"A": ca, "B": cb}, cache_dir=tmp_path, poll_interval=0.05
            )
        assert "1 of 2 account(s) failed (account B:" in str(info.value)
        assert info.value.failed_accounts == ["B"]  # type: ignore[attr-defined]
        assert str(info.value).endswith("Run the same call again to fetch only what is missing.")
        a.reset_requests()
        b.reset_requests()
        df = fy.fetch_playlogs(*RANGE, client={"A": ca, "B": cb}, cache_dir=tmp_path)
    assert _posts(a) == 0  # A's work was cached by the failed call
    assert _posts(b) == 1  # B's days asked again, once
    assert set(df["account"]) == {"A", "B"}


def test_bad_client_lists(two: tuple[Simulator, Simulator]) -> None:
    a, _ = two
    with _client(a) as ca:
        with pytest.raises(ValueError, match="the same account twice"):
            fy.fetch_playlogs(*RANGE, client=[ca, _client(a)], cache_dir=None)
        with pytest.raises(ValueError, match="empty list of clients"):
            fy.fetch_playlogs(*RANGE, client=[], cache_dir=None)
        with pytest.raises(ValueError, match="expected Client objects"):
            fy.fetch_playlogs(*RANGE, client=[ca, "token"], cache_dir=None)  # type: ignore[list-item]
    assert a.requests == []


def test_ids_without_plays_are_named_in_a_warning(
    simulator: Simulator, client: fy.Client, caplog: pytest.LogCaptureFixture
) -> None:
    player = simulator.players[0]["id"]
    with caplog.at_level(logging.WARNING, logger="fouryousee_data"):
        df = fy.fetch_playlogs(
            *RANGE, player_ids=[player, 9999, 8888], client=client, cache_dir=None
        )
    assert set(df["player_id"]) == {player}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "player id(s) 8888, 9999" in warnings[0] and "2024-03-01" in warnings[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fouryousee_data"):
        fy.fetch_playlogs(*RANGE, player_ids=[player], client=client, cache_dir=None)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_unnamed_rows_beside_one_account_are_that_account(engine: str) -> None:
    """Old firmware writes no ``account``: a frame of one account with such rows is still
    one account for the analysis (no ``account`` level, every row counted)."""
    import duckdb

    df = fy.read_playlogs(
        b'{"account":"loja","date":"2024-03-01","time":"10:00:00","playerId":1,"mediaId":7}\n'
        b'{"date":"2024-03-01","time":"11:00:00","playerId":1,"mediaId":7}\n'
        b'{"account":"loja","date":"2024-03-01","time":"12:00:00","playerId":2,"mediaId":7}\n'
    )
    data = df if engine == "pandas" else duckdb.connect().from_df(df)
    got = fy.per_player(data)
    assert got.index.names == ["player_id"] and got["plays"].tolist() == [2, 1]
    two = df.assign(account=pd.Categorical(["a", None, "b"]))
    split = fy.per_player(two if engine == "pandas" else duckdb.connect().from_df(two))
    assert split.index.names[0] == "account" and split["plays"].sum() == 3


def test_an_account_whose_token_is_refused_gets_no_rerun_advice(
    two: tuple[Simulator, Simulator], tmp_path: Path
) -> None:
    """A refused token fails the same way every time: the message says so, and that the
    other account finished, instead of suggesting to run the call again."""
    a, b = two
    wrong = fy.Client(token="wrong", base_url=b.base_url, min_interval=PACE)
    with _client(a) as ca, wrong as cb, pytest.raises(fy.AuthenticationError) as info:
        fy.fetch_playlogs(*RANGE, client={"A": ca, "B": cb}, cache_dir=tmp_path)
    text = str(info.value)
    assert "1 of 2 account(s) failed (account B:" in text
    assert "The other 1 finished" in text
    assert text.endswith("fails the same way until that is fixed.")
    assert "Run the same call again" not in text
