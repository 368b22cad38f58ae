"""HTTP conventions of NGSI-LD (ETSI GS CIM 009 clause 6.3): the ``@context`` by
``Link`` header or in the body, ``application/json`` vs ``application/ld+json``
(and ``application/geo+json``), and the common query parameters.

The hub does not run a JSON-LD processor: its terms are the short names of the
Smart Data Models contexts. A term given as a full URI in a known namespace is
reduced to its short name; the context a client sends in ``Link`` is echoed in
the answer, the hub's own context document otherwise.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final

import orjson
from fastapi import Depends, Query, Request, Response

from hub.ngsi import models
from hub.ngsi.errors import BadRequestData, InvalidRequest, NotAcceptable

JSON: Final = "application/json"
JSON_LD: Final = "application/ld+json"
GEO_JSON: Final = "application/geo+json"
CONTEXT_REL: Final = "http://www.w3.org/ns/json-ld#context"
CONTEXT_PATH: Final = "/ngsi-ld/v1/jsonldContexts/sensor-hub.jsonld"
MAX_LIMIT: Final = 1000
DEFAULT_LIMIT: Final = 20

_LINK = re.compile(r'^\s*<([^>]+)>\s*((?:;\s*[a-zA-Z]+\s*=\s*"?[^;"]*"?\s*)*)$')
_NAMESPACES: Final = (
    *(m.namespace() for m in models.MODELS.values()),
    "https://smartdatamodels.org/",
    "https://uri.etsi.org/ngsi-ld/default-context/",
    "https://uri.etsi.org/ngsi-ld/",
)


def compact(term: str) -> str:
    """``https://smartdatamodels.org/dataModel.Environment/pm10`` -> ``pm10``."""
    for namespace in _NAMESPACES:
        if term.startswith(namespace):
            return term[len(namespace) :]
    return term


def hub_context(request: Request) -> str:
    configured: str | None = request.app.state.settings.ngsi_ld_context_url
    return configured or str(request.base_url).rstrip("/") + CONTEXT_PATH


def context_document() -> dict[str, Any]:
    """The hub's @context: the Smart Data Models contexts of its types and the core."""
    return {"@context": [*(m.context_url for m in models.MODELS.values()), models.CORE_CONTEXT]}


def request_context(request: Request) -> str:
    """The context URL of the request's ``Link`` header, or the hub's."""
    link = request.headers.get("link")
    if not link:
        return hub_context(request)
    for part in link.split(","):
        match = _LINK.match(part)
        if match is None:
            raise InvalidRequest(f"Link header is malformed: {link!r}")
        if CONTEXT_REL in match.group(2):
            return match.group(1)
    return hub_context(request)


def negotiate(request: Request, *, geo: bool = True) -> str:
    """The media type of the answer, from the Accept header."""
    accept = request.headers.get("accept", "*/*")
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept.split(",")):
        kind, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        ranked.append((-q, index, kind.lower()))
    for minus_q, _, kind in sorted(ranked):
        if minus_q == 0:
            continue
        if kind in (JSON, JSON_LD) or (geo and kind == GEO_JSON):
            return kind
        if kind in ("*/*", "application/*"):
            return JSON
    offered = ", ".join([JSON, JSON_LD, *([GEO_JSON] if geo else [])])
    raise NotAcceptable(f"the hub answers with {offered}; Accept was {accept!r}")


def respond(
    request: Request,
    body: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    geo: bool = True,
) -> Response:
    """Serialize ``body`` (an entity, a list of them, or another NGSI-LD document)
    in the negotiated form with the ``@context`` where the spec puts it."""
    kind = negotiate(request, geo=geo)
    context = request_context(request)
    out = dict(headers or {})
    if kind == JSON_LD:
        if isinstance(body, list):
            body = [{**item, "@context": context} for item in body]
        elif isinstance(body, dict):
            body = {**body, "@context": context}
    elif kind == GEO_JSON:
        body = geojson(body, context)
    else:
        out["Link"] = f'<{context}>; rel="{CONTEXT_REL}"; type="{JSON_LD}"'
    return Response(orjson.dumps(body), status_code=status, media_type=kind, headers=out)


def geojson(body: Any, context: str) -> dict[str, Any]:
    def feature(entity: dict[str, Any]) -> dict[str, Any]:
        location = entity.get("location")
        geometry = (
            location.get("value") if isinstance(location, dict) and "type" in location else location
        )
        return {
            "id": entity["id"],
            "type": "Feature",
            "geometry": geometry,
            "properties": {k: v for k, v in entity.items() if k != "id"},
        }

    if isinstance(body, list):
        return {
            "type": "FeatureCollection",
            "features": [feature(e) for e in body],
            "@context": context,
        }
    return {**feature(body), "@context": context}


@dataclass(frozen=True, slots=True)
class Options:
    form: str  # normalized, keyValues or concise
    temporal_values: bool = False
    aggregated: bool = False


def options(request: Request, allowed: Sequence[str] = ()) -> Options:
    """``options=keyValues|concise|...`` (and ``format=``, its newer spelling)."""
    given = terms(request, "options")
    form = "normalized"
    extra = set()
    for option in given:
        if option in ("keyValues", "simplified"):
            form = "keyValues"
        elif option == "concise":
            form = "concise"
        elif option == "normalized":
            form = "normalized"
        elif option in allowed or option in ("sysAttrs",):
            extra.add(option)
        else:
            raise BadRequestData(f"options: unknown option {option!r}")
    named = request.query_params.get("format")
    if named is not None:
        if named not in ("normalized", "keyValues", "simplified", "concise"):
            raise BadRequestData(f"format: unknown format {named!r}")
        form = "keyValues" if named == "simplified" else named
    return Options(form, "temporalValues" in extra, "aggregatedValues" in extra)


def terms(request: Request, name: str) -> list[str]:
    """A comma-separated list parameter (repeats allowed), with terms compacted."""
    found: list[str] = []
    for value in request.query_params.getlist(name):
        for item in value.split(","):
            item = item.strip()
            if item:
                found.append(compact(item) if name != "id" else item)
    return found


def one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise BadRequestData(f"{name}: given more than once")
    return values[0] if values else None


def integer(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    text = one(request, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequestData(f"{name}: must be an integer") from None
    if not low <= value <= high:
        raise BadRequestData(f"{name}: must lie between {low} and {high}")
    return value


def flag(request: Request, name: str) -> bool:
    text = one(request, name)
    if text is None:
        return False
    if text not in ("true", "false"):
        raise BadRequestData(f"{name}: must be true or false")
    return text == "true"


def paging(request: Request, *, low: int) -> tuple[int, int, bool]:
    """``limit`` (``low`` to MAX_LIMIT, default DEFAULT_LIMIT), ``offset`` and ``count``."""
    size = integer(request, "limit", DEFAULT_LIMIT, low=low, high=MAX_LIMIT)
    skip = integer(request, "offset", 0, low=0, high=10**9)
    return size, skip, flag(request, "count")


# The query parameters of the entity queries, declared once for the OpenAPI document
# (as FastAPI dependencies); the handlers read them from the request with the helpers
# above, which apply the spec's rules (repeats, lists, expanded terms).
Text = Annotated[str | None, Query()]


def _declared(name: str, *params: str) -> Any:
    return Depends(dataclasses.make_dataclass(name, [(p, Text, None) for p in params]))


# Which entities: type, id, idPattern, attrs, q and the geo-query.
Selected = Annotated[
    object,
    _declared(
        "Selection",
        *("type", "id", "idPattern", "attrs", "q"),
        *("georel", "geometry", "coordinates", "geoproperty"),
    ),
]
Paged = Annotated[object, _declared("Paging", "limit", "offset", "count")]
# The temporal query: the time range, lastN, the form and the aggregation.
TemporalQuery = Annotated[
    object,
    _declared(
        "Temporal",
        *("attrs", "timerel", "timeAt", "endTimeAt", "timeproperty", "lastN", "options"),
        *("aggrMethods", "aggrPeriodDuration"),
    ),
]
