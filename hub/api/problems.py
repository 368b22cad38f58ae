"""Errors as RFC 9457 problem details (``application/problem+json``).

Routers raise the errors of :mod:`hub.errors` (its docstring draws the tree;
``ApiError`` and its subclasses are the API's own); :data:`STATUS` is the one place
where an error becomes an HTTP status. psycopg's errors never appear in it: the
store translates them (``hub.store.db.pooled``, and ``translated`` for one raised
outside a pooled connection, such as a streamed export's).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from hub import errors
from hub.errors import (
    ApiError,
    ConflictError,
    Forbidden,
    InvalidParameter,
    NotFound,
    Unauthenticated,
)
from hub.store.db import translated

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


class InvalidParam(BaseModel):
    name: str = Field(description="The parameter, as a dotted path for body fields.")
    location: str = Field(description="Where it was: query, path, header or body.")
    reason: str = Field(description="What is wrong with it.")


class Problem(BaseModel):
    """An error (RFC 9457)."""

    type: str = Field("about:blank", description="Always about:blank: the status says it.")
    title: str = Field(description="The HTTP status phrase.", examples=["Not Found"])
    status: int = Field(description="The HTTP status code.", examples=[404])
    detail: str = Field(
        description="What went wrong, for a person.", examples=["no device 'sl-0001'"]
    )
    invalid_params: list[InvalidParam] | None = Field(
        None, description="For 422: each parameter that is wrong and why."
    )


# The one table from errors to statuses (STYLE.md rule 6); the first match wins.
STATUS: tuple[tuple[type[Exception], HTTPStatus], ...] = (
    (NotFound, HTTPStatus.NOT_FOUND),
    (InvalidParameter, HTTPStatus.UNPROCESSABLE_ENTITY),
    (ConflictError, HTTPStatus.CONFLICT),
    (Unauthenticated, HTTPStatus.UNAUTHORIZED),
    (Forbidden, HTTPStatus.FORBIDDEN),
    (errors.ProfileError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (errors.OutOfRangeError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (errors.StoreError, HTTPStatus.SERVICE_UNAVAILABLE),
)


def status_of(exc: BaseException) -> HTTPStatus:
    exc = translated(exc)  # a psycopg error raised outside hub.store.db.pooled
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


def problem_response(
    status: int,
    detail: str,
    *,
    params: list[InvalidParam] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        title=HTTPStatus(status).phrase, status=status, detail=detail, invalid_params=params
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def _detail(exc: BaseException, status: HTTPStatus) -> str:
    if isinstance(exc, ApiError):
        return exc.detail
    if status == HTTPStatus.SERVICE_UNAVAILABLE:
        return "the database is not reachable; try again shortly"
    if isinstance(exc, errors.OutOfRangeError):
        return f"a parameter is out of range: {exc}"
    return str(exc)


def _location(loc: tuple[Any, ...]) -> tuple[str, str]:
    where = str(loc[0]) if loc else "body"
    rest = [str(p) for p in loc[1:]]
    return where, ".".join(rest) or where


def _not_json(request: Request, exc: RequestValidationError) -> str | None:
    """Why the body is not JSON at all (a 400, as docs/api.md says), or None when it
    is JSON that does not fit (a 422)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            where = error.get("loc", ())[-1] if error.get("loc") else None
            reason = (error.get("ctx") or {}).get("error", "cannot be parsed")
            return f"the body is not valid JSON ({reason} at character {where})"
        loc = tuple(error.get("loc", ()))
        raw = isinstance(error.get("input"), (bytes, str))
        if (
            loc == ("body",)
            and raw
            and not (media == "application/json" or media.endswith("+json"))
        ):
            return f"the body is not JSON (Content-Type: {media or 'none'}); send application/json"
    return None


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    not_json = _not_json(request, exc)
    if not_json is not None:
        return problem_response(HTTPStatus.BAD_REQUEST, not_json)
    params = []
    for error in exc.errors():
        location, name = _location(tuple(error.get("loc", ())))
        params.append(InvalidParam(name=name, location=location, reason=str(error["msg"])))
    detail = "; ".join(f"{p.name}: {p.reason}" for p in params) or "invalid request"
    return problem_response(HTTPStatus.UNPROCESSABLE_ENTITY, detail, params=params)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == HTTPStatus.NOT_FOUND and detail == "Not Found":
        detail = f"no such resource: {request.url.path}"
    elif exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        allowed = _allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
    elif (
        exc.status_code == HTTPStatus.BAD_REQUEST
        and detail == "There was an error parsing the body"
    ):
        detail = "the body is not valid JSON"
    return problem_response(exc.status_code, detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the API documents for the request's path (one route per method,
    so the router alone would name only the first)."""
    table: list[tuple[re.Pattern[str], set[str], bool]] | None = getattr(
        request.app.state, "methods_by_path", None
    )
    if table is None:
        table = [
            (compile_path(path)[0], {m.upper() for m in operations}, "{" not in path)
            for path, operations in request.app.openapi().get("paths", {}).items()
        ]
        request.app.state.methods_by_path = table
    matching = [
        (methods, static) for pattern, methods, static in table if pattern.match(request.url.path)
    ]
    # A path without parameters (/dead-letters/replay) is its own resource, not an
    # instance of /dead-letters/{id}.
    if any(static for _, static in matching):
        matching = [(methods, static) for methods, static in matching if static]
    allowed: set[str] = set()
    for methods, _ in matching:
        allowed |= methods
    return sorted(allowed)


async def _on_known(request: Request, exc: Exception) -> JSONResponse:
    error = translated(exc)
    status = status_of(error)
    if status == HTTPStatus.SERVICE_UNAVAILABLE:
        log.warning("%s %s: database unavailable: %s", request.method, request.url.path, error)
    params = (
        [InvalidParam(name=p.name, location=p.location, reason=p.reason) for p in error.params]
        if isinstance(error, InvalidParameter)
        else None
    )
    headers = error.headers if isinstance(error, ApiError) else None
    return problem_response(status, _detail(error, status), params=params, headers=headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if status_of(exc) != HTTPStatus.INTERNAL_SERVER_ERROR:
        return await _on_known(request, exc)
    return problem_response(HTTPStatus.INTERNAL_SERVER_ERROR, "unexpected error; see the hub's log")


def install(app: FastAPI) -> None:
    """Make every error of ``app`` a problem document."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    for kind, _ in STATUS:
        app.add_exception_handler(kind, _on_known)
    app.add_exception_handler(Exception, _on_unexpected)


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route may give."""
    return {
        code: {
            "description": _DESCRIPTIONS.get(code, HTTPStatus(code).phrase),
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }


_DESCRIPTIONS = {
    400: "The body is not valid JSON.",
    401: "No API key, or an unknown or revoked one (when reads are not public, or for writes).",
    403: "The API key's role is too low for this operation.",
    404: "No such resource.",
    409: "The change contradicts the resource's current state.",
    422: "A parameter or the body is invalid or past a limit; `invalid_params` says which.",
    503: "The database is not reachable.",
}
