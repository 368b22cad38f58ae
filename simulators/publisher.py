"""Publish simulated messages to an MQTT broker with paho, driving its loop ourselves.

Two connection layouts:

- per device (small fleets): each device has its own client with a retained
  ``offline`` last will on its status topic, so dropping the connection (the
  ``offline`` fault) makes the broker announce it, as with a real device;
- shared (large fleets): a few clients carry every device's messages; a will
  cannot name thousands of topics, so an ``offline`` fault is published directly.

Every QoS 1 publish is tracked until its PUBACK; when paho refuses to queue more
(``MQTT_ERR_QUEUE_SIZE``) we pump the network and retry rather than drop.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt

from hub.config import mqtt_endpoint
from simulators.stream import Message

log = logging.getLogger("simulators.publisher")

# Messages one client holds unacknowledged before we wait. Small on purpose: paho
# scans its whole queue on every acknowledgement, so a long queue costs throughput.
MAX_QUEUED = 200


class PublishError(RuntimeError):
    """The broker could not be reached or did not acknowledge in time."""


@dataclass
class _Conn:
    client: mqtt.Client
    name: str
    dropped: bool = False  # cut on purpose (offline fault): do not reconnect
    next_retry: float = 0.0
    backoff: float = 1.0
    reconnecting: bool = False  # lost and reconnecting on its own
    birth_due: bool = False  # reconnected: announce its devices online again


class Publisher:
    """Publishes :class:`Message` objects; call :meth:`pump` often."""

    def __init__(
        self,
        url: str,
        *,
        status_topics: dict[str, str],
        per_device: bool,
        connections: int = 1,
        client_prefix: str = "sim",
        qos: int = 1,
    ) -> None:
        self.host, self.port, self.tls, self.username, self.password = mqtt_endpoint(url)
        self.qos = qos
        self.status_topics = status_topics
        self.per_device = per_device
        self.unacked: dict[tuple[int, int], Message] = {}
        self.published = 0
        self.acked = 0
        names = list(status_topics) if per_device else [f"{i}" for i in range(max(1, connections))]
        self.conns = [self._make(f"{client_prefix}-{n}", n, i) for i, n in enumerate(names)]
        self._by_device = {d: i for i, d in enumerate(names)} if per_device else {}
        self._devices_of: list[list[str]] = [[] for _ in self.conns]
        for device_id in status_topics:
            self._devices_of[self._index_of(device_id)].append(device_id)
        self.away: set[str] = set()  # devices whose last status was offline

    # ---- connections ----------------------------------------------------------------

    def _make(self, client_id: str, name: str, index: int) -> _Conn:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        client.max_queued_messages_set(MAX_QUEUED)
        client.max_inflight_messages_set(100)
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set()
        if self.per_device:
            client.will_set(self.status_topics[name], b"offline", qos=1, retain=True)
        client.on_publish = self._on_publish_for(index)
        conn = _Conn(client, name)

        def on_connect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            if conn.reconnecting and not rc.is_failure:
                conn.reconnecting = False
                conn.birth_due = True  # the broker may have lost the retained status

        client.on_connect = on_connect
        return conn

    def _on_publish_for(self, index: int) -> Any:
        def on_publish(_c: Any, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
            if self.unacked.pop((index, mid), None) is not None:
                self.acked += 1

        return on_publish

    def connect(self, timeout: float = 15.0) -> None:
        """Connect every client; raise PublishError if the broker does not answer."""
        for conn in self.conns:
            try:
                conn.client.connect(self.host, self.port, keepalive=30)
            except OSError as exc:
                raise PublishError(f"cannot reach {self.host}:{self.port}: {exc}") from None
        deadline = time.monotonic() + timeout
        while not all(c.client.is_connected() for c in self.conns):
            if time.monotonic() > deadline:
                raise PublishError(f"no CONNACK from {self.host}:{self.port} within {timeout:g}s")
            self.pump(0.05)

    def _index_of(self, device_id: str) -> int:
        if self.per_device:
            return self._by_device[device_id]
        return zlib.crc32(device_id.encode()) % len(self.conns)

    def _conn_for(self, message: Message) -> tuple[int, _Conn]:
        index = self._index_of(message.device_id)
        return index, self.conns[index]

    # ---- publishing -------------------------------------------------------------------

    def publish(self, message: Message) -> None:
        index, conn = self._conn_for(message)
        if message.kind == "status":
            if message.payload == b"offline":
                self.away.add(message.device_id)
            else:
                self.away.discard(message.device_id)
        if message.via_will and self.per_device:
            self._drop(conn)  # the broker publishes the will
            return
        if conn.dropped:
            self._revive(conn)
        while True:
            info = conn.client.publish(
                message.topic, message.payload, qos=self.qos, retain=message.retained
            )
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                self.pump(0.01)  # the broker's receive maximum is reached: wait
                continue
            break
        self.published += 1
        if self.qos > 0:
            self.unacked[(index, info.mid)] = message
        # paho queues while disconnected and resends after reconnecting.

    def _drop(self, conn: _Conn) -> None:
        sock = conn.client.socket()
        conn.dropped = True
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # no DISCONNECT: the will fires
        self.pump(0.01)

    def _revive(self, conn: _Conn, timeout: float = 10.0) -> None:
        conn.dropped = False
        try:
            conn.client.reconnect()
        except OSError as exc:
            log.warning("reconnect of %s failed: %s", conn.name, exc)
            return
        deadline = time.monotonic() + timeout
        while not conn.client.is_connected() and time.monotonic() < deadline:
            self.pump(0.05)

    # ---- network loop ---------------------------------------------------------------------

    def pump(self, timeout: float) -> None:
        """Run the network I/O of every client for up to ``timeout`` seconds."""
        socks: dict[Any, _Conn] = {}
        for conn in self.conns:
            sock = conn.client.socket()
            if sock is not None:
                socks[sock] = conn
        if socks:
            readable = list(socks)
            writable = [s for s, c in socks.items() if c.client.want_write()]
            try:
                r, w, _ = select.select(readable, writable, [], max(0.0, timeout))
            except (OSError, ValueError):
                r, w = [], []
            for sock in r:
                socks[sock].client.loop_read()
            for sock in w:
                socks[sock].client.loop_write()
        elif timeout > 0:
            time.sleep(timeout)
        now = time.monotonic()
        for index, conn in enumerate(self.conns):
            conn.client.loop_misc()
            if not conn.dropped and conn.client.socket() is None and now >= conn.next_retry:
                self._retry(conn, now)
            if conn.birth_due:
                conn.birth_due = False
                for device_id in self._devices_of[index]:
                    if device_id not in self.away:
                        self.publish(_status(device_id, self.status_topics[device_id], b"online"))

    def _retry(self, conn: _Conn, now: float) -> None:
        try:
            conn.reconnecting = True
            conn.client.reconnect()
            conn.backoff = 1.0
            log.info("reconnecting %s", conn.name)
        except OSError as exc:
            conn.backoff = min(conn.backoff * 2, 30.0)
            log.warning("broker unreachable (%s); retry in %.0fs", exc, conn.backoff)
        conn.next_retry = now + conn.backoff

    def drain(self, timeout: float) -> bool:
        """Wait until every publish is acknowledged; False if some are still open."""
        deadline = time.monotonic() + timeout
        while self.unacked and time.monotonic() < deadline:
            self.pump(0.05)
        return not self.unacked

    def close(self, *, mark_offline: bool, timeout: float = 10.0) -> bool:
        """Optionally announce every device offline, wait for acks, disconnect."""
        if mark_offline:
            for device_id, topic in self.status_topics.items():
                _, conn = self._conn_for(_status(device_id, topic))
                if conn.dropped:
                    continue
                self.publish(_status(device_id, topic))
        complete = self.drain(timeout)
        for conn in self.conns:
            conn.dropped = True  # no reconnecting from here on
            if conn.client.is_connected():
                conn.client.disconnect()
        self.pump(0.05)
        return complete


def _status(device_id: str, topic: str, payload: bytes = b"offline") -> Message:
    return Message(
        sent_at=datetime.now(UTC),
        topic=topic,
        payload=payload,
        retained=True,
        device_id=device_id,
        kind="status",
    )


def status_topics(prefix: str, devices: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Status topic per device id, from (device_id, profile) pairs."""
    return {d: f"{prefix}/{p}/{d}/status" for d, p in devices}
