"""Rows to SensorThings JSON: ``@iot.id``, ``@iot.selfLink``, the properties,
``X@iot.navigationLink`` and expanded entities with their ``@iot.count`` and
``@iot.nextLink``."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from psycopg.types.range import Range

from hub.sta.plan import Plan
from hub.store.sta_queries import Expanded


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def value_of(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Range):
        if value.isempty or value.lower is None or value.upper is None:
            return None
        return f"{iso(value.lower)}/{iso(value.upper)}"
    return value


def key_text(key: Any) -> str:
    if isinstance(key, int):
        return str(key)
    return "'" + quote(str(key).replace("'", "''"), safe="-_.~") + "'"


def self_link(base: str, set_name: str, key: Any) -> str:
    return f"{base}/{set_name}({key_text(key)})"


def query_string(items: list[tuple[str, str]]) -> str:
    return urlencode(items, quote_via=quote, safe="$()',/")


def entity(base: str, plan: Plan, row: dict[str, Any]) -> dict[str, Any]:
    key = row["_id"]
    link = self_link(base, plan.set_name, key)
    out: dict[str, Any] = {}
    if plan.with_id:
        out["@iot.id"] = key
        out["@iot.selfLink"] = link
    for name in plan.columns:
        out[name] = value_of(row[name])
    for nav in plan.navs:
        out[f"{nav}@iot.navigationLink"] = f"{link}/{nav}"
    for x in plan.expands:
        found = row.get("_x_" + x.nav)
        if not x.link.many:
            out[x.nav] = entity(base, x.plan, found) if found is not None else None
            continue
        assert isinstance(found, Expanded)
        if found.count is not None:
            out[f"{x.nav}@iot.count"] = found.count
        out[x.nav] = [entity(base, x.plan, child) for child in found.rows]
        if found.more:
            out[f"{x.nav}@iot.nextLink"] = _nested_next(link, x.nav, x.plan, len(found.rows))
    return out


def _nested_next(link: str, nav: str, plan: Plan, shown: int) -> str:
    options = plan.options
    items = [(k, v) for k, v in options.raw if k not in ("$top", "$skip")]
    items += [("$top", str(shown)), ("$skip", str(options.skip + shown))]
    return f"{link}/{nav}?{query_string(items)}"
