"""Refuse a query parameter given twice where the operation takes one value.

FastAPI quietly keeps the last of ``?device_id=a&device_id=b`` for a parameter
declared as one string; the caller then gets data for ``b`` and may never notice.
This app-wide dependency answers 422 instead, naming the parameter. Parameters
declared as lists (``?profile=a&profile=b``) may repeat.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from collections import Counter
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from hub.errors import InvalidParameter

_SEQUENCES = (list, set, frozenset, tuple, collections.abc.Sequence)
_SCALARS: dict[int, frozenset[str]] = {}  # per route: query parameters taking one value


def _takes_many(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _takes_many(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_takes_many(arg) for arg in typing.get_args(annotation))
    return origin in _SEQUENCES or annotation in _SEQUENCES


def _scalar_params(route: APIRoute) -> frozenset[str]:
    key = id(route)
    if key not in _SCALARS:
        names: set[str] = set()
        todo: list[Dependant] = [route.dependant]
        while todo:
            dependant = todo.pop()
            names.update(
                f.alias for f in dependant.query_params if not _takes_many(f.field_info.annotation)
            )
            todo.extend(dependant.dependencies)
        _SCALARS[key] = frozenset(names)
    return _SCALARS[key]


async def refuse_repeated_single_values(request: Request) -> None:
    counts = Counter(name for name, _ in request.query_params.multi_items())
    repeated = [name for name, n in counts.items() if n > 1]
    route = request.scope.get("route")
    if repeated and isinstance(route, APIRoute):
        for name in repeated:
            if name in _scalar_params(route):
                raise InvalidParameter(name, "given more than once; it takes one value")
