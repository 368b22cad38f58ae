"""Compile a parsed ``$filter`` / ``$orderby`` tree (:mod:`hub.sta.syntax`) into SQL.

Every literal becomes a named placeholder with an explicit cast; property paths
resolve to the templates of :mod:`hub.store.sta_sql`; functions and operators map
to fixed SQL. A type mismatch or an unknown name raises
:class:`~hub.sta.errors.QueryError` with the position of the offending node.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from psycopg import sql

from hub.sta import syntax as s
from hub.sta.errors import QueryError
from hub.store.sta_sql import SOURCES, Kind, Source

EARTH_RADIUS_M = 6371008.8

_CAST: dict[str, str] = {
    "int": "bigint",
    "number": "float8",
    "text": "text",
    "bool": "boolean",
    "time": "timestamptz",
    "date": "date",
    "json": "jsonb",
    "polygon": "polygon",
    "tod": "time",
}
_COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_NUMERIC = ("int", "number")
ORDERABLE = ("int", "number", "text", "bool", "time", "date", "tod")


@dataclass(frozen=True, slots=True)
class Typed:
    sql: sql.Composable
    kind: Kind | str
    nonnull: bool = False  # never NULL: may order by the default NULLS placement and page by key


@dataclass(frozen=True, slots=True)
class Scope:
    source: Source
    e: str
    j: str


class Compiler:
    """Holds the parameters of one SQL statement while its parts are compiled."""

    def __init__(self, option: str = "$filter") -> None:
        self.params: dict[str, Any] = {}
        self.option = option
        self._aliases = 0
        self._params = 0

    # -- building blocks -------------------------------------------------------------
    def scope(self, set_name: str) -> Scope:
        self._aliases += 1
        return Scope(SOURCES[set_name], f"e{self._aliases}", f"j{self._aliases}")

    def param(self, value: Any, kind: str) -> sql.Composed:
        self._params += 1
        name = f"p{self._params}"
        self.params[name] = value
        return sql.Composed([sql.Placeholder(name), sql.SQL("::" + _CAST[kind])])

    def named(self, name: str, value: Any, cast: str) -> sql.Composed:
        self.params[name] = value
        return sql.Composed([sql.Placeholder(name), sql.SQL("::" + cast)])

    @staticmethod
    def fill(template: str, scope: Scope, **more: sql.Composable) -> sql.Composed:
        names: dict[str, sql.Composable] = {
            "e": sql.Identifier(scope.e),
            "j": sql.Identifier(scope.j),
        }
        names.update(more)
        return sql.SQL(template).format(**names)

    def from_clause(self, scope: Scope) -> sql.Composed:
        return self.fill(scope.source.from_, scope)

    def where_clause(self, scope: Scope) -> sql.Composable | None:
        return self.fill(scope.source.where, scope) if scope.source.where else None

    def key(self, scope: Scope) -> sql.Composed:
        return self.fill(scope.source.key, scope)

    def error(self, reason: str, pos: int) -> QueryError:
        return QueryError(self.option, reason, pos)

    # -- expressions -----------------------------------------------------------------
    def condition(self, expr: s.Expr, scope: Scope) -> sql.Composable:
        typed = self.expr(expr, scope)
        if typed.kind != "bool":
            raise self.error("must be a condition (a comparison or a boolean function)", expr.pos)
        return typed.sql

    def expr(self, expr: s.Expr, scope: Scope) -> Typed:
        if isinstance(expr, s.Lit):
            return self._literal(expr)
        if isinstance(expr, s.Path):
            return self.path(expr.segments, scope, expr.pos)
        if isinstance(expr, s.Binary):
            return self._binary(expr, scope)
        if isinstance(expr, s.Unary):
            inner = self.expr(expr.operand, scope)
            if expr.op == "not":
                if inner.kind != "bool":
                    raise self.error("'not' needs a condition", expr.pos)
                return Typed(sql.SQL("(NOT {})").format(inner.sql), "bool")
            if inner.kind not in _NUMERIC:
                raise self.error("'-' needs a number", expr.pos)
            return Typed(sql.SQL("(- {})").format(inner.sql), inner.kind)
        if isinstance(expr, s.Call):
            from hub.store.sta_functions import call

            return call(self, expr, scope)
        raise self.error(
            f"a {'point' if isinstance(expr, s.Point) else 'polygon'} "
            "literal is only allowed in a geo function",
            expr.pos,
        )

    def _literal(self, lit: s.Lit) -> Typed:
        value = lit.value
        if value is None:
            return Typed(sql.SQL("NULL"), "null")
        if isinstance(value, bool):
            return Typed(self.param(value, "bool"), "bool")
        if isinstance(value, int):
            return Typed(self.param(value, "int"), "int")
        if isinstance(value, float):
            return Typed(self.param(value, "number"), "number")
        if isinstance(value, datetime):
            return Typed(self.param(value, "time"), "time")
        if isinstance(value, date):
            return Typed(self.param(value, "date"), "date")
        return Typed(self.param(value, "text"), "text")

    def path(self, segments: tuple[str, ...], scope: Scope, pos: int) -> Typed:
        source = scope.source
        head, rest = segments[0], segments[1:]
        if head in ("id", "@iot.id"):
            if rest:
                raise self.error("'id' has no sub-properties", pos)
            return Typed(self.key(scope), source.key_kind, nonnull=True)
        column = source.columns.get(head)
        if column is not None:
            typed = Typed(self.fill(column.sql, scope), column.kind, column.nonnull)
            if not rest:
                return typed
            if column.kind != "json":
                raise self.error(f"'{head}' has no sub-properties", pos)
            return Typed(
                sql.SQL("({} #> {})").format(
                    typed.sql, self.param(list(rest), "text") + sql.SQL("[]")
                ),
                "json",
            )
        link = source.links.get(head)
        if link is None:
            raise self.error(f"no property or navigation '{head}' here", pos)
        if not rest:
            raise self.error(f"'{head}' is an entity, not a value: name one of its properties", pos)
        if link.many and not link.single:
            raise self.error(
                f"'{head}' is a collection: a filter can follow only single entities", pos
            )
        inner = self.scope(link.target)
        value = self.path(rest, inner, pos)
        parts: list[sql.Composable] = [
            sql.SQL("(SELECT "),
            value.sql,
            sql.SQL(" FROM "),
            self.from_clause(inner),
            sql.SQL(" WHERE "),
        ]
        where = self.where_clause(inner)
        if where is not None:
            parts += [where, sql.SQL(" AND ")]
        if link.many:
            assert link.cond is not None
            parts.append(
                self.fill(
                    link.cond,
                    inner,
                    c=sql.Identifier(inner.e),
                    cj=sql.Identifier(inner.j),
                    pk=self.key(scope),
                )
            )
        else:
            assert link.fk is not None
            parts += [self.key(inner), sql.SQL(" = "), self.fill(link.fk, scope)]
        parts.append(sql.SQL(" LIMIT 1)"))
        return Typed(sql.Composed(parts), value.kind)

    def _binary(self, expr: s.Binary, scope: Scope) -> Typed:
        op = expr.op
        if op in ("and", "or"):
            a = self.condition(expr.left, scope)
            b = self.condition(expr.right, scope)
            return Typed(sql.SQL("({} " + op.upper() + " {})").format(a, b), "bool")
        left, right = self.expr(expr.left, scope), self.expr(expr.right, scope)
        if op in _COMPARE:
            return self.compare(op, left, right, expr)
        if left.kind not in _NUMERIC or right.kind not in _NUMERIC:
            raise self.error(f"'{op}' needs two numbers", expr.pos)
        kind = "int" if left.kind == right.kind == "int" and op != "div" else "number"
        if op == "div":
            body = sql.SQL("({}::float8 / NULLIF({}, 0))").format(left.sql, right.sql)
        elif op == "mod":
            body = sql.SQL("mod({}::numeric, NULLIF({}, 0)::numeric)::float8").format(
                left.sql, right.sql
            )
        else:
            sign = {"add": "+", "sub": "-", "mul": "*"}[op]
            body = sql.SQL("({} " + sign + " {})").format(left.sql, right.sql)
        return Typed(body, kind)

    def compare(self, op: str, left: Typed, right: Typed, expr: s.Binary) -> Typed:
        symbol = _COMPARE[op]
        if right.kind == "null" or left.kind == "null":
            other = left if right.kind == "null" else right
            if op not in ("eq", "ne"):
                raise self.error("null can only be compared with eq or ne", expr.pos)
            test = "IS NULL" if op == "eq" else "IS NOT NULL"
            body = other.sql
            if other.kind == "json":
                body = sql.SQL("nullif({}, 'null'::jsonb)").format(body)
            return Typed(sql.SQL("({} " + test + ")").format(body), "bool")
        left, right = self._coerce(left, right, expr), self._coerce(right, left, expr)
        if left.kind in ("point", "range") or right.kind in ("point", "range"):
            raise self.error(
                "a geometry or a time interval cannot be compared; use a function", expr.pos
            )
        compatible = (left.kind == right.kind) or (left.kind in _NUMERIC and right.kind in _NUMERIC)
        if not compatible:
            raise self.error(f"cannot compare {left.kind} with {right.kind}", expr.pos)
        return Typed(sql.SQL("({} " + symbol + " {})").format(left.sql, right.sql), "bool")

    def _coerce(self, this: Typed, other: Typed, expr: s.Binary) -> Typed:
        """A JSON value compared with a typed value takes the other's type; a text
        literal compared with a time is read as a time."""
        if this.kind == "json" and other.kind != "json":
            if other.kind in _NUMERIC:
                return Typed(
                    sql.SQL(
                        "(CASE WHEN jsonb_typeof({0}) = 'number' THEN ({0} #>> '{{}}')::float8 END)"
                    ).format(this.sql),
                    "number",
                )
            if other.kind == "bool":
                return Typed(
                    sql.SQL(
                        "(CASE WHEN jsonb_typeof({0}) = 'boolean' THEN ({0} #>> '{{}}')::boolean END)"
                    ).format(this.sql),
                    "bool",
                )
            if other.kind == "time":
                return Typed(
                    sql.SQL(
                        "(CASE WHEN jsonb_typeof({0}) = 'string' THEN ({0} #>> '{{}}') END)::timestamptz"
                    ).format(this.sql),
                    "time",
                )
            return Typed(sql.SQL("({} #>> '{{}}')").format(this.sql), "text")
        if this.kind == "text" and other.kind == "time":
            return self._text_as_time(this, expr)
        return this

    def _text_as_time(self, typed: Typed, expr: s.Binary) -> Typed:
        for side in (expr.left, expr.right):
            if isinstance(side, s.Lit) and isinstance(side.value, str):
                try:
                    when = datetime.fromisoformat(side.value.replace("Z", "+00:00"))
                except ValueError:
                    raise self.error(f"not a date and time: {side.value!r}", side.pos) from None
                if when.tzinfo is None:
                    raise self.error("a date and time needs its offset (Z or +01:00)", side.pos)
                return Typed(self.param(when, "time"), "time")
        return typed

    # -- order keys ------------------------------------------------------------------
    def order_keys(self, keys: tuple[s.OrderKey, ...], scope: Scope) -> list[tuple[Typed, bool]]:
        out: list[tuple[Typed, bool]] = []
        for key in keys:
            expr = key.expr
            if (
                isinstance(expr, s.Path)
                and len(expr.segments) == 1
                and (
                    expr.segments[0] in ("id", "@iot.id")
                    and scope.source.key_kind == "text"
                    and len(scope.source.tiebreak) > 1
                )
            ):
                out += [
                    (Typed(self.fill(t, scope), k, nonnull=True), key.descending)
                    for t, k in scope.source.tiebreak
                ]
                continue
            typed = self.expr(expr, scope)
            if typed.kind not in (*ORDERABLE, "json"):
                raise self.error(f"cannot order by a {typed.kind}", expr.pos)
            out.append((typed, key.descending))
        return out


def json_param(value: Any) -> str:
    return orjson.dumps(value).decode()
