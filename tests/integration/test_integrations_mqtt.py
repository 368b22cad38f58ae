"""Extra MQTT sources (HUB_SOURCES) against a real hub, PostgreSQL and Mosquitto:
ChirpStack v4 events (chirpstack-api protobufs, JSON marshaler) and The Things
Stack v3 uplinks on their own sessions; a source that cannot connect stops none."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from hub.commands.apikeys import create as create_key
from hub.devstack import Devstack, free_port
from hub.store.db import connect
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub
from tests.integration.helpers import wait_for
from tests.lorawan_messages import chirpstack_status, chirpstack_uplink, tts_uplink

APP = f"app{os.getpid()}"
NOW = datetime.now(UTC).replace(microsecond=500000) - timedelta(minutes=20)


def _sources(stack: Devstack) -> str:
    closed = free_port()  # nothing listens here: this source never connects
    return f"""
mqtt:
  - name: chirpstack
    url: {stack.mosquitto.url}
    format: chirpstack_v4
    topics: ["application/{APP}/device/+/event/up", "application/{APP}/device/+/event/status"]
  - name: broken
    url: mqtt://127.0.0.1:{closed}
    format: chirpstack_v4
    topics: ["application/+/device/+/event/up"]
  - name: ttn
    url: {stack.mosquitto.url}
    format: tts_v3
    topics: ["v3/{APP}@ttn/devices/+/up"]
profiles:
  tts_applications: {{{APP}: street_light}}
  chirpstack_tag: hub_profile
"""


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    logs = Path(tempfile.mkdtemp(prefix="hub-mqtt-sources-"))
    api = start_hub(stack, logs, profiles_dir=SHIPPED_PROFILES, HUB_SOURCES=_sources(stack))
    api.keys["ingest"] = create_key(api.settings, role="ingest", name="cs", out=io.StringIO())
    wait_for(
        lambda: (
            'hub_source_up{source="chirpstack"} 1.0' in _metrics(api)
            and 'hub_source_up{source="ttn"} 1.0' in _metrics(api)
        ),
        30,
        "both working sources connected",
    )
    yield api
    api.stop()


def _metrics(hub: ApiHub) -> str:
    return httpx.get(f"{hub.url}/metrics", timeout=10).text


def _series(hub: ApiHub, device_id: str) -> dict[str, list[tuple[datetime, float]]]:
    with connect(hub.settings.database_url, "test") as conn:
        rows = conn.execute(
            """SELECT s.metric, r.time, r.value FROM readings r JOIN series s ON s.id = r.series_id
               JOIN devices d ON d.id = s.device WHERE d.device_id = %s ORDER BY s.metric, r.time""",
            (device_id,),
        ).fetchall()
    found: dict[str, list[tuple[datetime, float]]] = {}
    for metric, time, value in rows:
        found.setdefault(metric, []).append((time, value))
    return found


def test_chirpstack_events_over_mqtt_are_stored_and_a_broken_source_stops_nothing(
    hub: ApiHub,
) -> None:
    eui = "A84041000181C061"
    aq = {"pm10_mass_concentration": {"value": 33.3}, "air_humidity": {"value": 77.0}}
    topic = f"application/{APP}/device/{eui.lower()}/event/"
    messages = [
        (
            topic + "up",
            orjson.dumps(
                chirpstack_uplink(
                    dev_eui=eui, time=NOW + timedelta(minutes=n), f_cnt=n, decoded=aq,
                    device_name="aq-mqtt-1", tags={"hub_profile": "air_quality"},
                    gateways=((-110, -7.25), (-104, -1.5)), spreading_factor=10,
                )
            ),
        )
        for n in (1, 2, 5)
    ]  # fmt: skip
    hub.publish(messages)
    wait_for(lambda: len(_series(hub, "aq-mqtt-1").get("pm10", ())) == 3, 30, "the uplinks stored")
    status = chirpstack_status(
        dev_eui=eui, time=NOW + timedelta(minutes=6), margin=4, battery_level=55
    )
    hub.publish([(topic + "status", orjson.dumps(status))])
    wait_for(lambda: "lora_margin" in _series(hub, "aq-mqtt-1"), 30, "the status event stored")
    series = _series(hub, "aq-mqtt-1")
    assert series["pm10"] == [(NOW + timedelta(minutes=n), 33.3) for n in (1, 2, 5)]
    assert series["humidity"][0] == (NOW + timedelta(minutes=1), 77.0)
    assert series["lora_snr"][0] == (NOW + timedelta(minutes=1), -1.5)
    assert series["lora_gateways"][0][1] == 2.0
    assert series["lora_sf"][0][1] == 10.0
    assert [v for _, v in series["lora_missed_frames"]] == [0.0, 0.0, 2.0]  # 3 and 4 lost
    assert series["battery"] == [(NOW + timedelta(minutes=6), 55.0)]
    metrics = _metrics(hub)
    assert 'hub_source_up{source="broken"} 0.0' in metrics
    assert 'hub_source_messages_total{source="chirpstack"} 4.0' in metrics
    # The same uplink once more over HTTP (a second path): nothing new.
    again = chirpstack_uplink(
        dev_eui=eui,
        time=NOW + timedelta(minutes=2),
        f_cnt=2,
        decoded=aq,
        tags={"hub_profile": "air_quality"},
    )
    r = httpx.post(
        f"{hub.url}/api/v1/integrations/chirpstack?event=up",
        content=orjson.dumps(again),
        headers={"X-API-Key": hub.keys["ingest"]},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert _series(hub, "aq-mqtt-1") == series


def test_tts_uplinks_over_mqtt_register_the_device_by_its_application(hub: ApiHub) -> None:
    light = {"switch_1": "off", "active_power": 0, "power_consumption": 51234, "voltage": 229.5}
    uplink = tts_uplink(
        device_id="sl-mqtt-1", dev_eui="A84041000181C062", application_id=APP,
        received_at=NOW, f_cnt=40, decoded=light, gateways=((-71.0, 8.0),),
    )  # fmt: skip
    hub.publish([(f"v3/{APP}@ttn/devices/sl-mqtt-1/up", orjson.dumps(uplink))])
    wait_for(lambda: "energy" in _series(hub, "sl-mqtt-1"), 30, "the TTS uplink stored")
    series = _series(hub, "sl-mqtt-1")
    assert series["lamp_on"] == [(NOW, 0.0)]
    assert series["energy"] == [(NOW, 51.234)]
    assert series["voltage"] == [(NOW, 229.5)]
    assert series["lora_rssi"] == [(NOW, -71.0)]
    with hub.client("viewer") as client:
        device = client.get("/api/v1/devices/sl-mqtt-1").json()
    assert (device["profile"], device["external_id"], device["dev_eui"]) == (
        "street_light",
        "sl-mqtt-1",
        "A84041000181C062",
    )
