"""Aggregates of personal devices per district and hour or day: what the public
(and any key without the ``personal`` permission) gets of personal data.

For each district and bucket: how many meters report, the sum of their values and
the mean per meter. A counter metric (a water meter's cumulative ``volume``)
aggregates each meter's rise in the bucket (its consumption: the rise of the last
reading of each hour over the one before, a fall counted as none); a gauge the
meter's mean. A group of fewer than ``min_group`` meters is suppressed: no count,
sum or mean, ``suppressed`` true. Read from the hourly rollups (``readings_1h``:
a continuous aggregate on TimescaleDB), so a year of a town stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from psycopg.rows import class_row

from hub.store.db import AsyncConn

Bucket = Literal["hour", "day"]
BUCKETS: Final[tuple[Bucket, ...]] = ("hour", "day")
# Readings before the range that a counter's first rise is measured from.
_LEAD_IN: Final = timedelta(hours=6)

DISTRICT_AGGREGATES = """
WITH meters AS (
    SELECT d.id, d.district FROM devices d
    WHERE d.data_class = 'personal'
      AND (%(profiles)s::text[] IS NULL OR d.profile = ANY(%(profiles)s))
      AND (%(districts)s::text[] IS NULL OR d.district = ANY(%(districts)s))
), ser AS MATERIALIZED (
    SELECT s.id, m.id AS device, m.district
    FROM series s JOIN meters m ON m.id = s.device
    WHERE s.metric = %(metric)s
), hours AS (
    SELECT t.series_id, t.bucket, t.sum, t.count,
           t.last - coalesce(lag(t.last) OVER (PARTITION BY t.series_id ORDER BY t.bucket),
                             t.first) AS rise
    FROM readings_1h t
    WHERE t.series_id = ANY(ARRAY(SELECT ser.id FROM ser))
      AND t.bucket >= %(lead_in)s AND t.bucket < %(end)s
), per_meter AS (
    SELECT ser.district,
           date_trunc(%(unit)s, h.bucket AT TIME ZONE %(tz)s) AT TIME ZONE %(tz)s AS start,
           ser.device,
           CASE WHEN %(counter)s THEN sum(greatest(h.rise, 0))
                ELSE sum(h.sum) / sum(h.count) END AS value
    FROM hours h JOIN ser ON ser.id = h.series_id
    WHERE h.bucket >= %(start)s
    GROUP BY 1, 2, 3
)
SELECT district, start,
       CASE WHEN count(*) >= %(min_group)s THEN count(*) END AS meters,
       CASE WHEN count(*) >= %(min_group)s THEN sum(value) END AS sum,
       CASE WHEN count(*) >= %(min_group)s THEN avg(value) END AS mean,
       count(*) < %(min_group)s AS suppressed
FROM per_meter
GROUP BY district, start
ORDER BY district NULLS LAST, start
"""


@dataclass(frozen=True, slots=True)
class DistrictAggregate:
    """One district and bucket; ``meters``, ``sum`` and ``mean`` are None when the
    group is smaller than the minimum (``suppressed``)."""

    district: str | None
    start: datetime
    meters: int | None
    sum: float | None
    mean: float | None
    suppressed: bool


async def district_aggregates(
    conn: AsyncConn,
    *,
    metric: str,
    bucket: Bucket,
    start: datetime,
    end: datetime,
    min_group: int,
    timezone: str,
    counter: bool,
    profiles: list[str] | None = None,
    districts: list[str] | None = None,
) -> list[DistrictAggregate]:
    """Per district and ``bucket`` (hours, or days of ``timezone``) in ``[start, end)``,
    over the personal devices (of ``profiles``, in ``districts``; None: all).
    ``counter``: aggregate each meter's rise (consumption), else its mean."""
    async with conn.cursor(row_factory=class_row(DistrictAggregate)) as cur:
        await cur.execute(
            DISTRICT_AGGREGATES,
            {
                "metric": metric,
                "unit": bucket,
                "tz": timezone,
                "start": start,
                "end": end,
                "lead_in": start - _LEAD_IN,
                "min_group": min_group,
                "counter": counter,
                "profiles": profiles,
                "districts": districts,
            },
        )
        return await cur.fetchall()
