"""The SensorThings query options: what the grammar builds, and where it says a
malformed text goes wrong."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from hub.sta import syntax as s
from hub.sta.errors import QueryError
from hub.sta.grammar import parse
from hub.sta.options import decode_token, encode_token, parse_options
from hub.sta.resource import parse_path


def test_precedence_of_operators() -> None:
    tree = parse("filter", "a eq 1 or b eq 2 and not c add 2 mul 3 gt -4")
    assert isinstance(tree, s.Binary) and tree.op == "or"
    right = tree.right
    assert isinstance(right, s.Binary) and right.op == "and"
    negated = right.right
    assert isinstance(negated, s.Unary) and negated.op == "not"
    compare = negated.operand
    assert isinstance(compare, s.Binary) and compare.op == "gt"
    total = compare.left
    assert isinstance(total, s.Binary) and total.op == "add"
    assert isinstance(total.right, s.Binary) and total.right.op == "mul"
    assert compare.right == s.Unary("-", s.Lit(4, 43), 42)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'it''s'", "it's"),
        ("12", 12),
        ("1.5e3", 1500.0),
        ("true", True),
        ("null", None),
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02", date(2026, 1, 2)),
    ],
)
def test_literals(text: str, value: object) -> None:
    tree = parse("filter", f"x eq {text}")
    assert isinstance(tree, s.Binary)
    assert tree.right == s.Lit(value, 5)  # type: ignore[arg-type]


def test_functions_paths_and_geometry() -> None:
    tree = parse(
        "filter",
        "geo.intersects(Thing/Locations/location, geography'POLYGON((1 2, 3 4, 5 6, 1 2))')",
    )
    assert isinstance(tree, s.Call) and tree.name == "geo.intersects"
    path, polygon = tree.args
    assert path == s.Path(("Thing", "Locations", "location"), 15)
    assert isinstance(polygon, s.Polygon) and polygon.ring[-1] == (1.0, 2.0)
    point = parse("filter", "geo.distance(location, geography'POINT(10.5 63.25)') lt 5")
    assert isinstance(point, s.Binary) and isinstance(point.left, s.Call)
    assert point.left.args[1] == s.Point(10.5, 63.25, 23)


def test_keywords_need_a_word_boundary() -> None:
    tree = parse("filter", "notes eq 1 and order ne 'x'")
    assert isinstance(tree, s.Binary) and tree.op == "and"
    assert tree.left == s.Binary("eq", s.Path(("notes",), 0), s.Lit(1, 9), 6)


def test_orderby_select_and_nested_expand() -> None:
    keys = parse("orderby", "result desc, phenomenonTime, name ASC")
    assert [k.descending for k in keys] == [True, False, False]
    assert parse("select", "id,name") == ("id", "name")
    (item,) = parse(
        "expand",
        "Datastreams($select=name;$filter=name eq 'a;b';"
        "$expand=Observations($top=1;$orderby=phenomenonTime desc))",
    )
    assert item.path == ("Datastreams",)
    assert item.options.select == ("name",)
    assert item.options.raw[1] == ("$filter", "name eq 'a;b'")
    (inner,) = item.options.expand
    assert inner.options.top == 1 and inner.options.orderby[0].descending


@pytest.mark.parametrize(
    ("option", "text", "pos", "words"),
    [
        ("filter", "name eq", 7, "ends too early"),
        ("filter", "name eqq 'x'", 5, "unexpected 'eqq'"),
        ("filter", "name eq 'x", 8, "unexpected character"),
        ("filter", "(a eq 1", 7, "ends too early"),
        ("filter", "a eq 2026-02-30T00:00:00Z", 5, "not a valid date and time"),
        ("filter", "geo.intersects(location, geography'LINESTRING(1 2, 3 4)')", 25, "WKT"),
        ("filter", "st_within(location, geography'POLYGON((1 2, 3 4, 1 2))')", 20, "closed"),
        ("orderby", "name sideways", 5, "unexpected"),
        ("expand", "Datastreams($top=x)", 17, "unexpected"),
        ("expand", "Datastreams($top=1;$top=2)", 0, "given twice"),
        ("select", "", 0, "must not be empty"),
    ],
)
def test_errors_point_at_the_position(option: str, text: str, pos: int, words: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(option, text)
    assert caught.value.pos == pos
    assert words in caught.value.reason


def test_options_are_checked() -> None:
    options = parse_options([("$top", "5"), ("$count", "true"), ("device", "ignored")])
    assert options.top == 5 and options.count
    for bad in ([("$top", "-1")], [("$format", "json")], [("$top", "1"), ("$top", "2")]):
        with pytest.raises(QueryError):
            parse_options(bad)


def test_skiptoken_round_trip_and_refusal() -> None:
    values = (7, datetime(2026, 1, 1, tzinfo=UTC), "x", 1.5)
    assert decode_token(encode_token(values)) == values
    with pytest.raises(QueryError):
        decode_token("not-base64!")


def test_resource_paths() -> None:
    nav = parse_path("Things(1)/Datastreams")
    assert [st.set_name for st in nav.steps] == ["Things", "Datastreams"] and not nav.single
    one = parse_path("Datastreams(5)/Thing")
    assert one.single and one.steps[-1].via == "Thing"
    value = parse_path("Sensors('air_quality')/name/$value")
    assert value.steps[0].key == "air_quality" and value.prop == "name" and value.value
    assert parse_path("Things(1)/Datastreams/$ref").ref
    assert parse_path("Observations('5-1767225600000000')").steps[0].key == "5-1767225600000000"
    with pytest.raises(LookupError):
        parse_path("Colours")
    with pytest.raises(QueryError):
        parse_path("Things('x')")


def test_nesting_and_length_are_bounded() -> None:
    assert isinstance(parse("filter", "(" * 40 + "a eq 1" + ")" * 40), s.Binary)
    with pytest.raises(QueryError) as caught:
        parse("filter", "(" * 41 + "a eq 1" + ")" * 41)
    assert caught.value.pos == 40
    with pytest.raises(QueryError):
        parse("filter", " and ".join(["a eq 1"] * 600))
