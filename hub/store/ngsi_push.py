"""The NGSI-LD push's cursors: per broker and device, the fingerprint of the
entities the broker last accepted (table ``ngsi_push_state``, migration 0045), and
the newest reading its temporal API accepted (``ngsi_push_temporal``, 0046)."""

from __future__ import annotations

from datetime import datetime

from hub.store.db import AsyncConn

VERSIONS = """
SELECT device, version FROM ngsi_push_state
WHERE target = %(target)s AND device = ANY(%(devices)s)
"""
SAVE = """
INSERT INTO ngsi_push_state (target, device, version, pushed_at)
SELECT %(target)s, d, v, now() FROM unnest(%(devices)s::int[], %(versions)s::text[]) AS u(d, v)
ON CONFLICT (target, device) DO UPDATE SET version = excluded.version, pushed_at = now()
"""


async def versions(conn: AsyncConn, target: str, devices: list[int]) -> dict[int, str]:
    if not devices:
        return {}
    cur = await conn.execute(VERSIONS, {"target": target, "devices": devices})
    return {int(device): str(version) for device, version in await cur.fetchall()}


async def save(conn: AsyncConn, target: str, pushed: list[tuple[int, str]]) -> None:
    if not pushed:
        return
    await conn.execute(
        SAVE,
        {"target": target, "devices": [p for p, _ in pushed], "versions": [v for _, v in pushed]},
    )


# The temporal push's cursor (table ``ngsi_push_temporal``, migration 0046).
TEMPORAL_CURSORS = """
SELECT device, until FROM ngsi_push_temporal
WHERE target = %(target)s AND device = ANY(%(devices)s)
"""
SAVE_TEMPORAL = """
INSERT INTO ngsi_push_temporal (target, device, until, pushed_at)
VALUES (%(target)s, %(device)s, %(until)s, now())
ON CONFLICT (target, device) DO UPDATE SET until = excluded.until, pushed_at = now()
"""
# The oldest ``n`` readings of each metric after ``after``: one index scan per series.
READINGS_AFTER = """
SELECT s.metric, h.time, h.value
FROM series s
CROSS JOIN LATERAL (
    SELECT r.time, r.value FROM readings r
    WHERE r.series_id = s.id AND r.time > %(after)s
    ORDER BY r.time
    LIMIT %(n)s
) h
WHERE s.device = %(device)s AND s.metric = ANY(%(metrics)s)
ORDER BY s.metric, h.time
"""


async def temporal_cursors(conn: AsyncConn, target: str, devices: list[int]) -> dict[int, datetime]:
    if not devices:
        return {}
    cur = await conn.execute(TEMPORAL_CURSORS, {"target": target, "devices": devices})
    return {int(device): until for device, until in await cur.fetchall()}


async def save_temporal(conn: AsyncConn, target: str, device: int, until: datetime) -> None:
    await conn.execute(SAVE_TEMPORAL, {"target": target, "device": device, "until": until})


async def readings_after(
    conn: AsyncConn, device: int, metrics: list[str], after: datetime, n: int
) -> dict[str, list[tuple[datetime, float]]]:
    """Metric -> its oldest ``n`` (time, value) after ``after``, oldest first."""
    cur = await conn.execute(
        READINGS_AFTER, {"device": device, "metrics": metrics, "after": after, "n": n}
    )
    found: dict[str, list[tuple[datetime, float]]] = {}
    for metric, time, value in await cur.fetchall():
        found.setdefault(metric, []).append((time, value))
    return found
