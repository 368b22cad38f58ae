"""`hub run`: the ingest and the HTTP API in one process, one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Iterator
from datetime import UTC, datetime

import uvicorn

from hub.alerts.engine import Engine
from hub.api.app import create_app
from hub.api.stream import close_streams
from hub.config import Settings
from hub.errors import MigrationError
from hub.events import Event, EventBus
from hub.ingest.http_gate import HttpGate
from hub.ingest.pipeline import Ingest
from hub.ingest.sources import load_sources
from hub.model import Outcome
from hub.ngsi.runtime import NgsiRuntime
from hub.privacy import startup as privacy
from hub.privacy.access_log import run_pruning
from hub.privacy.classes import classes_of
from hub.privacy.directory import ClassDirectory
from hub.privacy.retention import run_personal_retention
from hub.profiles import load_profiles
from hub.silence import run_silence_watch
from hub.sta.mqtt import ObservationPublisher
from hub.store.db import session
from hub.store.maintenance import run_retention
from hub.store.migrate import storage_level

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: :func:`serve` owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def read_storage_level(settings: Settings) -> str:
    """The storage level of a migrated database; a clear error otherwise."""
    with session(settings.database_url, "startup") as conn:
        level = storage_level(conn)
    if level is None:
        raise MigrationError("the database is not migrated: run 'hub migrate' first")
    return level


def publish_outcome(bus: EventBus, outcome: Outcome) -> None:
    """Committed readings and status changes go to the live subscribers."""
    bus.publish_readings(outcome.readings, outcome.profiles)
    now = datetime.now(UTC)
    for device_id, status in outcome.statuses:
        bus.publish(
            Event("status", device_id, outcome.profiles.get(device_id), now, {"status": status})
        )


# Allocations between two young-generation collections of Python's cyclic garbage
# collector (the default is 700). The ingest makes several tuples per reading,
# nearly all freed by reference counting, and keeps tens of thousands of messages
# in flight; at the default the collector runs every few hundred messages and walks
# them. docs/performance.md, "Garbage collection", has the measurements.
GC_YOUNG_THRESHOLD = 100_000


def tune_gc() -> None:
    """Collect cycles less often, and never walk what start-up allocated."""
    gc.freeze()  # modules, settings, the app: moved out of the collector's sight
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; unacknowledged messages stay with the broker."""
    profiles = load_profiles(settings.profiles_dir)
    level = read_storage_level(settings)
    log.info("%d device profiles, storage level %s", len(profiles), level)
    privacy.prepare(settings, profiles)  # data classes into the database (docs/privacy.md)
    classes = ClassDirectory(classes_of(profiles))  # for the paths without a query
    bus = EventBus()
    sources = load_sources(settings.sources, set(profiles))
    ingest = Ingest(settings, profiles, storage=level, sources=sources)
    ingest.add_listener(lambda outcome: publish_outcome(bus, outcome))
    ngsi = NgsiRuntime(settings, profiles)
    ingest.add_listener(ngsi.listener)
    sta_mqtt = ObservationPublisher(settings, classes) if settings.sta_mqtt else None
    if sta_mqtt is not None:  # SensorThings MQTT extension (docs/sensorthings.md)
        ingest.add_listener(sta_mqtt.offer)
    # The engine subscribes to the bus with its own bounded buffer: it never slows the ingest.
    engine = Engine(settings, profiles, storage=level, bus=bus) if settings.alerts_enabled else None
    app = create_app(
        settings,
        broker_connected=lambda: ingest.broker_connected,
        bus=bus,
        profiles=profiles,
        classes=classes,
    )
    app.state.sources = sources
    if engine is not None:
        app.state.rules_changed = engine.rules_changed
    app.state.ingest_gate = HttpGate(
        ingest, limit=settings.ingest_http_queue, wait_s=settings.ingest_http_wait_s
    )
    app.state.readiness_details = ngsi.readiness()
    server = _Server(
        uvicorn.Config(
            app,
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,
            lifespan="on",
            access_log=False,
        )
    )
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    retention_task = asyncio.create_task(
        run_retention(settings.database_url, level, settings.retention_days), name="retention"
    )
    access_log_task = asyncio.create_task(
        run_pruning(settings.database_url, settings.privacy_access_log_days), name="access-log"
    )
    personal_retention_task = asyncio.create_task(
        run_personal_retention(
            settings.database_url,
            level,
            settings.personal_retention_days,
            settings.personal_retention_interval_s,
        ),
        name="personal-retention",
    )
    silence_task = asyncio.create_task(
        run_silence_watch(settings.database_url, profiles, bus), name="silence"
    )
    ingest_task = asyncio.create_task(ingest.run(), name="ingest")
    alerts_task = asyncio.create_task(engine.run(), name="alerts") if engine else None
    sta_task = asyncio.create_task(sta_mqtt.run(), name="sta-mqtt") if sta_mqtt else None
    api_task = asyncio.create_task(server.serve(), name="api")
    ngsi_tasks = ngsi.start()
    stop_task = asyncio.create_task(stop.wait(), name="stop")
    log.info(
        "hub running: API and dashboard on http://%s:%d/ (docs at /docs)",
        settings.api_host,
        settings.api_port,
    )
    await asyncio.wait({ingest_task, api_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    log.info("hub stopping")
    close_streams(app)  # an open live stream would hold uvicorn's shutdown
    server.should_exit = True
    ingest.stop()  # commits and acknowledges what it has taken, then disconnects
    finished, _ = await asyncio.wait({ingest_task}, timeout=15)
    if not finished:
        ingest_task.cancel()
    stop_task.cancel()
    retention_task.cancel()
    access_log_task.cancel()
    personal_retention_task.cancel()
    for task in ngsi_tasks:
        task.cancel()
    await asyncio.gather(*ngsi_tasks, return_exceptions=True)
    for optional in (alerts_task, sta_task):
        if optional is not None:
            optional.cancel()
            await asyncio.gather(optional, return_exceptions=True)
    silence_task.cancel()
    results = await asyncio.gather(ingest_task, api_task, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
