"""The simulated fleet as a LoRaWAN network server sends it: real message shapes
(ChirpStack's checked against its own protobufs), values the hub decodes back to
the same readings, frame-counter gaps and uplinks without a decoded payload."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

import orjson
from chirpstack_api import integration
from google.protobuf import json_format

from hub.model import Item
from hub.payloads import DecodeContext, Origin, decode
from hub.payloads.context import ProfileRules
from hub.payloads.formats.lorawan import flatten
from hub.profiles import load_profiles
from simulators.fleet import build_fleet
from simulators.lorawan import tts_application, uplinks
from simulators.stream import fleet_messages
from tests.repo import REPO

PROFILES = load_profiles(REPO / "device_profiles")
START = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
END = START + timedelta(hours=3)
FLEET = build_fleet(PROFILES, 9, seed=3)
CONTEXT = DecodeContext(
    profiles=PROFILES,
    topic_prefix="city",
    max_payload_bytes=65536,
    max_future=timedelta(seconds=300),
    max_past=timedelta(days=4000),
    rules=ProfileRules(
        tts_applications={tts_application("town", p): p for p in PROFILES},
        chirpstack_tag="hub_profile",
    ),
)


def test_chirpstack_uplinks_are_uplink_events_of_chirpstacks_own_protobufs() -> None:
    sent = list(uplinks(FLEET, PROFILES, START, END, network="chirpstack", seed=3))
    assert len(sent) > 20
    for uplink in sent:
        event = json_format.Parse(uplink.payload, integration.UplinkEvent())  # unknown fields fail
        assert event.device_info.dev_eui == uplink.dev_eui.lower()
        assert event.f_cnt == uplink.f_cnt
        assert event.rx_info and event.tx_info.modulation.lora.spreading_factor in (7, 9, 12)
        assert uplink.topic.endswith(f"/device/{uplink.dev_eui.lower()}/event/up")


def test_the_hub_decodes_the_simulated_uplinks_to_the_fleets_readings() -> None:
    flat = [dataclasses.replace(d, payload_format="flat", ts_style="rfc3339") for d in FLEET]
    expected: dict[tuple[str, datetime], dict[str, float]] = {}
    for message in fleet_messages(flat, PROFILES, START, END, seed=3, status=False):
        doc = orjson.loads(message.payload)
        expected[message.device_id, message.sent_at] = {k: v for k, v in doc.items() if k != "ts"}
    for network, fmt in (("chirpstack", "chirpstack_v4"), ("tts", "tts_v3")):
        checked = 0
        for uplink in uplinks(FLEET, PROFILES, START, END, network=network, seed=3, undecoded=0):  # type: ignore[arg-type]
            item = decode(uplink.payload, Origin(uplink.topic, uplink.sent_at, fmt), CONTEXT)
            assert type(item) is Item, item
            assert item.device_id == uplink.device_id
            values = {r.metric: r.value for r in item.readings}
            assert values["lora_fcnt"] == uplink.f_cnt
            assert 1 <= values["lora_gateways"] <= 3
            truth = expected[uplink.device_id, uplink.sent_at]
            mapped = {m: v for m, v in values.items() if not m.startswith("lora_")}
            assert mapped, uplink.payload
            for metric, value in mapped.items():
                assert abs(value - truth[metric]) < 1e-6, (metric, value, truth[metric])
            checked += 1
        assert checked > 20


def test_some_frames_are_lost_and_some_uplinks_come_undecoded() -> None:
    sent = list(
        uplinks(
            FLEET,
            PROFILES,
            START,
            END + timedelta(hours=9),
            network="tts",
            seed=3,
            loss=0.1,
            undecoded=0.1,
        )
    )
    gaps = 0
    by_device: dict[str, list[int]] = {}
    for uplink in sent:
        by_device.setdefault(uplink.device_id, []).append(uplink.f_cnt)
    for counters in by_device.values():
        gaps += sum(b - a - 1 for a, b in itertools.pairwise(counters))
    assert gaps > 0
    undecoded = [u for u in sent if not u.decoded]
    assert undecoded and len(undecoded) < len(sent) / 4
    assert all(b"decoded_payload" not in u.payload for u in undecoded)


def test_tts_uplinks_read_the_same_in_a_published_tts_client() -> None:
    """ttn-client (the client of Home Assistant's The Things Network integration)
    reads our simulated TTS uplinks: same device, receive time and decoded values."""
    from ttn_client.parsers import ttn_parse

    checked = 0
    for uplink in uplinks(FLEET, PROFILES, START, END, network="tts", seed=3, undecoded=0):
        doc = orjson.loads(uplink.payload)
        values = ttn_parse(doc)
        # It names a nested field by its path joined with "_".
        ours = {
            p.replace(".", "_"): v for p, v in flatten(doc["uplink_message"]["decoded_payload"])
        }
        assert set(values) == set(ours)
        for field_id, value in values.items():
            assert value.device_id == uplink.device_id
            assert value.received_at == uplink.sent_at
            assert value.value in (ours[field_id], str(ours[field_id]))
        item = decode(uplink.payload, Origin(uplink.topic, uplink.sent_at, "tts_v3"), CONTEXT)
        assert type(item) is Item and item.received_at == uplink.sent_at
        checked += 1
    assert checked > 20
