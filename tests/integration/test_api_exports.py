"""Exports against a real hub: CSV of readings and GeoJSON of devices, and a year
of readings streamed without the hub holding it in memory."""

from __future__ import annotations

import csv
import io
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from hub.devstack import Devstack
from hub.store.db import connect
from tests.integration.api_helpers import ApiHub, start_hub
from tests.integration.helpers import BASE_TS_MS, telemetry

START = datetime.fromtimestamp(BASE_TS_MS / 1000, UTC)


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    api = start_hub(stack, Path(tempfile.mkdtemp(prefix="hub-api-exports-")))
    with api.client("operator") as client:
        r = client.post(
            "/api/v1/devices",
            json={
                "device_id": "lm-e1",
                "profile": "load_meter",
                "district": "Lade",
                "lat": 63.44,
                "lon": 10.44,
            },
        )
        assert r.status_code == 201, r.text
    api.publish([(api.topic("lm-e1"), telemetry(i)) for i in range(100)])
    api.publish([(api.topic("lm-e2"), telemetry(i)) for i in range(10)])
    api.wait_stored("lm-e1", 300)
    api.wait_stored("lm-e2", 30)
    yield api
    api.stop()


def test_csv_export_holds_every_reading_series_by_series(hub: ApiHub) -> None:
    with hub.client("viewer") as client:
        r = client.get(
            "/api/v1/exports/readings.csv",
            params={
                "device": "lm-e1",
                "from": "2026-01-01T00:00:00Z",
                "to": "2026-01-02T00:00:00Z",
            },
        )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 300
    expected = [
        (metric, (START + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"), value)
        for metric, values in (
            ("a", [i / 10 for i in range(100)]),
            ("b", [float(-i) for i in range(100)]),
            ("seq", [float(i) for i in range(100)]),
        )
        for i, value in enumerate(values)
    ]
    assert [(row["metric"], row["time"], float(row["value"])) for row in rows] == expected
    assert {row["device_id"] for row in rows} == {"lm-e1"}
    assert {row["unit"] for row in rows if row["metric"] == "a"} == {"Cel"}


def test_csv_export_of_an_unknown_device_or_too_long_range_is_refused(hub: ApiHub) -> None:
    with hub.client("viewer") as client:
        unknown = client.get("/api/v1/exports/readings.csv", params={"device": ["lm-e1", "ghost"]})
        too_long = client.get(
            "/api/v1/exports/readings.csv",
            params={"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        )
    assert unknown.status_code == 404 and "'ghost'" in unknown.json()["detail"]
    assert too_long.status_code == 422 and "limit of 400 days" in too_long.json()["detail"]


def test_geojson_export_has_a_feature_per_device_with_latest_values(hub: ApiHub) -> None:
    with hub.client("viewer") as client:
        r = client.get("/api/v1/exports/devices.geojson", params={"q": "lm-e"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    collection = r.json()
    assert collection["type"] == "FeatureCollection"
    features = {f["id"]: f for f in collection["features"]}
    assert set(features) == {"lm-e1", "lm-e2"}
    e1 = features["lm-e1"]
    assert e1["geometry"] == {"type": "Point", "coordinates": [10.44, 63.44]}
    assert e1["properties"]["district"] == "Lade"
    assert e1["properties"]["latest"]["seq"]["value"] == 99
    assert e1["properties"]["latest"]["a"]["unit"] == "Cel"
    assert features["lm-e2"]["geometry"] is None
    assert features["lm-e2"]["properties"]["latest"]["b"]["value"] == -9


def test_a_year_of_readings_is_streamed_not_held_in_memory(hub: ApiHub) -> None:
    # A year at one reading a minute (525,600 rows, about 25 MB of CSV). Written with
    # SQL rather than MQTT so the test stays fast: this checks the export, not the ingest.
    with connect(hub.settings.database_url, "test", autocommit=True) as conn:
        conn.execute("INSERT INTO devices (device_id, profile) VALUES ('lm-year', 'load_meter')")
        conn.execute(
            """INSERT INTO series (device, metric)
               SELECT id, 'a' FROM devices WHERE device_id = 'lm-year'"""
        )
        conn.execute(
            """INSERT INTO readings (series_id, time, value)
               SELECT s.id, t, extract(epoch FROM t) / 60
               FROM series s JOIN devices d ON d.id = s.device,
                    generate_series('2025-01-01'::timestamptz, '2025-12-31 23:59'::timestamptz,
                                    interval '1 minute') t
               WHERE d.device_id = 'lm-year'"""
        )
    baseline = hub.process.rss_mb()
    peak = baseline
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, hub.process.rss_mb())

    watcher = threading.Thread(target=watch)
    watcher.start()
    lines = 0
    last = b""
    try:
        with (
            hub.client("viewer") as client,
            client.stream(
                "GET",
                "/api/v1/exports/readings.csv",
                params={
                    "device": "lm-year",
                    "from": "2025-01-01T00:00:00Z",
                    "to": "2026-01-01T00:00:00Z",
                },
                timeout=120,
            ) as r,
        ):
            assert r.status_code == 200
            for chunk in r.iter_bytes():
                lines += chunk.count(b"\n")
                last = (last + chunk)[-200:]
    finally:
        done.set()
        watcher.join()
    assert lines == 1 + 365 * 24 * 60
    final = datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
    assert last.endswith(
        f"2025-12-31T23:59:00Z,lm-year,a,{final.timestamp() / 60!r},Cel\n".encode()
    )
    assert peak - baseline < 40, f"hub memory grew {peak - baseline:.0f} MB during the export"


def test_geojson_body_is_valid_json_even_when_no_device_matches(hub: ApiHub) -> None:
    with hub.client("viewer") as client:
        r = client.get("/api/v1/exports/devices.geojson", params={"q": "no-such-device"})
    assert orjson.loads(r.content) == {"type": "FeatureCollection", "features": []}
