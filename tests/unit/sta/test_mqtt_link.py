"""The STA feed's MQTT packets, byte for byte as MQTT 3.1.1 lays them out."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from hub.ingest.mqtt_codec import connect_packet, publish_packet
from hub.model import Reading
from hub.sta.mqtt import observation_message, topic


def test_publish_is_qos0_with_the_topic_length_first() -> None:
    assert publish_packet(b"a/b", b"x") == b"\x30\x06\x00\x03a/bx"
    big = publish_packet(b"t", b"y" * 200)  # remaining length 203: two bytes
    assert big[:3] == b"\x30\xcb\x01" and big[3:6] == b"\x00\x01t" and len(big) == 206


def test_connect_is_a_clean_session_with_credentials() -> None:
    packet = connect_packet(
        "hub-sta",
        keepalive_s=30,
        session_expiry_s=0,
        receive_maximum=0,
        username="hub",
        password="secret",
        version=4,
        clean_start=True,
    )
    assert packet[0] == 0x10
    body = packet[2:]
    assert body[:6] == b"\x00\x04MQTT" and body[6] == 4  # protocol level 4: 3.1.1
    assert body[7] == 0x02 | 0x80 | 0x40  # clean session, username, password
    assert body[8:10] == b"\x00\x1e"
    assert body[10:19] == b"\x00\x07hub-sta"
    assert body.endswith(b"\x00\x03hub\x00\x06secret")


def test_observation_message_is_sta_json() -> None:
    reading = Reading("aq-1", "no2", datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC), 21.5)
    assert topic(17) == "v1.1/Datastreams(17)/Observations"
    assert orjson.loads(observation_message(17, reading)) == {
        "@iot.id": "17-1767225600250000",
        "phenomenonTime": "2026-01-01T00:00:00.250000Z",
        "resultTime": "2026-01-01T00:00:00.250000Z",
        "result": 21.5,
    }
