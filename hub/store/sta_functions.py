"""The ``$filter`` functions of SensorThings 1.1 (OData's string, date, math and
geospatial functions) as SQL.

Geometry without PostGIS: a location is a PostgreSQL ``point`` (lon, lat), a
polygon literal a ``polygon``; containment is the built-in ``@>``, and
``geo.distance`` is the great-circle (haversine) distance in metres on a sphere
of the mean Earth radius (docs/sensorthings.md says so: not the CRS degrees).
"""

from __future__ import annotations

from collections.abc import Callable

from psycopg import sql

from hub.sta import syntax as s
from hub.store.sta_compile import EARTH_RADIUS_M, Compiler, Scope, Typed

_Arity = tuple[str, ...]

# name: (argument kinds, result kind, SQL template over {0}, {1}, {2})
_SIMPLE: dict[str, tuple[_Arity, str, str]] = {
    "substringof": (("text", "text"), "bool", "(strpos({1}, {0}) > 0)"),
    "contains": (("text", "text"), "bool", "(strpos({0}, {1}) > 0)"),
    "endswith": (("text", "text"), "bool", "(right({0}, length({1})) = {1})"),
    "startswith": (("text", "text"), "bool", "(left({0}, length({1})) = {1})"),
    "length": (("text",), "int", "length({0})"),
    "indexof": (("text", "text"), "int", "(strpos({0}, {1}) - 1)"),
    "tolower": (("text",), "text", "lower({0})"),
    "toupper": (("text",), "text", "upper({0})"),
    "trim": (("text",), "text", "btrim({0})"),
    "concat": (("text", "text"), "text", "({0} || {1})"),
    "year": (("time",), "int", "extract(year FROM {0} AT TIME ZONE 'UTC')::int"),
    "month": (("time",), "int", "extract(month FROM {0} AT TIME ZONE 'UTC')::int"),
    "day": (("time",), "int", "extract(day FROM {0} AT TIME ZONE 'UTC')::int"),
    "hour": (("time",), "int", "extract(hour FROM {0} AT TIME ZONE 'UTC')::int"),
    "minute": (("time",), "int", "extract(minute FROM {0} AT TIME ZONE 'UTC')::int"),
    "second": (("time",), "int", "floor(extract(second FROM {0} AT TIME ZONE 'UTC'))::int"),
    "fractionalseconds": (
        ("time",),
        "number",
        "(mod(extract(microseconds FROM {0}), 1000000) / 1000000.0)::float8",
    ),
    "date": (("time",), "date", "({0} AT TIME ZONE 'UTC')::date"),
    "time": (("time",), "tod", "({0} AT TIME ZONE 'UTC')::time"),
    "totaloffsetminutes": (("time",), "int", "(0 * extract(epoch FROM {0}))::int"),
    "mindatetime": (("time",), "time", "{0}"),
    "maxdatetime": (("time",), "time", "{0}"),
    "round": (("number",), "number", "round({0}::numeric)::float8"),
    "floor": (("number",), "number", "floor({0}::float8)"),
    "ceiling": (("number",), "number", "ceiling({0}::float8)"),
}

_HAVERSINE = (
    "(2 * " + str(EARTH_RADIUS_M) + " * asin(sqrt("
    "power(sin(radians(({1})[1] - ({0})[1]) / 2), 2) + "
    "cos(radians(({0})[1])) * cos(radians(({1})[1])) * "
    "power(sin(radians(({1})[0] - ({0})[0]) / 2), 2))))"
)


def _fits(kind: str, wanted: str) -> bool:
    return kind == wanted or (wanted == "number" and kind == "int") or kind == "null"


def _geometry(c: Compiler, expr: s.Expr, scope: Scope) -> Typed:
    if isinstance(expr, s.Point):
        return Typed(
            sql.SQL("point({}, {})").format(
                c.param(expr.lon, "number"), c.param(expr.lat, "number")
            ),
            "point",
        )
    if isinstance(expr, s.Polygon):
        text = "(" + ",".join(f"({lon!r},{lat!r})" for lon, lat in expr.ring) + ")"
        return Typed(c.param(text, "polygon"), "polygon")
    typed = c.expr(expr, scope)
    if typed.kind != "point":
        raise c.error("needs a location (a geometry property or a geography literal)", expr.pos)
    return typed


def _relate(test: str) -> Callable[[Compiler, s.Call, Scope], Typed]:
    def build(c: Compiler, call: s.Call, scope: Scope) -> Typed:
        if len(call.args) != 2:
            raise c.error(f"{call.name} takes two geometries", call.pos)
        a, b = (_geometry(c, arg, scope) for arg in call.args)
        if a.kind == b.kind == "point":
            body = sql.SQL("({} ~= {})").format(a.sql, b.sql)
            if test == "disjoint":
                body = sql.SQL("(NOT {})").format(body)
            return Typed(body, "bool")
        if test in ("intersects", "within", "contains", "disjoint"):
            point, polygon = (a, b) if a.kind == "point" else (b, a)
            if test == "within" and a.kind != "point":
                raise c.error(
                    "st_within(point, polygon): a polygon is not within a point", call.pos
                )
            if test == "contains" and a.kind == "point":
                raise c.error("st_contains(polygon, point): a point contains no polygon", call.pos)
            body = sql.SQL("({} @> {})").format(polygon.sql, point.sql)
            if test == "disjoint":
                body = sql.SQL("(NOT {})").format(body)
            return Typed(body, "bool")
        raise c.error(f"{call.name} of two polygons is not supported", call.pos)

    return build


def _distance(c: Compiler, call: s.Call, scope: Scope) -> Typed:
    if len(call.args) != 2:
        raise c.error("geo.distance takes two points", call.pos)
    a, b = (_geometry(c, arg, scope) for arg in call.args)
    if a.kind != "point" or b.kind != "point":
        raise c.error("geo.distance is supported between two points only", call.pos)
    return Typed(sql.SQL(_HAVERSINE).format(a.sql, b.sql), "number")


_GEO: dict[str, Callable[[Compiler, s.Call, Scope], Typed]] = {
    "geo.intersects": _relate("intersects"),
    "st_intersects": _relate("intersects"),
    "st_within": _relate("within"),
    "st_contains": _relate("contains"),
    "st_disjoint": _relate("disjoint"),
    "st_equals": _relate("equals"),
    "geo.distance": _distance,
}


def call(c: Compiler, expr: s.Call, scope: Scope) -> Typed:
    name = expr.name
    if name in _GEO:
        return _GEO[name](c, expr, scope)
    if name == "now":
        if expr.args:
            raise c.error("now() takes no arguments", expr.pos)
        return Typed(sql.SQL("now()"), "time")
    if name == "substring":
        return _substring(c, expr, scope)
    if name not in _SIMPLE:
        known = ", ".join(sorted([*_SIMPLE, *_GEO, "now", "substring"]))
        raise c.error(f"unknown or unsupported function '{name}' (supported: {known})", expr.pos)
    wanted, result, template = _SIMPLE[name]
    if len(expr.args) != len(wanted):
        raise c.error(f"{name} takes {len(wanted)} argument(s)", expr.pos)
    args = [c.expr(a, scope) for a in expr.args]
    for arg, kind, node in zip(args, wanted, expr.args, strict=True):
        if arg.kind == "json":
            continue
        if not _fits(str(arg.kind), kind):
            raise c.error(f"{name} needs a {kind} here, not a {arg.kind}", node.pos)
    parts = [sql.SQL("({} #>> '{{}}')").format(a.sql) if a.kind == "json" else a.sql for a in args]
    return Typed(sql.SQL(template).format(*parts), result)


def _substring(c: Compiler, expr: s.Call, scope: Scope) -> Typed:
    if len(expr.args) not in (2, 3):
        raise c.error("substring takes 2 or 3 arguments", expr.pos)
    args = [c.expr(a, scope) for a in expr.args]
    if args[0].kind != "text" or any(a.kind != "int" for a in args[1:]):
        raise c.error("substring(text, int[, int])", expr.pos)
    if len(args) == 2:
        return Typed(sql.SQL("substr({}, ({} + 1)::int)").format(args[0].sql, args[1].sql), "text")
    return Typed(
        sql.SQL("substr({}, ({} + 1)::int, greatest({}, 0)::int)").format(
            args[0].sql, args[1].sql, args[2].sql
        ),
        "text",
    )
