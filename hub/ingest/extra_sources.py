"""Extra MQTT sources (``HUB_SOURCES``): one persistent session per source, on its
own broker, feeding the ingest's inbox.

Each source has its own client id, reconnect loop (with backoff) and metrics
(``hub_source_up{source=...}``, ``hub_source_messages_total``); a source that
fails to connect or is refused never stops another one, nor the hub's own broker.
A message is acknowledged on its own session once its batch is committed, so a
QoS 1 source loses nothing. The Things Stack's MQTT server sends QoS 0 only:
whatever it sends while the hub is away or slow is gone (docs/integrations.md
recommends its webhook instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from hub.ingest import metrics
from hub.ingest.mqtt import Inbound, MqttSession
from hub.ingest.sources import MqttSource
from hub.ingest.submissions import Submission
from hub.payloads import Origin

log = logging.getLogger(__name__)

PENDING_MAX = 1000  # messages of one source waiting for their batch; reading pauses here
_RESTART_S = 5.0


class SourceSession:
    """One extra MQTT source.

    Args:
        source: its configuration.
        submit: hands a message to the ingest.
        receive_maximum: announced to its broker as the MQTT v5 receive maximum.
        reconnect_max_s: cap of the reconnect backoff.
    """

    def __init__(
        self,
        source: MqttSource,
        submit: Callable[[Submission], None],
        *,
        reconnect_max_s: float,
    ) -> None:
        self.source = source
        self.name = f"mqtt:{source.name}"
        self._submit = submit
        self._pending = 0
        self.session = MqttSession(
            source.url,
            client_id=source.client_id or f"hub-{source.name}",
            topics=list(source.topics),
            on_message=self._receive,
            on_connection_lost=lambda: None,  # unacknowledged messages come again
            session_expiry_s=source.session_expiry_s,
            receive_maximum=PENDING_MAX,
            reconnect_max_s=reconnect_max_s,
            protocol_version=source.protocol_version,
        )

    @property
    def connected(self) -> bool:
        return self.session.connected.is_set()

    def _receive(self, message: Inbound) -> None:
        metrics.SOURCE_MESSAGES.labels(self.source.name).inc()
        origin = Origin(
            message.topic,
            datetime.fromtimestamp(message.received_at, UTC),
            self.source.format,
            self.name,
        )
        session = self.session

        def done(_: Submission, committed: bool) -> None:
            self._pending -= 1
            if committed:
                session.ack(message)
            if session.paused and self._pending <= PENDING_MAX // 2:
                session.resume_reading()

        self._pending += 1
        if self._pending >= PENDING_MAX:
            session.pause_reading()
        self._submit(Submission(message.payload, origin, done))

    async def run(self) -> None:
        """Run the session; restart it if it fails, forever (until cancelled)."""
        while True:
            try:
                await self.session.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("MQTT source %s failed; restarting it", self.source.name)
                await asyncio.sleep(_RESTART_S)

    async def gauge(self) -> None:
        while True:
            metrics.SOURCE_UP.labels(self.source.name).set(1 if self.connected else 0)
            await asyncio.sleep(1)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.session.close()
