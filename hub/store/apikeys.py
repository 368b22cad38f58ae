"""API keys in the database: only their SHA-256 hash, role and bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row

from hub.store.db import AsyncConn, Conn

INSERT = """
INSERT INTO api_keys (name, role, key_hash, prefix)
VALUES (%(name)s, %(role)s, %(key_hash)s, %(prefix)s)
RETURNING id, name, role, prefix, created_at, revoked_at, last_used_at
"""
LIST = """
SELECT id, name, role, prefix, created_at, revoked_at, last_used_at
FROM api_keys ORDER BY id
"""
REVOKE = """
UPDATE api_keys SET revoked_at = now()
WHERE id = %(id)s AND revoked_at IS NULL
RETURNING id, name, role, prefix, created_at, revoked_at, last_used_at
"""
FIND_ACTIVE = """
SELECT id, name, role, prefix, created_at, revoked_at, last_used_at
FROM api_keys WHERE key_hash = %(key_hash)s AND revoked_at IS NULL
"""
# last_used_at is kept to the minute: a busy integrator should not cost a write a request.
TOUCH = """
UPDATE api_keys SET last_used_at = now()
WHERE id = %(id)s AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
"""


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def insert(conn: Conn, *, name: str, role: str, key_hash: bytes, prefix: str) -> ApiKey:
    with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        cur.execute(INSERT, {"name": name, "role": role, "key_hash": key_hash, "prefix": prefix})
        row = cur.fetchone()
    assert row is not None
    return row


def list_all(conn: Conn) -> list[ApiKey]:
    with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        cur.execute(LIST)
        return cur.fetchall()


def revoke(conn: Conn, key_id: int) -> ApiKey | None:
    with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        cur.execute(REVOKE, {"id": key_id})
        return cur.fetchone()


async def find_active(conn: AsyncConn, key_hash: bytes) -> ApiKey | None:
    """The unrevoked key with this hash; marks it used (to the minute)."""
    async with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        await cur.execute(FIND_ACTIVE, {"key_hash": key_hash})
        key = await cur.fetchone()
        if key is not None:
            await cur.execute(TOUCH, {"id": key.id})
    return key


async def alist_all(conn: AsyncConn) -> list[ApiKey]:
    async with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        await cur.execute(LIST)
        return await cur.fetchall()


async def ainsert(conn: AsyncConn, *, name: str, role: str, key_hash: bytes, prefix: str) -> ApiKey:
    async with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        await cur.execute(
            INSERT, {"name": name, "role": role, "key_hash": key_hash, "prefix": prefix}
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def arevoke(conn: AsyncConn, key_id: int) -> ApiKey | None:
    async with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        await cur.execute(REVOKE, {"id": key_id})
        return await cur.fetchone()
