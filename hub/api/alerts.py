"""/alerts: list and filter, detail with history and notes, acknowledge and resolve
(assignment, notes and the CSV export are in hub.api.alerts_work)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from hub.alerts.events import alert_event
from hub.api import cursor as cursors
from hub.api.auth import Operator
from hub.api.deps import API_PREFIX, DbConn
from hub.api.params import Cursor
from hub.api.privacy import Visible
from hub.api.problems import responses
from hub.api.schemas.alerts import (
    AlertAction,
    AlertDetail,
    AlertEventOut,
    AlertOut,
    AlertPage,
    AlertState,
    NoteOut,
    Severity,
)
from hub.errors import NotFound
from hub.model import Alert
from hub.privacy.policy import Visibility
from hub.store import alerts as store
from hub.store import alerts_work as work

router = APIRouter(prefix=f"{API_PREFIX}/alerts", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=2**62, description="The alert's id.")]


@router.get(
    "", summary="List alerts, newest first", response_model=AlertPage, responses=responses(401, 422)
)
async def list_alerts(
    conn: DbConn,
    vis: Visible,
    state: Annotated[AlertState | None, Query(description="Only alerts in this state.")] = None,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    profile: Annotated[str | None, Query(max_length=63)] = None,
    district: Annotated[str | None, Query(max_length=200)] = None,
    severity: Annotated[Severity | None, Query()] = None,
    assignee: Annotated[
        str | None,
        Query(max_length=200, description="Only alerts assigned to this person or crew."),
    ] = None,
    unassigned: Annotated[bool, Query(description="Only alerts nobody is assigned to.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> AlertPage:
    before = cursors.decode(cursor, int)[0] if cursor is not None else None
    found = await store.list_alerts(
        conn,
        state=state,
        device_id=device_id,
        profile=profile,
        district=district,
        severity=severity,
        assignee=assignee,
        unassigned=unassigned,
        limit=limit + 1,
        before_id=before,
        vis=vis,
    )
    page = found[:limit]
    more = len(found) > limit
    return AlertPage(
        items=[AlertOut.of(a) for a in page],
        next_cursor=cursors.encode(page[-1].id) if more and page else None,
    )


@router.get(
    "/{alert_id}",
    summary="One alert with its history",
    response_model=AlertDetail,
    responses=responses(401, 404),
)
async def get_alert(alert_id: AlertId, conn: DbConn, vis: Visible) -> AlertDetail:
    alert = await store.get_alert(conn, alert_id, vis)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    history = await store.alert_history(conn, alert_id)
    notes = await work.notes(conn, alert_id)
    return AlertDetail(
        **AlertOut.of(alert).model_dump(),
        history=[AlertEventOut.of(e) for e in history],
        notes=[NoteOut.of(n) for n in notes],
    )


async def _published(
    request: Request, conn: DbConn, alert: Alert | None, alert_id: int, vis: Visibility
) -> AlertOut:
    """The changed alert to the live stream (whole: the stream shapes it per reader)
    and, as the writer may see it, to the writer (without its reading, for a personal
    device, unless the key has the personal permission)."""
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    await conn.commit()  # live clients hear of it only once it is stored
    request.app.state.bus.publish(alert_event(alert))
    shown = await store.get_alert(conn, alert_id, vis)
    if shown is None:  # cannot happen for a writer (operators see every device)
        raise NotFound(f"no alert {alert_id}")
    return AlertOut.of(shown)


@router.post(
    "/{alert_id}/acknowledge",
    summary="Acknowledge an open alert (operator)",
    response_model=AlertOut,
    responses=responses(401, 403, 404, 409),
)
async def acknowledge(
    alert_id: AlertId,
    request: Request,
    conn: DbConn,
    who: Operator,
    vis: Visible,
    body: AlertAction | None = None,
) -> AlertOut:
    """Someone is on it. Acknowledging again changes nothing; a resolved alert
    cannot be acknowledged (409)."""
    note = body.note if body is not None else None
    alert = await store.acknowledge(conn, alert_id, actor=who.actor, note=note)
    return await _published(request, conn, alert, alert_id, vis)


@router.post(
    "/{alert_id}/resolve",
    summary="Resolve an alert (operator)",
    response_model=AlertOut,
    responses=responses(401, 403, 404, 409),
)
async def resolve(
    alert_id: AlertId,
    request: Request,
    conn: DbConn,
    who: Operator,
    vis: Visible,
    body: AlertAction | None = None,
) -> AlertOut:
    """Close the alert by hand; resolving again changes nothing. If the condition
    still holds, the engine opens a new alert."""
    note = body.note if body is not None else None
    alert = await store.resolve(conn, alert_id, actor=who.actor, note=note)
    return await _published(request, conn, alert, alert_id, vis)
