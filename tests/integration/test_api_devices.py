"""/api/v1/devices against a real hub: devices the ingest registered, filters and
pages, operators' changes, and problem details for every error."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.devstack import Devstack
from hub.store.db import connect
from tests.integration.api_helpers import ApiHub, start_hub
from tests.integration.helpers import BASE_TS_MS, telemetry, wait_for

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    logs = Path(tempfile.mkdtemp(prefix="hub-api-devices-"))
    api = start_hub(stack, logs)
    yield api
    api.stop()


def _dead_letters(api: ApiHub, device_id: str) -> list[tuple[str, str]]:
    with connect(api.settings.database_url, "test") as conn:
        rows = conn.execute(
            "SELECT reason, detail FROM dead_letters WHERE device_id = %s", (device_id,)
        ).fetchall()
    return [(r, d) for r, d in rows]


def test_device_registered_by_the_ingest_shows_its_latest_values(hub: ApiHub) -> None:
    hub.publish([(hub.topic("lm-d1"), telemetry(seq)) for seq in range(3)])
    hub.wait_stored("lm-d1", 9)
    with hub.client("viewer") as client:
        listed = client.get("/api/v1/devices", params={"q": "lm-d1"}).json()
        detail = client.get("/api/v1/devices/lm-d1")
    assert [d["device_id"] for d in listed["items"]] == ["lm-d1"]
    assert detail.status_code == 200
    body = detail.json()
    assert body["profile"] == "load_meter"
    assert body["last_seen"] is not None
    latest = {m["name"]: m["latest"] for m in body["metrics"]}
    assert latest["seq"]["value"] == 2.0
    assert latest["a"]["value"] == 0.2
    assert latest["b"]["time"].startswith("2026-01-01T00:00:02")
    units = {m["name"]: m["unit"] for m in body["metrics"]}
    assert units == {"seq": "count", "a": "Cel", "b": "%"}
    assert body["open_alerts"] == []


def test_filters_and_cursor_pages_find_every_device_once(hub: ApiHub) -> None:
    sites = [
        ("lm-f1", "Sentrum", 63.430, 10.395),
        ("lm-f2", "Sentrum", 63.431, 10.396),
        ("lm-f3", "Lade", 63.445, 10.440),
        ("lm-f4", "Lade", 63.446, 10.441),
        ("lm-f5", "Byåsen", 63.400, 10.350),
    ]
    with hub.client("operator") as client:
        for device_id, district, lat, lon in sites:
            r = client.post(
                "/api/v1/devices",
                json={
                    "device_id": device_id,
                    "profile": "load_meter",
                    "name": f"Meter {device_id.upper()}",
                    "district": district,
                    "lat": lat,
                    "lon": lon,
                },
            )
            assert r.status_code == 201, r.text
    with hub.client("viewer") as client:
        seen: list[str] = []
        cursor = None
        while True:
            params = {"q": "lm-f", "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/v1/devices", params=params).json()
            assert len(page["items"]) <= 2
            seen += [d["device_id"] for d in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ["lm-f1", "lm-f2", "lm-f3", "lm-f4", "lm-f5"]

        def ids(**params: object) -> list[str]:
            r = client.get("/api/v1/devices", params={"q": "lm-f", **params})
            assert r.status_code == 200, r.text
            return [d["device_id"] for d in r.json()["items"]]

        assert ids(district="Lade") == ["lm-f3", "lm-f4"]
        assert ids(district=["Lade", "Byåsen"]) == ["lm-f3", "lm-f4", "lm-f5"]
        assert ids(bbox="10.39,63.42,10.40,63.44") == ["lm-f1", "lm-f2"]
        assert ids(q="meter lm-f5") == ["lm-f5"]
        assert ids(profile="load_meter_two") == []
        assert ids(status="unknown") == ["lm-f1", "lm-f2", "lm-f3", "lm-f4", "lm-f5"]
        device = client.get("/api/v1/devices/lm-f3").json()
        assert device["location"] == {"lat": 63.445, "lon": 10.44}
        assert device["district"] == "Lade"


def test_decommissioned_device_is_hidden_and_its_messages_are_refused(hub: ApiHub) -> None:
    with hub.client("operator") as client:
        assert (
            client.post(
                "/api/v1/devices", json={"device_id": "lm-x1", "profile": "load_meter"}
            ).status_code
            == 201
        )
        r = client.post("/api/v1/devices/lm-x1/decommission")
        assert r.status_code == 200
        assert r.json()["decommissioned_at"] is not None
        again = client.post("/api/v1/devices/lm-x1/decommission").json()
        assert again["decommissioned_at"] == r.json()["decommissioned_at"]
        listed = client.get("/api/v1/devices", params={"q": "lm-x1"}).json()["items"]
        assert listed == []
        listed = client.get(
            "/api/v1/devices", params={"q": "lm-x1", "include_decommissioned": True}
        ).json()["items"]
        assert [d["device_id"] for d in listed] == ["lm-x1"]
    hub.publish([(hub.topic("lm-x1"), telemetry(1))])
    wait_for(lambda: bool(_dead_letters(hub, "lm-x1")), 20, "a dead letter")
    assert _dead_letters(hub, "lm-x1")[0][0] == "unknown_device"
    assert hub.readings_stored("lm-x1") == 0


def test_reprofiled_device_refuses_messages_of_its_old_profile(hub: ApiHub) -> None:
    with hub.client("operator") as client:
        assert (
            client.post(
                "/api/v1/devices", json={"device_id": "lm-p1", "profile": "load_meter"}
            ).status_code
            == 201
        )
        r = client.patch(
            "/api/v1/devices/lm-p1", json={"profile": "load_meter_two", "name": "Renamed"}
        )
        assert r.status_code == 200, r.text
        assert (r.json()["profile"], r.json()["name"]) == ("load_meter_two", "Renamed")
        cleared = client.patch("/api/v1/devices/lm-p1", json={"name": None}).json()
        assert cleared["name"] is None and cleared["profile"] == "load_meter_two"
    hub.publish([(hub.topic("lm-p1"), telemetry(1, BASE_TS_MS))])
    wait_for(lambda: bool(_dead_letters(hub, "lm-p1")), 20, "a dead letter")
    assert _dead_letters(hub, "lm-p1")[0][0] == "profile_mismatch"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("GET", "/api/v1/devices/no-such-device", None, 404, "no device 'no-such-device'"),
        ("GET", "/api/v1/nowhere", None, 404, "no such resource"),
        ("GET", "/api/v1/devices?limit=0", None, 422, "limit"),
        ("GET", "/api/v1/devices?bbox=1,2,3", None, 422, "bbox"),
        ("GET", "/api/v1/devices?cursor=garbage", None, 422, "cursor"),
        (
            "POST",
            "/api/v1/devices",
            {"device_id": "bad id!", "profile": "load_meter"},
            422,
            "device_id",
        ),
        (
            "POST",
            "/api/v1/devices",
            {"device_id": "lm-q", "profile": "nope"},
            422,
            "unknown profile 'nope'",
        ),
        (
            "POST",
            "/api/v1/devices",
            {"device_id": "lm-q", "profile": "load_meter", "lat": 1},
            422,
            "both lat and lon",
        ),
        (
            "POST",
            "/api/v1/devices",
            {"device_id": "lm-d1", "profile": "load_meter"},
            409,
            "already registered",
        ),
        ("PATCH", "/api/v1/devices/lm-d1", {"profile": None}, 422, "cannot be cleared"),
        ("PATCH", "/api/v1/devices/lm-d1", {"colour": "red"}, 422, "colour"),
        ("PATCH", "/api/v1/devices/no-such", {"name": "x"}, 404, "no device"),
    ],
)
def test_errors_are_problem_details_that_say_what_is_wrong(
    hub: ApiHub, method: str, path: str, body: object, status: int, says: str
) -> None:
    if "lm-d1" in path or (isinstance(body, dict) and body.get("device_id") == "lm-d1"):
        hub.publish([(hub.topic("lm-d1"), telemetry(0))])
        hub.wait_stored("lm-d1", 3)
    with hub.client("operator") as client:
        r = client.request(method, path, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    problem = r.json()
    assert problem["status"] == status
    assert says in problem["detail"]
