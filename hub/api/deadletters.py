"""/dead-letters: messages the ingest could not use, for operators to inspect."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from hub.api import cursor as cursors
from hub.api import params
from hub.api.auth import Operator
from hub.api.deps import API_PREFIX, AppSettings, DbConn
from hub.api.params import Cursor
from hub.api.privacy import visibility_of
from hub.api.problems import responses
from hub.errors import DeadLetterReason, NotFound
from hub.privacy.access_log import Read, record
from hub.privacy.policy import Visibility
from hub.store import deadletters as store
from hub.store.db import AsyncConn
from hub.store.deadletters import DeadLetterRow

router = APIRouter(prefix=f"{API_PREFIX}/dead-letters", tags=["dead letters"])

Reason = DeadLetterReason  # the one list, in hub.errors
PREVIEW_CHARS = 1000


class DeadLetterOut(BaseModel):
    id: int
    received_at: datetime
    topic: str = Field(examples=["city/street_light/sl-0042/telemetry"])
    reason: Reason
    detail: str = Field(examples=["metric 'pwr' is not in profile street_light"])
    device_id: str | None
    format: str = Field(
        "hub",
        description="How it is decoded: hub (the hub's MQTT/HTTP forms), tts_v3, chirpstack_v4.",
    )
    replayed_at: datetime | None = Field(
        None, description="When a replay stored it (POST /api/v1/dead-letters/replay)."
    )
    payload_size: int = Field(description="Bytes of the original payload.")
    payload_text: str | None = Field(
        description="The payload as UTF-8 text when it is text (in lists: the first "
        f"{PREVIEW_CHARS} characters); null for binary payloads."
    )


class DeadLetterDetail(DeadLetterOut):
    payload_base64: str = Field(description="The whole payload, byte for byte.")


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next_cursor: str | None


def _text(payload: bytes, limit: int | None) -> str | None:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text[:limit] if limit is not None else text


def _out(row: DeadLetterRow) -> DeadLetterOut:
    return DeadLetterOut(
        id=row.id,
        received_at=row.received_at,
        topic=row.topic,
        reason=row.reason,
        detail=row.detail,
        device_id=row.device_id,
        format=row.format,
        replayed_at=row.replayed_at,
        payload_size=len(row.payload),
        payload_text=_text(row.payload, PREVIEW_CHARS),
    )


@router.get(
    "",
    summary="List dead letters, newest first (operator)",
    response_model=DeadLetterPage,
    responses=responses(401, 403, 422),
)
async def list_dead_letters(
    conn: DbConn,
    operator: Operator,
    settings: AppSettings,
    reason: Annotated[list[Reason] | None, Query(description="Only these reasons.")] = None,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[
        params.Time | None, Query(alias="from", description="Received at or after.")
    ] = None,
    end: Annotated[params.Time | None, Query(alias="to", description="Received before.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> DeadLetterPage:
    before = cursors.decode(cursor, int)[0] if cursor is not None else None
    rows = await store.list_dead_letters(
        conn,
        reasons=sorted(set(reason)) if reason else None,
        device_id=device_id,
        start=params.instant(start, settings.timezone, "from") if start else None,
        end=params.instant(end, settings.timezone, "to") if end else None,
        before_id=before,
        limit=limit + 1,
        vis=(vis := visibility_of(operator, settings.database_url)),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    await _log(conn, vis, rows, "GET /api/v1/dead-letters")
    return DeadLetterPage(
        items=[_out(r) for r in rows],
        next_cursor=cursors.encode(rows[-1].id) if more and rows else None,
    )


@router.get(
    "/{dead_letter_id}",
    summary="One dead letter with its whole payload (operator)",
    response_model=DeadLetterDetail,
    responses=responses(401, 403, 404),
)
async def get_dead_letter(
    dead_letter_id: Annotated[int, Path(ge=1, le=2**62)],
    conn: DbConn,
    operator: Operator,
    settings: AppSettings,
) -> DeadLetterDetail:
    vis = visibility_of(operator, settings.database_url)
    row = await store.get_dead_letter(conn, dead_letter_id, vis)
    if row is None:
        raise NotFound(f"no dead letter {dead_letter_id}")
    await _log(conn, vis, [row], f"GET /api/v1/dead-letters/{dead_letter_id}")
    return DeadLetterDetail(
        **_out(row).model_dump(exclude={"payload_text"}),
        payload_text=_text(row.payload, None),
        payload_base64=base64.b64encode(row.payload).decode(),
    )


async def _log(conn: AsyncConn, vis: Visibility, rows: list[DeadLetterRow], what: str) -> None:
    """Letters of personal devices read with the personal permission, per device."""
    counts: dict[str | None, int] = {}
    for row in rows:
        if vis.logs(row.data_class):
            counts[row.device_id] = counts.get(row.device_id, 0) + 1
    await record(conn, vis, [Read(device, what, n) for device, n in counts.items()])
