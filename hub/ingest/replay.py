"""Replay of dead letters: decode the kept payloads again with today's profiles,
mappings and devices (``POST /api/v1/dead-letters/replay``, ``hub dead-letters
replay``).

What now decodes is written through the batch writer (idempotent: a reading
already stored adds nothing) and its letter is marked replayed; what still fails
stays, with today's reason. A letter is replayed at most once, so running a
replay twice adds nothing. This is how a municipality recovers after fixing a
mapping or registering a device.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from hub.config import Settings
from hub.ingest.directory import DirectoryLoader
from hub.ingest.sources import SourcesFile
from hub.model import DeadLetter, Item
from hub.payloads import DecodeContext, Origin, decode
from hub.profiles import Profile
from hub.store import deadletters
from hub.store.db import aconnect
from hub.store.writer import BatchWriter

PAGE = 500


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Which dead letters to replay; None means any."""

    reasons: list[str] | None = None
    device_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 100_000


@dataclass(slots=True)
class ReplayResult:
    examined: int = 0
    stored: int = 0  # letters whose message is now stored
    readings: int = 0
    still_refused: Counter[str] = field(default_factory=Counter)  # by today's reason


async def replay(
    settings: Settings,
    profiles: Mapping[str, Profile],
    *,
    storage: str,
    sources: SourcesFile | None = None,
    where: ReplayFilter | None = None,
) -> ReplayResult:
    """Replay the dead letters ``where`` selects (oldest first)."""
    where = where or ReplayFilter()
    directory = DirectoryLoader(
        settings.database_url, refresh_s=settings.device_directory_refresh_s
    )
    await directory.refresh()
    context = dataclasses.replace(
        DecodeContext.from_settings(settings, profiles),
        rules=(sources or SourcesFile()).rules(),
        devices=directory.snapshot,
    )
    writer = BatchWriter(
        settings.database_url, storage=storage, auto_register=settings.auto_register_devices
    )
    result = ReplayResult()
    conn = await aconnect(settings.database_url, "replay", autocommit=True)
    try:
        after = 0
        while result.examined < where.limit:
            page = await deadletters.replay_candidates(
                conn,
                reasons=where.reasons,
                device_id=where.device_id,
                start=where.start,
                end=where.end,
                after=after,
                limit=min(PAGE, where.limit - result.examined),
            )
            if not page:
                break
            after = page[-1].id
            result.examined += len(page)
            items: list[tuple[int, Item]] = []
            refusals: list[tuple[int, str, str]] = []
            for letter in page:
                origin = Origin(letter.topic, letter.received_at, letter.format, "replay")
                decoded = decode(letter.payload, origin, context)
                if type(decoded) is Item:
                    items.append((letter.id, decoded))
                else:
                    assert isinstance(decoded, DeadLetter)
                    refusals.append((letter.id, decoded.reason, decoded.detail))
            outcome = await writer.write([i for _, i in items], [], keep_refused=False)
            stored: list[int] = []
            for letter_id, item in items:
                refusal = outcome.refused.get(id(item))
                if refusal is None:
                    stored.append(letter_id)
                    result.readings += len(item.readings)
                else:
                    refusals.append((letter_id, refusal.reason, refusal.detail))
            if stored:
                await deadletters.mark_replayed(conn, stored)
            if refusals:
                await deadletters.set_reasons(conn, refusals)
            result.stored += len(stored)
            result.still_refused.update(reason for _, reason, _ in refusals)
            if outcome.registered:
                directory.add(outcome.registered)
                context = dataclasses.replace(context, devices=directory.snapshot)
    finally:
        await conn.close()
        await writer.close()
    return result
