"""The NGSI-LD push as one-process work: while leading, its feed takes every
process's changes from the event bus; a standby's feed keeps nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from hub.cluster.push import PushWork
from hub.events import Event, EventBus
from hub.model import Outcome
from hub.ngsi.changes import ChangeFeed

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Rounds:
    """Stands in for the pusher: takes what the feed holds, as its rounds do."""

    def __init__(self, feed: ChangeFeed) -> None:
        self.feed = feed
        self.taken: list[tuple[dict[str, set[str]], bool]] = []

    async def run(self) -> None:
        while True:
            await self.feed.wakeup.wait()
            changes, overflowed, _ = self.feed.take()
            self.taken.append((changes, overflowed))


def _reading(device: str) -> Event:
    return Event("reading", device, "street_light", T0, {"metric": "power_w", "value": 1.0})


async def _until(check: Callable[[], bool]) -> None:
    """Let the tasks run until ``check`` holds (a bounded number of loop turns)."""
    for _ in range(10_000):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def test_the_leaders_feed_takes_other_processes_changes_from_the_bus() -> None:
    bus, feed = EventBus(), ChangeFeed(100)
    rounds = Rounds(feed)
    work = PushWork(rounds, feed, bus)
    feed(Outcome(profiles={"lamp-0": "street_light"}))  # a standby keeps nothing
    assert len(feed) == 0

    task = asyncio.create_task(work.run())
    await _until(lambda: bus.subscribers == 1)
    bus.publish(_reading("lamp-1"))
    bus.publish(Event("status", "lamp-2", "street_light", T0, {"status": "offline"}))
    await _until(lambda: {"lamp-1", "lamp-2"} <= {d for c, _ in rounds.taken for d in c})
    assert any(c.get("lamp-2") == {"status"} for c, _ in rounds.taken)

    # Readings missed (the channel reconnected): the next round rescans.
    bus.interrupt()
    await _until(lambda: any(overflowed for _, overflowed in rounds.taken))
    await _until(lambda: bus.subscribers == 1)  # and it listens again

    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not feed.enabled and bus.subscribers == 0
