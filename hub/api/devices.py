"""/devices: list with filters, detail, and operators' changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from hub.api import cursor, params
from hub.api.auth import Operator
from hub.api.deps import API_PREFIX, DbConn, Profiles
from hub.api.params import Cursor, DeviceId, Limit
from hub.api.privacy import Visible, require_listed, visibility_of
from hub.api.problems import responses
from hub.api.schemas.alerts import AlertOut
from hub.api.schemas.devices import (
    DeviceCreate,
    DeviceDetail,
    DeviceOut,
    DevicePage,
    DevicePatch,
    LatestValue,
    MetricState,
    UnmappedField,
)
from hub.errors import ConflictError, InvalidParameter, NotFound
from hub.model import Device
from hub.privacy.access_log import Read, record
from hub.privacy.policy import Visibility
from hub.profiles import Profile
from hub.store import alerts as alert_store
from hub.store import devices as store
from hub.store import readings as reading_store
from hub.store.db import AsyncConn

router = APIRouter(prefix=f"{API_PREFIX}/devices", tags=["devices"])

DeviceQuery = Annotated[store.DeviceFilter, Depends(params.device_filter(by_id=False))]


async def page_of_devices(
    conn: AsyncConn, where: store.DeviceFilter, limit: int, after: str | None
) -> tuple[list[Device], str | None]:
    """One page and the cursor of the next (None on the last page)."""
    start = cursor.decode(after, str)[0] if after is not None else None
    found = await store.list_devices(conn, where, limit=limit + 1, after=start)
    more = len(found) > limit
    page = found[:limit]
    return page, cursor.encode(page[-1].device_id) if more and page else None


@router.get(
    "",
    summary="List devices",
    response_model=DevicePage,
    responses=responses(401),
)
async def list_devices(
    conn: DbConn,
    where: DeviceQuery,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> DevicePage:
    """Devices by id, filtered by profile, status, district, bounding box and text,
    a page at a time."""
    page, next_cursor = await page_of_devices(conn, where, limit, cursor)
    return DevicePage(items=[DeviceOut.of(d) for d in page], next_cursor=next_cursor)


@router.get(
    "/{device_id}",
    summary="One device with its latest values and open alerts",
    response_model=DeviceDetail,
    responses=responses(401, 404),
)
async def get_device(
    device_id: DeviceId, conn: DbConn, vis: Visible, profiles: Profiles
) -> DeviceDetail:
    """A device whose own data the reader may not read (a personal one, without the
    personal permission) comes without latest values, name and exact place."""
    device = await require_listed(conn, device_id, vis)
    return await _detail(conn, device, profiles.get(device.profile), vis)


async def _detail(
    conn: AsyncConn, device: Device, profile: Profile | None, vis: Visibility
) -> DeviceDetail:
    own = vis.reads(device.data_class)
    found = await reading_store.latest(conn, [device.id]) if own else []
    latest = {x.metric: x for x in found}
    if vis.logs(device.data_class):
        await record(conn, vis, [Read(device.device_id, "GET /api/v1/devices/{id}", len(found))])
    names = list(profile.metrics) if profile is not None else []
    names += sorted(m for m in latest if m not in names)
    metrics = []
    for name in names:
        spec = profile.metrics.get(name) if profile is not None else None
        value = latest.get(name)
        metrics.append(
            MetricState(
                name=name,
                unit=spec.unit if spec else None,
                type=spec.type if spec else None,
                description=spec.description if spec else None,
                latest=LatestValue(time=value.time, value=value.value) if value else None,
            )
        )
    unresolved = [
        *await alert_store.list_alerts(conn, state="open", device_id=device.device_id, vis=vis),
        *await alert_store.list_alerts(
            conn, state="acknowledged", device_id=device.device_id, vis=vis
        ),
    ]
    unresolved.sort(key=lambda a: a.id, reverse=True)
    return DeviceDetail(
        **DeviceOut.of(device).model_dump(),
        profile_description=profile.description if profile else None,
        expected_interval_s=profile.expected_interval_s if profile else None,
        metrics=metrics,
        open_alerts=[AlertOut.of(a) for a in unresolved],
        unmapped_fields=[
            UnmappedField(field=u.field, count=u.count, last_seen=u.last_seen)
            for u in await store.unmapped_fields(conn, device.id)
        ],
    )


def _identity(changes: dict[str, object]) -> dict[str, object]:
    """DevEUIs are kept upper-case (the API takes either case)."""
    eui = changes.get("dev_eui")
    if isinstance(eui, str):
        changes["dev_eui"] = eui.upper()
    return changes


def _known_profile(name: str, profiles: dict[str, Profile]) -> None:
    if name not in profiles:
        raise InvalidParameter(
            "profile",
            f"unknown profile {name!r} (known: {', '.join(sorted(profiles))})",
            location="body",
        )


@router.post(
    "",
    summary="Register a device (operator)",
    status_code=status.HTTP_201_CREATED,
    response_model=DeviceOut,
    responses=responses(401, 403, 409),
)
async def create_device(
    body: DeviceCreate, request: Request, conn: DbConn, operator: Operator, profiles: Profiles
) -> DeviceOut:
    _known_profile(body.profile, profiles)
    vis = visibility_of(operator)
    try:
        device = await store.create_device(conn, **_identity(body.model_dump()), vis=vis)  # type: ignore[arg-type]
    except store.IdentityTaken as exc:
        raise ConflictError(
            f"{exc.field} {getattr(body, exc.field)!r} belongs to another device"
        ) from None
    if device is None:
        raise ConflictError(f"device {body.device_id!r} is already registered")
    request.app.state.classes.set_device(device.device_id, device.data_class)
    return DeviceOut.of(device)


@router.patch(
    "/{device_id}",
    summary="Change a device's profile, name, district, location or identities (operator)",
    response_model=DeviceOut,
    responses=responses(401, 403, 404, 409),
)
async def update_device(
    device_id: DeviceId,
    body: DevicePatch,
    request: Request,
    conn: DbConn,
    operator: Operator,
    profiles: Profiles,
) -> DeviceOut:
    changes = _identity(body.model_dump(include=body.model_fields_set))
    if changes.get("profile") is not None:
        _known_profile(str(changes["profile"]), profiles)
    try:
        device = await store.update_device(conn, device_id, changes, visibility_of(operator))
    except store.IdentityTaken as exc:
        raise ConflictError(
            f"{exc.field} {changes[exc.field]!r} belongs to another device"
        ) from None
    if device is None:
        raise NotFound(f"no device {device_id!r}")
    request.app.state.classes.set_device(device.device_id, device.data_class)
    return DeviceOut.of(device)


@router.post(
    "/{device_id}/decommission",
    summary="Take a device out of service (operator)",
    response_model=DeviceOut,
    responses=responses(401, 403, 404),
)
async def decommission_device(device_id: DeviceId, conn: DbConn, operator: Operator) -> DeviceOut:
    """The device and its data stay; the ingest refuses its messages from now on
    (they become dead letters). Repeating it changes nothing."""
    device = await store.decommission(conn, device_id, visibility_of(operator))
    if device is None:
        raise NotFound(f"no device {device_id!r}")
    return DeviceOut.of(device)
