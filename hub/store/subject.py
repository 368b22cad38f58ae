"""Everything the hub holds on one device, found and deleted (data subject requests).

Used by hub.privacy.subject. Besides the tables named here, every table with a
foreign key to ``devices`` is found in the catalogue (:data:`DEVICE_TABLES`), so a
table a later migration adds is exported and erased without a change here.

Dead letters carry no foreign key: a message refused before its device was known has
at most its id in ``device_id``; it is found by that column, by a topic level equal
to the id, or by the id (or the LoRaWAN DevEUI or network-server id) anywhere in the
stored payload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from hub.store.db import AsyncConn

DEVICE = """
SELECT id, device_id, profile, data_class, dev_eui, external_id, to_jsonb(d) AS row
FROM devices d WHERE device_id = %(device_id)s
"""
SERIES = "SELECT id, metric FROM series WHERE device = %(device)s ORDER BY metric"
# Tables with a one-column foreign key to devices(id), except those handled by name.
DEVICE_TABLES = """
SELECT n.nspname, t.relname, a.attname
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
WHERE c.contype = 'f' AND c.confrelid = 'devices'::regclass AND cardinality(c.conkey) = 1
  AND t.relname NOT IN ('series', 'alerts')
ORDER BY t.relname
"""
ROWS_OF = sql.SQL("SELECT to_jsonb(x) FROM {table} x WHERE {column} = %(device)s")
DELETE_OF = sql.SQL("DELETE FROM {table} WHERE {column} = %(device)s")

COUNT_READINGS = "SELECT count(*) FROM readings WHERE series_id = ANY(%(series)s)"
NEWEST_RAW = """
SELECT max(last) FROM (
    SELECT (SELECT r.time FROM readings r WHERE r.series_id = s ORDER BY r.time DESC LIMIT 1)
    FROM unnest(%(series)s::int[]) AS s
) f(last)
"""
READINGS = """
SELECT s.metric, r.time, r.value
FROM readings r JOIN series s ON s.id = r.series_id
WHERE r.series_id = ANY(%(series)s)
ORDER BY s.metric, r.time
"""
ROLLUP_COLUMNS = ("metric", "bucket", "count", "sum", "min", "max", "first_time", "first",
                  "last_time", "last")  # fmt: skip
ROLLUPS = sql.SQL("""
SELECT s.metric, h.bucket, h.count, h.sum, h.min, h.max, h.first_time, h.first,
       h.last_time, h.last
FROM {table} h JOIN series s ON s.id = h.series_id
WHERE h.series_id = ANY(%(series)s)
ORDER BY s.metric, h.bucket
""")
ALERTS = """
SELECT to_jsonb(a) || jsonb_build_object(
    'rule', jsonb_build_object('id', r.id, 'name', r.name, 'kind', r.kind),
    'events', coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.id)
                        FROM alert_events e WHERE e.alert_id = a.id), '[]'::jsonb),
    'notes', coalesce((SELECT jsonb_agg(to_jsonb(n) ORDER BY n.id)
                       FROM alert_notes n WHERE n.alert_id = a.id), '[]'::jsonb),
    'deliveries', coalesce((SELECT jsonb_agg(to_jsonb(x) ORDER BY x.id)
                            FROM alert_deliveries x WHERE x.alert_id = a.id), '[]'::jsonb))
FROM alerts a JOIN rules r ON r.id = a.rule_id
WHERE a.device = %(device)s
ORDER BY a.id
"""
RULES = "SELECT to_jsonb(r) FROM rules r WHERE r.device_id = %(device_id)s ORDER BY r.id"
# Needles are matched as bytes, so a payload that is not UTF-8 is searched too.
_DEAD_LETTER_MATCH = """
device_id = %(device_id)s
OR %(device_id)s = ANY(string_to_array(topic, '/'))
OR EXISTS (SELECT 1 FROM unnest(%(needles)s::text[]) AS w(needle)
           WHERE position(convert_to(w.needle, 'UTF8') IN payload) > 0)
"""
DEAD_LETTERS = f"""
SELECT id, received_at, topic, payload, reason, detail, device_id, format
FROM dead_letters WHERE {_DEAD_LETTER_MATCH} ORDER BY id
"""
DELETE_DEAD_LETTERS = f"DELETE FROM dead_letters WHERE {_DEAD_LETTER_MATCH}"
ACCESS_LOG = """
SELECT id, at, key_id, key_prefix, key_name, device_id, what, rows
FROM personal_access_log WHERE device_id = %(device_id)s ORDER BY id
"""
ACCESS_LOG_COLUMNS = ("id", "at", "key_id", "key_prefix", "key_name", "device_id", "what", "rows")
# The audit trail stays (who read this household's data, and when), under the
# erasure's reference instead of the id (also where a logged request names it).
PSEUDONYMISE_ACCESS_LOG = """
UPDATE personal_access_log
SET device_id = CASE WHEN device_id = %(device_id)s THEN %(reference)s ELSE device_id END,
    what = replace(what, %(device_id)s, %(reference)s)
WHERE device_id = %(device_id)s OR strpos(what, %(device_id)s) > 0
"""
DELETE_ALERTS = "DELETE FROM alerts WHERE device = %(device)s"
DELETE_RULES = "DELETE FROM rules WHERE device_id = %(device_id)s"
DELETE_READINGS_FROM = (
    "DELETE FROM readings WHERE series_id = ANY(%(series)s) AND time >= %(start)s"
)
DELETE_SERIES = "DELETE FROM series WHERE device = %(device)s"
DELETE_DEVICE = "DELETE FROM devices WHERE id = %(device)s"
RECORD_ERASURE = """
INSERT INTO privacy_erasures (device_hash, profile, data_class, requested_by, counts)
VALUES (%(hash)s, %(profile)s, %(data_class)s, %(requested_by)s, %(counts)s)
RETURNING id, at
"""
ERASURES_OF = """
SELECT id, at, profile, data_class, requested_by, counts
FROM privacy_erasures WHERE device_hash = %(hash)s ORDER BY id
"""


@dataclass(frozen=True, slots=True)
class SubjectDevice:
    """The registry row of the device a request is about."""

    pk: int
    device_id: str
    profile: str
    data_class: str
    dev_eui: str | None
    external_id: str | None
    row: dict[str, Any]

    @property
    def needles(self) -> list[str]:
        """What identifies the device inside a stored payload."""
        found = [self.device_id]
        if self.dev_eui:
            found += [self.dev_eui.lower(), self.dev_eui.upper()]
        if self.external_id:
            found.append(self.external_id)
        return found


async def find_device(conn: AsyncConn, device_id: str) -> SubjectDevice | None:
    cur = await conn.execute(DEVICE, {"device_id": device_id})
    row = await cur.fetchone()
    return None if row is None else SubjectDevice(*row)


async def series_of(conn: AsyncConn, device: SubjectDevice) -> dict[int, str]:
    cur = await conn.execute(SERIES, {"device": device.pk})
    return {pk: metric for pk, metric in await cur.fetchall()}


async def device_tables(conn: AsyncConn) -> list[tuple[str, str, str]]:
    """(schema, table, column) of every other table that points at a device."""
    cur = await conn.execute(DEVICE_TABLES)
    return [(s, t, c) for s, t, c in await cur.fetchall()]


def _table(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


async def rows_of(conn: AsyncConn, schema: str, table: str, column: str, device: int) -> list[Any]:
    query = ROWS_OF.format(table=_table(schema, table), column=sql.Identifier(column))
    cur = await conn.execute(query, {"device": device})
    return [row[0] for row in await cur.fetchall()]


async def delete_rows_of(conn: AsyncConn, schema: str, table: str, column: str, device: int) -> int:
    query = DELETE_OF.format(table=_table(schema, table), column=sql.Identifier(column))
    cur = await conn.execute(query, {"device": device})
    return max(cur.rowcount, 0)


async def count_readings(conn: AsyncConn, series: Sequence[int]) -> int:
    cur = await conn.execute(COUNT_READINGS, {"series": list(series)})
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def newest_raw(conn: AsyncConn, series: Sequence[int]) -> datetime | None:
    if not series:
        return None
    cur = await conn.execute(NEWEST_RAW, {"series": list(series)})
    row = await cur.fetchone()
    return row[0] if row else None


async def stream_readings(
    conn: AsyncConn, series: Sequence[int]
) -> AsyncIterator[tuple[str, datetime, float]]:
    """Every raw reading of the series, by metric and time, without holding them all."""
    async with conn.cursor() as cur:
        async for row in cur.stream(READINGS, {"series": list(series)}):
            yield row


async def stream_rollups(
    conn: AsyncConn, view: str, series: Sequence[int]
) -> AsyncIterator[tuple[Any, ...]]:
    query = ROLLUPS.format(table=sql.Identifier(view))
    async with conn.cursor() as cur:
        async for row in cur.stream(query, {"series": list(series)}):
            yield row


async def json_rows(conn: AsyncConn, query: str, params: dict[str, Any]) -> list[Any]:
    cur = await conn.execute(query, params)
    return [row[0] for row in await cur.fetchall()]


async def dead_letters(conn: AsyncConn, device: SubjectDevice) -> list[tuple[Any, ...]]:
    cur = await conn.execute(
        DEAD_LETTERS, {"device_id": device.device_id, "needles": device.needles}
    )
    return list(await cur.fetchall())


async def access_log(conn: AsyncConn, device_id: str) -> list[tuple[Any, ...]]:
    cur = await conn.execute(ACCESS_LOG, {"device_id": device_id})
    return list(await cur.fetchall())
