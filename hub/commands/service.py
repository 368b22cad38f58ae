"""`hub run`: the roles of this process (HUB_ROLES: ingest, api, alerts) in one
event loop. Every process serves /healthz, /readyz and /metrics over HTTP."""

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
from hub.alerts.leader import Leadership
from hub.api.app import create_app
from hub.api.stream import close_streams
from hub.cluster import roles
from hub.cluster.maintenance import MaintenanceWork
from hub.cluster.push import PushWork
from hub.cluster.relay import ReadingsRelay
from hub.config import Settings
from hub.errors import ConfigError, MigrationError
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
from hub.store import rollups
from hub.store.cluster import MAINTENANCE_LOCK_KEY, PUSH_LOCK_KEY
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


# The NGSI-LD push's and the upkeep's locks: a standby tries every second, the
# holder checks twice a second (a takeover within about two seconds of the holder's end).
LOCK_INTERVAL_S = 2.0


def check_roles(settings: Settings) -> None:
    """An alert engine in a process without the ingest sees readings only through the
    readings channel: without it its point rules would never fire."""
    engine_here = settings.alerts_enabled and settings.has_role("alerts")
    if engine_here and not settings.has_role("ingest") and not settings.readings_notify:
        raise ConfigError(
            "HUB_READINGS_NOTIFY",
            f"must be true with HUB_ROLES={settings.roles}: the alert engine takes the "
            "other processes' readings from the readings channel",
        )
    if engine_here and settings.mqtt_share_group and not settings.readings_notify:
        log.warning(
            "HUB_MQTT_SHARE_GROUP without HUB_READINGS_NOTIFY: the alert engine sees only "
            "the readings this process ingests"
        )


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; unacknowledged messages stay with the broker."""
    check_roles(settings)
    profiles = load_profiles(settings.profiles_dir)
    level = read_storage_level(settings)
    log.info("%d device profiles, storage level %s, roles %s", len(profiles), level, settings.roles)
    roles.announce(settings)
    privacy.prepare(settings, profiles)  # data classes into the database (docs/privacy.md)
    classes = ClassDirectory(classes_of(profiles))  # for the paths without a query
    bus = EventBus()
    sources = load_sources(settings.sources, set(profiles))
    ingest = (
        Ingest(settings, profiles, storage=level, sources=sources)
        if settings.has_role("ingest")
        else None
    )
    # This process's committed readings go to its bus in-process; with the readings
    # channel, the other processes' arrive from the database's notifications too.
    relay = ReadingsRelay(settings.database_url, bus) if settings.readings_notify else None
    if ingest is not None:
        ingest.add_listener(lambda outcome: publish_outcome(bus, outcome))
    # Each engine subscribes to the bus with its own bounded buffer: it never slows the ingest.
    engines: list[Engine] = []  # the engine this process runs while it leads

    def _new_engine(engine: Engine) -> Engine:
        engines[:] = [engine]
        return engine

    # Work of one process at a time (the lock's holder): it starts once the readings
    # channel listens, so nothing committed after its rebuild passes it by.
    listening = relay.listening.wait if relay is not None else None
    leadership = (
        Leadership(
            settings.database_url,
            settings.alerts_interval_s,
            lambda: _new_engine(Engine(settings, profiles, storage=level, bus=bus)),
            ready=listening,
        )
        if settings.alerts_enabled and settings.has_role("alerts")
        else None
    )
    ngsi = NgsiRuntime(settings, profiles)
    if ingest is not None:
        ingest.add_listener(ngsi.listener)
        if ngsi.pusher is not None:  # the push waits while the ingest catches up
            running = ingest
            ngsi.pusher.busy = lambda: running.catching_up
    push_lead = None
    if ngsi.pusher is not None and ngsi.push_feed is not None:
        push = PushWork(ngsi.pusher, ngsi.push_feed, bus if relay is not None else None)
        push_lead = Leadership(
            settings.database_url,
            LOCK_INTERVAL_S,
            lambda: push,
            work="ngsi_push",
            key=PUSH_LOCK_KEY,
            ready=listening,
        )
    sta_mqtt = ObservationPublisher(settings, classes) if settings.sta_mqtt and ingest else None
    # SensorThings MQTT (docs/sensorthings.md): each ingest process publishes what it
    # committed, with its own client id, so every observation goes out once.
    if ingest is not None and sta_mqtt is not None:
        ingest.add_listener(sta_mqtt.offer)
    app = create_app(
        settings,
        broker_connected=(lambda: ingest.broker_connected) if ingest is not None else None,
        bus=bus,
        profiles=profiles,
        api=settings.has_role("api"),
        classes=classes,
    )
    app.state.sources = sources

    # The API tells this process's active engine (if it leads) of a committed rule change.
    def _rules_changed() -> None:
        for engine in engines:
            engine.rules_changed()

    app.state.rules_changed = _rules_changed
    if ingest is not None:
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

    # Upkeep: one process at a time (hub.cluster.maintenance).
    upkeep = MaintenanceWork(
        {
            "retention": lambda: run_retention(
                settings.database_url, level, settings.retention_days
            ),
            "silence": lambda: run_silence_watch(
                settings.database_url, profiles, bus, notify=settings.readings_notify
            ),
            "rollups": lambda: rollups.run_refresh(
                settings.database_url,
                level,
                interval_s=settings.rollup_refresh_s,
                lag_s=settings.rollup_lag_s,
            ),
            "access-log": lambda: run_pruning(
                settings.database_url, settings.privacy_access_log_days
            ),
            "personal-retention": lambda: run_personal_retention(
                settings.database_url,
                level,
                settings.personal_retention_days,
                settings.personal_retention_interval_s,
            ),
        }
    )
    upkeep_lead = Leadership(
        settings.database_url,
        LOCK_INTERVAL_S,
        lambda: upkeep,
        work="maintenance",
        key=MAINTENANCE_LOCK_KEY,
    )
    background = [asyncio.create_task(upkeep_lead.run(), name="maintenance leadership")]
    if relay is not None:
        background.append(asyncio.create_task(relay.run(), name="readings relay"))
    if leadership is not None:
        background.append(asyncio.create_task(leadership.run(), name="alerts leadership"))
    if push_lead is not None:
        background.append(asyncio.create_task(push_lead.run(), name="ngsi push leadership"))
    if sta_mqtt is not None:
        background.append(asyncio.create_task(sta_mqtt.run(), name="sta-mqtt"))
    ingest_task = asyncio.create_task(ingest.run(), name="ingest") if ingest else None
    api_task = asyncio.create_task(server.serve(), name="api")
    ngsi_tasks = ngsi.start(push=False)  # the push: push_lead, in one process
    stop_task = asyncio.create_task(stop.wait(), name="stop")
    log.info(
        "hub running: HTTP on http://%s:%d/ (docs at /docs)",
        settings.api_host,
        settings.api_port,
    )
    main = {api_task, stop_task} | ({ingest_task} if ingest_task else set())
    await asyncio.wait(main, return_when=asyncio.FIRST_COMPLETED)
    log.info("hub stopping")
    close_streams(app)  # an open live stream would hold uvicorn's shutdown
    server.should_exit = True
    if ingest is not None and ingest_task is not None:
        ingest.stop()  # commits and acknowledges what it has taken, then disconnects
        finished, _ = await asyncio.wait({ingest_task}, timeout=15)
        if not finished:
            ingest_task.cancel()
    stop_task.cancel()
    for task in ngsi_tasks:
        task.cancel()
    await asyncio.gather(*ngsi_tasks, return_exceptions=True)
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    results = await asyncio.gather(
        *([ingest_task] if ingest_task else []), api_task, return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
