"""The deterministic synthetic network: players, medias and their playlogs.

Everything derives from ``seed``: the network's players and medias from
``(seed, "network")``, and the plays of one player on one local day from
``(seed, player_id, day)``, so any day can be generated on its own, in any
order, and always gives the same rows.

The shape of a day, per player:

* the player is open from its opening to its closing hour (local time; some
  players run 24 h, some are closed on Sundays) and boots a few minutes after
  opening;
* it rotates its playlist in order, each media staying on screen for a time
  proportional to its duration, scaled so the player logs about
  ``plays_per_hour`` plays per hour;
* on some days it is powered off for hours (a gap: no plays at all), on a few
  days it does not run at all;
* it uploads its plays in batches every few minutes (or, for about a quarter
  of the players, once a night, between 03:00 and 04:00 after the day), and on
  some days loses its connection for hours: the plays of that stretch are
  uploaded late, when it reconnects (possibly the next day). Every play is uploaded at the latest
  :data:`MAX_UPLOAD_LAG` after its local day ended.

A report created at instant ``C`` holds exactly the plays uploaded at or
before ``C`` that match its filter.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import json
import threading
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fouryousee_data import schema
from fouryousee_data.timerange import MAX_WINDOW_DAYS, day_span

__all__ = [
    "MAX_UPLOAD_LAG",
    "Filter",
    "Media",
    "Network",
    "Player",
    "parse_filter",
]

DAY = 86_400
#: Every play is uploaded at the latest this many seconds after its local day ended.
MAX_UPLOAD_LAG = 20 * 3600

_EPOCH = dt.datetime(1970, 1, 1)
_NULL = np.array(None, dtype=object)  # a null string where the legacy format omits a key
_P_DAY_OFF = 0.03  # the player does not run at all that day
_P_GAP = 0.2  # the player is powered off for 1-5 hours
_P_OUTAGE = 0.3  # the player loses its connection and uploads late


class Cancelled(Exception):
    """Generation was cancelled (the simulator is stopping)."""


# --------------------------------------------------------------------------- filter


@dataclass(frozen=True)
class Filter:
    """A parsed report filter: an inclusive local-time window plus id sets."""

    start: int  #: first local second (naive epoch seconds), inclusive
    end: int  #: last local second, inclusive
    player_ids: frozenset[int] | None  #: None = all players
    media_ids: frozenset[int] | None  #: None = all medias
    sort: int  #: -1 newest first, 1 oldest first

    def days(self) -> list[dt.date]:
        """The local days the window touches, in the file's order."""
        first = (_EPOCH + dt.timedelta(seconds=self.start)).date()
        last = (_EPOCH + dt.timedelta(seconds=self.end)).date()
        days = day_span(first, last)
        return days[::-1] if self.sort == -1 else days


def parse_filter(obj: Any) -> Filter:
    """Validate an API filter dict (SPEC section 1) and parse it.

    Raises ``ValueError`` with the message the API answers with (422).

    Examples
    --------
    >>> f = parse_filter({"startDate": "2024-03-01", "endDate": "2024-03-02", "playerId": [3]})
    >>> f.player_ids, f.sort, len(f.days())
    (frozenset({3}), -1, 2)
    >>> parse_filter({"startDate": "2024-03-01", "endDate": "2024-04-01"})
    Traceback (most recent call last):
    ...
    ValueError: a report covers at most 30 days (startDate..endDate inclusive), got 32
    """
    if not isinstance(obj, dict):
        raise ValueError("filter must be a JSON object")
    start_day = _date(obj, "startDate")
    end_day = _date(obj, "endDate")
    start = _seconds(start_day, _time(obj, "startTime", "00:00:00"))
    end = _seconds(end_day, _time(obj, "endTime", "23:59:59"))
    if end < start:
        raise ValueError("the end of the filter (endDate endTime) is before its start")
    n_days = (end_day - start_day).days + 1
    if n_days > MAX_WINDOW_DAYS:
        raise ValueError(
            f"a report covers at most {MAX_WINDOW_DAYS} days "
            f"(startDate..endDate inclusive), got {n_days}"
        )
    sort = obj.get("sort", -1)
    if isinstance(sort, bool) or sort not in (1, -1):
        raise ValueError("filter.sort must be 1 (oldest first) or -1 (newest first)")
    return Filter(start, end, _ids(obj, "playerId"), _ids(obj, "mediaId"), int(sort))


def _date(obj: dict[str, Any], key: str) -> dt.date:
    value = obj.get(key)
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError(f"filter.{key} is required, as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"filter.{key} is not a valid date: {value!r}") from exc


def _time(obj: dict[str, Any], key: str, default: str) -> dt.time:
    value = obj.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str) or len(value) != 8:
        raise ValueError(f"filter.{key} must be HH:MM:SS")
    try:
        return dt.time.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"filter.{key} is not a valid time: {value!r}") from exc


def _seconds(day: dt.date, time: dt.time) -> int:
    return (day - _EPOCH.date()).days * DAY + time.hour * 3600 + time.minute * 60 + time.second


def _ids(obj: dict[str, Any], key: str) -> frozenset[int] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValueError(f"filter.{key} must be a list of integer ids")
    return frozenset(value) or None


# --------------------------------------------------------------------------- network

_PLACES = (
    "Loja Paulista", "Loja Centro", "Shopping Iguatemi", "Farmácia Jardins", "Academia Moema",
    "Supermercado Pinheiros", "Padaria Vila Madalena", "Clínica Tatuapé", "Posto Marginal",
    "Restaurante Savassi", "Loja Barra", "Shopping Morumbi", "Hotel Copacabana", "Aeroporto GRU",
)  # fmt: skip
_GROUPS = ("Lojas SP", "Lojas RJ", "Farmácias", "Academias", "Alimentação", "Shoppings")
_PLATFORMS = ("Android", "Android", "Windows", "Linux", "LG webOS", "Samsung Tizen")
_MEDIA_WORDS = (
    "Promo Verão", "Institucional", "Black Friday", "Cardápio", "Dia das Mães", "Lançamento",
    "Ofertas da Semana", "Natal", "Aviso Covid", "Campanha Fidelidade", "Vitrine", "Clima",
)  # fmt: skip
_CATEGORIES = ((1, "Promoções"), (2, "Institucional"), (3, "Sazonal"), (4, "Avisos"))

# Line templates (key orders and spacing vary between firmwares; 3 is a legacy
# firmware that writes neither ``account`` nor ``type``).
_TEMPLATES: tuple[tuple[str, ...], ...] = (
    ('{"account":"', "A", '","date":"', "D", '","time":"', "T", '","playerId":', "P",
     ',"mediaId":', "M", ',"ip":', "IP", ',"type":', "TY", "}\n"),
    ('{"date":"', "D", '","time":"', "T", '","mediaId":', "M", ',"playerId":', "P",
     ',"type":', "TY", ',"ip":', "IP", ',"account":"', "A", '"}\n'),
    ('{"playerId": ', "P", ', "mediaId": ', "M", ', "type": ', "TY", ', "account": "', "A",
     '", "date": "', "D", '", "time": "', "T", '", "ip": ', "IP", "}\n"),
    ('{"date":"', "D", '","time":"', "T", '","playerId":', "P", ',"mediaId":', "M",
     ',"ip":', "IP", "}\n"),
)  # fmt: skip
_LEGACY = 3


@dataclass(frozen=True)
class Media:
    """One media: what ``GET medias`` serves, plus its type for the playlogs."""

    id: int
    name: str
    file: str
    duration_s: int
    type: str  #: "I" (image) or "V" (video)
    category: tuple[int, str]

    def to_api(self) -> dict[str, Any]:
        """The object ``GET medias`` serves."""
        return {
            "id": self.id,
            "name": self.name,
            "description": f"{self.name} ({'vídeo' if self.type == 'V' else 'imagem'})",
            "file": self.file,
            "durationInSeconds": self.duration_s,
            "categories": [{"id": self.category[0], "name": self.category[1]}],
            "schedule": None,
        }


@dataclass(frozen=True)
class Player:
    """One player (screen) and the habits that shape its playlogs."""

    id: int
    name: str
    description: str
    platform: str
    group: tuple[int, str]
    open_s: int  #: opening, local seconds after midnight
    close_s: int  #: closing (86400 = runs until midnight)
    closed_weekdays: tuple[int, ...]  #: ``date.weekday()`` values it stays closed
    playlist: tuple[int, ...]  #: media ids, rotated in this order
    ip: str | None
    template: int  #: index into the line templates
    batch_s: int  #: uploads every ``batch_s`` seconds
    phase_s: int  #: offset of its upload batches
    nightly: bool = False  #: uploads a day's plays once, the next night


@dataclass(frozen=True)
class DayPlays:
    """The plays of one player on one local day, in play order."""

    instant: np.ndarray  #: UTC epoch seconds (int64)
    local: np.ndarray  #: local wall-clock as naive epoch seconds (int64)
    upload: np.ndarray  #: UTC epoch seconds the play reaches the server (int64)
    media: np.ndarray  #: media ids (int32)


@dataclass(frozen=True)
class Chunk:
    """Selected rows of one local day, in the report's order."""

    local: np.ndarray
    player_id: np.ndarray
    media_id: np.ndarray
    player_pos: np.ndarray  #: index into ``Network.players``
    media_pos: np.ndarray  #: index into ``Network.medias``

    def __len__(self) -> int:
        return len(self.local)


class Network:
    """A synthetic 4YouSee account, deterministic from ``seed``.

    Examples
    --------
    >>> net = Network(seed=1, players=3, medias=5)
    >>> len(net.players), len(net.medias), net.account == Network(seed=1).account
    (3, 5, True)
    >>> rows = net.rows({"startDate": "2024-03-04", "endDate": "2024-03-04"}, as_of=2e9)
    >>> rows[0]["date"]
    '2024-03-04'
    """

    def __init__(
        self,
        seed: int = 0,
        players: int = 8,
        medias: int = 20,
        *,
        tz: str = "America/Sao_Paulo",
        plays_per_hour: float = 60.0,
        account: str | None = None,
    ) -> None:
        if players < 1 or medias < 1:
            raise ValueError("players and medias must be at least 1")
        if plays_per_hour <= 0:
            raise ValueError(f"plays_per_hour must be positive, got {plays_per_hour}")
        self.seed = int(seed)
        self.tz = tz
        self.zone = zoneinfo.ZoneInfo(tz)
        self.plays_per_hour = float(plays_per_hour)
        digest = hashlib.sha256(f"fouryousee-sim/{self.seed}".encode()).hexdigest()
        self.account = account or f"sim{self.seed}-{digest[:6].upper()}"
        rng = np.random.default_rng([self.seed, 0x4E57])
        self.medias: tuple[Media, ...] = _make_medias(rng, medias)
        self.players: tuple[Player, ...] = _make_players(rng, players, self.medias)
        self._media_ids = np.array([m.id for m in self.medias], dtype=np.int32)
        self._duration = {m.id: m.duration_s for m in self.medias}
        self._ip_json = pa.array([json.dumps(p.ip) for p in self.players])
        self._type_json = pa.array([json.dumps(m.type) for m in self.medias])
        self._account_piece = pa.scalar(self.account)

    # ----------------------------------------------------------------- one player-day

    def day_plays(self, player: Player, day: dt.date) -> DayPlays:
        """Generate the plays of ``player`` on local ``day`` (deterministic)."""
        rng = np.random.default_rng([self.seed, player.id, day.toordinal()])
        u = rng.random(9)  # every scalar draw of the day, in a fixed order
        midnight = (day - _EPOCH.date()).days * DAY
        if day.weekday() in player.closed_weekdays or u[0] < _P_DAY_OFF:
            return _empty_day()
        t0 = self._to_utc(midnight + player.open_s + int(u[1] * 300))
        t1 = self._to_utc(midnight + player.close_s)
        instant, media = self._rotation(rng, player, t0, t1)
        if u[2] < _P_GAP:  # powered off for 1-5 hours
            gap_start = t0 + u[3] * (t1 - t0)
            keep = (instant < gap_start) | (instant >= gap_start + 3600 * (1 + 4 * u[4]))
            instant, media = instant[keep], media[keep]
        if player.nightly:
            night = self._to_utc(midnight + DAY + 3 * 3600 + int(u[8] * 3600))
            upload = np.full(len(instant), night, dtype=np.int64)
        else:
            upload = ((instant - player.phase_s) // player.batch_s + 1) * player.batch_s
            upload += player.phase_s
        if u[5] < _P_OUTAGE:  # connection lost: uploaded when it comes back
            out_start = t0 + u[6] * (t1 - t0)
            out_end = int(out_start + 1800 + u[7] * 14 * 3600)
            late = (instant >= out_start) & (instant < out_end)
            upload[late] = np.maximum(upload[late], out_end + 60)
        cap = self._to_utc(midnight + DAY) + MAX_UPLOAD_LAG
        upload = np.minimum(upload, cap)
        return DayPlays(instant, self._to_local(instant), upload, media)

    def _rotation(
        self, rng: np.random.Generator, player: Player, t0: int, t1: int
    ) -> tuple[np.ndarray, np.ndarray]:
        durations = np.array([self._duration[m] for m in player.playlist], dtype=float)
        scale = max(3600.0 / self.plays_per_hour - 0.5, 0.01) / durations.mean()
        n = int((t1 - t0) / (durations.min() * scale + 0.5)) + len(durations) + 1
        pos = np.arange(n) % len(durations)
        steps = durations[pos] * scale + rng.random(n)
        offsets = np.concatenate(([0.0], np.cumsum(steps[:-1])))
        keep = offsets < (t1 - t0)
        instant = (t0 + np.floor(offsets[keep])).astype(np.int64)
        media = np.asarray(player.playlist, dtype=np.int32)[pos[keep]]
        return instant, media

    def _to_utc(self, local_s: float) -> int:
        naive = _EPOCH + dt.timedelta(seconds=float(local_s))
        return int(naive.replace(tzinfo=self.zone).timestamp())

    def _offset(self, instant: int) -> int:
        aware = dt.datetime.fromtimestamp(int(instant), self.zone)
        offset = aware.utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def _to_local(self, instant: np.ndarray) -> np.ndarray:
        if len(instant) == 0:
            return instant.copy()
        first, last = self._offset(instant[0]), self._offset(instant[-1])
        if first == last:
            return instant + first
        local = pd.to_datetime(instant, unit="s", utc=True).tz_convert(self.tz).tz_localize(None)
        return local.asi8 // 10**9 if local.unit == "ns" else local.as_unit("s").asi8

    # ----------------------------------------------------------------- reports

    def chunks(
        self, flt: Filter, as_of: float, cancel: threading.Event | None = None
    ) -> Iterator[Chunk]:
        """The rows a report with ``flt`` created at ``as_of`` (UTC epoch s) holds, per day."""
        players = [
            (i, p)
            for i, p in enumerate(self.players)
            if flt.player_ids is None or p.id in flt.player_ids
        ]
        medias = None if flt.media_ids is None else np.array(sorted(flt.media_ids))
        for day in flt.days():
            if cancel is not None and cancel.is_set():
                raise Cancelled
            parts = []
            for i, p in players:
                d = self.day_plays(p, day)
                keep = (d.local >= flt.start) & (d.local <= flt.end) & (d.upload <= as_of)
                if medias is not None:
                    keep &= np.isin(d.media, medias)
                n = int(keep.sum())
                if n:
                    parts.append((d.local[keep], np.full(n, p.id), d.media[keep], np.full(n, i)))
            if not parts:
                continue
            local, pid, mid, ppos = (np.concatenate(c) for c in zip(*parts, strict=True))
            seq = np.concatenate([np.arange(len(part[0])) for part in parts])
            order = np.lexsort((seq, pid, local))
            if flt.sort == -1:
                order = order[::-1]
            mid = mid[order]
            yield Chunk(
                local[order],
                pid[order].astype(np.int32),
                mid.astype(np.int32),
                ppos[order],
                np.searchsorted(self._media_ids, mid),
            )

    def lines(self, chunk: Chunk) -> pa.StringArray:
        """The report lines of a chunk (each ending in a newline)."""
        day = (_EPOCH + dt.timedelta(seconds=int(chunk.local[0]))).date()  # one day per chunk
        values = {
            "A": self._account_piece,
            "D": pa.scalar(day.isoformat()),
            "T": _clock_strings().take(pa.array(chunk.local % DAY)),
            "P": pc.cast(pa.array(chunk.player_id), pa.string()),
            "M": pc.cast(pa.array(chunk.media_id), pa.string()),
            "IP": self._ip_json.take(pa.array(chunk.player_pos)),
            "TY": self._type_json.take(pa.array(chunk.media_pos)),
        }
        template_of = np.array([p.template for p in self.players])[chunk.player_pos]
        pieces, rows = [], []
        for t in np.unique(template_of):
            idx = np.nonzero(template_of == t)[0]
            take = pa.array(idx)
            args = [_piece(values, x, take) for x in _TEMPLATES[t]]
            pieces.append(pc.binary_join_element_wise(*args, ""))
            rows.append(idx)
        joined = pa.concat_arrays(pieces)
        inverse = np.empty(len(chunk), dtype=np.int64)
        inverse[np.concatenate(rows)] = np.arange(len(chunk))
        return joined.take(pa.array(inverse))

    def write_report(
        self,
        filter: dict[str, Any] | Filter,
        as_of: float,
        fileobj: IO[bytes],
        *,
        compresslevel: int = 6,
        cancel: threading.Event | None = None,
    ) -> int:
        """Write the gzip report file to ``fileobj`` (streaming, one day at a time).

        The gzip header carries no name and no time, so the bytes depend only on
        the network, the filter and ``as_of``. Returns the number of rows.
        """
        flt = filter if isinstance(filter, Filter) else parse_filter(filter)
        n = 0
        with gzip.GzipFile(
            filename="", mode="wb", fileobj=fileobj, compresslevel=compresslevel, mtime=0
        ) as gz:
            for chunk in self.chunks(flt, as_of, cancel):
                gz.write(_string_bytes(self.lines(chunk)))
                n += len(chunk)
        return n

    def rows(self, filter: dict[str, Any] | Filter, as_of: float) -> list[dict[str, Any]]:
        """The JSON objects of a report (file order) as dicts."""
        flt = filter if isinstance(filter, Filter) else parse_filter(filter)
        out: list[dict[str, Any]] = []
        for chunk in self.chunks(flt, as_of):
            text = bytes(_string_bytes(self.lines(chunk))).decode().rstrip("\n")
            out.extend(json.loads("[" + text.replace("\n", ",") + "]"))
        return out

    def table(self, filter: dict[str, Any] | Filter, as_of: float) -> pa.Table:
        """The rows of a report in :data:`~fouryousee_data.schema.PLAYLOG_SCHEMA` (no parsing)."""
        flt = filter if isinstance(filter, Filter) else parse_filter(filter)
        legacy = np.array([p.template == _LEGACY for p in self.players])
        ips = np.array([p.ip for p in self.players], dtype=object)
        types = np.array([m.type for m in self.medias], dtype=object)
        tables = []
        for c in self.chunks(flt, as_of):
            old = legacy[c.player_pos]
            columns = {
                "played_at": pa.array(c.local, pa.timestamp("s")),
                "account": _dict(np.where(old, _NULL, self.account)),
                "player_id": pa.array(c.player_id, pa.int32()),
                "media_id": pa.array(c.media_id, pa.int32()),
                "media_type": _dict(np.where(old, _NULL, types[c.media_pos])),
                "ip": _dict(ips[c.player_pos]),
            }
            tables.append(pa.table(columns, schema=schema.PLAYLOG_SCHEMA))
        if not tables:
            return schema.PLAYLOG_SCHEMA.empty_table()
        return pa.concat_tables(tables, promote_options="permissive").unify_dictionaries()

    def frame(
        self, filter: dict[str, Any] | Filter, as_of: float, tz: str | None = None
    ) -> pd.DataFrame:
        """:meth:`table` as the playlog DataFrame."""
        return schema.to_pandas(self.table(filter, as_of), tz)

    def last_log(self, player: Player, as_of: float) -> int | None:
        """Local naive epoch seconds of the last play uploaded by ``as_of`` (2 days back)."""
        today = (dt.datetime.fromtimestamp(as_of, self.zone)).date()
        for back in range(3):
            d = self.day_plays(player, today - dt.timedelta(days=back))
            uploaded = d.local[d.upload <= as_of]
            if len(uploaded):
                return int(uploaded.max())
        return None


def _piece(values: dict[str, Any], name: str, take: pa.Array) -> Any:
    """One piece of a line template: a column (taken at ``take``), a scalar or a literal."""
    if name in ("A", "D"):
        return values[name]
    return values[name].take(take) if name in values else pa.scalar(name)


@functools.cache
def _clock_strings() -> pa.StringArray:
    """``"HH:MM:SS"`` for every second of a day (index = seconds after midnight)."""
    sec = np.arange(DAY)
    chars = np.full((DAY, 8), ord(":"), dtype=np.uint8)
    for col, value in ((0, sec // 3600), (3, sec // 60 % 60), (6, sec % 60)):
        chars[:, col] = ord("0") + value // 10
        chars[:, col + 1] = ord("0") + value % 10
    offsets = np.arange(0, 8 * DAY + 1, 8, dtype=np.int32)
    return pa.StringArray.from_buffers(DAY, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def _dict(values: np.ndarray) -> pa.Array:
    return (
        pa.array(values.tolist(), pa.string())
        .dictionary_encode()
        .cast(schema.PLAYLOG_SCHEMA.field("account").type)
    )


def _string_bytes(arr: pa.StringArray) -> memoryview:
    """The concatenated bytes of a string array without nulls (zero copy)."""
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)
    first, last = offsets[arr.offset], offsets[arr.offset + len(arr)]
    return memoryview(arr.buffers()[2])[first:last]


def _empty_day() -> DayPlays:
    empty = np.zeros(0, dtype=np.int64)
    return DayPlays(empty, empty, empty, np.zeros(0, dtype=np.int32))


def _unique_ids(rng: np.random.Generator, n: int, spread: int) -> list[int]:
    return sorted(int(x) for x in rng.choice(np.arange(1, max(spread, 2 * n) + 1), n, False))


def _make_medias(rng: np.random.Generator, n: int) -> tuple[Media, ...]:
    out = []
    for i, mid in enumerate(_unique_ids(rng, n, 30 * n)):
        video = rng.random() < 0.4
        word = _MEDIA_WORDS[i % len(_MEDIA_WORDS)]
        name = f"{word} {i // len(_MEDIA_WORDS) + 1:02d}"
        slug = name.lower().replace(" ", "-")
        durations = (15, 20, 30, 45, 60) if video else (8, 10, 15)
        out.append(
            Media(
                id=mid,
                name=name,
                file=f"{slug}.{'mp4' if video else 'jpg'}",
                duration_s=int(rng.choice(durations)),
                type="V" if video else "I",
                category=_CATEGORIES[int(rng.integers(len(_CATEGORIES)))],
            )
        )
    return tuple(out)


def _make_players(
    rng: np.random.Generator, n: int, medias: tuple[Media, ...]
) -> tuple[Player, ...]:
    out = []
    media_ids = [m.id for m in medias]
    for i, pid in enumerate(_unique_ids(rng, n, 10 * n)):
        place = _PLACES[i % len(_PLACES)]
        group = int(rng.integers(len(_GROUPS)))
        if rng.random() < 0.15:
            open_s, close_s = 0, DAY
        else:
            open_s = int(rng.integers(6, 11)) * 3600 + int(rng.choice((0, 1800)))
            close_s = int(rng.integers(18, 24)) * 3600
        k = int(rng.integers(min(3, len(media_ids)), min(12, len(media_ids)) + 1))
        playlist = tuple(int(m) for m in rng.choice(media_ids, k, replace=False))
        ip_kind = rng.random()
        if ip_kind < 0.1:
            ip = None
        elif ip_kind < 0.15:
            ip = "0.0.0.0"
        else:
            ip = f"{int(rng.integers(170, 200))}.{int(rng.integers(0, 256))}." + (
                f"{int(rng.integers(0, 256))}.{int(rng.integers(1, 255))}"
            )
        out.append(
            Player(
                id=pid,
                name=f"{place} {i // len(_PLACES) + 1:02d}",
                description=f"Tela {i + 1} - {place}",
                platform=str(_PLATFORMS[int(rng.integers(len(_PLATFORMS)))]),
                group=(group + 1, _GROUPS[group]),
                open_s=open_s,
                close_s=close_s,
                closed_weekdays=(6,) if rng.random() < 0.3 else (),
                playlist=playlist,
                ip=ip,
                template=int(rng.choice(4, p=(0.55, 0.2, 0.15, 0.1))),
                batch_s=int(rng.choice((300, 600, 900))),
                phase_s=int(rng.integers(0, 300)),
                nightly=bool(rng.random() < 0.25),
            )
        )
    return tuple(out)
