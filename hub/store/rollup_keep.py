"""Deleting raw readings while their hourly and daily rollups stay.

Used by the retention of personal data (hub.privacy.retention) and by erasures
(hub.privacy.subject). Work goes one UTC day at a time, so no statement holds locks
on more than a day of readings.

Plain PostgreSQL: the rollups are materialized from a watermark (migration 0065,
docs/adr/0015) and never recomputed for old buckets, so deleting raw rows below the
watermark leaves them alone. A day is deleted only when the daily watermark has
passed it and its rollups hold every raw reading of it (per series and hour, the
rollup's ``count`` is at least the raw rows'): until then ``readings_1h`` reads it
from the raw rows, and deleting them would lose it.

TimescaleDB: the rollups are continuous aggregates, and a refresh over hours whose
raw rows were deleted recomputes those hours from what is left, erasing the deleted
series' buckets (TimescaleDB's docs: "Data retention with continuous aggregates").
A DELETE logs exactly such an invalidation, and any later refresh over old hours
(a manual ``refresh_continuous_aggregate(..., NULL, NULL)`` after a backfill, a
wider policy) would act on it. So a day is handled as:

1. refresh ``readings_1h`` over the day, while every raw row is still there (a late
   reading stored since the last refresh is counted before it goes);
2. copy the hourly rows of the series to keep (``personal_rollup_hold``) and delete
   the raw rows, in one transaction;
3. refresh ``readings_1h`` over the day: the invalidation is consumed now, and the
   held series' buckets disappear;
4. put the held rows back into the aggregate's materialization hypertable and empty
   the hold, in one transaction;
5. refresh ``readings_1d`` over the day: it is computed from ``readings_1h``, which
   holds them again.

After that no invalidation is left for the day, and a later refresh finds nothing to
redo. A crash between 2 and 4 leaves rows in the hold; :func:`restore_held` (run by
the retention job before anything else) finishes steps 3-5 for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg import sql

from hub.store.db import AsyncConn

DAY = timedelta(days=1)
_COLUMNS = "series_id, bucket, count, sum, min, max, first_time, first, last_time, last"

# (schema, table) of each continuous aggregate's materialization hypertable: named by
# TimescaleDB's public information view, not guessed.
MATERIALIZATIONS = """
SELECT view_name, materialization_hypertable_schema, materialization_hypertable_name
FROM timescaledb_information.continuous_aggregates
WHERE view_schema = current_schema() AND view_name IN ('readings_1h', 'readings_1d')
"""
REFRESH = {
    "readings_1h": "CALL refresh_continuous_aggregate('readings_1h', %(start)s, %(end)s)",
    "readings_1d": "CALL refresh_continuous_aggregate('readings_1d', %(start)s, %(end)s)",
}
DELETE_RAW = """
DELETE FROM readings
WHERE series_id = ANY(%(series)s) AND time >= %(start)s AND time < %(end)s
"""
# Plain level: hours of the day whose rollup does not (yet) hold all their raw rows.
# A day the daily watermark has not passed is not materialized yet (readings_1h and
# readings_1d read it from the raw rows, migration 0065): all of it counts as uncovered.
UNCOVERED_HOURS = """
SELECT CASE WHEN (SELECT date_trunc('day', watermark, 'UTC') FROM rollup_watermark)
                 < %(end)s
            THEN 1 ELSE 0 END
     + (SELECT count(*) FROM (
    SELECT series_id, date_trunc('hour', time) AS bucket, count(*) AS n
    FROM readings
    WHERE series_id = ANY(%(series)s) AND time >= %(start)s AND time < %(end)s
    GROUP BY 1, 2
) raw
LEFT JOIN readings_1h h ON h.series_id = raw.series_id AND h.bucket = raw.bucket
WHERE h.count IS NULL OR h.count < raw.n)
"""
HOLD = sql.SQL("""
INSERT INTO personal_rollup_hold ({columns})
SELECT {columns} FROM {hourly}
WHERE series_id = ANY(%(series)s) AND bucket >= %(start)s AND bucket < %(end)s
ON CONFLICT (series_id, bucket) DO NOTHING
""")
RESTORE = sql.SQL("""
INSERT INTO {hourly} ({columns})
SELECT {columns} FROM personal_rollup_hold k
WHERE k.bucket >= %(start)s AND k.bucket < %(end)s
  AND NOT EXISTS (SELECT 1 FROM {hourly} m
                  WHERE m.series_id = k.series_id AND m.bucket = k.bucket)
""")
CLEAR_HOLD = "DELETE FROM personal_rollup_hold WHERE bucket >= %(start)s AND bucket < %(end)s"
HELD_DAYS = "SELECT DISTINCT date_trunc('day', bucket) FROM personal_rollup_hold ORDER BY 1"
DELETE_ROLLUPS = sql.SQL("DELETE FROM {table} WHERE series_id = ANY(%(series)s)")
# Series of personal devices (devices.data_class, migration 0090), one device aside.
PERSONAL_SERIES = """
SELECT s.id FROM series s JOIN devices d ON d.id = s.device
WHERE d.data_class = 'personal' AND (%(exclude)s::int IS NULL OR d.id <> %(exclude)s)
ORDER BY s.id
"""
OLDEST_RAW = """
SELECT min(first) FROM (
    SELECT (SELECT r.time FROM readings r WHERE r.series_id = s ORDER BY r.time LIMIT 1) AS first
    FROM unnest(%(series)s::int[]) AS s
) f
"""


@dataclass(frozen=True, slots=True)
class DayResult:
    """What deleting one day did: raw rows gone, or why the day was left."""

    day: datetime
    deleted: int
    held: int = 0
    blocked: bool = False


def day_start(moment: datetime) -> datetime:
    """Midnight UTC of ``moment``'s day (the rollups' daily buckets are UTC days)."""
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


async def _materializations(conn: AsyncConn) -> dict[str, sql.Composed]:
    cur = await conn.execute(MATERIALIZATIONS)
    return {
        view: sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        for view, schema, table in await cur.fetchall()
    }


def _composed(template: sql.SQL, hourly: sql.Composed) -> sql.Composed:
    columns = sql.SQL(_COLUMNS)
    return template.format(columns=columns, hourly=hourly)


async def personal_series(conn: AsyncConn, *, exclude_device: int | None = None) -> list[int]:
    cur = await conn.execute(PERSONAL_SERIES, {"exclude": exclude_device})
    return [row[0] for row in await cur.fetchall()]


async def oldest_raw(conn: AsyncConn, series: Sequence[int]) -> datetime | None:
    """The time of the oldest raw reading of these series (an index probe each)."""
    if not series:
        return None
    cur = await conn.execute(OLDEST_RAW, {"series": list(series)})
    row = await cur.fetchone()
    return row[0] if row else None


async def _refresh(conn: AsyncConn, view: str, start: datetime, end: datetime) -> None:
    await conn.execute(REFRESH[view], {"start": start, "end": end})


async def delete_day(
    conn: AsyncConn,
    level: str,
    *,
    series: Sequence[int],
    day: datetime,
    hold: Sequence[int] | None = None,
    covered_only: bool = False,
) -> DayResult:
    """Delete one UTC day of raw readings of ``series``.

    Args:
        series: the series whose raw readings of the day go.
        day: midnight UTC of the day.
        hold: TimescaleDB: the series whose hourly rollups of the day must survive
            (those of ``series`` for retention; of the other personal series, whose raw
            rows may be gone already, for an erasure). ``None``: every series still has
            its raw rows for the day, so the invalidation is left for a later refresh,
            which recomputes the same buckets (minus ``series``).
        covered_only: plain level: leave the day alone (``blocked``) while its rollups
            do not yet hold every raw reading of it.

    ``conn`` must be in autocommit mode (a refresh cannot run inside a transaction).
    """
    start, end = day, day + DAY
    bounds = {"series": list(series), "start": start, "end": end}
    if level != "timescale" or hold is None:
        if covered_only and level != "timescale":
            cur = await conn.execute(UNCOVERED_HOURS, bounds)
            row = await cur.fetchone()
            if row and row[0]:
                return DayResult(day, 0, blocked=True)
        cur = await conn.execute(DELETE_RAW, bounds)
        return DayResult(day, max(cur.rowcount, 0))
    hourly = (await _materializations(conn))["readings_1h"]
    await _refresh(conn, "readings_1h", start, end)
    async with conn.transaction():
        cur = await conn.execute(
            _composed(HOLD, hourly), {"series": list(hold), "start": start, "end": end}
        )
        held = max(cur.rowcount, 0)
        cur = await conn.execute(DELETE_RAW, bounds)
        deleted = max(cur.rowcount, 0)
    await _finish_day(conn, hourly, start, end)
    return DayResult(day, deleted, held)


async def _finish_day(
    conn: AsyncConn, hourly: sql.Composed, start: datetime, end: datetime
) -> None:
    """Steps 3-5: consume the invalidation, put the held hours back, redo the day."""
    await _refresh(conn, "readings_1h", start, end)
    async with conn.transaction():
        await conn.execute(_composed(RESTORE, hourly), {"start": start, "end": end})
        await conn.execute(CLEAR_HOLD, {"start": start, "end": end})
    await _refresh(conn, "readings_1d", start, end)


async def restore_held(conn: AsyncConn, level: str) -> int:
    """Finish the days a crash left in the hold; return how many (autocommit ``conn``)."""
    if level != "timescale":
        return 0
    cur = await conn.execute(HELD_DAYS)
    days = [row[0] for row in await cur.fetchall()]
    if days:
        hourly = (await _materializations(conn))["readings_1h"]
        for day in days:
            await _finish_day(conn, hourly, day, day + DAY)
    return len(days)


async def delete_rollups(conn: AsyncConn, level: str, series: Sequence[int]) -> int:
    """Delete every hourly and daily rollup row of ``series`` (an erasure)."""
    if not series:
        return 0
    tables: list[sql.Composable]
    if level == "timescale":
        views = await _materializations(conn)
        tables = [views["readings_1h"], views["readings_1d"]]
    else:
        # The materialized buckets and the late parts (migration 0065; the views
        # readings_1h/readings_1d read the rest from the raw readings).
        tables = [
            sql.Identifier(f"readings_{unit}_{part}")
            for unit in ("1h", "1d")
            for part in ("mat", "late")
        ]
    total = 0
    for table in tables:
        cur = await conn.execute(DELETE_ROLLUPS.format(table=table), {"series": list(series)})
        total += max(cur.rowcount, 0)
    return total
