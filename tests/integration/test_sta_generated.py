"""Generated requests over the SensorThings paths (hypothesis): random resource
paths and random query options, shaped like the grammar (real property names,
functions, operators, literals of every kind, geometry) and broken at random. No
request may get a server error; every answer is JSON or a problem document.
(The whole-document schemathesis run in test_api_schemathesis.py covers these
routes too, with schema-shaped values.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.devstack import Devstack
from hub.store.sta_sql import SOURCES
from tests.integration.api_helpers import ApiHub
from tests.integration.sta_town import start_town

SETS = sorted(SOURCES)
NAMES = sorted(
    {n for s in SOURCES.values() for n in (*s.columns, *s.links)}
    | {"id", "@iot.id", "properties/district", "unitOfMeasurement/symbol", "colour"}
)
FUNCTIONS = [
    "substringof",
    "endswith",
    "startswith",
    "length",
    "indexof",
    "substring",
    "tolower",
    "toupper",
    "trim",
    "concat",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "fractionalseconds",
    "date",
    "time",
    "totaloffsetminutes",
    "now",
    "mindatetime",
    "maxdatetime",
    "round",
    "floor",
    "ceiling",
    "geo.distance",
    "geo.intersects",
    "st_within",
    "st_contains",
    "st_disjoint",
    "st_equals",
    "geo.length",
    "nosuch",
]
OPERATORS = ["eq", "ne", "gt", "ge", "lt", "le", "and", "or", "add", "sub", "mul", "div", "mod"]

literals = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=8).map(lambda s: "'" + s.replace("'", "''") + "'"),
    st.sampled_from(
        [
            "2026-01-01T00:00:00Z",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00Z",
            "2026-13-45T99:00:00Z",
            "2026-01-01",
            "true",
            "false",
            "null",
            "1e308",
            "1e999",
            "geography'POINT(10.39 63.43)'",
            "geography'POINT(1e300 -1e300)'",
            "geography'POLYGON((10 60, 11 60, 11 61, 10 60))'",
            "geography'POLYGON((1 1))'",
            "geography'LINESTRING(1 2, 3 4)'",
            "''",
            "'2026-01-01T00:00:00Z'",
        ]
    ),
)
paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join)


def _expression(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(OPERATORS), children).map(" ".join),
        st.tuples(st.sampled_from(FUNCTIONS), st.lists(children, max_size=3)).map(
            lambda f: f"{f[0]}({', '.join(f[1])})"
        ),
        children.map(lambda e: f"not ({e})"),
        children.map(lambda e: f"-{e}"),
        children.map(lambda e: f"({e})"),
    )


expressions = st.recursive(st.one_of(literals, paths), _expression, max_leaves=6)
garbage = st.text(max_size=30)
orderbys = st.lists(
    st.tuples(
        st.one_of(paths, expressions), st.sampled_from(["", " asc", " desc", " DESC", " up"])
    ).map("".join),
    min_size=1,
    max_size=3,
).map(",".join)
selects = st.lists(st.sampled_from(NAMES), min_size=1, max_size=4).map(",".join)
expands = st.recursive(
    st.sampled_from(sorted({n for s in SOURCES.values() for n in s.links} | {"Nope"})),
    lambda inner: st.tuples(
        st.sampled_from(sorted({n for s in SOURCES.values() for n in s.links})),
        st.lists(
            st.one_of(
                st.integers(0, 3).map(lambda n: f"$top={n}"),
                expressions.map(lambda e: f"$filter={e}"),
                selects.map(lambda s: f"$select={s}"),
                inner.map(lambda e: f"$expand={e}"),
                st.just("$count=true"),
            ),
            max_size=3,
        ),
    ).map(lambda t: f"{t[0]}({';'.join(t[1])})" if t[1] else t[0]),
    max_leaves=3,
)
options = st.fixed_dictionaries(
    {},
    optional={
        "$filter": st.one_of(expressions, garbage),
        "$orderby": st.one_of(orderbys, garbage),
        "$select": st.one_of(selects, garbage),
        "$expand": st.one_of(expands, garbage),
        "$top": st.one_of(st.integers(-5, 20_000).map(str), garbage),
        "$skip": st.one_of(st.integers(-5, 10**12).map(str), garbage),
        "$count": st.sampled_from(["true", "false", "yes"]),
        "$resultFormat": st.sampled_from(["dataArray", "csv"]),
        "$skiptoken": st.one_of(garbage, st.sampled_from(["WzEseyJ0IjoxfV0", "WyJ4Il0", "W10"])),
    },
)
keys = st.one_of(
    st.integers(-3, 2**66).map(str),
    st.sampled_from(["'air_quality'", "'no2'", "'1-1796105400000000'", "'x'", "''", "1.5", "'1-'"]),
)
resource_paths = st.one_of(
    st.sampled_from(SETS),
    st.tuples(st.sampled_from(SETS), keys).map(lambda t: f"{t[0]}({t[1]})"),
    st.tuples(
        st.sampled_from(SETS),
        keys,
        st.lists(
            st.sampled_from([*NAMES, "$value", "$ref", "Datastreams(1)"]), min_size=1, max_size=3
        ),
    ).map(lambda t: f"{t[0]}({t[1]})/" + "/".join(t[2])),
    st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="?#%"), max_size=30
    ),
)


@pytest.fixture(scope="module")
def town(stack: Devstack) -> Iterator[ApiHub]:
    hub, _ = start_town(stack, "plain")
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def client(town: ApiHub) -> Iterator[httpx.Client]:
    with town.client("viewer") as c:
        yield c


@settings(
    max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(path=resource_paths, params=options)
def test_generated_sta_requests_never_get_a_server_error(
    client: httpx.Client, path: str, params: dict[str, Any]
) -> None:
    response = client.get(f"/sta/v1.1/{path}", params=params)
    assert response.status_code < 500, (path, params, response.text)
    if response.is_redirect:  # "/sta/v1.1/" -> "/sta/v1.1"
        return
    kind = response.headers.get("content-type", "")
    assert kind.startswith(("application/json", "application/problem+json", "text/plain")), kind


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 41 + "result eq 1" + ")" * 41,
        " and ".join(["result eq 1"] * 330),
        " or ".join([f"result eq {i}" for i in range(300)]),
    ],
)
def test_deeply_nested_or_very_long_filters_are_refused_or_answered(
    client: httpx.Client, expression: str
) -> None:
    response = client.get("/sta/v1.1/Observations", params={"$filter": expression, "$top": "1"})
    assert response.status_code in (200, 400), response.text
