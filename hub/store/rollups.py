"""The plain level's rollups: an incremental refresh from a watermark.

On plain PostgreSQL, ``readings_1h`` and ``readings_1d`` are views over three parts
(migration ``0065``, docs/adr/0015-plain-rollups-from-a-watermark.md): buckets
materialized before a watermark, the late parts of readings that arrived below
it, and the raw readings after it, aggregated when read. The ingest's transaction
only writes readings (and, for a late reading, its part). This job moves the
watermark: ``hub_refresh_rollups`` folds the late parts in and materializes the
whole hours from the watermark up to the newest reading's hour, but not later than
``now() - lag``, in one transaction. Reads are exact before, during and after it;
a crash loses nothing (the raw readings are committed, the refresh is atomic).
On TimescaleDB the continuous aggregates' own policies do this; the job does nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg

from hub.periodic import every
from hub.store.db import AsyncConn, Conn

log = logging.getLogger(__name__)

REFRESH = "SELECT nullif(hub_refresh_rollups(make_interval(secs => %(lag)s)), '-infinity')"
# Rebuilt from every raw reading (a bulk load that bypassed the writer).
_REBUILD = (
    "TRUNCATE readings_1h_mat, readings_1d_mat, readings_1h_late, readings_1d_late",
    "UPDATE rollup_watermark SET watermark = '-infinity'",
)


async def refresh(conn: AsyncConn, lag_s: float) -> datetime | None:
    """One incremental refresh; the watermark in force after it (None: -infinity,
    nothing materialized yet)."""
    cur = await conn.execute(REFRESH, {"lag": lag_s})
    row = await cur.fetchone()
    return row[0] if row else None


def rebuild(conn: Conn) -> None:
    """Materialize everything in ``readings`` from scratch, up to the newest hour."""
    with conn.transaction():
        for statement in _REBUILD:
            conn.execute(statement)
        conn.execute(REFRESH, {"lag": 0})


async def run_refresh(url: str, level: str, *, interval_s: float, lag_s: float) -> None:
    """Refresh the plain level's rollups every ``interval_s`` until cancelled."""
    if level != "plain":
        return

    async def round_(conn: AsyncConn) -> None:
        await refresh(conn, lag_s)

    # A skipped round loses nothing: the views stay exact meanwhile.
    await every(
        interval_s, url, "rollups", round_, what="rollup refresh", log=log,
        errors=(psycopg.Error, OSError),
    )  # fmt: skip
