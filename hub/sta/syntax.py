"""The tree the query options are parsed into (frozen dataclasses, no SQL).

The parser (:mod:`hub.sta.grammar`) builds these; :mod:`hub.store.sta_compile`
turns a filter or an order key into parameterised SQL. ``pos`` is the 0-based
character offset of the node in the option's text, for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

LiteralValue = str | float | int | bool | datetime | date | None


@dataclass(frozen=True, slots=True)
class Lit:
    value: LiteralValue
    pos: int


@dataclass(frozen=True, slots=True)
class Point:
    """A WKT POINT literal (``geography'POINT(lon lat)'``)."""

    lon: float
    lat: float
    pos: int


@dataclass(frozen=True, slots=True)
class Polygon:
    """A WKT POLYGON literal: the outer ring only, as (lon, lat) pairs."""

    ring: tuple[tuple[float, float], ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Path:
    """A property path: ``name``, ``Thing/name``, ``properties/district``."""

    segments: tuple[str, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Binary:
    """``and or eq ne gt ge lt le add sub mul div mod``."""

    op: str
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: Literal["not", "-"]
    operand: Expr
    pos: int


Expr = Lit | Point | Polygon | Path | Call | Binary | Unary


@dataclass(frozen=True, slots=True)
class OrderKey:
    expr: Expr
    descending: bool


@dataclass(frozen=True, slots=True)
class Expand:
    """One ``$expand`` item: a navigation path with its own options."""

    path: tuple[str, ...]
    options: Options
    pos: int


@dataclass(frozen=True, slots=True)
class Options:
    """The query options of a request, or of one ``$expand`` item."""

    top: int | None = None
    skip: int = 0
    count: bool = False
    filter: Expr | None = None
    orderby: tuple[OrderKey, ...] = ()
    select: tuple[str, ...] | None = None
    expand: tuple[Expand, ...] = field(default_factory=tuple)
    result_format: str | None = None
    skiptoken: str | None = None
    # The options as written (name, text), for the links that repeat them.
    raw: tuple[tuple[str, str], ...] = ()
