"""The HTTP ingest against a real hub, PostgreSQL and Mosquitto: The Things Stack
webhook uplinks, ChirpStack HTTP integration events (built with chirpstack-api's
protobufs) and the hub's own forms; each refusal's documented outcome."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from hub.commands.apikeys import create as create_key
from hub.devstack import Devstack
from hub.profiles import load_profiles
from hub.store.db import connect
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub
from tests.integration.helpers import wait_for
from tests.lorawan_messages import chirpstack_status, chirpstack_uplink, tts_uplink

SOURCES = """
profiles:
  tts_applications: {town-lights: street_light}
  chirpstack_device_profiles: {"Decentlab DL-PM": air_quality}
  chirpstack_tag: hub_profile
"""
NOW = datetime.now(UTC).replace(microsecond=250000) - timedelta(minutes=30)
WATER = {"current_volume_m3": 6.054, "leakage": False, "frame_version": 1}
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    logs = Path(tempfile.mkdtemp(prefix="hub-http-ingest-"))
    api = start_hub(
        stack, logs, profiles_dir=SHIPPED_PROFILES, HUB_SOURCES=SOURCES, HUB_ALERTS_INTERVAL_S="1"
    )
    api.keys["ingest"] = create_key(api.settings, role="ingest", name="webhooks", out=io.StringIO())
    with api.client("operator") as client:
        r = client.post(
            "/api/v1/devices",
            json={"device_id": "wm-h1", "profile": "water_meter", "dev_eui": "70b3d57ed005b89a"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["dev_eui"] == "70B3D57ED005B89A"
    yield api
    api.stop()


def _post(
    hub: ApiHub, path: str, body: Any, role: str | None = "ingest", **kw: Any
) -> httpx.Response:
    headers = {"X-API-Key": hub.keys[role]} if role else {}
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    with httpx.Client(base_url=hub.url, timeout=30) as client:
        return client.post(path, content=content, headers=headers, **kw)


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


def _dead(hub: ApiHub, reason: str) -> list[tuple[bytes, str, str | None, str]]:
    with connect(hub.settings.database_url, "test") as conn:
        rows = conn.execute(
            "SELECT payload, format, device_id, topic FROM dead_letters WHERE reason = %s ORDER BY id",
            (reason,),
        ).fetchall()
    return [(bytes(p), f, d, t) for p, f, d, t in rows]


def test_tts_webhook_uplink_is_stored_with_its_device_time_values_and_link(hub: ApiHub) -> None:
    uplink = tts_uplink(
        device_id="wm-storgata-12", dev_eui="70B3D57ED005B89A", application_id="town-water",
        received_at=NOW, f_cnt=100, decoded=WATER, gateways=((-97.0, -2.0), (-80.5, 6.5)),
        spreading_factor=8,
    )  # fmt: skip
    r = _post(hub, "/api/v1/integrations/ttn", uplink)
    assert r.status_code == 200, r.text
    assert r.json()["device_id"] == "wm-h1"
    series = _series(hub, "wm-h1")
    assert series["volume"] == [(NOW, 6.054)]
    assert series["lora_rssi"] == [(NOW, -80.5)]
    assert series["lora_snr"] == [(NOW, 6.5)]
    assert series["lora_gateways"] == [(NOW, 2.0)]
    assert series["lora_sf"] == [(NOW, 8.0)]
    assert series["lora_missed_frames"] == [(NOW, 0.0)]
    with hub.client("viewer") as client:
        detail = client.get("/api/v1/devices/wm-h1").json()
    units = {m["name"]: m["unit"] for m in detail["metrics"]}
    assert units["volume"] == "m3" and units["lora_rssi"] == "dBm"
    unmapped = {u["field"]: u["count"] for u in detail["unmapped_fields"]}
    assert unmapped == {"frame_version": 1, "leakage": 1}


def test_the_same_uplink_again_or_through_chirpstack_adds_nothing(hub: ApiHub) -> None:
    at = NOW + timedelta(minutes=1)
    uplink = tts_uplink(
        device_id="wm-storgata-12",
        dev_eui="70B3D57ED005B89A",
        application_id="town-water",
        received_at=at,
        f_cnt=101,
        decoded=WATER,
    )
    assert _post(hub, "/api/v1/integrations/ttn", uplink).status_code == 200
    before = _series(hub, "wm-h1")
    assert _post(hub, "/api/v1/integrations/ttn", uplink).status_code == 200  # a retry
    event = chirpstack_uplink(dev_eui="70B3D57ED005B89A", time=at, f_cnt=101, decoded=WATER)
    r = _post(hub, "/api/v1/integrations/chirpstack?event=up", event)
    assert r.status_code == 200, r.text
    assert _series(hub, "wm-h1") == before


def test_frame_counter_gap_is_counted_as_missed_frames(hub: ApiHub) -> None:
    at = NOW + timedelta(minutes=2)
    uplink = tts_uplink(
        device_id="wm-storgata-12",
        dev_eui="70B3D57ED005B89A",
        application_id="town-water",
        received_at=at,
        f_cnt=105,
        decoded=WATER,
    )
    assert _post(hub, "/api/v1/integrations/ttn", uplink).status_code == 200
    missed = dict(_series(hub, "wm-h1")["lora_missed_frames"])
    assert missed[at] == 3.0  # 102, 103 and 104 never arrived


def test_the_meters_own_time_is_used_when_the_mapping_names_it(hub: ApiHub) -> None:
    at = NOW + timedelta(minutes=3)
    own = NOW + timedelta(minutes=2, seconds=30)  # the meter logged it before sending
    decoded = {"current_volume_m3": 6.101, "timestamp_utc": own.isoformat().replace("+00:00", "Z")}
    uplink = tts_uplink(
        device_id="wm-storgata-12",
        dev_eui="70B3D57ED005B89A",
        application_id="town-water",
        received_at=at,
        f_cnt=106,
        decoded=decoded,
    )
    assert _post(hub, "/api/v1/integrations/ttn", uplink).status_code == 200
    series = _series(hub, "wm-h1")
    assert (own, 6.101) in series["volume"]
    assert (at, 106.0) in series["lora_fcnt"]  # link readings: the network server's time


def test_chirpstack_uplink_of_a_new_device_registers_it_by_its_device_profile(hub: ApiHub) -> None:
    aq = {
        "pm10_mass_concentration": {
            "displayName": "PM10 mass concentration",
            "value": 21.4,
            "unit": "µg⋅m⁻³",
        },
        "pm2_5_mass_concentration": {
            "displayName": "PM2.5 mass concentration",
            "value": 9.9,
            "unit": "µg⋅m⁻³",
        },
        "air_temperature": {"displayName": "Air temperature", "value": -3.25, "unit": "°C"},
    }
    event = chirpstack_uplink(
        dev_eui="0004A30B001C0530",
        time=NOW,
        f_cnt=12,
        decoded=aq,
        device_name="aq-torget",
        device_profile_name="Decentlab DL-PM",
    )
    r = _post(hub, "/api/v1/integrations/chirpstack?event=up", event)
    assert r.status_code == 200, r.text
    series = _series(hub, "aq-torget")
    assert series["pm10"] == [(NOW, 21.4)] and series["pm25"] == [(NOW, 9.9)]
    assert series["temperature"] == [(NOW, -3.25)]
    assert series["lora_rssi"] == [(NOW, -52.0)]
    with hub.client("viewer") as client:
        device = client.get("/api/v1/devices/aq-torget").json()
    assert (device["profile"], device["dev_eui"], device["name"]) == (
        "air_quality",
        "0004A30B001C0530",
        "aq-torget",
    )
    status = chirpstack_status(
        dev_eui="0004A30B001C0530", time=NOW + timedelta(minutes=5), margin=9, battery_level=71.0
    )
    assert _post(hub, "/api/v1/integrations/chirpstack?event=status", status).status_code == 200
    series = _series(hub, "aq-torget")
    assert series["battery"] == [(NOW + timedelta(minutes=5), 71.0)]
    assert series["lora_margin"] == [(NOW + timedelta(minutes=5), 9.0)]


def test_hub_json_over_http_is_stored_like_mqtt(hub: ApiHub) -> None:
    body = {"ts": NOW.isoformat(), "volume": 12.5, "flow": 40.0, "battery": 90}
    r = _post(hub, "/api/v1/ingest/water_meter/wm-http-1", body)
    assert r.status_code == 200, r.text
    assert _series(hub, "wm-http-1")["flow"] == [(NOW, 40.0)]


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("unknown device", 422, "unknown_device"),
        ("no decoded payload", 422, "undecoded"),
        ("implausible value", 422, "implausible_value"),
        ("unknown metric over http", 422, "unknown_metric"),
    ],
)
def test_refused_message_is_a_problem_and_a_dead_letter_kept_whole(
    hub: ApiHub, case: str, status: int, reason: str
) -> None:
    path = "/api/v1/integrations/ttn"
    if case == "unknown device":
        body: Any = tts_uplink(
            device_id="nobody-1",
            dev_eui="FFFFFFFFFFFF0001",
            application_id="not-configured",
            received_at=NOW,
            f_cnt=1,
            decoded=WATER,
        )
    elif case == "no decoded payload":
        body = tts_uplink(
            device_id="wm-storgata-12",
            dev_eui="70B3D57ED005B89A",
            application_id="town-water",
            received_at=NOW + timedelta(minutes=9),
            f_cnt=109,
            decoded=None,
        )
    elif case == "implausible value":
        body = tts_uplink(
            device_id="wm-storgata-12",
            dev_eui="70B3D57ED005B89A",
            application_id="town-water",
            received_at=NOW,
            f_cnt=110,
            decoded={"current_volume_m3": -1.0},
        )
    else:
        path, body = (
            "/api/v1/ingest/water_meter/wm-http-2",
            {"ts": NOW.isoformat(), "pressure": 3.0},
        )
    payload = orjson.dumps(body)
    before = len(_dead(hub, reason))
    r = _post(hub, path, payload)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["reason"] == reason
    dead = _dead(hub, reason)
    assert len(dead) == before + 1
    assert dead[-1][0] == payload  # the whole message, for replay


def test_wrong_or_missing_key_and_oversize_body_are_refused_before_anything_is_kept(
    hub: ApiHub,
) -> None:
    uplink = tts_uplink(
        device_id="wm-storgata-12",
        dev_eui="70B3D57ED005B89A",
        application_id="town-water",
        received_at=NOW,
        f_cnt=1,
        decoded=WATER,
    )
    assert _post(hub, "/api/v1/integrations/ttn", uplink, role=None).status_code == 401
    with httpx.Client(base_url=hub.url, timeout=30) as client:
        wrong = client.post(
            "/api/v1/integrations/ttn",
            content=orjson.dumps(uplink),
            headers={"Authorization": "Bearer hub_not-a-key"},
        )
    assert wrong.status_code == 401
    assert _post(hub, "/api/v1/integrations/ttn", uplink, role="viewer").status_code == 403
    big = orjson.dumps({**uplink, "padding": "x" * (hub.settings.max_payload_bytes + 10)})
    r = _post(hub, "/api/v1/integrations/ttn", big)
    assert r.status_code == 413
    assert r.json()["reason"] == "oversize"
    with hub.client("ingest") as client:
        assert client.get("/api/v1/devices").status_code == 403  # an ingest key cannot read


def test_other_tts_messages_and_chirpstack_events_are_accepted_and_not_stored(hub: ApiHub) -> None:
    join = {
        "end_device_ids": {"device_id": "wm-storgata-12", "dev_eui": "70B3D57ED005B89A"},
        "join_accept": {"session_key_id": "AXBSH1Pk6Z0G166RlH16CQ=="},
    }
    r = _post(hub, "/api/v1/integrations/ttn", join)
    assert r.status_code == 200 and r.json() == {
        "status": "accepted",
        "stored": False,
        "message": "join_accept",
    }
    r = _post(
        hub,
        "/api/v1/integrations/chirpstack?event=join",
        {"deviceInfo": {"devEui": "0004a30b001c0530"}},
    )
    assert r.status_code == 200 and r.json()["stored"] is False
    with httpx.Client(base_url=hub.url, timeout=10) as client:
        metrics = client.get("/metrics").text
    assert (
        'hub_ingest_http_messages_total{outcome="ignored:join_accept",source="http:ttn"} 1.0'
        in metrics
    )


def test_the_simulated_chirpstack_fleet_through_the_webhook_is_stored(hub: ApiHub) -> None:
    from simulators.fleet import build_fleet
    from simulators.lorawan import uplinks
    from simulators.lorawan_send import post

    profiles = load_profiles(SHIPPED_PROFILES)
    fleet = build_fleet(profiles, 6, seed=11)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    sent = list(
        uplinks(
            fleet,
            profiles,
            end - timedelta(hours=2),
            end,
            network="chirpstack",
            seed=11,
            undecoded=0.1,
        )
    )
    statuses = post(sent, hub.url, hub.keys["ingest"], network="chirpstack")
    decoded = [u for u in sent if u.decoded]
    assert statuses == {200: len(decoded), 422: len(sent) - len(decoded)}
    for device in fleet:
        mine = [u for u in decoded if u.device_id == device.device_id]
        assert len(_series(hub, device.device_id).get("lora_fcnt", [])) == len(mine)


def test_a_weak_radio_link_opens_the_link_degraded_alert(hub: ApiHub) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    light = {"switch_1": "on", "active_power": 38, "voltage": 231.0}
    for n in range(4):
        uplink = tts_uplink(
            device_id="sl-weak", dev_eui="A84041000181C0F1", application_id="town-lights",
            received_at=now - timedelta(minutes=40 - 10 * n), f_cnt=n + 1, decoded=light,
            gateways=((-121.0, -15.5),), spreading_factor=12,
        )  # fmt: skip
        assert _post(hub, "/api/v1/integrations/ttn", uplink).status_code == 200

    def opened() -> list[dict[str, Any]]:
        with hub.client("viewer") as client:
            alerts = client.get("/api/v1/alerts", params={"device_id": "sl-weak"}).json()["items"]
        return [a for a in alerts if a["rule_name"] == "link_degraded"]

    wait_for(lambda: bool(opened()), 30, "the link_degraded alert")
    assert opened()[0]["state"] == "open"
