"""The ingest's MQTT v5 codec: packets reassembled from any split of the stream,
and anything malformed refused with MqttProtocolError, never another exception."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import MqttProtocolError
from hub.ingest import mqtt_codec as codec


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(
    topic: str,
    payload: bytes,
    *,
    qos: int = 1,
    packet_id: int = 7,
    properties: bytes = b"",
    dup: bool = False,
) -> bytes:
    """A PUBLISH as a broker sends it (MQTT 5.0, section 3.3)."""
    name = topic.encode()
    body = struct.pack("!H", len(name)) + name
    if qos:
        body += struct.pack("!H", packet_id)
    body += _varint(len(properties)) + properties + payload
    first = 0x30 | (qos << 1) | (0x08 if dup else 0)
    return bytes([first]) + _varint(len(body)) + body


def read_all(stream: bytes, chunks: list[int]) -> list[codec.Packet]:
    reader = codec.PacketReader()
    packets: list[codec.Packet] = []
    position = 0
    for size in [*chunks, len(stream)]:
        reader.feed(stream[position : position + size])
        position += size
        while (packet := reader.next()) is not None:
            packets.append(packet)
    return packets


def test_publish_fields_are_decoded() -> None:
    stream = publish(
        "city/water_meter/wm-1/telemetry",
        b'{"flow": 1}',
        packet_id=513,
        properties=b"\x01\x01",
        dup=True,
    )
    [packet] = read_all(stream, [])
    assert packet == codec.Publish(
        "city/water_meter/wm-1/telemetry", b'{"flow": 1}', 1, 513, True, False
    )


def test_qos0_publish_has_no_packet_id() -> None:
    [packet] = read_all(publish("a/b", b"x", qos=0), [])
    assert isinstance(packet, codec.Publish) and packet.qos == 0 and packet.packet_id == 0


@settings(max_examples=300, deadline=None)
@given(
    messages=st.lists(
        st.tuples(st.text(min_size=1, max_size=40), st.binary(max_size=300), st.integers(1, 65535)),
        min_size=1,
        max_size=8,
    ),
    chunks=st.lists(st.integers(1, 50), max_size=30),
)
def test_any_split_of_the_stream_gives_the_same_packets(
    messages: list[tuple[str, bytes, int]], chunks: list[int]
) -> None:
    stream = b"".join(publish(t, p, packet_id=i) for t, p, i in messages) + b"\xd0\x00"
    packets = read_all(stream, chunks)
    assert packets[:-1] == [codec.Publish(t, p, 1, i, False, False) for t, p, i in messages]
    assert packets[-1] == codec.Control(codec.PINGRESP, b"")


def test_a_large_payload_needs_a_multi_byte_length() -> None:
    payload = bytes(range(256)) * 300  # 76,800 bytes: a three-byte remaining length
    [packet] = read_all(publish("big", payload), [1000] * 50)
    assert isinstance(packet, codec.Publish) and packet.payload == payload


@pytest.mark.parametrize(
    ("stream", "why"),
    [
        (b"\x36\x05\x00\x01a\x00\x01", "QoS 3"),
        (b"\x32\x03\x00\x09a", "topic runs past"),
        (b"\x32\x01\x00", "too short"),
        (b"\x32\x05\x00\x02\xff\xfe\x00", "not UTF-8"),
        (b"\x30\xff\xff\xff\xff\x01", "longer than 4 bytes"),
    ],
)
def test_malformed_packets_are_refused(stream: bytes, why: str) -> None:
    with pytest.raises(MqttProtocolError, match=why):
        read_all(stream, [])


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_packets_or_a_protocol_error(stream: bytes) -> None:
    with contextlib.suppress(MqttProtocolError):
        read_all(stream, [])


def test_connect_packet_asks_for_a_persistent_session_with_credentials() -> None:
    packet = codec.connect_packet(
        "hub-1",
        keepalive_s=30,
        session_expiry_s=3600,
        receive_maximum=100,
        username="hub",
        password="pw",
    )
    reader = codec.PacketReader()
    reader.feed(packet)
    control = reader.next()
    assert isinstance(control, codec.Control) and control.type == 1
    body = control.body
    assert body[:7] == b"\x00\x04MQTT\x05"
    flags = body[7]
    assert flags & 0x02 == 0, "clean start must be off"
    assert flags & 0xC0 == 0xC0, "username and password flags"
    assert b"\x11\x00\x00\x0e\x10" in body and b"\x21\x00\x64" in body
    assert body.endswith(b"\x00\x05hub-1\x00\x03hub\x00\x02pw")


def test_acks_and_replies() -> None:
    assert codec.puback_packet(0x1234) == b"\x40\x02\x12\x34"
    assert codec.connack_reason(b"\x01\x00\x00") == (True, 0)
    assert codec.suback_reasons(b"\x00\x01\x00\x01\x80") == (1, [1, 0x80])
