"""/stream: Server-Sent Events of committed readings, status and alert changes.

Each client gets its own bounded buffer on the event bus (``HUB_SSE_BUFFER``
events). Publishing never waits for a client: one that falls that far behind is
cut off, told so with an ``overflow`` event when it reads again, and logged; the
browser's EventSource then reconnects by itself. An idle stream carries a comment
line every ``HUB_SSE_HEARTBEAT_S`` so proxies keep it open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import StreamingResponse

from hub.api.deps import API_PREFIX, AppSettings
from hub.api.privacy import Visible
from hub.api.problems import responses
from hub.events import Event, EventFilter, Subscription
from hub.privacy import policy
from hub.privacy.access_log import Read, record_now
from hub.privacy.directory import ClassDirectory
from hub.privacy.policy import UNRESTRICTED, Visibility

log = logging.getLogger(__name__)

router = APIRouter(prefix=API_PREFIX, tags=["live"])

EventKind = Literal["reading", "status", "alert"]
RETRY_MS = 3000


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


def close_streams(app: FastAPI) -> None:
    """End every open live stream (call before stopping the server: an open stream
    would otherwise keep a graceful shutdown waiting)."""
    app.state.streams_closing.set()


def install(app: FastAPI) -> None:
    app.state.streams_closing = asyncio.Event()


def event_filter(
    types: Sequence[str] | None,
    devices: Sequence[str] | None,
    profiles: Sequence[str] | None,
    metrics: Sequence[str] | None,
    vis: Visibility = UNRESTRICTED,
    classes: ClassDirectory | None = None,
) -> EventFilter:
    kinds, ids, names, wanted = (set(x) if x else None for x in (types, devices, profiles, metrics))

    def shown(event: Event) -> bool:
        if classes is None or not vis.restricted:
            return True
        return policy.event_shown(vis, classes.class_of(event.device_id, event.profile), event.type)

    def accept(event: Event) -> bool:
        return (
            shown(event)
            and (kinds is None or event.type in kinds)
            and (ids is None or event.device_id in ids)
            and (names is None or event.profile in names)
            and (wanted is None or event.type != "reading" or event.data.get("metric") in wanted)
        )

    return accept


def format_event(event: Event, data: dict[str, Any] | None = None) -> str:
    body = {
        "type": event.type,
        "device_id": event.device_id,
        "profile": event.profile,
        "time": event.time.isoformat().replace("+00:00", "Z"),
        **(event.data if data is None else data),
    }
    return f"event: {event.type}\ndata: {orjson.dumps(body).decode()}\n\n"


@router.get(
    "/stream",
    summary="Live readings, device status and alert changes (Server-Sent Events)",
    response_class=EventStreamResponse,
    responses={
        200: {
            "description": "An endless `text/event-stream`. Events `reading`, `status` and "
            "`alert`, each with a JSON `data` line; `overflow` just before the hub ends "
            "the stream of a client too slow to keep up (reconnect); comment lines as "
            "keep-alive.",
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "example": 'event: reading\ndata: {"type":"reading","device_id":"sl-0042",'
                    '"profile":"street_light","time":"2026-01-01T00:00:00Z",'
                    '"metric":"power","value":41.5}\n\n',
                }
            },
        },
        **responses(401, 422),
    },
)
async def stream(
    request: Request,
    vis: Visible,
    settings: AppSettings,
    type: Annotated[
        list[EventKind] | None, Query(description="Only these event types (repeatable).")
    ] = None,
    device: Annotated[
        list[str] | None, Query(max_length=500, description="Only these device ids.")
    ] = None,
    profile: Annotated[
        list[str] | None, Query(max_length=50, description="Only these profiles.")
    ] = None,
    metric: Annotated[
        list[str] | None, Query(max_length=50, description="Only readings of these metrics.")
    ] = None,
) -> EventStreamResponse:
    """Events as they are committed: no history (read that from the other
    endpoints), nothing replayed after a reconnect. Only events of devices the
    reader may see; readings only of devices whose own data it may read
    (docs/privacy.md)."""
    client = f"{request.client.host}:{request.client.port}" if request.client else "client"
    subscription = request.app.state.bus.subscribe(
        maxsize=settings.sse_buffer,
        accept=event_filter(type, device, profile, metric, vis, request.app.state.classes),
        name=f"live stream {client}",
    )
    closing: asyncio.Event = request.app.state.streams_closing
    audit = _StreamAudit(vis, request.app.state.classes, settings.database_url)
    return EventStreamResponse(
        _events(
            subscription, closing, settings.sse_heartbeat_s, client, settings.sse_buffer, audit
        ),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(
    subscription: Subscription,
    closing: asyncio.Event,
    heartbeat_s: float,
    client: str,
    buffer: int,
    audit: _StreamAudit,
) -> AsyncIterator[str]:
    events = aiter(subscription)
    pending: asyncio.Future[Any] = asyncio.ensure_future(anext(events))
    stop: asyncio.Future[Any] = asyncio.ensure_future(closing.wait())
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        while True:
            done, _ = await asyncio.wait(
                {pending, stop}, timeout=heartbeat_s, return_when=asyncio.FIRST_COMPLETED
            )
            if stop in done:
                return
            if pending not in done:
                yield ": keep-alive\n\n"
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                if subscription.overflowed:
                    log.warning(
                        "live stream %s fell %d events behind: disconnected", client, buffer
                    )
                    yield 'event: overflow\ndata: {"detail":"too slow; reconnect"}\n\n'
                return
            yield format_event(event, audit.shown(event))
            pending = asyncio.ensure_future(anext(events))
    finally:
        audit.close()
        subscription.close()
        # Not awaited: this also runs when the client went away and the task is cancelled.
        pending.cancel()
        stop.cancel()


_AUDIT_TASKS: set[asyncio.Task[None]] = set()


class _StreamAudit:
    """What one stream shows of each event, and the personal readings it sent (logged
    when the stream ends, one entry per device: hub.privacy.access_log)."""

    def __init__(self, vis: Visibility, classes: ClassDirectory, url: str) -> None:
        self.vis, self.classes, self.url = vis, classes, url
        self.sent: dict[str, int] = {}

    def shown(self, event: Event) -> dict[str, Any] | None:
        if not self.vis.restricted and not self.vis.audited:
            return None
        data_class = self.classes.class_of(event.device_id, event.profile)
        if event.type == "reading" and self.vis.logs(data_class):
            self.sent[event.device_id] = self.sent.get(event.device_id, 0) + 1
        if event.type == "alert":
            return policy.shown_alert(self.vis, data_class, event.data)
        return None

    def close(self) -> None:
        if not self.sent:
            return
        reads = [Read(d, "GET /api/v1/stream", n) for d, n in sorted(self.sent.items())]
        self.sent = {}
        task = asyncio.get_running_loop().create_task(record_now(self.url, self.vis, reads))
        _AUDIT_TASKS.add(task)
        task.add_done_callback(_AUDIT_TASKS.discard)
