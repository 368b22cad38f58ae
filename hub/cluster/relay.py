"""Readings between hub processes: committed batches arrive on the PostgreSQL
channel ``hub_readings`` (the ingest notifies in the batch's transaction, see
:mod:`hub.store.batch`) and are published on this process's event bus, where the
live stream and the alert engine take them as if this process had ingested them.
A process's own batches go to its bus in-process (as with one process), so the
relay leaves its own payloads out undecoded, and decodes none while nobody in the
process subscribes (an ingest-only process, a standby).

A notification is delivered only to sessions that were listening when it was
committed. When the relay's connection drops it reconnects and *interrupts* the
bus: every subscription ends as on an overflow, so the alert engine re-reads its
recent readings from the database and live-stream clients reconnect.

Bounds: one payload is below 8,000 bytes (:mod:`hub.cluster.wire`); the relay
keeps no queue of its own (each bus subscriber has its bounded buffer); the server
holds undelivered notifications in its queue (``max_notify_queue_pages``, 8 GB by
default), which a relay that keeps reading never lets grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import psycopg
from prometheus_client import Counter, Gauge

from hub.backoff import backoff_delay
from hub.cluster import wire
from hub.events import EventBus
from hub.store import cluster
from hub.store.db import aconnect, first_line

log = logging.getLogger(__name__)

NOTIFIES = Counter("hub_cluster_notifies", "Payloads received on the hub_readings channel")
NOTIFY_BYTES = Counter("hub_cluster_notify_bytes", "Bytes received on the hub_readings channel")
RELAYED = Counter("hub_cluster_relayed_events", "Events of other processes' batches published")
LISTENING = Gauge("hub_cluster_listening", "1 while the readings channel is listened to")
SKIPPED = Counter(
    "hub_cluster_skipped_payloads",
    "Payloads not decoded: this process's own, or no subscriber in this process",
)
INTERRUPTS = Counter(
    "hub_cluster_interrupts", "Reconnects of the readings channel (subscribers caught up)"
)


class ReadingsRelay:
    """LISTEN on ``hub_readings``; publish what arrives on ``bus``."""

    def __init__(self, url: str, bus: EventBus, *, reconnect_max_s: float = 10.0) -> None:
        self._url = url
        self._bus = bus
        self._reconnect_max_s = reconnect_max_s
        self.listening = asyncio.Event()

    async def run(self) -> None:
        attempt = 0
        first = True
        while True:
            try:
                conn = await aconnect(self._url, "readings-relay", autocommit=True)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                attempt += 1
                if attempt == 1:
                    log.warning("readings channel: database unreachable: %s", first_line(exc))
                await asyncio.sleep(backoff_delay(attempt, base=0.2, cap=self._reconnect_max_s))
                continue
            attempt = 0
            try:
                await conn.execute(cluster.LISTEN_READINGS)
                if not first:  # what was committed while away never arrives: catch up
                    INTERRUPTS.inc()
                    self._bus.interrupt()
                first = False
                LISTENING.set(1)
                self.listening.set()
                await self._receive(conn)
            except (psycopg.OperationalError, psycopg.InterfaceError, TimeoutError) as exc:
                log.warning("readings channel lost (%s); listening again", first_line(exc))
            finally:
                LISTENING.set(0)
                self.listening.clear()
                with contextlib.suppress(Exception):
                    await conn.close()

    async def _receive(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        while True:
            # A timeout so a dead connection is noticed even when nothing is committed.
            async for notify in conn.notifies(timeout=5.0):
                NOTIFIES.inc()
                NOTIFY_BYTES.inc(len(notify.payload))
                # This process's own batches went to the bus in-process; and with no
                # subscriber here (no live-stream client, no active engine) there is
                # nobody to decode for.
                if wire.own(notify.payload) or not self._bus.subscribers:
                    SKIPPED.inc()
                    continue
                try:
                    events = wire.decode(notify.payload, datetime.now(UTC))
                except (ValueError, TypeError, KeyError):
                    log.warning("readings channel: unreadable payload dropped")
                    continue
                for event in events:
                    self._bus.publish(event)
                RELAYED.inc(len(events))
            async with asyncio.timeout(5.0):  # not wait_for: it may swallow a cancel (3.11)
                await conn.execute(cluster.ALIVE)
