"""Status from silence (migration 0051): a device that sends nothing for its
profile's offline time (``expected_interval_s * offline_factor``) becomes
``offline``, and its next message makes it ``online`` again. Devices never heard
from, decommissioned devices and devices of unknown profiles are left alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

AsyncConn = psycopg.AsyncConnection[Any]

MARK_SILENT = """
UPDATE devices d
SET status = 'offline', status_changed_at = now(), status_source = 'silence'
FROM unnest(%(profiles)s::text[], %(limits)s::float8[]) AS p(profile, limit_s)
WHERE d.profile = p.profile
  AND d.status <> 'offline'
  AND d.decommissioned_at IS NULL
  AND d.last_seen IS NOT NULL
  AND d.last_seen < now() - make_interval(secs => p.limit_s)
RETURNING d.device_id, d.profile
"""
MARK_HEARD = """
UPDATE devices
SET status = 'online', status_changed_at = now(), status_source = 'reading'
WHERE status = 'offline' AND status_source = 'silence' AND last_seen > status_changed_at
RETURNING device_id, profile
"""


async def mark_silent(conn: AsyncConn, limits: Mapping[str, float]) -> list[tuple[str, str]]:
    """Devices silent past their profile's limit (seconds) -> offline; returns them."""
    cur = await conn.execute(
        MARK_SILENT, {"profiles": list(limits), "limits": [float(v) for v in limits.values()]}
    )
    return [(device_id, profile) for device_id, profile in await cur.fetchall()]


async def mark_heard(conn: AsyncConn) -> list[tuple[str, str]]:
    """Devices offline from silence that have sent something since -> online."""
    cur = await conn.execute(MARK_HEARD)
    return [(device_id, profile) for device_id, profile in await cur.fetchall()]
