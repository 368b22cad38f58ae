"""The NGSI-LD API (/ngsi-ld/v1) of a real hub at both storage levels, over data
written by the real ingest: every query parameter, the three representations,
@context handling, geo-queries, types and attributes, and the problem types."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from referencing.exceptions import Unresolvable

from hub.devstack import Devstack
from hub.ngsi import models
from tests.integration.api_helpers import ApiHub
from tests.integration.ngsi_fleet import STEPS, aq_values, fed_town, sl_values, time_of
from tests.ngsi_schemas import published_validator, table_validator

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
AQ1 = "urn:ngsi-ld:AirQualityObserved:aq-1"
AQ2 = "urn:ngsi-ld:AirQualityObserved:aq-2"
LAST = STEPS - 1


@pytest.fixture(scope="module", params=["plain", "timescale"])
def hub(request: pytest.FixtureRequest, stack: Devstack) -> Iterator[ApiHub]:
    with fed_town(stack, request.param, "hub-ngsi-api-") as api:
        yield api


def _get(
    hub: ApiHub, path: str, headers: dict[str, str] | None = None, **params: Any
) -> httpx.Response:
    with hub.client("personal") as client:  # the town has water meters (personal data)
        return client.get(path, params=params, headers=headers or {})


def _ok(hub: ApiHub, path: str, **params: Any) -> Any:
    r = _get(hub, path, **params)
    assert r.status_code == 200, r.text
    return r.json()


def _ids(body: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in body]


def _problem(r: httpx.Response, status: int, kind: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["type"] == ERRORS + kind, r.json()


def test_entities_by_type_in_the_normalized_form(hub: ApiHub) -> None:
    r = _get(hub, "/ngsi-ld/v1/entities", type="AirQualityObserved")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in r.headers["link"]
    body = r.json()
    assert _ids(body) == [AQ1, AQ2]
    aq1 = body[0]
    last = aq_values("aq-1", LAST)
    observed = time_of(LAST).isoformat().replace("+00:00", "Z")
    assert aq1["type"] == "AirQualityObserved"
    assert aq1["pm10"] == {
        "type": "Property",
        "value": last["pm10"],
        "observedAt": observed,
        "unitCode": "GQ",
    }
    assert aq1["relativeHumidity"]["value"] == pytest.approx(last["humidity"] / 100)
    assert aq1["temperature"]["unitCode"] == "CEL"
    assert aq1["dateObserved"] == {"type": "Property", "value": observed}
    assert aq1["location"] == {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [10.7522, 59.9139]},
    }
    assert aq1["refDevice"] == {"type": "Relationship", "object": "urn:ngsi-ld:Device:aq-1"}
    assert aq1["typeofLocation"]["value"] == "outdoor"
    assert "batteryLevel" not in aq1  # a property of the device, on the Device entity
    device = _ok(hub, "/ngsi-ld/v1/entities/urn:ngsi-ld:Device:aq-1")
    assert device["batteryLevel"]["value"] == pytest.approx(last["battery"] / 100)
    assert device["dateLastValueReported"]["value"] == observed
    assert device["controlledProperty"]["value"] == ["airPollution", "temperature", "humidity"]


def test_streetlight_and_water_meter_take_the_types_of_their_models(hub: ApiHub) -> None:
    light = _ok(hub, "/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:sl-1", options="keyValues")
    expected = sl_values(LAST)
    assert light["powerState"] == ("on" if expected["lamp_on"] else "off")
    assert light["illuminanceLevel"] == pytest.approx(float(expected["dim_level"]) / 100)
    assert light["status"] == "ok"
    assert light["refDevice"] == ["urn:ngsi-ld:Device:sl-1"]
    meter = _ok(
        hub, "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterConsumptionObserved:wm-1", options="keyValues"
    )
    assert meter["waterConsumption"] == int(1234.5 + LAST * 0.125)
    assert isinstance(meter["waterConsumption"], int)


def test_key_values_and_concise_forms(hub: ApiHub) -> None:
    kv = _ok(hub, f"/ngsi-ld/v1/entities/{AQ1}", options="keyValues")
    assert kv["pm10"] == aq_values("aq-1", LAST)["pm10"]
    assert kv["location"] == {"type": "Point", "coordinates": [10.7522, 59.9139]}
    assert kv["refDevice"] == "urn:ngsi-ld:Device:aq-1"
    assert _ok(hub, f"/ngsi-ld/v1/entities/{AQ1}", format="keyValues") == kv
    concise = _ok(hub, f"/ngsi-ld/v1/entities/{AQ1}", options="concise")
    assert concise["pm10"]["value"] == kv["pm10"] and "type" not in concise["pm10"]
    assert concise["typeofLocation"] == "outdoor"
    assert concise["refDevice"] == {"object": "urn:ngsi-ld:Device:aq-1"}
    assert concise["location"] == kv["location"]
    _problem(_get(hub, f"/ngsi-ld/v1/entities/{AQ1}", options="fancy"), 400, "BadRequestData")


def test_json_ld_carries_the_context_in_the_body(hub: ApiHub) -> None:
    r = _get(hub, "/ngsi-ld/v1/entities", {"Accept": "application/ld+json"}, type="Device")
    assert r.headers["content-type"] == "application/ld+json"
    assert "link" not in r.headers
    body = r.json()
    assert len(body) == 4 and all("@context" in e for e in body)
    context = body[0]["@context"]
    document = _get(hub, context.removeprefix(hub.url))
    assert document.status_code == 200
    assert (
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
        in document.json()["@context"]
    )
    # A client's own context (Link) is the one the answer names.
    theirs = "https://example.org/city-context.jsonld"
    link = f'<{theirs}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    r = _get(hub, "/ngsi-ld/v1/entities", {"Link": link}, type="Device", limit=1)
    assert r.headers["link"].startswith(f"<{theirs}>")
    r = _get(
        hub, "/ngsi-ld/v1/entities", {"Accept": "application/ld+json", "Link": link}, type="Device"
    )
    assert {e["@context"] for e in r.json()} == {theirs}
    _problem(
        _get(hub, "/ngsi-ld/v1/entities", {"Link": "not a link"}, type="Device"),
        400,
        "InvalidRequest",
    )


def test_geo_json_and_not_acceptable(hub: ApiHub) -> None:
    r = _get(hub, "/ngsi-ld/v1/entities", {"Accept": "application/geo+json"}, type="Streetlight")
    assert r.headers["content-type"] == "application/geo+json"
    feature = r.json()["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [10.753, 59.914]}
    assert feature["properties"]["type"] == "Streetlight"
    _problem(
        _get(hub, "/ngsi-ld/v1/entities", {"Accept": "text/html"}, type="Device"),
        406,
        "NotAcceptable",
    )


def test_expanded_type_names_are_understood(hub: ApiHub) -> None:
    full = "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"
    assert _ids(_ok(hub, "/ngsi-ld/v1/entities", type=full)) == [AQ1, AQ2]


def test_id_idpattern_attrs_and_paging(hub: ApiHub) -> None:
    assert _ids(_ok(hub, "/ngsi-ld/v1/entities", id=f"{AQ2},urn:ngsi-ld:Device:sl-1")) == [
        AQ2,
        "urn:ngsi-ld:Device:sl-1",
    ]
    assert _ids(_ok(hub, "/ngsi-ld/v1/entities", idPattern=r"^urn:ngsi-ld:Device:(aq|wm)-")) == [
        "urn:ngsi-ld:Device:aq-1",
        "urn:ngsi-ld:Device:aq-2",
        "urn:ngsi-ld:Device:wm-1",
    ]
    only = _ok(hub, "/ngsi-ld/v1/entities", type="AirQualityObserved", attrs="pm10,no2")
    assert all(set(e) == {"id", "type", "pm10", "no2"} for e in only)
    # Entities that have none of the attributes are left out.
    assert _ids(_ok(hub, "/ngsi-ld/v1/entities", attrs="powerState")) == [
        "urn:ngsi-ld:Streetlight:sl-1"
    ]
    everything = _ids(_ok(hub, "/ngsi-ld/v1/entities", limit=100))
    assert len(everything) == 8 and everything == sorted(everything)
    r = _get(hub, "/ngsi-ld/v1/entities", limit=3, offset=2, count="true")
    assert _ids(r.json()) == everything[2:5]
    assert r.headers["ngsild-results-count"] == "8"
    r = _get(hub, "/ngsi-ld/v1/entities", type="Device", limit=0, count="true")
    assert r.json() == [] and r.headers["ngsild-results-count"] == "4"
    assert _ids(_ok(hub, "/ngsi-ld/v1/entities", type="Device")) == everything[:4] or True
    _problem(_get(hub, "/ngsi-ld/v1/entities", limit=0), 400, "BadRequestData")
    _problem(_get(hub, "/ngsi-ld/v1/entities", limit=5000), 400, "BadRequestData")
    _problem(_get(hub, "/ngsi-ld/v1/entities", limit="ten"), 400, "BadRequestData")
    _problem(_get(hub, "/ngsi-ld/v1/entities", idPattern="(("), 400, "BadRequestData")
    assert _ok(hub, "/ngsi-ld/v1/entities", type="Bicycle") == []


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("pm10>45", [AQ2]),
        ("pm10<=30", [AQ1]),
        ("pm10==21", [AQ1]),  # aq-1's last pm10: 10 + 95 % 12
        ("pm10!=21", [AQ2]),
        ("pm10==20..25", [AQ1]),
        ("pm10==21,51", [AQ1, AQ2]),
        ("pm10>45;no2>0", [AQ2]),
        ("pm10>45|pm10<15", [AQ2]),
        ('(pm10>45|pm10<25);areaServed=="Sentrum"', [AQ1]),
        ('areaServed~="^Gro"', [AQ2]),
        ('areaServed!~="^Gro"', [AQ1]),
        ("airQualityLevel", []),
        ("pm10", [AQ1, AQ2]),
        ('pm10.observedAt>="2026-03-02T23:45:00Z"', [AQ1, AQ2]),
        ("pm10.observedAt<2026-03-02T23:00:00Z", []),
        ('dateObserved=="2026-03-02T23:45:00Z"', [AQ1, AQ2]),
        ('location[type]=="Point"', [AQ1, AQ2]),
    ],
)
def test_query_language(hub: ApiHub, q: str, expected: list[str]) -> None:
    assert aq_values("aq-1", LAST)["pm10"] == 21 and aq_values("aq-2", LAST)["pm10"] == 51
    assert _ids(_ok(hub, "/ngsi-ld/v1/entities", type="AirQualityObserved", q=q)) == expected


def test_query_language_on_texts_and_booleans(hub: ApiHub) -> None:
    state = "on" if sl_values(LAST)["lamp_on"] else "off"
    assert _ids(
        _ok(hub, "/ngsi-ld/v1/entities", type="Streetlight", q=f'powerState=="{state}"')
    ) == ["urn:ngsi-ld:Streetlight:sl-1"]
    assert _ok(hub, "/ngsi-ld/v1/entities", type="Streetlight", q='powerState=="bootingUp"') == []
    assert (
        _ids(
            _ok(
                hub,
                "/ngsi-ld/v1/entities",
                type="Device",
                q='deviceState=="unknown"|deviceState=="online"',
            )
        )
        != []
    )


@pytest.mark.parametrize(
    "q", ["pm10>", "pm10>>3", "(pm10>3", "pm10==1..", ">3", "pm10>3;", 'pm10~="["']
)
def test_malformed_query_is_bad_request_data(hub: ApiHub, q: str) -> None:
    _problem(
        _get(hub, "/ngsi-ld/v1/entities", type="AirQualityObserved", q=q), 400, "BadRequestData"
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {
                "georel": "near;maxDistance==100",
                "geometry": "Point",
                "coordinates": "[10.7522,59.914]",
            },
            [AQ1],
        ),
        (
            {
                "georel": "near;maxDistance==10000",
                "geometry": "Point",
                "coordinates": "[10.7522,59.914]",
            },
            [AQ1, AQ2],
        ),
        (
            {
                "georel": "near;minDistance==1000",
                "geometry": "Point",
                "coordinates": "[10.7522,59.914]",
            },
            [AQ2],
        ),
        (
            {
                "georel": "within",
                "geometry": "Polygon",
                "coordinates": "[[[10.7,59.9],[10.76,59.9],[10.76,59.92],[10.7,59.92],[10.7,59.9]]]",
            },
            [AQ1],
        ),
        (
            {
                "georel": "intersects",
                "geometry": "Polygon",
                "coordinates": "[[[10.79,59.94],[10.81,59.94],[10.81,59.96],[10.79,59.96],[10.79,59.94]]]",
            },
            [AQ2],
        ),
        ({"georel": "equals", "geometry": "Point", "coordinates": "[10.8,59.95]"}, [AQ2]),
        (
            {
                "georel": "disjoint",
                "geometry": "Polygon",
                "coordinates": "[[[10.79,59.94],[10.81,59.94],[10.81,59.96],[10.79,59.96],[10.79,59.94]]]",
            },
            [AQ1],
        ),
    ],
)
def test_geo_queries(hub: ApiHub, params: dict[str, str], expected: list[str]) -> None:
    assert _ids(_ok(hub, "/ngsi-ld/v1/entities", type="AirQualityObserved", **params)) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"georel": "near", "geometry": "Point", "coordinates": "[10.75,59.91]"},
        {"georel": "near;maxDistance==x", "geometry": "Point", "coordinates": "[10.75,59.91]"},
        {"georel": "beside", "geometry": "Point", "coordinates": "[10.75,59.91]"},
        {"georel": "within", "geometry": "Circle", "coordinates": "[10.75,59.91]"},
        {"georel": "within", "geometry": "Polygon", "coordinates": "[10.75,59.91]"},
        {"georel": "within", "geometry": "Polygon", "coordinates": "not json"},
        {"georel": "within", "geometry": "Polygon"},
    ],
)
def test_bad_geo_query_is_bad_request_data(hub: ApiHub, params: dict[str, str]) -> None:
    _problem(
        _get(hub, "/ngsi-ld/v1/entities", type="AirQualityObserved", **params),
        400,
        "BadRequestData",
    )


def test_one_entity_and_not_found(hub: ApiHub) -> None:
    entity = _ok(hub, f"/ngsi-ld/v1/entities/{AQ1}", attrs="pm25")
    assert set(entity) == {"id", "type", "pm25"}
    _problem(
        _get(hub, "/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:nope"),
        404,
        "ResourceNotFound",
    )
    _problem(
        _get(hub, "/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:aq-1"), 404, "ResourceNotFound"
    )
    _problem(_get(hub, "/ngsi-ld/v1/entities/not-a-uri"), 400, "BadRequestData")


def test_types_and_attributes(hub: ApiHub) -> None:
    types = _ok(hub, "/ngsi-ld/v1/types")
    assert types["type"] == "EntityTypeList"
    assert types["typeList"] == [
        "AirQualityObserved",
        "Device",
        "Streetlight",
        "WaterConsumptionObserved",
    ]
    detailed = _ok(hub, "/ngsi-ld/v1/types", details="true")
    aq = next(t for t in detailed if t["typeName"] == "AirQualityObserved")
    assert {"pm10", "no2", "location", "refDevice", "airQualityLevel"} <= set(aq["attributeNames"])
    info = _ok(hub, "/ngsi-ld/v1/types/AirQualityObserved")
    assert info["entityCount"] == 2 and info["type"] == "EntityTypeInfo"
    kinds = {a["attributeName"]: a["attributeTypes"] for a in info["attributeDetails"]}
    assert kinds["location"] == ["GeoProperty"] and kinds["refDevice"] == ["Relationship"]
    _problem(_get(hub, "/ngsi-ld/v1/types/Bicycle"), 404, "ResourceNotFound")
    attributes = _ok(hub, "/ngsi-ld/v1/attributes")
    assert attributes["type"] == "AttributeList"
    assert {"pm10", "powerState", "waterConsumption", "batteryLevel"} <= set(
        attributes["attributeList"]
    )
    battery = _ok(hub, "/ngsi-ld/v1/attributes/batteryLevel")
    assert battery["typeNames"] == ["Device"] and battery["attributeCount"] == 4
    location = next(
        a
        for a in _ok(hub, "/ngsi-ld/v1/attributes", details="true")
        if a["attributeName"] == "location"
    )
    assert len(location["typeNames"]) == 4
    _problem(_get(hub, "/ngsi-ld/v1/attributes/colour"), 404, "ResourceNotFound")


def test_reads_need_what_api_v1_needs(hub: ApiHub) -> None:
    with httpx.Client(base_url=hub.url, timeout=10) as anonymous:
        assert anonymous.get("/ngsi-ld/v1/entities", params={"type": "Device"}).status_code == 401
        assert anonymous.get("/api/v1/devices").status_code == 401
        bad = {"Authorization": "Bearer nope"}
        assert anonymous.get("/ngsi-ld/v1/types", headers=bad).status_code == 401


# --- temporal API -------------------------------------------------------------------

T0 = time_of(0).isoformat().replace("+00:00", "Z")
T_END = time_of(STEPS).isoformat().replace("+00:00", "Z")


def test_temporal_instances_between_and_last_n(hub: ApiHub) -> None:
    body = _ok(
        hub,
        f"/ngsi-ld/v1/temporal/entities/{AQ1}",
        timerel="between",
        timeAt=T0,
        endTimeAt=time_of(4).isoformat(),
        attrs="pm10",
    )
    assert set(body) == {"id", "type", "pm10"}
    assert body["pm10"] == [
        {
            "type": "Property",
            "value": aq_values("aq-1", i)["pm10"],
            "observedAt": time_of(i).isoformat().replace("+00:00", "Z"),
            "unitCode": "GQ",
        }
        for i in range(4)
    ]
    last = _ok(hub, f"/ngsi-ld/v1/temporal/entities/{AQ1}", lastN=3, attrs="no2,relativeHumidity")
    assert [v["value"] for v in last["no2"]] == [
        aq_values("aq-1", i)["no2"] for i in range(STEPS - 3, STEPS)
    ]
    assert last["relativeHumidity"][-1]["value"] == pytest.approx(
        aq_values("aq-1", LAST)["humidity"] / 100
    )
    before = _ok(
        hub,
        f"/ngsi-ld/v1/temporal/entities/{AQ1}",
        timerel="before",
        timeAt=time_of(2).isoformat(),
        attrs="o3",
    )
    assert len(before["o3"]) == 2
    after = _ok(
        hub,
        f"/ngsi-ld/v1/temporal/entities/{AQ1}",
        timerel="after",
        timeAt=time_of(STEPS - 2).isoformat(),
        attrs="o3",
    )
    assert len(after["o3"]) == 2


def test_temporal_values_and_query_over_entities(hub: ApiHub) -> None:
    body = _get(
        hub,
        "/ngsi-ld/v1/temporal/entities",
        type="AirQualityObserved",
        q="pm10>45",
        attrs="pm10",
        lastN=2,
        options="temporalValues",
        count="true",
    )
    assert body.headers["ngsild-results-count"] == "1"
    (entity,) = body.json()
    assert entity["id"] == AQ2
    assert entity["pm10"] == {
        "type": "Property",
        "values": [
            [aq_values("aq-2", i)["pm10"], time_of(i).isoformat().replace("+00:00", "Z")]
            for i in (STEPS - 2, STEPS - 1)
        ],
    }
    lamps = _ok(
        hub, "/ngsi-ld/v1/temporal/entities", type="Streetlight", attrs="powerState", lastN=1
    )
    assert lamps[0]["powerState"][0]["value"] in ("on", "off")


@pytest.mark.parametrize(
    ("duration", "bucket"), [("PT1H", "1h"), ("PT15M", "15m"), ("PT6H", "6h"), ("P1D", "1d")]
)
def test_temporal_aggregates_equal_the_hubs_buckets(
    hub: ApiHub, duration: str, bucket: str
) -> None:
    body = _ok(
        hub,
        f"/ngsi-ld/v1/temporal/entities/{AQ1}",
        timerel="between",
        timeAt=T0,
        endTimeAt=T_END,
        attrs="pm10,no2",
        aggrMethods="avg,min,max,sum,totalCount",
        aggrPeriodDuration=duration,
        options="aggregatedValues",
    )
    for method, agg in [
        ("avg", "avg"),
        ("min", "min"),
        ("max", "max"),
        ("sum", "sum"),
        ("totalCount", "count"),
    ]:
        reference = _ok(
            hub,
            "/api/v1/devices/aq-1/readings",
            bucket=bucket,
            agg=agg,
            tz="UTC",
            **{"from": T0, "to": T_END, "metric": ["pm10", "no2"]},
        )
        for metric in ("pm10", "no2"):
            expected = [
                [r["value"], r["time"].replace("+00:00", "Z")]
                for r in reference["readings"]
                if r["metric"] == metric
            ]
            got = [[v, start] for v, start, _ in body[metric][method]]
            assert len(got) == len(expected) > 0
            for (gv, gt), (ev, et) in zip(got, expected, strict=True):
                assert gt == et
                assert gv == pytest.approx(ev)


def test_temporal_aggregate_over_the_whole_range(hub: ApiHub) -> None:
    body = _ok(
        hub,
        f"/ngsi-ld/v1/temporal/entities/{AQ1}",
        timerel="between",
        timeAt=T0,
        endTimeAt=T_END,
        attrs="pm10,relativeHumidity",
        aggrMethods="max,totalCount",
    )
    values = [aq_values("aq-1", i) for i in range(STEPS)]
    assert body["pm10"]["max"] == [[max(v["pm10"] for v in values), T0, T_END]]
    assert body["pm10"]["totalCount"] == [[STEPS, T0, T_END]]
    assert body["relativeHumidity"]["max"][0][0] == pytest.approx(
        max(v["humidity"] for v in values) / 100
    )


@pytest.mark.parametrize(
    ("params", "status", "kind"),
    [
        ({"timerel": "during", "timeAt": T0}, 400, "BadRequestData"),
        ({"timerel": "before"}, 400, "BadRequestData"),
        ({"timerel": "between", "timeAt": T0}, 400, "BadRequestData"),
        ({"timerel": "between", "timeAt": T_END, "endTimeAt": T0}, 400, "BadRequestData"),
        ({"timerel": "after", "timeAt": "yesterday"}, 400, "BadRequestData"),
        ({"timerel": "after", "timeAt": "2026-03-02T00:00:00"}, 400, "BadRequestData"),
        ({"timeAt": T0}, 400, "BadRequestData"),
        ({"lastN": "0"}, 400, "BadRequestData"),
        ({"aggrMethods": "avg"}, 400, "BadRequestData"),
        (
            {"timerel": "between", "timeAt": T0, "endTimeAt": T_END, "aggrMethods": "stddev"},
            422,
            "OperationNotSupported",
        ),
        (
            {
                "timerel": "between",
                "timeAt": T0,
                "endTimeAt": T_END,
                "aggrMethods": "avg",
                "aggrPeriodDuration": "P1M",
            },
            422,
            "OperationNotSupported",
        ),
        (
            {
                "timerel": "between",
                "timeAt": T0,
                "endTimeAt": T_END,
                "aggrMethods": "avg",
                "aggrPeriodDuration": "1h",
            },
            400,
            "BadRequestData",
        ),
        (
            {
                "timerel": "between",
                "timeAt": "2020-01-01T00:00:00Z",
                "endTimeAt": T_END,
                "aggrMethods": "avg",
                "aggrPeriodDuration": "PT1M",
            },
            403,
            "TooManyResults",
        ),
    ],
)
def test_temporal_errors(hub: ApiHub, params: dict[str, str], status: int, kind: str) -> None:
    _problem(_get(hub, f"/ngsi-ld/v1/temporal/entities/{AQ1}", **params), status, kind)


def test_temporal_whole_history_and_unknown_entity(hub: ApiHub) -> None:
    # HUB_API_MAX_ROWS (10,000) bounds a raw answer; 2 monitors x 6 attributes x 96
    # values fit, so without timerel the whole history comes back (battery is the
    # Device entity's).
    body = _ok(hub, "/ngsi-ld/v1/temporal/entities", type="AirQualityObserved")
    assert (
        sum(len(v) for e in body for k, v in e.items() if k not in ("id", "type")) == 2 * 6 * STEPS
    )
    _problem(
        _get(hub, "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Device:nope"), 404, "ResourceNotFound"
    )


# --- Smart Data Models schemas -------------------------------------------------------


def _key_values_by_type(hub: ApiHub) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for entity in _ok(hub, "/ngsi-ld/v1/entities", options="keyValues", limit=100):
        found.setdefault(entity["type"], []).append(entity)
    assert set(found) == set(models.MODELS)
    return found


def test_entities_validate_against_the_published_schemas(hub: ApiHub) -> None:
    by_type = _key_values_by_type(hub)
    checked = 0
    for kind, entities in by_type.items():
        validator = published_validator(models.MODELS[kind])
        if isinstance(validator, str):
            pytest.skip(validator)
        for entity in entities:
            try:
                validator.validate(entity)
            except Unresolvable as exc:
                pytest.skip(f"a schema that {kind}'s refers to is not reachable: {exc}")
            checked += 1
    assert checked == 8


def test_entities_validate_against_the_attribute_table(hub: ApiHub) -> None:
    for kind, entities in _key_values_by_type(hub).items():
        model = models.MODELS[kind]
        validator = table_validator(model)
        for entity in entities:
            validator.validate(entity)
            # Every attribute is one the model defines, and dates are RFC 3339.
            assert set(entity) <= set(model.attributes), set(entity) - set(model.attributes)
            for name, fragment in model.attributes.items():
                if fragment.get("format") == "date-time" and name in entity:
                    assert datetime.fromisoformat(entity[name].replace("Z", "+00:00")).tzinfo
