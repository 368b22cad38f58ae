"""The SensorThings API over a real hub (both storage levels), checked against the
hub's own API for the same data: entity sets, navigation, every query option, the
filter functions, geometry, paging and the error answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.devstack import Devstack
from tests.integration.api_helpers import ApiHub
from tests.integration.sta_town import SAMPLES, STEP, start_town

STA = "/sta/v1.1"
# Sentrum, as a polygon around the three Sentrum devices that have a place.
SENTRUM = "POLYGON((10.38 63.42, 10.40 63.42, 10.40 63.44, 10.38 63.44, 10.38 63.42))"


@pytest.fixture(scope="module", params=["plain", "timescale"])
def town(request: pytest.FixtureRequest, stack: Devstack) -> Iterator[tuple[ApiHub, Any]]:
    if request.param == "timescale" and not stack.postgres.timescaledb:
        pytest.skip("TimescaleDB extension not installed: timescale storage not exercised")
    hub, start = start_town(stack, request.param)
    yield hub, start
    hub.stop()


@pytest.fixture(scope="module")
def client(town: tuple[ApiHub, Any]) -> Iterator[httpx.Client]:
    # The town has a water meter (personal data): a key that may read it sees it all.
    with town[0].client("personal") as c:
        yield c


def get(client: httpx.Client, path: str, **params: str) -> Any:
    response = client.get(STA + path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def datastream_id(client: httpx.Client, device: str, metric: str) -> int:
    found = get(
        client,
        "/Datastreams",
        **{"$filter": f"properties/deviceId eq '{device}' and ObservedProperty/name eq '{metric}'"},
    )["value"]
    assert len(found) == 1
    return int(found[0]["@iot.id"])


def hub_readings(client: httpx.Client, device: str, metric: str, start: str, end: str) -> list[Any]:
    response = client.get(
        f"/api/v1/devices/{device}/readings",
        params={"metric": metric, "from": start, "to": end, "limit": 1000},
    )
    assert response.status_code == 200, response.text
    return [(r["time"], r["value"]) for r in response.json()["readings"]]


def iso(t: str) -> str:
    return t.replace("+00:00", "Z")


def test_service_root_lists_the_entity_sets_and_only_the_implemented_classes(
    client: httpx.Client,
) -> None:
    root = get(client, "")
    names = [s["name"] for s in root["value"]]
    assert names == [
        "Things",
        "Locations",
        "HistoricalLocations",
        "Datastreams",
        "Sensors",
        "ObservedProperties",
        "Observations",
        "FeaturesOfInterest",
    ]
    assert all(s["url"].endswith(f"{STA}/{s['name']}") for s in root["value"])
    conformance = root["serverSettings"]["conformance"]
    assert "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data" in conformance
    assert "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array" in conformance
    assert not any("create-update-delete" in c or "multi-datastream" in c for c in conformance)
    assert not any("mqtt" in c for c in conformance)  # the extension is off here


def test_things_are_the_hubs_devices(client: httpx.Client) -> None:
    devices = client.get("/api/v1/devices", params={"limit": 100}).json()["items"]
    things = get(client, "/Things", **{"$top": "100"})["value"]
    assert sorted(t["properties"]["deviceId"] for t in things) == sorted(
        d["device_id"] for d in devices
    )
    by_id = {d["device_id"]: d for d in devices}
    for thing in things:
        device = by_id[thing["properties"]["deviceId"]]
        assert thing["name"] == device["name"]
        assert thing["properties"]["district"] == device["district"]
        assert thing["properties"]["profile"] == device["profile"]
        assert thing["@iot.selfLink"].endswith(f"{STA}/Things({thing['@iot.id']})")
        assert thing["Datastreams@iot.navigationLink"] == thing["@iot.selfLink"] + "/Datastreams"


def test_observations_with_a_time_filter_equal_the_hubs_readings(
    town: tuple[ApiHub, Any], client: httpx.Client
) -> None:
    _, start = town
    ds = datastream_id(client, "aq-sentrum", "no2")
    since = start + 10 * STEP
    until = start + SAMPLES * STEP
    since_text = since.isoformat().replace("+00:00", "Z")
    page = get(
        client,
        f"/Datastreams({ds})/Observations",
        **{"$filter": f"phenomenonTime ge {since_text}", "$top": "1000"},
    )
    expected = hub_readings(client, "aq-sentrum", "no2", since.isoformat(), until.isoformat())
    assert len(expected) == SAMPLES - 10
    assert [(o["phenomenonTime"], o["result"]) for o in page["value"]] == [
        (iso(t), v) for t, v in expected
    ]
    assert all(o["resultTime"] == o["phenomenonTime"] for o in page["value"])
    assert "@iot.nextLink" not in page


def test_next_links_continue_from_a_key_and_reach_every_observation(
    client: httpx.Client,
) -> None:
    ds = datastream_id(client, "wm-0001", "flow")
    response = get(client, f"/Datastreams({ds})/Observations", **{"$top": "7", "$count": "true"})
    assert response["@iot.count"] == SAMPLES
    seen = list(response["value"])
    pages = 1
    while "@iot.nextLink" in response:
        link = response["@iot.nextLink"]
        assert "$skiptoken=" in link and "$skip=" not in link
        r = client.get(link)
        assert r.status_code == 200, r.text
        response = r.json()
        seen += response["value"]
        pages += 1
    assert pages == -(-SAMPLES // 7)
    times = [o["phenomenonTime"] for o in seen]
    assert times == sorted(times) and len(set(times)) == SAMPLES
    assert len({o["@iot.id"] for o in seen}) == SAMPLES


def test_orderby_several_keys_skip_select_and_count(client: httpx.Client) -> None:
    response = get(
        client,
        "/Observations",
        **{
            "$filter": "Datastream/ObservedProperty/@iot.id eq 'no2'",
            "$orderby": "result desc, phenomenonTime asc",
            "$select": "result,phenomenonTime",
            "$top": "5",
            "$skip": "2",
            "$count": "true",
        },
    )
    assert response["@iot.count"] == 2 * SAMPLES
    values = response["value"]
    assert all(set(v) == {"result", "phenomenonTime"} for v in values)
    # aq-lade reads 30 + i, aq-sentrum 20 + i: the largest are Lade's last ones.
    assert [v["result"] for v in values] == [30.0 + SAMPLES - 1 - k for k in range(2, 7)]
    # ties on result are ordered by time: Sentrum 20+i equals Lade 30+(i-10)
    tied = get(
        client,
        "/Observations",
        **{
            "$filter": "Datastream/ObservedProperty/@iot.id eq 'no2' and result eq 40",
            "$orderby": "result desc,phenomenonTime asc",
        },
    )["value"]
    times = [o["phenomenonTime"] for o in tied]
    assert len(times) == 2 and times == sorted(times)


def test_nested_expand_gives_each_datastreams_latest_observation(client: httpx.Client) -> None:
    response = get(
        client,
        "/Things",
        **{
            "$filter": "properties/profile eq 'air_quality'",
            "$expand": "Datastreams($select=name,properties;"
            "$expand=Observations($top=1;$orderby=phenomenonTime desc))",
        },
    )
    latest = client.get("/api/v1/readings/latest", params={"profile": "air_quality"}).json()
    expected = {
        (item["device_id"], metric): (iso(v["time"]), v["value"])
        for item in latest["items"]
        for metric, v in item["values"].items()
    }
    got = {}
    for thing in response["value"]:
        for ds in thing["Datastreams"]:
            assert set(ds) >= {"name", "properties", "Observations"} and "@iot.id" not in ds
            (obs,) = ds["Observations"]
            key = (ds["properties"]["deviceId"], ds["properties"]["metric"])
            got[key] = (obs["phenomenonTime"], obs["result"])
            assert "Observations@iot.nextLink" in ds
    assert got == expected


def test_string_date_arithmetic_and_logical_filters(
    town: tuple[ApiHub, Any], client: httpx.Client
) -> None:
    _, start = town

    def names(set_name: str, expression: str) -> list[str]:
        found = get(client, f"/{set_name}", **{"$filter": expression, "$top": "1000"})["value"]
        return sorted(t["name"] for t in found)

    assert names("Things", "startswith(name, 'Device aq')") == [
        "Device aq-lade",
        "Device aq-sentrum",
    ]
    assert names("Things", "endswith(name, '0002') or substringof('lade', name)") == [
        "Device aq-lade",
        "Device sl-0002",
    ]
    assert names("Things", "tolower(toupper(name)) eq 'device wm-0001'") == ["Device wm-0001"]
    assert names("Things", "length(name) eq 14 and indexof(name, 'sl') eq 7") == [
        "Device sl-0001",
        "Device sl-0002",
    ]
    assert names("Things", "concat(substring(name, 7, 2), 'x') eq 'wmx'") == ["Device wm-0001"]
    assert names("Things", "not (properties/district eq 'Sentrum')") == [
        "Device aq-lade",
        "Device sl-0001",
    ]
    ds = datastream_id(client, "aq-sentrum", "no2")
    hour = (start + 12 * STEP).hour
    observations = get(
        client,
        f"/Datastreams({ds})/Observations",
        **{
            "$filter": f"(result sub 20) mul 2 ge 20 and result mod 2 eq 0 and "
            f"hour(phenomenonTime) eq {hour} and year(phenomenonTime) ge 2000 and "
            f"date(phenomenonTime) ge 2000-01-01 and round(result div 2) eq floor(result div 2)",
            "$top": "1000",
        },
    )["value"]
    expected = [
        20.0 + i
        for i in range(SAMPLES)
        if i >= 10 and i % 2 == 0 and (start + i * STEP).hour == hour
    ]
    assert [o["result"] for o in observations] == expected and expected


def test_geometry_filters_find_a_district_and_a_radius(client: httpx.Client) -> None:
    inside = get(
        client, "/Locations", **{"$filter": f"geo.intersects(location, geography'{SENTRUM}')"}
    )
    assert sorted(loc["name"] for loc in inside["value"]) == ["Device aq-sentrum", "Device wm-0001"]
    assert all(loc["encodingType"] == "application/geo+json" for loc in inside["value"])
    assert inside["value"][0]["location"]["type"] == "Point"
    # 250 m around the Sentrum monitor: the water meter is about 200 m away.
    near = get(
        client,
        "/Locations",
        **{"$filter": "geo.distance(location, geography'POINT(10.3951 63.4305)') lt 250"},
    )
    assert sorted(loc["name"] for loc in near["value"]) == ["Device aq-sentrum", "Device wm-0001"]
    closer = get(
        client,
        "/Locations",
        **{"$filter": "geo.distance(location, geography'POINT(10.3951 63.4305)') lt 150"},
    )
    assert [loc["name"] for loc in closer["value"]] == ["Device aq-sentrum"]
    within = get(
        client,
        "/Datastreams",
        **{
            "$filter": f"st_within(observedArea, geography'{SENTRUM}') and ObservedProperty/name eq 'no2'"
        },
    )
    assert [d["properties"]["deviceId"] for d in within["value"]] == ["aq-sentrum"]
    observations = get(
        client,
        "/Observations",
        **{
            "$filter": f"st_within(FeatureOfInterest/feature, geography'{SENTRUM}')",
            "$count": "true",
            "$top": "1",
        },
    )
    assert observations["@iot.count"] == SAMPLES * (3 + 2)  # aq-sentrum and wm-0001


def test_navigation_paths_properties_values_and_refs(client: httpx.Client) -> None:
    thing = get(client, "/Things", **{"$filter": "properties/deviceId eq 'aq-sentrum'"})["value"][0]
    tid = thing["@iot.id"]
    datastreams = get(client, f"/Things({tid})/Datastreams")["value"]
    assert sorted(d["properties"]["metric"] for d in datastreams) == ["no2", "pm10", "temperature"]
    ds = datastreams[0]
    assert ds["observationType"].endswith("OM_Measurement")
    assert ds["unitOfMeasurement"]["definition"].startswith("http://www.opengis.net/def/uom/UCUM/")
    first, last = ds["phenomenonTime"].split("/")
    assert first < last
    assert get(client, f"/Datastreams({ds['@iot.id']})/Thing")["@iot.id"] == tid
    assert get(client, f"/Things({tid})/name") == {"name": "Device aq-sentrum"}
    value = client.get(f"{STA}/Things({tid})/name/$value")
    assert value.status_code == 200 and value.text == "Device aq-sentrum"
    assert value.headers["content-type"].startswith("text/plain")
    refs = get(client, f"/Things({tid})/Datastreams/$ref")["value"]
    assert sorted(r["@iot.selfLink"] for r in refs) == sorted(
        d["@iot.selfLink"] for d in datastreams
    )
    assert get(client, f"/Datastreams({ds['@iot.id']})/Thing/$ref") == {
        "@iot.selfLink": thing["@iot.selfLink"]
    }
    (location,) = get(client, f"/Things({tid})/Locations")["value"]
    assert location["location"]["coordinates"] == [10.3951, 63.4305]
    (historical,) = get(client, f"/Things({tid})/HistoricalLocations")["value"]
    assert get(client, f"/HistoricalLocations({historical['@iot.id']})/Thing")["@iot.id"] == tid
    sensor = get(client, f"/Datastreams({ds['@iot.id']})/Sensor")
    assert sensor["@iot.id"] == "air_quality" and sensor["metadata"].endswith(
        "/api/v1/profiles/air_quality"
    )
    no2 = get(client, "/ObservedProperties('no2')")
    assert no2["definition"] == "https://smartdatamodels.org/dataModel.Environment/no2"
    assert len(get(client, "/ObservedProperties('no2')/Datastreams")["value"]) == 2
    assert len(get(client, "/Sensors('street_light')/Datastreams")["value"]) == 4
    observation = get(client, f"/Datastreams({ds['@iot.id']})/Observations", **{"$top": "1"})[
        "value"
    ][0]
    again = get(client, f"/Observations('{observation['@iot.id']}')")
    assert again["result"] == observation["result"]
    foi = get(client, f"/Observations('{observation['@iot.id']}')/FeatureOfInterest")
    assert foi["feature"] == location["location"]
    expanded = get(
        client, f"/Observations('{observation['@iot.id']}')", **{"$expand": "Datastream/Thing"}
    )
    assert expanded["Datastream"]["Thing"]["@iot.id"] == tid
    assert get(client, f"/Observations('{observation['@iot.id']}')/result") == {
        "result": observation["result"]
    }


def test_data_array_of_a_datastream(town: tuple[ApiHub, Any], client: httpx.Client) -> None:
    _, start = town
    ds = datastream_id(client, "aq-lade", "pm10")
    response = get(
        client,
        f"/Datastreams({ds})/Observations",
        **{"$resultFormat": "dataArray", "$select": "phenomenonTime,result", "$top": "1000"},
    )
    (group,) = response["value"]
    assert group["components"] == ["phenomenonTime", "result"]
    assert group["dataArray@iot.count"] == SAMPLES == len(group["dataArray"])
    assert group["Datastream@iot.navigationLink"].endswith(f"{STA}/Datastreams({ds})")
    expected = hub_readings(
        client,
        "aq-lade",
        "pm10",
        start.isoformat(),
        (start + SAMPLES * STEP + timedelta(1)).isoformat(),
    )
    assert [tuple(row) for row in group["dataArray"]] == [(iso(t), v) for t, v in expected]


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("/Things", {"$filter": "name eq"}, 400, "$filter at position 7"),
        ("/Things", {"$filter": "name eq 'a' and"}, 400, "position 15"),
        ("/Things", {"$filter": "name eqq 'a'"}, 400, "position 5"),
        ("/Things", {"$filter": "nosuch(name)"}, 400, "unknown or unsupported function"),
        ("/Things", {"$filter": "colour eq 'red'"}, 400, "no property or navigation 'colour'"),
        ("/Things", {"$filter": "name gt 3"}, 400, "cannot compare text with int"),
        ("/Things", {"$filter": "name"}, 400, "must be a condition"),
        ("/Things", {"$filter": "Datastreams/name eq 'x'"}, 400, "is a collection"),
        ("/Things", {"$orderby": "name sideways"}, 400, "$orderby at position 5"),
        ("/Things", {"$select": "colour"}, 400, "no property 'colour'"),
        ("/Things", {"$expand": "Colours"}, 400, "no navigation property 'Colours'"),
        ("/Things", {"$top": "-1"}, 400, "$top"),
        ("/Things", {"$count": "maybe"}, 400, "$count"),
        ("/Things", {"$format": "xml"}, 400, "unknown query option"),
        ("/Things", {"$skiptoken": "garbage!"}, 400, "$skiptoken"),
        ("/Things", {"$resultFormat": "dataArray"}, 400, "Observations"),
        (
            "/Locations",
            {"$filter": "geo.intersects(location, geography'LINESTRING(1 2, 3 4)')"},
            400,
            "WKT",
        ),
        ("/Things(999999)", {}, 404, "no such entity"),
        ("/Things(999999)/Datastreams", {}, 404, "no such entity"),
        ("/Things('abc')", {}, 400, "integer"),
        ("/Colours", {}, 404, "no such entity"),
        ("/Observations('1-x')", {}, 404, "no such entity"),
    ],
)
def test_errors_are_problem_details(
    client: httpx.Client, path: str, params: dict[str, str], status: int, words: str
) -> None:
    response = client.get(STA + path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]


def test_reads_need_a_key_when_the_hub_is_not_open(town: tuple[ApiHub, Any]) -> None:
    hub, _ = town
    with hub.client() as anonymous:
        response = anonymous.get(f"{STA}/Things")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
    with hub.client("viewer") as viewer:
        assert viewer.get(f"{STA}/Things").status_code == 200


def test_a_next_link_repeats_the_query_options(client: httpx.Client) -> None:
    first = get(
        client,
        "/Observations",
        **{
            "$filter": "result ge 30 and Datastream/ObservedProperty/name eq 'no2'",
            "$top": "4",
            "$select": "result,id",
            "$orderby": "result",
        },
    )
    link = first["@iot.nextLink"]
    assert "$filter=result%20ge%2030" in link and "$orderby=result" in link
    second = client.get(link).json()
    assert all(set(o) == {"@iot.id", "@iot.selfLink", "result"} for o in second["value"])
    assert first["value"][-1]["result"] <= second["value"][0]["result"]
    assert all(o["result"] >= 30 for o in second["value"])


DOC = Path(__file__).resolve().parents[2] / "docs" / "sensorthings.md"


def doc_requests() -> list[str]:
    return [
        line[len("GET ") :]
        for line in DOC.read_text().splitlines()
        if line.startswith("GET /sta/v1.1/")
    ]


def test_the_documented_example_requests_answer(
    town: tuple[ApiHub, Any], client: httpx.Client
) -> None:
    volume = datastream_id(client, "wm-0001", "volume")
    today = town[1].isoformat()  # "today" of the examples: the town's first reading
    requests = doc_requests()
    assert len(requests) >= 7
    answers = []
    for request in requests:
        request = request.replace("Datastreams(3)", f"Datastreams({volume})")
        request = request.replace("2026-12-01T00:00:00+01:00", today)
        path, _, query = request.partition("?")
        params = dict(item.split("=", 1) for item in query.split("&"))
        response = client.get(path, params=params)
        assert response.status_code == 200, (request, response.text)
        answers.append(response.json())
    sentrum = answers[0]["value"]
    assert [t["properties"]["deviceId"] for t in sentrum] == ["aq-sentrum"]
    (no2,) = sentrum[0]["Datastreams"]
    assert len(no2["Observations"]) == 1 and sentrum[0]["Locations"]
    polygon = answers[1]["value"]
    assert [t["name"] for loc in polygon for t in loc["Things"]] == ["Device aq-sentrum"]
    faults = answers[5]["value"]
    assert faults and all(
        o["Datastream"]["Thing"]["properties"]["profile"] == "street_light" for o in faults
    )


def test_top_zero_counts_without_entities(client: httpx.Client) -> None:
    response = get(client, "/Things", **{"$top": "0", "$count": "true"})
    assert response == {"@iot.count": 5, "value": []}


def test_an_order_key_that_may_be_empty_pages_by_skip_to_the_end(client: httpx.Client) -> None:
    response = get(client, "/Things", **{"$orderby": "properties/district desc", "$top": "2"})
    seen = list(response["value"])
    while "@iot.nextLink" in response:
        assert "$skip=" in response["@iot.nextLink"]
        response = client.get(response["@iot.nextLink"]).json()
        seen += response["value"]
    districts = [t["properties"]["district"] for t in seen]
    assert len(seen) == 5 and districts == sorted(districts, reverse=True)
