"""The Things Stack v3 uplinks and ChirpStack v4 events through the decode step:
device matching, the profile's decoded: mapping, link quality, refusals."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from hub.model import DeadLetter, Item
from hub.payloads import DecodeContext, DeviceDirectory, KnownDevice, Origin, decode
from hub.payloads.context import ProfileRules
from hub.profiles import load_profiles
from tests.lorawan_messages import chirpstack_status, chirpstack_uplink, tts_uplink
from tests.repo import REPO

PROFILES = load_profiles(REPO / "device_profiles")
NOW = datetime(2026, 1, 10, 6, 45, 0, 123000, tzinfo=UTC)
EUI = "70B3D57ED005B89A"
WATER = {"current_volume_m3": 6.054, "timestamp_utc": "2026-01-10T06:44:00.000Z", "leakage": False}
CONTEXT = DecodeContext(
    profiles=PROFILES,
    topic_prefix="city",
    max_payload_bytes=65536,
    max_future=timedelta(seconds=300),
    max_past=timedelta(days=400),
    devices=DeviceDirectory(
        by_dev_eui={EUI: KnownDevice("wm-0042", "water_meter")},
        by_external_id={"aq-sentrum": KnownDevice("aq-0007", "air_quality")},
    ),
    rules=ProfileRules(
        tts_applications={"town-lights": "street_light"},
        chirpstack_device_profiles={"Decentlab DL-PM": "air_quality"},
        chirpstack_tag="hub_profile",
    ),
)
TTS_TOPIC = "v3/town-water@ttn/devices/wm-storgata-12/up"
CS_TOPIC = f"application/17c82e96/device/{EUI.lower()}/event/up"


def _tts(payload: dict[str, Any], context: DecodeContext = CONTEXT) -> Item | DeadLetter:
    return decode(orjson.dumps(payload), Origin(TTS_TOPIC, NOW, "tts_v3", "mqtt:tts"), context)


def _cs(
    payload: dict[str, Any], topic: str = CS_TOPIC, context: DecodeContext = CONTEXT
) -> Item | DeadLetter:
    return decode(orjson.dumps(payload), Origin(topic, NOW, "chirpstack_v4", "mqtt:cs"), context)


def _values(item: Item | DeadLetter) -> dict[str, float]:
    assert type(item) is Item, item
    return {r.metric: r.value for r in item.readings}


def test_tts_uplink_matched_by_dev_eui_stores_mapped_values_and_link_quality() -> None:
    uplink = tts_uplink(
        device_id="wm-storgata-12", dev_eui=EUI, application_id="town-water", received_at=NOW,
        f_cnt=1834, decoded=WATER, gateways=((-101.0, -3.5), (-88.0, 4.25), (-95.0, 1.0)),
        spreading_factor=9,
    )  # fmt: skip
    item = _tts(uplink)
    assert type(item) is Item
    assert (item.device_id, item.profile, item.format) == ("wm-0042", "water_meter", "tts_v3")
    assert _values(item) == {
        "volume": 6.054,
        "lora_rssi": -88.0,  # the gateway with the best SNR
        "lora_snr": 4.25,
        "lora_gateways": 3.0,
        "lora_sf": 9.0,
        "lora_fcnt": 1834.0,
    }
    times = {r.metric: r.time for r in item.readings}
    assert times["volume"] == datetime(2026, 1, 10, 6, 44, tzinfo=UTC)  # the meter's own time
    assert times["lora_snr"] == NOW  # the network server's received_at
    assert item.lorawan is not None
    assert not item.lorawan.register
    assert item.lorawan.f_cnt == 1834
    assert item.lorawan.unmapped == ("leakage",)


def test_chirpstack_uplink_is_the_same_reading_as_the_tts_one() -> None:
    tts = _tts(
        tts_uplink(
            device_id="x", dev_eui=EUI, application_id="a", received_at=NOW, f_cnt=7, decoded=WATER
        )
    )
    cs = _cs(chirpstack_uplink(dev_eui=EUI, time=NOW, f_cnt=7, decoded=WATER))
    assert type(tts) is Item and type(cs) is Item
    assert cs.device_id == tts.device_id == "wm-0042"
    assert [(r.metric, r.time, r.value) for r in cs.readings if r.metric == "volume"] == [
        (r.metric, r.time, r.value) for r in tts.readings if r.metric == "volume"
    ]
    assert _values(cs)["lora_rssi"] == -52.0


def test_unregistered_device_gets_its_profile_from_the_source_rule() -> None:
    light = {"switch_1": "on", "active_power": 41, "power_consumption": 12500, "voltage": 231.4}
    item = _tts(
        tts_uplink(
            device_id="sl-storgata-3",
            dev_eui="A84041000181C8F1",
            application_id="town-lights",
            received_at=NOW,
            f_cnt=3,
            decoded=light,
        )
    )
    assert type(item) is Item
    assert (item.device_id, item.profile) == ("sl-storgata-3", "street_light")
    assert item.lorawan is not None and item.lorawan.register
    values = _values(item)
    assert values["lamp_on"] == 1.0
    assert values["energy"] == 12.5  # Wh -> kWh
    assert values["power"] == 41.0


def test_chirpstack_profile_comes_from_a_tag_before_the_device_profile_name() -> None:
    aq = {
        "pm10_mass_concentration": {
            "displayName": "PM10 mass concentration",
            "value": 18.2,
            "unit": "µg⋅m⁻³",
        }
    }
    tagged = chirpstack_uplink(
        dev_eui="0004A30B001C0530",
        time=NOW,
        f_cnt=1,
        decoded=aq,
        device_name="aq 1",
        device_profile_name="unknown",
        tags={"hub_profile": "air_quality"},
    )
    by_name = chirpstack_uplink(
        dev_eui="0004A30B001C0531",
        time=NOW,
        f_cnt=1,
        decoded=aq,
        device_name="aq-2",
        device_profile_name="Decentlab DL-PM",
    )
    first, second = _cs(tagged), _cs(by_name)
    assert type(first) is Item and type(second) is Item
    assert (first.device_id, first.profile) == (
        "eui-0004a30b001c0530",
        "air_quality",
    )  # name has a space
    assert (second.device_id, second.profile) == ("aq-2", "air_quality")
    assert _values(first)["pm10"] == 18.2
    assert first.lorawan is not None
    assert first.lorawan.unmapped == (
        "pm10_mass_concentration.displayName",
        "pm10_mass_concentration.unit",
    )


def test_tts_device_found_by_external_id_when_its_dev_eui_is_unknown() -> None:
    aq = {"air_temperature": {"value": -4.5, "unit": "°C"}, "air_humidity": {"value": 81.0}}
    item = _tts(
        tts_uplink(
            device_id="aq-sentrum",
            dev_eui="0011223344556677",
            application_id="x",
            received_at=NOW,
            f_cnt=5,
            decoded=aq,
        )
    )
    assert type(item) is Item
    assert (item.device_id, item.profile) == ("aq-0007", "air_quality")
    assert _values(item)["humidity"] == 81.0


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("unknown device, no rule", "unknown_device"),
        ("unknown device, auto-registration off", "unknown_device"),
        ("no decoded payload", "undecoded"),
        ("profile without mapping", "no_mapping"),
        ("implausible mapped value", "implausible_value"),
        ("not an uplink", "decode"),
        ("not JSON", "decode"),
    ],
)
def test_each_refusal_is_a_dead_letter_with_the_message_whole(case: str, reason: str) -> None:
    context = CONTEXT
    uplink = tts_uplink(
        device_id="wm-1",
        dev_eui=EUI,
        application_id="town-water",
        received_at=NOW,
        f_cnt=2,
        decoded=WATER,
    )
    if case == "unknown device, no rule":
        uplink = tts_uplink(
            device_id="zz-1",
            dev_eui="FFFFFFFFFFFFFFF1",
            application_id="nobody",
            received_at=NOW,
            f_cnt=2,
            decoded=WATER,
        )
    elif case == "unknown device, auto-registration off":
        uplink = tts_uplink(
            device_id="sl-9",
            dev_eui="FFFFFFFFFFFFFFF2",
            application_id="town-lights",
            received_at=NOW,
            f_cnt=2,
            decoded={"voltage": 230.0},
        )
        context = dataclasses.replace(CONTEXT, auto_register=False)
    elif case == "no decoded payload":
        uplink = tts_uplink(
            device_id="wm-1",
            dev_eui=EUI,
            application_id="town-water",
            received_at=NOW,
            f_cnt=2,
            decoded=None,
        )
    elif case == "profile without mapping":
        water = PROFILES["water_meter"].model_copy(update={"decoded": None})
        context = dataclasses.replace(CONTEXT, profiles={**PROFILES, "water_meter": water})
    elif case == "implausible mapped value":
        uplink = tts_uplink(
            device_id="wm-1",
            dev_eui=EUI,
            application_id="a",
            received_at=NOW,
            f_cnt=2,
            decoded={"current_volume_m3": -5},
        )
    elif case == "not an uplink":
        uplink = {
            "end_device_ids": uplink["end_device_ids"],
            "join_accept": {"session_key_id": "AXBSH1Pk6Z0G166RlH16CQ=="},
        }
    payload = b"{not json" if case == "not JSON" else orjson.dumps(uplink)
    dead = decode(payload, Origin(TTS_TOPIC, NOW, "tts_v3", "http:ttn"), context)
    assert type(dead) is DeadLetter
    assert dead.reason == reason
    assert dead.payload == payload  # kept whole, so it can be replayed
    assert dead.format == "tts_v3"


def test_chirpstack_status_event_stores_margin_and_battery() -> None:
    status = chirpstack_status(dev_eui=EUI, time=NOW, margin=7, battery_level=87.5)
    item = _cs(status, topic=f"application/x/device/{EUI.lower()}/event/status")
    assert _values(item) == {"lora_margin": 7.0, "battery": 88.0}


def test_chirpstack_join_event_is_not_readings() -> None:
    dead = _cs(
        {"deviceInfo": {"devEui": EUI.lower()}},
        topic=f"application/x/device/{EUI.lower()}/event/join",
    )
    assert type(dead) is DeadLetter and dead.reason == "decode"


def test_words_the_mapping_does_not_know_refuse_the_message() -> None:
    light = {"switch_1": "blinking", "voltage": 230.0}
    dead = _tts(
        tts_uplink(
            device_id="sl-1",
            dev_eui="A84041000181C8F2",
            application_id="town-lights",
            received_at=NOW,
            f_cnt=3,
            decoded=light,
        )
    )
    assert type(dead) is DeadLetter and dead.reason == "wrong_type"
