"""The NGSI-LD push as work of one process (:class:`~hub.alerts.leader.Leadership`,
its own advisory lock): N processes pushing the same entities would race (an older
state sent after a newer one) and send each change up to N times.

While this process holds the lock its push feed is on and the pusher runs; it
starts with a rescan, so nothing changed between two holders is missed. With the
readings channel (``HUB_READINGS_NOTIFY``) the feed also takes every process's
committed readings and status changes from the event bus; without it the feed
has only this process's ingest (one process: all of them).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from hub.events import EventBus
from hub.model import Outcome
from hub.ngsi.changes import ChangeFeed

BUFFER = 10_000  # events between the bus and the feed (past it: the push rescans)


class _Runs(Protocol):
    async def run(self) -> None: ...


class PushWork:
    """Args:
    pusher: the process's NGSI-LD pusher (``NgsiRuntime.pusher``).
    feed: its change feed (``NgsiRuntime.push_feed``), switched on only while leading.
    bus: the event bus to take other processes' changes from (None: this process only).
    """

    def __init__(self, pusher: _Runs, feed: ChangeFeed, bus: EventBus | None) -> None:
        self._pusher = pusher
        self._feed = feed
        self._bus = bus
        feed.enabled = False  # a standby keeps no changes

    async def run(self) -> None:
        self._feed.enabled = True
        try:
            async with asyncio.TaskGroup() as tasks:
                if self._bus is not None:
                    tasks.create_task(self._from_bus(self._bus), name="ngsi push feed")
                tasks.create_task(self._pusher.run(), name="ngsi push")
        finally:
            self._feed.enabled = False

    async def _from_bus(self, bus: EventBus) -> None:
        while True:
            subscription = bus.subscribe(
                maxsize=BUFFER,
                accept=lambda e: e.type in ("reading", "status"),
                name="ngsi push",
            )
            try:
                async for event in subscription:
                    changed = Outcome(profiles={event.device_id: event.profile or ""})
                    if event.type == "status":
                        changed.statuses.append((event.device_id, str(event.data["status"])))
                    self._feed(changed)
            finally:
                subscription.close()
            # Overflowed or interrupted: changes were missed, the next round rescans.
            self._feed.overflowed = True
            self._feed.wakeup.set()
