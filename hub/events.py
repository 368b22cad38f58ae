"""In-process event bus: committed readings and alert changes, fanned out to
subscribers (the live stream, the alert engine's point rules).

Publishing never blocks and never fails: each subscriber has its own bounded
buffer, and a subscriber whose buffer is full is cut off (``overflowed`` is set,
its iterator ends, and it is logged once). A slow browser therefore cannot stall
the ingest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, Literal, NamedTuple

from hub.model import Reading

log = logging.getLogger(__name__)

EventType = Literal["reading", "alert", "status"]


class Event(NamedTuple):
    """One thing that happened, as the live stream sends it (a NamedTuple: one is
    built per committed reading)."""

    type: EventType
    device_id: str
    profile: str | None
    time: datetime
    data: dict[str, Any]


EventFilter = Callable[[Event], bool]
# Whether a subscriber may want readings of this (profile, metric) at all: asked once
# per key and batch, so that no event is built for a reading nobody takes.
ReadingFilter = Callable[[str | None, str], bool]


class Subscription:
    """A subscriber's bounded buffer; iterate it to receive events."""

    def __init__(
        self,
        bus: EventBus,
        maxsize: int,
        accept: EventFilter | None,
        name: str,
        readings: ReadingFilter | None = None,
    ) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self._accept = accept
        self.readings = readings
        self.name = name
        self.overflowed = False

    def _offer(self, event: Event) -> None:
        if self.overflowed or (self._accept is not None and not self._accept(event)):
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("event subscriber %s too slow: dropped", self.name)
            self.end()

    def end(self) -> None:
        """End the subscription as on an overflow: its reader stops after what it has."""
        if self.overflowed:
            return
        self.overflowed = True
        self._bus.unsubscribe(self)
        if self._queue.full():  # make room for the end marker so the reader wakes up
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    def close(self) -> None:
        self._bus.unsubscribe(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event


class EventBus:
    """Fan-out of events to subscribers; used from the event loop thread only."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def subscribe(
        self,
        *,
        maxsize: int = 1000,
        accept: EventFilter | None = None,
        name: str = "subscriber",
        readings: ReadingFilter | None = None,
    ) -> Subscription:
        """``accept`` is asked for every event; ``readings``, if given, first for each
        (profile, metric) of a batch of readings (a no skips them unbuilt)."""
        subscription = Subscription(self, maxsize, accept, name, readings)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def interrupt(self) -> None:
        """Events may have been missed (the readings channel reconnected): end every
        subscription as on an overflow, so each subscriber catches up its own way."""
        for subscription in list(self._subscribers):
            subscription.end()

    def publish(self, event: Event) -> None:
        for subscription in list(self._subscribers):
            subscription._offer(event)

    def publish_readings(self, readings: list[Reading], profiles: dict[str, str]) -> None:
        """Publish committed readings; ``profiles`` maps device id to profile name."""
        if not self._subscribers:
            return
        subscribers = list(self._subscribers)
        takers_of: dict[tuple[str | None, str], list[Subscription]] = {}
        for r in readings:
            profile = profiles.get(r.device_id)
            key = (profile, r.metric)
            takers = takers_of.get(key)
            if takers is None:
                takers = takers_of[key] = [
                    s for s in subscribers if s.readings is None or s.readings(profile, r.metric)
                ]
            if takers:
                event = Event(
                    "reading", r.device_id, profile, r.time, {"metric": r.metric, "value": r.value}
                )
                for subscription in takers:
                    subscription._offer(event)
