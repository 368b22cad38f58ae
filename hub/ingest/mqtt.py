"""The ingest's MQTT v5 session: a persistent subscriber with acknowledgements under
our control, on an asyncio protocol and the codec in :mod:`hub.ingest.mqtt_codec`.

Why not aiomqtt or paho: neither lets the hub acknowledge after commit at the
rate it needs (docs/adr/0006-own-mqtt-receive-path.md).

- Every PUBLISH is handed to ``on_message`` as an :class:`Inbound`; its PUBACK is
  sent only when :meth:`MqttSession.ack` is called (after the batch is
  committed). Acks are gathered and written once per event-loop turn.
- Backpressure does not rely on the broker honouring our receive maximum
  (Mosquitto 2.0.11 was seen sending two new messages per acknowledgement): the
  pipeline calls :meth:`pause_reading` when its inbox is full, the transport stops
  reading, and TCP pushes back on the broker, which keeps the messages queued.
  Packets already received stay unparsed until :meth:`resume_reading`.
- Each connection has a generation number. A message's ack is sent only on the
  connection that delivered it: after a reconnect the broker redelivers whatever
  was not acknowledged, and a packet id of the old connection may already name
  another message on the new one.
- Reconnection is a plain outer loop with capped exponential backoff and jitter;
  each state change is logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable
from typing import NamedTuple

from hub.backoff import backoff_delay
from hub.config import mqtt_endpoint
from hub.errors import MqttProtocolError
from hub.ingest import mqtt_codec as codec

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 10.0


class Inbound(NamedTuple):
    """One PUBLISH as received: acknowledge it with :meth:`MqttSession.ack`."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    generation: int
    received_at: float  # time.time() at receipt


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: bytes in, packets to the session."""

    def __init__(self, session: MqttSession) -> None:
        self.session = session
        self.reader = codec.PacketReader(session.protocol_version)
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.closed = asyncio.get_running_loop().create_future()
        self.last_heard = time.monotonic()
        self.generation = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.last_heard = time.monotonic()
        self.reader.feed(data)
        self.drain()

    def drain(self) -> None:
        """Hand every whole packet received to the session, unless paused."""
        try:
            while not self.paused:
                packet = self.reader.next()
                if packet is None:
                    return
                self.session._packet(self, packet)
        except MqttProtocolError as exc:
            log.error("MQTT protocol error from the broker: %s; reconnecting", exc)
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class MqttSession:
    """A persistent MQTT v5 session that reconnects by itself.

    Args:
        url: ``mqtt://[user:password@]host:port`` (``mqtts://`` for TLS).
        client_id: fixed, so the broker keeps the session across restarts.
        topics: topic filters subscribed at QoS 1 on every connection.
        on_message: called in the event loop for every PUBLISH; must not block.
        on_connection_lost: called when a connection ends; messages of that
            connection not yet acknowledged will be redelivered on the next one.
        session_expiry_s: how long the broker keeps the session while we are away.
        receive_maximum: unacknowledged QoS 1 messages the broker may send at once.
        reconnect_max_s: cap of the exponential backoff between connection attempts.
        keepalive_s: MQTT keepalive; a silent broker is dropped after 1.5 times it.
        protocol_version: 5 (MQTT 5), or 4 (MQTT 3.1.1, without session expiry or
            receive maximum) for servers that speak only that.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        topics: list[str],
        on_message: Callable[[Inbound], None],
        on_connection_lost: Callable[[], None],
        session_expiry_s: int,
        receive_maximum: int,
        reconnect_max_s: float = 30.0,
        keepalive_s: int = 30,
        protocol_version: int = 5,
    ) -> None:
        self.protocol_version = protocol_version
        self._host, self._port, tls, self._username, self._password = mqtt_endpoint(url)
        self._ssl = ssl.create_default_context() if tls else None
        self._client_id = client_id
        self._topics = topics
        self._on_message = on_message
        self._on_connection_lost = on_connection_lost
        self._session_expiry_s = session_expiry_s
        self._receive_maximum = receive_maximum
        self._reconnect_max_s = reconnect_max_s
        self._keepalive_s = keepalive_s
        self.generation = 0
        self.connected = asyncio.Event()
        self._conn: _Connection | None = None
        self._replies: dict[int, asyncio.Future[bytes]] = {}  # CONNACK, SUBACK bodies
        self._pending_acks = bytearray()
        self._flush_scheduled = False
        self._paused = False
        self._closing = False

    # -- public -------------------------------------------------------------------

    def ack(self, message: Inbound) -> None:
        """Queue the PUBACK of ``message`` if its connection is still the current one."""
        if message.qos == 0 or message.generation != self.generation or self._conn is None:
            return
        self._pending_acks += codec.puback_packet(message.mid)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_acks)

    def ack_all(self, messages: list[Inbound]) -> None:
        """:meth:`ack` for each of ``messages``, in one piece (a committed batch)."""
        if self._conn is None:
            return
        generation = self.generation
        puback = codec.puback_packet
        self._pending_acks += b"".join(
            [puback(m.mid) for m in messages if m.qos and m.generation == generation]
        )
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_acks)

    def pause_reading(self) -> None:
        """Stop taking messages until :meth:`resume_reading`."""
        self._paused = True
        conn = self._conn
        if conn is not None and not conn.paused:
            conn.paused = True
            if conn.transport is not None:
                conn.transport.pause_reading()

    def resume_reading(self) -> None:
        self._paused = False
        conn = self._conn
        if conn is not None and conn.paused:
            conn.paused = False
            if conn.transport is not None and not conn.transport.is_closing():
                conn.transport.resume_reading()
            conn.drain()  # packets received before the pause

    @property
    def paused(self) -> bool:
        return self._paused

    def drop(self) -> None:
        """Drop the connection so the broker redelivers every unacknowledged message."""
        self.generation += 1  # acks of this connection are void from now on
        if self._conn is not None:
            self._conn.abort()

    async def run(self) -> None:
        """Connect, and reconnect with capped exponential backoff and jitter, forever."""
        attempt = 0
        down_logged = False
        while not self._closing:
            try:
                conn = await self._connect_once()
            except (OSError, TimeoutError, ConnectionError, MqttProtocolError) as exc:
                if not down_logged:
                    log.warning("MQTT broker %s:%d unreachable: %s", self._host, self._port, exc)
                    down_logged = True
                attempt += 1
                await asyncio.sleep(backoff_delay(attempt, base=0.5, cap=self._reconnect_max_s))
                continue
            attempt = 0
            down_logged = False
            log.info(
                "MQTT connected to %s:%d (connection %d)", self._host, self._port, self.generation
            )
            keepalive = asyncio.create_task(self._keepalive(conn), name="mqtt-keepalive")
            try:
                await asyncio.shield(conn.closed)  # a cancelled run() leaves it to close()
            finally:
                keepalive.cancel()
                self._lost(conn)
            if not self._closing:
                log.warning("MQTT connection to %s:%d lost; reconnecting", self._host, self._port)
                await asyncio.sleep(random.uniform(0.1, 0.5))

    async def close(self) -> None:
        """Send pending acknowledgements, then disconnect; the session stays on the broker."""
        self._closing = True
        conn = self._conn
        if conn is None or conn.transport is None:
            return
        self._flush_acks()
        conn.write(codec.DISCONNECT_PACKET)
        conn.transport.close()
        if not conn.closed.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await asyncio.shield(conn.closed)

    # -- connection ---------------------------------------------------------------

    async def _connect_once(self) -> _Connection:
        loop = asyncio.get_running_loop()
        self._replies = {
            codec.CONNACK: loop.create_future(),
            codec.SUBACK: loop.create_future(),
        }
        # asyncio.timeout throughout, not wait_for: on Python 3.11 wait_for can
        # swallow a cancellation that arrives as the inner await finishes.
        async with asyncio.timeout(_CONNECT_TIMEOUT_S):
            _, conn = await loop.create_connection(
                lambda: _Connection(self), self._host, self._port, ssl=self._ssl
            )
        try:
            conn.write(
                codec.connect_packet(
                    self._client_id,
                    keepalive_s=self._keepalive_s,
                    session_expiry_s=self._session_expiry_s,
                    receive_maximum=self._receive_maximum,
                    username=self._username,
                    password=self._password,
                    version=self.protocol_version,
                )
            )
            # Messages of the session may arrive before the CONNACK is read: they
            # belong to the new connection, so the generation moves on first.
            self.generation += 1
            conn.generation = self.generation
            self._conn = conn
            if self._paused:
                self.pause_reading()
            async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                body = await self._replies[codec.CONNACK]
            _, reason = codec.connack_reason(body)
            if reason != 0:
                raise ConnectionError(f"broker refused the connection (reason code {reason:#x})")
            conn.write(codec.subscribe_packet(1, self._topics, version=self.protocol_version))
            async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                body = await self._replies[codec.SUBACK]
            _, reasons = codec.suback_reasons(body, self.protocol_version)
            refused = [t for t, r in zip(self._topics, reasons, strict=False) if r >= 0x80]
            if refused or len(reasons) != len(self._topics):
                raise ConnectionError(f"broker refused the subscription to {refused or reasons}")
        except BaseException:
            self._lost(conn)
            conn.abort()
            raise
        self.connected.set()
        return conn

    def _lost(self, conn: _Connection) -> None:
        if self._conn is not conn:
            return
        self._conn = None
        self._pending_acks.clear()
        self.connected.clear()
        self._on_connection_lost()

    async def _keepalive(self, conn: _Connection) -> None:
        interval = max(1.0, self._keepalive_s / 2)
        while True:
            await asyncio.sleep(interval)
            conn.write(codec.PINGREQ_PACKET)
            silent = time.monotonic() - conn.last_heard
            # While reading is paused the broker's answers wait in the socket.
            if not conn.paused and silent > 1.5 * self._keepalive_s:
                log.warning("MQTT broker silent for %.0f s; reconnecting", silent)
                conn.abort()
                return

    def _flush_acks(self) -> None:
        self._flush_scheduled = False
        if self._pending_acks and self._conn is not None:
            self._conn.write(bytes(self._pending_acks))
        self._pending_acks.clear()

    # -- packets ------------------------------------------------------------------

    def _packet(self, conn: _Connection, packet: codec.Packet) -> None:
        if isinstance(packet, codec.Publish):
            self._on_message(
                Inbound(
                    packet.topic,
                    packet.payload,
                    packet.qos,
                    packet.packet_id,
                    conn.generation,
                    time.time(),
                )
            )
        elif packet.type in self._replies:
            reply = self._replies[packet.type]
            if not reply.done():
                reply.set_result(packet.body)
        elif packet.type == codec.DISCONNECT:
            log.warning(
                "broker closed the MQTT connection (reason code %#x)",
                codec.disconnect_reason(packet.body),
            )
            conn.abort()
