"""Devices by the identities other systems give them (LoRaWAN DevEUI, a network
server's device id), for the ingest's device directory."""

from __future__ import annotations

from hub.store.db import AsyncConn

SELECT_IDENTITIES = """
SELECT device_id, profile, dev_eui, external_id FROM devices
WHERE (dev_eui IS NOT NULL OR external_id IS NOT NULL) AND decommissioned_at IS NULL
"""


async def load_identities(
    conn: AsyncConn,
) -> list[tuple[str, str, str | None, str | None]]:
    """(device_id, profile, dev_eui, external_id) of every device in service that has one."""
    cur = await conn.execute(SELECT_IDENTITIES)
    return [(r[0], r[1], r[2], r[3]) for r in await cur.fetchall()]
