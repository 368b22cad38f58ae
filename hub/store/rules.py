"""Repository of alert rules (table of migration 0003): the API's rules and the
profiles' defaults.

Profile default rules (``source = 'profile'``) are read-only here: changing or
deleting one raises ConflictError. Functions that change more than one row run
in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from hub.errors import ConflictError
from hub.model import Rule, RuleSpec
from hub.privacy import policy
from hub.privacy.policy import UNRESTRICTED, Visibility
from hub.store.db import AsyncConn

_RULE_COLUMNS = """
id, name, kind, profile, metric, device_id, district, parameters, severity,
description, enabled, source, created_at, updated_at
"""
# A rule for one device is not shown to readers who may not see that device.
_SHOWN = f"""(device_id IS NULL OR NOT EXISTS (
    SELECT 1 FROM devices d
    WHERE d.device_id = rules.device_id AND NOT {policy.listed_sql("d")}))"""
LIST_RULES = f"""
SELECT {_RULE_COLUMNS} FROM rules
WHERE {_SHOWN}
  AND (%(profile)s::text IS NULL OR profile = %(profile)s)
  AND (%(source)s::text IS NULL OR source = %(source)s)
ORDER BY id
"""
GET_RULE = f"SELECT {_RULE_COLUMNS} FROM rules WHERE id = %(id)s AND {_SHOWN}"
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
    conn: AsyncConn,
    *,
    profile: str | None = None,
    source: str | None = None,
    vis: Visibility = UNRESTRICTED,
) -> list[Rule]:
    async with conn.cursor(row_factory=class_row(Rule)) as cur:
        await cur.execute(LIST_RULES, {"profile": profile, "source": source, **vis.params()})
        return await cur.fetchall()


async def get_rule(conn: AsyncConn, rule_id: int, vis: Visibility = UNRESTRICTED) -> Rule | None:
    async with conn.cursor(row_factory=class_row(Rule)) as cur:
        await cur.execute(GET_RULE, {"id": rule_id, **vis.params()})
        return await cur.fetchone()


async def create_rule(conn: AsyncConn, spec: RuleSpec) -> Rule:
    """Store an API rule (``source = 'api'``)."""
    async with conn.transaction(), conn.cursor(row_factory=class_row(Rule)) as cur:
        await cur.execute(INSERT_RULE, _rule_params(spec))
        row = await cur.fetchone()
    assert row is not None
    return row


async def update_rule(conn: AsyncConn, rule_id: int, spec: RuleSpec) -> Rule | None:
    """Replace an API rule; None if there is none; ConflictError for a profile default."""
    async with conn.transaction():
        if not await _writable(conn, rule_id, "changed"):
            return None
        async with conn.cursor(row_factory=class_row(Rule)) as cur:
            await cur.execute(UPDATE_RULE, {**_rule_params(spec), "id": rule_id})
            return await cur.fetchone()


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
