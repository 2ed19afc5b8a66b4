"""The Parquet cache (being split into modules; see issue 11)."""

from fouryousee_data.cache._store import (
    ALL_SCOPE,
    READ_COPY_NAME,
    CachedDay,
    PlaylogCache,
    cache_info,
    clear_cache,
    day_end_utc,
    is_settled,
    parse_settle,
    report_days,
    restrict,
    scope_name,
)

__all__ = [
    "ALL_SCOPE",
    "READ_COPY_NAME",
    "CachedDay",
    "PlaylogCache",
    "cache_info",
    "clear_cache",
    "day_end_utc",
    "is_settled",
    "parse_settle",
    "report_days",
    "restrict",
    "scope_name",
]
