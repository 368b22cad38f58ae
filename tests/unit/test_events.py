"""The event bus's promise (hub/events.py): publishing never blocks, each subscriber
has its own bounded buffer, and a subscriber whose buffer overflows is cut off
once (its iteration ends) without touching the other subscribers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from hub.events import Event, EventBus, Subscription
from hub.model import Reading

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(n: int, device: str = "lm-1") -> Event:
    return Event("reading", device, "load_meter", T0 + timedelta(seconds=n), {"n": n})


async def take(subscription: Subscription, count: int) -> list[Event]:
    """The next ``count`` events (all buffered already: nothing here waits)."""
    events: AsyncIterator[Event] = aiter(subscription)
    return [await anext(events) for _ in range(count)]


async def until_cut_off(subscription: Subscription) -> list[Event]:
    """Everything a cut-off subscriber still receives; its iteration ends."""
    return [e async for e in subscription]


@pytest.mark.parametrize(
    ("maxsize", "published", "received", "overflowed"),
    [
        pytest.param(3, 2, [0, 1], False, id="fewer than the buffer: all kept"),
        pytest.param(3, 3, [0, 1, 2], False, id="exactly the buffer: all kept"),
        # The oldest buffered event makes room for the end of the iteration.
        pytest.param(3, 4, [1, 2], True, id="one more than the buffer: cut off"),
        pytest.param(3, 50, [1, 2], True, id="far more: cut off once, later ones not offered"),
        pytest.param(1, 2, [], True, id="buffer of one: cut off with nothing left"),
    ],
)
async def test_a_full_buffer_cuts_the_subscriber_off(
    maxsize: int, published: int, received: list[int], overflowed: bool
) -> None:
    bus = EventBus()
    subscription = bus.subscribe(maxsize=maxsize, name="browser")
    for n in range(published):
        bus.publish(event(n))  # returns at once, full buffer or not
    assert subscription.overflowed is overflowed
    assert bus.subscribers == (0 if overflowed else 1)
    if overflowed:
        got = await until_cut_off(subscription)
    else:
        got = await take(subscription, len(received))
    assert [e.data["n"] for e in got] == received


def test_an_overflow_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    bus.subscribe(maxsize=2, name="slow browser")
    with caplog.at_level(logging.WARNING, logger="hub.events"):
        for n in range(20):
            bus.publish(event(n))
    assert [r.getMessage() for r in caplog.records] == [
        "event subscriber slow browser too slow: dropped"
    ]


async def test_a_slow_subscriber_does_not_cost_the_others_an_event() -> None:
    bus = EventBus()
    slow = bus.subscribe(maxsize=2, name="slow")
    fast = bus.subscribe(maxsize=100, name="fast")
    for n in range(10):
        bus.publish(event(n))
    assert slow.overflowed and not fast.overflowed
    assert bus.subscribers == 1
    assert [e.data["n"] for e in await take(fast, 10)] == list(range(10))


@pytest.mark.parametrize(
    ("devices", "received"),
    [
        pytest.param(["a", "b", "b", "b", "a"], ["a", "a"], id="others do not fill the buffer"),
        pytest.param(["b"] * 10, [], id="none accepted: never cut off"),
        pytest.param(["a", "a", "a"], None, id="accepted ones still overflow"),
    ],
)
async def test_events_a_subscriber_does_not_accept_take_no_room(
    devices: list[str], received: list[str] | None
) -> None:
    bus = EventBus()
    subscription = bus.subscribe(maxsize=2, accept=lambda e: e.device_id == "a")
    for n, device in enumerate(devices):
        bus.publish(event(n, device))
    assert subscription.overflowed is (received is None)
    if received is not None:
        assert [e.device_id for e in await take(subscription, len(received))] == received


async def test_a_closed_subscription_gets_nothing_more() -> None:
    bus = EventBus()
    closed = bus.subscribe(maxsize=1)
    open_ = bus.subscribe(maxsize=10)
    closed.close()
    for n in range(5):
        bus.publish(event(n))
    assert bus.subscribers == 1
    assert not closed.overflowed  # nothing was offered to it, so nothing overflowed
    assert len(await take(open_, 5)) == 5


async def test_committed_readings_become_reading_events_with_their_profile() -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    readings = [
        Reading("wm-1", "flow", T0, 12.5),
        Reading("lm-1", "a", T0 + timedelta(seconds=1), 0.1),
        Reading("xx-9", "a", T0 + timedelta(seconds=2), 3.0),
    ]
    bus.publish_readings(readings, {"wm-1": "water_meter", "lm-1": "load_meter"})
    assert await take(subscription, 3) == [
        Event("reading", "wm-1", "water_meter", T0, {"metric": "flow", "value": 12.5}),
        Event("reading", "lm-1", "load_meter", T0 + timedelta(seconds=1),
              {"metric": "a", "value": 0.1}),
        Event("reading", "xx-9", None, T0 + timedelta(seconds=2), {"metric": "a", "value": 3.0}),
    ]  # fmt: skip


async def test_readings_a_subscriber_does_not_take_are_never_offered_to_it() -> None:
    bus = EventBus()
    asked: list[tuple[str | None, str]] = []

    def flow_only(profile: str | None, metric: str) -> bool:
        asked.append((profile, metric))
        return metric == "flow"

    picky = bus.subscribe(readings=flow_only)
    everything = bus.subscribe()
    readings = [Reading("wm-1", m, T0 + timedelta(seconds=n), float(n))
                for n, m in enumerate(["flow", "temp", "flow", "temp"])]  # fmt: skip
    bus.publish_readings(readings, {"wm-1": "water_meter"})
    assert [e.data for e in await take(picky, 2)] == [
        {"metric": "flow", "value": 0.0},
        {"metric": "flow", "value": 2.0},
    ]
    bus.publish(event(99))  # the next thing the picky one gets: no temperature between
    assert (await take(picky, 1))[0] == event(99)
    assert len(await take(everything, 4)) == 4
    assert asked == [("water_meter", "flow"), ("water_meter", "temp")]  # once per key
    bus.publish_readings(readings[:1], {"wm-1": "water_meter"})
    assert asked[-1] == ("water_meter", "flow")  # and asked again in the next batch
