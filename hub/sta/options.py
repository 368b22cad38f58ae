"""The query options of a request (``$top``, ``$skip``, ``$count``, ``$filter``,
``$orderby``, ``$select``, ``$expand``, ``$resultFormat``, ``$skiptoken``), checked
and parsed into :class:`hub.sta.syntax.Options`.

``$skiptoken`` is the hub's own: the keyset position of ``@iot.nextLink`` (an
opaque base64url of the last row's order-key values).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from hub.sta import grammar
from hub.sta.errors import QueryError
from hub.sta.syntax import Options

KNOWN = (
    "$top",
    "$skip",
    "$count",
    "$filter",
    "$orderby",
    "$select",
    "$expand",
    "$resultFormat",
    "$skiptoken",
)
RESULT_FORMATS = ("dataArray",)
MAX_OPTION_CHARS = 4000


def _integer(name: str, text: str) -> int:
    if not text.isdigit() or len(text) > 9:
        raise QueryError(name, f"must be a non-negative integer below 10^9, not {text!r}", 0)
    return int(text)


def parse_options(items: Iterable[tuple[str, str]]) -> Options:
    values: dict[str, str] = {}
    for name, text in items:
        if not name.startswith("$"):
            continue
        if name not in KNOWN:
            raise QueryError(name, f"unknown query option (known: {', '.join(KNOWN)})")
        if name in values:
            raise QueryError(name, "given more than once")
        if len(text) > MAX_OPTION_CHARS:
            raise QueryError(name, f"longer than {MAX_OPTION_CHARS} characters")
        if "\x00" in text:
            raise QueryError(name, "contains a NUL character", text.index("\x00"))
        values[name] = text
    fields: dict[str, Any] = {}
    if "$top" in values:
        fields["top"] = _integer("$top", values["$top"])
    if "$skip" in values:
        fields["skip"] = _integer("$skip", values["$skip"])
    if "$count" in values:
        if values["$count"] not in ("true", "false"):
            raise QueryError("$count", "must be true or false", 0)
        fields["count"] = values["$count"] == "true"
    for option in ("filter", "orderby", "select", "expand"):
        written = values.get("$" + option)
        if written is not None:
            fields[option] = grammar.parse(option, written)
    if "$resultFormat" in values:
        if values["$resultFormat"] not in RESULT_FORMATS:
            raise QueryError("$resultFormat", f"supported: {', '.join(RESULT_FORMATS)}", 0)
        fields["result_format"] = values["$resultFormat"]
    if "$skiptoken" in values:
        fields["skiptoken"] = values["$skiptoken"]
    return Options(**fields)


def encode_token(values: tuple[Any, ...]) -> str:
    tagged = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(orjson.dumps(tagged)).decode().rstrip("=")


def decode_token(token: str) -> tuple[Any, ...]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(raw, list):
            raise ValueError(token)
        out: list[Any] = []
        for v in raw:
            if isinstance(v, dict):
                out.append(datetime.fromisoformat(v["t"]))
            elif isinstance(v, str | int | float | bool):
                out.append(v)
            else:
                raise ValueError(token)
        return tuple(out)
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise QueryError(
            "$skiptoken", "not a token this service issued; follow @iot.nextLink"
        ) from None
