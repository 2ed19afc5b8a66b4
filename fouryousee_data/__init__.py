"""fouryousee_data: 4YouSee digital-signage playlogs as typed pandas DataFrames.

The data path, module by module (request → wait → download → parse → cache →
fetch → analysis → export)::

    _config.py    argument > environment > default, resolved in one place
    errors.py     the error tree (every exception the toolkit raises)
    timerange.py  dates and instants: whole days vs [start, end), report windows
    filters.py    the report filter: build, normalise, check, whole days, cache scope
    report.py     the Report object (status, url, filter, timestamps)
    redaction.py  secrets out of messages, reprs and log records
    pacing.py     never the same URI twice within min_interval (1 s: the API's limit)
    transport.py  HTTP with one retry policy (statuses, transient errors, Retry-After)
    api.py        the API's conventions: token header, errors → error tree, pages
    lookup.py     the report listing, newest first, read only as far as the answer needs
    posting.py    POST reports, never blindly repeated (look for it after an ambiguous failure)
    client.py     Client: request a report, wait for it, download it, list names
    catalog.py    players and medias listings as typed frames
    download.py   the report file, streamed from the object store without the token
    parse/        gzip/NDJSON stream → typed Arrow table (C scanner, Arrow, careful)
    manager_csv.py  the Manager's CSV exports (;, ISO-8859-1) → the playlog frame
    schema.py     the one playlog schema: Arrow, pandas dtypes, ids
    _fileio.py    atomic_write: a file is whole or absent, with the user's permissions
    cache/        the Parquet cache: day files, read copies, settle policy, admin
    progress.py   progress bars for fetch (tqdm, terminal or notebook)
    windows.py    report windows: request, wait, download into the cache day by day
    accounts.py   one account or several behind fetch_playlogs(client=[...]): one frame
    fetch.py      fetch_playlogs: windows, reuse, cache, one sorted frame
    dataset/      scan_playlogs, publish_cache: the cache as a lazy DuckDB / Dask dataset
    analysis/     counts, names, screen health and the proof-of-play audit
    plot.py       charts (matplotlib) of plays, heatmaps, timelines, compliance
    export.py     Parquet, CSV (Brazilian dialect) and Excel writers
    _i18n.py      words, numbers and dates for people: pt-BR (default) or en
    brand.py      Brand: logo, company, CNPJ, address, signature block of reports
    webhook/      report notifications: parsing, once-only handling, HTTP receiver
    cli.py        the fouryousee-data command, a thin layer over the public API
    summary.py    where fouryousee-data summary counts: pandas, DuckDB or Dask
    demo.py       fouryousee-data demo: the whole job against an in-process simulator
    simulator/    a fake 4YouSee (API + object store) on loopback, for tests and demos

Examples
--------
>>> import fouryousee_data as fy
>>> fy.read_playlogs(b"").columns.tolist()
['played_at', 'account', 'player_id', 'media_id', 'media_type', 'ip']
"""

from fouryousee_data._config import DEFAULT_CACHE, resolve_cache_dir
from fouryousee_data.analysis import (
    airtime,
    compliance,
    enrich,
    gaps,
    hour_weekday,
    per_media,
    per_player,
    per_player_media,
    read_contract,
    uptime,
)
from fouryousee_data.brand import Brand
from fouryousee_data.cache import cache_info, clear_cache
from fouryousee_data.client import Client
from fouryousee_data.dataset import PublishSummary, publish_cache, scan_playlogs
from fouryousee_data.errors import (
    APIError,
    AuthenticationError,
    CorruptReportError,
    DownloadError,
    FouryouseeError,
    InvalidNotificationError,
    InvalidPlaylogError,
    MissingDaysError,
    NotFoundError,
    RateLimitError,
    ReportFailedError,
    ReportTimeoutError,
)
from fouryousee_data.fetch import fetch_playlogs
from fouryousee_data.filters import report_filter
from fouryousee_data.manager_csv import read_manager_csv
from fouryousee_data.parse import read_playlogs
from fouryousee_data.report import Report
from fouryousee_data.schema import PLAYLOG_SCHEMA, empty_playlogs

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_CACHE",
    "PLAYLOG_SCHEMA",
    "APIError",
    "AuthenticationError",
    "Brand",
    "Client",
    "CorruptReportError",
    "DownloadError",
    "FouryouseeError",
    "InvalidNotificationError",
    "InvalidPlaylogError",
    "MissingDaysError",
    "NotFoundError",
    "PublishSummary",
    "RateLimitError",
    "Report",
    "ReportFailedError",
    "ReportTimeoutError",
    "__version__",
    "airtime",
    "cache_info",
    "clear_cache",
    "compliance",
    "empty_playlogs",
    "enrich",
    "fetch_playlogs",
    "gaps",
    "hour_weekday",
    "per_media",
    "per_player",
    "per_player_media",
    "publish_cache",
    "read_contract",
    "read_manager_csv",
    "read_playlogs",
    "report_filter",
    "resolve_cache_dir",
    "scan_playlogs",
    "uptime",
]
