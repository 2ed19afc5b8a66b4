"""fouryousee_data: 4YouSee digital-signage playlogs as typed pandas DataFrames.

The data flow, module by module::

    client (request → wait) → download → parse (schema) → cache → fetch → analysis / plot

Examples
--------
>>> import fouryousee_data as fy
>>> fy.read_playlogs(b"").columns.tolist()
['played_at', 'account', 'player_id', 'media_id', 'media_type', 'ip']
"""

from fouryousee_data.analysis import (
    airtime,
    enrich,
    hour_weekday,
    per_media,
    per_player,
    per_player_media,
)
from fouryousee_data.audit import compliance, read_contract
from fouryousee_data.cache import cache_info, clear_cache
from fouryousee_data.client import Client, report_filter
from fouryousee_data.errors import (
    APIError,
    AuthenticationError,
    CorruptReportError,
    DownloadError,
    FouryouseeError,
    InvalidNotificationError,
    InvalidPlaylogError,
    NotFoundError,
    RateLimitError,
    ReportFailedError,
    ReportTimeoutError,
)
from fouryousee_data.fetch import fetch_playlogs
from fouryousee_data.health import gaps, uptime
from fouryousee_data.parse import read_playlogs
from fouryousee_data.report import Report
from fouryousee_data.schema import PLAYLOG_SCHEMA, empty_playlogs

__version__ = "0.1.0"

__all__ = [
    "PLAYLOG_SCHEMA",
    "APIError",
    "AuthenticationError",
    "Client",
    "CorruptReportError",
    "DownloadError",
    "FouryouseeError",
    "InvalidNotificationError",
    "InvalidPlaylogError",
    "NotFoundError",
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
    "read_contract",
    "read_playlogs",
    "report_filter",
    "uptime",
]
