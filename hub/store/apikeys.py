"""API keys in the database: only their SHA-256 hash, role and bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from psycopg.rows import class_row

from hub.store.db import AsyncConn, Conn

_COLUMNS = "id, name, role, prefix, created_at, revoked_at, last_used_at, permissions"
INSERT = f"""
INSERT INTO api_keys (name, role, key_hash, prefix, permissions)
VALUES (%(name)s, %(role)s, %(key_hash)s, %(prefix)s, %(permissions)s)
RETURNING {_COLUMNS}
"""
LIST = f"""
SELECT {_COLUMNS}
FROM api_keys ORDER BY id
"""
REVOKE = f"""
UPDATE api_keys SET revoked_at = now()
WHERE id = %(id)s AND revoked_at IS NULL
RETURNING {_COLUMNS}
"""
FIND_ACTIVE = f"""
SELECT {_COLUMNS}
FROM api_keys WHERE key_hash = %(key_hash)s AND revoked_at IS NULL
"""
# Grant (array_append once) or withdraw one permission of an unrevoked key.
SET_PERMISSION = f"""
UPDATE api_keys SET permissions = CASE
    WHEN %(granted)s THEN array_append(array_remove(permissions, %(permission)s::text), %(permission)s::text)
    ELSE array_remove(permissions, %(permission)s::text) END
WHERE id = %(id)s AND revoked_at IS NULL
RETURNING {_COLUMNS}
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
    permissions: list[str] = field(default_factory=list)

    @property
    def personal(self) -> bool:
        """May read personal devices' own data (docs/privacy.md)."""
        return "personal" in self.permissions


def _row(
    name: str, role: str, key_hash: bytes, prefix: str, permissions: tuple[str, ...]
) -> dict[str, object]:
    return {
        "name": name,
        "role": role,
        "key_hash": key_hash,
        "prefix": prefix,
        "permissions": list(permissions),
    }


def insert(
    conn: Conn,
    *,
    name: str,
    role: str,
    key_hash: bytes,
    prefix: str,
    permissions: tuple[str, ...] = (),
) -> ApiKey:
    with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        cur.execute(INSERT, _row(name, role, key_hash, prefix, permissions))
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


async def ainsert(
    conn: AsyncConn,
    *,
    name: str,
    role: str,
    key_hash: bytes,
    prefix: str,
    permissions: tuple[str, ...] = (),
) -> ApiKey:
    async with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        await cur.execute(INSERT, _row(name, role, key_hash, prefix, permissions))
        row = await cur.fetchone()
    assert row is not None
    return row


async def arevoke(conn: AsyncConn, key_id: int) -> ApiKey | None:
    async with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        await cur.execute(REVOKE, {"id": key_id})
        return await cur.fetchone()


def set_permission(conn: Conn, key_id: int, permission: str, *, granted: bool) -> ApiKey | None:
    """Grant or withdraw a permission; None when there is no such active key."""
    with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        cur.execute(SET_PERMISSION, {"id": key_id, "permission": permission, "granted": granted})
        return cur.fetchone()


async def aset_permission(
    conn: AsyncConn, key_id: int, permission: str, *, granted: bool
) -> ApiKey | None:
    async with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        await cur.execute(
            SET_PERMISSION, {"id": key_id, "permission": permission, "granted": granted}
        )
        return await cur.fetchone()
