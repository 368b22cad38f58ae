"""Answer a SensorThings read: path and options in, JSON (or a raw ``$value``) out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson

from hub.sta import render
from hub.sta.errors import EntityNotFound, QueryError
from hub.sta.options import decode_token, encode_token, parse_options
from hub.sta.plan import Plan, build_plan
from hub.sta.resource import ENTITY_SETS, Resource, parse_path
from hub.sta.syntax import Options
from hub.store import sta_queries as q

CONFORMANCE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
)
MQTT_RECEIVE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates"
)
DATA_ARRAY_COMPONENTS = ("id", "phenomenonTime", "resultTime", "result")


@dataclass(frozen=True, slots=True)
class Limits:
    default_top: int
    max_top: int


@dataclass(frozen=True, slots=True)
class Raw:
    """A ``$value`` answer: the bare value as text."""

    text: str


def service_root(base: str, mqtt_endpoint: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = {"conformance": [*CONFORMANCE]}
    if mqtt_endpoint is not None:
        settings["conformance"].append(MQTT_RECEIVE)
        settings[MQTT_RECEIVE] = {"endpoints": [mqtt_endpoint]}
    return {
        "value": [{"name": name, "url": f"{base}/{name}"} for name in ENTITY_SETS],
        "serverSettings": settings,
    }


def _top(options: Options, limits: Limits) -> int:
    return min(options.top if options.top is not None else limits.default_top, limits.max_top)


async def _expand(
    conn: q.Conn, cat: dict[str, Any], plan: Plan, rows: list[dict[str, Any]], limits: Limits
) -> None:
    for x in plan.expands:
        child = x.plan
        if x.link.many:
            query = q.Query(
                child.set_name,
                child.columns,
                child.fks,
                child.options.filter,
                child.options.orderby,
                top=_top(child.options, limits),
                skip=child.options.skip,
                count=child.options.count,
            )
            groups = await q.expand_many(
                conn, cat, plan.set_name, x.nav, list(dict.fromkeys(r["_id"] for r in rows)), query
            )
            children = [c for g in groups.values() for c in g.rows]
            await _expand(conn, cat, child, children, limits)
            for row in rows:
                row["_x_" + x.nav] = groups[row["_id"]]
        else:
            found = await q.expand_one(
                conn,
                cat,
                child.set_name,
                [r["_fk_" + x.nav] for r in rows],
                child.columns,
                child.fks,
            )
            await _expand(conn, cat, child, list(found.values()), limits)
            for row in rows:
                row["_x_" + x.nav] = found.get(row["_fk_" + x.nav])


def _next_link(url: str, items: list[tuple[str, str]], page: q.Page, skip: int, top: int) -> str:
    kept = [(k, v) for k, v in items if k not in ("$skip", "$skiptoken")]
    if page.keyset is not None:
        kept.append(("$skiptoken", encode_token(page.keyset)))
    else:
        kept.append(("$skip", str(skip + top)))
    return f"{url}?{render.query_string(kept)}"


async def answer(
    conn: q.Conn,
    cat: dict[str, Any],
    *,
    base: str,
    path: str,
    items: list[tuple[str, str]],
    limits: Limits,
) -> dict[str, Any] | Raw:
    """The response to ``GET {base}/{path}?{items}``."""
    try:
        resource = parse_path(path)
    except LookupError:
        raise EntityNotFound(path) from None
    options = parse_options(items)
    data_array = options.result_format == "dataArray"
    if data_array and (resource.set_name != "Observations" or resource.single):
        raise QueryError("$resultFormat", "dataArray is for collections of Observations")
    if resource.prop is not None or resource.ref:
        options = replace(options, select=None, expand=())
    plan = build_plan(resource.set_name, options)
    if data_array:
        plan = _data_array_plan(plan)
    if resource.prop is not None:
        column = () if resource.prop == "id" else (resource.prop,)
        plan = Plan(plan.set_name, column, (), True, (), plan.options)
    top = 1 if resource.single else _top(options, limits)
    after = decode_token(options.skiptoken) if options.skiptoken else None
    query = q.Query(
        plan.set_name,
        plan.columns,
        plan.fks,
        options.filter,
        options.orderby,
        top=top,
        skip=0 if resource.single else options.skip,
        after=after,
        count=options.count and not resource.single,
    )
    page = await q.fetch_page(conn, cat, resource.steps, query)
    if not page.rows and (
        resource.single
        or (len(resource.steps) > 1 and not await q.exists(conn, cat, resource.steps[:-1]))
    ):
        raise EntityNotFound(path)
    await _expand(conn, cat, plan, page.rows, limits)
    url = f"{base}/{path.strip('/')}"
    if resource.prop is not None:
        return _property(resource, page.rows[0])
    if resource.ref:
        refs = [
            {"@iot.selfLink": render.self_link(base, plan.set_name, r["_id"])} for r in page.rows
        ]
        if resource.single:
            return refs[0]
        return _collection(refs, page, url, items, options.skip, top)
    if resource.single:
        return render.entity(base, plan, page.rows[0])
    if data_array:
        return _collection(_data_array(base, plan, page.rows), page, url, items, options.skip, top)
    return _collection(
        [render.entity(base, plan, r) for r in page.rows], page, url, items, options.skip, top
    )


def _collection(
    values: list[Any], page: q.Page, url: str, items: list[tuple[str, str]], skip: int, top: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if page.count is not None:
        out["@iot.count"] = page.count
    out["value"] = values
    if page.more:
        out["@iot.nextLink"] = _next_link(url, items, page, skip, top)
    return out


def _property(resource: Resource, row: dict[str, Any]) -> dict[str, Any] | Raw:
    name = resource.prop
    assert name is not None
    value = row["_id"] if name == "id" else render.value_of(row[name])
    if not resource.value:
        return {"@iot.id" if name == "id" else name: value}
    if isinstance(value, str):
        return Raw(value)
    return Raw(orjson.dumps(value).decode())


def _data_array_plan(plan: Plan) -> Plan:
    wanted = plan.options.select or DATA_ARRAY_COMPONENTS
    components = tuple("id" if n == "@iot.id" else n for n in wanted)
    for name in components:
        if name not in ("id", "phenomenonTime", "resultTime", "result"):
            raise QueryError(
                "$select",
                f"dataArray components are id, phenomenonTime, resultTime and result, not {name!r}",
            )
    columns = tuple(n for n in components if n != "id")
    return Plan(plan.set_name, columns, (), True, (), replace(plan.options, select=components))


def _data_array(base: str, plan: Plan, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    components = plan.options.select or DATA_ARRAY_COMPONENTS
    groups: dict[int, list[list[Any]]] = {}
    for row in rows:
        series = int(str(row["_id"]).partition("-")[0])
        groups.setdefault(series, []).append(
            [row["_id"] if n == "id" else render.value_of(row[n]) for n in components]
        )
    return [
        {
            "Datastream@iot.navigationLink": render.self_link(base, "Datastreams", series),
            "components": list(components),
            "dataArray@iot.count": len(values),
            "dataArray": values,
        }
        for series, values in groups.items()
    ]
