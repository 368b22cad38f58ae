"""Counts for the Prometheus page."""

from __future__ import annotations

from hub.store.db import AsyncConn

ALERTS_BY_STATE = "SELECT state, count(*) FROM alerts GROUP BY state"


async def alerts_by_state(conn: AsyncConn) -> dict[str, int]:
    cur = await conn.execute(ALERTS_BY_STATE)
    return {str(state): int(n) for state, n in await cur.fetchall()}
