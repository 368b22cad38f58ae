"""The part of MQTT 5.0 the ingest speaks, as pure functions (no I/O).

The ingest is a subscriber: it sends CONNECT, SUBSCRIBE, PUBACK, PINGREQ and
DISCONNECT, and receives CONNACK, SUBACK, PUBLISH (QoS 0 or 1), PINGRESP and
DISCONNECT. :class:`PacketReader` takes bytes as they arrive and returns whole
packets; anything malformed raises :class:`MqttProtocolError` (the connection is
then dropped and the broker redelivers what was not acknowledged).
Why the hub has its own codec: docs/adr/0006-own-mqtt-receive-path.md.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, NamedTuple

from hub.errors import MqttProtocolError

CONNACK: Final = 2
PUBLISH: Final = 3
PUBACK: Final = 4
SUBACK: Final = 9
PINGRESP: Final = 13
DISCONNECT: Final = 14

PINGREQ_PACKET: Final = b"\xc0\x00"
DISCONNECT_PACKET: Final = b"\xe0\x00"
_MAX_REMAINING: Final = 268_435_455  # the largest remaining length MQTT can express


class Publish(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    packet_id: int  # 0 for QoS 0
    dup: bool
    retain: bool


@dataclass(frozen=True, slots=True)
class Control:
    """Any other packet: its type and its body (after the fixed header)."""

    type: int
    body: bytes


Packet = Publish | Control


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value % 128
        value //= 128
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + _varint(len(body)) + body


def connect_packet(
    client_id: str,
    *,
    keepalive_s: int,
    session_expiry_s: int,
    receive_maximum: int,
    username: str | None = None,
    password: str | None = None,
    version: int = 5,
    clean_start: bool = False,
) -> bytes:
    """CONNECT, by default with clean start off, so the broker keeps the session
    (``clean_start`` for a publisher that keeps no state at the broker).

    ``version`` 4 is MQTT 3.1.1 (no properties: no session expiry, no receive
    maximum), for servers that speak only that (The Things Stack)."""
    flags = 0x02 if clean_start else 0
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    properties = (
        b"\x11" + struct.pack("!I", session_expiry_s) + b"\x21" + struct.pack("!H", receive_maximum)
    )
    body = (
        _string("MQTT")
        + bytes([version])
        + bytes([flags])
        + struct.pack("!H", keepalive_s)
        + (_varint(len(properties)) + properties if version == 5 else b"")
        + _string(client_id)
    )
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return _packet(0x10, body)


def subscribe_packet(packet_id: int, topics: list[str], qos: int = 1, version: int = 5) -> bytes:
    body = struct.pack("!H", packet_id) + (b"\x00" if version == 5 else b"")
    for topic in topics:
        body += _string(topic) + bytes([qos])
    return _packet(0x82, body)


def publish_packet(topic: bytes, payload: bytes) -> bytes:
    """PUBLISH at QoS 0, not retained (``topic`` already UTF-8)."""
    return _packet(0x30, struct.pack("!H", len(topic)) + topic + payload)


def puback_packet(packet_id: int) -> bytes:
    return struct.pack("!BBH", 0x40, 2, packet_id)


def connack_reason(body: bytes) -> tuple[bool, int]:
    """(session present, reason code) of a CONNACK."""
    if len(body) < 2:
        raise MqttProtocolError("CONNACK too short")
    return bool(body[0] & 1), body[1]


def suback_reasons(body: bytes, version: int = 5) -> tuple[int, list[int]]:
    """(packet id, reason code per topic) of a SUBACK."""
    if len(body) < 3:
        raise MqttProtocolError("SUBACK too short")
    (packet_id,) = struct.unpack_from("!H", body)
    if version != 5:
        return packet_id, list(body[2:])
    props, offset = _read_varint(body, 2)
    return packet_id, list(body[offset + props :])


def disconnect_reason(body: bytes) -> int:
    return body[0] if body else 0


def _read_varint(data: bytes | bytearray, offset: int, limit: int = -1) -> tuple[int, int]:
    """(value, offset after it); raises on a varint that runs past ``limit``."""
    if limit < 0:
        limit = len(data)
    value = 0
    shift = 0
    while True:
        if offset >= limit:
            raise MqttProtocolError("variable-length integer runs past the packet")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7
        if shift > 21:
            raise MqttProtocolError("variable-length integer longer than 4 bytes")


class PacketReader:
    """Reassembles packets from a byte stream.

    Call :meth:`feed` with received bytes, then :meth:`next` until it returns
    None (no whole packet left). Bytes of an incomplete packet are kept.
    """

    __slots__ = ("_buf", "_pos", "_properties")

    def __init__(self, version: int = 5) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._properties = version == 5  # MQTT 3.1.1 packets have no properties

    def feed(self, data: bytes) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def pending(self) -> int:
        return len(self._buf) - self._pos

    def next(self) -> Packet | None:
        buf = self._buf
        pos = self._pos
        size = len(buf)
        if size - pos < 2:
            return None
        first = buf[pos]
        # Remaining length: up to four 7-bit groups.
        length = 0
        shift = 0
        i = pos + 1
        while True:
            if i >= size:
                if i - pos > 4:
                    raise MqttProtocolError("remaining length longer than 4 bytes")
                return None
            byte = buf[i]
            i += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > 21:
                raise MqttProtocolError("remaining length longer than 4 bytes")
        end = i + length
        if end > size:
            return None
        self._pos = end
        kind = first >> 4
        if kind != PUBLISH:
            return Control(kind, bytes(buf[i:end]))
        return _publish(first, buf, i, end, self._properties)


def _publish(first: int, buf: bytearray, start: int, end: int, properties: bool) -> Publish:
    qos = (first >> 1) & 3
    if qos == 3:
        raise MqttProtocolError("PUBLISH with QoS 3")
    if end - start < 2:
        raise MqttProtocolError("PUBLISH too short")
    topic_end = start + 2 + (buf[start] << 8 | buf[start + 1])
    if topic_end > end:
        raise MqttProtocolError("PUBLISH topic runs past the packet")
    try:
        topic = buf[start + 2 : topic_end].decode()
    except UnicodeDecodeError:
        raise MqttProtocolError("PUBLISH topic is not UTF-8") from None
    offset = topic_end
    packet_id = 0
    if qos:
        if offset + 2 > end:
            raise MqttProtocolError("PUBLISH packet id runs past the packet")
        packet_id = buf[offset] << 8 | buf[offset + 1]
        offset += 2
    if properties:
        props, offset = _read_varint(buf, offset, end)
        offset += props
        if offset > end:
            raise MqttProtocolError("PUBLISH properties run past the packet")
    return Publish(topic, bytes(buf[offset:end]), qos, packet_id, bool(first & 8), bool(first & 1))
