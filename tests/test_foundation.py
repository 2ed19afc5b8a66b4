"""Configuration, time ranges, the report model and the schema helpers."""

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fouryousee_data as fy
from fouryousee_data import _config
from fouryousee_data.report import Report
from fouryousee_data.schema import (
    COLUMNS,
    PLAYLOG_SCHEMA,
    empty_playlogs,
    localize,
    pandas_dtypes,
    to_pandas,
)
from fouryousee_data.timerange import resolve_range, split_windows


def test_missing_token_says_how(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FOURYOUSEE_TOKEN", raising=False)
    with pytest.raises(fy.AuthenticationError, match="FOURYOUSEE_TOKEN"):
        _config.resolve_token(None)


def test_config_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOURYOUSEE_TOKEN", "from-env")
    monkeypatch.setenv("FOURYOUSEE_API_URL", "http://127.0.0.1:9/v1")
    assert _config.resolve_token("arg") == "arg"
    assert _config.resolve_token(None) == "from-env"
    assert _config.resolve_base_url(None) == "http://127.0.0.1:9/v1/"
    assert _config.resolve_base_url("http://x/y/") == "http://x/y/"
    monkeypatch.delenv("FOURYOUSEE_API_URL")
    assert _config.resolve_base_url(None) == _config.DEFAULT_BASE_URL
    with pytest.raises(ValueError, match="base_url"):
        _config.resolve_base_url("ftp://x")


def test_fingerprint_hides_token() -> None:
    a = _config.account_fingerprint("http://a/v1/", "tok-123")
    assert "tok-123" not in a
    assert a != _config.account_fingerprint("http://a/v1/", "tok-124")
    assert a == _config.account_fingerprint("http://a/v1", "tok-123")


@pytest.mark.parametrize(
    ("start", "end", "lo", "hi"),
    [
        ("2024-03-01", "2024-03-31", "2024-03-01", "2024-04-01"),
        (dt.date(2024, 3, 1), dt.date(2024, 3, 1), "2024-03-01", "2024-03-02"),
        ("2024-03-01 10:00", "2024-03-01T12:30:00", "2024-03-01 10:00", "2024-03-01 12:30"),
        (pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-02"), "2024-03-01", "2024-03-02"),
        (dt.datetime(2024, 3, 1, 6), "2024-03-01", "2024-03-01 06:00", "2024-03-02"),
    ],
)
def test_range_semantics(start: object, end: object, lo: str, hi: str) -> None:
    r = resolve_range(start, end)  # type: ignore[arg-type]
    assert (r.start, r.end) == (pd.Timestamp(lo), pd.Timestamp(hi))


def test_range_errors() -> None:
    with pytest.raises(ValueError, match="before start"):
        resolve_range("2024-03-02", "2024-03-01")
    with pytest.raises(ValueError, match="start"):
        resolve_range("yesterday-ish", "2024-03-01")
    with pytest.raises(ValueError, match="end"):
        resolve_range("2024-03-01", "2024-02-30")
    with pytest.raises(ValueError, match="tz="):
        resolve_range(pd.Timestamp("2024-03-01", tz="UTC"), "2024-03-02")
    with pytest.raises(ValueError, match="start"):
        resolve_range(20240301, "2024-03-02")  # type: ignore[arg-type]


def test_aware_bounds_with_tz() -> None:
    r = resolve_range(
        pd.Timestamp("2024-03-01 12:00", tz="UTC"), "2024-03-01", tz="America/Sao_Paulo"
    )
    assert r.start == pd.Timestamp("2024-03-01 09:00")


def test_api_filter_bounds_instant_end_is_inclusive_minus_one_second() -> None:
    bounds = resolve_range("2024-03-01 10:00", "2024-03-02 00:00:00").api_filter_bounds()
    assert bounds == {
        "startDate": "2024-03-01",
        "startTime": "10:00:00",
        "endDate": "2024-03-01",
        "endTime": "23:59:59",
    }


def test_days_and_windows() -> None:
    r = resolve_range("2024-01-01", "2024-03-01")
    days = r.days()
    assert len(days) == 61
    windows = split_windows(days)
    assert [((b - a).days + 1) for a, b in windows] == [30, 30, 1]
    gap = [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 5)]
    assert split_windows(gap) == [
        (dt.date(2024, 1, 1), dt.date(2024, 1, 2)),
        (dt.date(2024, 1, 5), dt.date(2024, 1, 5)),
    ]
    assert resolve_range("2024-01-01 10:00", "2024-01-01 10:00").days() == []


def test_report_from_api() -> None:
    r = Report.from_api(
        {
            "id": 521546,
            "type": "detailed",
            "format": "json",
            "filter": {"startDate": "2020-07-26"},
            "status": "success",
            "url": "https://s3.example/x.gz?X-Amz-Signature=abc",
            "createdAt": "2022-06-28T13:47:36+00:00",
            "updatedAt": "2022-06-28T13:47:41+00:00",
        }
    )
    assert r.id == 521546 and r.succeeded and r.done and not r.failed
    assert r.created_at == dt.datetime(2022, 6, 28, 13, 47, 36, tzinfo=dt.UTC)
    assert "X-Amz-Signature" not in repr(r)
    with pytest.raises(ValueError, match="id"):
        Report.from_api({"status": "waiting"})
    with pytest.raises(ValueError, match="object"):
        Report.from_api([1])


def test_empty_frame_schema() -> None:
    df = empty_playlogs()
    assert tuple(df.columns) == COLUMNS
    assert {c: str(t) for c, t in df.dtypes.items()} == {
        c: str(t) for c, t in pandas_dtypes().items()
    }
    aware = empty_playlogs("America/Sao_Paulo")
    assert str(aware["played_at"].dtype) == "datetime64[s, America/Sao_Paulo]"


def test_localize_is_deliberate_on_dst() -> None:
    # Sao Paulo had DST until 2019: 2018-11-04 00:30 did not exist, 2019-02-16 23:30 twice.
    s = pd.Series(pd.to_datetime(["2018-11-04 00:30:00", "2019-02-16 23:30:00"]))
    out = localize(s, "America/Sao_Paulo")
    assert out.notna().all()
    assert str(out[0]) == "2018-11-04 01:00:00-02:00"  # first instant after the gap
    assert str(out[1]) == "2019-02-16 23:30:00-02:00"  # first occurrence (daylight time)


def test_normalize_ids_accepts_numpy_and_rejects_non_integers() -> None:
    import numpy as np

    from fouryousee_data.schema import normalize_ids

    assert normalize_ids(pd.Series([5, 2, 5], dtype="int32"), "player_ids") == (2, 5)
    assert normalize_ids(np.int64(9), "media_ids") == (9,)
    assert normalize_ids([], "media_ids") == ()
    for bad in ([1.5], [True], ["3"], "3", [2**31]):
        with pytest.raises(ValueError, match="player_ids"):
            normalize_ids(bad, "player_ids")


def test_ids_taken_from_a_frame_work_everywhere(client: fy.Client, tmp_path: object) -> None:
    """Ids picked from a DataFrame are numpy integers: fetch and analysis accept them."""
    df = fy.fetch_playlogs("2024-03-04", "2024-03-04", client=client, cache_dir=tmp_path)
    one = df["player_id"].iloc[0]
    again = fy.fetch_playlogs(
        "2024-03-04", "2024-03-04", client=client, cache_dir=tmp_path, player_ids=[one]
    )
    assert len(again) == int((df["player_id"] == one).sum()) > 0
    table = fy.per_player(df, player_ids=df["player_id"].unique()[:2])
    assert len(table) == 2


# -- to_pandas: the hand-written conversion equals Arrow's ---------------------------
def _arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """The reference: ``Table.to_pandas`` with the schema's dtypes."""
    df = table.to_pandas(ignore_metadata=True)
    for name in ("account", "media_type", "ip"):
        if not isinstance(df[name].dtype, pd.CategoricalDtype):
            df[name] = df[name].astype("category")
    return df


_VALUES = st.sampled_from(["acme", "I", "V", "10.0.0.1", "10.0.0.2", "é", ""])


@st.composite
def _chunked_tables(draw: st.DrawFn) -> pa.Table:
    chunks = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, 6))
        columns = {
            "played_at": pa.array(draw(st.lists(st.integers(0, 2**40), min_size=n, max_size=n)),
                                  pa.timestamp("s")),
            "player_id": pa.array(draw(st.lists(st.integers(-(2**31), 2**31 - 1),
                                                min_size=n, max_size=n)), pa.int32()),
            "media_id": pa.array(range(n), pa.int32()),
        }  # fmt: skip
        for name in ("account", "media_type", "ip"):
            values = draw(st.lists(st.none() | _VALUES, min_size=n, max_size=n))
            # Each chunk its own dictionary, in its own order, maybe with unused entries.
            extra = draw(st.lists(_VALUES, max_size=3))
            dictionary = pa.array(
                list(dict.fromkeys(extra + [v for v in values if v is not None])), pa.string()
            )
            indices = [None if v is None else dictionary.to_pylist().index(v) for v in values]
            columns[name] = pa.DictionaryArray.from_arrays(
                pa.array(indices, pa.int32()), dictionary
            )
        chunks.append(pa.table(columns).select(list(COLUMNS)).cast(PLAYLOG_SCHEMA))
    return pa.concat_tables(chunks)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(_chunked_tables())
def test_to_pandas_equals_arrows_conversion(table: pa.Table) -> None:
    ours, reference = to_pandas(table), _arrow_to_pandas(table)
    pd.testing.assert_frame_equal(ours, reference)
    for name in ("account", "media_type", "ip"):  # same categories, in the same order
        assert ours[name].cat.categories.tolist() == reference[name].cat.categories.tolist()


@pytest.mark.slow
def test_to_pandas_codes_widen_with_the_categories() -> None:
    n = 40_000
    ips = pa.array([f"10.0.{i // 256}.{i % 256}" for i in range(n)])  # too many for int16
    table = pa.table(
        {
            "played_at": pa.array(range(n), pa.timestamp("s")),
            "account": pa.array(["acme"] * n).dictionary_encode(),
            "player_id": pa.array(range(n), pa.int32()),
            "media_id": pa.array(range(n), pa.int32()),
            "media_type": pa.array(["I", "V"] * (n // 2)).dictionary_encode(),
            "ip": ips.dictionary_encode(),
        }
    ).cast(PLAYLOG_SCHEMA)
    df = to_pandas(table)
    pd.testing.assert_frame_equal(df, _arrow_to_pandas(table))
    assert df["ip"].cat.codes.dtype == "int32" and df["media_type"].cat.codes.dtype == "int8"
