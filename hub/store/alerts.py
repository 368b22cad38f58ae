"""Repository of alerts and their history (tables of migration 0003, assignment
of 0050); the rules are :mod:`hub.store.rules`, notes and the export
:mod:`hub.store.alerts_work`.

The API calls the functions of the first section; the alert engine uses the
last one. Every function takes an open async connection; functions that change
more than one row run in one transaction. Acknowledging a resolved alert raises
ConflictError.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from hub.errors import ConflictError
from hub.model import ENGINE_ACTOR, Alert, AlertEvent
from hub.privacy import policy
from hub.privacy.policy import UNRESTRICTED, Visibility
from hub.store.db import AsyncConn

# The columns of an Alert, named as its fields (for class_row), from
# ``alerts a JOIN rules r JOIN devices d``.
ALERT_COLUMNS = """
a.id, a.rule_id, r.name AS rule_name, d.device_id, d.profile, d.district, a.state,
a.severity, a.message, a.value, a.details, a.opened_at, a.acknowledged_at,
a.acknowledged_by, a.resolved_at, a.resolved_by, a.assignee, a.assigned_at
"""
# As a reader sees an alert (hub.privacy.policy): only of a device it may see, and
# the reading in it (value, message, details) only where it may read the device's
# own data; otherwise the message is the rule's name.
_SHOWN_COLUMNS = ALERT_COLUMNS.replace(
    "a.message, a.value, a.details",
    f"""CASE WHEN {policy.own_sql("d")} THEN a.message ELSE r.name END AS message,
CASE WHEN {policy.own_sql("d")} THEN a.value END AS value,
CASE WHEN {policy.own_sql("d")} THEN a.details ELSE '{{}}'::jsonb END AS details""",
)
_ALERT_SELECT = f"""
SELECT {_SHOWN_COLUMNS}
FROM alerts a JOIN rules r ON r.id = a.rule_id JOIN devices d ON d.id = a.device
"""
LIST_ALERTS = f"""
{_ALERT_SELECT}
WHERE {policy.listed_sql("d")}
  AND (%(state)s::text IS NULL OR a.state = %(state)s)
  AND (%(device_id)s::text IS NULL OR d.device_id = %(device_id)s)
  AND (%(profile)s::text IS NULL OR d.profile = %(profile)s)
  AND (%(district)s::text IS NULL OR d.district = %(district)s)
  AND (%(severity)s::text IS NULL OR a.severity = %(severity)s)
  AND (%(assignee)s::text IS NULL OR a.assignee = %(assignee)s)
  AND (NOT %(unassigned)s OR a.assignee IS NULL)
  AND (%(before_id)s::bigint IS NULL OR a.id < %(before_id)s)
ORDER BY a.id DESC
LIMIT %(limit)s
"""
GET_ALERT = f"{_ALERT_SELECT} WHERE a.id = %(id)s AND {policy.listed_sql('d')}"
LOCK_ALERT = "SELECT state FROM alerts WHERE id = %(id)s FOR UPDATE"
ALERT_HISTORY = """
SELECT at, state, actor, note FROM alert_events WHERE alert_id = %(id)s ORDER BY at, id
"""
ACKNOWLEDGE = """
UPDATE alerts SET state = 'acknowledged', acknowledged_at = now(), acknowledged_by = %(actor)s
WHERE id = %(id)s AND state = 'open'
"""
RESOLVE = """
UPDATE alerts SET state = 'resolved', resolved_at = now(), resolved_by = %(actor)s
WHERE id = %(id)s AND state <> 'resolved'
"""
INSERT_EVENT = """
INSERT INTO alert_events (alert_id, at, state, actor, note)
VALUES (%(id)s, now(), %(state)s, %(actor)s, %(note)s)
"""


async def list_alerts(
    conn: AsyncConn,
    *,
    state: str | None = None,
    device_id: str | None = None,
    profile: str | None = None,
    district: str | None = None,
    severity: str | None = None,
    assignee: str | None = None,
    unassigned: bool = False,
    limit: int = 100,
    before_id: int | None = None,
    vis: Visibility = UNRESTRICTED,
) -> list[Alert]:
    """Alerts, newest first; page on with ``before_id`` = the last id seen."""
    params = {
        **vis.params(),
        "state": state,
        "device_id": device_id,
        "profile": profile,
        "district": district,
        "severity": severity,
        "assignee": assignee,
        "unassigned": unassigned,
        "before_id": before_id,
        "limit": max(0, limit),
    }
    async with conn.cursor(row_factory=class_row(Alert)) as cur:
        await cur.execute(LIST_ALERTS, params)
        return await cur.fetchall()


async def get_alert(conn: AsyncConn, alert_id: int, vis: Visibility = UNRESTRICTED) -> Alert | None:
    """The alert, if the reader may see its device (as it may see it)."""
    async with conn.cursor(row_factory=class_row(Alert)) as cur:
        await cur.execute(GET_ALERT, {"id": alert_id, **vis.params()})
        return await cur.fetchone()


async def alert_history(conn: AsyncConn, alert_id: int) -> list[AlertEvent]:
    """Every transition of the alert, oldest first (empty for an unknown alert)."""
    async with conn.cursor(row_factory=class_row(AlertEvent)) as cur:
        await cur.execute(ALERT_HISTORY, {"id": alert_id})
        return await cur.fetchall()


async def acknowledge(
    conn: AsyncConn, alert_id: int, *, actor: str, note: str | None = None
) -> Alert | None:
    """Open -> acknowledged. Idempotent on an acknowledged alert; ConflictError on a
    resolved one; None if there is no such alert."""
    async with conn.transaction():
        state = await _lock(conn, alert_id)
        if state is None:
            return None
        if state == "resolved":
            raise ConflictError(f"alert {alert_id} is resolved and cannot be acknowledged")
        if state == "open":
            await conn.execute(ACKNOWLEDGE, {"id": alert_id, "actor": actor})
            await _event(conn, alert_id, "acknowledged", actor, note)
    return await get_alert(conn, alert_id)


async def resolve(
    conn: AsyncConn, alert_id: int, *, actor: str, note: str | None = None
) -> Alert | None:
    """Open or acknowledged -> resolved. Idempotent on a resolved alert; None if
    there is no such alert."""
    async with conn.transaction():
        state = await _lock(conn, alert_id)
        if state is None:
            return None
        if state != "resolved":
            await conn.execute(RESOLVE, {"id": alert_id, "actor": actor})
            await _event(conn, alert_id, "resolved", actor, note)
    return await get_alert(conn, alert_id)


async def _lock(conn: AsyncConn, alert_id: int) -> str | None:
    cur = await conn.execute(LOCK_ALERT, {"id": alert_id})
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def _event(conn: AsyncConn, alert_id: int, state: str, actor: str, note: str | None) -> None:
    await conn.execute(INSERT_EVENT, {"id": alert_id, "state": state, "actor": actor, "note": note})


# -- used by the engine -----------------------------------------------------------

OPEN_ALERT = """
INSERT INTO alerts (rule_id, device, state, severity, message, value, details, opened_at)
VALUES (%(rule_id)s, %(device)s, 'open', %(severity)s, %(message)s, %(value)s,
        %(details)s, now())
ON CONFLICT (rule_id, device) WHERE state <> 'resolved' DO NOTHING
RETURNING id
"""
UNRESOLVED_ALERTS = """
SELECT id, rule_id, device FROM alerts WHERE state <> 'resolved'
"""
RESOLVE_BY_ENGINE = """
UPDATE alerts SET state = 'resolved', resolved_at = now(), resolved_by = %(actor)s,
       details = details || %(details)s
WHERE id = %(id)s AND state <> 'resolved'
RETURNING id
"""
LAST_OPERATOR_RESOLUTION = """
SELECT max(resolved_at) FROM alerts
WHERE rule_id = %(rule_id)s AND device = %(device)s AND state = 'resolved'
  AND resolved_by <> %(engine)s
"""


async def open_alert(
    conn: AsyncConn,
    *,
    rule_id: int,
    device: int,
    severity: str,
    message: str,
    value: float | None,
    details: dict[str, Any],
) -> Alert | None:
    """Open an alert for (rule, device) by the engine; None if one is already open."""
    async with conn.transaction():
        cur = await conn.execute(
            OPEN_ALERT,
            {
                "rule_id": rule_id,
                "device": device,
                "severity": severity,
                "message": message,
                "value": value,
                "details": Jsonb(details),
            },
        )
        row = await cur.fetchone()
        if row is None:
            return None
        await _event(conn, row[0], "open", ENGINE_ACTOR, message)
    return await get_alert(conn, row[0])


async def resolve_by_engine(
    conn: AsyncConn, alert_id: int, *, note: str, details: dict[str, Any] | None = None
) -> Alert | None:
    """Resolve because the condition cleared; None if it was already resolved."""
    async with conn.transaction():
        cur = await conn.execute(
            RESOLVE_BY_ENGINE,
            {"id": alert_id, "actor": ENGINE_ACTOR, "details": Jsonb(details or {})},
        )
        if await cur.fetchone() is None:
            return None
        await _event(conn, alert_id, "resolved", ENGINE_ACTOR, note)
    return await get_alert(conn, alert_id)


async def unresolved_alerts(conn: AsyncConn) -> dict[tuple[int, int], int]:
    """(rule id, device key) -> alert id of every open or acknowledged alert."""
    cur = await conn.execute(UNRESOLVED_ALERTS)
    return {(rule_id, device): alert_id for alert_id, rule_id, device in await cur.fetchall()}


async def last_operator_resolution(conn: AsyncConn, rule_id: int, device: int) -> datetime | None:
    """When an operator last resolved an alert of (rule, device), if ever."""
    cur = await conn.execute(
        LAST_OPERATOR_RESOLUTION, {"rule_id": rule_id, "device": device, "engine": ENGINE_ACTOR}
    )
    row = await cur.fetchone()
    return None if row is None else row[0]
