"""Work on alerts (migration 0050): assignment to a person or crew, notes, and the
rows of the inbox's CSV export. The API calls these; the engine never does."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.rows import class_row

from hub.model import Alert, AlertNote
from hub.privacy import policy
from hub.privacy.policy import UNRESTRICTED, Visibility
from hub.store.alerts import _ALERT_SELECT, get_alert
from hub.store.db import AsyncConn

ASSIGN = """
UPDATE alerts SET assignee = %(assignee)s, assigned_at = now(), assigned_by = %(actor)s
WHERE id = %(id)s AND assignee IS DISTINCT FROM %(assignee)s
"""
ALERT_EXISTS = "SELECT 1 FROM alerts WHERE id = %(id)s"
INSERT_NOTE = """
INSERT INTO alert_notes (alert_id, author, text) VALUES (%(id)s, %(author)s, %(text)s)
RETURNING id, at, author, text
"""
NOTES = """
SELECT id, at, author, text FROM alert_notes WHERE alert_id = %(id)s ORDER BY id
"""
# The inbox as filtered, oldest-first ids are not needed: newest first, like the list.
EXPORT = f"""
{_ALERT_SELECT}
WHERE {policy.listed_sql("d")}
  AND a.state = ANY(%(states)s)
  AND (%(profile)s::text IS NULL OR d.profile = %(profile)s)
  AND (%(district)s::text IS NULL OR d.district = %(district)s)
  AND (%(severity)s::text IS NULL OR a.severity = %(severity)s)
  AND (%(assignee)s::text IS NULL OR a.assignee = %(assignee)s)
  AND (NOT %(unassigned)s OR a.assignee IS NULL)
ORDER BY a.id DESC
LIMIT %(limit)s
"""


async def assign(
    conn: AsyncConn, alert_id: int, *, assignee: str | None, actor: str
) -> Alert | None:
    """Give the alert to ``assignee`` (None takes it back); the same name again
    changes nothing. None if there is no such alert."""
    async with conn.transaction():
        await conn.execute(ASSIGN, {"id": alert_id, "assignee": assignee, "actor": actor})
    return await get_alert(conn, alert_id)


async def add_note(conn: AsyncConn, alert_id: int, *, author: str, text: str) -> AlertNote | None:
    """Add a note; None if there is no such alert."""
    async with conn.transaction():
        cur = await conn.execute(ALERT_EXISTS, {"id": alert_id})
        if await cur.fetchone() is None:
            return None
        cur = await conn.execute(INSERT_NOTE, {"id": alert_id, "author": author, "text": text})
        row = await cur.fetchone()
    assert row is not None
    return AlertNote(*row)


async def notes(conn: AsyncConn, alert_id: int) -> list[AlertNote]:
    cur = await conn.execute(NOTES, {"id": alert_id})
    return [AlertNote(*row) for row in await cur.fetchall()]


async def export_alerts(
    conn: AsyncConn,
    *,
    states: Sequence[str],
    profile: str | None = None,
    district: str | None = None,
    severity: str | None = None,
    assignee: str | None = None,
    unassigned: bool = False,
    limit: int = 100_000,
    vis: Visibility = UNRESTRICTED,
) -> list[Alert]:
    """The alerts the inbox's filters select, newest first, at most ``limit``."""
    params = {
        **vis.params(),
        "states": list(states),
        "profile": profile,
        "district": district,
        "severity": severity,
        "assignee": assignee,
        "unassigned": unassigned,
        "limit": limit,
    }
    async with conn.cursor(row_factory=class_row(Alert)) as cur:
        await cur.execute(EXPORT, params)
        return await cur.fetchall()
