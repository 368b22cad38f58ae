"""Validators for the Smart Data Models JSON Schemas: the published schema (fetched,
with the common schemas it refers to, only when the network lets it) or the
attribute table the hub keeps (hub.ngsi.models) written from those schemas."""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from hub.ngsi import models

FETCH_TIMEOUT_S = 5


@cache
def _fetch(url: str) -> Any:
    response = httpx.get(url, timeout=FETCH_TIMEOUT_S, follow_redirects=True)
    response.raise_for_status()
    return response.json()


def _retrieve(uri: str) -> Resource[Any]:
    return Resource.from_contents(_fetch(uri.split("#")[0]))


def published_validator(model: models.Model) -> Draft202012Validator | str:
    """The validator of the published schema, or why it cannot be had."""
    try:
        schema = _fetch(model.schema_url)
    except (httpx.HTTPError, ValueError) as exc:
        return (
            f"published schema {model.schema_url} not reachable ({type(exc).__name__}: {exc}); "
            "entities are checked against the attribute table instead"
        )
    registry: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())


def table_validator(model: models.Model) -> Draft202012Validator:
    return Draft202012Validator(models.json_schema(model), format_checker=FormatChecker())
