"""The OpenAPI document: FastAPI's, with problem details as the error schema."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from hub.api.problems import MEDIA_TYPE, InvalidParam, Problem, responses

DESCRIPTION = """
The open data of the municipality's street lights, water meters and air-quality
monitors: devices, their readings (raw or in time buckets), alerts, alert rules and
device profiles, plus a live stream (Server-Sent Events) and exports (CSV, GeoJSON).

**Access.** Send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.
Keys are created with `hub apikey create --role viewer|operator|admin --name NAME`
and shown once. Reads need any key unless the hub runs in open-data mode
(`HUB_OPEN_DATA=true`), where they are public. Every write needs `operator` or
`admin`; dead letters (raw device messages) need `operator`.

**Errors** are `application/problem+json` (RFC 9457): `title`, `status`, `detail`,
and for 422 the list `invalid_params`. A bad parameter is a 4xx, never a 500.

**Times** are RFC 3339. A time without an offset is read in the request's `tz`
(default: the hub's time zone). Responses are in UTC.

**Lists** are paged with a cursor: pass the response's `next_cursor` back as
`cursor` until it is null.
"""

# Reads that need more than a viewer key, so stay closed in open-data mode.
_NEVER_PUBLIC = ("/api/v1/dead-letters", "/api/v1/api-keys", "/api/v1/privacy")


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The document served at /openapi.json (built once, then cached)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=DESCRIPTION,
        routes=app.routes,
        tags=TAGS,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    components["InvalidParam"] = InvalidParam.model_json_schema()
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    problem.pop("$defs", None)
    components["Problem"] = problem
    unavailable = responses(503)[503]
    open_data = bool(app.state.settings.open_data)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            public = open_data and method == "get" and not path.startswith(_NEVER_PUBLIC)
            if public and "security" in operation:
                # Open-data mode: a key is optional for reads ({} = no requirement).
                operation["security"] = [{}, *operation["security"]]
            answers = operation.setdefault("responses", {})
            if "422" in answers and not path.startswith("/ngsi-ld/"):
                # (NGSI-LD operations document their own problem types.)
                answers["422"] = responses(422)[422]
            if "requestBody" in operation:
                answers.setdefault("400", responses(400)[400])
            if path.startswith("/api/"):
                answers.setdefault("503", unavailable)
    app.openapi_schema = schema
    return schema


TAGS = [
    {"name": "devices", "description": "The registered field devices and their state."},
    {"name": "readings", "description": "Time series: raw, bucketed, and latest values."},
    {"name": "alerts", "description": "Alerts raised by the rules, with their history."},
    {"name": "rules", "description": "Alert rules: profile defaults and rules made here."},
    {"name": "profiles", "description": "Device types: metrics, units, intervals."},
    {"name": "dead letters", "description": "Device messages the hub could not use."},
    {"name": "live", "description": "Server-Sent Events of readings and alert changes."},
    {"name": "exports", "description": "Bulk downloads in open formats, streamed."},
    {"name": "api keys", "description": "Keys and roles (admin only)."},
    {
        "name": "aggregates",
        "description": "Personal data per district and hour or day, never per device.",
    },
    {"name": "privacy", "description": "Who read personal data (admin only)."},
    {"name": "ops", "description": "Health, readiness and Prometheus metrics."},
]

__all__ = ["MEDIA_TYPE", "build_openapi"]
