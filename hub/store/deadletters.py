"""Dead letters: messages the ingest could not use, kept whole with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row

from hub.privacy import policy
from hub.privacy.policy import UNRESTRICTED, Visibility
from hub.store.db import AsyncConn

# Only letters the reader may read (hub.privacy.policy: a personal device's payload
# needs the personal permission).
_COLUMNS = f"""id, received_at, topic, payload, reason, detail, device_id, format, replayed_at,
    {policy.dead_letter_class_sql("l")} AS data_class"""
LIST = f"""
SELECT {_COLUMNS} FROM dead_letters l
WHERE {policy.dead_letter_own_sql("l")}
  AND (%(reasons)s::text[] IS NULL OR reason = ANY(%(reasons)s))
  AND (%(device_id)s::text IS NULL OR device_id = %(device_id)s)
  AND (%(start)s::timestamptz IS NULL OR received_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR received_at < %(end)s)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s)
ORDER BY id DESC
LIMIT %(limit)s
"""
GET = f"""SELECT {_COLUMNS} FROM dead_letters l
WHERE id = %(id)s AND {policy.dead_letter_own_sql("l")}"""


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    id: int
    received_at: datetime
    topic: str
    payload: bytes
    reason: str
    detail: str
    device_id: str | None
    format: str = "hub"
    replayed_at: datetime | None = None
    data_class: str = "internal"


async def list_dead_letters(
    conn: AsyncConn,
    *,
    reasons: list[str] | None = None,
    device_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
    vis: Visibility = UNRESTRICTED,
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
                **vis.params(),
            },
        )
        return await cur.fetchall()


async def get_dead_letter(
    conn: AsyncConn, dead_letter_id: int, vis: Visibility = UNRESTRICTED
) -> DeadLetterRow | None:
    async with conn.cursor(row_factory=class_row(DeadLetterRow)) as cur:
        await cur.execute(GET, {"id": dead_letter_id, **vis.params()})
        return await cur.fetchone()


# Replay (hub.ingest.replay): letters not replayed yet, oldest first, a page at a time.
SELECT_FOR_REPLAY = """
SELECT id, received_at, topic, payload, format FROM dead_letters
WHERE replayed_at IS NULL
  AND (%(reasons)s::text[] IS NULL OR reason = ANY(%(reasons)s))
  AND (%(device_id)s::text IS NULL OR device_id = %(device_id)s)
  AND (%(start)s::timestamptz IS NULL OR received_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR received_at < %(end)s)
  AND id > %(after)s
ORDER BY id
LIMIT %(limit)s
"""
MARK_REPLAYED = "UPDATE dead_letters SET replayed_at = now() WHERE id = ANY(%(ids)s)"
SET_REASON = """
UPDATE dead_letters d SET reason = v.reason, detail = v.detail
FROM unnest(%(ids)s::bigint[], %(reasons)s::text[], %(details)s::text[]) AS v(id, reason, detail)
WHERE d.id = v.id
"""


@dataclass(frozen=True, slots=True)
class ReplayCandidate:
    id: int
    received_at: datetime
    topic: str
    payload: bytes
    format: str


async def replay_candidates(
    conn: AsyncConn,
    *,
    reasons: list[str] | None,
    device_id: str | None,
    start: datetime | None,
    end: datetime | None,
    after: int,
    limit: int,
) -> list[ReplayCandidate]:
    async with conn.cursor(row_factory=class_row(ReplayCandidate)) as cur:
        await cur.execute(
            SELECT_FOR_REPLAY,
            {
                "reasons": reasons,
                "device_id": device_id,
                "start": start,
                "end": end,
                "after": after,
                "limit": limit,
            },
        )
        return await cur.fetchall()


async def mark_replayed(conn: AsyncConn, ids: list[int]) -> None:
    await conn.execute(MARK_REPLAYED, {"ids": ids})


async def set_reasons(conn: AsyncConn, refusals: list[tuple[int, str, str]]) -> None:
    """(id, reason, detail) of letters that still fail, with today's reason."""
    await conn.execute(
        SET_REASON,
        {
            "ids": [r[0] for r in refusals],
            "reasons": [r[1] for r in refusals],
            "details": [r[2] for r in refusals],
        },
    )
