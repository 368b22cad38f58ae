"""The watch that turns silence into status: every ``INTERVAL_S`` seconds, devices
silent past their profile's offline time are marked ``offline`` and those heard
again ``online`` (hub.store.silence), and each change goes out on the live stream
as a ``status`` event, so the map, the counts and ``/api/v1/devices`` agree with
what the stale alerts say."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import psycopg

from hub.cluster import wire
from hub.events import Event, EventBus
from hub.profiles import Profile
from hub.store import cluster
from hub.store import silence as store
from hub.store.db import aconnect

log = logging.getLogger(__name__)

INTERVAL_S = 5.0  # how late a status may follow the silence (or the next reading)
TIMEOUT_S = 10.0  # one round, connection included


async def watch_once(
    url: str, limits: Mapping[str, float], bus: EventBus, *, notify: bool = False
) -> int:
    """One round; returns how many devices changed status. ``notify``: the changes go
    to the other hub processes too, on the readings channel (hub.cluster.relay)."""
    async with (
        asyncio.timeout(TIMEOUT_S),
        await aconnect(url, "silence", autocommit=True) as conn,
    ):
        silent = await store.mark_silent(conn, limits)
        heard = await store.mark_heard(conn)
        changes = [(d, "offline") for d, _ in silent] + [(d, "online") for d, _ in heard]
        if notify and changes:
            profiles = dict(silent + heard)
            async with conn.cursor() as cur:
                await cluster.notify_readings(cur, wire.encode([], profiles, changes))
    now = datetime.now(UTC)
    for status, devices in (("offline", silent), ("online", heard)):
        for device_id, profile in devices:
            bus.publish(Event("status", device_id, profile, now, {"status": status}))
    if silent:
        log.info("%d device(s) silent past their offline time: offline", len(silent))
    return len(silent) + len(heard)


async def run_silence_watch(
    url: str, profiles: Mapping[str, Profile], bus: EventBus, *, notify: bool = False
) -> None:
    """Keep device status in step with silence until cancelled."""
    limits = {name: p.offline_after_s for name, p in profiles.items()}
    while True:
        try:
            await watch_once(url, limits, bus, notify=notify)
        except (psycopg.OperationalError, TimeoutError) as exc:
            log.warning("silence watch skipped a round: %s", exc)
        await asyncio.sleep(INTERVAL_S)
