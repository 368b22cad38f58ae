"""A small town for the NGSI-LD tests: two air-quality monitors, a street light and
a water meter, registered with coordinates through /api/v1 and fed through MQTT
with the payload forms of their profiles (docs/payloads.md)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from hub.devstack import Devstack
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub

START = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(minutes=15)
STEPS = 96  # one day
DEVICES = {
    "aq-1": ("air_quality", 10.7522, 59.9139, "Sentrum"),
    "aq-2": ("air_quality", 10.8000, 59.9500, "Grorud"),
    "sl-1": ("street_light", 10.7530, 59.9140, "Sentrum"),
    "wm-1": ("water_meter", 10.7000, 59.9000, "Frogner"),
}


def aq_values(device: str, i: int) -> dict[str, float]:
    base = 10.0 if device == "aq-1" else 40.0
    return {
        "pm10": base + (i % 12),
        "pm25": base / 2 + (i % 6) * 0.5,
        "no2": 20.0 + (i % 24) * 2,
        "o3": 30.0 + (i % 8),
        "temperature": -2.0 + (i % 10) * 0.5,
        "humidity": 60.0 + (i % 20),
        "battery": 80 - i // 10,
    }


def sl_values(i: int) -> dict[str, float | bool]:
    on = (i // 24) % 2 == 0
    return {
        "lamp_on": on,
        "dim_level": 80 if on else 0,
        "power": 42.5 if on else 0.4,
        "energy": 1000.0 + i * 0.01,
        "voltage": 230.0 + (i % 5),
    }


def wm_values(i: int) -> dict[str, float]:
    return {"volume": 1234.5 + i * 0.125, "flow": 30.0 + (i % 4), "temperature": 7.5, "battery": 93}


def time_of(i: int) -> datetime:
    return START + i * STEP


def register_and_feed(hub: ApiHub) -> None:
    with hub.client("operator") as client:
        for device_id, (profile, lon, lat, district) in DEVICES.items():
            r = client.post(
                "/api/v1/devices",
                json={
                    "device_id": device_id,
                    "profile": profile,
                    "name": f"{device_id} test",
                    "district": district,
                    "lat": lat,
                    "lon": lon,
                },
            )
            assert r.status_code == 201, r.text
    messages: list[tuple[str, bytes]] = []
    for i in range(STEPS):
        ms = int(time_of(i).timestamp() * 1000)
        for device in ("aq-1", "aq-2"):
            payload = {"ts": ms, "metrics": aq_values(device, i)}
            messages.append((hub.topic(device, "air_quality"), orjson.dumps(payload)))
        messages.append(
            (hub.topic("sl-1", "street_light"), orjson.dumps({"ts": ms, **sl_values(i)}))
        )
        messages.append(
            (hub.topic("wm-1", "water_meter"), orjson.dumps({"ts": ms, **wm_values(i)}))
        )
    hub.publish(messages)
    hub.wait_stored("aq-1", STEPS * 7)
    hub.wait_stored("aq-2", STEPS * 7)
    hub.wait_stored("sl-1", STEPS * 5)
    hub.wait_stored("wm-1", STEPS * 4)


@contextlib.contextmanager
def fed_town(stack: Devstack, storage: str, prefix: str) -> Iterator[ApiHub]:
    """A hub at ``storage`` with the shipped profiles and the town registered and fed."""
    if storage == "timescale" and not stack.postgres.timescaledb:
        pytest.skip("TimescaleDB not installed: timescale storage path not exercised")
    api = start_hub(
        stack, Path(tempfile.mkdtemp(prefix=prefix)), storage=storage, profiles_dir=SHIPPED_PROFILES
    )
    try:
        register_and_feed(api)
        yield api
    finally:
        api.stop()
