"""NGSI-LD subscriptions on the hub (ETSI GS CIM 009 clause 5.8, 6.10-6.11):
``POST/GET /ngsi-ld/v1/subscriptions``, ``GET/DELETE .../{id}``.

A subscription names entities (type, and optionally id or idPattern),
``watchedAttributes``, a ``q`` and a ``geoQ``; a committed reading that changes a
watched attribute of a selected entity for which ``q`` and ``geoQ`` hold queues a
notification to ``notification.endpoint.uri`` (no more often than
``throttling`` seconds), sent by :mod:`hub.ngsi.notify` with the alert
notifier's retry policy. Subscriptions are stored in PostgreSQL and survive
restarts. Managing them needs an operator key (they name outside endpoints).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Request, Response

from hub.api.auth import Operator
from hub.api.deps import DbConn
from hub.ngsi import http, mapping
from hub.ngsi.errors import (
    AlreadyExists,
    BadRequestData,
    InvalidRequest,
    OperationNotSupported,
    ResourceNotFound,
    UnsupportedMediaType,
    responses,
)
from hub.ngsi.geo import Predicate as GeoPredicate
from hub.ngsi.geo import parse_geo
from hub.ngsi.query import Predicate, parse_q
from hub.store import ngsi_subscriptions as store

router = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD subscriptions"])

FORMATS = ("normalized", "keyValues", "concise")
_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An NGSI-LD Subscription (ETSI GS CIM 009 clause 5.2.12).",
    "required": ["type", "notification"],
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string", "enum": ["Subscription"]},
        "entities": {"type": "array", "items": {"type": "object"}},
        "watchedAttributes": {"type": "array", "items": {"type": "string"}},
        "q": {"type": "string"},
        "geoQ": {"type": "object"},
        "throttling": {"type": "number", "minimum": 0},
        "notification": {"type": "object"},
    },
}


@dataclass(frozen=True, slots=True)
class Selector:
    type: str
    id: str | None
    pattern: re.Pattern[str] | None

    def matches(self, entity: mapping.Entity) -> bool:
        if entity["type"] != self.type:
            return False
        if self.id is not None and entity["id"] != self.id:
            return False
        return self.pattern is None or self.pattern.search(str(entity["id"])) is not None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A stored subscription, compiled for matching."""

    id: str
    selectors: tuple[Selector, ...]
    watched: frozenset[str] | None
    q: Predicate | None
    geo: GeoPredicate | None
    attributes: tuple[str, ...] | None
    format: str
    uri: str
    accept: str
    headers: dict[str, str]
    throttling: float
    active: bool
    expires_at: datetime | None
    context: str | None

    def live(self, now: datetime) -> bool:
        return self.active and (self.expires_at is None or now < self.expires_at)

    def matches(self, entity: mapping.Entity, changed: Collection[str]) -> bool:
        if self.selectors and not any(s.matches(entity) for s in self.selectors):
            return False
        if self.watched is not None and not (self.watched & set(changed)):
            return False
        if self.q is not None and not self.q(entity):
            return False
        return self.geo is None or self.geo(entity)


def _fail(detail: str) -> BadRequestData:
    return BadRequestData(detail)


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(f"{name}: must be a list of names")
    return [http.compact(v) for v in value]


def _time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise _fail(f"{name}: must be a date-time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"{name}: not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise _fail(f"{name}: needs a time zone")
    return parsed.astimezone(UTC)


def compile_subscription(subscription_id: str, body: dict[str, Any]) -> Subscription:
    """Check a subscription document and compile it; BadRequestData names what is wrong."""
    if body.get("type") != "Subscription":
        raise _fail("type: must be 'Subscription'")
    selectors: list[Selector] = []
    entities = body.get("entities")
    if entities is not None:
        if not isinstance(entities, list) or not entities:
            raise _fail("entities: must be a non-empty list")
        for index, item in enumerate(entities):
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                raise _fail(f"entities[{index}]: needs a type")
            pattern = item.get("idPattern")
            try:
                compiled = re.compile(pattern) if isinstance(pattern, str) else None
            except re.error:
                raise _fail(f"entities[{index}].idPattern: not a regular expression") from None
            ident = item.get("id")
            if ident is not None and not isinstance(ident, str):
                raise _fail(f"entities[{index}].id: must be a URI")
            selectors.append(Selector(http.compact(item["type"]), ident, compiled))
    watched_list = body.get("watchedAttributes")
    watched = (
        frozenset(_strings(watched_list, "watchedAttributes")) if watched_list is not None else None
    )
    if not selectors and watched is None:
        raise _fail("a subscription needs entities or watchedAttributes")
    if "timeInterval" in body:
        raise OperationNotSupported("timeInterval: periodic notifications are not supported")
    q_text = body.get("q")
    if q_text is not None and not isinstance(q_text, str):
        raise _fail("q: must be a string")
    geo_q = body.get("geoQ")
    geo = None
    if geo_q is not None:
        if not isinstance(geo_q, dict):
            raise _fail("geoQ: must be an object")
        coords = geo_q.get("coordinates")
        geo = parse_geo(
            geo_q.get("georel"),
            geo_q.get("geometry"),
            coords if isinstance(coords, str) or coords is None else orjson.dumps(coords).decode(),
            geo_q.get("geoproperty"),
        )
    notification = body.get("notification")
    if not isinstance(notification, dict):
        raise _fail("notification: is required")
    endpoint = notification.get("endpoint")
    if not isinstance(endpoint, dict) or not isinstance(endpoint.get("uri"), str):
        raise _fail("notification.endpoint.uri: is required")
    uri = endpoint["uri"]
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OperationNotSupported("notification.endpoint.uri: the hub notifies http(s) endpoints")
    accept = endpoint.get("accept", http.JSON)
    if accept not in (http.JSON, http.JSON_LD):
        raise _fail("notification.endpoint.accept: application/json or application/ld+json")
    headers: dict[str, str] = {}
    for index, item in enumerate(endpoint.get("receiverInfo") or []):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("key", "value")
        ):
            raise _fail(f"notification.endpoint.receiverInfo[{index}]: needs key and value")
        headers[item["key"]] = item["value"]
    form = notification.get("format", "normalized")
    if form not in FORMATS:
        raise _fail(f"notification.format: one of {', '.join(FORMATS)}")
    attrs = notification.get("attributes")
    throttling = body.get("throttling", 0)
    if not isinstance(throttling, int | float) or isinstance(throttling, bool) or throttling < 0:
        raise _fail("throttling: must be a number of seconds >= 0")
    active = body.get("isActive", True)
    if not isinstance(active, bool):
        raise _fail("isActive: must be true or false")
    expires = body.get("expiresAt")
    context = body.get("@context")
    return Subscription(
        id=subscription_id,
        selectors=tuple(selectors),
        watched=watched,
        q=parse_q(q_text) if q_text is not None else None,
        geo=geo,
        attributes=tuple(_strings(attrs, "notification.attributes")) if attrs else None,
        format=form,
        uri=uri,
        accept=accept,
        headers=headers,
        throttling=float(throttling),
        active=active,
        expires_at=_time(expires, "expiresAt") if expires is not None else None,
        context=context if isinstance(context, str) else None,
    )


async def _body(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in (http.JSON, http.JSON_LD):
        raise UnsupportedMediaType("send application/json or application/ld+json")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise InvalidRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    if kind == http.JSON_LD:
        if "@context" not in body:
            raise BadRequestData("application/ld+json needs @context in the body")
        if request.headers.get("link"):
            raise BadRequestData("application/ld+json takes its @context from the body, not Link")
    else:
        if "@context" in body:
            raise BadRequestData("application/json carries no @context; send it in Link")
        body["@context"] = http.request_context(request)
    return body


def _document(stored: store.Stored) -> dict[str, Any]:
    body = {k: v for k, v in stored.body.items() if k != "@context"}
    now = datetime.now(UTC)
    compiled = compile_subscription(stored.id, stored.body)
    status = "active" if compiled.live(now) else ("paused" if not compiled.active else "expired")
    notification = dict(body.get("notification", {}))
    notification["timesSent"] = stored.times_sent
    for key, value in (
        ("lastNotification", stored.last_notification),
        ("lastSuccess", stored.last_success),
        ("lastFailure", stored.last_failure),
    ):
        if value is not None:
            notification[key] = mapping.iso(value)
    failed = stored.last_failure is not None and (
        stored.last_success is None or stored.last_failure > stored.last_success
    )
    notification["status"] = "failed" if failed else "ok"
    return {**body, "id": stored.id, "status": status, "notification": notification}


@router.post(
    "/subscriptions",
    status_code=201,
    summary="Create a subscription",
    response_class=Response,
    responses={
        201: {"description": "Created; Location names it.", "content": {}},
        **responses(400, 401, 403, 409, 415, 422, ok=None),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _BODY_SCHEMA},
                "application/ld+json": {"schema": _BODY_SCHEMA},
            },
        }
    },
)
async def create_subscription(request: Request, conn: DbConn, _: Operator) -> Response:
    body = await _body(request)
    subscription_id = body.get("id") or f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    if not isinstance(subscription_id, str) or ":" not in subscription_id:
        raise BadRequestData("id: must be a URI")
    body["id"] = subscription_id
    compile_subscription(subscription_id, body)
    stored = await store.insert(conn, subscription_id, body)
    if stored is None:
        raise AlreadyExists(f"a subscription {subscription_id!r} exists")
    location = f"/ngsi-ld/v1/subscriptions/{subscription_id}"
    return Response(status_code=201, headers={"Location": location})


@router.get(
    "/subscriptions",
    summary="The subscriptions",
    responses=responses(400, 401, 403, 406, 422),
)
async def list_subscriptions(request: Request, conn: DbConn, _: Operator) -> Response:
    size = http.integer(request, "limit", http.DEFAULT_LIMIT, low=1, high=http.MAX_LIMIT)
    skip = http.integer(request, "offset", 0, low=0, high=10**9)
    rows, total = await store.list_page(conn, limit=size, offset=skip)
    headers = {"NGSILD-Results-Count": str(total)} if http.flag(request, "count") else {}
    return http.respond(request, [_document(r) for r in rows], headers=headers, geo=False)


@router.get(
    "/subscriptions/{subscription_id:path}",
    summary="One subscription",
    responses=responses(400, 401, 403, 404, 406, 422),
)
async def get_subscription(
    subscription_id: str, request: Request, conn: DbConn, _: Operator
) -> Response:
    stored = await store.get(conn, subscription_id)
    if stored is None:
        raise ResourceNotFound(f"no subscription {subscription_id!r}")
    return http.respond(request, _document(stored), geo=False)


@router.delete(
    "/subscriptions/{subscription_id:path}",
    status_code=204,
    summary="Delete one",
    response_class=Response,
    responses={204: {"description": "Deleted."}, **responses(401, 403, 404, 422, ok=None)},
)
async def delete_subscription(subscription_id: str, conn: DbConn, _: Operator) -> Response:
    if not await store.delete(conn, subscription_id):
        raise ResourceNotFound(f"no subscription {subscription_id!r}")
    return Response(status_code=204)
