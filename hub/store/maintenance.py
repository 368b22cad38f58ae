"""Retention of raw readings: a TimescaleDB policy, or a hub job on plain PostgreSQL.

Rollups (``readings_1h``, ``readings_1d``) are kept; only raw readings older than
``HUB_RETENTION_DAYS`` are dropped (0 keeps everything).
"""

from __future__ import annotations

import logging

from hub.periodic import every
from hub.store.db import AsyncConn, aconnect

log = logging.getLogger(__name__)

_REMOVE_POLICY = "SELECT remove_retention_policy('readings', if_exists => true)"
_ADD_POLICY = "SELECT add_retention_policy('readings', make_interval(days => %(days)s))"
# Delete in slices so that a first run on a large table does not hold one huge
# transaction (and its locks) for minutes. Only below the rollups' watermark: the
# readings after it are the rollups' real-time part (hub.store.rollups).
_DELETE_SLICE = """
DELETE FROM readings WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM readings
    WHERE time < least(now() - make_interval(days => %(days)s),
                       (SELECT watermark FROM rollup_watermark))
    LIMIT %(limit)s))
"""
SLICE = 50_000
PLAIN_INTERVAL_S = 3600


async def apply_retention_policy(conn: AsyncConn, level: str, days: int) -> None:
    """Install (or remove) the TimescaleDB retention policy to match the setting."""
    if level != "timescale":
        return
    await conn.execute(_REMOVE_POLICY)
    if days > 0:
        await conn.execute(_ADD_POLICY, {"days": days})
        log.info("retention policy: raw readings kept %d days", days)


async def delete_expired(conn: AsyncConn, days: int) -> int:
    """Delete raw readings older than ``days`` (plain storage); return how many."""
    total = 0
    while True:
        cur = await conn.execute(_DELETE_SLICE, {"days": days, "limit": SLICE})
        total += cur.rowcount
        if cur.rowcount < SLICE:
            return total


async def run_retention(url: str, level: str, days: int) -> None:
    """Keep retention in force until cancelled."""
    async with await aconnect(url, "maintenance", autocommit=True) as conn:
        await apply_retention_policy(conn, level, days)
    if level == "timescale" or days == 0:
        return

    async def round_(conn: AsyncConn) -> None:
        deleted = await delete_expired(conn, days)
        if deleted:
            log.info("retention: %d raw readings older than %d days deleted", deleted, days)

    await every(PLAIN_INTERVAL_S, url, "maintenance", round_, what="retention job", log=log)
