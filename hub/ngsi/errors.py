"""NGSI-LD errors: the problem types of ETSI GS CIM 009 (clause 5.5.2), each with
its HTTP status, answered as a problem document (``type``, ``title``,
``status``, ``detail``) under ``/ngsi-ld/v1``.

    NgsiError
     ├── InvalidRequest       400  the request is not well formed (bad JSON, headers)
     ├── BadRequestData       400  a parameter or body member is wrong
     ├── ResourceNotFound     404  no such entity, type, attribute, subscription
     ├── NotAcceptable        406  the Accept header names no format the hub gives
     ├── AlreadyExists        409  a subscription with that id exists
     ├── UnsupportedMediaType 415  the body is neither JSON nor JSON-LD
     ├── OperationNotSupported 422 valid, but not something the hub does
     └── TooManyResults       403  the answer would be larger than the hub gives at once
"""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


class NgsiError(Exception):
    status: ClassVar[int] = 400
    kind: ClassVar[str] = "BadRequestData"
    title: ClassVar[str] = "Bad request data"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidRequest(NgsiError):
    kind = "InvalidRequest"
    title = "Invalid request"


class BadRequestData(NgsiError):
    pass


class ResourceNotFound(NgsiError):
    status = 404
    kind = "ResourceNotFound"
    title = "Resource not found"


class NotAcceptable(NgsiError):
    status = 406
    kind = "NotAcceptable"
    title = "Not acceptable"


class AlreadyExists(NgsiError):
    status = 409
    kind = "AlreadyExists"
    title = "Already exists"


class UnsupportedMediaType(NgsiError):
    status = 415
    kind = "UnsupportedMediaType"
    title = "Unsupported media type"


class OperationNotSupported(NgsiError):
    status = 422
    kind = "OperationNotSupported"
    title = "Operation not supported"


class TooManyResults(NgsiError):
    status = 403
    kind = "TooManyResults"
    title = "Too many results"


def problem(exc: NgsiError) -> JSONResponse:
    body = {
        "type": ERRORS + exc.kind,
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
    }
    return JSONResponse(body, status_code=exc.status, media_type="application/json")


async def _on_ngsi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NgsiError)
    return problem(exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(NgsiError, _on_ngsi_error)


# --- OpenAPI --------------------------------------------------------------------------

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "https://uri.etsi.org/ngsi-ld/errors/..."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}
_DESCRIPTIONS = {
    400: "BadRequestData or InvalidRequest: a parameter, the body or a header is wrong.",
    401: "No API key, or an unknown one, where reads are not public (the hub's problem).",
    403: "The key's role is too low, or TooManyResults: the answer would be too large.",
    404: "ResourceNotFound.",
    406: "NotAcceptable: Accept names no format the hub answers with.",
    409: "AlreadyExists.",
    415: "UnsupportedMediaType: the body is neither application/json nor application/ld+json.",
    422: "OperationNotSupported, or a parameter given twice (the hub's problem).",
    503: "The database is not reachable (the hub's problem).",
}


def responses(*codes: int, ok: int | None = 200, geo: bool = False) -> dict[int | str, Any]:
    """OpenAPI entries of an NGSI-LD operation: the forms of its answer and its problems."""
    documented: dict[int | str, Any] = {}
    if ok == 200:
        forms = [
            "application/json",
            "application/ld+json",
            *(["application/geo+json"] if geo else []),
        ]
        documented[200] = {
            "description": "In the form Accept asks for (the @context in Link, or in the body).",
            "content": {form: {"schema": {}} for form in forms},
        }
    for code in (*codes, 503):
        documented[code] = {
            "description": _DESCRIPTIONS[code],
            "content": {
                "application/json": {"schema": _PROBLEM_SCHEMA},
                "application/problem+json": {"schema": _PROBLEM_SCHEMA},
            },
        }
    return documented
