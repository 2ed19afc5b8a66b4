"""publish_cache to a folder and to S3 (moto's server on loopback), and scan_playlogs(source=)
with DuckDB and with Dask on a LocalCluster whose workers read the objects themselves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

import fouryousee_data as fy
from conftest import S3Bucket, paced_client
from fouryousee_data.simulator import Simulator

FAST = {"progress": False, "poll_interval": 0.02}
DAYS = [dt.date(2024, 3, d) for d in range(1, 6)]


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for name in ("account", "media_type", "ip"):
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    out["played_at"] = out["played_at"].astype("datetime64[s]")
    out = out.sort_values(["played_at", "player_id", "media_id"], kind="stable")
    return out.reset_index(drop=True)


@pytest.fixture
def cached(simulator: Simulator, api: fy.Client, tmp_path: Path) -> Path:
    """A cache holding 2024-03-01..05 (settled) and a filtered 2024-03-07."""
    root = tmp_path / "cache"
    fy.fetch_playlogs("2024-03-01", "2024-03-05", client=api, cache_dir=root, **FAST)
    fy.fetch_playlogs("2024-03-07", "2024-03-07", player_ids=10, client=api, cache_dir=root, **FAST)
    simulator.reset_requests()
    return root


def from_cache(api: fy.Client, root: Path) -> pd.DataFrame:
    rel = fy.scan_playlogs("2024-03-01", "2024-03-05", client=api, cache_dir=root, fetch=False)
    return comparable(rel.df())


def test_publish_to_a_folder_is_idempotent_and_reads_back(
    simulator: Simulator, api: fy.Client, cached: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "lake"
    summary = fy.publish_cache(dest, client=api, cache_dir=cached)
    assert summary.written == DAYS and summary.skipped == [] and summary.bytes > 0
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == sorted(
        [f"date={d}" for d in DAYS] + [f"date={d}/part-0.parquet" for d in DAYS]
    )  # no temp file left, the filtered day 2024-03-07 not published
    again = fy.publish_cache(dest, client=api, cache_dir=cached)
    assert (again.written, again.skipped, again.bytes) == ([], DAYS, 0)
    assert "0 day(s) written" in str(again)
    want = from_cache(api, cached)
    for engine in ("duckdb", "dask"):
        scan = fy.scan_playlogs("2024-03-01", "2024-03-05", source=dest, engine=engine)
        got = scan.df() if engine == "duckdb" else scan.compute()
        pd.testing.assert_frame_equal(comparable(got), want)
    # the cut is exact, not whole files
    rel = fy.scan_playlogs("2024-03-02 10:00", "2024-03-03 09:00", source=dest, player_ids=[23])
    got = rel.df()
    assert len(got) and set(got["player_id"]) == {23}
    assert got["played_at"].min() >= pd.Timestamp("2024-03-02 10:00")
    assert got["played_at"].max() < pd.Timestamp("2024-03-03 09:00")
    # pyarrow reads the layout directly (hive partitions)
    assert pq.read_table(dest).num_rows == len(want)
    assert simulator.requests == []  # publishing and reading never ask the API


def test_a_day_fetched_again_is_published_again_and_only_it(
    api: fy.Client, cached: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "lake"
    fy.publish_cache(dest, client=api, cache_dir=cached)
    fy.fetch_playlogs(
        "2024-03-03", "2024-03-03", client=api, cache_dir=cached, refresh=True, **FAST
    )
    summary = fy.publish_cache(dest, client=api, cache_dir=cached, start="2024-03-02")
    assert summary.written == [dt.date(2024, 3, 3)]
    assert summary.skipped == [dt.date(2024, 3, d) for d in (2, 4, 5)]


def test_provisional_days_wait_and_missing_days_are_listed(
    make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = make_simulator(now=dt.datetime(2024, 3, 6, 18, tzinfo=dt.UTC))
    with paced_client(sim) as api:
        fy.fetch_playlogs("2024-03-03", "2024-03-05", client=api, cache_dir=tmp_path, **FAST)
        summary = fy.publish_cache(tmp_path / "lake", client=api, cache_dir=tmp_path)
    assert summary.written == [dt.date(2024, 3, 3), dt.date(2024, 3, 4)]
    assert summary.not_ready == [dt.date(2024, 3, 5)]
    with pytest.raises(fy.MissingDaysError, match="2024-03-05") as info:
        fy.scan_playlogs("2024-03-03", "2024-03-05", source=tmp_path / "lake")
    assert info.value.days == [dt.date(2024, 3, 5)]


def test_several_accounts_share_a_day_file(
    make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    a, b = make_simulator(seed=1), make_simulator(seed=2)
    with paced_client(a) as ca, paced_client(b) as cb:
        fy.fetch_playlogs("2024-03-01", "2024-03-02", client=ca, cache_dir=tmp_path, **FAST)
        fy.fetch_playlogs("2024-03-01", "2024-03-01", client=cb, cache_dir=tmp_path, **FAST)
        summary = fy.publish_cache(tmp_path / "lake", client=[ca, cb], cache_dir=tmp_path)
        assert summary.written == [dt.date(2024, 3, 1)]  # 03-02: one account lacks it
        assert summary.not_ready == [dt.date(2024, 3, 2)]
        both = fy.scan_playlogs(
            "2024-03-01", "2024-03-01", client=[ca, cb], cache_dir=tmp_path, fetch=False
        )
    got = fy.scan_playlogs("2024-03-01", "2024-03-01", source=tmp_path / "lake").df()
    assert got["account"].nunique() == 2
    assert got["played_at"].is_monotonic_increasing
    pd.testing.assert_frame_equal(comparable(got), comparable(both.df()))


def objects(bucket: S3Bucket) -> dict[str, bytes]:
    s3 = bucket.client()
    listing = s3.list_objects_v2(Bucket=bucket.name).get("Contents", [])
    return {
        o["Key"]: s3.get_object(Bucket=bucket.name, Key=o["Key"])["Body"].read() for o in listing
    }


def test_publish_to_s3_from_the_environment_and_read_with_duckdb(
    simulator: Simulator, api: fy.Client, cached: Path, s3_bucket: S3Bucket
) -> None:
    summary = fy.publish_cache(s3_bucket.url, client=api, cache_dir=cached)  # AWS_* variables
    assert summary.written == DAYS
    stored = objects(s3_bucket)
    assert sorted(stored) == [f"playlogs/date={d}/part-0.parquet" for d in DAYS]
    token = simulator.token.encode()
    for key, body in stored.items():
        assert token not in key.encode() and token not in body
        head = s3_bucket.client().head_object(Bucket=s3_bucket.name, Key=key)
        assert token.decode() not in repr(head.get("Metadata"))
    assert fy.publish_cache(s3_bucket.url, client=api, cache_dir=cached).skipped == DAYS
    con = duckdb.connect()
    rel = fy.scan_playlogs(
        "2024-03-01",
        "2024-03-05",
        source=s3_bucket.url,
        connection=con,
        storage_options=s3_bucket.storage_options,
    )
    pd.testing.assert_frame_equal(comparable(rel.df()), from_cache(api, cached))
    loaded = con.sql("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()
    assert ("httpfs",) not in loaded  # read through fsspec, nothing downloaded


def test_dask_workers_read_the_objects_themselves(
    api: fy.Client, cached: Path, s3_bucket: S3Bucket, dask_client: Any
) -> None:
    fy.publish_cache(
        s3_bucket.url, client=api, cache_dir=cached, storage_options=s3_bucket.storage_options
    )

    def s3_filesystems() -> int:
        import s3fs

        return len(s3fs.S3FileSystem._cache)

    def forget() -> None:
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()

    dask_client.run(forget)
    ddf = fy.scan_playlogs(
        "2024-03-01",
        "2024-03-05",
        source=s3_bucket.url,
        engine="dask",
        storage_options=s3_bucket.storage_options,
        tz="America/Sao_Paulo",
    )
    got = ddf.compute()  # on the active distributed client
    assert str(got["played_at"].dt.tz) == "America/Sao_Paulo"
    got["played_at"] = got["played_at"].dt.tz_localize(None)
    pd.testing.assert_frame_equal(comparable(got), from_cache(api, cached))
    opened = dask_client.run(s3_filesystems)  # {worker address: S3 filesystems it made}
    assert len(opened) == 2 and sum(opened.values()) >= 1, opened
