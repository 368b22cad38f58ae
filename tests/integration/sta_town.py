"""A small town for the SensorThings tests: a real hub over the shipped device
profiles, fed through MQTT and the real ingest, with places and districts set
through the hub's own API."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from hub.devstack import Devstack
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub

STEP = timedelta(minutes=5)
SAMPLES = 36  # three hours of five-minute readings per device

# device id, profile, district, lat, lon, metric -> value at sample i
TOWN = (
    ("aq-sentrum", "air_quality", "Sentrum", 63.4305, 10.3951),
    ("aq-lade", "air_quality", "Lade", 63.4460, 10.4420),
    ("wm-0001", "water_meter", "Sentrum", 63.4290, 10.3930),
    ("sl-0001", "street_light", "Lade", 63.4450, 10.4400),
    ("sl-0002", "street_light", "Sentrum", None, None),
)


def start_time() -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=now.minute % 5) - SAMPLES * STEP


def payload(device: str, profile: str, i: int, at: datetime) -> dict[str, object]:
    ts = int(at.timestamp() * 1000)
    if profile == "air_quality":
        offset = 10.0 if device == "aq-lade" else 0.0
        return {"ts": ts, "no2": 20.0 + offset + i, "pm10": 5.0 + i / 2, "temperature": -3.5}
    if profile == "water_meter":
        return {"ts": ts, "volume": 100.0 + i * 0.125, "flow": 30.0 + i % 4}
    return {"ts": ts, "power": 0.0 if i % 12 == 0 else 40.0 + i % 3, "lamp_on": i % 12 != 0}


def metric_count(profile: str) -> int:
    return {"air_quality": 3, "water_meter": 2, "street_light": 2}[profile]


def start_town(stack: Devstack, storage: str, **env: str) -> tuple[ApiHub, datetime]:
    hub = start_hub(
        stack,
        Path(tempfile.mkdtemp(prefix="hub-sta-")),
        storage=storage,
        profiles_dir=SHIPPED_PROFILES,
        HUB_OPEN_DATA="false",
        **env,
    )
    start = start_time()
    hub.publish(
        (hub.topic(device, profile), orjson.dumps(payload(device, profile, i, start + i * STEP)))
        for device, profile, *_ in TOWN
        for i in range(SAMPLES)
    )
    for device, profile, *_ in TOWN:
        hub.wait_stored(device, SAMPLES * metric_count(profile))
    with hub.client("operator") as client:
        for device, _, district, lat, lon in TOWN:
            body: dict[str, object] = {"district": district, "name": f"Device {device}"}
            if lat is not None:
                body |= {"lat": lat, "lon": lon}
            response = client.patch(f"/api/v1/devices/{device}", json=body)
            assert response.status_code == 200, response.text
    return hub, start
