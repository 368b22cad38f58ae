"""paho-mqtt 2 driven from the asyncio loop, with acknowledgements under our control.

Why not aiomqtt: it has no public API for manual acknowledgement, and on this
machine it received about half the messages per second of plain paho (see
docs/adr/0002-paho-driven-from-asyncio.md). This module is the one place that
knows paho: it turns socket readiness into ``loop_read``/``loop_write`` calls,
hands every PUBLISH to a callback as an :class:`Inbound`, and sends the PUBACK
only when :meth:`MqttSession.ack` is called (after the batch is committed).

Backpressure does not rely on the broker honouring our receive maximum (Mosquitto
2.0.11 was seen sending two new messages per acknowledgement): the pipeline calls
:meth:`MqttSession.pause_reading` when its inbox is full, we stop reading the
socket, and TCP pushes back on the broker, which keeps the messages queued.

Each connection has a generation number. A message's ack is sent only on the
connection that delivered it: after a reconnect the broker redelivers whatever
was not acknowledged, and a packet id of the old connection may already name
another message on the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from hub.config import mqtt_endpoint

log = logging.getLogger(__name__)

_READS_PER_WAKEUP = 256  # paho reads one packet per call; drain the socket in one go


@dataclass(frozen=True, slots=True)
class Inbound:
    """One PUBLISH as received: acknowledge it with :meth:`MqttSession.ack`."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    generation: int
    received_at: float  # time.time() at receipt


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
        receive_maximum: unacknowledged QoS 1 messages the broker may send at once;
            this is the bound on in-flight work.
        reconnect_max_s: cap of the exponential backoff between connection attempts.
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
    ) -> None:
        self._host, self._port, self._tls, user, password = mqtt_endpoint(url)
        self._topics = topics
        self._on_message = on_message
        self._on_connection_lost = on_connection_lost
        self._paused = False
        self._session_expiry_s = session_expiry_s
        self._receive_maximum = receive_maximum
        self._reconnect_max_s = reconnect_max_s
        self._keepalive_s = keepalive_s
        self.generation = 0
        self.connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._connack: asyncio.Future[int] | None = None
        self._loop = asyncio.get_running_loop()
        self._misc_task: asyncio.Task[None] | None = None

        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
        )
        client.manual_ack_set(True)
        if user:
            client.username_pw_set(user, password)
        if self._tls:
            client.tls_set()
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write
        self._client = client

    # -- public -------------------------------------------------------------------

    def ack(self, message: Inbound) -> None:
        """Send the PUBACK of ``message`` if its connection is still the current one."""
        if message.qos == 0 or message.generation != self.generation:
            return
        if not self.connected.is_set():
            return
        self._client.ack(message.mid, message.qos)

    def pause_reading(self) -> None:
        """Stop taking messages off the socket until :meth:`resume_reading`."""
        if not self._paused:
            self._paused = True
            sock = self._client.socket()
            if sock is not None:
                with contextlib.suppress(ValueError, OSError):
                    self._loop.remove_reader(sock)

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            sock = self._client.socket()
            if sock is not None:
                self._loop.add_reader(sock, self._readable, sock)
                self._readable(sock)  # paho may hold bytes it already read

    @property
    def paused(self) -> bool:
        return self._paused

    def drop(self) -> None:
        """Drop the connection so the broker redelivers every unacknowledged message."""
        self.generation += 1  # acks of this connection are void from now on
        self._client.disconnect()

    async def run(self) -> None:
        """Connect, and reconnect with capped exponential backoff and jitter, forever."""
        attempt = 0
        state = "starting"
        while True:
            try:
                await self._connect_once()
            except (OSError, TimeoutError, ConnectionError) as exc:
                if state != "down":
                    log.warning("MQTT broker %s:%d unreachable: %s", self._host, self._port, exc)
                    state = "down"
                attempt += 1
                delay = min(self._reconnect_max_s, 0.5 * 2 ** min(attempt, 10))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                continue
            attempt = 0
            log.info(
                "MQTT connected to %s:%d (session generation %d)",
                self._host,
                self._port,
                self.generation,
            )
            state = "up"
            await self._disconnected.wait()
            log.warning("MQTT connection to %s:%d lost; reconnecting", self._host, self._port)
            state = "down"
            await asyncio.sleep(random.uniform(0.1, 0.5))

    async def close(self) -> None:
        """Send what is pending (acknowledgements), then disconnect; the session
        stays on the broker."""
        if self.connected.is_set():
            for _ in range(1000):
                if not self._client.want_write():
                    break
                self._client.loop_write()
                await asyncio.sleep(0)
            self._client.disconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._disconnected.wait(), 2)
        self._stop_misc()
        sock = self._client.socket()
        if sock is not None:
            self._socket_close(self._client, None, sock)

    # -- connection ---------------------------------------------------------------

    async def _connect_once(self) -> None:
        self.connected.clear()
        self._disconnected.clear()
        self._connack = self._loop.create_future()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._session_expiry_s
        props.ReceiveMaximum = self._receive_maximum
        # paho's connect() is a blocking socket connect; keep it off the event loop.
        await asyncio.wait_for(
            self._loop.run_in_executor(
                None,
                lambda: self._client.connect(
                    self._host,
                    self._port,
                    keepalive=self._keepalive_s,
                    clean_start=False,
                    properties=props,
                ),
            ),
            10,
        )
        try:
            reason = await asyncio.wait_for(self._connack, 10)
        except TimeoutError:
            self._drop_socket()
            raise
        if reason != 0:
            self._drop_socket()
            raise ConnectionError(f"broker refused the connection: {paho.connack_string(reason)}")
        self.generation += 1
        for topic in self._topics:
            self._client.subscribe(topic, options=SubscribeOptions(qos=1))
        self._misc_task = asyncio.create_task(self._misc_loop(), name="mqtt-misc")
        self.connected.set()

    def _drop_socket(self) -> None:
        sock = self._client.socket()
        if sock is not None:
            self._socket_close(self._client, None, sock)
            with contextlib.suppress(OSError):
                sock.close()

    async def _misc_loop(self) -> None:
        while True:
            await asyncio.sleep(1)
            if self._client.loop_misc() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return

    def _stop_misc(self) -> None:
        if self._misc_task is not None:
            self._misc_task.cancel()
            self._misc_task = None

    # -- paho callbacks (always run in the event loop thread, except socket_open) ---

    def _handle_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(int(reason.value))

    def _handle_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        self._stop_misc()
        self._disconnected.set()
        self._paused = False
        if was_connected:
            self._on_connection_lost()

    def _handle_message(self, client: Any, userdata: Any, msg: paho.MQTTMessage) -> None:
        self._on_message(
            Inbound(msg.topic, bytes(msg.payload), msg.qos, msg.mid, self.generation, time.time())
        )

    def _socket_open(self, client: Any, userdata: Any, sock: Any) -> None:
        # Called from the executor thread inside connect().
        self._loop.call_soon_threadsafe(self._loop.add_reader, sock, self._readable, sock)

    def _readable(self, sock: Any) -> None:
        for _ in range(_READS_PER_WAKEUP):
            if self._paused:
                return
            if self._client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            if self._client.socket() is not sock or not _has_data(sock):
                return

    def _socket_close(self, client: Any, userdata: Any, sock: Any) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)

    def _register_write(self, client: Any, userdata: Any, sock: Any) -> None:
        self._loop.call_soon_threadsafe(self._loop.add_writer, sock, self._writable)

    def _unregister_write(self, client: Any, userdata: Any, sock: Any) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_writer(sock)

    def _writable(self) -> None:
        self._client.loop_write()


def _has_data(sock: Any) -> bool:
    """True if the socket has bytes waiting (paho reads one packet per call)."""
    pending = getattr(sock, "pending", None)  # TLS sockets buffer decrypted bytes
    if pending is not None and pending():
        return True
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True  # let loop_read see and handle the error
