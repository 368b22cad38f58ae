"""Repository of alert rules, alerts and their history (tables of migration 0003).

The API calls the functions in the first two sections; the alert engine also
uses the last one. Every function takes an open async connection; functions that
change more than one row run in one transaction. Profile default rules
(``source = 'profile'``) are read-only here: changing or deleting one raises
ConflictError, as does acknowledging a resolved alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from hub.errors import ConflictError
from hub.model import ENGINE_ACTOR, Alert, AlertEvent, Rule, RuleSpec

AsyncConn = psycopg.AsyncConnection[Any]

# -- rules ------------------------------------------------------------------------

_RULE_COLUMNS = """
id, name, kind, profile, metric, device_id, district, parameters, severity,
description, enabled, source, created_at, updated_at
"""
LIST_RULES = f"""
SELECT {_RULE_COLUMNS} FROM rules
WHERE (%(profile)s::text IS NULL OR profile = %(profile)s)
  AND (%(source)s::text IS NULL OR source = %(source)s)
ORDER BY id
"""
GET_RULE = f"SELECT {_RULE_COLUMNS} FROM rules WHERE id = %(id)s"
GET_RULE_FOR_UPDATE = "SELECT source FROM rules WHERE id = %(id)s FOR UPDATE"
INSERT_RULE = f"""
INSERT INTO rules (name, kind, profile, metric, device_id, district, parameters,
                   severity, description, enabled, source)
VALUES (%(name)s, %(kind)s, %(profile)s, %(metric)s, %(device_id)s, %(district)s,
        %(parameters)s, %(severity)s, %(description)s, %(enabled)s, 'api')
RETURNING {_RULE_COLUMNS}
"""
UPDATE_RULE = f"""
UPDATE rules SET name = %(name)s, kind = %(kind)s, profile = %(profile)s,
       metric = %(metric)s, device_id = %(device_id)s, district = %(district)s,
       parameters = %(parameters)s, severity = %(severity)s,
       description = %(description)s, enabled = %(enabled)s, updated_at = now()
WHERE id = %(id)s
RETURNING {_RULE_COLUMNS}
"""
DELETE_RULE = "DELETE FROM rules WHERE id = %(id)s"
# Profile defaults: one row per (profile, name), refreshed at every start-up.
UPSERT_PROFILE_RULE = """
INSERT INTO rules (name, kind, profile, metric, parameters, severity, description,
                   enabled, source)
VALUES (%(name)s, %(kind)s, %(profile)s, %(metric)s, %(parameters)s, %(severity)s,
        %(description)s, true, 'profile')
ON CONFLICT (profile, name) WHERE source = 'profile' DO UPDATE
SET kind = excluded.kind, metric = excluded.metric, parameters = excluded.parameters,
    severity = excluded.severity, description = excluded.description, enabled = true,
    updated_at = now()
WHERE (rules.kind, rules.metric, rules.parameters, rules.severity, rules.description,
       rules.enabled)
      IS DISTINCT FROM
      (excluded.kind, excluded.metric, excluded.parameters, excluded.severity,
       excluded.description, true)
RETURNING id
"""
# A default removed from its profile file is disabled, not deleted: its alerts stay.
DISABLE_STALE_PROFILE_RULES = """
UPDATE rules SET enabled = false, updated_at = now()
WHERE source = 'profile' AND enabled
  AND NOT ((profile, name) IN (SELECT * FROM unnest(%(profiles)s::text[], %(names)s::text[])))
"""


def _rule(row: Sequence[Any]) -> Rule:
    return Rule(
        id=row[0],
        name=row[1],
        kind=row[2],
        profile=row[3],
        metric=row[4],
        device_id=row[5],
        district=row[6],
        parameters=dict(row[7]),
        severity=row[8],
        description=row[9],
        enabled=row[10],
        source=row[11],
        created_at=row[12],
        updated_at=row[13],
    )


def _rule_params(spec: RuleSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "profile": spec.profile,
        "metric": spec.metric,
        "device_id": spec.device_id,
        "district": spec.district,
        "parameters": Jsonb(dict(spec.parameters)),
        "severity": spec.severity,
        "description": spec.description,
        "enabled": spec.enabled,
    }


async def list_rules(
    conn: AsyncConn, *, profile: str | None = None, source: str | None = None
) -> list[Rule]:
    cur = await conn.execute(LIST_RULES, {"profile": profile, "source": source})
    return [_rule(row) for row in await cur.fetchall()]


async def get_rule(conn: AsyncConn, rule_id: int) -> Rule | None:
    cur = await conn.execute(GET_RULE, {"id": rule_id})
    row = await cur.fetchone()
    return None if row is None else _rule(row)


async def create_rule(conn: AsyncConn, spec: RuleSpec) -> Rule:
    """Store an API rule (``source = 'api'``)."""
    async with conn.transaction():
        cur = await conn.execute(INSERT_RULE, _rule_params(spec))
        row = await cur.fetchone()
    assert row is not None
    return _rule(row)


async def update_rule(conn: AsyncConn, rule_id: int, spec: RuleSpec) -> Rule | None:
    """Replace an API rule; None if there is none; ConflictError for a profile default."""
    async with conn.transaction():
        if not await _writable(conn, rule_id, "changed"):
            return None
        cur = await conn.execute(UPDATE_RULE, {**_rule_params(spec), "id": rule_id})
        row = await cur.fetchone()
    return None if row is None else _rule(row)


async def delete_rule(conn: AsyncConn, rule_id: int) -> bool:
    """Delete an API rule and its alerts; False if there is none."""
    async with conn.transaction():
        if not await _writable(conn, rule_id, "deleted"):
            return False
        cur = await conn.execute(DELETE_RULE, {"id": rule_id})
    return cur.rowcount == 1


async def _writable(conn: AsyncConn, rule_id: int, verb: str) -> bool:
    cur = await conn.execute(GET_RULE_FOR_UPDATE, {"id": rule_id})
    row = await cur.fetchone()
    if row is None:
        return False
    if row[0] == "profile":
        raise ConflictError(
            f"rule {rule_id} is a default of its device profile and cannot be {verb}; "
            "edit the profile file, or add an API rule"
        )
    return True


async def sync_profile_rules(conn: AsyncConn, specs: Sequence[RuleSpec]) -> int:
    """Store the profiles' default rules (source 'profile'), disable defaults that
    left their file; returns how many rules were added or changed."""
    changed = 0
    async with conn.transaction():
        for spec in specs:
            params = _rule_params(spec)
            cur = await conn.execute(UPSERT_PROFILE_RULE, params)
            changed += len(await cur.fetchall())
        await conn.execute(
            DISABLE_STALE_PROFILE_RULES,
            {"profiles": [s.profile for s in specs], "names": [s.name for s in specs]},
        )
    return changed


# -- alerts -----------------------------------------------------------------------

_ALERT_SELECT = """
SELECT a.id, a.rule_id, r.name, d.device_id, d.profile, d.district, a.state, a.severity,
       a.message, a.value, a.details, a.opened_at, a.acknowledged_at, a.acknowledged_by,
       a.resolved_at, a.resolved_by
FROM alerts a JOIN rules r ON r.id = a.rule_id JOIN devices d ON d.id = a.device
"""
LIST_ALERTS = f"""
{_ALERT_SELECT}
WHERE (%(state)s::text IS NULL OR a.state = %(state)s)
  AND (%(device_id)s::text IS NULL OR d.device_id = %(device_id)s)
  AND (%(profile)s::text IS NULL OR d.profile = %(profile)s)
  AND (%(district)s::text IS NULL OR d.district = %(district)s)
  AND (%(severity)s::text IS NULL OR a.severity = %(severity)s)
  AND (%(before_id)s::bigint IS NULL OR a.id < %(before_id)s)
ORDER BY a.id DESC
LIMIT %(limit)s
"""
GET_ALERT = f"{_ALERT_SELECT} WHERE a.id = %(id)s"
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


def alert_from_row(row: Sequence[Any]) -> Alert:
    return Alert(
        id=row[0],
        rule_id=row[1],
        rule_name=row[2],
        device_id=row[3],
        profile=row[4],
        district=row[5],
        state=row[6],
        severity=row[7],
        message=row[8],
        value=row[9],
        details=dict(row[10]),
        opened_at=row[11],
        acknowledged_at=row[12],
        acknowledged_by=row[13],
        resolved_at=row[14],
        resolved_by=row[15],
    )


async def list_alerts(
    conn: AsyncConn,
    *,
    state: str | None = None,
    device_id: str | None = None,
    profile: str | None = None,
    district: str | None = None,
    severity: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[Alert]:
    """Alerts, newest first; page on with ``before_id`` = the last id seen."""
    cur = await conn.execute(
        LIST_ALERTS,
        {
            "state": state,
            "device_id": device_id,
            "profile": profile,
            "district": district,
            "severity": severity,
            "before_id": before_id,
            "limit": max(0, limit),
        },
    )
    return [alert_from_row(row) for row in await cur.fetchall()]


async def get_alert(conn: AsyncConn, alert_id: int) -> Alert | None:
    cur = await conn.execute(GET_ALERT, {"id": alert_id})
    row = await cur.fetchone()
    return None if row is None else alert_from_row(row)


async def alert_history(conn: AsyncConn, alert_id: int) -> list[AlertEvent]:
    """Every transition of the alert, oldest first (empty for an unknown alert)."""
    cur = await conn.execute(ALERT_HISTORY, {"id": alert_id})
    return [AlertEvent(at, state, actor, note) for at, state, actor, note in await cur.fetchall()]


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
