"""The log of who read personal data (table ``personal_access_log``, migration 0091).

Every read of a personal device's own data by a key with the ``personal``
permission adds a row: the key (id, prefix, name), the device (or NULL for a query
over several devices that is logged once), what was asked (the route or the
standard API's request) and how many rows of personal data were returned. Entries
older than ``HUB_PRIVACY_ACCESS_LOG_DAYS`` are deleted by :func:`run_pruning`.
An auditor lists them (``GET /api/v1/privacy/access-log``) or downloads them as CSV,
e.g. every read of one household's meter this year.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row

from hub.periodic import every
from hub.privacy.policy import Visibility
from hub.store.db import AsyncConn, aconnect

log = logging.getLogger(__name__)

PRUNE_INTERVAL_S = 3600
_WHAT_LIMIT = 500

INSERT = """
INSERT INTO personal_access_log (key_id, key_prefix, key_name, device_id, what, rows)
VALUES (%(key_id)s, %(key_prefix)s, %(key_name)s, %(device_id)s, %(what)s, %(rows)s)
"""
_FILTER = """
WHERE (%(device_id)s::text IS NULL OR device_id = %(device_id)s)
  AND (%(key_id)s::int IS NULL OR key_id = %(key_id)s)
  AND (%(start)s::timestamptz IS NULL OR at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR at < %(end)s)
"""
LIST = f"""
SELECT id, at, key_id, key_prefix, key_name, device_id, what, rows
FROM personal_access_log
{_FILTER}
  AND (%(after)s::bigint IS NULL OR id < %(after)s)
ORDER BY id DESC
LIMIT %(limit)s
"""
ALL = f"""
SELECT id, at, key_id, key_prefix, key_name, device_id, what, rows
FROM personal_access_log
{_FILTER}
ORDER BY id
"""
PRUNE = "DELETE FROM personal_access_log WHERE at < now() - make_interval(days => %(days)s)"


@dataclass(frozen=True, slots=True)
class Read:
    """One read to log: of a device (or of a query, ``device_id`` None)."""

    device_id: str | None
    what: str
    rows: int


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    at: datetime
    key_id: int | None
    key_prefix: str | None
    key_name: str | None
    device_id: str | None
    what: str
    rows: int


@dataclass(frozen=True, slots=True)
class EntryFilter:
    device_id: str | None = None
    key_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None

    def params(self) -> dict[str, object]:
        return {
            "device_id": self.device_id,
            "key_id": self.key_id,
            "start": self.start,
            "end": self.end,
        }


async def record(conn: AsyncConn, vis: Visibility, reads: Iterable[Read]) -> int:
    """Log the reads (only for an audited reader: one with the personal permission);
    returns how many entries were written. With ``vis.log_url`` on a connection of
    its own to that (primary) database, committed at once."""
    if not vis.audited:
        return 0
    if vis.log_url is not None:
        async with await aconnect(vis.log_url, "privacy", autocommit=True) as own:
            return await _insert(own, vis, reads)
    return await _insert(conn, vis, reads)


async def _insert(conn: AsyncConn, vis: Visibility, reads: Iterable[Read]) -> int:
    rows = [
        {
            "key_id": vis.key_id,
            "key_prefix": vis.key_prefix,
            "key_name": vis.key_name,
            "device_id": r.device_id,
            "what": r.what[:_WHAT_LIMIT],
            "rows": r.rows,
        }
        for r in reads
    ]
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(INSERT, rows)
    return len(rows)


async def record_now(url: str, vis: Visibility, reads: Iterable[Read]) -> None:
    """:func:`record` on a connection of its own, committed at once (for streamed
    responses and background paths that hold no request transaction)."""
    entries = list(reads)
    if not vis.audited or not entries:
        return
    async with await aconnect(url, "privacy", autocommit=True) as conn:
        await record(conn, vis, entries)


async def list_entries(
    conn: AsyncConn, where: EntryFilter, *, limit: int, after: int | None = None
) -> list[Entry]:
    """Newest first, ``limit`` at a time, before the entry id ``after``."""
    async with conn.cursor(row_factory=class_row(Entry)) as cur:
        await cur.execute(LIST, {**where.params(), "limit": limit, "after": after})
        return await cur.fetchall()


async def stream_entries(conn: AsyncConn, where: EntryFilter) -> AsyncIterator[list[Entry]]:
    """Every matching entry, oldest first, in chunks (server-side cursor)."""
    async with conn.transaction(), conn.cursor("access_log", row_factory=class_row(Entry)) as cur:
        await cur.execute(ALL, where.params())
        while chunk := await cur.fetchmany(2000):
            yield chunk


async def prune(conn: AsyncConn, days: int) -> int:
    cur = await conn.execute(PRUNE, {"days": days})
    return max(cur.rowcount, 0)


async def run_pruning(url: str, days: int) -> None:
    """Delete entries older than ``days`` now and every hour, until cancelled."""

    async def round_(conn: AsyncConn) -> None:
        deleted = await prune(conn, days)
        if deleted:
            log.info("access log: %d entries older than %d days deleted", deleted, days)

    await every(PRUNE_INTERVAL_S, url, "privacy", round_, what="access log pruning", log=log)
