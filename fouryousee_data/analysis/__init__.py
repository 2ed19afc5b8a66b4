"""Analysis of playlog frames: counts, names, screen health and proof-of-play audit.

Every function is pure: playlogs (SPEC section 3) in, a new pandas frame out. The
playlogs may be a pandas DataFrame, a DuckDB relation or a Dask DataFrame: the work
runs inside that engine and the result is the same. A frame holding several accounts
is analysed per account (an ``account`` level first in the result's index).
The modules, from the bottom up (each imports only the ones above it)::

    _kernel       the frame as integers: played_at as int64 (Clock, Times), start/end
                  bounds, dense id codes (Codes), ids= lists, row chunks
    _tally        zero-filled counting over ids x time buckets, any engine (Axis, Plan, Cells)
    _windows      opening windows and the silences inside them, any engine (Windows, Scan)
    _backend      the engine seam: Playlogs, playlogs(data), per_account, tally; one
                  module per engine (_pandas, _duckdb, _dask)
    names         enrich: player/media names, groups, durations next to the ids
    counts        per_player, per_media, per_player_media, hour_weekday, airtime
    health        gaps and uptime inside opening hours (timeline: both from one scan)
    _charts       matplotlib helpers shared with plot (no backend picked at import)
    _audit_chart  compliance_chart: delivered vs contracted plays
    _pdf          A4 pages from a flow of blocks: tables split across pages, charts
    audit_report  summary, to_excel, to_pdf of an audit (pt-BR or en, branded)
    audit         read_contract, compliance (re-exports summary, to_excel, to_pdf)

The underscored modules are private with public names: the seams between the
others. ``fouryousee_data.plot`` draws on top of this package; nothing here
imports it. The names below are re-exported at the top level (``fy.per_player``...).
"""

from fouryousee_data.analysis._kernel import IdList
from fouryousee_data.analysis.audit import compliance, read_contract
from fouryousee_data.analysis.counts import (
    airtime,
    hour_weekday,
    per_media,
    per_player,
    per_player_media,
)
from fouryousee_data.analysis.health import DEFAULT_OPENING_HOURS, OpeningHours, gaps, uptime
from fouryousee_data.analysis.names import enrich

__all__ = [
    "DEFAULT_OPENING_HOURS",
    "IdList",
    "OpeningHours",
    "airtime",
    "compliance",
    "enrich",
    "gaps",
    "hour_weekday",
    "per_media",
    "per_player",
    "per_player_media",
    "read_contract",
    "uptime",
]
