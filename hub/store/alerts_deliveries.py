"""The notification outbox (tables of migration 0020).

Every alert transition is an ``alert_events`` row, whoever made it (the engine or
an operator through the API). Each notifier has a watermark: :func:`queue_events`
turns the events after it into one pending delivery each, with the payload fixed
at that moment, and moves the watermark in the same transaction. Deliveries are
then claimed for a short lease (so two hub processes never send the same one at
once), and marked delivered, or retried later, or dead after the last attempt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from hub.model import Alert, AlertEvent, Delivery
from hub.store.alerts import ALERT_COLUMNS
from hub.store.db import AsyncConn

PayloadBuilder = Callable[[int, AlertEvent, Alert], dict[str, Any]]

REGISTER_NOTIFIER = """
INSERT INTO alert_notifiers (notifier, last_event_id)
SELECT %(notifier)s, coalesce(max(id), 0) FROM alert_events
ON CONFLICT (notifier) DO NOTHING
"""
LOCK_NOTIFIER = "SELECT last_event_id FROM alert_notifiers WHERE notifier = %(notifier)s FOR UPDATE"
NEW_EVENTS = f"""
SELECT e.id AS event_id, e.at AS event_at, e.state AS event_state, e.actor AS event_actor,
       e.note AS event_note, {ALERT_COLUMNS}
FROM alert_events e
JOIN alerts a ON a.id = e.alert_id JOIN rules r ON r.id = a.rule_id
JOIN devices d ON d.id = a.device
WHERE e.id > %(after)s
ORDER BY e.id
LIMIT %(limit)s
"""
INSERT_DELIVERY = """
INSERT INTO alert_deliveries (notifier, event_id, alert_id, payload)
VALUES (%(notifier)s, %(event_id)s, %(alert_id)s, %(payload)s)
ON CONFLICT (notifier, event_id) DO NOTHING
"""
MOVE_WATERMARK = """
UPDATE alert_notifiers SET last_event_id = %(last)s WHERE notifier = %(notifier)s
"""
_DELIVERY_COLUMNS = """
id, notifier, event_id, alert_id, payload, state, attempts, last_error, created_at, finished_at
"""
CLAIM_DUE = f"""
UPDATE alert_deliveries SET next_attempt_at = now() + %(lease)s
WHERE id IN (
    SELECT id FROM alert_deliveries
    WHERE notifier = %(notifier)s AND state = 'pending' AND next_attempt_at <= now()
    ORDER BY id LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING {_DELIVERY_COLUMNS}
"""
MARK_DELIVERED = """
UPDATE alert_deliveries
SET state = 'delivered', attempts = attempts + 1, finished_at = now(), last_error = NULL
WHERE id = %(id)s
"""
MARK_FAILED = """
UPDATE alert_deliveries
SET attempts = attempts + 1, last_error = %(error)s,
    state = CASE WHEN attempts + 1 >= %(max_attempts)s THEN 'dead' ELSE 'pending' END,
    finished_at = CASE WHEN attempts + 1 >= %(max_attempts)s THEN now() END,
    next_attempt_at = now() + %(delay)s
WHERE id = %(id)s
RETURNING state
"""
LIST_DELIVERIES = f"""
SELECT {_DELIVERY_COLUMNS} FROM alert_deliveries
WHERE (%(state)s::text IS NULL OR state = %(state)s)
  AND (%(alert_id)s::bigint IS NULL OR alert_id = %(alert_id)s)
ORDER BY id DESC LIMIT %(limit)s
"""
NEXT_DUE = """
SELECT min(next_attempt_at) FROM alert_deliveries
WHERE notifier = %(notifier)s AND state = 'pending'
"""


_ALERT_FIELDS = tuple(f.name for f in dataclasses.fields(Alert))


def _event_and_alert(row: dict[str, Any]) -> tuple[int, AlertEvent, Alert]:
    event = AlertEvent(row["event_at"], row["event_state"], row["event_actor"], row["event_note"])
    return row["event_id"], event, Alert(**{name: row[name] for name in _ALERT_FIELDS})


async def register_notifier(conn: AsyncConn, notifier: str) -> None:
    """Start a new notifier at the newest event: it does not replay history."""
    await conn.execute(REGISTER_NOTIFIER, {"notifier": notifier})


async def queue_events(
    conn: AsyncConn, notifier: str, build: PayloadBuilder, *, limit: int = 500
) -> int:
    """Queue a delivery for each event after the notifier's watermark."""
    async with conn.transaction():
        cur = await conn.execute(LOCK_NOTIFIER, {"notifier": notifier})
        row = await cur.fetchone()
        if row is None:
            return 0
        async with conn.cursor(row_factory=dict_row) as events:
            await events.execute(NEW_EVENTS, {"after": row[0], "limit": limit})
            rows = [_event_and_alert(r) for r in await events.fetchall()]
        for event_id, event, alert in rows:
            await conn.execute(
                INSERT_DELIVERY,
                {
                    "notifier": notifier,
                    "event_id": event_id,
                    "alert_id": alert.id,
                    "payload": Jsonb(build(event_id, event, alert)),
                },
            )
        if rows:
            await conn.execute(MOVE_WATERMARK, {"notifier": notifier, "last": rows[-1][0]})
    return len(rows)


async def claim_due(
    conn: AsyncConn, notifier: str, *, lease: timedelta, limit: int = 50
) -> list[Delivery]:
    """Pending deliveries due now, hidden from other claimers for ``lease``."""
    async with conn.cursor(row_factory=class_row(Delivery)) as cur:
        await cur.execute(CLAIM_DUE, {"notifier": notifier, "lease": lease, "limit": limit})
        return sorted(await cur.fetchall(), key=lambda d: d.id)


async def mark_delivered(conn: AsyncConn, delivery_id: int) -> None:
    await conn.execute(MARK_DELIVERED, {"id": delivery_id})


async def mark_failed(
    conn: AsyncConn, delivery_id: int, *, error: str, retry_in: timedelta, max_attempts: int
) -> bool:
    """Count a failed attempt; True if that was the last one (the delivery is dead)."""
    cur = await conn.execute(
        MARK_FAILED,
        {"id": delivery_id, "error": error[:500], "delay": retry_in, "max_attempts": max_attempts},
    )
    row = await cur.fetchone()
    return row is not None and row[0] == "dead"


async def next_due(conn: AsyncConn, notifier: str) -> datetime | None:
    cur = await conn.execute(NEXT_DUE, {"notifier": notifier})
    row = await cur.fetchone()
    return None if row is None else row[0]


async def list_deliveries(
    conn: AsyncConn, *, state: str | None = None, alert_id: int | None = None, limit: int = 100
) -> list[Delivery]:
    """Deliveries newest first; ``state='dead'`` lists the notifications given up on."""
    async with conn.cursor(row_factory=class_row(Delivery)) as cur:
        await cur.execute(
            LIST_DELIVERIES, {"state": state, "alert_id": alert_id, "limit": max(0, limit)}
        )
        return await cur.fetchall()
