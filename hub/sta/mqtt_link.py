"""A QoS 0 MQTT publisher on the event loop: one MQTT 3.1.1 connection (clean
session), CONNECT/CONNACK, PUBLISH, PINGREQ, reconnecting with capped backoff.

The STA feed publishes one message per reading, so the per-message cost is what
matters: a PUBLISH here is a few bytes joined and one ``transport.write``, where
paho takes a lock, builds a message object and wakes its thread per message.
QoS 0 needs nothing back from the broker but the CONNACK and PINGRESPs.

Full policy: while the socket's send buffer holds more than ``max_buffer_bytes``
(a slow or stalled broker), :meth:`MqttLink.publish` refuses and returns False;
the caller counts the message as dropped. So does it while disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

from hub.backoff import backoff_delay
from hub.ingest.mqtt_codec import connect_packet, publish_packet

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"


class MqttLink:
    """Args:
    host, port, tls, username, password: the broker.
    client_id: this connection's client id.
    keepalive_s: MQTT keep-alive; a PINGREQ goes out when idle this long.
    max_buffer_bytes: bytes queued in the socket beyond which publishing refuses.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: bool,
        username: str | None,
        password: str | None,
        client_id: str,
        keepalive_s: int = 30,
        max_buffer_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self._host, self._port, self._tls = host, port, tls
        # MQTT 3.1.1, clean session: the feed keeps no state at the broker.
        self._connect = connect_packet(
            client_id,
            keepalive_s=keepalive_s,
            session_expiry_s=0,
            receive_maximum=0,
            username=username,
            password=password,
            version=4,
            clean_start=True,
        )
        self._keepalive_s = keepalive_s
        self._max_buffer = max_buffer_bytes
        self._writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()

    def publish(self, topic: bytes, payload: bytes) -> bool:
        writer = self._writer
        if writer is None or writer.transport.get_write_buffer_size() > self._max_buffer:
            return False
        writer.write(publish_packet(topic, payload))
        return True

    async def run(self) -> None:
        """Stay connected until cancelled."""
        failures = 0
        while True:
            try:
                await self._session()
                failures = 0
            except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError) as exc:
                failures += 1
                if failures == 1:
                    log.warning("STA MQTT link to %s:%d down: %s", self._host, self._port, exc)
            finally:
                self._writer = None
                self.connected.clear()
            await asyncio.sleep(backoff_delay(failures, base=0.5, cap=30.0))

    async def _session(self) -> None:
        context = ssl.create_default_context() if self._tls else None
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(self._host, self._port, ssl=context)
            writer.write(self._connect)
            header = await reader.readexactly(4)  # CONNACK: 0x20 0x02 flags code
        try:
            if header[0] != 0x20 or header[3] != 0:
                raise ConnectionError(f"broker refused the connection (CONNACK {header.hex()})")
            self._writer = writer
            self.connected.set()
            log.info("STA MQTT link connected to %s:%d", self._host, self._port)
            while True:
                try:
                    async with asyncio.timeout(self._keepalive_s):
                        data = await reader.read(256)  # PINGRESPs only
                except TimeoutError:
                    writer.write(PINGREQ)
                    async with asyncio.timeout(self._keepalive_s):
                        data = await reader.read(256)
                if not data:
                    raise ConnectionError("broker closed the connection")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await writer.wait_closed()

    async def close(self) -> None:
        writer = self._writer
        if writer is not None and not writer.is_closing():
            writer.write(DISCONNECT)
            writer.close()
