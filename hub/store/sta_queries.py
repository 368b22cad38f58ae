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
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from hub.sta import syntax as s
from hub.sta.errors import QueryError
from hub.store.sta_sql import CATALOGUE, SOURCES
from hub.store.sta_statement import (
    Statement,
    Step,
    after_condition,
    keyset_capable,
    order_by,
)

Conn = psycopg.AsyncConnection[Any]
_KEY_CAST = {"int": "bigint", "text": "text"}


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


async def fetch_page(
    conn: Conn, catalogue: dict[str, Any], steps: Sequence[Step], query: Query
) -> Page:
    """One page of the entity set the path ends in (an entity by key is a page of one)."""
    st = Statement(catalogue)
    scope = st.c.scope(query.set_name)
    conds = st.restrict(steps, scope)
    if query.filter is not None:
        conds.append(st.c.condition(query.filter, scope))
    keys = st.order(query.orderby, scope)
    capable = keyset_capable(keys)
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
        paged.append(after_condition(st, keys, query.after))
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
        order_by(keys),
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
        st = Statement(catalogue)
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
    st = Statement(catalogue)
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
    keys = st.order(query.orderby, scope)
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
        order_by(keys),
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
    st = Statement(catalogue)
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
