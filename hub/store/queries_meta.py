"""Queries about the database itself (schema level)."""

from __future__ import annotations

import psycopg

from hub.store.db import AsyncConn
from hub.store.migrate import GET_STORAGE_LEVEL


async def storage_level(conn: AsyncConn) -> str | None:
    """The storage level chosen at migration, or None when the database is not migrated."""
    try:
        async with conn.transaction():
            cur = await conn.execute(GET_STORAGE_LEVEL)
            row = await cur.fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return None if row is None else str(row[0])
