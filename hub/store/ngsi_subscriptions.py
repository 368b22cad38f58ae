"""NGSI-LD subscriptions and their notification outbox (tables of migration 0045).

A matching change queues one notification (payload fixed then); the sender claims
due notifications for a lease (two hub processes never send the same one at
once) and marks them delivered, retries them later, or dead after the last
attempt, as the alert outbox does (:mod:`hub.store.alerts_deliveries`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from hub.store.db import AsyncConn

_COLUMNS = (
    "id, body, created_at, modified_at, last_notification, last_success, last_failure, times_sent"
)
INSERT = f"""
INSERT INTO ngsi_subscriptions (id, body) VALUES (%(id)s, %(body)s)
ON CONFLICT (id) DO NOTHING
RETURNING {_COLUMNS}
"""
LIST = f"SELECT {_COLUMNS} FROM ngsi_subscriptions ORDER BY id LIMIT %(limit)s OFFSET %(offset)s"
COUNT = "SELECT count(*) FROM ngsi_subscriptions"
GET = f"SELECT {_COLUMNS} FROM ngsi_subscriptions WHERE id = %(id)s"
DELETE = "DELETE FROM ngsi_subscriptions WHERE id = %(id)s"
ALL = f"SELECT {_COLUMNS} FROM ngsi_subscriptions ORDER BY id"
QUEUE = """
WITH sub AS (
    UPDATE ngsi_subscriptions SET last_notification = %(at)s WHERE id = %(subscription)s
    RETURNING id
)
INSERT INTO ngsi_notifications (subscription, payload)
SELECT id, %(payload)s FROM sub
"""
CLAIM_DUE = """
UPDATE ngsi_notifications n SET next_attempt_at = now() + %(lease)s
FROM ngsi_subscriptions s
WHERE s.id = n.subscription AND n.id IN (
    SELECT id FROM ngsi_notifications
    WHERE state = 'pending' AND next_attempt_at <= now()
    ORDER BY id LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING n.id, n.subscription, s.body, n.payload, n.attempts
"""
MARK_DELIVERED = """
WITH n AS (
    UPDATE ngsi_notifications
    SET state = 'delivered', attempts = attempts + 1, finished_at = now(), last_error = NULL
    WHERE id = %(id)s
    RETURNING subscription
)
UPDATE ngsi_subscriptions s SET last_success = now(), times_sent = times_sent + 1
FROM n WHERE s.id = n.subscription
"""
MARK_FAILED = """
WITH n AS (
    UPDATE ngsi_notifications
    SET attempts = attempts + 1, last_error = %(error)s,
        state = CASE WHEN attempts + 1 >= %(max_attempts)s THEN 'dead' ELSE 'pending' END,
        finished_at = CASE WHEN attempts + 1 >= %(max_attempts)s THEN now() END,
        next_attempt_at = now() + %(delay)s
    WHERE id = %(id)s
    RETURNING subscription, state
), s AS (
    UPDATE ngsi_subscriptions s SET last_failure = now() FROM n WHERE s.id = n.subscription
)
SELECT state FROM n
"""
PENDING = "SELECT count(*) FROM ngsi_notifications WHERE state = 'pending'"


@dataclass(frozen=True, slots=True)
class Stored:
    id: str
    body: dict[str, Any]
    created_at: datetime
    modified_at: datetime
    last_notification: datetime | None
    last_success: datetime | None
    last_failure: datetime | None
    times_sent: int


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    subscription: str
    body: dict[str, Any]
    payload: dict[str, Any]
    attempts: int


def _stored(row: tuple[Any, ...]) -> Stored:
    return Stored(*row)


async def insert(conn: AsyncConn, subscription_id: str, body: dict[str, Any]) -> Stored | None:
    """Store a subscription; None when the id is taken."""
    cur = await conn.execute(INSERT, {"id": subscription_id, "body": Jsonb(body)})
    row = await cur.fetchone()
    return _stored(row) if row else None


async def list_page(conn: AsyncConn, *, limit: int, offset: int) -> tuple[list[Stored], int]:
    cur = await conn.execute(LIST, {"limit": limit, "offset": offset})
    rows = [_stored(r) for r in await cur.fetchall()]
    cur = await conn.execute(COUNT)
    total = await cur.fetchone()
    return rows, int(total[0]) if total else 0


async def get(conn: AsyncConn, subscription_id: str) -> Stored | None:
    cur = await conn.execute(GET, {"id": subscription_id})
    row = await cur.fetchone()
    return _stored(row) if row else None


async def delete(conn: AsyncConn, subscription_id: str) -> bool:
    cur = await conn.execute(DELETE, {"id": subscription_id})
    return cur.rowcount > 0


async def all_subscriptions(conn: AsyncConn) -> list[Stored]:
    cur = await conn.execute(ALL)
    return [_stored(r) for r in await cur.fetchall()]


async def queue(
    conn: AsyncConn, subscription_id: str, payload: dict[str, Any], at: datetime
) -> None:
    await conn.execute(
        QUEUE, {"subscription": subscription_id, "payload": Jsonb(payload), "at": at}
    )


async def claim_due(conn: AsyncConn, *, lease: timedelta, limit: int) -> list[Due]:
    cur = await conn.execute(CLAIM_DUE, {"lease": lease, "limit": limit})
    return [Due(*row) for row in await cur.fetchall()]


async def mark_delivered(conn: AsyncConn, notification_id: int) -> None:
    await conn.execute(MARK_DELIVERED, {"id": notification_id})


async def mark_failed(
    conn: AsyncConn, notification_id: int, *, error: str, retry_in: timedelta, max_attempts: int
) -> bool:
    """Record a failed attempt; True when the notification is now dead."""
    cur = await conn.execute(
        MARK_FAILED,
        {"id": notification_id, "error": error, "delay": retry_in, "max_attempts": max_attempts},
    )
    row = await cur.fetchone()
    return row is not None and row[0] == "dead"


async def pending(conn: AsyncConn) -> int:
    cur = await conn.execute(PENDING)
    row = await cur.fetchone()
    return int(row[0]) if row else 0
