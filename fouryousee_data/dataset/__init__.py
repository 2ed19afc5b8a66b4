"""Playlogs at any scale: the cache as a dataset that engines read (SPEC section 7).

* :func:`scan_playlogs` — a lazy DuckDB relation (default, out of core) or Dask
  DataFrame over the cached days of a range (fetching what is missing first, a day at
  a time in memory), or over a published dataset (``source=``).
* :func:`publish_cache` — the settled days as ``dest/date=YYYY-MM-DD/part-0.parquet`` on a
  folder or an object store (``s3://``), idempotent, each file whole or absent.

Modules::

    _scan.py     scan_playlogs: arguments, accounts, fetch first, then the engine object
    _files.py    which day files serve a scan (cache or published dataset); Cut
    _engines.py  day files -> DuckDB relation / Dask DataFrame, cut in the engine
    _tz.py       local time -> instants in SQL, with the DST rules of schema.localize
    _fs.py       a dataset root on an fsspec filesystem (local folder, s3://)
    _publish.py  publish_cache: settled days -> dest/date=.../part-0.parquet, idempotent
"""

from fouryousee_data.dataset._publish import PublishSummary, publish_cache
from fouryousee_data.dataset._scan import scan_playlogs

__all__ = ["PublishSummary", "publish_cache", "scan_playlogs"]
