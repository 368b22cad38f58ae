"""Dead letters: messages the ingest could not use, kept whole with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

_COLUMNS = "id, received_at, topic, payload, reason, detail, device_id"
LIST = f"""
SELECT {_COLUMNS} FROM dead_letters
WHERE (%(reasons)s::text[] IS NULL OR reason = ANY(%(reasons)s))
  AND (%(device_id)s::text IS NULL OR device_id = %(device_id)s)
  AND (%(start)s::timestamptz IS NULL OR received_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR received_at < %(end)s)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s)
ORDER BY id DESC
LIMIT %(limit)s
"""
GET = f"SELECT {_COLUMNS} FROM dead_letters WHERE id = %(id)s"


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    id: int
    received_at: datetime
    topic: str
    payload: bytes
    reason: str
    detail: str
    device_id: str | None


async def list_dead_letters(
    conn: psycopg.AsyncConnection[Any],
    *,
    reasons: list[str] | None = None,
    device_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[DeadLetterRow]:
    """Newest first; page on with ``before_id`` = the last id seen."""
    async with conn.cursor(row_factory=class_row(DeadLetterRow)) as cur:
        await cur.execute(
            LIST,
            {
                "reasons": reasons,
                "device_id": device_id,
                "start": start,
                "end": end,
                "before_id": before_id,
                "limit": limit,
            },
        )
        return await cur.fetchall()


async def get_dead_letter(
    conn: psycopg.AsyncConnection[Any], dead_letter_id: int
) -> DeadLetterRow | None:
    async with conn.cursor(row_factory=class_row(DeadLetterRow)) as cur:
        await cur.execute(GET, {"id": dead_letter_id})
        return await cur.fetchone()
