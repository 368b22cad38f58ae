"""MQTT 3.1.1 (protocol level 4) in the codec, for servers that speak only that
(The Things Stack's MQTT server): packets without properties."""

from __future__ import annotations

from hub.ingest import mqtt_codec as codec


def test_connect_is_protocol_level_4_without_properties() -> None:
    packet = codec.connect_packet(
        "hub-ttn", keepalive_s=30, session_expiry_s=600, receive_maximum=100,
        username="town-water@ttn", password="NNSXS.KEY", version=4,
    )  # fmt: skip
    body = packet[2:]
    assert body[:6] == b"\x00\x04MQTT"
    assert body[6] == 4  # protocol level of 3.1.1
    assert body[7] == 0xC0  # username and password, clean session off
    assert body[8:10] == b"\x00\x1e"  # keepalive
    assert body[10:19] == b"\x00\x07hub-ttn"  # client id straight after: no properties


def test_subscribe_and_suback_have_no_properties() -> None:
    packet = codec.subscribe_packet(1, ["v3/+/devices/+/up"], qos=1, version=4)
    assert packet[2:4] == b"\x00\x01" and packet[4:6] == b"\x00\x11"
    assert codec.suback_reasons(b"\x00\x01\x00", 4) == (1, [0])  # granted QoS 0


def test_publish_of_3_1_1_is_read_without_properties() -> None:
    topic = b"v3/town-water@ttn/devices/wm-1/up"
    payload = b'{"uplink_message": {}}'
    body = len(topic).to_bytes(2, "big") + topic + payload  # QoS 0: no packet id
    reader = codec.PacketReader(4)
    reader.feed(bytes([0x30, len(body)]) + body)
    packet = reader.next()
    assert isinstance(packet, codec.Publish)
    assert (packet.topic, packet.payload, packet.qos) == (topic.decode(), payload, 0)
