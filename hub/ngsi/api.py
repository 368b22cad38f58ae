"""NGSI-LD context information API (ETSI GS CIM 009 clause 5.7 and 6.4-6.6):
``/ngsi-ld/v1/entities``, ``/types``, ``/attributes`` and the hub's @context.

Entities are built from the store on each request (no copy is kept): the devices
of the asked types are read with their latest values, mapped, then filtered by
``idPattern``, ``q`` and the geo-query in the order of their ids, and cut to
``offset``/``limit``. Reads need what ``/api/v1`` reads need (a key, or
``HUB_OPEN_DATA``).
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from hub.api.deps import DbConn
from hub.api.privacy import Visible
from hub.ngsi import http, mapping
from hub.ngsi.errors import BadRequestData, ResourceNotFound, responses
from hub.ngsi.geo import parse_geo
from hub.ngsi.mapping import Entity, Mapper
from hub.ngsi.query import parse_q
from hub.privacy.access_log import Read, record
from hub.privacy.policy import Visibility
from hub.store import ngsi as store
from hub.store.devices import of_class

PREFIX = "/ngsi-ld/v1"
router = APIRouter(prefix=PREFIX, tags=["NGSI-LD"])


def _mapper(request: Request) -> Mapper:
    mapper: Mapper | None = getattr(request.app.state, "ngsi_mapper", None)
    if mapper is None:
        mapper = Mapper(request.app.state.profiles)
        request.app.state.ngsi_mapper = mapper
    return mapper


Mapping = Annotated[Mapper, Depends(_mapper)]
Text = http.Text


async def select_entities(
    conn: DbConn, mapper: Mapper, request: Request, vis: Visibility
) -> list[Entity]:
    """Every entity the request's type/id/idPattern/q/geo parameters select, by id
    (normalized, all attributes), of the devices whose own data the reader may read."""
    return [entity for entity, _ in await select(conn, mapper, request, vis)]


async def select(
    conn: DbConn, mapper: Mapper, request: Request, vis: Visibility
) -> list[tuple[Entity, store.Located]]:
    """:func:`select_entities`, each entity with the device it comes from."""
    types = http.terms(request, "type")
    ids = http.terms(request, "id")
    pattern_text = http.one(request, "idPattern")
    q_text = http.one(request, "q")
    predicate = parse_q(q_text) if q_text is not None else None
    geo = parse_geo(
        http.one(request, "georel"),
        http.one(request, "geometry"),
        http.one(request, "coordinates"),
        http.one(request, "geoproperty"),
    )
    try:
        pattern = re.compile(pattern_text) if pattern_text is not None else None
    except re.error as exc:
        raise BadRequestData(f"idPattern: not a regular expression ({exc})") from None
    known = mapper.types()
    wanted = [t for t in types if t in known] if types else list(known)
    device_ids: list[str] | None = None
    if ids:
        parts = [mapping.split_id(i) for i in ids]
        device_ids = sorted({p[1] for p in parts if p is not None})
        wanted = [t for t in wanted if any(p is not None and p[0] == t for p in parts)]
    profiles = sorted({p for t in wanted for p in known[t]})
    if not profiles or device_ids == []:
        return []
    chosen = set(ids)
    found: list[tuple[Entity, store.Located]] = []
    for located in await store.snapshots(conn, profiles=profiles, device_ids=device_ids, vis=vis):
        for entity in mapper.entities(located.snapshot):
            if entity["type"] not in wanted or (chosen and entity["id"] not in chosen):
                continue
            if pattern is not None and pattern.search(entity["id"]) is None:
                continue
            if predicate is not None and not predicate(entity):
                continue
            if geo is not None and not geo(entity):
                continue
            found.append((entity, located))
    found.sort(key=lambda pair: str(pair[0]["id"]))
    return found


def shape(entity: Entity, form: str, attrs: list[str] | None) -> Entity:
    entity = mapping.project(entity, attrs)
    if form == "keyValues":
        return mapping.key_values(entity)
    if form == "concise":
        return mapping.concise(entity)
    return entity


@router.get(
    "/entities",
    summary="Query entities (type, id, idPattern, attrs, q, geo-query)",
    responses=responses(400, 401, 403, 406, 422, geo=True),
)
async def query_entities(
    request: Request,
    conn: DbConn,
    vis: Visible,
    mapper: Mapping,
    _selection: http.Selected,
    _paging: http.Paged,
    options: Text = None,
) -> Response:
    """Entities in the normalized form (``options=keyValues`` or ``concise`` for the
    others), ordered by id, ``limit`` (default 20, at most 1000) from ``offset``;
    ``count=true`` adds the total in ``NGSILD-Results-Count``."""
    form = http.options(request).form
    wanted_attrs = http.terms(request, "attrs") or None
    size, skip, counted = http.paging(request, low=0)
    if size == 0 and not counted:
        raise BadRequestData("limit: 0 is only allowed with count=true")
    found = await select(conn, mapper, request, vis)
    if wanted_attrs is not None:
        found = [(e, d) for e, d in found if any(a in e for a in wanted_attrs)]
    headers = {"NGSILD-Results-Count": str(len(found))} if counted else {}
    shown = found[skip : skip + size]
    await log_reads(conn, vis, [d.snapshot.device_id for _, d in shown], request)
    page = [shape(e, form, wanted_attrs) for e, _ in shown]
    return http.respond(request, page, headers=headers)


@router.get(
    "/entities/{entity_id:path}",
    summary="One entity by id",
    responses=responses(400, 401, 403, 404, 406, 422, geo=True),
)
async def retrieve_entity(
    entity_id: str,
    request: Request,
    conn: DbConn,
    vis: Visible,
    mapper: Mapping,
    attrs: Text = None,
    options: Text = None,
) -> Response:
    form = http.options(request).form
    wanted_attrs = http.terms(request, "attrs") or None
    entity, located = await find_entity(conn, mapper, entity_id, vis)
    await log_reads(conn, vis, [located.snapshot.device_id], request)
    return http.respond(request, shape(entity, form, wanted_attrs))


async def log_reads(conn: DbConn, vis: Visibility, device_ids: list[str], request: Request) -> None:
    """The personal devices among the entities served, into the access log (one
    entry per device: hub.privacy.access_log)."""
    if not vis.audited:
        return
    counts: dict[str, int] = {}
    for device_id in device_ids:
        counts[device_id] = counts.get(device_id, 0) + 1
    personal = await of_class(conn, sorted(counts), "personal")
    query = f"?{request.url.query}" if request.url.query else ""
    what = f"GET {request.url.path}{query}"
    await record(conn, vis, [Read(d, what, counts[d]) for d in personal])


async def find_entity(
    conn: DbConn, mapper: Mapper, entity_id: str, vis: Visibility
) -> tuple[Entity, store.Located]:
    parts = mapping.split_id(entity_id)
    if parts is None:
        if ":" not in entity_id:
            raise BadRequestData(f"{entity_id!r} is not a URI")
        raise ResourceNotFound(f"no entity {entity_id!r}")
    kind, device_id = parts
    profiles = mapper.types().get(kind)
    if profiles:
        for located in await store.snapshots(
            conn, profiles=profiles, device_ids=[device_id], vis=vis
        ):
            entity = mapper.entity(located.snapshot, kind)
            if entity is not None:
                return entity, located
    raise ResourceNotFound(f"no entity {entity_id!r}")


def _attribute_kind(name: str) -> str:
    if name == "location":
        return "GeoProperty"
    if name == "refDevice":
        return "Relationship"
    return "Property"


async def _type_table(
    conn: DbConn, mapper: Mapper, vis: Visibility
) -> dict[str, tuple[int, list[str]]]:
    """Entity type -> (entities, attribute names) over the devices that exist (and
    that the reader may read)."""
    counts = await store.device_counts(conn, vis)
    table: dict[str, tuple[int, list[str]]] = {}
    for kind, profiles in mapper.types().items():
        present = [p for p in profiles if counts.get(p)]
        if not present:
            continue
        names = sorted({a for p in present for a in mapper.attribute_names(kind, p)})
        table[kind] = (sum(counts[p] for p in present), names)
    return table


def _list_id(kind: str, items: list[str]) -> str:
    digest = hashlib.sha256(",".join(items).encode()).hexdigest()[:16]
    return f"urn:ngsi-ld:{kind}:{digest}"


@router.get(
    "/types",
    summary="The entity types the hub holds",
    responses=responses(400, 401, 403, 406, 422),
)
async def entity_types(
    request: Request, conn: DbConn, vis: Visible, mapper: Mapping, details: Text = None
) -> Response:
    table = await _type_table(conn, mapper, vis)
    if http.flag(request, "details"):
        body: Any = [
            {"id": kind, "type": "EntityType", "typeName": kind, "attributeNames": names}
            for kind, (_, names) in sorted(table.items())
        ]
    else:
        names = sorted(table)
        body = {
            "id": _list_id("EntityTypeList", names),
            "type": "EntityTypeList",
            "typeList": names,
        }
    return http.respond(request, body, geo=False)


@router.get(
    "/types/{entity_type:path}",
    summary="One entity type: its count and attributes",
    responses=responses(400, 401, 403, 404, 406, 422),
)
async def entity_type(
    entity_type: str, request: Request, conn: DbConn, vis: Visible, mapper: Mapping
) -> Response:
    kind = http.compact(entity_type)
    table = await _type_table(conn, mapper, vis)
    if kind not in table:
        raise ResourceNotFound(f"no entities of type {entity_type!r}")
    count, names = table[kind]
    body = {
        "id": kind,
        "type": "EntityTypeInfo",
        "typeName": kind,
        "entityCount": count,
        "attributeDetails": [
            {
                "id": name,
                "type": "Attribute",
                "attributeName": name,
                "attributeTypes": [_attribute_kind(name)],
            }
            for name in names
        ],
    }
    return http.respond(request, body, geo=False)


def _attribute_table(table: dict[str, tuple[int, list[str]]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for kind, (_, names) in sorted(table.items()):
        for name in names:
            found.setdefault(name, []).append(kind)
    return found


@router.get(
    "/attributes",
    summary="The attributes of the hub's entities",
    responses=responses(400, 401, 403, 406, 422),
)
async def attributes(
    request: Request, conn: DbConn, vis: Visible, mapper: Mapping, details: Text = None
) -> Response:
    found = _attribute_table(await _type_table(conn, mapper, vis))
    if http.flag(request, "details"):
        body: Any = [
            {"id": name, "type": "Attribute", "attributeName": name, "typeNames": kinds}
            for name, kinds in sorted(found.items())
        ]
    else:
        names = sorted(found)
        body = {
            "id": _list_id("AttributeList", names),
            "type": "AttributeList",
            "attributeList": names,
        }
    return http.respond(request, body, geo=False)


@router.get(
    "/attributes/{attribute:path}",
    summary="One attribute: where it occurs",
    responses=responses(400, 401, 403, 404, 406, 422),
)
async def attribute(
    attribute: str, request: Request, conn: DbConn, vis: Visible, mapper: Mapping
) -> Response:
    name = http.compact(attribute)
    table = await _type_table(conn, mapper, vis)
    kinds = _attribute_table(table).get(name)
    if not kinds:
        raise ResourceNotFound(f"no attribute {attribute!r}")
    body = {
        "id": name,
        "type": "Attribute",
        "attributeName": name,
        "attributeCount": sum(table[k][0] for k in kinds),
        "attributeTypes": [_attribute_kind(name)],
        "typeNames": kinds,
    }
    return http.respond(request, body, geo=False)


@router.get(
    "/jsonldContexts/sensor-hub.jsonld",
    summary="The hub's @context document",
    response_class=Response,
    responses={200: {"content": {"application/ld+json": {"schema": {"type": "object"}}}}},
)
async def context() -> Response:
    return Response(orjson.dumps(http.context_document()), media_type=http.JSON_LD)
