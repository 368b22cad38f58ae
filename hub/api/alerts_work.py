"""/alerts work: assign an alert to a person or crew, add notes, and export the
inbox as CSV with the inbox's filters. Changes are published on the live stream
like acknowledgements, so every open inbox follows them."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response

from hub.api.alerts import AlertId, _published
from hub.api.auth import Operator
from hub.api.deps import API_PREFIX, DbConn
from hub.api.privacy import Visible
from hub.api.problems import responses
from hub.api.schemas.alerts import AlertOut, AlertState, AssignIn, NoteIn, NoteOut, Severity
from hub.errors import NotFound
from hub.store import alerts as alert_store
from hub.store import alerts_work as store

router = APIRouter(prefix=f"{API_PREFIX}/alerts", tags=["alerts"])

EXPORT_LIMIT = 100_000  # rows of one export; more is a sign the filters are missing
CSV_COLUMNS = (
    "id", "state", "severity", "device_id", "profile", "district", "rule", "message",
    "value", "opened_at", "acknowledged_at", "acknowledged_by", "assignee", "assigned_at",
    "resolved_at", "resolved_by",
)  # fmt: skip


def _time(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


@router.get(
    "/export.csv",
    summary="The inbox as CSV, with the inbox's filters",
    response_class=Response,
    responses={**responses(401, 422), 200: {"content": {"text/csv": {}}}},
)
async def export_csv(
    conn: DbConn,
    vis: Visible,
    state: Annotated[
        list[AlertState] | None,
        Query(description="States to export (repeatable); default open and acknowledged."),
    ] = None,
    severity: Annotated[Severity | None, Query()] = None,
    profile: Annotated[str | None, Query(max_length=63)] = None,
    district: Annotated[str | None, Query(max_length=200)] = None,
    assignee: Annotated[str | None, Query(max_length=200)] = None,
    unassigned: Annotated[bool, Query(description="Only alerts nobody is assigned to.")] = False,
) -> Response:
    """One row per alert, newest first, times in RFC 3339 (UTC), UTF-8 with a header
    row; at most 100,000 rows."""
    alerts = await store.export_alerts(
        conn,
        states=state or ["open", "acknowledged"],
        severity=severity,
        profile=profile,
        district=district,
        assignee=assignee,
        unassigned=unassigned,
        limit=EXPORT_LIMIT,
        vis=vis,
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends
    writer.writerow(CSV_COLUMNS)
    for a in alerts:
        writer.writerow(
            [
                a.id, a.state, a.severity, a.device_id, a.profile, a.district or "",
                a.rule_name, a.message, "" if a.value is None else repr(a.value),
                _time(a.opened_at), _time(a.acknowledged_at), a.acknowledged_by or "",
                a.assignee or "", _time(a.assigned_at), _time(a.resolved_at), a.resolved_by or "",
            ]
        )  # fmt: skip
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="alerts.csv"'},
    )


@router.post(
    "/{alert_id}/assign",
    summary="Assign an alert to a person or crew (operator)",
    response_model=AlertOut,
    responses=responses(401, 403, 404, 422),
)
async def assign(
    alert_id: AlertId, body: AssignIn, request: Request, conn: DbConn, who: Operator, vis: Visible
) -> AlertOut:
    """Whoever works on it; `null` takes the assignment back. A resolved alert may be
    assigned too (for the follow-up work)."""
    name = body.assignee.strip() if body.assignee is not None else None
    alert = await store.assign(conn, alert_id, assignee=name or None, actor=who.actor)
    return await _published(request, conn, alert, alert_id, vis)


@router.post(
    "/{alert_id}/notes",
    summary="Add a note to an alert (operator)",
    status_code=status.HTTP_201_CREATED,
    response_model=NoteOut,
    responses=responses(401, 403, 404, 422),
)
async def add_note(alert_id: AlertId, body: NoteIn, conn: DbConn, who: Operator) -> NoteOut:
    note = await store.add_note(
        conn, alert_id, author=who.actor, text=body.text.strip() or body.text
    )
    if note is None:
        raise NotFound(f"no alert {alert_id}")
    return NoteOut.of(note)


@router.get(
    "/{alert_id}/notes",
    summary="The notes of an alert, oldest first",
    response_model=list[NoteOut],
    responses=responses(401, 404),
)
async def list_notes(alert_id: AlertId, conn: DbConn, vis: Visible) -> list[NoteOut]:
    if await alert_store.get_alert(conn, alert_id, vis) is None:
        raise NotFound(f"no alert {alert_id}")
    return [NoteOut.of(n) for n in await store.notes(conn, alert_id)]
