"""``/sta/v1.1``: the SensorThings API 1.1 read side (docs/sensorthings.md).

Thin routes: the same access rule as ``/api/v1`` (:data:`hub.api.auth.Reader`),
one connection per request, then :func:`hub.sta.service.answer`. Errors are
problem details: 400 for a bad option or path (with the position), 404 for an
entity that does not exist.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

import orjson
import psycopg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from hub.api.auth import Reader
from hub.api.deps import AppSettings, DbConn, Profiles
from hub.api.privacy import Visible
from hub.api.problems import problem_response, responses
from hub.config import Settings, mqtt_endpoint
from hub.privacy.access_log import Read, record
from hub.privacy.policy import Visibility
from hub.sta import catalogue
from hub.sta.errors import EntityNotFound, QueryError
from hub.sta.service import Limits, Raw, answer, service_root

PREFIX = "/sta/v1.1"

router = APIRouter(prefix=PREFIX, tags=["sensorthings"])

_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "SensorThings JSON.", "content": {"application/json": {}}},
    **responses(400, 401, 404, 503),
}
_ANSWERS[400] = {**_ANSWERS[400], "description": "A malformed or unsupported option or path."}

# The query options of SensorThings (OData's $-options), declared once: the routes
# take them only for the OpenAPI document; the parser reads the query string itself.
Top = Annotated[str | None, Query(alias="$top", description="Page size.")]
Skip = Annotated[str | None, Query(alias="$skip", description="Entities to skip.")]
Count = Annotated[str | None, Query(alias="$count", description="`true`: add @iot.count.")]
Filter = Annotated[str | None, Query(alias="$filter", description="OData filter.")]
OrderBy = Annotated[str | None, Query(alias="$orderby", description="Order keys.")]
Select = Annotated[str | None, Query(alias="$select", description="Properties.")]
Expand = Annotated[str | None, Query(alias="$expand", description="Related entities.")]
ResultFormat = Annotated[
    str | None, Query(alias="$resultFormat", description="`dataArray` (Observations).")
]
SkipToken = Annotated[
    str | None, Query(alias="$skiptoken", description="Position from @iot.nextLink.")
]


def _collection_options(
    top: Top = None,
    skip: Skip = None,
    count: Count = None,
    filter: Filter = None,
    orderby: OrderBy = None,
    select: Select = None,
    expand: Expand = None,
    result_format: ResultFormat = None,
    skiptoken: SkipToken = None,
) -> None:
    """The options of a collection (an entity set, a navigation to one)."""


CollectionOptions = Annotated[None, Depends(_collection_options)]


class StaJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def advertised_mqtt(settings: Settings) -> str | None:
    """The broker URL shown in serverSettings when the MQTT extension is on."""
    if not settings.sta_mqtt:
        return None
    if settings.sta_mqtt_endpoint:
        return settings.sta_mqtt_endpoint
    host, port, tls, _, _ = mqtt_endpoint(settings.mqtt_url)
    return f"{'mqtts' if tls else 'mqtt'}://{host}:{port}"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _catalogue(request: Request, profiles: Any, base: str) -> dict[str, Any]:
    cache: dict[str, dict[str, Any]] | None = getattr(request.app.state, "sta_catalogues", None)
    if cache is None:
        cache = request.app.state.sta_catalogues = {}
    root = base[: -len(PREFIX)]
    if root not in cache:
        if len(cache) > 16:  # a few host names at most; never grows without bound
            cache.clear()
        cache[root] = catalogue.build(profiles, root)
    return cache[root]


@router.get("", summary="Service root: entity sets and server settings", responses=_ANSWERS)
async def root(request: Request, _: Reader, settings: AppSettings) -> Response:
    return StaJSON(service_root(_base(request), advertised_mqtt(settings)))


async def _serve(
    request: Request, conn: Any, settings: Settings, profiles: Any, vis: Visibility
) -> Response:
    base = _base(request)
    path = request.url.path[len(PREFIX) :].strip("/")
    limits = Limits(settings.sta_default_top, settings.sta_max_top)
    try:
        result = await answer(
            conn,
            # The reader's Visibility goes into every statement (hub.store.sta_sql).
            {**_catalogue(request, profiles, base), **vis.params()},
            base=base,
            path=path,
            items=list(request.query_params.multi_items()),
            limits=limits,
        )
    except QueryError as exc:
        return problem_response(HTTPStatus.BAD_REQUEST, str(exc))
    except RecursionError:  # an expression of very many terms, past the parser
        return problem_response(HTTPStatus.BAD_REQUEST, "the query options are too complex")
    except EntityNotFound as exc:
        return problem_response(HTTPStatus.NOT_FOUND, str(exc))
    except psycopg.errors.DataError as exc:  # a literal the database cannot hold
        return problem_response(
            HTTPStatus.BAD_REQUEST, f"a value is out of range: {str(exc).splitlines()[0]}"
        )
    if vis.audited:
        # One request may span many devices: logged as the query it was.
        query = f"?{request.url.query}" if request.url.query else ""
        rows = len(result.get("value", ())) if isinstance(result, dict) else 1
        what = f"GET {request.url.path}{query}"
        await record(conn, vis, [Read(None, what, rows)])
    if isinstance(result, Raw):
        return PlainTextResponse(result.text)
    return StaJSON(result)


@router.get(
    "/{entity_set}",
    summary="An entity set: Things, Locations, HistoricalLocations, Datastreams, Sensors, "
    "ObservedProperties, Observations, FeaturesOfInterest",
    responses=_ANSWERS,
)
async def collection(
    request: Request,
    conn: DbConn,
    vis: Visible,
    settings: AppSettings,
    profiles: Profiles,
    entity_set: str,
    options: CollectionOptions,
) -> Response:
    return await _serve(request, conn, settings, profiles, vis)


@router.get(
    "/{entity_set}({key})",
    summary="One entity by its id (integers bare, strings in single quotes)",
    responses=_ANSWERS,
)
async def one(
    request: Request,
    conn: DbConn,
    vis: Visible,
    settings: AppSettings,
    profiles: Profiles,
    entity_set: str,
    key: str,
    select: Select = None,
    expand: Expand = None,
) -> Response:
    return await _serve(request, conn, settings, profiles, vis)


@router.get(
    "/{entity_set}({key})/{rest:path}",
    summary="Navigation (`Things(1)/Datastreams`), a property (`.../name`, `.../name/$value`) "
    "or links (`.../$ref`)",
    responses={
        **_ANSWERS,
        200: {**_ANSWERS[200], "content": {"application/json": {}, "text/plain": {}}},
    },
)
async def navigation(
    request: Request,
    conn: DbConn,
    vis: Visible,
    settings: AppSettings,
    profiles: Profiles,
    entity_set: str,
    key: str,
    rest: str,
    options: CollectionOptions,
) -> Response:
    return await _serve(request, conn, settings, profiles, vis)
