"""The NGSI-LD push's cursor: per broker and device, the fingerprint of the
entities the broker last accepted (table ``ngsi_push_state``, migration 0045)."""

from __future__ import annotations

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
