"""What a request asks of each entity set it touches: the properties to output
(``$select``), the navigation links to show, and the expansions with their own
options (``$expand``), checked against the data model before any query runs."""

from __future__ import annotations

from dataclasses import dataclass

from hub.sta.errors import QueryError
from hub.sta.syntax import Expand, Options
from hub.store.sta_sql import SOURCES, Link

ID_NAMES = ("id", "@iot.id")


@dataclass(frozen=True, slots=True)
class Plan:
    set_name: str
    columns: tuple[str, ...]
    navs: tuple[str, ...]
    with_id: bool
    expands: tuple[Expansion, ...]
    options: Options

    @property
    def fks(self) -> tuple[str, ...]:
        """The to-one links whose target key the query must return."""
        return tuple(x.nav for x in self.expands if not x.link.many)


@dataclass(frozen=True, slots=True)
class Expansion:
    nav: str
    link: Link
    plan: Plan


def _nest(item: Expand) -> Expand:
    """``Thing/Locations($top=1)`` is ``Thing($expand=Locations($top=1))``."""
    if len(item.path) == 1:
        return item
    inner = _nest(Expand(item.path[1:], item.options, item.pos))
    return Expand(item.path[:1], Options(expand=(inner,)), item.pos)


def build_plan(set_name: str, options: Options, *, to_one: bool = False) -> Plan:
    source = SOURCES[set_name]
    if to_one and (
        options.filter is not None
        or options.orderby
        or options.top is not None
        or options.skip
        or options.count
    ):
        raise QueryError("$expand", f"{set_name}: a single entity takes only $select and $expand")
    if options.select is None:
        columns = tuple(source.columns)
        navs = tuple(source.links)
        with_id = True
    else:
        wanted = list(dict.fromkeys(options.select))
        for name in wanted:
            if name not in source.columns and name not in source.links and name not in ID_NAMES:
                known = ", ".join(["id", *source.columns, *source.links])
                raise QueryError(
                    "$select", f"{set_name} has no property '{name}' (it has: {known})"
                )
        columns = tuple(n for n in wanted if n in source.columns)
        navs = tuple(n for n in wanted if n in source.links)
        with_id = any(n in ID_NAMES for n in wanted)
    merged: dict[str, Expand] = {}
    for item in (_nest(x) for x in options.expand):
        nav = item.path[0]
        if nav not in source.links:
            raise QueryError(
                "$expand",
                f"{set_name} has no navigation property '{nav}' (it has: {', '.join(source.links)})",
                item.pos,
            )
        if nav in merged:
            previous = merged[nav]
            if previous.options.raw or item.options.raw:
                raise QueryError("$expand", f"'{nav}' expanded twice", item.pos)
            both = (*previous.options.expand, *item.options.expand)
            item = Expand(item.path, Options(expand=both), item.pos)
        merged[nav] = item
    expands = tuple(
        Expansion(
            nav,
            source.links[nav],
            build_plan(source.links[nav].target, item.options, to_one=not source.links[nav].many),
        )
        for nav, item in merged.items()
    )
    return Plan(set_name, columns, navs, with_id, expands, options)
