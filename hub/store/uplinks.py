"""What the batch writer stores for uplinks of LoRaWAN network servers beyond their
readings: the devices it registers with their identities, missed frames from
frame-counter gaps, and the decoded-payload fields a profile does not map."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from hub.store.db import AsyncConn

REGISTER_LORAWAN_DEVICES = """
INSERT INTO devices (device_id, profile, dev_eui, external_id, name)
SELECT * FROM unnest(%(device_ids)s::text[], %(profiles)s::text[], %(dev_euis)s::text[],
                     %(external_ids)s::text[], %(names)s::text[])
ON CONFLICT DO NOTHING
"""
# Locked for the transaction: two writers never count the same gap twice.
SELECT_LAST_F_CNT = """
SELECT id, last_f_cnt FROM devices WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE
"""
UPDATE_LAST_F_CNT = """
UPDATE devices d SET last_f_cnt = v.f_cnt
FROM unnest(%(ids)s::int[], %(f_cnts)s::bigint[]) AS v(id, f_cnt)
WHERE d.id = v.id
"""
COUNT_UNMAPPED = """
INSERT INTO device_unmapped_fields AS u (device, field, count, last_seen)
SELECT device, field, count(*), max(at)
FROM unnest(%(devices)s::int[], %(fields)s::text[], %(ats)s::timestamptz[]) AS v(device, field, at)
GROUP BY device, field
ORDER BY device, field
ON CONFLICT (device, field) DO UPDATE SET
    count = u.count + excluded.count,
    last_seen = greatest(u.last_seen, excluded.last_seen)
"""

MISSED_FRAMES = "lora_missed_frames"  # the series of frames missed before each uplink
# A frame counter that falls by more than this is a device that joined anew
# (counting starts again at 0); a smaller fall is a late or repeated uplink.
RESET_BELOW = 100


async def register(
    conn: AsyncConn,
    devices: Sequence[tuple[str, str, str | None, str | None, str | None]],
) -> None:
    """Register (device_id, profile, dev_eui, external_id, name); taken ids are skipped."""
    await conn.execute(
        REGISTER_LORAWAN_DEVICES,
        {
            "device_ids": [d[0] for d in devices],
            "profiles": [d[1] for d in devices],
            "dev_euis": [d[2] for d in devices],
            "external_ids": [d[3] for d in devices],
            "names": [d[4] for d in devices],
        },
    )


async def missed_frames(
    cur: psycopg.AsyncCursor[Any], uplinks: Sequence[tuple[int, datetime, int]]
) -> list[tuple[int, datetime, float]]:
    """(device pk, time, frames missed before it) of each (device pk, time, f_cnt),
    in order; moves each device's last frame counter on."""
    cur_rows = await cur.execute(SELECT_LAST_F_CNT, {"ids": sorted({pk for pk, _, _ in uplinks})})
    last: dict[int, int | None] = {pk: f for pk, f in await cur_rows.fetchall()}
    gaps: list[tuple[int, datetime, float]] = []
    for pk, time, f_cnt in uplinks:
        before = last.get(pk)
        if before is None or f_cnt > before:
            gaps.append((pk, time, float(f_cnt - before - 1) if before is not None else 0.0))
            last[pk] = f_cnt
        elif f_cnt + RESET_BELOW < before:  # a new session
            gaps.append((pk, time, 0.0))
            last[pk] = f_cnt
    changed = [(pk, f) for pk, f in last.items() if f is not None]
    if changed:
        await cur.execute(
            UPDATE_LAST_F_CNT, {"ids": [pk for pk, _ in changed], "f_cnts": [f for _, f in changed]}
        )
    return gaps


async def count_unmapped(
    cur: psycopg.AsyncCursor[Any], fields: Sequence[tuple[int, str, datetime]]
) -> None:
    """Count (device pk, field, time) of unmapped decoded-payload fields."""
    await cur.execute(
        COUNT_UNMAPPED,
        {
            "devices": [f[0] for f in fields],
            "fields": [f[1] for f in fields],
            "ats": [f[2] for f in fields],
        },
    )
