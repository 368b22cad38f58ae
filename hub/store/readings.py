"""Reading queries: raw ranges, time buckets, latest values, and export streams.

Buckets come from the hourly or daily rollups (``readings_1h``/``readings_1d``:
continuous aggregates on TimescaleDB, writer-kept tables on plain PostgreSQL) when
the bucket grid is made of whole rollup buckets, and from the raw readings with
``date_bin`` otherwise (see :func:`choose_source`). Buckets of a whole number of
days follow the calendar of the requested time zone (a local day is 23 or 25 hours
long when the clocks change); shorter buckets are aligned to UTC.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, NamedTuple
from zoneinfo import ZoneInfo

from hub.privacy import policy
from hub.store import devices
from hub.store.db import AsyncConn

Source = Literal["raw", "1h", "1d"]
AGGREGATES: Final = ("avg", "min", "max", "sum", "count", "first", "last")

# Buckets are counted from a Monday, so that 7-day buckets are calendar weeks.
ORIGIN: Final = datetime(2000, 1, 3)
DAY: Final = timedelta(days=1)
HOUR: Final = timedelta(hours=1)
_UTC_NAMES: Final = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "GMT", "Etc/GMT", "Zulu"})

RAW = """
SELECT r.time, s.metric, r.value
FROM readings r JOIN series s ON s.id = r.series_id
WHERE s.device = %(device)s
  AND (%(metrics)s::text[] IS NULL OR s.metric = ANY(%(metrics)s))
  AND r.time >= %(start)s AND r.time < %(end)s
  AND (%(after_time)s::timestamptz IS NULL OR (r.time, s.metric) > (%(after_time)s, %(after_metric)s))
ORDER BY r.time, s.metric
LIMIT %(limit)s
"""

# The latest reading of each series: one backward index probe on the (series_id, time)
# primary key per series, which stays fast however long the history is.
LATEST = """
SELECT s.device, s.metric, l.time, l.value
FROM series s
CROSS JOIN LATERAL (
    SELECT r.time, r.value FROM readings r
    WHERE r.series_id = s.id
    ORDER BY r.time DESC
    LIMIT 1
) l
WHERE s.device = ANY(%(devices)s)
  AND (%(metrics)s::text[] IS NULL OR s.metric = ANY(%(metrics)s))
ORDER BY s.device, s.metric
"""

# The same for a page of devices chosen by a device filter, in one statement. Most
# series have a reading since ``since`` (live devices report more often): those are
# found by one index scan over all of them, which on TimescaleDB reads only the newest
# chunk (one probe per series would walk the chunks each time); only the others are
# probed one by one.
# A device without readings comes back once, with NULLs; so does one whose own data
# the reader may not read (hub.privacy.policy).
LATEST_PAGE = f"""
WITH page AS (
    SELECT id, device_id, profile, {policy.own_sql()} AS own FROM devices
    WHERE {devices.WHERE}
    ORDER BY device_id
    LIMIT %(limit)s
), ser AS MATERIALIZED (
    SELECT p.device_id, p.profile, s.id, s.metric
    FROM page p
    LEFT JOIN series s
      ON s.device = p.id AND p.own
     AND (%(metrics)s::text[] IS NULL OR s.metric = ANY(%(metrics)s))
), recent AS (
    SELECT DISTINCT ON (r.series_id) r.series_id, r.time, r.value
    FROM readings r
    WHERE r.series_id = ANY(ARRAY(SELECT ser.id FROM ser WHERE ser.id IS NOT NULL))
      AND r.time >= %(since)s
    ORDER BY r.series_id, r.time DESC
)
SELECT ser.device_id, ser.profile, ser.metric,
       coalesce(rc.time, l.time), coalesce(rc.value, l.value)
FROM ser
LEFT JOIN recent rc ON rc.series_id = ser.id
LEFT JOIN LATERAL (
    SELECT r.time, r.value FROM readings r
    WHERE rc.series_id IS NULL AND r.series_id = ser.id
    ORDER BY r.time DESC
    LIMIT 1
) l ON true
ORDER BY ser.device_id, ser.metric
"""

_RAW_AGGREGATE = {
    "avg": "avg(r.value)",
    "min": "min(r.value)",
    "max": "max(r.value)",
    "sum": "sum(r.value)",
    "count": "count(*)::float8",
    "first": "(array_agg(r.value ORDER BY r.time))[1]",
    "last": "(array_agg(r.value ORDER BY r.time DESC))[1]",
}
_ROLLUP_AGGREGATE = {
    "avg": "sum(t.sum) / sum(t.count)",
    "min": "min(t.min)",
    "max": "max(t.max)",
    "sum": "sum(t.sum)",
    "count": "sum(t.count)::float8",
    "first": "(array_agg(t.first ORDER BY t.first_time))[1]",
    "last": "(array_agg(t.last ORDER BY t.last_time DESC))[1]",
}
# Buckets are computed per series id, and the names joined on afterwards: a filter on
# series_id reaches into a TimescaleDB continuous aggregate (both its materialized and
# its real-time part), where a join to series would make it aggregate everything.
# Rows come ordered by bucket, then by the series' place in %(order)s (their ids
# sorted by metric name), so that no sort is left to Python.
_BUCKETS_RAW = """
SELECT date_bin(%(width)s, r.time AT TIME ZONE %(tz)s, %(origin)s) AT TIME ZONE %(tz)s AS bucket,
       r.series_id, {aggregate} AS value
FROM readings r
WHERE r.series_id = ANY(%(series)s)
  AND r.time >= %(start)s AND r.time < %(end)s
GROUP BY 1, 2
ORDER BY 1, array_position(%(order)s, r.series_id)
"""
_BUCKETS_ROLLUP = """
SELECT date_bin(%(width)s, t.bucket AT TIME ZONE %(tz)s, %(origin)s) AT TIME ZONE %(tz)s AS bucket,
       t.series_id, {aggregate} AS value
FROM {table} t
WHERE t.series_id = ANY(%(series)s)
  AND t.bucket >= %(start)s AND t.bucket < %(end)s
GROUP BY 1, 2
ORDER BY 1, array_position(%(order)s, t.series_id)
"""
# A grid of the rollup's own buckets (hours from readings_1h, UTC days from
# readings_1d): each row is a bucket already, read as it is, not grouped again
# (a year of hourly means of a device: 43,800 rows hashed for nothing).
_BUCKETS_ROLLUP_SAME = """
SELECT t.bucket, t.series_id, {expression} AS value
FROM {table} t
WHERE t.series_id = ANY(%(series)s)
  AND t.bucket >= %(start)s AND t.bucket < %(end)s
ORDER BY 1, array_position(%(order)s, t.series_id)
"""
_ROLLUP_ROW = {
    "avg": "t.sum / nullif(t.count, 0)",
    "min": "t.min",
    "max": "t.max",
    "sum": "t.sum",
    "count": "t.count::float8",
    "first": "t.first",
    "last": "t.last",
}
SERIES_OF_DEVICE = """
SELECT id, metric FROM series
WHERE device = %(device)s AND (%(metrics)s::text[] IS NULL OR metric = ANY(%(metrics)s))
"""
# One statement per (source, aggregate), fixed at import: nothing from a request is
# ever formatted into SQL. ("1h=", "1d="): a grid of the rollup's own buckets.
BUCKETS: Final[dict[tuple[str, str], str]] = {
    **{("raw", a): _BUCKETS_RAW.format(aggregate=e) for a, e in _RAW_AGGREGATE.items()},
    **{
        (source, a): _BUCKETS_ROLLUP.format(aggregate=e, table=table)
        for source, table in (("1h", "readings_1h"), ("1d", "readings_1d"))
        for a, e in _ROLLUP_AGGREGATE.items()
    },
    **{
        (source + "=", a): _BUCKETS_ROLLUP_SAME.format(expression=e, table=table)
        for source, table in (("1h", "readings_1h"), ("1d", "readings_1d"))
        for a, e in _ROLLUP_ROW.items()
    },
}
_ROLLUP_WIDTH: Final[dict[str, timedelta]] = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}

_EXPORT_SERIES = """
SELECT s.id, d.device_id, s.metric
FROM devices d JOIN series s ON s.device = d.id
WHERE d.id = ANY(%(devices)s)
  AND (%(metrics)s::text[] IS NULL OR s.metric = ANY(%(metrics)s))
ORDER BY d.device_id, s.metric
"""
# The time as RFC 3339 text in UTC, formatted by PostgreSQL: as Python's isoformat
# would (fractions only when there are some), at a fraction of the CPU per row
# (docs/performance.md, "A year of a town").
_TIME_TEXT = """to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN date_part('microseconds', time)::bigint %% 1000000 = 0 THEN ''
            ELSE to_char(time AT TIME ZONE 'UTC', '.US') END"""
_EXPORT_ONE_SERIES = f"""
SELECT {_TIME_TEXT} || 'Z', value
FROM readings
WHERE series_id = %(series)s AND time >= %(start)s AND time < %(end)s
ORDER BY time
"""


class Point(NamedTuple):
    """A tuple, made in C: a year of a device's hourly means is 43,800 of them, and a
    frozen dataclass took 3.7 us each to build (docs/performance.md)."""

    time: datetime
    metric: str
    value: float


# The CSV export's lines written by PostgreSQL, a day of one series per row: the
# time as above, the value as Python's repr writes a float (the shortest text that
# reads back exactly: ``41.5``, ``3.0``; PostgreSQL writes whole numbers without
# ``.0`` and goes to exponents from 1e15 where Python does from 1e16), between the
# series' own fields, quoted once in Python. No Python object per row: a year of
# one device went at 130-190k rows/s through Python's formatting, and at about
# 100-150k through COPY (a message per row); see docs/performance.md, "A year of a
# town". The scan is in time order, so the days stream as they are read.
_EXPORT_CSV_DAYS = f"""
SELECT string_agg(
           {_TIME_TEXT}
           || %(middle)s
           || CASE WHEN value = trunc(value) AND abs(value) < 1e15 THEN value::text || '.0'
                   ELSE value::text END
           || %(tail)s,
           '' ORDER BY time)
FROM readings
WHERE series_id = %(series)s AND time >= %(start)s AND time < %(end)s
-- Days (in the session's zone, UTC: only the blocks' edges): date_trunc is at both
-- storage levels, and TimescaleDB reads the chunks in its order without sorting.
GROUP BY date_trunc('day', time)
ORDER BY date_trunc('day', time)
"""


def _csv_field(text: str) -> str:
    """A CSV field (RFC 4180): quoted only when it holds a comma, a quote or a break."""
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


@dataclass(frozen=True, slots=True)
class Latest:
    device: int
    metric: str
    time: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Grid:
    """A bucket grid: ``width`` wide, in time zone ``tz``, over ``[start, end)``
    (both on the grid), read from ``source``."""

    width: timedelta
    tz: str
    start: datetime
    end: datetime
    source: Source

    @property
    def buckets(self) -> int:
        if self.width % DAY == timedelta(0) and self.tz not in _UTC_NAMES:
            days = (_local(self.end, self.tz) - _local(self.start, self.tz)).days
            return max(1, round(days / (self.width / DAY)))
        return max(1, (self.end - self.start) // self.width)


def _local(t: datetime, tz: str) -> datetime:
    return t.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def _from_local(t: datetime, tz: str) -> datetime:
    return t.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _whole_hour_offset(t: datetime, tz: str) -> bool:
    offset = t.astimezone(ZoneInfo(tz)).utcoffset() or timedelta(0)
    return offset % HOUR == timedelta(0)


def make_grid(width: timedelta, tz: str, start: datetime, end: datetime) -> Grid:
    """The grid of ``width`` buckets covering ``[start, end)``, widened to whole
    buckets, and the cheapest source that gives exact results for it."""
    calendar = width % DAY == timedelta(0)
    zone = tz if calendar else "UTC"
    local_start, local_end = _local(start, zone), _local(end, zone)
    first = ORIGIN + ((local_start - ORIGIN) // width) * width
    last = ORIGIN + ((local_end - ORIGIN) // width) * width
    if last < local_end:
        last += width
    grid_start, grid_end = _from_local(first, zone), _from_local(last, zone)
    return Grid(width, zone, grid_start, grid_end, choose_source(width, zone, grid_start, grid_end))


def choose_source(width: timedelta, tz: str, start: datetime, end: datetime) -> Source:
    """Rollups when every bucket is a union of whole rollup buckets, else raw readings."""
    if width % DAY == timedelta(0) and tz in _UTC_NAMES:
        return "1d"
    if (
        width % HOUR == timedelta(0)
        and _whole_hour_offset(start, tz)
        and _whole_hour_offset(end, tz)
    ):
        return "1h"
    return "raw"


async def raw(
    conn: AsyncConn,
    device: int,
    *,
    metrics: list[str] | None,
    start: datetime,
    end: datetime,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[Point]:
    """Readings of one device in ``[start, end)``, by time then metric, after ``after``."""
    cur = await conn.execute(
        RAW,
        {
            "device": device,
            "metrics": metrics,
            "start": start,
            "end": end,
            "limit": limit,
            "after_time": after[0] if after else None,
            "after_metric": after[1] if after else None,
        },
    )
    return [Point(t, m, v) for t, m, v in await cur.fetchall()]


async def buckets(
    conn: AsyncConn, device: int, *, metrics: list[str] | None, grid: Grid, aggregate: str
) -> list[Point]:
    """One value per bucket of ``grid`` and metric that has readings, by bucket then metric."""
    cur = await conn.execute(SERIES_OF_DEVICE, {"device": device, "metrics": metrics})
    names = {series_id: metric for series_id, metric in await cur.fetchall()}
    if not names:
        return []
    source: str = grid.source
    if _ROLLUP_WIDTH.get(source) == grid.width:
        source += "="
    cur = await conn.execute(
        BUCKETS[source, aggregate],
        binary=True,  # times and floats as bytes, not text parsed per row
        params={
            "series": list(names),
            "order": sorted(names, key=names.__getitem__),  # by metric name, as Python sorts
            "width": grid.width,
            "tz": grid.tz,
            "origin": ORIGIN,
            "start": grid.start,
            "end": grid.end,
        },
    )
    return [Point(b, names[sid], v) for b, sid, v in await cur.fetchall() if v is not None]


async def latest(
    conn: AsyncConn, devices: list[int], *, metrics: list[str] | None = None
) -> list[Latest]:
    """The newest reading of every series of ``devices``."""
    if not devices:
        return []
    cur = await conn.execute(LATEST, {"devices": devices, "metrics": metrics})
    return [Latest(d, m, t, v) for d, m, t, v in await cur.fetchall()]


LatestRow = tuple[str, str, str | None, datetime | None, float | None]


async def latest_page(
    conn: AsyncConn,
    where: devices.DeviceFilter,
    *,
    limit: int,
    after: str | None = None,
    metrics: list[str] | None = None,
    lookback: timedelta = timedelta(hours=1),
) -> list[LatestRow]:
    """(device_id, profile, metric, time, value) for the first ``limit`` devices
    matching ``where`` after ``after``, by device then metric; a device without
    readings gives one row of NULLs. ``lookback`` (how far back a live device's latest
    reading lies) only changes the speed. Prepared: it is the fleet's hot query."""
    params = {
        **where.params(),
        "limit": limit,
        "after": after,
        "metrics": metrics,
        "since": datetime.now(UTC) - lookback,
    }
    cur = await conn.execute(LATEST_PAGE, params, prepare=True)
    return await cur.fetchall()


async def stream_export(
    conn: AsyncConn,
    devices: list[int],
    *,
    metrics: list[str] | None,
    start: datetime,
    end: datetime,
    chunk: int = 5000,
) -> AsyncIterator[list[tuple[str, str, str, float]]]:
    """Rows (device_id, metric, time, value) in chunks, series by series, by time;
    the time as RFC 3339 text in UTC (``2026-01-01T00:05:00Z``).

    Each series is read through a server-side cursor, so memory holds one chunk.
    """
    cur = await conn.execute(_EXPORT_SERIES, {"devices": devices, "metrics": metrics})
    series = await cur.fetchall()
    for series_id, device_id, metric in series:
        async with conn.cursor(name="export") as named:
            await named.execute(
                _EXPORT_ONE_SERIES, {"series": series_id, "start": start, "end": end}
            )
            while rows := await named.fetchmany(chunk):
                yield [(device_id, metric, t, v) for t, v in rows]


async def stream_export_csv(
    conn: AsyncConn,
    devices: list[int],
    *,
    metrics: list[str] | None,
    start: datetime,
    end: datetime,
    units: Mapping[tuple[str, str], str],
    days: int = 10,
) -> AsyncIterator[tuple[str, str]]:
    """The export's CSV lines ``time,device_id,metric,value,unit``, series by series,
    by time, ``days`` days of a series at a time (the same rows as
    :func:`stream_export`), each block with its device's id; ``units`` by
    (device_id, metric). Each series is read
    through a server-side cursor: memory holds ``days`` days of one series."""
    await conn.execute("SET extra_float_digits = 1")  # the shortest exact text
    cur = await conn.execute(_EXPORT_SERIES, {"devices": devices, "metrics": metrics})
    series = await cur.fetchall()
    for series_id, device_id, metric in series:
        params = {
            "series": series_id,
            "middle": f"Z,{_csv_field(device_id)},{_csv_field(metric)},",
            "tail": f",{_csv_field(units.get((device_id, metric), ''))}\n",
            "start": start,
            "end": end,
        }
        async with conn.cursor(name="export") as named:
            await named.execute(_EXPORT_CSV_DAYS, params)
            while rows := await named.fetchmany(days):
                yield device_id, "".join(text for (text,) in rows)
