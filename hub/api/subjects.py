"""/privacy/devices/{id}/export and /erase: data subject requests (admin).

The same work as ``hub privacy export|erase`` (hub.privacy.subject). The export of a
personal device also needs the key's ``personal`` permission, like every other read
of a household's own data. Each request uses its own connection (an erasure runs
TimescaleDB refreshes, which cannot run inside the pool's transaction; an export
streams a zip of any size through a temporary file, not memory).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from hub.api.auth import Admin
from hub.api.deps import API_PREFIX, AppSettings
from hub.api.privacy import visibility_of
from hub.api.problems import responses
from hub.errors import Forbidden, NotFound
from hub.privacy import subject
from hub.store import queries_meta
from hub.store import subject as subject_store
from hub.store.db import aconnect

router = APIRouter(prefix=f"{API_PREFIX}/privacy", tags=["privacy"])

DeviceId = Path(min_length=1, max_length=64, description="The device id.")
CHUNK = 64 * 1024


class ZipResponse(StreamingResponse):
    media_type = "application/zip"


class ErasureOut(BaseModel):
    """That an erasure happened: the record kept in place of the data."""

    id: int
    at: datetime
    device_hash: str = Field(description="SHA-256 (hex) of the device id; the id is not kept.")
    counts: dict[str, int] = Field(description="Rows deleted, by kind.")


class ErasureRecord(BaseModel):
    id: int
    at: datetime
    profile: str
    data_class: str
    requested_by: str
    counts: dict[str, int]


async def _file_chunks(handle: Any) -> AsyncIterator[bytes]:
    try:
        handle.seek(0)
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()


@router.get(
    "/devices/{device_id}/export.zip",
    summary="Everything the hub holds on one device, as a zip of CSV + JSON",
    response_class=ZipResponse,
    responses={200: {"content": {"application/zip": {}}}, **responses(401, 403, 404, 422)},
)
async def export_device(
    settings: AppSettings, principal: Admin, device_id: str = DeviceId
) -> ZipResponse:
    """The registry row, raw readings, hourly and daily rollups, alerts with their
    history, rules, dead letters and access-log entries of the device
    (`hub privacy export`). A personal device needs a key with the `personal` permission."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _file_chunks once sent
    try:
        async with await aconnect(settings.database_url, "privacy-export") as conn:
            device = await subject_store.find_device(conn, device_id)
            if device is None:
                raise NotFound(f"no device {device_id!r}")
            vis = visibility_of(principal)
            if not vis.reads(device.data_class):
                raise Forbidden(
                    f"{device_id!r} is {device.data_class} data: exporting it needs a key with "
                    "the 'personal' permission"
                )
            await subject.export_device(
                conn,
                device_id,
                handle,
                reader=vis,
                what=f"GET /api/v1/privacy/devices/{device_id}/export.zip",
            )
    except BaseException:
        handle.close()
        raise
    return ZipResponse(
        _file_chunks(handle),
        headers={"Content-Disposition": f'attachment; filename="{device_id}-export.zip"'},
    )


@router.post(
    "/devices/{device_id}/erase",
    summary="Delete everything the hub holds on one device",
    response_model=ErasureOut,
    responses=responses(401, 403, 404, 422),
)
async def erase_device(
    settings: AppSettings, principal: Admin, device_id: str = DeviceId
) -> ErasureOut:
    """Raw readings, rollups, alerts, rules, dead letters and the registry row go
    (`hub privacy erase`); what stays is a record that the erasure happened, under a
    hash of the id. District aggregates of the remaining devices stay."""
    async with await aconnect(settings.database_url, "privacy-erase", autocommit=True) as conn:
        level = await queries_meta.storage_level(conn) or "plain"
        erasure = await subject.erase_device(
            conn,
            device_id,
            level=level,
            requested_by=principal.actor,
            personal_retention_days=settings.personal_retention_days,
        )
    return ErasureOut(
        id=erasure.id, at=erasure.at, device_hash=erasure.device_hash, counts=erasure.counts
    )


@router.get(
    "/erasures",
    summary="The erasure records of a device id",
    response_model=list[ErasureRecord],
    responses=responses(401, 403, 422),
)
async def list_erasures(
    settings: AppSettings,
    _: Admin,
    device_id: str = Query(min_length=1, max_length=64, description="The device id."),
) -> list[ErasureRecord]:
    """Looked up by the id's hash: answers "was this device erased, when and by whom"."""
    async with await aconnect(settings.database_url, "privacy-erasures") as conn:
        found = await subject.erasures_of(conn, device_id)
    return [ErasureRecord(**row) for row in found]
