"""What the NGSI-LD views read: devices with their latest values, open alert rules
and air-quality class (one snapshot per device), and attribute histories."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.model import Device
from hub.ngsi.records import DeviceSnapshot, Observation
from hub.privacy import policy
from hub.privacy.policy import UNRESTRICTED, Visibility
from hub.store import readings
from hub.store.db import AsyncConn

_FIELDS = tuple(f.name for f in dataclasses.fields(Device))  # a snapshot's device record
_COLUMNS = ", ".join(_FIELDS)
DEVICES = f"""
SELECT {_COLUMNS}
FROM devices
WHERE {policy.own_sql()}
  AND profile = ANY(%(profiles)s)
  AND decommissioned_at IS NULL
  AND (%(device_ids)s::text[] IS NULL OR device_id = ANY(%(device_ids)s))
ORDER BY device_id
"""
DEVICES_BY_PK = f"""
SELECT {_COLUMNS}
FROM devices
WHERE id = ANY(%(ids)s) AND decommissioned_at IS NULL AND {policy.own_sql()}
ORDER BY device_id
"""
OPEN_RULES = """
SELECT a.device, r.name FROM alerts a JOIN rules r ON r.id = a.rule_id
WHERE a.state <> 'resolved' AND a.device = ANY(%(devices)s)
"""
AIR_QUALITY = """
SELECT device, class, hour FROM air_quality_classes WHERE device = ANY(%(devices)s)
"""
DEVICE_PK = f"""SELECT id FROM devices
WHERE device_id = %(device_id)s AND decommissioned_at IS NULL AND {policy.own_sql()}"""
# The newest ``n`` readings of each metric in [start, end): one backward index scan
# per series. Without lastN the caller asks for one more than it may answer.
HISTORY = """
SELECT s.metric, h.time, h.value
FROM series s
CROSS JOIN LATERAL (
    SELECT r.time, r.value FROM readings r
    WHERE r.series_id = s.id AND r.time >= %(start)s AND r.time < %(end)s
    ORDER BY r.time DESC
    LIMIT %(n)s
) h
WHERE s.device = %(device)s AND s.metric = ANY(%(metrics)s)
ORDER BY s.metric, h.time
"""


@dataclass(frozen=True, slots=True)
class Located:
    """A device's primary key beside its snapshot."""

    pk: int
    snapshot: DeviceSnapshot


async def snapshots(
    conn: AsyncConn,
    *,
    profiles: list[str],
    device_ids: list[str] | None = None,
    vis: Visibility = UNRESTRICTED,
) -> list[Located]:
    """Every live device of ``profiles`` (or those of ``device_ids``) whose own data the
    reader may read, by device_id."""
    cur = await conn.execute(
        DEVICES, {"profiles": profiles, "device_ids": device_ids, **vis.params()}
    )
    return await _complete(conn, await cur.fetchall())


async def snapshots_by_pk(
    conn: AsyncConn, pks: list[int], vis: Visibility = UNRESTRICTED
) -> list[Located]:
    cur = await conn.execute(DEVICES_BY_PK, {"ids": pks, **vis.params()})
    return await _complete(conn, await cur.fetchall())


async def _complete(conn: AsyncConn, rows: list[tuple[Any, ...]]) -> list[Located]:
    if not rows:
        return []
    pks = [row[0] for row in rows]
    values: dict[int, dict[str, Observation]] = defaultdict(dict)
    for latest in await readings.latest(conn, pks):
        values[latest.device][latest.metric] = Observation(latest.time, latest.value)
    rules: dict[int, set[str]] = defaultdict(set)
    cur = await conn.execute(OPEN_RULES, {"devices": pks})
    for device, name in await cur.fetchall():
        rules[device].add(name)
    classes: dict[int, tuple[str, datetime]] = {}
    cur = await conn.execute(AIR_QUALITY, {"devices": pks})
    for device, level, hour in await cur.fetchall():
        classes[device] = (level, hour)
    return [
        Located(
            row[0],
            DeviceSnapshot(
                **dict(zip(_FIELDS, row, strict=True)),
                values=values.get(row[0], {}),
                open_rules=frozenset(rules.get(row[0], ())),
                air_quality=classes.get(row[0]),
            ),
        )
        for row in rows
    ]


async def device_pk(conn: AsyncConn, device_id: str, vis: Visibility = UNRESTRICTED) -> int | None:
    cur = await conn.execute(DEVICE_PK, {"device_id": device_id, **vis.params()})
    row = await cur.fetchone()
    return int(row[0]) if row else None


async def history(
    conn: AsyncConn, device: int, *, metrics: list[str], start: datetime, end: datetime, n: int
) -> dict[str, list[tuple[datetime, float]]]:
    """Metric -> the newest ``n`` (time, value) in ``[start, end)``, oldest first."""
    cur = await conn.execute(
        HISTORY, {"device": device, "metrics": metrics, "start": start, "end": end, "n": n}
    )
    found: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for metric, time, value in await cur.fetchall():
        found[metric].append((time, value))
    return dict(found)


DEVICE_COUNTS = f"""
SELECT profile, count(*) FROM devices
WHERE decommissioned_at IS NULL AND {policy.own_sql()}
GROUP BY profile
"""


async def device_counts(conn: AsyncConn, vis: Visibility = UNRESTRICTED) -> dict[str, int]:
    """Live devices per profile (of those the reader may read)."""
    cur = await conn.execute(DEVICE_COUNTS, vis.params())
    return {profile: int(n) for profile, n in await cur.fetchall()}


# One aggregate over the whole range (NGSI-LD aggrPeriodDuration P0D), from the raw
# readings.
TOTALS = """
SELECT s.metric, avg(r.value), min(r.value), max(r.value), sum(r.value), count(*)::float8
FROM series s JOIN readings r ON r.series_id = s.id
WHERE s.device = %(device)s AND s.metric = ANY(%(metrics)s)
  AND r.time >= %(start)s AND r.time < %(end)s
GROUP BY s.metric
"""


async def totals(
    conn: AsyncConn, device: int, *, metrics: list[str], start: datetime, end: datetime
) -> dict[str, dict[str, float]]:
    """Metric -> {avg, min, max, sum, count} over ``[start, end)``."""
    cur = await conn.execute(
        TOTALS, {"device": device, "metrics": metrics, "start": start, "end": end}
    )
    return {
        metric: {"avg": a, "min": lo, "max": hi, "sum": s, "count": n}
        for metric, a, lo, hi, s, n in await cur.fetchall()
    }
