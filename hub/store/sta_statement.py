"""The parts of a SensorThings SQL statement: entity-path restrictions, the
select list, order keys and the keyset condition that continues a page, plus the
Observation id (series and time) and the catalogue parameters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import sql

from hub.sta import syntax as s
from hub.sta.errors import QueryError
from hub.store.sta_compile import ORDERABLE, Compiler, Scope, Typed
from hub.store.sta_sql import OBSERVATION_KEY, SOURCES

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Step:
    """One segment of a resource path: an entity set, reached through ``via`` (the
    navigation property of the previous step), optionally one entity by ``key``."""

    set_name: str
    key: Any = None
    via: str | None = None


def observation_id(series_id: int, time: datetime) -> str:
    """The stable id of a reading (docs/sensorthings.md)."""
    delta = time - EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{series_id}-{micros}"


def parse_observation_id(key: str) -> tuple[int, datetime] | None:
    series, sep, micros = key.partition("-")
    if not sep or not series.isdigit():
        return None
    try:
        return int(series), EPOCH + timedelta(microseconds=int(micros))
    except (ValueError, OverflowError):
        return None


def catalogue_params(
    sensors: Sequence[Sequence[Any]], metrics: Sequence[Sequence[Any]]
) -> dict[str, Any]:
    """The parameters of :data:`~hub.store.sta_sql.CATALOGUE`: sensors as (id, name,
    description, metadata), metrics as (profile, metric, description, unit name,
    unit symbol, unit definition, definition, properties JSON)."""
    names = ("id", "name", "description", "metadata")
    params = {f"cat_sensor_{n}": [row[i] for row in sensors] for i, n in enumerate(names)}
    metric_names = (
        "profile",
        "name",
        "description",
        "unit_name",
        "unit_symbol",
        "unit_definition",
        "definition",
        "properties",
    )
    params |= {f"cat_metric_{n}": [row[i] for row in metrics] for i, n in enumerate(metric_names)}
    return params


class Statement:
    def __init__(self, catalogue: dict[str, Any], option: str = "$filter") -> None:
        self.c = Compiler(option)
        self.c.params.update(catalogue)
        self.copies: list[tuple[str, str]] = []
        self.observation_ids = False

    def fetched(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.observation_ids:
            for row in rows:
                row["_id"] = observation_id(row.pop("_series"), row.pop("_time"))
        for row in rows:
            for name, source in self.copies:
                row[name] = row[source]
        return rows

    def key_condition(self, scope: Scope, key: Any) -> sql.Composable:
        if scope.source is SOURCES["Observations"]:
            parsed = parse_observation_id(str(key))
            if parsed is None:
                return sql.SQL("FALSE")
            self.c.params["key_series"], self.c.params["key_time"] = parsed
            return self.c.fill(OBSERVATION_KEY, scope)
        return sql.SQL("{} = {}").format(
            self.c.key(scope), self.c.param(key, scope.source.key_kind)
        )

    def restrict(self, steps: Sequence[Step], scope: Scope) -> list[sql.Composable]:
        last = steps[-1]
        conds: list[sql.Composable] = []
        where = self.c.where_clause(scope)
        if where is not None:
            conds.append(where)
        if last.key is not None:
            conds.append(self.key_condition(scope, last.key))
        if len(steps) == 1:
            return conds
        parents = steps[:-1]
        parent = parents[-1]
        assert last.via is not None
        link = SOURCES[parent.set_name].links[last.via]
        child = {"c": sql.Identifier(scope.e), "cj": sql.Identifier(scope.j)}
        if (
            link.many
            and len(parents) == 1
            and parent.key is not None
            and parent.set_name != "Observations"
        ):
            pk = self.c.param(parent.key, SOURCES[parent.set_name].key_kind)
            assert link.cond is not None
            conds.append(self.c.fill(link.cond, scope, pk=pk, **child))
            return conds
        pscope = self.c.scope(parent.set_name)
        inner = sql.SQL(" AND ").join(self.restrict(parents, pscope) or [sql.SQL("TRUE")])
        source = self.c.from_clause(pscope)
        if link.many:
            assert link.cond is not None
            tie = self.c.fill(link.cond, scope, pk=self.c.key(pscope), **child)
            conds.append(
                sql.SQL("EXISTS (SELECT 1 FROM {} WHERE {} AND {})").format(source, inner, tie)
            )
        else:
            assert link.fk is not None
            conds.append(
                sql.SQL("{} IN (SELECT {} FROM {} WHERE {})").format(
                    self.c.key(scope), self.c.fill(link.fk, pscope), source, inner
                )
            )
        return conds

    def select_list(
        self, scope: Scope, columns: Sequence[str], fks: Sequence[str]
    ) -> list[sql.Composable]:
        if scope.source is SOURCES["Observations"]:
            # The id is built here from series and time (cheaper than in SQL).
            self.observation_ids = True
            out: list[sql.Composable] = [
                self.c.fill("{e}.series_id AS _series, {e}.time AS _time", scope)
            ]
        else:
            out = [sql.SQL("{} AS _id").format(self.c.key(scope))]
        first: dict[str, str] = {}
        for name in columns:
            column = scope.source.columns[name]
            template = column.out or column.sql
            if template in first:  # the same value twice (a Datastream's two time ranges)
                self.copies.append((name, first[template]))
                continue
            first[template] = name
            out.append(
                sql.SQL("{} AS {}").format(
                    self.c.fill(column.out or column.sql, scope), sql.Identifier(name)
                )
            )
        for name in fks:
            link = scope.source.links[name]
            assert link.fk is not None
            out.append(
                sql.SQL("{} AS {}").format(
                    self.c.fill(link.fk, scope), sql.Identifier("_fk_" + name)
                )
            )
        return out

    def order(self, orderby: tuple[s.OrderKey, ...], scope: Scope) -> list[tuple[Typed, bool]]:
        self.c.option = "$orderby"
        keys = self.c.order_keys(orderby, scope)
        self.c.option = "$filter"
        descending = keys[0][1] if keys else False
        for template, kind in scope.source.tiebreak:
            expr = self.c.fill(template, scope)
            if all(expr != k.sql for k, _ in keys):
                keys.append((Typed(expr, kind, nonnull=True), descending))
        return keys


def order_by(keys: list[tuple[Typed, bool]]) -> sql.Composable:
    # Keys that are never NULL take PostgreSQL's default NULLS placement, so that the
    # order matches an index (readings' primary key, backwards for DESC); NULLs of
    # the others sort as the lowest values.
    def one(key: Typed, desc: bool) -> sql.Composable:
        if key.nonnull:
            return sql.SQL("{} DESC" if desc else "{} ASC").format(key.sql)
        return sql.SQL("{} DESC NULLS LAST" if desc else "{} ASC NULLS FIRST").format(key.sql)

    return sql.SQL(", ").join(one(k, desc) for k, desc in keys)


_TOKEN_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "number": (int, float),
    "text": (str,),
    "bool": (bool,),
    "time": (datetime,),
    "date": (str,),
    "tod": (str,),
}


def after_condition(
    st: Statement, keys: list[tuple[Typed, bool]], values: tuple[Any, ...]
) -> sql.Composable:
    if len(values) != len(keys):
        raise QueryError("$skiptoken", "does not belong to this $orderby; follow @iot.nextLink")
    for (key, _), value in zip(keys, values, strict=True):
        wanted = _TOKEN_TYPES[str(key.kind)]
        if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
            raise QueryError("$skiptoken", "does not belong to this $orderby; follow @iot.nextLink")
    params = [st.c.param(v, str(k.kind)) for (k, _), v in zip(keys, values, strict=True)]
    exprs = [k.sql for k, _ in keys]
    if len({desc for _, desc in keys}) == 1:
        op = sql.SQL("<" if keys[0][1] else ">")
        return sql.SQL("(({}) {} ({}))").format(
            sql.SQL(", ").join(exprs), op, sql.SQL(", ").join(params)
        )
    alternatives: list[sql.Composable] = []
    for i, (_, desc) in enumerate(keys):
        same = [sql.SQL("{} = {}").format(exprs[j], params[j]) for j in range(i)]
        step = sql.SQL("{} " + ("<" if desc else ">") + " {}").format(exprs[i], params[i])
        alternatives.append(sql.SQL("(") + sql.SQL(" AND ").join([*same, step]) + sql.SQL(")"))
    return sql.SQL("(") + sql.SQL(" OR ").join(alternatives) + sql.SQL(")")


def keyset_capable(keys: list[tuple[Typed, bool]]) -> bool:
    """Paging from a key needs keys that are never NULL (a row comparison skips NULLs)."""
    return all(k.kind in ORDERABLE and k.nonnull for k, _ in keys)
