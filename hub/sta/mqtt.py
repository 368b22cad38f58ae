"""The SensorThings MQTT extension, receive side: committed readings published as
STA Observations to ``v1.1/Datastreams({id})/Observations`` on the hub's broker.

The ingest calls :meth:`ObservationPublisher.offer` with every committed batch
(a commit listener: it never blocks and never fails). Readings wait in a buffer
of ``HUB_STA_MQTT_BUFFER`` readings; when a batch does not fit, the whole batch is
dropped from publishing and counted (it is stored all the same; MQTT is a live
feed, the API the record). A task publishes the buffer at QoS 0 over the hub's
own small MQTT link on the event loop (:mod:`hub.sta.mqtt_link`; through paho the
feed cost the ingest two thirds of its rate, docs/sensorthings.md). Datastream
ids (series ids) come from the database, re-read at most once a second when a
reading names a series not seen yet.

The broker's subscribers are not known to the hub, so the feed carries what a key
without the personal permission reads in full (hub.privacy.policy.OUTBOUND:
``public`` and ``internal`` devices; their class from hub.privacy.directory).
Readings of personal devices are counted as withheld, never published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence

import orjson
import psycopg
from prometheus_client import Counter

from hub.config import Settings, mqtt_endpoint
from hub.model import Reading
from hub.model.messages import Outcome
from hub.privacy.directory import ClassDirectory
from hub.privacy.policy import OUTBOUND
from hub.sta.mqtt_link import MqttLink
from hub.sta.render import iso
from hub.store.db import aconnect
from hub.store.sta_queries import series_ids
from hub.store.sta_statement import observation_id

log = logging.getLogger(__name__)

TOPIC = "v1.1/Datastreams({id})/Observations"
OBSERVATIONS = Counter(
    "hub_sta_mqtt_observations",
    "Committed readings offered to the SensorThings MQTT feed, by outcome (published; "
    "dropped: buffer full or broker away; unknown: no Datastream id yet; withheld: "
    "personal data, docs/privacy.md)",
    ["outcome"],
)
REFRESH_MIN_S = 1.0
DB_TIMEOUT_S = 5.0


def topic(datastream_id: int) -> str:
    return TOPIC.format(id=datastream_id)


def observation_message(datastream_id: int, reading: Reading) -> bytes:
    """One Observation as STA JSON (the form a GET of it returns, less the links)."""
    when = iso(reading.time)
    return orjson.dumps(
        {
            "@iot.id": observation_id(datastream_id, reading.time),
            "phenomenonTime": when,
            "resultTime": when,
            "result": reading.value,
        }
    )


class ObservationPublisher:
    """Publishes committed readings; ``offer`` is the ingest's commit listener.

    Args:
        settings: the hub's settings (broker, database, buffer size).
    """

    def __init__(self, settings: Settings, classes: ClassDirectory | None = None) -> None:
        self._settings = settings
        self._classes = classes if classes is not None else ClassDirectory()
        self.withheld = 0
        self._buffer: deque[Sequence[Reading]] = deque()
        self._buffered = 0
        self._capacity = settings.sta_mqtt_buffer
        self._wake = asyncio.Event()
        self._series: dict[tuple[str, str], int] = {}
        self._refreshed = 0.0
        self.published = 0
        self.dropped = 0
        self.unknown = 0
        self._topics: dict[int, bytes] = {}
        host, port, tls, username, password = mqtt_endpoint(settings.mqtt_url)
        self._link = MqttLink(
            host=host,
            port=port,
            tls=tls,
            username=username,
            password=password,
            client_id=f"{settings.mqtt_client_id}-sta",
        )

    def offer(self, outcome: Outcome) -> None:
        readings = self._public(outcome)
        if not readings:
            return
        if self._buffered + len(readings) > self._capacity:
            if self.dropped == 0:
                log.warning("STA MQTT publisher behind: readings not published (still stored)")
            self.dropped += len(readings)
            OBSERVATIONS.labels("dropped").inc(len(readings))
            return
        self._buffer.append(readings)
        self._buffered += len(readings)
        self._wake.set()

    def _public(self, outcome: Outcome) -> Sequence[Reading]:
        """The readings the public may read in full (one class look-up per device)."""
        shown: dict[str, bool] = {}
        kept: list[Reading] = []
        for r in outcome.readings:
            ok = shown.get(r.device_id)
            if ok is None:
                data_class = self._classes.class_of(r.device_id, outcome.profiles.get(r.device_id))
                ok = shown[r.device_id] = OUTBOUND.reads(data_class)
            if ok:
                kept.append(r)
        withheld = len(outcome.readings) - len(kept)
        if withheld:
            self.withheld += withheld
            OBSERVATIONS.labels("withheld").inc(withheld)
        return kept if withheld else outcome.readings

    async def run(self) -> None:
        link = asyncio.create_task(self._link.run(), name="sta-mqtt-link")
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._buffer:
                    batch = self._buffer.popleft()
                    self._buffered -= len(batch)
                    await self._publish(batch)
                    await asyncio.sleep(0)  # let the ingest run between batches
        finally:
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)
            await self.close()

    async def _publish(self, readings: Sequence[Reading]) -> None:
        if any((r.device_id, r.metric) not in self._series for r in readings):
            await self._refresh()
        if not self._link.connected.is_set():
            self.dropped += len(readings)
            OBSERVATIONS.labels("dropped").inc(len(readings))
            return
        before = (self.published, self.dropped, self.unknown)
        series, topics = self._series, self._topics
        publish = self._link.publish
        for r in readings:
            datastream = series.get((r.device_id, r.metric))
            if datastream is None:
                self.unknown += 1
                continue
            name = topics.get(datastream)
            if name is None:
                name = topics[datastream] = topic(datastream).encode()
            if publish(name, observation_message(datastream, r)):
                self.published += 1
            else:
                self.dropped += 1
        OBSERVATIONS.labels("published").inc(self.published - before[0])
        OBSERVATIONS.labels("dropped").inc(self.dropped - before[1])
        OBSERVATIONS.labels("unknown").inc(self.unknown - before[2])

    async def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._refreshed < REFRESH_MIN_S:
            return
        self._refreshed = now
        try:
            async with asyncio.timeout(DB_TIMEOUT_S):
                conn = await aconnect(self._settings.database_url, "sta-mqtt", autocommit=True)
                async with conn:
                    self._series = await series_ids(conn)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.warning("STA MQTT publisher: cannot read datastream ids: %s", exc)

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            await self._link.close()
