"""Run SensorThings reads: a page of an entity set (addressed by a resource path),
its count, and the entities expanded under a page of parents.

Paging continues from a key (keyset): the page is ordered by the requested keys
plus the entity key as tie-breaker, and the next page starts after the last row's
values of those keys, so a deep page costs what the first one does. Order keys
whose value may be a JSON document, or a last row with a NULL key, fall back to
an offset (the caller then gets ``keyset=None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from hub.sta import syntax as s
from hub.sta.errors import QueryError
from hub.store.sta_compile import ORDERABLE, Compiler, Scope, Typed
from hub.store.sta_sql import CATALOGUE, OBSERVATION_KEY, SOURCES

Conn = psycopg.AsyncConnection[Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KEY_CAST = {"int": "bigint", "text": "text"}


@dataclass(frozen=True, slots=True)
class Step:
    """One segment of a resource path: an entity set, reached through ``via`` (the
    navigation property of the previous step), optionally one entity by ``key``."""

    set_name: str
    key: Any = None
    via: str | None = None


@dataclass(frozen=True, slots=True)
class Query:
    set_name: str
    columns: tuple[str, ...]
    fks: tuple[str, ...] = ()
    filter: s.Expr | None = None
    orderby: tuple[s.OrderKey, ...] = ()
    top: int = 100
    skip: int = 0
    after: tuple[Any, ...] | None = None
    count: bool = False


@dataclass(slots=True)
class Page:
    rows: list[dict[str, Any]]
    more: bool
    count: int | None = None
    keyset: tuple[Any, ...] | None = None


@dataclass(slots=True)
class Expanded:
    rows: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False
    count: int | None = None


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


class _Statement:
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

    def order(self, query: Query, scope: Scope) -> list[tuple[Typed, bool]]:
        self.c.option = "$orderby"
        keys = self.c.order_keys(query.orderby, scope)
        self.c.option = "$filter"
        descending = keys[0][1] if keys else False
        for template, kind in scope.source.tiebreak:
            expr = self.c.fill(template, scope)
            if all(expr != k.sql for k, _ in keys):
                keys.append((Typed(expr, kind, nonnull=True), descending))
        return keys


def _ordered(keys: list[tuple[Typed, bool]]) -> sql.Composable:
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


def _after(
    st: _Statement, keys: list[tuple[Typed, bool]], values: tuple[Any, ...]
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


def _keyset_capable(keys: list[tuple[Typed, bool]]) -> bool:
    """Paging from a key needs keys that are never NULL (a row comparison skips NULLs)."""
    return all(k.kind in ORDERABLE and k.nonnull for k, _ in keys)


async def fetch_page(
    conn: Conn, catalogue: dict[str, Any], steps: Sequence[Step], query: Query
) -> Page:
    """One page of the entity set the path ends in (an entity by key is a page of one)."""
    st = _Statement(catalogue)
    scope = st.c.scope(query.set_name)
    conds = st.restrict(steps, scope)
    if query.filter is not None:
        conds.append(st.c.condition(query.filter, scope))
    keys = st.order(query, scope)
    capable = _keyset_capable(keys)
    where = sql.SQL(" AND ").join(conds) if conds else sql.SQL("TRUE")
    count = None
    if query.count:
        text = sql.SQL("WITH {} SELECT count(*) FROM {} WHERE {}").format(
            sql.SQL(CATALOGUE), st.c.from_clause(scope), where
        )
        cur = await conn.execute(text, st.c.params)
        row = await cur.fetchone()
        count = int(row[0]) if row else 0
    paged = list(conds)
    offset = query.skip
    if query.after is not None:
        if not capable:
            raise QueryError("$skiptoken", "this $orderby pages by $skip; follow @iot.nextLink")
        paged.append(_after(st, keys, query.after))
        offset = 0
    select = st.select_list(scope, query.columns, query.fks)
    select += [
        sql.SQL("{} AS {}").format(k.sql, sql.Identifier(f"_k{i}")) for i, (k, _) in enumerate(keys)
    ]
    text = sql.SQL("WITH {} SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT {} OFFSET {}").format(
        sql.SQL(CATALOGUE),
        sql.SQL(", ").join(select),
        st.c.from_clause(scope),
        sql.SQL(" AND ").join(paged) if paged else sql.SQL("TRUE"),
        _ordered(keys),
        st.c.param(query.top + 1, "int"),
        st.c.param(offset, "int"),
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(text, st.c.params)
        rows = st.fetched(await cur.fetchall())
    more = len(rows) > query.top > 0  # $top=0 asks for no entities (and so no next page)
    rows = rows[: query.top]
    keyset = None
    if more and capable and rows:
        last = tuple(rows[-1][f"_k{i}"] for i in range(len(keys)))
        keyset = None if any(v is None for v in last) else last
    return Page(rows, more, count, keyset)


async def exists(conn: Conn, catalogue: dict[str, Any], steps: Sequence[Step]) -> bool:
    """Whether every keyed entity along the path exists (else the path is a 404)."""
    for i, step in enumerate(steps):
        if step.key is None:
            continue
        st = _Statement(catalogue)
        scope = st.c.scope(step.set_name)
        conds = st.restrict(steps[: i + 1], scope)
        text = sql.SQL("WITH {} SELECT 1 FROM {} WHERE {} LIMIT 1").format(
            sql.SQL(CATALOGUE), st.c.from_clause(scope), sql.SQL(" AND ").join(conds)
        )
        cur = await conn.execute(text, st.c.params)
        if await cur.fetchone() is None:
            return False
    return True


async def expand_many(
    conn: Conn,
    catalogue: dict[str, Any],
    parent_set: str,
    link_name: str,
    parent_keys: Sequence[Any],
    query: Query,
) -> dict[Any, Expanded]:
    """The entities under each parent of a page, through a to-many link, each
    parent's own page of ``query.top`` (a LATERAL join per parent)."""
    parent = SOURCES[parent_set]
    link = parent.links[link_name]
    assert link.cond is not None
    out: dict[Any, Expanded] = {key: Expanded() for key in parent_keys}
    if not parent_keys:
        return out
    st = _Statement(catalogue)
    scope = st.c.scope(link.target)
    pk = sql.SQL("p.pk")
    conds: list[sql.Composable] = [
        st.c.fill(link.cond, scope, pk=pk, c=sql.Identifier(scope.e), cj=sql.Identifier(scope.j))
    ]
    where = st.c.where_clause(scope)
    if where is not None:
        conds.append(where)
    if query.filter is not None:
        conds.append(st.c.condition(query.filter, scope))
    keys = st.order(query, scope)
    parents = st.c.named("parents", list(parent_keys), _KEY_CAST[parent.key_kind] + "[]")
    body = sql.SQL(" AND ").join(conds)
    text = sql.SQL(
        "WITH {} SELECT p.pk AS _parent, x.* FROM unnest({}) AS p(pk) CROSS JOIN LATERAL "
        "(SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT {} OFFSET {}) x"
    ).format(
        sql.SQL(CATALOGUE),
        parents,
        sql.SQL(", ").join(st.select_list(scope, query.columns, query.fks)),
        st.c.from_clause(scope),
        body,
        _ordered(keys),
        st.c.param(query.top + 1, "int"),
        st.c.param(query.skip, "int"),
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(text, st.c.params)
        for row in st.fetched(await cur.fetchall()):
            group = out[row.pop("_parent")]
            if len(group.rows) < query.top:
                group.rows.append(row)
            elif query.top > 0:
                group.more = True
    if query.count:
        text = sql.SQL(
            "WITH {} SELECT p.pk, (SELECT count(*) FROM {} WHERE {}) FROM unnest({}) AS p(pk)"
        ).format(sql.SQL(CATALOGUE), st.c.from_clause(scope), body, parents)
        cur2 = await conn.execute(text, st.c.params)
        for key, n in await cur2.fetchall():
            out[key].count = int(n)
    return out


async def expand_one(
    conn: Conn,
    catalogue: dict[str, Any],
    set_name: str,
    keys: Sequence[Any],
    columns: Sequence[str],
    fks: Sequence[str],
) -> dict[Any, dict[str, Any]]:
    """Entities by key (the targets of a to-one link of a page of parents)."""
    wanted = sorted({k for k in keys if k is not None})
    if not wanted:
        return {}
    st = _Statement(catalogue)
    scope = st.c.scope(set_name)
    conds: list[sql.Composable] = [
        sql.SQL("{} = ANY({})").format(
            st.c.key(scope), st.c.named("keys", wanted, _KEY_CAST[scope.source.key_kind] + "[]")
        )
    ]
    where = st.c.where_clause(scope)
    if where is not None:
        conds.append(where)
    text = sql.SQL("WITH {} SELECT {} FROM {} WHERE {}").format(
        sql.SQL(CATALOGUE),
        sql.SQL(", ").join(st.select_list(scope, columns, fks)),
        st.c.from_clause(scope),
        sql.SQL(" AND ").join(conds),
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(text, st.c.params)
        return {row["_id"]: row for row in st.fetched(await cur.fetchall())}


SERIES_IDS = (
    """SELECT s.id, d.device_id, s.metric FROM series s JOIN devices d ON d.id = s.device"""
)


async def series_ids(conn: Conn) -> dict[tuple[str, str], int]:
    """(device id, metric) -> series id: the Datastream ids, for the MQTT publisher."""
    cur = await conn.execute(SERIES_IDS)
    return {(device, metric): int(pk) for pk, device, metric in await cur.fetchall()}
