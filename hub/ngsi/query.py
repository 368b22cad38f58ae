"""The NGSI-LD query language (``q``, ETSI GS CIM 009 clause 4.9), parsed and
evaluated against entities in the normalized form.

    q        = or-expr
    or-expr  = and-expr *( "|" and-expr )        ; ";" binds tighter than "|"
    and-expr = term *( ";" term )
    term     = "(" q ")" / path [ op value ]      ; a bare path: the attribute exists
    op       = "==" / "!=" / ">=" / ">" / "<=" / "<" / "~=" / "!~="
    value    = scalar / scalar 1*( "," scalar ) / scalar ".." scalar
    scalar   = quoted string / number / true / false / date-time / URI
    path     = attr *( "." sub-attr ) *( "[" key "]" )

``attr.observedAt`` compares a sub-attribute, ``attr[key]`` a member of a
structured value. A value list matches when any member is equal (``!=``: none
is); a range when the value lies in it, bounds included.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from hub.ngsi.errors import BadRequestData

Entity = dict[str, Any]
Predicate = Callable[[Entity], bool]

_OPS: Final = ("!~=", "~=", "==", "!=", ">=", "<=", ">", "<")
_PATH = re.compile(
    r"[A-Za-z_@][A-Za-z0-9_:/#@-]*(?:\.[A-Za-z_@][A-Za-z0-9_:/#@-]*)*(?:\[[^\[\]]+\])*"
)
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


@dataclass(frozen=True, slots=True)
class _Range:
    low: Any
    high: Any


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> BadRequestData:
        return BadRequestData(f"q: {what} at character {self.pos + 1} of {self.text!r}")

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def parse(self) -> Predicate:
        if not self.text.strip():
            raise self.fail("empty query")
        predicate = self.or_expr()
        if self.pos != len(self.text):
            raise self.fail("unexpected text")
        return predicate

    def or_expr(self) -> Predicate:
        terms = [self.and_expr()]
        while self.peek("|"):
            self.pos += 1
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else (lambda e: any(t(e) for t in terms))

    def and_expr(self) -> Predicate:
        terms = [self.term()]
        while self.peek(";"):
            self.pos += 1
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else (lambda e: all(t(e) for t in terms))

    def term(self) -> Predicate:
        if self.peek("("):
            self.pos += 1
            inner = self.or_expr()
            if not self.peek(")"):
                raise self.fail("missing ')'")
            self.pos += 1
            return inner
        match = _PATH.match(self.text, self.pos)
        if match is None:
            raise self.fail("expected an attribute name")
        path = match.group(0)
        self.pos = match.end()
        op = next((o for o in _OPS if self.peek(o)), None)
        if op is None:
            return lambda e: _resolve(e, path) is not _MISSING
        self.pos += len(op)
        if op in ("~=", "!~="):
            pattern = self.raw_value()
            try:
                regex = re.compile(_unquote(pattern))
            except re.error as exc:
                raise self.fail(f"bad pattern ({exc})") from None
            keep = op == "~="
            return lambda e: _pattern(_resolve(e, path), regex) == keep
        value = self.value(op)
        return _compare(path, op, value)

    def raw_value(self) -> str:
        start = self.pos
        if self.peek('"'):
            self.pos += 1
            while self.pos < len(self.text) and self.text[self.pos] != '"':
                self.pos += 2 if self.text[self.pos] == "\\" else 1
            if self.pos >= len(self.text):
                raise self.fail("unterminated string")
            self.pos += 1
            return self.text[start : self.pos]
        while self.pos < len(self.text) and self.text[self.pos] not in ";|),":
            if self.peek(".."):
                break
            self.pos += 1
        token = self.text[start : self.pos]
        if not token or token[0] in "<>=!~(":
            raise self.fail("expected a value")
        return token

    def value(self, op: str) -> Any:
        first = _scalar(self.raw_value())
        if self.peek(".."):
            self.pos += 2
            return _Range(first, _scalar(self.raw_value()))
        if self.peek(","):
            items = [first]
            while self.peek(","):
                self.pos += 1
                items.append(_scalar(self.raw_value()))
            return items
        return first


def parse_q(text: str) -> Predicate:
    """A predicate over normalized entities; BadRequestData for a malformed query."""
    return _Parser(text).parse()


class _Missing:
    pass


_MISSING: Final = _Missing()


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == '"' and token[-1] == '"':
        return token[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return token


def _scalar(token: str) -> Any:
    if token.startswith('"'):
        text = _unquote(token)
        return _as_time(text) or text
    if token in ("true", "false"):
        return token == "true"
    if _NUMBER.fullmatch(token):
        return float(token)
    return _as_time(token) or token


def _as_time(text: str) -> datetime | None:
    if not _DATE.match(text):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _resolve(entity: Entity, path: str) -> Any:
    head, _, keys = path.partition("[")
    parts = head.split(".")
    attr = entity.get(parts[0])
    if not isinstance(attr, dict):
        return _MISSING
    node: Any = attr
    for sub in parts[1:]:
        if not isinstance(node, dict) or sub not in node:
            return _MISSING
        node = node[sub]
    value: Any = node.get("object", node.get("value", _MISSING)) if isinstance(node, dict) else node
    if len(parts) > 1 and not isinstance(node, dict):
        value = node
    for key in re.findall(r"\[([^\[\]]+)\]", "[" + keys) if keys else []:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    if isinstance(value, str):
        return _as_time(value) or value
    return value


def _comparable(left: Any, right: Any) -> bool:
    numbers = (int, float)
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool)
    if isinstance(left, numbers) and isinstance(right, numbers):
        return True
    return type(left) is type(right) and isinstance(left, str | datetime)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, list):
        return any(_equal(item, right) for item in left)
    return _comparable(left, right) and left == right


def _order(left: Any, op: str, right: Any) -> bool:
    if not _comparable(left, right) or isinstance(left, bool):
        return False
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


def _in_range(left: Any, span: _Range) -> bool:
    return _order(left, ">=", span.low) and _order(left, "<=", span.high)


def _compare(path: str, op: str, value: Any) -> Predicate:
    if isinstance(value, _Range | list) and op not in ("==", "!="):
        raise BadRequestData(f"q: a value list or range needs == or != (got {op})")

    def check(entity: Entity) -> bool:
        actual = _resolve(entity, path)
        if actual is _MISSING:
            return False
        if op in ("==", "!="):
            if isinstance(value, _Range):
                hit = _in_range(actual, value)
            elif isinstance(value, list):
                hit = any(_equal(actual, v) for v in value)
            else:
                hit = _equal(actual, value)
            return hit if op == "==" else not hit
        return _order(actual, op, value)

    return check


def _pattern(actual: Any, regex: re.Pattern[str]) -> bool:
    return isinstance(actual, str) and regex.search(actual) is not None
