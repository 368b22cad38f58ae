"""Retention: raw readings past HUB_RETENTION_DAYS go, rollups stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.config import Settings
from hub.store import rollups
from hub.store.db import aconnect, connect
from hub.store.maintenance import apply_retention_policy, delete_expired


async def test_retention_drops_old_raw_readings_at_each_level(
    storage: str, migrated: Settings
) -> None:
    now = datetime.now(UTC)
    with connect(migrated.database_url, "test", autocommit=True) as conn:
        conn.execute("INSERT INTO devices (device_id, profile) VALUES ('lm-1', 'load_meter')")
        conn.execute("INSERT INTO series (device, metric) SELECT id, 'a' FROM devices")
        conn.execute(
            "INSERT INTO readings SELECT 1, t, 1.0 FROM unnest(%s::timestamptz[]) t",
            ([now - timedelta(days=40), now - timedelta(days=31), now - timedelta(days=1)],),
        )
    async with await aconnect(migrated.database_url, "test", autocommit=True) as conn:
        if storage == "timescale":
            await apply_retention_policy(conn, storage, 30)
            cur = await conn.execute(
                "SELECT config->>'drop_after' FROM timescaledb_information.jobs "
                "WHERE proc_name = 'policy_retention' AND hypertable_name = 'readings'"
            )
            assert await cur.fetchall() == [("30 days",)]
            await apply_retention_policy(conn, storage, 0)
            cur = await conn.execute(
                "SELECT count(*) FROM timescaledb_information.jobs "
                "WHERE proc_name = 'policy_retention'"
            )
            assert await cur.fetchone() == (0,)
        else:
            # Nothing is deleted above the rollups' watermark (the real-time part).
            assert await delete_expired(conn, 30) == 0
            await rollups.refresh(conn, lag_s=600)
            assert await delete_expired(conn, 30) == 2
            cur = await conn.execute("SELECT count(*) FROM readings")
            assert await cur.fetchone() == (1,)
            cur = await conn.execute("SELECT sum(count) FROM readings_1d")
            assert await cur.fetchone() == (3,)
