"""The ingest pipeline: MQTT messages -> decoded batches -> committed -> acknowledged.

    MqttSession --on_message--> inbox --collect/decode--> batches --write x N--> ack in order
                 (at most receive_maximum)            (numbered)   (HUB_DB_WRITERS connections)

Backpressure: the inbox holds at most ``receive_maximum`` messages. When it is full
the session stops reading its socket, TCP pushes back, and the broker keeps the
rest queued (we announce the same number as the MQTT v5 receive maximum, but do
not rely on the broker honouring it). While the writer waits for the database,
the collector blocks on the full ``batches`` queue, the inbox fills, reading
stops: memory stays flat. When a connection ends, the messages still in the inbox
are dropped: they were not acknowledged, so the broker sends them again.

Messages are acknowledged in receive order, once their batch is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from hub.config import Settings
from hub.ingest import metrics
from hub.ingest.mqtt import Inbound, MqttSession
from hub.model import DeadLetter, Item, Outcome
from hub.payloads import DecodeContext, Origin, decode
from hub.profiles import Profile
from hub.store.writer import BatchWriter

log = logging.getLogger(__name__)

CommitListener = Callable[[Outcome], None]
_SHUTDOWN_GRACE_S = 10.0  # time a clean stop gives the batches already taken
_DECODE_SLICE = 100  # messages decoded between two turns of the event loop


def subscriptions(settings: Settings) -> list[str]:
    topics = [f"{settings.topic_prefix}/+/+/telemetry", f"{settings.topic_prefix}/+/+/status"]
    if settings.mqtt_share_group:
        topics = [f"$share/{settings.mqtt_share_group}/{t}" for t in topics]
    return topics


class Ingest:
    """Runs the whole ingest until cancelled.

    Args:
        settings: the hub's settings.
        profiles: device profiles by name.
        storage: the storage level recorded at migration (``plain`` or ``timescale``).
    """

    def __init__(
        self, settings: Settings, profiles: Mapping[str, Profile], *, storage: str
    ) -> None:
        self._settings = settings
        self.decode_context = DecodeContext.from_settings(settings, profiles)
        self._inbox_limit = settings.mqtt_receive_maximum
        self._inbox: asyncio.Queue[Inbound] = asyncio.Queue(self._inbox_limit + 1)
        self._batches: asyncio.Queue[tuple[int, list[Inbound], list[Item], list[DeadLetter]]] = (
            asyncio.Queue(settings.db_writers)
        )
        self._next_batch = 0  # sequence number of the next batch the collector makes
        self._next_ack = 0  # sequence number of the next batch to acknowledge
        self._committed: dict[int, list[Inbound]] = {}
        self._listeners: list[CommitListener] = []
        self._writers = [
            BatchWriter(
                settings.database_url,
                storage=storage,
                auto_register=settings.auto_register_devices,
            )
            for _ in range(settings.db_writers)
        ]
        self._session: MqttSession | None = None
        self._unacked = 0
        self._stop = asyncio.Event()

    def add_listener(self, listener: CommitListener) -> None:
        """Call ``listener`` with every committed batch (alerts, live stream)."""
        self._listeners.append(listener)

    @property
    def broker_connected(self) -> bool:
        return self._session is not None and self._session.connected.is_set()

    @property
    def database_up(self) -> bool:
        return all(writer.database_up for writer in self._writers)

    async def run(self) -> None:
        self._session = MqttSession(
            self._settings.mqtt_url,
            client_id=self._settings.mqtt_client_id,
            topics=subscriptions(self._settings),
            on_message=self._receive,
            on_connection_lost=self._connection_lost,
            session_expiry_s=self._settings.mqtt_session_expiry_s,
            receive_maximum=self._settings.mqtt_receive_maximum,
            reconnect_max_s=self._settings.mqtt_reconnect_max_s,
        )
        tasks = {
            asyncio.create_task(self._session.run(), name="mqtt"),
            asyncio.create_task(self._collect(), name="collect"),
            *(
                asyncio.create_task(self._write(writer), name=f"write-{n}")
                for n, writer in enumerate(self._writers)
            ),
            asyncio.create_task(self._gauges(), name="gauges"),
        }
        stop = asyncio.create_task(self._stop.wait(), name="stop")
        try:
            done, _ = await asyncio.wait({*tasks, stop}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stop}:
                task.result()  # a stage ended: raise its error
            await self._finish_in_flight(tasks)
        finally:
            stop.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._session.close()
            for writer in self._writers:
                await writer.close()

    def stop(self) -> None:
        """Ask :meth:`run` to finish: batches already taken are committed and
        acknowledged; messages not yet in a batch are left to the broker."""
        self._stop.set()

    async def _finish_in_flight(self, tasks: set[asyncio.Task[None]]) -> None:
        assert self._session is not None
        self._session.pause_reading()
        for task in tasks:
            if task.get_name() == "collect":
                task.cancel()
        self._connection_lost()  # the inbox goes back to the broker
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._batches.join(), _SHUTDOWN_GRACE_S)

    # -- stages ---------------------------------------------------------------------

    def _receive(self, message: Inbound) -> None:
        assert self._session is not None
        try:
            self._inbox.put_nowait(message)
        except asyncio.QueueFull:  # cannot happen while reading pauses at the limit
            log.error(
                "inbox overflow; reconnecting so the broker redelivers",
                extra={"topic": message.topic},
            )
            self._session.drop()
            return
        self._unacked += 1
        if self._inbox.qsize() >= self._inbox_limit:
            self._session.pause_reading()

    def _connection_lost(self) -> None:
        dropped = 0
        while not self._inbox.empty():
            self._inbox.get_nowait()
            dropped += 1
        self._unacked -= dropped

    def _take(self, message: Inbound) -> Inbound:
        assert self._session is not None
        if self._session.paused and self._inbox.qsize() <= self._inbox_limit // 2:
            self._session.resume_reading()
        return message

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        max_messages = self._settings.batch_max_messages
        max_delay = self._settings.batch_max_delay_ms / 1000
        while True:
            batch: list[Inbound] = []
            items: list[Item] = []
            dead: list[DeadLetter] = []
            message = await self._inbox.get()
            deadline = loop.time() + max_delay
            context = self.decode_context
            while True:
                batch.append(self._take(message))
                decoded = decode_inbound(message, context)
                if type(decoded) is Item:
                    items.append(decoded)
                else:
                    dead.append(decoded)  # type: ignore[arg-type]
                if len(batch) >= max_messages:
                    break
                if len(batch) % _DECODE_SLICE == 0:
                    await asyncio.sleep(0)  # let the writers' I/O through
                try:
                    message = self._inbox.get_nowait()
                    continue
                except asyncio.QueueEmpty:
                    pass
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    message = await asyncio.wait_for(self._inbox.get(), remaining)
                except TimeoutError:
                    break
            await self._batches.put((self._next_batch, batch, items, dead))
            self._next_batch += 1

    async def _write(self, writer: BatchWriter) -> None:
        while True:
            seq, messages, items, dead = await self._batches.get()
            started = time.perf_counter()
            outcome = await writer.write(items, dead)
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
            self._acknowledge_in_order(seq, messages)
            self._count(messages, items, outcome)
            self._batches.task_done()
            for listener in self._listeners:
                try:
                    listener(outcome)
                except Exception:
                    log.exception("commit listener failed")

    def _acknowledge_in_order(self, seq: int, messages: list[Inbound]) -> None:
        """Batches may commit out of order (several writers); acks go out in the
        order the messages were received."""
        assert self._session is not None
        self._committed[seq] = messages
        while self._next_ack in self._committed:
            done = self._committed.pop(self._next_ack)
            for message in done:
                self._session.ack(message)
            self._unacked -= len(done)
            self._next_ack += 1

    async def _gauges(self) -> None:
        while True:
            metrics.QUEUE_DEPTH.set(self._inbox.qsize())
            metrics.UNACKED.set(self._unacked)
            metrics.DATABASE_UP.set(1 if self.database_up else 0)
            metrics.BROKER_UP.set(1 if self.broker_connected else 0)
            await asyncio.sleep(1)

    def _count(self, messages: list[Inbound], items: list[Item], outcome: Outcome) -> None:
        now = time.time()
        for item in items:
            if item.readings:
                metrics.READING_AGE.observe(now - item.readings[0].time.timestamp())
        metrics.BATCH_SIZE.observe(len(messages))
        metrics.READINGS.inc(len(outcome.readings))
        metrics.RECEIVE_TIME_USED.inc(outcome.receive_time_used)
        status = sum(1 for m in messages if m.topic.endswith("/status"))
        metrics.MESSAGES.labels("status").inc(status)
        metrics.MESSAGES.labels("telemetry").inc(len(messages) - status)
        for reason, count in outcome.dead.items():
            metrics.DEAD_LETTERS.labels(reason).inc(count)


def decode_inbound(message: Inbound, context: DecodeContext) -> Item | DeadLetter:
    """One received MQTT message through the decode step."""
    origin = Origin(message.topic, datetime.fromtimestamp(message.received_at, UTC))
    return decode(message.payload, origin, context)
