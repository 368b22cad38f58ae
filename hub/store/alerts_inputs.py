"""What the alert engine reads to evaluate rules: devices, recent readings, window
aggregates, night minima and hourly means (all computed in SQL where they can be).

Every query is bounded in time: it looks only at readings newer than
``now() - horizon`` (the rule's own span plus :data:`SLACK`), so TimescaleDB can
skip old chunks and a device silent for days is left to the stale rule. A bound
computed per row (``newest - span``) does not skip chunks, so each such query also
carries a constant one in ``now()``; without it a scheduled run read every chunk of
a year (docs/performance.md, "A year of a town").
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from psycopg import sql

from hub.model import DeviceRow
from hub.store.db import AsyncConn

Sample = tuple[datetime, float]

SLACK: Final = timedelta(days=2)
STREAM_CHUNK: Final = 5000  # rows fetched at a time by the span queries
AGGREGATES: Final = {"mean": "avg", "min": "min", "max": "max", "sum": "sum"}


DEVICES = """
SELECT id, device_id, profile, district, lat, lon, status, status_changed_at, last_seen
FROM devices WHERE decommissioned_at IS NULL
"""
DEVICE = f"{DEVICES} AND device_id = %(device_id)s"


async def devices(conn: AsyncConn) -> list[DeviceRow]:
    """Every device in service."""
    cur = await conn.execute(DEVICES)
    return [DeviceRow(*row) for row in await cur.fetchall()]


async def device(conn: AsyncConn, device_id: str) -> DeviceRow | None:
    cur = await conn.execute(DEVICE, {"device_id": device_id})
    row = await cur.fetchone()
    return None if row is None else DeviceRow(*row)


def _horizon(span: timedelta) -> dict[str, timedelta]:
    """``horizon`` (how old a newest reading may be) and ``bound`` (the constant
    bound on the readings, looser): ``now() - %(bound)s`` in that plain form is
    made a constant by TimescaleDB when planning, so the planner opens only the
    newest chunks (``now() - 2 * %(horizon)s`` opened every chunk of the year to
    exclude all but one when starting: 250 ms of planning for a 1 ms query)."""
    return {"horizon": span + SLACK, "bound": 2 * (span + SLACK)}


# The newest reading of each series of a profile's metric, within the horizon;
# computed once (MATERIALIZED), not again for each reading it bounds.
_LATEST = """
latest AS MATERIALIZED (
    SELECT s.id AS series_id, s.device,
           (SELECT max(r.time) FROM readings r
            WHERE r.series_id = s.id AND r.time > now() - %(horizon)s) AS t
    FROM series s JOIN devices d ON d.id = s.device
    WHERE d.profile = %(profile)s AND s.metric = %(metric)s AND d.decommissioned_at IS NULL
)
"""
# Each series' span is read through its own index scan (a LATERAL subquery kept
# apart by OFFSET 0): joined as a set, the planner read every reading of the
# horizon of every series of the profile and computed the newest again per row
# (docs/performance.md, "A year of a town").
_SPAN = """
CROSS JOIN LATERAL (
    SELECT r.time, r.value FROM readings r
    WHERE r.series_id = l.series_id AND r.time > l.t - %(span)s AND r.time <= l.t
      -- A constant bound too, so that old chunks are skipped (l.t is known only per row).
      AND r.time > now() - %(bound)s::interval
    OFFSET 0  -- kept a subquery: one index scan per series
) r
"""
LATEST_SPANS = f"""
WITH {_LATEST}
SELECT l.device, r.time, r.value
FROM latest l
{_SPAN}
WHERE l.t IS NOT NULL
ORDER BY l.device, r.time
"""


def latest_spans(
    conn: AsyncConn, *, profile: str, metric: str, span: timedelta
) -> AsyncGenerator[tuple[int, list[Sample]], None]:
    """Per device, one at a time: readings of ``metric`` in (newest - span, newest],
    time order. Streamed (:func:`_per_device`): a dense fleet cannot fill the
    hub's memory or hold its event loop."""
    return _per_device(
        conn,
        LATEST_SPANS,
        {"profile": profile, "metric": metric, "span": span, **_horizon(span)},
    )


PAIRED_SPANS = f"""
WITH {_LATEST}
SELECT l.device, r.time, r.value, o.value
FROM latest l
JOIN series os ON os.device = l.device AND os.metric = %(other)s
{_SPAN}
CROSS JOIN LATERAL (
    SELECT o.value FROM readings o
    WHERE o.series_id = os.id AND o.time = r.time
      AND o.time > now() - %(bound)s::interval
    OFFSET 0
) o
WHERE l.t IS NOT NULL
ORDER BY l.device, r.time
"""


def paired_spans(
    conn: AsyncConn, *, profile: str, metric: str, other: str, span: timedelta
) -> AsyncGenerator[tuple[int, list[tuple[datetime, float, float]]], None]:
    """Like :func:`latest_spans`, with the ``other`` metric reported at the same time."""
    return _per_device(
        conn,
        PAIRED_SPANS,
        {
            "profile": profile,
            "metric": metric,
            "other": other,
            "span": span,
            **_horizon(span),
        },
    )


async def _per_device(
    conn: AsyncConn, query: str, params: dict[str, Any]
) -> AsyncGenerator[tuple[int, list[Any]], None]:
    """Run a query whose rows are ``(device, *sample)`` ordered by device, and yield
    each device's samples in turn.

    The rows come through a server-side cursor, :data:`STREAM_CHUNK` at a time, in
    a read-only transaction of their own: the hub holds one device's samples and one
    chunk, never the whole result (a fleet reporting every second would otherwise
    load millions of rows at each run), and the event loop gets a turn between
    chunks, so the ingest does not wait behind a rule. Do not write on ``conn`` while
    iterating; collect what to write and write it afterwards.
    """
    async with conn.transaction():
        await conn.execute("SET TRANSACTION READ ONLY")
        # Plan for the whole result, as for a plain query (a cursor's default
        # plans for the first 10 % and can pick a much slower plan overall).
        await conn.execute("SET LOCAL cursor_tuple_fraction = 1")
        cur = conn.cursor(name="alert_samples")
        try:
            await cur.execute(query, params)
            device = 0
            samples: list[Any] = []
            while rows := await cur.fetchmany(STREAM_CHUNK):
                for row in rows:
                    if row[0] != device:
                        if samples:
                            yield device, samples
                        device, samples = row[0], []
                    samples.append(row[1:])
                await asyncio.sleep(0)
            if samples:
                yield device, samples
        finally:
            # A cancel that lands during the cursor's CLOSE leaves psycopg's cursor
            # marked open (a ResourceWarning when it is collected): the CLOSE is
            # shielded, finished, and only then is the cancel passed on.
            closing = asyncio.ensure_future(cur.close())
            try:
                await asyncio.shield(closing)
            except asyncio.CancelledError:
                await closing
                raise


# Rolling window ending at the newest reading, or the local day that holds it.
_WINDOW_AGGREGATE = """
WITH {latest},
bounds AS (
    SELECT series_id, device, t,
           CASE WHEN %(local_day)s
                THEN date_trunc('day', t AT TIME ZONE %(tz)s) AT TIME ZONE %(tz)s
                ELSE t - %(window)s END AS start
    FROM latest WHERE t IS NOT NULL
)
SELECT b.device, b.t, b.start, a.value, a.n
FROM bounds b
CROSS JOIN LATERAL (
    SELECT {aggregate}(r.value) AS value, count(*) AS n FROM readings r
    WHERE r.series_id = b.series_id
      AND (r.time > b.start OR (%(local_day)s AND r.time = b.start)) AND r.time <= b.t
      -- A constant bound too, so that old chunks are skipped (b.t is known only per row).
      AND r.time > now() - %(bound)s::interval
) a
WHERE a.n > 0
"""


@dataclass(frozen=True, slots=True)
class WindowValue:
    at: datetime
    start: datetime
    value: float
    count: int


async def window_aggregates(
    conn: AsyncConn,
    *,
    profile: str,
    metric: str,
    aggregate: str,
    window: timedelta,
    local_day: bool,
    timezone: str,
) -> dict[int, WindowValue]:
    """Per device: the aggregate of ``metric`` over its window."""
    query = sql.SQL(_WINDOW_AGGREGATE).format(
        latest=sql.SQL(_LATEST), aggregate=sql.SQL(AGGREGATES[aggregate])
    )
    span = timedelta(days=1) if local_day else window
    cur = await conn.execute(
        query,
        {
            "profile": profile,
            "metric": metric,
            "local_day": local_day,
            "tz": timezone,
            "window": window,
            **_horizon(span),
        },
    )
    return {
        device_pk: WindowValue(t, start, float(value), int(count))
        for device_pk, t, start, value, count in await cur.fetchall()
        if value is not None
    }


NIGHT_MINIMA = """
SELECT s.device, w.idx, min(r.value), count(*)
FROM series s JOIN devices d ON d.id = s.device
CROSS JOIN unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[])
     WITH ORDINALITY AS w(start_at, end_at, idx)
JOIN readings r ON r.series_id = s.id AND r.time >= w.start_at AND r.time < w.end_at
  -- The windows' span as constants too: bounds known only per row read every chunk.
  AND r.time >= %(first)s AND r.time < %(last)s
WHERE d.profile = %(profile)s AND s.metric = %(metric)s AND d.decommissioned_at IS NULL
GROUP BY s.device, w.idx
"""
LATEST_TIMES = f"WITH {_LATEST} SELECT device, t FROM latest WHERE t IS NOT NULL"


async def night_minima(
    conn: AsyncConn,
    *,
    profile: str,
    metric: str,
    windows: Sequence[tuple[datetime, datetime]],
) -> dict[int, dict[int, tuple[float, int]]]:
    """Per device, per window index (0-based): lowest value and reading count."""
    if not windows:
        return {}
    cur = await conn.execute(
        NIGHT_MINIMA,
        {
            "profile": profile,
            "metric": metric,
            "starts": [s for s, _ in windows],
            "ends": [e for _, e in windows],
            "first": min(s for s, _ in windows),
            "last": max(e for _, e in windows),
        },
    )
    out: dict[int, dict[int, tuple[float, int]]] = defaultdict(dict)
    for device_pk, idx, minimum, count in await cur.fetchall():
        out[device_pk][int(idx) - 1] = (float(minimum), int(count))
    return dict(out)


async def latest_times(
    conn: AsyncConn, *, profile: str, metric: str, horizon: timedelta
) -> dict[int, datetime]:
    """Per device: time of the newest reading of ``metric`` within the horizon."""
    cur = await conn.execute(
        LATEST_TIMES, {"profile": profile, "metric": metric, "horizon": horizon}
    )
    return {device_pk: t for device_pk, t in await cur.fetchall()}


# The hourly rollup is read for a set of series given as ``series_id = ANY(...)``:
# that filter reaches into the continuous aggregate's real-time part (the raw
# readings after its watermark), where a join to series made it aggregate the
# newest readings of every series of the town, by a scan of the newest chunk
# (docs/performance.md, "A year of a town").
_PROFILE_SERIES = """
SELECT s.id, s.device, s.metric FROM series s JOIN devices d ON d.id = s.device
WHERE d.profile = %(profile)s AND s.metric = ANY(%(metrics)s) AND d.decommissioned_at IS NULL
"""

# Full-output power learned from the hourly rollups: hours in which the dim level
# stayed at one value above 0, power divided by the share that level draws. One
# pass over both metrics' hours, paired per device and hour by grouping: a join of
# the two sets on (series, hour) was planned as nested loops on the CTEs'
# estimates (2 rows each, 350 lamps in fact): the engine's first run over the
# year of a town took 49 s, 0.7 s this way (docs/performance.md, "A year of a town").
POWER_REFERENCE = f"""
WITH s AS MATERIALIZED ({_PROFILE_SERIES}),
h AS MATERIALIZED (
    SELECT series_id, bucket, sum, count, min, max FROM readings_1h
    WHERE series_id = ANY(ARRAY(SELECT id FROM s))
      AND bucket >= %(since)s AND bucket < %(until)s
),
hours AS (
    SELECT ser.device,
           max(h.sum / h.count) FILTER (WHERE ser.metric = %(metric)s AND h.count > 0) AS power,
           max(h.min) FILTER (
               WHERE ser.metric = %(dim_metric)s AND h.min = h.max AND h.min > 0) AS dim
    FROM h JOIN series ser ON ser.id = h.series_id
    GROUP BY ser.device, h.bucket
)
SELECT device,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY power / (%(min_ratio)s + (1 - %(min_ratio)s) * dim / 100.0))
FROM hours
WHERE power IS NOT NULL AND dim IS NOT NULL
GROUP BY device
"""


async def power_references(
    conn: AsyncConn,
    *,
    profile: str,
    metric: str,
    dim_metric: str,
    min_ratio: float,
    since: datetime,
    until: datetime,
) -> dict[int, float]:
    """Per device: its median full-output power over [since, until)."""
    cur = await conn.execute(
        POWER_REFERENCE,
        {
            "profile": profile,
            "metrics": [metric, dim_metric],
            "metric": metric,
            "dim_metric": dim_metric,
            "min_ratio": min_ratio,
            "since": since,
            "until": until,
        },
    )
    return {device_pk: float(ref) for device_pk, ref in await cur.fetchall() if ref is not None}


# Per device: the last complete clock hour (the one before the hour of its newest
# reading) and the mean of each metric in it, from the hourly rollups.
HOURLY_MEANS = f"""
WITH s AS MATERIALIZED ({_PROFILE_SERIES}),
h AS MATERIALIZED (
    SELECT series_id, bucket, sum, count FROM readings_1h
    WHERE series_id = ANY(ARRAY(SELECT id FROM s)) AND bucket > now() - %(bound)s
), newest AS MATERIALIZED (  -- once: the planner expects one series and loops
    SELECT s.device, max(h.bucket) AS bucket
    FROM s JOIN h ON h.series_id = s.id
    WHERE h.bucket > now() - %(horizon)s
    GROUP BY s.device
)
SELECT s.device, n.bucket - interval '1 hour', s.metric, h.sum / h.count, h.count
FROM s JOIN newest n ON n.device = s.device
JOIN h ON h.series_id = s.id AND h.bucket = n.bucket - interval '1 hour'
WHERE h.count > 0
"""


@dataclass(frozen=True, slots=True)
class HourMeans:
    hour: datetime
    means: dict[str, float]
    counts: dict[str, int]


async def last_hour_means(
    conn: AsyncConn, *, profile: str, metrics: Sequence[str]
) -> dict[int, HourMeans]:
    cur = await conn.execute(
        HOURLY_MEANS,
        {
            "profile": profile,
            "metrics": list(metrics),
            "horizon": SLACK,
            "bound": SLACK + timedelta(hours=1),
        },
    )
    out: dict[int, HourMeans] = {}
    for device_pk, hour, metric, mean, count in await cur.fetchall():
        entry = out.setdefault(device_pk, HourMeans(hour, {}, {}))
        entry.means[metric] = float(mean)
        entry.counts[metric] = int(count)
    return out


HOURS_ABOVE = f"""
WITH s AS MATERIALIZED ({_PROFILE_SERIES})
SELECT s.device, count(*)
FROM s JOIN readings_1h h ON h.series_id = s.id
WHERE h.series_id = ANY(ARRAY(SELECT id FROM s))
  AND h.bucket >= %(since)s AND h.bucket <= %(until)s AND h.count > 0
  AND h.sum / h.count > %(above)s
GROUP BY s.device
"""


async def hours_above(
    conn: AsyncConn,
    *,
    profile: str,
    metric: str,
    above: float,
    since: datetime,
    until: datetime,
) -> dict[int, int]:
    """Per device: clock hours in [since, until] whose mean exceeded ``above``."""
    cur = await conn.execute(
        HOURS_ABOVE,
        {
            "profile": profile,
            "metrics": [metric],
            "above": above,
            "since": since,
            "until": until,
        },
    )
    return {device_pk: int(n) for device_pk, n in await cur.fetchall()}
