"""/privacy/access-log: who read personal data (admin), as JSON pages or CSV.

"Who looked at this household's consumption this year":
``GET /api/v1/privacy/access-log.csv?device_id=wm-0042&from=2026-01-01T00:00:00Z``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from hub.api import cursor as cursors
from hub.api import params
from hub.api.auth import Admin
from hub.api.deps import API_PREFIX, AppSettings, DbConn
from hub.api.params import Cursor
from hub.api.problems import responses
from hub.config import Settings
from hub.privacy import access_log as store
from hub.store.db import aconnect

router = APIRouter(prefix=f"{API_PREFIX}/privacy", tags=["privacy"])

CSV_COLUMNS = ("id", "at", "key_id", "key_prefix", "key_name", "device_id", "what", "rows")


class AccessLogPage(BaseModel):
    items: list[store.Entry]
    next_cursor: str | None


def _filter(
    settings: AppSettings,
    device_id: Annotated[
        str | None, Query(max_length=64, description="Only reads of this device.")
    ] = None,
    key_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Only this key.")] = None,
    start: Annotated[
        params.Time | None, Query(alias="from", description="At or after (RFC 3339).")
    ] = None,
    end: Annotated[params.Time | None, Query(alias="to", description="Before (RFC 3339).")] = None,
) -> store.EntryFilter:
    return store.EntryFilter(
        device_id=device_id,
        key_id=key_id,
        start=params.instant(start, settings.timezone, "from") if start else None,
        end=params.instant(end, settings.timezone, "to") if end else None,
    )


EntryQuery = Annotated[store.EntryFilter, Depends(_filter)]


@router.get(
    "/access-log",
    summary="Who read personal data, newest first (admin)",
    response_model=AccessLogPage,
    responses=responses(401, 403, 422),
)
async def access_log(
    conn: DbConn,
    _: Admin,
    where: EntryQuery,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> AccessLogPage:
    """Every read of a personal device's own data by a key with the personal
    permission: the key, the device, what was asked, when and how many rows. Kept
    HUB_PRIVACY_ACCESS_LOG_DAYS days."""
    before = cursors.decode(cursor, int)[0] if cursor is not None else None
    found = await store.list_entries(conn, where, limit=limit + 1, after=before)
    page = found[:limit]
    more = len(found) > limit
    return AccessLogPage(
        items=page,
        next_cursor=cursors.encode(page[-1].id) if more and page else None,
    )


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


@router.get(
    "/access-log.csv",
    summary="The access log as CSV, oldest first (admin)",
    response_class=CsvResponse,
    responses={**responses(401, 403, 422), 200: {"content": {"text/csv": {}}}},
)
async def access_log_csv(_: Admin, settings: AppSettings, where: EntryQuery) -> CsvResponse:
    """The same entries and filters, streamed; times in RFC 3339 (UTC)."""
    return CsvResponse(
        _lines(settings, where),
        headers={"Content-Disposition": 'attachment; filename="personal-access-log.csv"'},
    )


async def _lines(settings: Settings, where: store.EntryFilter) -> AsyncIterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield out.getvalue()
    async with await aconnect(settings.database_url, "export") as conn:
        async for chunk in store.stream_entries(conn, where):
            out.seek(0)
            out.truncate()
            for e in chunk:
                at = e.at.astimezone(UTC).isoformat().replace("+00:00", "Z")
                writer.writerow(
                    [e.id, at, e.key_id or "", e.key_prefix or "", e.key_name or "",
                     e.device_id or "", e.what, e.rows]
                )  # fmt: skip
            yield out.getvalue()
