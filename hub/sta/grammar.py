"""Parse ``$filter``, ``$orderby``, ``$select`` and ``$expand`` into :mod:`hub.sta.syntax`.

One LALR grammar (lark) with a start symbol per option; ``$expand`` items carry
their own options, parsed by the same rules. WKT literals (``geography'...'``)
get a small grammar of their own. A malformed text raises
:class:`~hub.sta.errors.QueryError` with the 0-based position of the first
character the parser could not take.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from hub.sta import syntax as s
from hub.sta.errors import QueryError

_GRAMMAR = r"""
?filter: or_expr

?or_expr: and_expr
        | or_expr _OR and_expr          -> or_op
?and_expr: not_expr
        | and_expr _AND not_expr        -> and_op
?not_expr: cmp_expr
        | NOT not_expr                   -> not_op
?cmp_expr: add_expr
        | add_expr CMP add_expr          -> binary
?add_expr: mul_expr
        | add_expr ADDOP mul_expr        -> binary
?mul_expr: neg_expr
        | mul_expr MULOP neg_expr        -> binary
?neg_expr: atom
        | MINUS neg_expr                 -> neg
?atom: literal
     | call
     | path
     | "(" or_expr ")"

call: FUNC "(" [or_expr ("," or_expr)*] ")"
path: NAME ("/" NAME)*

literal: STRING       -> string
       | NUMBER       -> number
       | DATETIME     -> datetime
       | DATE         -> date
       | GEO          -> geo
       | "true"       -> true
       | "false"      -> false
       | "null"       -> null

orderby: order_item ("," order_item)*
order_item: or_expr [DIR]

select: NAME ("," NAME)*

expand: expand_item ("," expand_item)*
expand_item: NAME ("/" NAME)* ["(" expand_option (";" expand_option)* ")"]
?expand_option: "$filter" "=" or_expr     -> opt_filter
              | "$orderby" "=" orderby    -> opt_orderby
              | "$top" "=" NUMBER         -> opt_top
              | "$skip" "=" NUMBER        -> opt_skip
              | "$count" "=" BOOL         -> opt_count
              | "$select" "=" select      -> opt_select
              | "$expand" "=" expand      -> opt_expand

_OR.2: /or\b/
_AND.2: /and\b/
NOT.2: /not\b/
MINUS: "-"
CMP.2: /(eq|ne|gt|ge|lt|le)\b/
ADDOP.2: /(add|sub)\b/
MULOP.2: /(mul|div|mod)\b/
DIR.2: /(asc|desc)\b/i
BOOL.2: /(true|false)\b/
FUNC.2: /(?!not\b)[a-z_]+(\.[a-z_]+)?(?=\s*\()/
NAME: /@?[A-Za-z_][A-Za-z0-9_.]*/
STRING: /'([^']|'')*'/
DATETIME.4: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})/
DATE.3: /\d{4}-\d{2}-\d{2}/
NUMBER: /\d+(\.\d+)?([eE][+-]?\d+)?/
GEO.5: /(geography|geometry)'[^']*'/i

%import common.WS
%ignore WS
"""

_WKT = r"""
?wkt: "POINT"i "(" coord ")"                       -> point
    | "POLYGON"i "(" ring ("," ring)* ")"          -> polygon
ring: "(" coord ("," coord)* ")"
coord: NUM NUM
NUM: /[+-]?\d+(\.\d+)?([eE][+-]?\d+)?/
%import common.WS
%ignore WS
"""

_PARSER = Lark(
    _GRAMMAR,
    parser="lalr",
    start=["filter", "orderby", "select", "expand"],
    propagate_positions=True,
    maybe_placeholders=True,
)
_WKT_PARSER = Lark(_WKT, parser="lalr", start="wkt")

_OPTION = {"filter": "$filter", "orderby": "$orderby", "select": "$select", "expand": "$expand"}


class _OptionError(Exception):
    def __init__(self, reason: str, pos: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


def _pos(meta: Any) -> int:
    return int(getattr(meta, "start_pos", 0) or 0)


def _int(token: Token, name: str) -> int:
    text = str(token)
    if not text.isdigit():
        raise _OptionError(
            f"{name} must be a non-negative integer, not {text!r}", token.start_pos or 0
        )
    return int(text)


def _parse_wkt(text: str, pos: int) -> s.Point | s.Polygon:
    body = text[text.index("'") + 1 : -1]
    try:
        tree = _WKT_PARSER.parse(body)
    except UnexpectedInput as exc:
        offset = getattr(exc, "pos_in_stream", None) or 0
        raise _OptionError(
            "only WKT POINT(lon lat) and POLYGON((lon lat, ...)) are supported", pos + offset
        ) from None
    numbers: Any = tree.children
    if tree.data == "point":
        lon, lat = (float(t) for t in numbers[0].children)
        return s.Point(lon, lat, pos)
    ring = tuple((float(c.children[0]), float(c.children[1])) for c in numbers[0].children)
    if len(ring) < 4 or ring[0] != ring[-1]:
        raise _OptionError("a POLYGON ring needs at least 4 points and must be closed", pos)
    return s.Polygon(ring, pos)


@v_args(meta=True)
class _Build(Transformer[Token, Any]):
    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def _raw(self, meta: Any) -> str:
        return self._text[meta.start_pos : meta.end_pos]

    # -- expressions -----------------------------------------------------------------
    def or_op(self, meta: Any, c: list[Any]) -> s.Expr:
        return s.Binary("or", c[0], c[1], _pos(meta))

    def and_op(self, meta: Any, c: list[Any]) -> s.Expr:
        return s.Binary("and", c[0], c[1], _pos(meta))

    def not_op(self, meta: Any, c: list[Any]) -> s.Expr:
        return s.Unary("not", c[1], _pos(meta))

    def neg(self, meta: Any, c: list[Any]) -> s.Expr:
        return s.Unary("-", c[1], _pos(meta))

    def binary(self, meta: Any, c: list[Any]) -> s.Expr:
        return s.Binary(str(c[1]), c[0], c[2], c[1].start_pos)

    def call(self, meta: Any, c: list[Any]) -> s.Expr:
        args = tuple(a for a in c[1:] if a is not None)
        return s.Call(str(c[0]), args, _pos(meta))

    def path(self, meta: Any, c: list[Token]) -> s.Expr:
        return s.Path(tuple(str(t) for t in c), _pos(meta))

    def string(self, meta: Any, c: list[Token]) -> s.Expr:
        return s.Lit(str(c[0])[1:-1].replace("''", "'"), _pos(meta))

    def number(self, meta: Any, c: list[Token]) -> s.Expr:
        text = str(c[0])
        value: int | float = int(text) if text.isdigit() else float(text)
        return s.Lit(value, _pos(meta))

    def datetime(self, meta: Any, c: list[Token]) -> s.Expr:
        try:
            value = datetime.fromisoformat(str(c[0]).replace("Z", "+00:00"))
        except ValueError:
            raise _OptionError(f"not a valid date and time: {c[0]}", _pos(meta)) from None
        return s.Lit(value, _pos(meta))

    def date(self, meta: Any, c: list[Token]) -> s.Expr:
        try:
            value = date.fromisoformat(str(c[0]))
        except ValueError:
            raise _OptionError(f"not a valid date: {c[0]}", _pos(meta)) from None
        return s.Lit(value, _pos(meta))

    def geo(self, meta: Any, c: list[Token]) -> s.Expr:
        return _parse_wkt(str(c[0]), _pos(meta))

    def true(self, meta: Any, c: list[Any]) -> s.Expr:
        return s.Lit(True, _pos(meta))

    def false(self, meta: Any, c: list[Any]) -> s.Expr:
        return s.Lit(False, _pos(meta))

    def null(self, meta: Any, c: list[Any]) -> s.Expr:
        return s.Lit(None, _pos(meta))

    # -- $orderby, $select -----------------------------------------------------------
    def orderby(self, meta: Any, c: list[s.OrderKey]) -> tuple[s.OrderKey, ...]:
        return tuple(c)

    def order_item(self, meta: Any, c: list[Any]) -> s.OrderKey:
        return s.OrderKey(c[0], c[1] is not None and str(c[1]).lower() == "desc")

    def select(self, meta: Any, c: list[Token]) -> tuple[str, ...]:
        return tuple(str(t) for t in c)

    # -- $expand ---------------------------------------------------------------------
    def expand(self, meta: Any, c: list[s.Expand]) -> tuple[s.Expand, ...]:
        return tuple(c)

    def expand_item(self, meta: Any, c: list[Any]) -> s.Expand:
        names = tuple(str(t) for t in c if isinstance(t, Token))
        values: dict[str, Any] = {}
        raw: list[tuple[str, str]] = []
        for option in c:
            if isinstance(option, tuple) and len(option) == 4 and option[0] == "opt":
                if option[1] in values:
                    raise _OptionError(f"${option[1]} given twice", _pos(meta))
                values[option[1]] = option[2]
                name, _, text = option[3].partition("=")
                raw.append((name.strip(), text.strip()))
        return s.Expand(names, s.Options(**values, raw=tuple(raw)), _pos(meta))

    def opt_filter(self, meta: Any, c: list[Any]) -> tuple[str, str, Any, str]:
        return ("opt", "filter", c[0], self._raw(meta))

    def opt_orderby(self, meta: Any, c: list[Any]) -> tuple[str, str, Any, str]:
        return ("opt", "orderby", c[0], self._raw(meta))

    def opt_top(self, meta: Any, c: list[Token]) -> tuple[str, str, Any, str]:
        return ("opt", "top", _int(c[0], "$top"), self._raw(meta))

    def opt_skip(self, meta: Any, c: list[Token]) -> tuple[str, str, Any, str]:
        return ("opt", "skip", _int(c[0], "$skip"), self._raw(meta))

    def opt_count(self, meta: Any, c: list[Token]) -> tuple[str, str, Any, str]:
        return ("opt", "count", str(c[0]) == "true", self._raw(meta))

    def opt_select(self, meta: Any, c: list[Any]) -> tuple[str, str, Any, str]:
        return ("opt", "select", c[0], self._raw(meta))

    def opt_expand(self, meta: Any, c: list[Any]) -> tuple[str, str, Any, str]:
        return ("opt", "expand", c[0], self._raw(meta))


def _describe(exc: UnexpectedInput, text: str) -> tuple[str, int]:
    if isinstance(exc, UnexpectedEOF):
        return "the expression ends too early", len(text)
    pos = int(getattr(exc, "pos_in_stream", None) or 0)
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character {text[pos]!r}", pos
    token = getattr(exc, "token", None)
    if token is not None and token.type == "$END":
        return "the expression ends too early", len(text)
    if token is not None:
        pos = int(token.start_pos or 0)
        return f"unexpected {str(token)!r}", pos
    return "syntax error", pos


MAX_DEPTH = 40


def _too_deep(text: str) -> int | None:
    """The position where parentheses nest deeper than :data:`MAX_DEPTH` (outside
    string literals), so that no recursion below can run out of stack."""
    depth, quoted = 0, False
    for pos, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
            if depth > MAX_DEPTH:
                return pos
        elif not quoted and char == ")":
            depth -= 1
    return None


def parse(option: str, text: str) -> Any:
    """Parse the text of ``$filter``, ``$orderby``, ``$select`` or ``$expand``
    (``option`` without the dollar)."""
    name = _OPTION[option]
    if not text.strip():
        raise QueryError(name, "must not be empty", 0)
    deep = _too_deep(text)
    if deep is not None:
        raise QueryError(name, f"parentheses nested deeper than {MAX_DEPTH}", deep)
    try:
        tree = _PARSER.parse(text, start=option)
        return _Build(text).transform(tree)
    except UnexpectedInput as exc:
        reason, pos = _describe(exc, text)
        raise QueryError(name, reason, pos) from None
    except VisitError as exc:
        inner = exc.orig_exc
        if isinstance(inner, _OptionError):
            raise QueryError(name, inner.reason, inner.pos) from None
        raise
    except _OptionError as exc:
        raise QueryError(name, exc.reason, exc.pos) from None
    except RecursionError:
        raise QueryError(name, "too many terms in one expression", 0) from None
