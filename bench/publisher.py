"""The one QoS 1 load publisher: the benchmarks' load (bench.load), the drain
benchmark's backlog (bench.mqtt_clients) and the integration tests' sequence
publisher (tests/integration/helpers.py) all publish through it.

It handles the traps measured in MEASURED.md:

- paho's threaded ``loop_start()`` once stalled with messages never acknowledged:
  here the calling thread drives the network loop (``pump``), nothing runs behind it;
- a publish paho refuses to queue (``ERR_QUEUE_SIZE``: its queue limit, or all
  65,535 message ids in use) is retried after letting acknowledgements in, never
  dropped;
- every publish is counted until its PUBACK, and ``wait_acked`` says whether all
  came back: a load that loses messages on the way in proves nothing;
- a lost connection is reconnected; with ``persistent=True`` paho resends the
  unacknowledged messages of the session after the broker comes back.
"""

from __future__ import annotations

import contextlib
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

# How long one pump waits at most for the socket while waiting for a deadline or acks.
STEP_S = 0.01


class Qos1Publisher:
    """One MQTT 3.1.1 client that publishes at QoS 1, driven from the caller's thread."""

    def __init__(
        self,
        client_id: str,
        *,
        persistent: bool = False,
        max_inflight: int = 1000,
        pump_every: int = 200,
    ) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=not persistent,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        self.client.max_inflight_messages_set(max_inflight)
        self.client.on_publish = self._on_publish
        self.published = 0
        self.acked = 0
        self._pump_every = pump_every

    def _on_publish(self, *_: object) -> None:
        self.acked += 1

    @property
    def unacked(self) -> int:
        return self.published - self.acked

    def connect(self, host: str, port: int, *, keepalive: int = 60, timeout: float = 120) -> None:
        """Connect, retrying while the broker is not listening (yet, or again)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client.connect(host, port, keepalive=keepalive)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one QoS 1 message; wait and retry while paho refuses to queue it."""
        while self.client.publish(topic, payload, qos=1).rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            self.pump(STEP_S)  # let acknowledgements in, then retry
        self.published += 1
        if self.published % self._pump_every == 0:
            self.pump(0)

    def pump(self, timeout: float) -> None:
        """Run the network loop once for up to ``timeout`` seconds; reconnect when the
        connection is gone (paho queues meanwhile and resends after reconnecting)."""
        if self.client.loop(timeout) != MQTTErrorCode.MQTT_ERR_SUCCESS:
            time.sleep(0.2)
            with contextlib.suppress(OSError):
                self.client.reconnect()

    def pace(self, due: float, max_unacked: int | None = None) -> None:
        """Run the loop until the monotonic time ``due`` (rate limiting) and, with
        ``max_unacked``, until no more publishes than that await their PUBACK."""
        while True:
            wait = due - time.monotonic()
            if wait <= 0 and (max_unacked is None or self.unacked <= max_unacked):
                return
            self.pump(min(wait, STEP_S) if wait > 0 else STEP_S)

    def wait_acked(self, timeout: float) -> bool:
        """Run the loop until every publish is acknowledged; False at the timeout."""
        deadline = time.monotonic() + timeout
        while self.acked < self.published and time.monotonic() < deadline:
            self.pump(STEP_S)
        return self.acked >= self.published

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        # paho keeps a loopback socket pair (for waking its loop) until the client is
        # garbage-collected; close it now, or a test run ends with "unclosed socket"
        # warnings, which are errors there.
        self.client._reset_sockets()
