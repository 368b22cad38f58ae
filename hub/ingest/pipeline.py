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
The parts with one job each: :class:`~hub.ingest.inbox.Inbox` (the queue and its
pause/resume thresholds), :class:`~hub.ingest.acks.InOrderAcks` (acknowledgements
in receive order), the decode step (``hub.payloads``), the writers
(``hub.store.writer``); :class:`Ingest` wires them into tasks and counts.

Other sources (extra MQTT sessions of ``HUB_SOURCES``, the HTTP ingest) put
:class:`~hub.ingest.submissions.Submission` objects into the same inbox, each
bounded by its own producer (a source pauses its session, the HTTP ingest answers
503); they are decoded, batched and committed with the rest, and told in receive
order when their batch is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from hub.config import Settings
from hub.ingest import metrics
from hub.ingest.acks import InOrderAcks
from hub.ingest.directory import DirectoryLoader
from hub.ingest.extra_sources import SourceSession
from hub.ingest.inbox import Entry, Inbox
from hub.ingest.mqtt import Inbound, MqttSession
from hub.ingest.sources import SourcesFile
from hub.ingest.submissions import Submission
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
        sources: extra MQTT sources and the profile rules of network-server uplinks.
    """

    def __init__(
        self,
        settings: Settings,
        profiles: Mapping[str, Profile],
        *,
        storage: str,
        sources: SourcesFile | None = None,
    ) -> None:
        self._settings = settings
        sources = sources or SourcesFile()
        self.decode_context = dataclasses.replace(
            DecodeContext.from_settings(settings, profiles), rules=sources.rules()
        )
        self.sources = [
            SourceSession(source, self.submit, reconnect_max_s=settings.mqtt_reconnect_max_s)
            for source in sources.mqtt
        ]
        self._inbox = Inbox(settings.mqtt_receive_maximum)
        # Full policy: the collector waits (and the inbox fills, and reading pauses).
        self._batches: asyncio.Queue[tuple[int, list[Entry], list[Item], list[DeadLetter]]] = (
            asyncio.Queue(settings.db_writers)
        )
        self._acks = InOrderAcks(self._ack)
        self._listeners: list[CommitListener] = []
        self._writers = [
            BatchWriter(
                settings.database_url,
                storage=storage,
                auto_register=settings.auto_register_devices,
                notify=settings.readings_notify,
            )
            for _ in range(settings.db_writers)
        ]
        self._session: MqttSession | None = None
        self._unacked = 0
        self._stop = asyncio.Event()
        self.directory = DirectoryLoader(
            settings.database_url, refresh_s=settings.device_directory_refresh_s
        )
        self.running = False  # taking submissions (the HTTP ingest asks)

    def add_listener(self, listener: CommitListener) -> None:
        """Call ``listener`` with every committed batch (alerts, live stream)."""
        self._listeners.append(listener)

    @property
    def broker_connected(self) -> bool:
        return self._session is not None and self._session.connected.is_set()

    @property
    def catching_up(self) -> bool:
        """A full batch is waiting: the ingest runs as fast as it can (a backlog)."""
        return self._inbox.qsize() >= self._settings.batch_max_messages

    @property
    def database_up(self) -> bool:
        return all(writer.database_up for writer in self._writers)

    @property
    def database_unreachable(self) -> bool:
        """A writer's last attempt failed to reach the database (HTTP ingest: 503)."""
        return any(writer.unreachable for writer in self._writers)

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
        self._inbox.reader = self._session
        tasks = {
            asyncio.create_task(self._session.run(), name="mqtt"),
            asyncio.create_task(self._collect(), name="collect"),
            *(
                asyncio.create_task(self._write(writer), name=f"write-{n}")
                for n, writer in enumerate(self._writers)
            ),
            asyncio.create_task(metrics.keep_gauges(self._gauges), name="gauges"),
            asyncio.create_task(self._refresh_directory(), name="directory"),
            *(asyncio.create_task(s.run(), name=f"source-{s.source.name}") for s in self.sources),
            *(asyncio.create_task(s.gauge(), name=f"gauge-{s.source.name}") for s in self.sources),
        }
        stop = asyncio.create_task(self._stop.wait(), name="stop")
        self.running = True
        try:
            done, _ = await asyncio.wait({*tasks, stop}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stop}:
                task.result()  # a stage ended: raise its error
            await self._finish_in_flight(tasks)
        finally:
            self.running = False
            self._give_back_submissions()
            stop.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._session.close()
            for source in self.sources:
                await source.close()
            for writer in self._writers:
                await writer.close()

    def submit(self, submission: Submission) -> None:
        """Take a message of another source; its producer bounds how many wait."""
        self._inbox.submit(submission)

    def _give_back_submissions(self) -> None:
        """At shutdown: tell every submission still waiting that it was not stored."""
        for entry in [*self._inbox.drain(), *self._acks.waiting()]:
            if type(entry) is Submission:
                entry.finish(None)
        self._acks.forget()

    async def _refresh_directory(self) -> None:
        while True:
            if await self.directory.refresh():
                self.decode_context = dataclasses.replace(
                    self.decode_context, devices=self.directory.snapshot
                )
            await asyncio.sleep(self.directory.refresh_s)

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
        self.running = False
        self._connection_lost()  # the inbox goes back to the broker
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_SHUTDOWN_GRACE_S):  # not wait_for (see _collect)
                await self._batches.join()

    # -- stages ---------------------------------------------------------------------

    def _receive(self, message: Inbound) -> None:
        self._inbox.put(message)
        self._unacked += 1

    def _connection_lost(self) -> None:
        """The own session's messages still waiting go back to the broker; those of
        other sources stay."""
        self._unacked -= self._inbox.drop_own()

    def _ack(self, messages: list[Inbound]) -> None:
        assert self._session is not None
        self._session.ack_all(messages)

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        max_messages = self._settings.batch_max_messages
        max_delay = self._settings.batch_max_delay_ms / 1000
        while True:
            batch: list[Entry] = []
            items: list[Item] = []
            dead: list[DeadLetter] = []
            message = await self._inbox.get()
            deadline = loop.time() + max_delay
            context = self.decode_context
            while True:
                batch.append(message)
                if type(message) is Inbound:
                    decoded = decode_inbound(message, context)
                else:
                    decoded = await self._decode_submission(message)  # type: ignore[arg-type]
                    context = self.decode_context
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
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow
                # a cancellation, and it makes a task per wait.
                try:
                    async with asyncio.timeout(remaining):
                        message = await self._inbox.get()
                except TimeoutError:
                    break
            await self._batches.put((self._acks.number(), batch, items, dead))

    async def _decode_submission(self, submission: Submission) -> Item | DeadLetter:
        """Decode; a device the directory does not know (or one to register) may have
        been registered since its last load: look again once, then decode again."""
        decoded = decode(submission.payload, submission.origin, self.decode_context)
        stale = (
            decoded.reason == "unknown_device"
            if type(decoded) is DeadLetter
            else decoded.lorawan is not None and decoded.lorawan.register  # type: ignore[union-attr]
        )
        if stale and submission.origin.format != "hub" and await self.directory.refresh(soon=True):
            self.decode_context = dataclasses.replace(
                self.decode_context, devices=self.directory.snapshot
            )
            decoded = decode(submission.payload, submission.origin, self.decode_context)
        submission.result = decoded
        return decoded

    async def _write(self, writer: BatchWriter) -> None:
        while True:
            seq, messages, items, dead = await self._batches.get()
            started = time.perf_counter()
            outcome = await writer.write(items, dead)
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
            if outcome.registered:
                self.directory.add(outcome.registered)
                self.decode_context = dataclasses.replace(
                    self.decode_context, devices=self.directory.snapshot
                )
            self._unacked -= self._acks.committed(seq, messages, outcome)
            self._count(messages, items, outcome)
            self._batches.task_done()
            for listener in self._listeners:
                try:
                    listener(outcome)
                except Exception:
                    log.exception("commit listener failed")

    def _gauges(self) -> metrics.Gauges:
        return metrics.Gauges(
            queue_depth=self._inbox.qsize(),
            unacked=self._unacked,
            database_up=self.database_up,
            broker_up=self.broker_connected,
        )

    def _count(self, messages: list[Entry], items: list[Item], outcome: Outcome) -> None:
        now = time.time()
        metrics.observe_all(
            metrics.READING_AGE,
            [now - item.readings[0].time.timestamp() for item in items if item.readings],
        )
        metrics.BATCH_SIZE.observe(len(messages))
        metrics.READINGS.inc(len(outcome.readings))
        metrics.RECEIVE_TIME_USED.inc(outcome.receive_time_used)
        status = sum(1 for m in messages if type(m) is Inbound and m.topic.endswith("/status"))
        metrics.MESSAGES.labels("status").inc(status)
        metrics.MESSAGES.labels("telemetry").inc(len(messages) - status)
        for reason, count in outcome.dead.items():
            metrics.DEAD_LETTERS.labels(reason).inc(count)


def decode_inbound(message: Inbound, context: DecodeContext) -> Item | DeadLetter:
    """One received MQTT message through the decode step."""
    origin = Origin(message.topic, datetime.fromtimestamp(message.received_at, UTC))
    return decode(message.payload, origin, context)
