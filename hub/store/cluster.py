"""SQL of the hub as a set of processes: the alert engine's advisory lock, the
readings channel (LISTEN/NOTIFY) and a replica's replay lag."""

from __future__ import annotations

from typing import Any

from hub.store.db import AsyncConn

# The advisory lock keys of the one-process work: the first 8 bytes of
# sha256("hub alert engine") and sha256("hub ngsi-ld push") read as signed
# bigints, so no other user of advisory locks in the same database is likely to
# pick them.
ENGINE_LOCK_KEY = -0x223C_F713_6736_6EFC
PUSH_LOCK_KEY = -0x19D0_5D75_41B2_1FF5
MAINTENANCE_LOCK_KEY = -0x3A81_6C0E_52D4_9B27

TRY_LOCK = "SELECT pg_try_advisory_lock(%(key)s)"
ALIVE = "SELECT 1"
# The server drops the session (and with it the lock) when the engine's host stops
# answering: keepalives every few seconds, and a bound on unacknowledged data.
SESSION_KEEPALIVE = """
SELECT set_config('tcp_keepalives_idle', %(idle)s, false),
       set_config('tcp_keepalives_interval', %(interval)s, false),
       set_config('tcp_keepalives_count', '2', false),
       set_config('tcp_user_timeout', %(user_timeout)s, false)
"""

READINGS_CHANNEL = "hub_readings"
LISTEN_READINGS = "LISTEN hub_readings"
# One statement per batch, inside the batch's transaction: delivered on commit only.
NOTIFY_READINGS = "SELECT pg_notify('hub_readings', p) FROM unnest(%(payloads)s::text[]) AS p"

# Seconds the replica's replay is behind (0 when it has replayed all it received;
# NULL on a primary).
REPLICA_LAG = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
    ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
END
"""


async def try_lock(conn: AsyncConn, key: int = ENGINE_LOCK_KEY) -> bool:
    row = await (await conn.execute(TRY_LOCK, {"key": key})).fetchone()
    return bool(row and row[0])


async def alive(conn: AsyncConn) -> None:
    await conn.execute(ALIVE)


async def keep_alive(conn: AsyncConn, *, idle_s: int, interval_s: int) -> None:
    await conn.execute(
        SESSION_KEEPALIVE,
        {
            "idle": str(idle_s),
            "interval": str(interval_s),
            "user_timeout": str(1000 * (idle_s + 2 * interval_s)),
        },
    )


async def notify_readings(cur: Any, payloads: list[str]) -> None:
    await cur.execute(NOTIFY_READINGS, {"payloads": payloads})


async def replica_lag(conn: AsyncConn) -> float | None:
    row = await (await conn.execute(REPLICA_LAG)).fetchone()
    return None if row is None or row[0] is None else float(row[0])
