"""HTTP ingest: The Things Stack webhooks, ChirpStack's HTTP integration and the
hub's own JSON/SenML forms, for senders that cannot do MQTT (docs/integrations.md).

Every request goes through the same decode step, batches and commit as the MQTT
traffic, and is answered only when the batch holding it is committed:

    2xx      stored (or a message type that holds no readings: accepted, counted)
    413      body over HUB_MAX_PAYLOAD_BYTES, refused before it is read whole
    422      refused: problem+json with the dead-letter ``reason``; it is also a
             dead letter, kept whole for replay
    401/403  no key, an unknown one, or one whose role may not send
    503      the database is down, the queue is full, or the commit took too long;
             ``Retry-After`` says when to try again. Nothing was taken in that the
             hub could not keep: the sender's retry is the redelivery, and a
             reading stored twice is stored once.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.applications import Starlette
from starlette.routing import Route

from hub.api.deps import API_PREFIX
from hub.api.ingest_auth import SECURITY, SenderUnavailable, authorize_sender
from hub.api.problems import MEDIA_TYPE, Problem, responses
from hub.api.schemas.devices import DEVICE_ID_PATTERN
from hub.errors import InvalidParameter
from hub.ingest import metrics
from hub.ingest.http_gate import GateClosed
from hub.model import DeadLetter
from hub.payloads import Origin
from hub.payloads.formats import chirpstack, tts

router = APIRouter(prefix=API_PREFIX, tags=["ingest"])

# Refusals answered with another status than 422.
_STATUS = {"oversize": HTTPStatus.REQUEST_ENTITY_TOO_LARGE}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Stored (or accepted and counted, for message types without readings)."},
    **responses(401, 403, 413, 422, 503),
}


def _problem(
    status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail).model_dump(
        exclude_none=True
    )
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _unavailable(request: Request, detail: str, **extra: Any) -> JSONResponse:
    retry = str(request.app.state.settings.ingest_retry_after_s)
    metrics.HTTP_UNAVAILABLE.inc()
    return _problem(HTTPStatus.SERVICE_UNAVAILABLE, detail, headers={"Retry-After": retry}, **extra)


async def _body(request: Request) -> bytes | JSONResponse:
    """The request body, read only up to the size limit."""
    limit: int = request.app.state.settings.max_payload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return _problem(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"the body has {declared} bytes, more than {limit} (HUB_MAX_PAYLOAD_BYTES)",
            reason="oversize",
        )
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            return _problem(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body is longer than {limit} bytes (HUB_MAX_PAYLOAD_BYTES)",
                reason="oversize",
            )
    return bytes(chunks)


async def _ingest(request: Request, payload: bytes, origin: Origin) -> Response:
    """Submit one message and answer once its batch is committed."""
    gate = request.app.state.ingest_gate
    if gate is None:  # HUB_ROLES without ingest: a load balancer tries another process
        return _unavailable(
            request,
            "this hub process does not run the ingest (HUB_ROLES="
            f"{request.app.state.settings.roles}); processes with the ingest role serve it",
            role="ingest",
        )
    try:
        submission, done = gate.take(payload, origin)
    except GateClosed as exc:
        return _unavailable(request, exc.detail)
    try:
        committed = await asyncio.wait_for(asyncio.shield(done), gate.wait_s)
    except TimeoutError:
        return _unavailable(
            request, "the database did not commit in time; send the message again later"
        )
    if not committed:
        return _unavailable(request, "the hub is stopping; send the message again later")
    refusal = submission.refusal
    if refusal is not None:
        metrics.HTTP_MESSAGES.labels(origin.source, "refused").inc()
        return _refused(refusal)
    metrics.HTTP_MESSAGES.labels(origin.source, "stored").inc()
    result = submission.result
    readings = (
        len(result.readings) if result is not None and not isinstance(result, DeadLetter) else 0
    )
    device = result.device_id if result is not None else None
    return JSONResponse({"status": "stored", "device_id": device, "readings": readings})


def _refused(dead: DeadLetter) -> JSONResponse:
    status = _STATUS.get(dead.reason, HTTPStatus.UNPROCESSABLE_ENTITY)
    return _problem(
        status,
        f"{dead.reason}: {dead.detail} (kept as a dead letter)",
        reason=dead.reason,
        device_id=dead.device_id,
    )


def _accepted(source: str, kind: str) -> JSONResponse:
    metrics.HTTP_MESSAGES.labels(source, f"ignored:{kind}"[:40]).inc()
    return JSONResponse({"status": "accepted", "stored": False, "message": kind})


async def _authorize(request: Request) -> Response | None:
    """None when the caller may send; a 503 when its key cannot be checked now
    (401/403 are raised as problems)."""
    try:
        await authorize_sender(request)
    except SenderUnavailable as exc:
        return _unavailable(request, str(exc))
    return None


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/integrations/ttn",
    summary="The Things Stack v3 webhook (uplink messages)",
    responses=_RESPONSES,
    openapi_extra=SECURITY,
)
async def ttn_webhook(request: Request) -> Response:
    """Point a TTS webhook (JSON format) here, with the ingest key in a header
    (``Authorization: Bearer <key>`` or ``X-API-Key``). Uplink messages are stored;
    other message types (join accept, downlink events, ...) are answered 200 and
    counted."""
    return await _ttn(request)


async def _ttn(request: Request) -> Response:
    if (refused := await _authorize(request)) is not None:
        return refused
    body = await _body(request)
    if isinstance(body, Response):
        return body
    if b'"uplink_message"' not in body:
        try:
            kind = tts.message_type(orjson.loads(body)) or "unknown"
        except orjson.JSONDecodeError:
            kind = "not-json"
        if kind != "not-json":
            return _accepted("http:ttn", kind)
    origin = Origin(request.url.path, _now(), "tts_v3", "http:ttn")
    return await _ingest(request, body, origin)


@router.post(
    "/integrations/chirpstack",
    summary="ChirpStack v4 HTTP integration (JSON marshaler)",
    responses=_RESPONSES,
    openapi_extra=SECURITY,
)
async def chirpstack_http(
    request: Request,
    event: Annotated[
        str,
        Query(max_length=20, description="The event type ChirpStack adds (`up`, `status`, ...)."),
    ],
) -> Response:
    """Point ChirpStack's HTTP integration here (JSON encoding), with the ingest key
    as an extra header. ``up`` stores the uplink; ``status`` stores the device's
    battery level and link margin; other events are answered 200 and counted."""
    return await _chirpstack(request)


async def _chirpstack(request: Request) -> Response:
    if (refused := await _authorize(request)) is not None:  # first, as elsewhere: 401 before 422
        return refused
    event = request.query_params.get("event")
    if not event or len(event) > 20:
        raise InvalidParameter("event", "the event type is required (up, status, ...)")
    body = await _body(request)
    if isinstance(body, Response):
        return body
    if event not in ("up", "status"):
        return _accepted("http:chirpstack", event if event in chirpstack.EVENTS else "unknown")
    origin = Origin(f"{request.url.path}?event={event}", _now(), "chirpstack_v4", "http:chirpstack")
    return await _ingest(request, body, origin)


@router.post(
    "/ingest/{profile}/{device_id}",
    summary="The hub's own JSON or SenML telemetry over HTTP",
    responses=_RESPONSES,
    openapi_extra=SECURITY,
)
async def hub_telemetry(
    request: Request,
    profile: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", examples=["water_meter"])],
    device_id: Annotated[str, Path(pattern=DEVICE_ID_PATTERN, examples=["wm-0042"])],
) -> Response:
    """The same payloads as on MQTT (``docs/payloads.md``), for gateways and
    platforms that cannot do MQTT: a JSON object of metric values, ``{"ts": ...,
    "metrics": {...}}``, or a SenML pack."""
    return await _hub(request)


_PROFILE_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
_DEVICE_RE = re.compile(DEVICE_ID_PATTERN.strip("^$"))


async def _hub(request: Request) -> Response:
    if (refused := await _authorize(request)) is not None:  # first, as elsewhere: 401 before 422
        return refused
    profile: str = request.path_params["profile"]
    device_id: str = request.path_params["device_id"]
    if not _PROFILE_RE.fullmatch(profile):
        raise InvalidParameter("profile", "a profile name: a-z, 0-9, _", location="path")
    if not _DEVICE_RE.fullmatch(device_id):
        raise InvalidParameter(
            "device_id", "1-64 characters of A-Z a-z 0-9 _ . : -", location="path"
        )
    body = await _body(request)
    if isinstance(body, Response):
        return body
    prefix = request.app.state.settings.topic_prefix
    origin = Origin(f"{prefix}/{profile}/{device_id}/telemetry", _now(), "hub", "http:hub")
    return await _ingest(request, body, origin)


def install(app: Starlette) -> None:
    """Serve the ingest endpoints ahead of every other route, as plain Starlette
    routes: thousands of requests a second skip FastAPI's dependency solving and
    parameter machinery (the FastAPI routes above stay, for the OpenAPI document;
    both call the same functions, and errors become the same problem documents)."""
    fast = [
        Route(f"{API_PREFIX}/integrations/ttn", _ttn, methods=["POST"]),
        Route(f"{API_PREFIX}/integrations/chirpstack", _chirpstack, methods=["POST"]),
        Route(f"{API_PREFIX}/ingest/{{profile}}/{{device_id}}", _hub, methods=["POST"]),
    ]
    for route in reversed(fast):
        route.include_in_schema = False
        app.router.routes.insert(0, route)
