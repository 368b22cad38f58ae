"""What the public page (/public) shows, per district: air-quality hourly means of the
monitors and the street-light faults being worked on, of the devices whose own data
the reader may read (hub.privacy.policy; the page reads as ``PUBLIC``). The page's
water use comes from the personal aggregates (hub.privacy.aggregates), never from here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hub.privacy import policy
from hub.privacy.policy import Visibility
from hub.store.db import AsyncConn

HOURLY_MEANS = f"""
SELECT d.district, d.id, h.bucket, s.metric, h.sum / h.count
FROM readings_1h h
JOIN series s ON s.id = h.series_id
JOIN devices d ON d.id = s.device
WHERE {policy.own_sql("d")} AND d.decommissioned_at IS NULL
  AND s.metric = ANY(%(metrics)s)
  AND h.bucket >= %(start)s AND h.bucket < %(end)s AND h.count > 0
ORDER BY h.bucket
"""
MONITORS = f"""
SELECT d.district, count(DISTINCT d.id)
FROM devices d JOIN series s ON s.device = d.id
WHERE {policy.own_sql("d")} AND d.decommissioned_at IS NULL AND s.metric = ANY(%(metrics)s)
GROUP BY 1
"""
# Faults of public lamps, per district: lamps with an alert nobody works on yet, lamps
# whose alert is acknowledged or assigned (being worked on), lamps fixed today.
LAMP_FAULTS = f"""
SELECT d.district,
       count(DISTINCT d.id) AS lamps,
       count(DISTINCT a.device) FILTER (
           WHERE a.state = 'open' AND a.assignee IS NULL) AS reported,
       count(DISTINCT a.device) FILTER (
           WHERE a.state = 'acknowledged' OR (a.state = 'open' AND a.assignee IS NOT NULL))
           AS in_progress,
       count(DISTINCT a.device) FILTER (
           WHERE a.state = 'resolved' AND a.resolved_at >= %(today)s) AS fixed_today
FROM devices d
LEFT JOIN alerts a ON a.device = d.id AND (a.state <> 'resolved' OR a.resolved_at >= %(today)s)
WHERE {policy.own_sql("d")} AND d.decommissioned_at IS NULL
  AND d.profile = ANY(%(profiles)s)
GROUP BY 1
ORDER BY 1
"""


@dataclass(frozen=True, slots=True)
class HourlyMean:
    district: str | None
    device: int
    hour: datetime
    metric: str
    mean: float


@dataclass(frozen=True, slots=True)
class LampFaults:
    district: str | None
    lamps: int
    reported: int
    in_progress: int
    fixed_today: int


async def hourly_means(
    conn: AsyncConn, *, metrics: Sequence[str], start: datetime, end: datetime, vis: Visibility
) -> list[HourlyMean]:
    """Hourly means of the monitors' pollutants in [start, end), oldest first, of the
    monitors whose own data ``vis`` may read."""
    cur = await conn.execute(
        HOURLY_MEANS, {"metrics": list(metrics), "start": start, "end": end, **vis.params()}
    )
    return [HourlyMean(*row) for row in await cur.fetchall()]


async def monitors_per_district(
    conn: AsyncConn, metrics: Sequence[str], *, vis: Visibility
) -> dict[str | None, int]:
    cur = await conn.execute(MONITORS, {"metrics": list(metrics), **vis.params()})
    return {district: n for district, n in await cur.fetchall()}


async def lamp_faults(
    conn: AsyncConn, *, profiles: Sequence[str], today: datetime, vis: Visibility
) -> list[LampFaults]:
    """Per district: public lamps, and those with a fault reported, being worked on,
    or fixed since ``today`` (local midnight)."""
    cur = await conn.execute(
        LAMP_FAULTS, {"profiles": list(profiles), "today": today, **vis.params()}
    )
    return [LampFaults(*row) for row in await cur.fetchall()]
